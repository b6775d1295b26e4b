"""The summary sink's test tree and its oracle (tests/summary).

build(root, ...) makes a tree as root: several owners (accounts that
exist and one uid/gid that has none), mtimes and atimes an hour on each
side of every age bucket boundary (and one in the future), sparse files
on each side of every size class boundary, hard links inside one
directory and across directories (one of them with its other link in an
excluded directory), an unreadable directory (mode 000, unreadable once
the engine runs without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, see
UNPRIVILEGED), an excluded directory, a .snapshot directory, names that
sort differently as raw bytes and in tree order, and a hostile name.

model(root, ...) computes every table the summary sink must write for
that tree from lstat alone (its own code, not the plugin's), following
plugins/summary/FORMAT.md (CONTRACT A of the session notes): the tests
compare the plugin's files with it cell by cell.
"""

import csv
import io
import json
import os
import pwd
import grp
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

DAY = 86400
AGE_DAYS = [7, 30, 90, 365, 730, 1095]
SIZE_CLASSES = [0, 1, 4096, 65536, 1048576, 16777216, 268435456, 4294967296,
                68719476736, 1099511627776]
TABLES = ("dirs", "users", "groups", "usage", "top")
HEADERS = {
    "dirs": ["path", "depth", "dev", "inode", "uid", "gid", "files", "dirs", "bytes",
             "allocated", "newest_mtime", "newest_atime", "oldest_mtime", "stale_bytes"],
    "users": ["uid", "user", "files", "dirs", "bytes", "allocated", "newest_mtime",
              "oldest_atime", "orphan"],
    "groups": ["gid", "group", "files", "dirs", "bytes", "allocated", "orphan"],
    "usage": ["uid", "gid", "top", "mtime_age_days", "atime_age_days", "ctime_age_days",
              "size_min", "files", "dirs", "bytes", "allocated"],
    "top": ["ranked_by", "rank", "path", "files", "dirs", "bytes", "allocated",
            "stale_bytes"],
}
# the engine without the capabilities that let root read any directory:
# uid 0 then meets mode 000 like everyone else (opendir: EACCES)
DROP = "-dac_override,-dac_read_search"
UNPRIVILEGED = ["setpriv", "--inh-caps=" + DROP, "--bounding-set=" + DROP]

# ---- lossless escaping (common/lossless.h's rules, written again here) -------


def escape(raw):
    """The report's lossless text of raw bytes: \\ doubled, control bytes,
    DEL and bytes outside valid UTF-8 as \\xHH, the rest as is."""
    out = []
    for ch in raw.decode("utf-8", "surrogateescape"):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append("\\x%02x" % (o - 0xDC00))
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        elif ch == "\\":
            out.append("\\\\")
        else:
            out.append(ch)
    return "".join(out)


def unescape(text):
    """Raw bytes of a lossless text."""
    return re.sub(rb"\\(\\|x[0-9a-f]{2})",
                  lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1)[1:], 16)]),
                  text.encode("utf-8"))


def read_csv_text(text):
    """Rows (lists of str) of a CSV text, header included."""
    return [row for row in csv.reader(io.StringIO(text, newline=""))]


def read_table(path):
    """Rows of a summary table, .csv or .csv.zst (zstd -dc)."""
    if path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dcq", path], check=True, capture_output=True).stdout
    else:
        with open(path, "rb") as f:
            data = f.read()
    return read_csv_text(data.decode("utf-8"))


# ---- accounts -----------------------------------------------------------------


def _uid_exists(uid):
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def _gid_exists(gid):
    try:
        grp.getgrgid(gid)
        return True
    except KeyError:
        return False


def accounts():
    """(uid_a, uid_b, orphan_uid, gid_a, gid_b, orphan_gid): two uids and
    gids that have accounts here (Debian's daemon, bin, users, ...) and one
    of each that has none."""
    uids = [u for u in (1, 2, 3, 65534) if _uid_exists(u)]
    gids = [g for g in (1, 100, 2, 4, 65534) if _gid_exists(g)]
    if len(uids) < 2 or len(gids) < 2:
        raise RuntimeError("need two accounts and two groups besides root")
    ou = next(u for u in range(4000123, 4001123) if not _uid_exists(u))
    og = next(g for g in range(4000223, 4001223) if not _gid_exists(g))
    return uids[0], uids[1], ou, gids[0], gids[1], og


# ---- the tree -----------------------------------------------------------------

HOSTILE = b'we,ird"\\\n\xff\xc3\xa9'  # comma, quote, backslash, newline, bad byte, e-acute


def build(root, now=None, cross_links=True, filters=True, unreadable=True):
    """Makes the tree at root (must not exist).  cross_links: hard links
    across directories (else only inside one); filters: the excluded and
    .snapshot directories; unreadable: the mode-000 directory.  Returns
    facts: {root, excluded, now, uids, gids, ...}."""
    now = int(time.time()) if now is None else now
    ua, ub, uo, ga, gb, go = accounts()
    R = os.fsencode(root)
    P = lambda rel: R + b"/" + (rel if isinstance(rel, bytes) else rel.encode())  # noqa: E731
    times = {}   # path -> (atime, mtime), set at the end, children first
    owners = {}  # path -> (uid, gid)

    def d(rel, uid=0, gid=0, t=None):
        os.mkdir(P(rel), 0o755)
        owners[P(rel)] = (uid, gid)
        if t is not None:
            times[P(rel)] = t

    def f(rel, size=0, data=0, uid=0, gid=0, t=None):
        p = P(rel)
        with open(p, "wb") as fh:
            if data:
                fh.write(b"x" * data)
            if size > data:
                fh.truncate(size)  # sparse
        owners[p] = (uid, gid)
        if t is not None:
            times[p] = t

    os.mkdir(R, 0o755)
    times[R] = (now - DAY, now - 2 * DAY)
    f("top-file", data=100, uid=ua, gid=ga)            # depth 0, not a directory: top "."
    d("alpha", ua, ga, (now - 800 * DAY, now - 800 * DAY))
    # every age boundary B: an hour younger (bucket below B) and an hour older (bucket B)
    for b in AGE_DAYS:
        t_young, t_old = now - b * DAY + 3600, now - b * DAY - 3600
        f("alpha/m%d-young" % b, data=b, uid=ua, gid=ga, t=(now, t_young))
        f("alpha/m%d-old" % b, data=b + 1, uid=ua, gid=gb, t=(now, t_old))
        f("alpha/a%d-young" % b, data=b + 2, uid=ub, gid=ga, t=(t_young, now))
        f("alpha/a%d-old" % b, data=b + 3, uid=ub, gid=gb, t=(t_old, now))
    f("alpha/future", data=5, uid=ua, gid=ga, t=(now + 10 * DAY, now + 10 * DAY))
    f("alpha/ancient", data=7000, uid=ub, gid=ga, t=(now - 5000 * DAY, now - 5000 * DAY))
    # every size class boundary S: S-1 and S bytes (sparse past the first blocks)
    d("beta", ub, gb)
    d("beta/sizes", ub, gb)
    for s in SIZE_CLASSES[1:]:
        f(b"beta/sizes/s%d-below" % s, size=s - 1, data=min(s - 1, 9000), uid=ub, gid=gb)
        f(b"beta/sizes/s%d" % s, size=s, data=min(s, 100), uid=ub, gid=gb)
    f("beta/sizes/empty", uid=ub, gid=gb)
    # hard links inside one directory: counted once, at the first name
    d("beta/links", ub, ga)
    f("beta/links/same-b", data=20000, uid=ub, gid=ga)
    os.link(P("beta/links/same-b"), P("beta/links/same-a"))
    os.link(P("beta/links/same-b"), P("beta/links/same-c"))
    # the same name pair with bytes that sort one way raw, the other way escaped
    d("hl", ua, ga)
    f("hl/~", data=3000, uid=ua, gid=ga)
    os.link(P("hl/~"), P(b"hl/\xff"))
    if cross_links:
        d("gamma", 0, gb)
        f("gamma/zz-first-walked", data=12345, uid=ua, gid=gb)
        os.link(P("gamma/zz-first-walked"), P("beta/links/cross"))  # beta sorts first
        f("gamma/own", data=10, uid=0, gid=gb)
    # owners that have no account
    d("orphan", uo, go)
    f("orphan/o1", data=4100, uid=uo, gid=go, t=(now - 900 * DAY, now - 900 * DAY))
    f("orphan/o2", data=10, uid=uo, gid=ga)
    # raw byte order != tree order: "x" < "x y" < "x-y" < "x/z" < "x0"
    for name in ("x", "x y", "x-y", "x0"):
        d(name, ua, ga)
        f(name + "/file", data=len(name) * 10, uid=ua, gid=ga)
    d("x/z", ua, ga)
    f("x/z/deep", data=77, uid=ua, gid=ga)
    d(HOSTILE, ub, gb)
    f(HOSTILE + b"/in" + HOSTILE, data=33, uid=ub, gid=gb)
    d("deep", 0, 0)
    d("deep/d1", 0, 0)
    d("deep/d1/d2", ub, ga)
    d("deep/d1/d2/d3", ub, ga, (now - 400 * DAY, now - 1200 * DAY))
    f("deep/d1/d2/d3/leaf", data=4096, uid=ub, gid=ga, t=(now - 400 * DAY, now - 1200 * DAY))
    d("emptydir", ua, gb)
    os.symlink("alpha", P("link-to-alpha"))
    owners[P("link-to-alpha")] = (ub, gb)
    if unreadable:
        d("locked", ua, ga)
        f("locked/secret", data=5000, uid=ua, gid=ga)
        d("locked/inner", ua, ga)
    if filters:
        d("excluded", ua, ga)
        f("excluded/big", data=50000, uid=ua, gid=ga)
        # a link whose other name (sorting first) is never reached: counted here
        f("excluded/a-first", data=6000, uid=ub, gid=gb)
        os.link(P("excluded/a-first"), P("zeta-second"))
        d(".snapshot", 0, 0)
        f(".snapshot/copy", data=70000, uid=ua, gid=ga)
        d(".snapshot/sub", 0, 0)
    for p, (uid, gid) in owners.items():
        os.lchown(p, uid, gid)
    # times last, deepest first (a directory's mtime moves with its entries)
    for p in sorted(times, key=lambda p: -p.count(b"/")):
        os.utime(p, ns=(times[p][0] * 10**9, times[p][1] * 10**9), follow_symlinks=False)
    if unreadable:
        os.chmod(P("locked"), 0)
    return {
        "root": root,
        "now": now,
        "excluded": [os.fsdecode(P("excluded"))] if filters else [],
        "unreadable": [os.fsdecode(P("locked"))] if unreadable else [],
        "uids": [ua, ub, uo, 0],
        "gids": [ga, gb, go, 0],
        "orphan_uid": uo,
        "orphan_gid": go,
        "filtered": 2 if filters else 0,
    }


def build_wide(root, now=None, tops=12, subs=25, files=6):
    """A wider tree (tops * subs directories, about 2000 files) with hard
    links between far-apart directories, so that the workers of a scan
    each see some links of one inode and merge many directories: for the
    thread-count comparisons.  Returns facts like build()."""
    now = int(time.time()) if now is None else now
    ua, ub, uo, ga, gb, go = accounts()
    R = os.fsencode(root)
    os.mkdir(R, 0o755)
    n, links = 0, []
    for t in range(tops):
        for s in range(subs):
            d = R + b"/t%02d/s%02d" % (t, s)
            os.makedirs(d, 0o755)
            for f in range(files):
                n += 1
                p = d + b"/f%d" % f
                with open(p, "wb") as fh:
                    fh.write(b"y" * ((n * 7919) % 20000))
                uid, gid = ((ua, ga), (ub, gb), (uo, go), (0, 0))[n % 4]
                os.chown(p, uid, gid)
                age = (n * 37) % 1500
                os.utime(p, (now - age * DAY - 1800, now - ((n * 53) % 1500) * DAY - 1800))
                if f == 0 and t > 0:  # a link in the mirror-image directory
                    links.append((p, R + b"/t%02d/s%02d/l%d" % (tops - 1 - t, subs - 1 - s, t)))
    for src, dst in links:
        os.link(src, dst)
    return {"root": root, "now": now, "excluded": [], "unreadable": [], "filtered": 0,
            "uids": [ua, ub, uo, 0], "gids": [ga, gb, go, 0], "orphan_uid": uo,
            "orphan_gid": go}


# ---- the oracle ---------------------------------------------------------------


def _scan(root, skip, unreadable, snapshot_names):
    """[(path bytes, depth, lstat)] of every entry the walk reaches, and
    the number of entries left out by a filter; directories are listed
    through O_NOATIME descriptors so that the oracle moves no atime."""
    out, filtered = [], 0
    st = os.lstat(root)
    out.append((root, -1, st))
    todo = [(root, -1)] if stat.S_ISDIR(st.st_mode) else []  # a file root: itself only
    while todo:
        d, depth = todo.pop()
        if d in unreadable:
            continue
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOATIME", 0))
        try:
            names = sorted(os.listdir(fd))
        finally:
            os.close(fd)
        for n in names:
            p = d + b"/" + os.fsencode(n)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode) and (p in skip or os.fsencode(n) in snapshot_names):
                filtered += 1
                continue
            out.append((p, depth + 1, st))
            if stat.S_ISDIR(st.st_mode):
                todo.append((p, depth + 1))
    return out, filtered


def bucket(start, t, age_days=AGE_DAYS):
    age = max(0, (start - t) // DAY)
    return max([0] + [b for b in age_days if b <= age])


def size_min(size):
    return max(c for c in SIZE_CLASSES if c <= size) if size else 0


def _name(getter, key):
    try:
        return getter(key)[0], False
    except KeyError:
        return "", True


def _b(v):
    return "true" if v else "false"


def _top(root, p, depth, isdir):
    if depth < 0 or (depth == 0 and not isdir):
        return "."
    return escape(p[len(root) + 1:].split(b"/")[0])


def model(root, start, excluded=(), unreadable=(), top=20, age_days=AGE_DAYS,
          snapshot_names=(b".snapshot", b".zfs")):
    """Every table (lists of rows of str, header first) the summary of a
    scan of root (a path, or a list of them: several roots) started at
    epoch second start must hold, and the totals and counts of
    summary.json."""
    roots = [os.fsencode(r) for r in ([root] if isinstance(root, str) else root)]
    entries, filtered, root_of = [], 0, {}
    for R in roots:
        e, n = _scan(R, {os.fsencode(x) for x in excluded},
                     {os.fsencode(x) for x in unreadable}, set(snapshot_names))
        entries += e
        filtered += n
        root_of.update((p, R) for p, _, _ in e)
    # a hard-linked non-directory counts once, at its first path (raw bytes)
    first = {}
    for p, _, st in entries:
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            k = (st.st_dev, st.st_ino)
            first[k] = min(first.get(k, p), p)
    counted = [(p, dp, st) for p, dp, st in entries
               if stat.S_ISDIR(st.st_mode) or st.st_nlink == 1
               or first[(st.st_dev, st.st_ino)] == p]
    last = age_days[-1]
    dirs = {p: {"dp": dp, "st": st, "files": 0, "dirs": 0, "bytes": 0, "alloc": 0,
                "nm": None, "na": None, "om": None, "stale": 0}
            for p, dp, st in entries if stat.S_ISDIR(st.st_mode)}
    users, groups, cube = {}, {}, {}
    for p, dp, st in counted:
        isdir = stat.S_ISDIR(st.st_mode)
        alloc = st.st_blocks * 512
        stale = st.st_size if max(0, (start - int(st.st_mtime)) // DAY) >= last else 0
        R = root_of[p]
        anc, q = [], p
        while True:  # p itself (a directory) and every directory above it
            if q in dirs and (q != p or isdir):
                anc.append(q)
            if q == R:
                break
            q = q[:q.rfind(b"/")]
        for a in anc:
            g = dirs[a]
            if a != p:
                g["files" if not isdir else "dirs"] += 1
            g["bytes"] += st.st_size
            g["alloc"] += alloc
            g["stale"] += stale
            m, at = int(st.st_mtime), int(st.st_atime)
            g["nm"] = m if g["nm"] is None else max(g["nm"], m)
            g["na"] = at if g["na"] is None else max(g["na"], at)
            g["om"] = m if g["om"] is None else min(g["om"], m)
        fd = (0, 1) if isdir else (1, 0)
        u = users.setdefault(st.st_uid, [0, 0, 0, 0, None, None])
        u[0] += fd[0]
        u[1] += fd[1]
        u[2] += st.st_size
        u[3] += alloc
        u[4] = int(st.st_mtime) if u[4] is None else max(u[4], int(st.st_mtime))
        u[5] = int(st.st_atime) if u[5] is None else min(u[5], int(st.st_atime))
        g = groups.setdefault(st.st_gid, [0, 0, 0, 0])
        for i, v in enumerate((fd[0], fd[1], st.st_size, alloc)):
            g[i] += v
        key = (st.st_uid, st.st_gid, _top(R, p, dp, isdir),
               bucket(start, int(st.st_mtime), age_days), bucket(start, int(st.st_atime), age_days),
               bucket(start, int(st.st_ctime), age_days), size_min(st.st_size))
        c = cube.setdefault(key, [0, 0, 0, 0])
        for i, v in enumerate((fd[0], fd[1], st.st_size, alloc)):
            c[i] += v
    t = {}
    drows = []
    for p in sorted(dirs):
        g = dirs[p]
        st = g["st"]
        drows.append([escape(p), g["dp"], st.st_dev, st.st_ino, st.st_uid, st.st_gid, g["files"],
                      g["dirs"], g["bytes"], g["alloc"], g["nm"], g["na"], g["om"], g["stale"]])
    t["dirs"] = [HEADERS["dirs"]] + [[str(x) for x in r] for r in drows]
    t["users"] = [HEADERS["users"]]
    for uid in sorted(users):
        name, orphan = _name(pwd.getpwuid, uid)
        t["users"].append([str(uid), name] + [str(x) for x in users[uid]] + [_b(orphan)])
    t["groups"] = [HEADERS["groups"]]
    for gid in sorted(groups):
        name, orphan = _name(grp.getgrgid, gid)
        t["groups"].append([str(gid), name] + [str(x) for x in groups[gid]] + [_b(orphan)])
    t["usage"] = [HEADERS["usage"]]
    for k in sorted(cube, key=lambda k: (k[0], k[1], unescape(k[2]), k[3], k[4], k[5], k[6])):
        t["usage"].append([str(x) for x in k] + [str(x) for x in cube[k]])
    t["top"] = [HEADERS["top"]]
    for col, by in ((8, "bytes"), (6, "files"), (13, "stale_bytes")):
        ranked = sorted((r for r in drows if r[col] > 0), key=lambda r: (-r[col], unescape(r[0])))
        for i, r in enumerate(ranked[:top]):
            t["top"].append([by, str(i + 1), r[0]] + [str(r[j]) for j in (6, 7, 8, 9, 13)])
    tot = [sum(u[i] for u in users.values()) for i in range(4)]
    facts = {
        "entries": len(entries) + filtered,
        "filtered": filtered,
        "totals": {"files": tot[0], "dirs": tot[1], "bytes": tot[2], "allocated": tot[3]},
    }
    return t, facts


# ---- running the engine -----------------------------------------------------


def built(name):
    """A file Bazel built for this test (runfiles), else the checkout's
    bazel-bin when run by hand."""
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        p = os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "pwalk"), name)
    else:
        p = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.realpath(__file__)))), "bazel-bin", name)
    return p if os.path.exists(p) else None


def mpi_env():
    """The environment for mpirun under --config=asan/tsan, as tests/mpi
    sets it: Open MPI's own leaks (asan) and lock orders and races (tsan,
    tests/mpi/tsan.supp) are not ours."""
    env = dict(os.environ)
    if env.get("ASAN_OPTIONS"):
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    supp = built("tests/mpi/tsan.supp")
    if env.get("TSAN_OPTIONS") and supp:
        env["TSAN_OPTIONS"] += ":suppressions=" + supp
    return env


def can_drop_caps():
    """Why the engine cannot be run without DAC capabilities, or None."""
    if os.geteuid() != 0:
        return "needs root (chown to other uids, and an unreadable directory for uid 0)"
    try:
        r = subprocess.run(UNPRIVILEGED + ["true"], capture_output=True)
    except OSError as e:
        return "setpriv (util-linux) not usable: %s" % e
    return None if r.returncode == 0 else "setpriv cannot drop capabilities: %s" % r.stderr


def scratch(tag):
    """A new directory (0755) under $TEST_TMPDIR (Bazel's, private to the
    test), else the system's temporary directory."""
    d = tempfile.mkdtemp(prefix="pwalk-summary-%s-" % tag, dir=os.environ.get("TEST_TMPDIR"))
    os.chmod(d, 0o755)
    return d


def remove(d):
    """Removes a scratch directory, its unreadable directories included
    (os.walk top-down: each is made readable before it is entered)."""
    for dirpath, dirnames, _ in os.walk(d):
        for n in dirnames:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p):
                os.chmod(p, 0o755)
    shutil.rmtree(d, ignore_errors=True)


def yaml_str(s):
    return "'" + s.replace("'", "''") + "'"


def pipeline(path, facts, summary, threads=2, csv_path=None, errors=None, summary_first=False):
    """Writes a pipeline at path: the summary sink with the options text
    summary ("dir: ..., top: 5"), a csv report of the same walk when
    csv_path (the sink before the summary's unless summary_first), the
    tree's excluded paths."""
    lines = ["version: 1", "scan:", "  threads: %s" % threads]
    if facts and facts.get("excluded"):
        lines.append("  exclude: [%s]" % ", ".join(yaml_str(x) for x in facts["excluded"]))
    if errors:
        lines.append("  errors: " + yaml_str(errors))
    lines.append("sinks:")
    sinks = ["  - {name: sum, plugin: summary, options: {%s}}" % summary]
    if csv_path:
        sinks.insert(len(sinks) if summary_first else 0,
                     "  - {name: report, plugin: csv, options: {path: %s}}" % yaml_str(csv_path))
    lines += sinks
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run_engine(args, unprivileged=True, timeout=600):
    engine = built("pwalk-engine")
    cmd = (UNPRIVILEGED if unprivileged else []) + [engine] + args
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


if __name__ == "__main__":
    # python3 summary_tree.py build DIR: makes the tree, prints its facts
    if len(sys.argv) == 3 and sys.argv[1] == "build":
        print(json.dumps(build(sys.argv[2])))
    else:
        sys.exit("usage: summary_tree.py build DIR")
