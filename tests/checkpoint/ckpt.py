"""Helpers of the checkpoint/resume tests (issue 19): the tree, the
pipeline, running pwalk-engine (as root without the DAC capabilities, so a
mode-000 directory is an error for uid 0 too), signals at chosen moments,
and the published outputs read back as row multisets.

The pipeline is the issue's: csv + csv-zstd + summary + the error file, in
one walk.  An output is compared with the reference (an uninterrupted scan
of the same, unchanged tree) as a multiset of lines for csv, the decoded
csv-zstd and the error file (lossless escaping: one record per line), and
byte for byte for the summary tables; summary.json without the keys that
say when and how the scan ran.
"""

import collections
import csv
import json
import os
import random
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "summary"))
import summary_tree as T  # noqa: E402

EXIT_SUSPENDED = 75
TMP_MARK = ".pwalk-tmp-"
TABLES = ("dirs", "users", "groups", "usage", "top")
# summary.json keys that depend on when/how (not what) the scan ran
VOLATILE = {"threads", "ranks", "start_time", "end_time", "hostname", "sessions",
            "session_times"}


def engine():
    p = T.built("pwalk-engine")
    assert p, "pwalk-engine not built (bazel build //:pwalk-engine)"
    return p


def engine_version():
    """"0.1.0" of "pwalk-engine 0.1.0 (plugin ABI 1.4)"."""
    out = subprocess.run([engine(), "--version"], capture_output=True, check=True).stdout
    return out.decode().split()[1]


def skip_reason():
    """Why these tests cannot run here, or None."""
    return T.can_drop_caps()


def scratch(tag):
    """A new 0755 directory under $TEST_TMPDIR (never /tmp when run by
    hand: the loader refuses nothing here, but tests/summary does the same),
    else $HOME/.cache."""
    base = os.environ.get("TEST_TMPDIR") or os.path.join(os.path.expanduser("~"), ".cache")
    os.makedirs(base, exist_ok=True)
    d = tempfile.mkdtemp(prefix="pwalk-ckpt-%s-" % tag, dir=base)
    os.chmod(d, 0o755)
    return d


remove = T.remove

# ---- the tree -----------------------------------------------------------------

ODD = [b"nl\nname", b"bad\xff\xfe", b'comma,quote"', b"back\\slash", b" lead space",
       b"caf\xc3\xa9", b"tab\tname", b"-dash", b"x" * 200]


def build(root, entries=100000, huge=6000, seed=19, per_dir=None, dir_every=None):
    """gentree's tree of ENTRIES entries (hostile names, a directory of
    HUGE files, sparse files of random sizes) plus what gentree does not
    make: hard links inside one directory and across directories, symlinks
    (to a directory, to a file, dangling, absolute), odd names of every
    kind, empty directories, a deep chain, and an unreadable directory
    with entries (its opendir fails: one error row).  Returns facts."""
    gentree = T.built("tests/bench/gentree")
    assert gentree, "gentree not built (//tests/bench:gentree)"
    args = [gentree, root, str(entries)] + ([str(per_dir)] if per_dir else []) + \
        ["--hostile", "--seed", str(seed)]
    if dir_every:
        args += ["--dir-every", str(dir_every)]
    if huge:
        args += ["--huge", str(huge)]
    subprocess.run(args, check=True, capture_output=True)
    R = os.fsencode(root)
    x = R + b"/extra"
    os.mkdir(x, 0o755)
    for i in range(6):
        with open(x + b"/linked%d" % i, "wb") as f:
            f.write(b"l" * (100 * i + 1))
        os.link(x + b"/linked%d" % i, x + b"/linked%d-same-dir" % i)
    os.mkdir(x + b"/other", 0o755)
    for i in range(6):
        os.link(x + b"/linked%d" % i, x + b"/other/linked%d-across" % i)
    if huge:  # a second name, far away, for a file of the big directory
        os.link(R + b"/huge/" + sorted(os.listdir(R + b"/huge"))[7], x + b"/into-huge")
    os.symlink(b"other", x + b"/link-to-dir")
    os.symlink(b"linked1", x + b"/link-to-file")
    os.symlink(b"nowhere/at/all", x + b"/dangling")
    os.symlink(b"/etc", x + b"/absolute")
    for n in ODD:
        os.mkdir(x + b"/d-" + n, 0o755)
        with open(x + b"/d-" + n + b"/f-" + n, "wb") as f:
            f.write(n)
    for i in range(5):
        os.mkdir(x + b"/empty%d" % i, 0o755)
    d = x + b"/deep"
    os.mkdir(d, 0o755)
    for i in range(40):
        d += b"/%d" % i
        os.mkdir(d, 0o755)
    with open(d + b"/bottom", "wb") as f:
        f.write(b"b")
    locked = x + b"/locked"
    os.mkdir(locked, 0o755)
    for i in range(20):
        with open(locked + b"/secret%d" % i, "wb") as f:
            f.write(b"s")
    os.chmod(locked, 0)
    return {"root": root, "locked": os.fsdecode(locked)}


def warm(root):
    """Reads every directory once (a walk moves the atime of a directory
    whose atime is not newer than its mtime, relatime), so the reference
    and the later scans see the same atimes."""
    for dirpath, dirnames, _ in os.walk(root):
        pass


# ---- the pipeline -------------------------------------------------------------


class Setup:
    """One output set: OUT/scan.csv, OUT/scan.csv.zst, OUT/errors.csv,
    OUT/sum/ (the summary), the journal WORK/NAME.ckpt, the pipeline
    WORK/NAME.yaml."""

    def __init__(self, work, name, root, threads=2, extra_sink="", csv_opts=""):
        self.work, self.name, self.root = work, name, root
        self.out = os.path.join(work, name)
        os.mkdir(self.out, 0o755)
        self.journal = os.path.join(work, name + ".ckpt")
        self.cfg = os.path.join(work, name + ".yaml")
        self.write_pipeline(self.cfg, threads, extra_sink, csv_opts)

    def write_pipeline(self, path, threads=2, extra_sink="", csv_opts=""):
        y = T.yaml_str
        o = self.out
        lines = ["version: 1", "scan:", "  threads: %d" % threads,
                 "  errors: %s" % y(os.path.join(o, "errors.csv")), "sinks:",
                 "  - {name: report, plugin: csv, options: {path: %s%s}}"
                 % (y(os.path.join(o, "scan.csv")), csv_opts),
                 "  - {name: packed, plugin: csv-zstd, options: {path: %s}}"
                 % y(os.path.join(o, "scan.csv.zst")),
                 "  - {name: sum, plugin: summary, options: {dir: %s, print: false}}"
                 % y(os.path.join(o, "sum"))]
        if extra_sink:
            lines.append(extra_sink)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def finals(self):
        """The final names of every output (absent while suspended)."""
        s = os.path.join(self.out, "sum")
        return [os.path.join(self.out, n) for n in ("scan.csv", "scan.csv.zst", "errors.csv")] + \
            [os.path.join(s, "summary.json")] + [os.path.join(s, t + ".csv") for t in TABLES]

    def published(self):
        return [p for p in self.finals() if os.path.lexists(p)]

    def temporaries(self):
        """Every .NAME.pwalk-tmp-XXXXXX under the output directory and
        beside the journal."""
        found = []
        for d in (self.out, os.path.join(self.out, "sum"), self.work):
            if os.path.isdir(d):
                found += [os.path.join(d, n) for n in os.listdir(d) if TMP_MARK in n and (
                    d != self.work or n.startswith("." + os.path.basename(self.journal)))]
        return sorted(found)

    def snapshot(self):
        """{path: (size, mtime_ns, sha of the bytes)} of everything in the
        output directories and beside the journal: 'nothing written, the
        parts left untouched' is this unchanged."""
        snap = {}
        for d in (self.out, os.path.join(self.out, "sum"), self.work):
            if not os.path.isdir(d):
                continue
            for n in os.listdir(d):
                p = os.path.join(d, n)
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        h = zlib.crc32(f.read())
                    snap[p] = (st.st_size, st.st_mtime_ns, h)
                elif stat.S_ISDIR(st.st_mode) and d != self.work:
                    snap[p] = ("dir",)
        return snap


# ---- running the engine ------------------------------------------------------


def argv(setup, mode=None, every=None, max_ops=None, threads=None, time_limit=None, cfg=None,
         root=None, extra=()):
    """pwalk-engine's command line; mode: None (no journal), 'checkpoint'
    (a fresh scan keeping setup.journal) or 'resume'."""
    a = T.UNPRIVILEGED + [engine(), "-q", "-c", cfg or setup.cfg]
    if mode == "checkpoint":
        a += ["--checkpoint", setup.journal]
    elif mode == "resume":
        a += ["--resume", setup.journal]
    elif mode:
        a += ["--resume", mode]  # another journal file
    if every:
        a += ["--checkpoint-every", every]
    if time_limit:
        a += ["--time-limit", time_limit]
    if max_ops:
        a += ["--max-ops", str(max_ops)]
    if threads:
        a += ["-t", str(threads)]
    return a + list(extra) + [root or setup.root]


class Result:
    def __init__(self, rc, stdout, stderr, seconds):
        self.rc, self.stdout, self.seconds = rc, stdout, seconds
        self.stderr = stderr.decode(errors="replace")

    def lines(self):
        return [ln for ln in self.stderr.split("\n") if ln]

    def __repr__(self):
        return "exit %s after %.2f s, stderr %r" % (self.rc, self.seconds, self.stderr[-2000:])


def run(args, timeout=600, cwd=None):
    t0 = time.monotonic()
    r = subprocess.run(args, capture_output=True, timeout=timeout, cwd=cwd)
    return Result(r.returncode, r.stdout, r.stderr, time.monotonic() - t0)


USR1_BIT = 1 << (signal.SIGUSR1 - 1)


def catches_usr1(pid):
    """Has the process installed its SIGUSR1 handler (SigCgt)?  Before it
    has, SIGUSR1's default action would kill it."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & USR1_BIT)
    except OSError:
        pass
    return False


def run_signalled(args, sig, delay, wait_handler=False, timeout=600):
    """Starts args, waits delay seconds (counted from the moment its
    SIGUSR1 handler is in place when wait_handler, else from the start),
    sends sig unless the process has already exited.  Returns (Result,
    sent)."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # the pipes are read by communicate() below; a quiet (-q) engine
    # writes a line or two, far below a pipe's buffer
    if wait_handler:
        while p.poll() is None and not catches_usr1(p.pid):
            time.sleep(0.0005)
    end = time.monotonic() + delay
    while p.poll() is None and time.monotonic() < end:
        time.sleep(min(0.002, max(0.0, end - time.monotonic())))
    sent = False
    if p.poll() is None:
        p.send_signal(sig)
        sent = True
    out, err = p.communicate(timeout=timeout)
    return Result(p.returncode, out, err, time.monotonic() - t0), sent


def wait_for(path_pred, p, timeout=60):
    """Polls until path_pred() or the process p exits."""
    end = time.monotonic() + timeout
    while p.poll() is None and time.monotonic() < end:
        if path_pred():
            return True
        time.sleep(0.002)
    return path_pred()


# ---- reading the outputs ------------------------------------------------------


def lines_of(data):
    return collections.Counter(data.split(b"\n")[:-1] if data.endswith(b"\n")
                               else data.split(b"\n"))


def read_outputs(setup):
    """The published outputs: {'csv', 'zst', 'errors': Counter of lines,
    'tables': {name: bytes}, 'json': summary.json}."""
    o = setup.out
    got = {}
    with open(os.path.join(o, "scan.csv"), "rb") as f:
        got["csv"] = lines_of(f.read())
    z = subprocess.run(["zstd", "-dcq", os.path.join(o, "scan.csv.zst")], capture_output=True)
    assert z.returncode == 0, "scan.csv.zst does not decode: %r" % z.stderr
    got["zst"] = lines_of(z.stdout)
    with open(os.path.join(o, "errors.csv"), "rb") as f:
        got["errors"] = lines_of(f.read())
    got["tables"] = {}
    for t in TABLES:
        with open(os.path.join(o, "sum", t + ".csv"), "rb") as f:
            got["tables"][t] = f.read()
    with open(os.path.join(o, "sum", "summary.json")) as f:
        got["json"] = json.load(f)
    return got


def multiset_diff(got, want):
    """A readable difference of two Counters of lines ('' when equal)."""
    if got == want:
        return ""
    extra = got - want
    missing = want - got
    return "%d lines, want %d: %d extra (%s) and %d missing (%s)" % (
        sum(got.values()), sum(want.values()), sum(extra.values()),
        ", ".join("%r x%d" % kv for kv in list(extra.items())[:3]),
        sum(missing.values()), ", ".join("%r x%d" % kv for kv in list(missing.items())[:3]))


def compare(got, ref, what=""):
    """Asserts that got (read_outputs) holds exactly the reference's rows,
    tables and counts; what names the scan in the failure."""
    for k, name in (("csv", "scan.csv"), ("zst", "scan.csv.zst"), ("errors", "errors.csv")):
        d = multiset_diff(got[k], ref[k])
        assert not d, "%s %s: %s" % (what, name, d)
    for t in TABLES:
        assert got["tables"][t] == ref["tables"][t], \
            "%s summary %s.csv differs from the uninterrupted scan's" % (what, t)
    gj = {k: v for k, v in got["json"].items() if k not in VOLATILE}
    rj = {k: v for k, v in ref["json"].items() if k not in VOLATILE}
    assert gj == rj, "%s summary.json: %r, want %r" % (what, gj, rj)
    check_accounting(got, what)


def check_accounting(got, what=""):
    """The README's accounting, over every session: entries = rows +
    lstat records (entries whose lstat failed: in the error file, no row)
    + filtered, summary.json's counts against the csv's rows (header left
    out) and the error file's records; and summary.json's errors are the
    error file's records of kind error."""
    j = got["json"]
    rows = sum(got["csv"].values()) - 1
    recs = []
    for line, n in got["errors"].items():
        rec = next(csv.reader([line.decode("utf-8")]))
        if rec != ["path", "errno", "error", "operation", "kind"]:
            recs += [rec] * n
    lstat = sum(1 for r in recs if r[3] == "lstat")
    assert j["entries"] == rows + lstat + j["filtered"], \
        "%s accounting: entries %d != rows %d + lstat records %d + filtered %d" % (
            what, j["entries"], rows, lstat, j["filtered"])
    kind_error = sum(1 for r in recs if r[4] == "error")
    assert j["errors"] == kind_error, "%s summary.json errors %d, error file %d" % (
        what, j["errors"], kind_error)


def check_sessions(got, sessions, t0, t1, what=""):
    """summary.json says the scan spanned `sessions` sessions (None: more
    than one) and when: session_times, in order, inside [t0, t1]."""
    j = got["json"]
    if sessions is None:
        assert j["sessions"] > 1, "%s sessions: %r" % (what, j["sessions"])
    else:
        assert j["sessions"] == sessions, "%s sessions %r, want %d" % (
            what, j["sessions"], sessions)
    st = j.get("session_times")
    assert isinstance(st, list) and len(st) == j["sessions"], \
        "%s session_times %r for %r sessions" % (what, st, j["sessions"])
    prev = int(t0) - 1
    for s in st:
        assert set(s) == {"start", "end"}, "%s session_times: %r" % (what, st)
        assert prev <= s["start"] <= s["end"] <= int(t1) + 1, "%s session_times %r not in " \
            "order within [%d, %d]" % (what, st, t0, t1)
        prev = s["start"]
    assert j["start_time"] == st[0]["start"], "%s start_time %r, first session %r" % (
        what, j["start_time"], st[0])


def reference(work, root):
    """Two uninterrupted scans (no journal): the reference outputs, after
    checking that the walk is deterministic on this tree (the two agree,
    the accounting holds), and the status they exit with."""
    refs = []
    for i in range(2):
        s = Setup(work, "ref%d" % i, root)
        r = run(argv(s))
        assert r.rc in (0, 1), r
        refs.append((read_outputs(s), r.rc))
    compare(refs[1][0], refs[0][0], "reference scan repeated:")
    assert refs[0][1] == refs[1][1]
    return refs[1]


def rng(name):
    """A seeded random.Random, the seed printed (pytest shows it with a
    failure); PWALK_CKPT_SEED=N reproduces a run."""
    seed = int(os.environ.get("PWALK_CKPT_SEED") or random.SystemRandom().randrange(1 << 32))
    print("%s: seed %d (PWALK_CKPT_SEED=%d reproduces it)" % (name, seed, seed))
    return random.Random(seed)


# ---- journals -----------------------------------------------------------------

MAGIC = b"PWALKCKP"


def resealed(data):
    """data with its trailing crc32 (zlib, little endian, over every byte
    before it: engine/journal.c) recomputed."""
    body = data[:-4]
    return body + zlib.crc32(body).to_bytes(4, "little")


def check_layout(data):
    """The layout the patches below rely on: magic, u32 format 1, the
    crc32 trailer."""
    assert data[:8] == MAGIC, "journal does not start with %r: %r" % (MAGIC, data[:16])
    assert int.from_bytes(data[8:12], "little") == 1, data[:16]
    assert resealed(data) == data, "the journal's last 4 bytes are not the zlib crc32 " \
        "(little endian) of the rest: the version/format patches of this test need updating"
