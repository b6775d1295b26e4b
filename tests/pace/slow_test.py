"""Issue 18 end to end: pwalk-engine on a slow filesystem (tests/slowfs, a
FUSE passthrough that answers every metadata request after a latency and
counts the requests per 100 ms) and on a strictatime tmpfs.

- threads: auto grows past the cores when the filesystem is slow;
- scan.max_ops / --max-ops holds every 1 s window of requests under N;
- scan.adaptive gives way when the latency climbs and comes back;
- scan.io_priority: idle puts every worker in the idle I/O class;
- scan.lazy_stat gives the rows fstatat gives, says so in the summary,
  falls back to fstatat where statx refuses, and saves a getattr a stat;
- a scan changes no atime (O_NOATIME), and reads no file;
- bad values: one line naming key and value, exit 2, nothing written.

The slowfs and tmpfs cases need root and /dev/fuse and are skipped with the
reason otherwise.  Assertions are about what happened (which requests, how
many per window, which threads), with margins far from the measured
values, never about how fast this machine is.
"""
import ctypes
import os
import platform
import subprocess
import tempfile
import threading
import time

import pytest

from slowfs_helper import SlowFS, unavailable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def built(name):
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        p = os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "pwalk"), name)
    else:
        p = os.path.join(ROOT, "bazel-bin", name)
    return os.path.realpath(p) if os.path.exists(p) else None


ENGINE = built("pwalk-engine")
SHIM = built("tests/pace/statx_enosys.so")


@pytest.fixture
def need_slowfs():
    reason = unavailable()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def workdir():
    """Under $TEST_TMPDIR or root's home: as root the engine loads no
    plugin from below a world-writable directory such as /tmp."""
    base = os.environ.get("TEST_TMPDIR") or os.path.expanduser("~")
    d = tempfile.mkdtemp(prefix="pace-test-", dir=base)
    os.chmod(d, 0o755)
    yield d
    subprocess.run(["rm", "-rf", d])


def make_tree(top, dirs, files):
    for i in range(dirs):
        d = os.path.join(top, f"d{i // 10}", f"e{i}")
        os.makedirs(d)
        for j in range(files):
            with open(os.path.join(d, f"f{j}"), "w") as f:
                f.write("x" * (j % 7))
    return 1 + dirs + (dirs + 9) // 10 + dirs * files


def pipeline(workdir, name, scan, out=None):
    cfg = os.path.join(workdir, name + ".yaml")
    out = out or os.path.join(workdir, name + ".csv")
    with open(cfg, "w") as f:
        f.write(f"version: 1\nscan: {{{scan}}}\nsinks:\n  - name: r\n    plugin: csv\n"
                f"    options: {{path: '{out}', header: true, escape: lossless}}\n")
    return cfg, out


def engine(*args, **kw):
    return subprocess.run([ENGINE] + list(args), capture_output=True, text=True, timeout=300,
                          **kw)


# ---- threads: auto -------------------------------------------------------------


def test_auto_outgrows_the_cores_on_a_slow_filesystem(need_slowfs, workdir):
    src = os.path.join(workdir, "src")
    n = make_tree(src, 30, 80)
    cfg2, _ = pipeline(workdir, "two", "threads: 2")
    cfga, _ = pipeline(workdir, "auto", "threads: auto, adaptive: true")
    with SlowFS(src, latency_us=1000, workdir=workdir) as fs:
        t0 = time.monotonic()
        two = engine("-c", cfg2, fs.mnt)
        t_two = time.monotonic() - t0
        t0 = time.monotonic()
        auto = engine("-c", cfga, fs.mnt)
        t_auto = time.monotonic() - t0
    assert two.returncode == 0, two.stderr
    assert auto.returncode == 0, auto.stderr
    assert f"{n} rows" in auto.stderr
    # the controller said what it did: slow start from the cores upwards
    grew = [l for l in auto.stderr.splitlines() if "walk: threads" in l]
    assert grew, auto.stderr
    peak = max(int(l.split("->")[1].split()[0]) for l in grew)
    assert peak >= 16, auto.stderr
    # ~2 ms a stat at 2 threads is ~1k entries/s; auto runs 10-20x that
    assert t_auto * 4 < t_two, (t_auto, t_two, auto.stderr)


# ---- scan.max_ops --------------------------------------------------------------


def windows(rows, first, last):
    """Requests the walk charges for (lookup: a stat or a directory's
    name; opendir; readdir) per 100 ms row, between the first and last row
    with any."""
    per = [r["lookup"] + r["opendir"] + r["readdir"] for r in rows[first:last]]
    busy = [i for i, c in enumerate(per) if c]
    return per[busy[0]:busy[-1] + 1] if busy else []


def check_budget(per, limit):
    """The bucket is smooth and its budget used (issue 18: no 1 s window
    above N x 1.05, the mean not below N x 0.9).

    - no 100 ms row above 2 x N/10: not per-second (or half-second) bursts;
    - the mean is taken over the scan's rows but its first and last (cut by
      the scan's start and end: partial by construction) and but the rows
      in which fewer than N/20 requests arrived mid-scan: there this loaded
      machine stalled the daemon or the engine (the bucket lends only
      20 ms, so a stall is lost to it, not made up).  Such rows may be at
      most a quarter of the scan: a bucket filling at half the rate or less
      would make them all, and fails here."""
    assert max(per) <= limit / 10 * 2, per
    inner = per[1:-1]
    stalled = [c for c in inner if c < limit / 20]
    assert len(stalled) * 4 <= len(inner), (stalled, per)
    kept = [c for c in inner if c >= limit / 20]
    assert sum(kept) / (len(kept) / 10.0) >= limit * 0.9, (sum(kept), len(kept), per)


def test_max_ops_holds_every_second_under_n(need_slowfs, workdir):
    src = os.path.join(workdir, "src")
    os.makedirs(os.path.join(src, "a"))
    os.makedirs(os.path.join(src, "b"))
    for d in ("a", "b"):
        for j in range(1000):
            open(os.path.join(src, d, f"f{j}"), "w").close()
    limit = 400
    out = os.path.join(workdir, "o.csv")
    with SlowFS(src, latency_us=200, workdir=workdir) as fs:
        start = fs.settle()
        with open(out, "w") as o:  # compatibility mode: the rows on stdout
            r = subprocess.run([ENGINE, "-t", "8", "--max-ops", str(limit), fs.mnt], stdout=o,
                               stderr=subprocess.PIPE, text=True, timeout=300)
        end = fs.settle()
        per = windows(fs.counters(), start, end)
    assert r.returncode == 0, r.stderr
    assert len(per) >= 40, per  # ~2000 requests at 400/s: ~5 s
    # every 1 s window (10 rows), sliding by 100 ms
    sums = [sum(per[i:i + 10]) for i in range(len(per) - 9)]
    assert max(sums) <= limit * 1.05, sums
    # the budget is used: a typical second at 90% of it or more (the median
    # window: a second in which this loaded machine stalled the daemon or
    # the engine is lost to the bucket, which lends at most 20 ms), the
    # whole scan, edges included, at 80%
    assert sorted(sums)[len(sums) // 2] >= limit * 0.9, (sums, per)
    assert sum(per) / (len(per) / 10.0) >= limit * 0.8, (sum(per), len(per), per)
    check_budget(per, limit)


MPI = built("pwalk-mpi")


def test_max_ops_is_the_budget_of_all_mpi_ranks_together(need_slowfs, workdir):
    import shutil
    if not MPI or shutil.which("mpirun") is None:
        pytest.skip("pwalk-mpi or mpirun not available")
    src = os.path.join(workdir, "src")
    make_tree(src, 20, 100)  # ~2100 requests: directories to share
    limit = 400
    cfg, _ = pipeline(workdir, "mpi", "threads: 4")
    argv = ["mpirun", "--oversubscribe", "-np", "2"]
    if os.geteuid() == 0:
        argv.append("--allow-run-as-root")
    with SlowFS(src, latency_us=200, workdir=workdir) as fs:
        start = fs.settle()
        r = subprocess.run(argv + [MPI, "-q", "-c", cfg, "--max-ops", str(limit), fs.mnt],
                           capture_output=True, text=True, timeout=300)
        end = fs.settle()
        per = windows(fs.counters(), start, end)
    assert r.returncode == 0, r.stderr
    sums = [sum(per[i:i + 10]) for i in range(len(per) - 9)]
    assert sums and max(sums) <= limit * 1.05, sums  # each rank 200/s, together 400
    assert sum(per) / (len(per) / 10.0) >= limit * 0.8, (sum(per), len(per), per)
    check_budget(per, limit)


def mpirun(np_):
    import shutil
    if not MPI or shutil.which("mpirun") is None:
        pytest.skip("pwalk-mpi or mpirun not available")
    argv = ["mpirun", "--oversubscribe", "-np", str(np_)]
    if os.geteuid() == 0:
        argv.append("--allow-run-as-root")
    return argv + [MPI]


def test_mpi_ranks_stat_lazily_when_asked(need_slowfs, workdir):
    """scan.lazy_stat reaches every rank: the getattr each stat saves on
    FUSE is saved by pwalk-mpi's ranks as by one engine."""
    argv = mpirun(2)
    src = os.path.join(workdir, "src")
    n = make_tree(src, 10, 50)
    got = {}
    with SlowFS(src, latency_us=0, workdir=workdir) as fs:
        for name, scan in (("plain", "threads: 2"), ("lazy", "threads: 2, lazy_stat: true")):
            cfg, _ = pipeline(workdir, name, scan)
            start = fs.settle()
            r = subprocess.run(argv + ["-c", cfg, fs.mnt], capture_output=True, text=True,
                               timeout=300)
            end = fs.settle()
            assert r.returncode == 0, r.stderr
            assert f"{n} rows" in r.stderr, r.stderr
            # the choice on pwalk-mpi's summary line, as on the engine's
            assert (", stat: statx AT_STATX_DONT_SYNC;" in r.stderr) == (name == "lazy"), \
                r.stderr
            got[name] = sum(row["getattr"] for row in fs.counters()[start:end])
    assert got["lazy"] + n * 0.9 <= got["plain"], got


def test_mpi_summary_says_where_statx_was_refused(workdir):
    if not SHIM:
        pytest.skip("tests/pace/statx_enosys.so not built")
    argv = mpirun(2)
    src = os.path.join(workdir, "src")
    n = make_tree(src, 10, 20)
    cfg, _ = pipeline(workdir, "lazy", "threads: 2, lazy_stat: true")
    argv[1:1] = ["-x", f"LD_PRELOAD={SHIM}"]  # statx() answers ENOSYS on every rank
    r = subprocess.run(argv + ["-c", cfg, src], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    line = [l for l in r.stderr.splitlines() if l.startswith("pwalk-mpi: 2 ranks:")]
    assert len(line) == 1 and f"{n} rows" in line[0], r.stderr
    assert ", stat: fstatat (statx AT_STATX_DONT_SYNC refused: ENOSYS); manifest" in line[0], \
        r.stderr


def rank_pids(parent):
    """pids of the pwalk-mpi processes below parent (mpirun)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm == "pwalk-mpi" and int(fields[1]) == parent:
            out.append(int(pid))
    return out


@pytest.mark.parametrize("idle", [True, False])
def test_mpi_ranks_put_their_workers_in_the_idle_class(need_slowfs, workdir, idle):
    """scan.io_priority: idle reaches every rank: each rank's two workers in
    the idle class (MPI's own threads and the rank's main thread keep
    theirs), none with normal."""
    if IOPRIO_GET is None:
        pytest.skip(f"ioprio_get's number on {platform.machine()} is not known here")
    argv = mpirun(2)
    src = os.path.join(workdir, "src")
    make_tree(src, 20, 100)
    prio = "idle" if idle else "normal"
    cfg, _ = pipeline(workdir, "prio", f"threads: 2, io_priority: {prio}")
    with SlowFS(src, latency_us=5000, workdir=workdir) as fs:
        proc = subprocess.Popen(argv + ["-q", "-c", cfg, fs.mnt], stdout=subprocess.DEVNULL)
        try:
            seen = {}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                for pid in rank_pids(proc.pid):
                    got = seen.setdefault(pid, {})
                    got.update(io_classes(pid))
                if len(seen) == 2 and all(sum(1 for c in t.values() if c == 3) >= 2
                                          for t in seen.values()):
                    break
                time.sleep(0.1)
        finally:
            proc.kill()
            proc.wait()
    assert len(seen) == 2, seen
    for pid, classes in seen.items():
        assert classes[pid] != 3, seen  # the rank's own thread keeps its class
        idle_threads = sum(1 for c in classes.values() if c == 3)
        if idle:
            assert idle_threads >= 2, seen
        else:
            assert idle_threads == 0, seen


@pytest.mark.parametrize("args, message", [
    (["--max-ops", "-5"], "'scan.max_ops' must be an integer 0..1000000000"),
    (["--set", "scan.max_threads=0"], "'scan.max_threads' must be an integer 1..4096, not '0'"),
    (["--set", "scan.adaptive=maybe"], "'scan.adaptive' must be true or false"),
    (["--set", "scan.lazy_stat=2"], "'scan.lazy_stat' must be true or false"),
    (["--set", "scan.io_priority=low"], "'scan.io_priority' must be normal or idle, not 'low'"),
])
def test_mpi_bad_values_one_line_exit_2_nothing_written(workdir, args, message):
    argv = mpirun(2)
    src = os.path.join(workdir, "src")
    make_tree(src, 2, 2)
    cfg, out = pipeline(workdir, "bad", "threads: 2")
    r = subprocess.run(argv + ["-c", cfg] + args + [src], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2, r.stderr
    ours = [l for l in r.stderr.splitlines() if l.startswith("pwalk-mpi:")]
    assert len(ours) == 1 and message in ours[0], r.stderr  # (the rest is mpirun's)
    assert sorted(os.listdir(workdir)) == sorted([os.path.basename(cfg), "src"]), \
        os.listdir(workdir)  # no shard, manifest or temporary


# ---- scan.adaptive ---------------------------------------------------------------


class Lines:
    """An engine's stderr, line by line as it comes, with a wait()."""

    def __init__(self, proc):
        self.lines, self.cv = [], threading.Condition()
        self.t = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.t.start()

    def _read(self, proc):
        for line in proc.stderr:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()

    def wait(self, pred, timeout):
        with self.cv:
            return self.cv.wait_for(lambda: any(pred(l) for l in self.lines), timeout)


def changes(lines):
    """(from, to) of every 'walk: threads A -> B' line."""
    out = []
    for l in lines:
        if "walk: threads" in l:
            a, b = l.split("walk: threads ")[1].split(" (")[0].split(" -> ")
            out.append((int(a), int(b)))
    return out


def test_adaptive_gives_way_when_latency_climbs_and_comes_back(need_slowfs, workdir):
    src = os.path.join(workdir, "src")
    make_tree(src, 60, 200)
    cfg, _ = pipeline(workdir, "adaptive", "threads: 8, adaptive: true")
    with SlowFS(src, latency_us=1000, workdir=workdir) as fs:
        proc = subprocess.Popen([ENGINE, "-c", cfg, fs.mnt], stderr=subprocess.PIPE, text=True)
        try:
            out = Lines(proc)
            time.sleep(0.5)  # the baseline: 8 workers at 1 ms
            fs.set_latency(10000)  # another job hammers the server
            assert out.wait(lambda l: "walk: threads 8 ->" in l, 20), out.lines
            time.sleep(0.5)
            low = min(b for _, b in changes(out.lines))
            assert low < 8
            fs.set_latency(1000)  # ... and stops
            assert out.wait(lambda l: any(b > low for _, b in changes([l])), 20), out.lines
            assert proc.wait(120) == 0, out.lines
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    ups = [c for c in changes(out.lines) if c[1] > c[0]]
    downs = [c for c in changes(out.lines) if c[1] < c[0]]
    assert downs and ups and max(b for _, b in changes(out.lines)) <= 8


def test_mpi_ranks_give_way_when_latency_climbs(need_slowfs, workdir):
    """scan.adaptive reaches every rank: each rank's walk runs fewer
    workers while the server is slow, and more again after."""
    argv = mpirun(2)
    src = os.path.join(workdir, "src")
    make_tree(src, 60, 200)
    cfg, _ = pipeline(workdir, "adaptive", "threads: 4, adaptive: true")
    with SlowFS(src, latency_us=1000, workdir=workdir) as fs:
        proc = subprocess.Popen(argv + ["-c", cfg, fs.mnt], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            out = Lines(proc)
            time.sleep(0.5)  # the baseline: 4 workers a rank at 1 ms
            fs.set_latency(10000)
            assert out.wait(lambda l: "walk: threads 4 ->" in l, 30), out.lines
            time.sleep(0.5)
            low = min(b for _, b in changes(out.lines))
            fs.set_latency(1000)
            assert out.wait(lambda l: any(b > low for _, b in changes([l])), 30), out.lines
            assert proc.wait(120) == 0, out.lines
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert low < 4 and max(b for _, b in changes(out.lines)) <= 4, out.lines
    # the lines name their rank
    assert all(l.startswith("pwalk-mpi: rank ") for l in out.lines if "walk: threads" in l)


# ---- scan.io_priority ------------------------------------------------------------

IOPRIO_GET = {"x86_64": 252, "aarch64": 31}.get(platform.machine())


def io_classes(pid):
    """tid -> I/O priority class (0 none, 1 realtime, 2 best-effort, 3 idle)."""
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        v = libc.syscall(IOPRIO_GET, 1, int(tid))  # IOPRIO_WHO_PROCESS: a thread
        if v >= 0:
            out[int(tid)] = v >> 13
    return out


@pytest.mark.parametrize("idle", [True, False])
def test_io_priority_idle_puts_every_worker_in_the_idle_class(need_slowfs, workdir, idle):
    if IOPRIO_GET is None:
        pytest.skip(f"ioprio_get's number on {platform.machine()} is not known here")
    src = os.path.join(workdir, "src")
    make_tree(src, 20, 100)
    prio = "io_priority: idle" if idle else "io_priority: normal"
    cfg, _ = pipeline(workdir, "prio", f"threads: 4, {prio}")
    with SlowFS(src, latency_us=5000, workdir=workdir) as fs:
        proc = subprocess.Popen([ENGINE, "-q", "-c", cfg, fs.mnt])
        try:
            seen = {}
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(seen) < 5 and proc.poll() is None:
                seen.update(io_classes(proc.pid))
                time.sleep(0.1)
        finally:
            proc.kill()
            proc.wait()
    main = seen.pop(proc.pid)
    assert len(seen) >= 4, seen  # the four workers
    assert main != 3  # the scan's own thread keeps its class
    if idle:
        assert set(seen.values()) == {3}, seen
    else:
        assert 3 not in seen.values(), seen


# ---- scan.lazy_stat --------------------------------------------------------------


def test_lazy_stat_rows_equal_fstatat_rows(workdir):
    src = os.path.join(workdir, "src")
    make_tree(src, 12, 40)
    os.symlink("e0/f1", os.path.join(src, "d0", "link"))
    os.mkfifo(os.path.join(src, "d0", "fifo"))
    plain_cfg, plain = pipeline(workdir, "plain", "threads: 2")
    lazy_cfg, lazy = pipeline(workdir, "lazy", "threads: 2, lazy_stat: true")
    a = engine("-c", plain_cfg, src)
    b = engine("-c", lazy_cfg, src)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert "stat:" not in a.stderr  # the usual summary line stays as it was
    assert ", stat: statx AT_STATX_DONT_SYNC" in b.stderr, b.stderr
    # atime included: the scan reads nothing, so nothing moved between them
    assert sorted(open(plain).read().splitlines()) == sorted(open(lazy).read().splitlines())


@pytest.mark.parametrize("errno_name", ["ENOSYS", "EINVAL"])
def test_lazy_stat_falls_back_to_fstatat_where_statx_is_refused(workdir, errno_name):
    if not SHIM:
        pytest.skip("tests/pace/statx_enosys.so not built")
    src = os.path.join(workdir, "src")
    make_tree(src, 5, 30)
    plain_cfg, plain = pipeline(workdir, "plain", "threads: 2")
    lazy_cfg, lazy = pipeline(workdir, "lazy", "threads: 2, lazy_stat: true")
    a = engine("-c", plain_cfg, src)
    # statx() answers ENOSYS (an old kernel) or EINVAL (the flag refused)
    env = dict(os.environ, LD_PRELOAD=SHIM, STATX_SHIM_ERRNO=errno_name)
    b = engine("-c", lazy_cfg, src, env=env)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert f", stat: fstatat (statx AT_STATX_DONT_SYNC refused: {errno_name})" in b.stderr, \
        b.stderr
    assert sorted(open(plain).read().splitlines()) == sorted(open(lazy).read().splitlines())


def test_lazy_stat_saves_a_getattr_per_stat_on_fuse(need_slowfs, workdir):
    src = os.path.join(workdir, "src")
    n = make_tree(src, 5, 100)
    plain_cfg, _ = pipeline(workdir, "plain", "threads: 4")
    lazy_cfg, _ = pipeline(workdir, "lazy", "threads: 4, lazy_stat: true")
    got = {}
    with SlowFS(src, latency_us=0, workdir=workdir) as fs:
        for name, cfg in (("plain", plain_cfg), ("lazy", lazy_cfg)):
            start = fs.settle()
            r = engine("-c", cfg, fs.mnt)
            end = fs.settle()
            assert r.returncode == 0, r.stderr
            got[name] = sum(row["getattr"] for row in fs.counters()[start:end])
    # FUSE with attribute timeouts 0: fstatat asks again, statx with
    # AT_STATX_DONT_SYNC takes what the lookup brought
    assert got["lazy"] + n * 0.9 <= got["plain"], got


# ---- atimes ----------------------------------------------------------------------


def paths_below(top):
    """Every path under top (listing reads the directories: on strictatime
    that sets their atimes, so list first, then set them)."""
    out = []
    for d, dirs, files in os.walk(top):
        out += [d] + [os.path.join(d, f) for f in files]
    return out


def atimes(paths):
    return {p: os.lstat(p).st_atime_ns for p in paths}


def test_a_scan_changes_no_atime_on_strictatime(workdir):
    if os.geteuid() != 0:
        pytest.skip("mounting a strictatime tmpfs needs root")
    mnt = os.path.join(workdir, "m")
    os.makedirs(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "strictatime,size=64m", "tmpfs", mnt]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        src = os.path.join(mnt, "tree")
        make_tree(src, 12, 20)
        paths = paths_below(src)
        old = 1_000_000_000
        for p in paths:
            os.utime(p, ns=(old, old), follow_symlinks=False)
        # the check means something: here reading a directory sets its atime
        os.listdir(os.path.join(src, "d0"))
        assert os.lstat(os.path.join(src, "d0")).st_atime_ns != old
        os.utime(os.path.join(src, "d0"), ns=(old, old))
        before = atimes(paths)
        assert set(before.values()) == {old}
        cfg, out = pipeline(workdir, "noatime", "threads: 4", os.path.join(workdir, "o.csv"))
        r = engine("-c", cfg, src)
        assert r.returncode == 0, r.stderr
        assert f"{len(paths)} rows" in r.stderr, r.stderr
        assert atimes(paths) == before  # no directory read and no file opened shows
    finally:
        subprocess.run(["umount", mnt])


# ---- bad values ------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--max-ops", "-5"], "'scan.max_ops' must be an integer 0..1000000000 (operations per "
                          "second, 0 = no limit), not '-5'"),
    (["--max-ops", "lots"], "not 'lots'"),
    (["--set", "scan.max_threads=0"], "'scan.max_threads' must be an integer 1..4096, not '0'"),
    (["--set", "scan.adaptive=maybe"], "'scan.adaptive' must be true or false"),
    (["--set", "scan.lazy_stat=2"], "'scan.lazy_stat' must be true or false"),
    (["--set", "scan.io_priority=low"], "'scan.io_priority' must be normal or idle, not 'low'"),
])
def test_bad_values_one_line_exit_2_nothing_written(workdir, args, message):
    src = os.path.join(workdir, "src")
    make_tree(src, 2, 2)
    cfg, out = pipeline(workdir, "bad", "threads: 2")
    r = engine("-c", cfg, *args, src)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert message in r.stderr, r.stderr
    assert not os.path.exists(out)
    assert [f for f in os.listdir(workdir) if "pwalk-tmp" in f] == []
