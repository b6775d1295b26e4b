"""slowfs itself: what goes through it comes out unchanged, every metadata
request waits the latency (concurrently), the counters count the requests,
and the mount is gone however the test using it ends.  Skipped with the
reason where slowfs cannot run (not root, no /dev/fuse)."""
import csv
import io
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from slowfs_helper import SKIP_STATUS, SlowFS, binary, parse_counters, unavailable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def built(name):
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        p = os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "pwalk"), name)
    else:
        p = os.path.join(ROOT, "bazel-bin", name)
    return os.path.realpath(p) if os.path.exists(p) else None


@pytest.fixture
def need_slowfs():
    reason = unavailable()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def workdir():
    """Under $TEST_TMPDIR (Bazel) or root's home: as root the engine loads
    no plugin from below a world-writable directory such as /tmp."""
    base = os.environ.get("TEST_TMPDIR") or os.path.expanduser("~")
    d = tempfile.mkdtemp(prefix="slowfs-test-", dir=base)
    os.chmod(d, 0o755)
    yield d
    subprocess.run(["rm", "-rf", d])


def make_tree(top):
    """Every kind of entry a scan meets, names that need escaping, one
    directory big enough to take several readdir replies."""
    os.makedirs(os.path.join(top, "a", "b", "c"))
    os.makedirs(os.path.join(top, "big"))
    for i in range(400):
        with open(os.path.join(top, "big", f"file-{i:04d}.dat"), "w") as f:
            f.write("x" * i)
    with open(os.path.join(top, "a", "hello.txt"), "w") as f:
        f.write("hello\n")
    os.link(os.path.join(top, "a", "hello.txt"), os.path.join(top, "a", "b", "hard.txt"))
    os.symlink("../hello.txt", os.path.join(top, "a", "b", "link"))
    os.symlink("nowhere", os.path.join(top, "dangling"))
    os.mkfifo(os.path.join(top, "a", "fifo"))
    with open(os.path.join(top, "a", "b", "c", "sparse"), "wb") as f:
        f.truncate(1 << 24)
    for name in (b"comma,quote\"new\nline", b"caf\xe9-latin1", "日本.txt".encode()):
        open(os.path.join(top.encode(), b"a", name), "wb").close()
    os.mkdir(os.path.join(top, "a", "locked"))
    open(os.path.join(top, "a", "locked", "inside"), "w").close()
    os.chmod(os.path.join(top, "a", "locked"), 0)
    return top


def scan(engine, cfgdir, root, name):
    out = os.path.join(cfgdir, f"{name}.csv")
    cfg = os.path.join(cfgdir, f"{name}.yaml")
    with open(cfg, "w") as f:
        f.write("version: 1\nscan: {threads: 8}\nsinks:\n  - name: out\n    plugin: csv\n"
                f"    options: {{path: '{out}', header: true, escape: lossless}}\n")
    r = subprocess.run([engine, "-q", "-c", cfg, root], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with open(out, newline="") as f:
        return list(csv.reader(f))


def normalized(rows, prefix, replacement):
    """Rows with the path prefix replaced and st_dev blanked (FUSE's own)."""
    head, body = rows[0], rows[1:]
    path, dev = head.index("filename"), head.index("st_dev")
    out = []
    for r in body:
        assert r[path].startswith(prefix), r[path]
        r[path] = replacement + r[path][len(prefix):]
        r[dev] = ""
        out.append(r)
    return sorted(out)


def test_rows_through_slowfs_equal_rows_direct(need_slowfs, workdir):
    engine = built("pwalk-engine")
    if not engine:
        pytest.skip("pwalk-engine is not built")
    src = make_tree(os.path.join(workdir, "tree"))
    direct = scan(engine, workdir, src, "direct")
    with SlowFS(src, latency_us=100, workdir=workdir) as fs:
        n = fs.settle()
        through = scan(engine, workdir, fs.mnt, "slow")
        fs.settle()
        seen = fs.totals(n)
    assert through[0] == direct[0]
    assert len(through) == len(direct) > 400
    assert normalized(through, fs.mnt, "ROOT") == normalized(direct, src, "ROOT")
    # the scan went through the daemon: every entry looked up, every
    # directory opened and read, no file opened (a scan reads no contents)
    assert seen["lookup"] >= len(direct) - 2
    assert seen["opendir"] >= 6 and seen["readdir"] >= seen["opendir"]
    assert seen["open"] == 0 and seen["read"] == 0


def test_every_stat_waits_the_latency(need_slowfs, workdir):
    src = make_tree(os.path.join(workdir, "tree"))
    with SlowFS(src, latency_us=50000, workdir=workdir) as fs:
        t0 = time.monotonic()
        os.lstat(os.path.join(fs.mnt, "a", "hello.txt"))
        assert time.monotonic() - t0 >= 0.05 * 2  # lookup of a, lookup of hello.txt
        # raised at run time: the next request waits the new latency
        fs.set_latency(250000)
        t0 = time.monotonic()
        os.lstat(os.path.join(fs.mnt, "dangling"))
        assert time.monotonic() - t0 >= 0.25
        assert fs.counters()[-1]["latency_us"] == 250000
        # and back: not a fixed cost of the daemon
        fs.set_latency(0)
        assert fs.counters()[-1]["latency_us"] == 0


def test_concurrent_requests_wait_together(need_slowfs, workdir):
    """16 stats of different names at 1 s each: all 16 in flight at once
    (the daemon's oracle says so), not one after the other."""
    src = os.path.join(workdir, "tree")
    os.mkdir(src)
    for i in range(16):
        open(os.path.join(src, f"f{i}"), "w").close()
    with SlowFS(src, latency_us=1000000, workdir=workdir) as fs:
        dfd = os.open(fs.mnt, os.O_RDONLY | os.O_DIRECTORY)
        n = fs.settle()
        try:
            go = threading.Barrier(16)

            def stat(i):
                go.wait()
                os.lstat(f"f{i}", dir_fd=dfd)

            threads = [threading.Thread(target=stat, args=(i,)) for i in range(16)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - t0
        finally:
            os.close(dfd)
        fs.settle()
        got = fs.totals(n)
        assert got["inflight_max"] >= 16
        # busy_us: every waited request spent its second in the daemon
        assert got["lookup"] == 16
        assert got["busy_us"] >= got["metadata"] * 1000000
        assert elapsed >= 1.0
        assert elapsed < 8.0  # 16 x 1 s one after the other would be 16-32 s


def test_counters_count_the_requests(need_slowfs, workdir):
    src = os.path.join(workdir, "tree")
    os.mkdir(src)
    for i in range(37):
        open(os.path.join(src, f"f{i}"), "w").close()
    with SlowFS(src, workdir=workdir) as fs:
        dfd = os.open(fs.mnt, os.O_RDONLY | os.O_DIRECTORY)
        try:
            n = fs.settle()
            for i in range(37):
                os.lstat(f"f{i}", dir_fd=dfd)  # one lookup each (+ a getattr, often)
            with pytest.raises(FileNotFoundError):
                os.lstat("missing", dir_fd=dfd)  # one more lookup, no negative entry
            with pytest.raises(FileNotFoundError):
                os.lstat("missing", dir_fd=dfd)
            fs.settle()
            got = fs.totals(n)
            assert got["lookup"] == 39
            assert got["getattr"] <= 37
            assert got["opendir"] == got["readdir"] == 0

            n = fs.settle()
            fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd)
            names = os.listdir(fd)
            os.close(fd)
            fs.settle()
            got = fs.totals(n)
            assert sorted(names) == sorted(f"f{i}" for i in range(37))
            assert got["opendir"] == 1 and got["releasedir"] == 1
            assert got["readdir"] >= 1 and got["lookup"] == 0
        finally:
            os.close(dfd)
        rows = fs.counters()
    # one line per 100 ms window, in order, each with every column
    assert all(b["epoch_ms"] > a["epoch_ms"] for a, b in zip(rows, rows[1:]))
    assert all(r["latency_us"] == 0 for r in rows)


def test_more_inodes_than_file_descriptors(need_slowfs, workdir):
    """The daemon holds no fd per inode: a tree larger than the fd limit
    (20000 hard in some containers, where it cannot be raised) is served
    whole, every lstat answered."""
    import resource
    src = os.path.join(workdir, "tree")
    n = max(25000, resource.getrlimit(resource.RLIMIT_NOFILE)[1] + 1000)
    if n > 200000:
        pytest.skip(f"fd limit {n - 1000}: a tree larger than it would take too long here")
    for d in range(n // 1000):
        os.makedirs(os.path.join(src, f"d{d}"))
        for i in range(1000):
            os.close(os.open(os.path.join(src, f"d{d}", f"f{i}"), os.O_CREAT | os.O_WRONLY, 0o644))
    with SlowFS(src, workdir=workdir) as fs:
        r = subprocess.run(["find", fs.mnt, "-printf", "%i %s\n"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[:500]
    assert r.stderr == ""
    assert len(r.stdout.splitlines()) == 1 + n // 1000 + (n // 1000) * 1000


# ---- the mount goes away on every exit path --------------------------------

CHILD = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
from slowfs_helper import SlowFS
how = sys.argv[3]
with SlowFS(sys.argv[2], latency_us=100, workdir=sys.argv[4], exe=sys.argv[5]) as fs:
    print(fs.mnt, fs.proc.pid, flush=True)
    if how == "raise":
        assert False, "a failing test"
    if how == "exit":
        sys.exit(3)
    time.sleep(60)  # killed here
"""


def mounted(mnt):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == mnt for line in f)


def gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie of a killed parent is reaped by init; a live daemon is not
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split()[2] == "Z":
                return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["raise", "exit", "sigterm", "sigkill"])
def test_unmounted_on_every_exit_path(need_slowfs, workdir, how):
    src = os.path.join(workdir, "tree")
    os.mkdir(src)
    child = subprocess.Popen([sys.executable, "-c", CHILD, HERE, src, how, workdir, binary()],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mnt, pid = child.stdout.readline().split()
    pid = int(pid)
    if how in ("sigterm", "sigkill"):
        assert mounted(mnt)
        child.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
    rc = child.wait(timeout=30)
    err = child.stderr.read()
    assert rc != 0, err
    if how == "raise":
        assert "a failing test" in err
    assert gone(pid), f"slowfs daemon {pid} still running after the {how} of its user"
    deadline = time.monotonic() + 10
    while mounted(mnt) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not mounted(mnt), f"{mnt} still mounted after the {how} of its user"


def test_command_line_runs_and_unmounts(need_slowfs, workdir):
    src = make_tree(os.path.join(workdir, "tree"))
    script = ('test "$(cat "$SLOWFS_MNT/a/hello.txt")" = hello && echo "$SLOWFS_MNT" '
              '&& grep -q "^# epoch_ms" "$SLOWFS_COUNTERS" && exit 5')
    r = subprocess.run([sys.executable, os.path.join(HERE, "slowfs_helper.py"), "--latency-us", "10",
                        "--binary", binary(), src, "--", "sh", "-c", script],
                       capture_output=True, text=True, env=dict(os.environ, TEST_TMPDIR=workdir))
    assert r.returncode == 5, r.stderr
    assert not mounted(r.stdout.strip())


def test_skip_reason_without_root():
    """Not root: a reason to skip, and the command line exits 77 with it."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import slowfs_helper as h; "
            "print(h.unavailable()); sys.exit(h.main([sys.argv[2], '--', 'true']))")
    here = os.path.join(tempfile.mkdtemp(), "h")  # readable by nobody
    os.makedirs(here)
    os.chmod(os.path.dirname(here), 0o755)
    with open(os.path.join(HERE, "slowfs_helper.py")) as f, \
            open(os.path.join(here, "slowfs_helper.py"), "w") as g:
        g.write(f.read())
    try:
        r = subprocess.run([sys.executable, "-c", code, here, "/"], capture_output=True, text=True,
                           preexec_fn=(lambda: os.setuid(65534)) if os.geteuid() == 0 else None)
    finally:
        subprocess.run(["rm", "-rf", os.path.dirname(here)])
    assert "needs root" in r.stdout
    assert r.returncode == SKIP_STATUS
    assert "slowfs: skipped: slowfs needs root" in r.stderr


def test_parse_counters_ignores_a_line_being_written(tmp_path):
    p = tmp_path / "c"
    p.write_text("# epoch_ms lookup getattr opendir readdir releasedir readlink open read statfs forget "
                 "inflight_max latency_us busy_us\n1 1 2 3 4 0 0 0 0 0 0 5 100 900\n2 1 1")
    rows = parse_counters(str(p))
    assert len(rows) == 1 and rows[0]["metadata"] == 10 and rows[0]["inflight_max"] == 5
