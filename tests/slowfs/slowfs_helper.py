"""Mount tests/slowfs (a FUSE passthrough with latency) for a test, and
always unmount it again.  See README.md here.

    from slowfs_helper import SlowFS, unavailable

    reason = unavailable()            # None, or why it cannot run here
    if reason: pytest.skip(reason)
    with SlowFS(source_dir, latency_us=200) as fs:
        scan(fs.mnt)                  # fs.mnt: the mountpoint (a temp dir)
        fs.set_latency(5000)          # in force when it returns
        rows = fs.counters()          # one dict per 100 ms window

Unmounted on every way out of the `with` (and at interpreter exit, and
SIGTERM turned into SystemExit while a mount is up); the daemon runs with
--die-with-parent, so even a SIGKILL of the test takes the mount down
(the daemon unmounts itself when its parent dies).

Also a command line, for tests in other languages and for shells:

    python3 slowfs_helper.py [--latency-us N] [--binary PATH] SOURCE -- CMD ARGS...

mounts SOURCE, runs CMD with SLOWFS_MNT, SLOWFS_CONTROL, SLOWFS_COUNTERS in
its environment, unmounts, and exits with CMD's status (77 with the reason
on stderr when slowfs cannot run here: not root, no /dev/fuse, ...).
"""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OPS = ("lookup", "getattr", "opendir", "readdir", "releasedir", "readlink", "open", "read",
       "statfs", "forget")
# the operations that wait the latency
METADATA_OPS = ("lookup", "getattr", "opendir", "readdir")
SKIP_STATUS = 77

_live = set()


def binary():
    """The slowfs executable: $SLOWFS_BIN, Bazel runfiles, or bazel-bin."""
    env = os.environ.get("SLOWFS_BIN")
    if env:
        return env
    cands = []
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        cands.append(os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "pwalk"),
                                  "tests", "slowfs", "slowfs"))
    cands.append(os.path.join(HERE, "slowfs"))  # runfiles: next to this file
    repo = os.path.dirname(os.path.dirname(HERE))
    cands.append(os.path.join(repo, "bazel-bin", "tests", "slowfs", "slowfs"))
    for c in cands:
        if os.access(c, os.X_OK):
            return os.path.realpath(c)
    return None


def unavailable(exe=None):
    """None when slowfs can be mounted here, else the reason (for a skip)."""
    if os.geteuid() != 0:
        return "slowfs needs root (it mounts a FUSE filesystem with allow_other)"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing (no FUSE in this kernel or container)"
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as e:
        return f"/dev/fuse cannot be opened: {e.strerror}"
    if not (exe or binary()):
        return "the slowfs binary is not built (bazel build //tests/slowfs)"
    return None


def _mounted(mnt):
    """The filesystem type mounted at mnt, or None."""
    mnt = os.path.realpath(mnt)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[4].encode().decode("unicode_escape") == mnt:
                return fields[sep + 1]
    return None


def parse_counters(path):
    """The counters file as a list of dicts: epoch_ms, one count per op,
    inflight_max, latency_us, and `metadata` (the four waited ops)."""
    rows = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return rows
    if not lines or not lines[0].startswith("#"):
        return rows
    names = lines[0][1:].split()
    for line in lines[1:]:
        vals = line.split()
        if len(vals) != len(names):
            continue  # a line being written
        row = dict(zip(names, map(int, vals)))
        row["metadata"] = sum(row[k] for k in METADATA_OPS)
        rows.append(row)
    return rows


def _sigterm(signum, frame):
    raise SystemExit(128 + signum)


class SlowFS:
    """A slowfs mount of `source` in a fresh temp dir under `workdir`
    (default: $TEST_TMPDIR, else the system's)."""

    def __init__(self, source, latency_us=0, workdir=None, exe=None, max_threads=1024,
                 timeout=10.0):
        self.source = os.path.abspath(source)
        self.latency_us = int(latency_us)
        self.exe = exe or binary()
        self.max_threads = max_threads
        self.timeout = timeout
        self.workdir = workdir or os.environ.get("TEST_TMPDIR") or None
        self.proc = None
        self.dir = self.mnt = self.control = self.counters_path = None

    # -- mount / unmount ------------------------------------------------
    def mount(self):
        reason = unavailable(self.exe)
        if reason:
            raise RuntimeError(f"slowfs: {reason}")
        self.dir = tempfile.mkdtemp(prefix="slowfs-", dir=self.workdir)
        self.mnt = os.path.join(self.dir, "mnt")
        os.mkdir(self.mnt)
        self.control = os.path.join(self.dir, "latency_us")
        self.counters_path = os.path.join(self.dir, "counters")
        self._write_control(self.latency_us)
        self.log = open(os.path.join(self.dir, "slowfs.log"), "w+")
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _sigterm)  # so `finally`/atexit run
        _live.add(self)
        self.proc = subprocess.Popen(
            [self.exe, "--die-with-parent", "--max-threads", str(self.max_threads),
             "--latency-us", str(self.latency_us), "--control", self.control,
             "--counters", self.counters_path, self.source, self.mnt],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout
        while _mounted(self.mnt) != "fuse.slowfs":
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                msg = self.log.read().strip()
                self.unmount()
                raise RuntimeError(f"slowfs did not mount {self.source} on {self.mnt}: "
                                   f"{msg or 'timed out'}")
            time.sleep(0.01)
        return self

    def unmount(self):
        """Idempotent; never raises.  Lazy unmount if busy, then the
        daemon is stopped and the temp dir removed."""
        if self.mnt and _mounted(self.mnt) == "fuse.slowfs":
            r = subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        if self.proc:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self.mnt and _mounted(self.mnt):
            subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        if self.dir and not (self.mnt and _mounted(self.mnt)):
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        _live.discard(self)

    def __enter__(self):
        return self.mount()

    def __exit__(self, *exc):
        self.unmount()
        return False

    # -- latency and counters -------------------------------------------
    def _write_control(self, us):
        tmp = self.control + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{int(us)}\n")
        os.rename(tmp, self.control)  # the daemon never reads half a number

    def set_latency(self, us, wait=True):
        """Change the latency; with wait, return once a counters line shows
        it in force (the daemon reads the control file every 100 ms)."""
        self._write_control(us)
        self.latency_us = int(us)
        deadline = time.monotonic() + self.timeout
        while wait:
            rows = self.counters()
            if rows and rows[-1]["latency_us"] == self.latency_us:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"slowfs: latency {us} us not in force after {self.timeout} s")
            time.sleep(0.05)

    def counters(self):
        return parse_counters(self.counters_path)

    def mark(self):
        """The number of counters lines so far."""
        return len(self.counters())

    def settle(self):
        """Wait for the counters line after next and return the line count
        n: every request that arrived before this call is counted in
        counters()[:n], every one after it returned in counters()[n:] (a
        line takes all counts so far; the next one may have taken them just
        before this call and not be written yet, hence two).  So: n =
        settle(); do the requests; settle(); totals(n) counts just them."""
        n0 = self.mark()
        deadline = time.monotonic() + self.timeout
        while True:
            n = self.mark()
            if n > n0 + 1:
                return n
            if time.monotonic() > deadline:
                raise RuntimeError(f"slowfs: no counters line in {self.timeout} s")
            time.sleep(0.02)

    def totals(self, since=0):
        """Over counters()[since:] (settle() first): requests per op,
        `metadata`, `busy_us` (summed), `inflight_max` (the most at once),
        `windows` (how many lines)."""
        out = dict.fromkeys(OPS + ("metadata", "busy_us", "inflight_max", "windows"), 0)
        for row in self.counters()[since:]:
            for k in OPS + ("metadata", "busy_us"):
                out[k] += row.get(k, 0)
            out["inflight_max"] = max(out["inflight_max"], row["inflight_max"])
            out["windows"] += 1
        return out

    def env(self):
        return {"SLOWFS_MNT": self.mnt, "SLOWFS_CONTROL": self.control,
                "SLOWFS_COUNTERS": self.counters_path}


@atexit.register
def _unmount_all():
    for fs in list(_live):
        fs.unmount()


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="mount slowfs on SOURCE, run CMD, unmount")
    ap.add_argument("--latency-us", type=int, default=0)
    ap.add_argument("--binary")
    ap.add_argument("source")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command to run")
    reason = unavailable(args.binary)
    if reason:
        print(f"slowfs: skipped: {reason}", file=sys.stderr)
        return SKIP_STATUS
    with SlowFS(args.source, latency_us=args.latency_us, exe=args.binary) as fs:
        return subprocess.run(cmd, env=dict(os.environ, **fs.env())).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
