"""Helpers of the pwalk-diff tests: the binaries, running them, reading the
outputs, and the expected figures computed from a list of expected changes
by the rules of engine/diff/README.md (never from pwalk-diff's output)."""

import csv
import grp
import io
import json
import os
import pwd
import stat
import subprocess

RUNFILES = os.path.join(os.environ.get("TEST_SRCDIR", ""), "pwalk")
# PWALK_BIN=bazel-bin runs the tests outside Bazel (python3 -m pytest tests/diff)
_BIN = os.environ.get("PWALK_BIN") or RUNFILES
DIFF = os.path.join(_BIN, "pwalk-diff")
ENGINE = os.path.join(_BIN, "pwalk-engine")
MPI = os.path.join(_BIN, "pwalk-mpi")
GENREPORT = os.path.join(_BIN, "tests", "diff", "genreport")
TIMEOUT = 300

CHANGES_HEADER = ("change,path,old_path,type,uid,old_uid,gid,old_gid,size,old_size,delta,"
                  "mtime,old_mtime,mode,old_mode,inode,suspect")
BY_USER_HEADER = ("uid,user,files_added,files_removed,bytes_added,bytes_removed,net_bytes,"
                  "net_files")
BY_GROUP_HEADER = BY_USER_HEADER.replace("uid,user", "gid,group")
BY_DIR_HEADER = "path,depth,net_bytes,net_files"
TABLES = ("changes", "by_user", "by_group", "by_dir")


def tmp_base():
    """Where test trees go: Bazel's TEST_TMPDIR (root-owned, not /tmp)."""
    return os.environ.get("TEST_TMPDIR") or os.path.join(os.path.expanduser("~"), ".cache")


def run_diff(*args, cwd=None, timeout=TIMEOUT, preexec_fn=None):
    """pwalk-diff ARGS -> CompletedProcess (stdout/stderr bytes)."""
    return subprocess.run([DIFF] + [os.fspath(a) for a in args], capture_output=True,
                          cwd=cwd, timeout=timeout, preexec_fn=preexec_fn)


def diff_ok(*args, **kw):
    r = run_diff(*args, **kw)
    assert r.returncode == 0, (r.returncode, r.stderr.decode(errors="replace"))
    assert r.stderr == b"", r.stderr
    return r


def one_error_line(r, *needles):
    """Exit 2 and exactly one stderr line starting 'pwalk-diff: ' that
    holds every needle."""
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 2, (r.returncode, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("pwalk-diff: "), err
    for n in needles:
        assert n in lines[0], (n, err)
    return lines[0]


def nothing_written(out):
    assert not os.path.exists(out) or os.listdir(out) == [], os.listdir(out)


# ---- the lossless text ---------------------------------------------------------

def escape(raw):
    """common/lossless's escape of a name's bytes, as text."""
    out = []
    i = 0
    while i < len(raw):
        b = raw[i]
        if b == 0x5C:
            out.append("\\\\")
            i += 1
            continue
        if b < 0x20 or b == 0x7F:
            out.append(f"\\x{b:02x}")
            i += 1
            continue
        if b < 0x80:
            out.append(chr(b))
            i += 1
            continue
        n = 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
        try:
            ch = raw[i:i + n].decode("utf-8") if n else None
        except UnicodeDecodeError:
            ch = None
        if ch is None or len(ch) != 1:
            out.append(f"\\x{b:02x}")
            i += 1
        else:
            out.append(ch)
            i += n
    return "".join(out)


def unescape(text):
    """Undo the lossless rules: \\\\ -> \\, \\xHH -> the byte; the rest UTF-8."""
    b = text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(b):
        if b[i] == 0x5C and b[i + 1:i + 2] == b"\\":
            out.append(0x5C)
            i += 2
        elif b[i] == 0x5C and b[i + 1:i + 2] == b"x":
            out.append(int(b[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return bytes(out)


# ---- outputs ----------------------------------------------------------------------

def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def table_text(out, name):
    """The text of a table, plain or .csv.zst (decompressed with zstd(1))."""
    p = os.path.join(out, name + ".csv")
    if os.path.exists(p):
        return read_bytes(p).decode("utf-8")
    data = subprocess.run(["zstd", "-dcq", p + ".zst"], capture_output=True, check=True).stdout
    return data.decode("utf-8")


def table(out, name):
    """(header line, rows as lists of fields) of a table."""
    text = table_text(out, name)
    assert text.endswith("\n"), name
    lines = text.split("\n")
    return lines[0], list(csv.reader(io.StringIO("\n".join(lines[1:]), newline="")))


def diff_json(out):
    with open(os.path.join(out, "diff.json"), "rb") as f:
        return json.loads(f.read())


def outputs_bytes(out):
    return {n: read_bytes(os.path.join(out, n)) for n in sorted(os.listdir(out))}


# ---- expected figures --------------------------------------------------------------

def type_char(mode):
    for test, c in ((stat.S_ISREG, "f"), (stat.S_ISDIR, "d"), (stat.S_ISLNK, "l"),
                    (stat.S_ISFIFO, "p"), (stat.S_ISSOCK, "s"), (stat.S_ISCHR, "c"),
                    (stat.S_ISBLK, "b")):
        if test(mode):
            return c
    return "?"


class Change:
    """One expected change: kind, new path / old path (bytes), their lstat
    results (None when absent), suspect, and agg_zero (a hard link's extra
    name: 0 bytes in the aggregates, README "Hard links")."""

    def __init__(self, change, path, old_path, new, old, suspect="", agg_zero=False):
        self.change, self.path, self.old_path = change, path, old_path
        self.new, self.old, self.suspect, self.agg_zero = new, old, suspect, agg_zero

    def row(self):
        n, o = self.new, self.old
        num = lambda st, f: "" if st is None else str(f(st))
        mode = lambda st: "" if st is None else f"{st.st_mode:07o}"
        size = n.st_size if n else 0
        old_size = o.st_size if o else 0
        return [self.change, escape(self.path if n else self.old_path),
                "" if self.change in ("added", "modified") else escape(self.old_path),
                type_char((n or o).st_mode),
                num(n, lambda s: s.st_uid), num(o, lambda s: s.st_uid),
                num(n, lambda s: s.st_gid), num(o, lambda s: s.st_gid),
                num(n, lambda s: s.st_size), num(o, lambda s: s.st_size), str(size - old_size),
                num(n, lambda s: s.st_mtime_ns // 10**9), num(o, lambda s: s.st_mtime_ns // 10**9),
                mode(n), mode(o), str((n or o).st_ino), self.suspect]

    def sort_key(self):
        return (self.path if self.new else self.old_path, self.change,
                b"" if self.change in ("added", "modified") else self.old_path)


def expected_changes(changes):
    return [c.row() for c in sorted(changes, key=Change.sort_key)]


def _name(table_, key):
    try:
        return table_(key)
    except KeyError:
        return ""


def expected_by_owner(changes, field):
    """by_user (field 'st_uid') or by_group ('st_gid') rows, README rules."""
    names = (lambda u: pwd.getpwuid(u).pw_name) if field == "st_uid" else \
        (lambda g: grp.getgrgid(g).gr_name)
    return [[str(k), _name(names, k), str(a[0]), str(a[1]), str(a[2]), str(a[3]),
             str(a[2] - a[3]), str(a[0] - a[1])] for k, a in _owner_sums(changes, field)]


def _owner_sums(changes, field):
    """[(owner, [files_added, files_removed, bytes_added, bytes_removed])]."""
    acc = {}

    def add(owner, files=0, fr=0, ba=0, br=0):
        a = acc.setdefault(owner, [0, 0, 0, 0])
        a[0] += files
        a[1] += fr
        a[2] += ba
        a[3] += br

    for c in changes:
        n, o = c.new, c.old
        isfile = lambda st: 0 if stat.S_ISDIR(st.st_mode) else 1
        bytes_ = lambda st: 0 if c.agg_zero else st.st_size
        if o is None:
            add(getattr(n, field), files=isfile(n), ba=bytes_(n))
        elif n is None:
            add(getattr(o, field), fr=isfile(o), br=bytes_(o))
        elif getattr(n, field) != getattr(o, field):
            add(getattr(o, field), fr=isfile(o), br=bytes_(o))
            add(getattr(n, field), files=isfile(n), ba=bytes_(n))
        else:
            d = n.st_size - o.st_size
            add(getattr(n, field), ba=max(d, 0), br=max(-d, 0))
    return sorted(acc.items())


def expected_totals(changes):
    """diff.json's totals: the by_user rules with one owner for everything
    (a chown moves nothing in the totals)."""
    same = []
    for c in changes:
        n = o = None
        if c.new is not None:
            n = _Owned(c.new.st_mode, c.new.st_size)
        if c.old is not None:
            o = _Owned(c.old.st_mode, c.old.st_size)
        same.append(Change(c.change, c.path, c.old_path, n, o, c.suspect, c.agg_zero))
    acc = [0, 0, 0, 0]
    for _, a in _owner_sums(same, "owner"):
        for i in range(4):
            acc[i] += a[i]
    return {"files_added": acc[0], "files_removed": acc[1], "bytes_added": acc[2],
            "bytes_removed": acc[3], "net_bytes": acc[2] - acc[3], "net_files": acc[0] - acc[1]}


class _Owned:
    def __init__(self, mode, size):
        self.st_mode, self.st_size, self.owner = mode, size, 0


def _parent(p):
    return p.rsplit(b"/", 1)[0]


def expected_by_dir(changes, roots, depth_limit=3):
    """by_dir rows: every change counts -old at OLD's place and +new at
    NEW's place, in every directory above it (and itself when a directory);
    rows for directories of report depth <= depth_limit - 1 with a change at
    or below them.  roots: the root paths (bytes, depth -1)."""
    acc = {}

    def depth_of(p):
        for r in roots:
            if p == r:
                return -1
            if p.startswith(r.rstrip(b"/") + b"/"):
                return p[len(r.rstrip(b"/")) + 1:].count(b"/")
        raise AssertionError(p)

    def place(path, st, sign, agg_zero):
        files = 0 if stat.S_ISDIR(st.st_mode) else 1
        size = 0 if agg_zero else st.st_size
        d = path if stat.S_ISDIR(st.st_mode) else _parent(path)
        while True:
            a = acc.setdefault(d, [0, 0])
            a[0] += sign * size
            a[1] += sign * files
            if depth_of(d) == -1:
                break
            d = _parent(d)

    for c in changes:
        if c.old is not None:
            place(c.old_path, c.old, -1, c.agg_zero)
        if c.new is not None:
            place(c.path, c.new, +1, c.agg_zero)
    rows = []
    for d in sorted(acc):
        dep = depth_of(d)
        if dep <= depth_limit - 1:
            rows.append([escape(d), str(dep), str(acc[d][0]), str(acc[d][1])])
    return rows


def totals_of(by_user_rows):
    t = [0, 0, 0, 0]
    for r in by_user_rows:
        for i in range(4):
            t[i] += int(r[2 + i])
    return {"files_added": t[0], "files_removed": t[1], "bytes_added": t[2],
            "bytes_removed": t[3], "net_bytes": t[2] - t[3], "net_files": t[0] - t[1]}


def counts_of(changes):
    kinds = {"added": 0, "removed": 0, "modified": 0, "renamed": 0, "renamed+modified": 0}
    for c in changes:
        kinds[c.change] += 1
    kinds["suspect"] = sum(1 for c in changes if c.suspect)
    return kinds


# ---- scanning -------------------------------------------------------------------

def snapshot(root):
    """{path bytes: lstat} of every entry under root (bytes), root included."""
    out = {root: os.lstat(root)}
    for top, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(top, n)
            out[p] = os.lstat(p)
    return out


def write_config(path, sinks, threads=2):
    text = f"version: 1\nscan: {{threads: {threads}}}\nsinks:\n"
    for name, plugin, opts in sinks:
        o = ", ".join(f"{k}: {str(v).lower()}" if isinstance(v, bool) else f"{k}: '{v}'"
                      for k, v in opts.items())
        text += f"  - {{name: {name}, plugin: {plugin}, options: {{{o}}}}}\n"
    with open(path, "w") as f:
        f.write(text)
    return path


def engine(*args):
    r = subprocess.run([ENGINE, "-q"] + [os.fspath(a) for a in args], capture_output=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r


def mpirun_available():
    import shutil
    return os.access(MPI, os.X_OK) and shutil.which("mpirun") is not None


def mpi_scan(cfg, root, np=2):
    argv = ["mpirun", "--oversubscribe"]
    if os.geteuid() == 0:
        argv.append("--allow-run-as-root")
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:  # Open MPI's dlclose()d components (tests/mpi)
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    if "TSAN_OPTIONS" in env:
        env["TSAN_OPTIONS"] += ":suppressions=" + os.path.join(RUNFILES, "tests", "mpi",
                                                               "tsan.supp")
    r = subprocess.run(argv + ["-np", str(np), MPI, "-q", "-c", cfg, root], capture_output=True,
                       timeout=TIMEOUT, env=env)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
