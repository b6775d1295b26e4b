"""pwalk-diff end to end (issue 16, engine/diff/README.md).

A tree is scanned by pwalk-engine (every report form at once), changed by
every kind of operation -- create, delete, append, truncate, rename within
and across directories, hard link (new and removed), chown, chmod,
`touch -m`, and `touch -a` (not a change) -- and scanned again.  The
expected changes.csv, by_user, by_group, by_dir rows and diff.json counts
are built from the operations made and the entries' lstat (diffcheck.py),
never from pwalk-diff's output.  Then: every input form, MPI manifests,
path matching after a simulated remount, --fail-if-growth, bad inputs (one
line, exit 2, nothing written), byte-identical reruns, hostile names."""

import os
import shutil
import subprocess
import time

import pytest

from diffcheck import (BY_DIR_HEADER, BY_GROUP_HEADER, BY_USER_HEADER, CHANGES_HEADER,
                       ENGINE, TABLES, Change, counts_of, diff_json, diff_ok, engine, escape,
                       expected_by_dir, expected_by_owner, expected_changes, expected_totals,
                       mpi_scan, mpirun_available, nothing_written, one_error_line,
                       outputs_bytes, read_bytes, run_diff, snapshot, table, table_text,
                       tmp_base, totals_of,
                       unescape, write_config)

T0 = 1600000000  # every entry's atime and mtime before the operations
AS_ROOT = os.geteuid() == 0
OWN_UID, OWN_GID = 4242, 4343  # no such accounts: user and group columns empty

# report form -> (plugin, file name, options)
FORMS = {
    "csv": ("csv", "scan.csv", {}),
    "nohdr": ("csv", "nohdr.csv", {"header": False}),
    "dey": ("csv", "dey.csv", {"escape": "dey"}),
    "dey-nohdr": ("csv", "dey-nohdr.csv", {"escape": "dey", "header": False}),
    "zst": ("csv-zstd", "scan.csv.zst", {}),
    "gz": ("csv-gzip", "scan.csv.gz", {}),
    "lz4": ("csv-lz4", "scan.csv.lz4", {}),
}


def mkfile(p, size, fill=b"x"):
    with open(p, "wb") as f:
        f.write(fill * size)


def scan_all(root, d):
    """Scan root into directory d in every form; returns {form: path}."""
    os.makedirs(d)
    sinks = [(name, plugin, dict(opts, path=os.path.join(d, fname)))
             for name, (plugin, fname, opts) in FORMS.items()]
    engine("-c", write_config(os.path.join(d, "p.yaml"), sinks), root)
    paths = {name: os.path.join(d, fname) for name, (_, fname, _) in FORMS.items()}
    # John Dey's pwalk format: the compatibility mode (dey, header, stdout)
    paths["compat"] = os.path.join(d, "compat.csv")
    with open(paths["compat"], "wb") as f:
        r = subprocess.run([ENGINE, "--header", "-t", "2", root], stdout=f,
                           stderr=subprocess.PIPE, timeout=300)
    assert r.returncode == 0, r.stderr
    if mpirun_available():
        m = os.path.join(d, "mpi")
        os.makedirs(m)
        cfg = write_config(os.path.join(d, "mpi.yaml"),
                           [("shards", "csv-zstd", {"path": os.path.join(m, "scan.csv.zst")})])
        mpi_scan(cfg, root)
        paths["mpi"] = os.path.join(m, "scan.manifest.json")
    return paths


def build_old_tree(root):
    P = lambda rel: os.path.join(root, rel)
    for d in (b"a", b"b", b"b/c", b"b/c/d", b"x"):
        os.mkdir(P(d))
    for name, size in ((b"keep.txt", 100), (b"del.txt", 200), (b"app.txt", 300),
                       (b"trunc.txt", 400), (b"ren.txt", 500), (b"mv.txt", 600),
                       (b"rm.txt", 150), (b"own.txt", 700), (b"perm.txt", 800),
                       (b"tm.txt", 900), (b"ta.txt", 1000), (b"hl.txt", 1100),
                       (b"pair1", 1200)):
        mkfile(P(b"a/" + name), size)
    os.link(P(b"a/pair1"), P(b"b/pair2"))
    mkfile(P(b"x/gone.txt"), 250)
    # times: files first, then directories deepest first
    for p in sorted(snapshot(root), key=lambda p: (os.path.isdir(p), -p.count(b"/"))):
        os.utime(p, (T0, T0), follow_symlinks=False)


def operate(root):
    """Every kind of operation; returns the expected changes as a list of
    (kind, new rel path, old rel path, suspect, agg_zero)."""
    P = lambda rel: os.path.join(root, rel)
    # creations before deletions: a freed inode number given to a new entry
    # would be an inode-reuse match (marked suspect; tested on its own below)
    with open(P(b"a/app.txt"), "ab") as f:                        # append
        f.write(b"y" * 50)
    os.truncate(P(b"a/trunc.txt"), 10)                            # truncate
    os.rename(P(b"a/ren.txt"), P(b"a/ren2.txt"))                  # rename, same dir
    os.rename(P(b"a/mv.txt"), P(b"b/mv.txt"))                     # rename across dirs
    os.rename(P(b"a/rm.txt"), P(b"b/rm2.txt"))                    # rename + append
    with open(P(b"b/rm2.txt"), "ab") as f:
        f.write(b"z" * 5)
    if AS_ROOT:
        os.chown(P(b"a/own.txt"), OWN_UID, OWN_GID)              # chown
    os.chmod(P(b"a/perm.txt"), 0o600)                             # chmod
    subprocess.run(["touch", "-m", P(b"a/tm.txt")], check=True)   # touch -m
    subprocess.run(["touch", "-a", P(b"a/ta.txt")], check=True)   # touch -a: no change
    os.link(P(b"a/hl.txt"), P(b"b/hl-link.txt"))                  # new hard link
    os.mkdir(P(b"b/c/d/e"))                                       # create (depth 3)
    mkfile(P(b"b/c/d/e/deep.txt"), 77)
    mkfile(P(b"b/new.txt"), 5000)                                 # create
    os.symlink(b"new.txt", P(b"b/link"))                          # create a symlink
    os.unlink(P(b"a/del.txt"))                                    # delete
    os.unlink(P(b"b/pair2"))                                      # a hard link removed
    shutil.rmtree(P(b"x"))                                        # delete a directory
    exp = [("modified", b"", b"", "", False), ("modified", b"a", b"a", "", False),
           ("modified", b"b", b"b", "", False), ("modified", b"b/c/d", b"b/c/d", "", False),
           ("removed", None, b"a/del.txt", "", False),
           ("modified", b"a/app.txt", b"a/app.txt", "", False),
           ("modified", b"a/trunc.txt", b"a/trunc.txt", "", False),
           ("renamed", b"a/ren2.txt", b"a/ren.txt", "", False),
           ("renamed", b"b/mv.txt", b"a/mv.txt", "", False),
           # path and content changed, ctime too: what a reused inode looks like
           ("renamed+modified", b"b/rm2.txt", b"a/rm.txt", "ctime", False),
           ("modified", b"a/perm.txt", b"a/perm.txt", "", False),
           ("modified", b"a/tm.txt", b"a/tm.txt", "", False),
           ("added", b"b/hl-link.txt", None, "", True),
           ("removed", None, b"b/pair2", "", True),
           ("added", b"b/c/d/e", None, "", False),
           ("added", b"b/c/d/e/deep.txt", None, "", False),
           ("added", b"b/new.txt", None, "", False),
           ("added", b"b/link", None, "", False),
           ("removed", None, b"x", "", False),
           ("removed", None, b"x/gone.txt", "", False)]
    if AS_ROOT:
        exp.append(("modified", b"a/own.txt", b"a/own.txt", "", False))
    return exp


class Ops:
    pass


@pytest.fixture(scope="module")
def ops():
    base = os.fsencode(os.path.join(tmp_base(), "diff-ops"))
    shutil.rmtree(base, ignore_errors=True)
    root = os.path.join(base, b"tree")
    os.makedirs(root)
    build_old_tree(root)
    o = Ops()
    o.base, o.root = os.fsdecode(base), root
    o.old_stat = snapshot(root)
    o.old = scan_all(root, os.path.join(o.base, "old"))
    # the report's times are whole seconds: operate in a later second than
    # the last ctime of the old tree (utime() set it), so ctimes change
    last = max(st.st_ctime_ns for st in o.old_stat.values()) // 10**9
    while time.time() < last + 1:
        time.sleep(0.05)
    exp = operate(root)
    o.new_stat = snapshot(root)
    o.new = scan_all(root, os.path.join(o.base, "new"))
    P = lambda rel: root if rel == b"" else os.path.join(root, rel)
    o.changes = [Change(k, P(n) if n is not None else P(old), P(old) if old is not None else P(n),
                        o.new_stat.get(P(n)) if n is not None else None,
                        o.old_stat.get(P(old)) if old is not None else None, s, z)
                 for k, n, old, s, z in exp]
    o.count = 0
    yield o
    shutil.rmtree(base, ignore_errors=True)


def out_dir(ops, name=None):
    ops.count += 1
    return os.path.join(ops.base, f"out-{name or ops.count}")


@pytest.fixture(scope="module")
def baseline(ops):
    """The diff of the plain lossless reports, checked by the tests below."""
    out = os.path.join(ops.base, "baseline")
    r = diff_ok(ops.old["csv"], ops.new["csv"], "-o", out)
    ops.stdout = r.stdout.decode()
    return out


# ---- the every-operation tree ---------------------------------------------------------

def test_the_operations_did_what_the_expectations_assume(ops):
    """Guard: the filesystem shows what the expected changes rely on."""
    O, N = ops.old_stat, ops.new_stat
    P = lambda rel: os.path.join(ops.root, rel) if rel else ops.root
    ta_old, ta_new = O[P(b"a/ta.txt")], N[P(b"a/ta.txt")]
    assert ta_new.st_atime_ns != ta_old.st_atime_ns  # touch -a changed only the atime
    assert (ta_new.st_mtime, ta_new.st_size, ta_new.st_mode) == \
        (ta_old.st_mtime, ta_old.st_size, ta_old.st_mode)
    assert int(N[P(b"a/tm.txt")].st_mtime) != int(O[P(b"a/tm.txt")].st_mtime)
    for d in (b"", b"a", b"b", b"b/c/d"):  # entries came or went: mtime changed
        assert int(N[P(d)].st_mtime) != T0, d
    assert int(N[P(b"b/c")].st_mtime) == T0 and N[P(b"b/c")].st_size == O[P(b"b/c")].st_size
    assert N[P(b"b/rm2.txt")].st_ino == O[P(b"a/rm.txt")].st_ino
    assert int(N[P(b"b/rm2.txt")].st_ctime) != int(O[P(b"a/rm.txt")].st_ctime)
    assert N[P(b"b/hl-link.txt")].st_ino == O[P(b"a/hl.txt")].st_ino
    # one st_dev for the whole tree: inode matching applies
    assert len({st.st_dev for st in list(O.values()) + list(N.values())}) == 1


def test_changes_csv_is_exactly_the_operations(ops, baseline):
    header, rows = table(baseline, "changes")
    assert header == CHANGES_HEADER
    assert rows == expected_changes(ops.changes)
    paths = [unescape(r[1]) for r in rows]
    assert os.path.join(ops.root, b"a/ta.txt") not in paths     # touch -a only
    assert os.path.join(ops.root, b"a/keep.txt") not in paths   # untouched
    assert os.path.join(ops.root, b"a/hl.txt") not in paths     # only its link count changed
    assert os.path.join(ops.root, b"a/pair1") not in paths


def test_changes_csv_text_quotes_paths_and_modes(ops, baseline):
    """The raw text: paths quoted like the report's filename, modes like
    its st_mode ("0100644"), lines ending in \\n."""
    text = table_text(baseline, "changes")
    P = lambda rel: escape(os.path.join(ops.root, rel))
    mv = [l for l in text.split("\n") if l.startswith("renamed,") and "mv.txt" in l]
    assert len(mv) == 1
    assert mv[0].startswith(f'renamed,"{P(b"b/mv.txt")}","{P(b"a/mv.txt")}",f,')
    assert ',"0100644","0100644",' in mv[0]


def test_by_user_and_by_group(ops, baseline):
    header, rows = table(baseline, "by_user")
    assert header == BY_USER_HEADER
    assert rows == expected_by_owner(ops.changes, "st_uid")
    header, rows = table(baseline, "by_group")
    assert header == BY_GROUP_HEADER
    assert rows == expected_by_owner(ops.changes, "st_gid")
    if AS_ROOT:
        # the chowned file moved from root to an account that does not exist
        own = [r for r in table(baseline, "by_user")[1] if r[0] == str(OWN_UID)]
        assert own == [[str(OWN_UID), "", "1", "0", "700", "0", "700", "1"]]
        root_row = [r for r in table(baseline, "by_user")[1] if r[0] == "0"][0]
        assert root_row[1] == "root"


def test_sums_over_users_groups_and_the_root_agree(ops, baseline):
    """Net figures: a chown is a removal for one owner and an addition for
    another, so only the nets add up to the totals."""
    users = totals_of(table(baseline, "by_user")[1])
    groups = totals_of(table(baseline, "by_group")[1])
    totals = diff_json(baseline)["totals"]
    root = [r for r in table(baseline, "by_dir")[1] if r[1] == "-1"]
    for t in (users, groups, {"net_bytes": int(root[0][2]), "net_files": int(root[0][3])}):
        assert (t["net_bytes"], t["net_files"]) == (totals["net_bytes"], totals["net_files"])


@pytest.mark.parametrize("depth", [None, 1, 0, 9])
def test_by_dir(ops, baseline, depth):
    if depth is None:
        out = baseline
    else:
        out = out_dir(ops, f"depth{depth}")
        diff_ok(ops.old["csv"], ops.new["csv"], "-o", out, "--depth", str(depth))
    header, rows = table(out, "by_dir")
    assert header == BY_DIR_HEADER
    assert rows == expected_by_dir(ops.changes, [ops.root], 3 if depth is None else depth)
    if depth is None:  # b/c/d/e (depth 3) is below the default depth; b/c holds changes
        listed = [unescape(r[0]) for r in rows]
        assert os.path.join(ops.root, b"b/c/d/e") not in listed
        assert os.path.join(ops.root, b"b/c") in listed


def test_diff_json(ops, baseline):
    j = diff_json(baseline)
    assert (j["format"], j["version"], j["complete"], j["match"], j["compress"]) == \
        ("pwalk-diff", 1, True, "inode", "none")
    assert j["changes"] == counts_of(ops.changes)
    assert j["totals"] == expected_totals(ops.changes)
    for side, stats, path in (("old", ops.old_stat, ops.old["csv"]),
                              ("new", ops.new_stat, ops.new["csv"])):
        assert j[side]["inputs"] == [path]
        assert j[side]["roots"] == [escape(ops.root)]
        assert j[side]["rows"] == len(stats)
        assert j[side]["started"] is None
    for t in TABLES:
        assert j["tables"][t]["file"] == f"{t}.csv"
        assert j["tables"][t]["rows"] == len(table(baseline, t)[1])
    assert sorted(os.listdir(baseline)) == sorted([f"{t}.csv" for t in TABLES] + ["diff.json"])


def test_stdout_answer(ops, baseline):
    """The human answer names the net growth, the counts, the top user and
    the top directories by growth."""
    text = ops.stdout
    totals = diff_json(baseline)["totals"]
    assert text.strip()
    lower = text.lower()
    assert "added" in lower and "removed" in lower
    assert str(totals["files_added"]) in text and str(totals["files_removed"]) in text
    assert "root" in text  # the only user that grew
    # b/ grew most (new.txt, the new subtree): it is listed
    assert escape(os.path.join(ops.root, b"b")) in text
    assert totals["net_bytes"] > 0
    q = run_diff(ops.old["csv"], ops.new["csv"], "-q")
    assert (q.returncode, q.stdout, q.stderr) == (0, b"", b"")


def test_identical_scans_diff_to_empty(ops):
    for a, b in (("csv", "csv"), ("csv", "zst"), ("gz", "dey")):
        out = out_dir(ops)
        diff_ok(ops.old[a], ops.old[b], "-o", out)
        for t, header in zip(TABLES, (CHANGES_HEADER, BY_USER_HEADER, BY_GROUP_HEADER,
                                      BY_DIR_HEADER)):
            assert table_text(out, t) == header + "\n", t
        j = diff_json(out)
        assert set(j["changes"].values()) == {0}
        assert set(j["totals"].values()) == {0}


# ---- every input form ---------------------------------------------------------------

@pytest.mark.parametrize("old_form,new_form", [
    ("nohdr", "nohdr"), ("dey", "dey"), ("dey-nohdr", "csv"), ("zst", "zst"), ("gz", "gz"),
    ("lz4", "lz4"), ("compat", "compat"), ("zst", "gz"), ("lz4", "dey"), ("compat", "zst"),
    ("csv", "nohdr")])
def test_every_input_form_gives_the_same_tables(ops, baseline, old_form, new_form):
    out = out_dir(ops)
    diff_ok(ops.old[old_form], ops.new[new_form], "-o", out)
    for t in TABLES:
        assert table_text(out, t) == table_text(baseline, t), t
    j, b = diff_json(out), diff_json(baseline)
    assert (j["changes"], j["totals"], j["old"]["rows"], j["new"]["rows"]) == \
        (b["changes"], b["totals"], b["old"]["rows"], b["new"]["rows"])
    assert j["old"]["inputs"] == [ops.old[old_form]]


def test_names_do_not_decide_the_format(ops, baseline):
    """Compression is recognised by the data: a .zst report renamed .csv
    reads the same."""
    odd = os.path.join(ops.base, "zstd-named.csv")
    shutil.copy(ops.old["zst"], odd)
    out = out_dir(ops)
    diff_ok(odd, ops.new["gz"], "-o", out)
    assert table_text(out, "changes") == table_text(baseline, "changes")


def test_mpi_manifests(ops, baseline):
    if "mpi" not in ops.old:
        pytest.skip("pwalk-mpi or mpirun not available")
    for old, new in ((ops.old["mpi"], ops.new["mpi"]), (ops.old["mpi"], ops.new["csv"])):
        out = out_dir(ops)
        diff_ok(old, new, "-o", out)
        for t in TABLES:
            assert table_text(out, t) == table_text(baseline, t), t
        j = diff_json(out)
        assert j["old"]["roots"] == [escape(ops.root)]
        assert isinstance(j["old"]["started"], int)  # a manifest knows when it started
        assert j["changes"] == diff_json(baseline)["changes"]


# ---- matching by path ---------------------------------------------------------------

def remounted(src, dst, dev_delta=7):
    """A copy of a lossless report with another st_dev (a remount)."""
    with open(src, "rb") as f, open(dst, "wb") as g:
        for i, line in enumerate(f):
            if i == 0 and line.startswith(b"inode,"):
                g.write(line)
                continue
            # inode,parent,depth,"filename","ext",UID,GID,size,dev,...: split
            # after the two quoted fields (lossless text: "" inside them)
            head, q1 = line.split(b',"', 1)
            rest = q1
            end1 = _quoted_end(rest)
            name, rest = rest[:end1], rest[end1 + 2:]  # skip '",'
            assert rest.startswith(b'"')
            end2 = _quoted_end(rest[1:])
            ext, rest = rest[1:1 + end2], rest[1 + end2 + 2:]
            f_ = rest.split(b",")
            f_[3] = str(int(f_[3]) + dev_delta).encode()  # UID,GID,size,dev
            g.write(head + b',"' + name + b'","' + ext + b'",' + b",".join(f_))
    return dst


def _quoted_end(s):
    i = 0
    while True:
        j = s.index(b'"', i)
        if s[j + 1:j + 2] == b'"':
            i = j + 2
            continue
        return j


def path_matched_changes(ops):
    """What matching by path must give: same path = same entry."""
    O, N = ops.old_stat, ops.new_stat
    keys = ("st_size", "st_mtime", "st_uid", "st_gid", "st_mode")
    ch = []
    for p in sorted(set(O) | set(N)):
        o, n = O.get(p), N.get(p)
        if o is None:
            ch.append(Change("added", p, p, n, None))
        elif n is None:
            ch.append(Change("removed", p, p, None, o))
        elif any(int(getattr(o, k)) != int(getattr(n, k)) for k in keys):
            ch.append(Change("modified", p, p, n, o))
    return ch


def test_no_shared_st_dev_matches_by_path(ops):
    remount = remounted(ops.new["csv"], os.path.join(ops.base, "remount.csv"))
    out = out_dir(ops)
    diff_ok(ops.old["csv"], remount, "-o", out)
    exp = path_matched_changes(ops)
    assert table(out, "changes")[1] == expected_changes(exp)
    assert table(out, "by_user")[1] == expected_by_owner(exp, "st_uid")
    assert table(out, "by_group")[1] == expected_by_owner(exp, "st_gid")
    assert table(out, "by_dir")[1] == expected_by_dir(exp, [ops.root])
    j = diff_json(out)
    assert j["match"] == "path"
    assert j["changes"] == counts_of(exp)
    # the same with --match path on the original reports
    out2 = out_dir(ops)
    diff_ok(ops.old["csv"], ops.new["csv"], "-o", out2, "--match", "path")
    assert diff_json(out2)["match"] == "path"
    for t in TABLES:
        assert table_text(out2, t) == table_text(out, t), t
    # and --match inode across the remount: nothing is the same entry
    out3 = out_dir(ops)
    diff_ok(ops.old["csv"], remount, "-o", out3, "--match", "inode")
    c = diff_json(out3)["changes"]
    assert (c["added"], c["removed"]) == (len(ops.new_stat), len(ops.old_stat))


# ---- --fail-if-growth ----------------------------------------------------------------

def test_fail_if_growth(ops, baseline):
    net = diff_json(baseline)["totals"]["net_bytes"]
    assert net > 1
    out = out_dir(ops)
    r = run_diff(ops.old["csv"], ops.new["csv"], "-o", out, "--fail-if-growth", str(net - 1))
    assert r.returncode == 1, r.stderr
    assert outputs_bytes(out) == outputs_bytes(baseline)  # everything written all the same
    for limit in (str(net), "1M", "10T"):
        r = run_diff(ops.old["csv"], ops.new["csv"], "-q", "--fail-if-growth", limit)
        assert r.returncode == 0, (limit, r.stderr)
    r = run_diff(ops.old["csv"], ops.new["csv"], "-q", "--fail-if-growth", "1K")
    assert r.returncode == (1 if net > 1024 else 0)
    # shrinking never fails: the reverse diff
    r = run_diff(ops.new["csv"], ops.old["csv"], "-q", "--fail-if-growth", "0")
    assert r.returncode == 0, r.stderr


# ---- bad inputs: one line, exit 2, nothing written ---------------------------------------

def _truncated(src, dst, keep=0.5):
    data = read_bytes(src)
    with open(dst, "wb") as f:
        f.write(data[:int(len(data) * keep)])
    return dst


def _corrupt(src, dst):
    data = bytearray(read_bytes(src))
    mid = len(data) // 2
    for i in range(mid, min(mid + 16, len(data) - 8)):
        data[i] ^= 0x5A
    with open(dst, "wb") as f:
        f.write(bytes(data))
    return dst


def _bad_row(src, dst, lineno, text):
    lines = read_bytes(src).split(b"\n")
    lines[lineno - 1] = text
    with open(dst, "wb") as f:
        f.write(b"\n".join(lines))
    return dst


def _write(dst, data):
    with open(dst, "wb") as f:
        f.write(data)
    return dst


BAD = {
    "truncated zstd": lambda o, d: _truncated(o.new["zst"], d + ".csv.zst"),
    "truncated gzip": lambda o, d: _truncated(o.new["gz"], d + ".csv.gz"),
    "truncated lz4": lambda o, d: _truncated(o.new["lz4"], d + ".csv.lz4"),
    "corrupt gzip": lambda o, d: _corrupt(o.new["gz"], d + ".csv.gz"),
    "corrupt zstd": lambda o, d: _corrupt(o.new["zst"], d + ".csv.zst"),
    "wrong header": lambda o, d: _write(d + ".csv", b"a,b,c\n1,2,3\n"),
    "wrong column count": lambda o, d: _write(d + ".csv", b"1,2,3\n4,5,6\n"),
    "header with a column missing": lambda o, d: _bad_row(
        o.new["csv"], d + ".csv", 1, read_bytes(o.new["csv"]).split(b"\n")[0].replace(
            b",pw_dirsum", b"")),
    "unparsable row": lambda o, d: _bad_row(o.new["csv"], d + ".csv", 5,
                                            b'12,34,0,"x","",notanumber,0,1,2,3,1,"0100644",1,2,3,-1,0'),
    "unterminated quote": lambda o, d: _bad_row(o.new["csv"], d + ".csv", 5,
                                                b'12,34,0,"x,"",0,0,1,2,3,1,"0100644",1,2,3,-1,0'),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_nothing_written(ops, case):
    bad = BAD[case](ops, os.path.join(ops.base, "bad-" + case.replace(" ", "-")))
    for argv in ((ops.old["csv"], bad), (bad, ops.new["csv"])):
        out = out_dir(ops)
        r = run_diff(*argv, "-o", out)
        line = one_error_line(r, bad)
        assert r.stdout == b""
        nothing_written(out)
        if case in ("unparsable row", "unterminated quote"):
            assert "line 5" in line, line
        if case.startswith(("wrong", "header")):
            assert "line 1" in line, line
        if case.startswith(("truncated", "corrupt")):  # what, and where
            assert case.split()[0] in line and "byte" in line, line


def test_missing_input_and_bad_usage(ops):
    missing = os.path.join(ops.base, "no-such.csv")
    one_error_line(run_diff(ops.old["csv"], missing, "-o", out_dir(ops)), missing)
    one_error_line(run_diff(ops.old["csv"]))
    one_error_line(run_diff(ops.old["csv"], ops.new["csv"], "--no-such-option"), "--no-such-option")
    one_error_line(run_diff(ops.old["csv"], ops.new["csv"], "--memory", "lots"), "lots")
    one_error_line(run_diff(ops.old["csv"], ops.new["csv"], "--fail-if-growth", "10Q"), "10Q")
    one_error_line(run_diff(ops.old["csv"], ops.new["csv"], "--match", "name"), "name")
    one_error_line(run_diff(ops.old["csv"], ops.new["csv"], "--depth", "-1"), "-1")


def test_different_roots_refused_unless_roots_differ(ops):
    other = os.path.join(os.fsencode(ops.base), b"other-root")
    os.makedirs(os.path.join(other, b"sub"))
    mkfile(os.path.join(other, b"sub/f"), 10)
    rep = os.path.join(ops.base, "other.csv")
    engine("-c", write_config(os.path.join(ops.base, "other.yaml"),
                              [("o", "csv", {"path": rep})]), other)
    out = out_dir(ops)
    line = one_error_line(run_diff(ops.old["csv"], rep, "-o", out))
    assert "roots" in line and (escape(other) in line or escape(ops.root) in line)
    nothing_written(out)
    out = out_dir(ops)
    diff_ok(ops.old["csv"], rep, "-o", out, "--roots-differ")
    j = diff_json(out)
    assert j["old"]["roots"] == [escape(ops.root)] and j["new"]["roots"] == [escape(other)]
    assert j["changes"]["removed"] == len(ops.old_stat)


# ---- determinism, spilling, options ------------------------------------------------------

def test_two_runs_are_byte_identical_at_any_thread_count_and_memory(ops, baseline):
    want = outputs_bytes(baseline)
    for extra in ((), ("--threads", "1"), ("--threads", "4", "--memory", "16M"),
                  ("--memory", "16M", "--tmpdir", os.path.join(ops.base))):
        out = out_dir(ops)
        diff_ok(ops.old["csv"], ops.new["csv"], "-o", out, *extra)
        assert outputs_bytes(out) == want, extra


def test_compress_zstd(ops, baseline):
    out = out_dir(ops)
    diff_ok(ops.old["zst"], ops.new["zst"], "-o", out, "--compress", "zstd")
    assert sorted(os.listdir(out)) == sorted([f"{t}.csv.zst" for t in TABLES] + ["diff.json"])
    for t in TABLES:
        assert table_text(out, t) == table_text(baseline, t), t
        assert diff_json(out)["tables"][t]["file"] == f"{t}.csv.zst"
    assert diff_json(out)["compress"] == "zstd"


def test_without_o_only_the_answer_is_written(ops):
    cwd = os.path.join(ops.base, "cwd")
    os.makedirs(cwd)
    r = diff_ok(ops.old["csv"], ops.new["csv"], cwd=cwd)
    assert r.stdout
    assert os.listdir(cwd) == []


def test_output_dir_is_created_and_its_parent_must_exist(ops):
    out = os.path.join(ops.base, "no-parent", "out")
    r = run_diff(ops.old["csv"], ops.new["csv"], "-o", out)
    assert r.returncode != 0
    assert not os.path.exists(os.path.dirname(out))
    out = out_dir(ops)
    diff_ok(ops.old["csv"], ops.new["csv"], "-o", out)
    assert oct(os.stat(out).st_mode & 0o777) == oct(0o755)


# ---- synthetic reports --------------------------------------------------------------------

HEADER = (b'inode,parent-inode,directory-depth,"filename","fileExtension",UID,GID,st_size,'
          b'st_dev,st_blocks,st_nlink,"st_mode",st_atime,st_mtime,st_ctime,pw_fcount,pw_dirsum\n')


def row(ino, depth, path, mode=0o100644, size=10, uid=1, gid=1, dev=5, mtime=T0, ctime=T0,
        nlink=1):
    isdir = (mode & 0o170000) == 0o040000
    return (f'{ino},1,{depth},"{path}","",{uid},{gid},{size},{dev},1,{nlink},"{mode:07o}",'
            f'{T0},{mtime},{ctime},{0 if isdir else -1},0\n').encode()


def test_a_reused_inode_of_another_type_is_never_matched_and_marked(tmp_path):
    old = tmp_path / "old.csv"
    new = tmp_path / "new.csv"
    old.write_bytes(HEADER + row(1, -1, "/r", 0o040755) + row(7, 0, "/r/f", size=30))
    new.write_bytes(HEADER + row(1, -1, "/r", 0o040755) + row(7, 0, "/r/g", 0o040755, size=4096))
    diff_ok(old, new, "-o", tmp_path / "out")
    rows = table(str(tmp_path / "out"), "changes")[1]
    got = {(r[0], r[1], r[3], r[16]) for r in rows}
    assert ("removed", "/r/f", "f", "type") in got
    assert ("added", "/r/g", "d", "type") in got
    assert diff_json(str(tmp_path / "out"))["changes"]["suspect"] == 2


def test_a_reused_inode_with_new_content_is_marked_ctime(tmp_path):
    old = tmp_path / "old.csv"
    new = tmp_path / "new.csv"
    old.write_bytes(HEADER + row(1, -1, "/r", 0o040755) + row(7, 0, "/r/a", size=30))
    new.write_bytes(HEADER + row(1, -1, "/r", 0o040755) +
                    row(7, 0, "/r/b", size=99, mtime=T0 + 9, ctime=T0 + 9))
    diff_ok(old, new, "-o", tmp_path / "out")
    rows = table(str(tmp_path / "out"), "changes")[1]
    assert [(r[0], r[1], r[2], r[16]) for r in rows] == [("renamed+modified", "/r/b", "/r/a",
                                                         "ctime")]


def test_rows_in_any_order_and_several_roots(tmp_path):
    body = [row(1, -1, "/r", 0o040755), row(2, 0, "/r/d", 0o040755), row(3, 1, "/r/d/x"),
            row(4, -1, "/s", 0o040755, dev=6), row(5, 0, "/s/y", dev=6)]
    old = tmp_path / "old.csv"
    new = tmp_path / "new.csv"
    old.write_bytes(HEADER + b"".join(body))
    new.write_bytes(b"".join(reversed(body[:3] + [row(9, 0, "/s/z", dev=6, size=5)] +
                                      body[3:4])))
    diff_ok(old, new, "-o", tmp_path / "out")
    rows = table(str(tmp_path / "out"), "changes")[1]
    assert [(r[0], r[1], r[10]) for r in rows] == [("removed", "/s/y", "-10"),
                                                   ("added", "/s/z", "5")]
    j = diff_json(str(tmp_path / "out"))
    assert sorted(j["old"]["roots"]) == ["/r", "/s"]


# ---- hostile names -------------------------------------------------------------------------

HOSTILE = [b"new\nline", b'quo"te', b"com,ma", b"back\\slash", b"tab\tname", b"bad\xff\xfe.bin",
           b"caf\xc3\xa9", b"sp ace", b"\\x41-not-an-escape", b"cr\rname"]


def test_hostile_names_round_trip_through_changes_csv(tmp_path):
    base = os.fsencode(os.path.join(tmp_base(), "diff-hostile"))
    shutil.rmtree(base, ignore_errors=True)
    root = os.path.join(base, b"tree")
    os.makedirs(os.path.join(root, b"d"))
    try:
        for n in HOSTILE:
            mkfile(os.path.join(root, n), 10)
            mkfile(os.path.join(root, b"d", n), 20)
        for p in sorted(snapshot(root), key=lambda p: (os.path.isdir(p), -p.count(b"/"))):
            os.utime(p, (T0, T0))  # whatever the clock does, the operations change mtimes
        old = scan_all(root, os.path.join(os.fsdecode(base), "old"))
        # every hostile name: deleted at top, grown in d/, renamed to another hostile name
        expect = set()
        for i, n in enumerate(HOSTILE):  # creations first: no inode reused
            new_name = os.path.join(root, b"d", b"moved-" + HOSTILE[(i + 1) % len(HOSTILE)])
            mkfile(os.path.join(root, b"x" + n), 1)
            os.rename(os.path.join(root, b"x" + n), new_name)
            expect.add(("added", new_name))
            with open(os.path.join(root, b"d", n), "ab") as f:
                f.write(b"+")
            expect.add(("modified", os.path.join(root, b"d", n)))
        for n in HOSTILE:
            os.unlink(os.path.join(root, n))
            expect.add(("removed", os.path.join(root, n)))
        expect |= {("modified", root), ("modified", os.path.join(root, b"d"))}
        new = scan_all(root, os.path.join(os.fsdecode(base), "new"))
        outs = []
        for form in ("csv", "zst", "nohdr"):
            out = os.path.join(os.fsdecode(base), "out-" + form)
            diff_ok(old[form], new[form], "-o", out)
            text = read_bytes(os.path.join(out, "changes.csv"))
            text.decode("utf-8")  # valid UTF-8 whatever the names
            assert text.count(b"\n") == len(expect) + 1  # no raw newline inside a row
            rows = table(out, "changes")[1]
            got = {(r[0], unescape(r[1])) for r in rows}
            assert got == expect
            paths = [unescape(r[1]) for r in rows]
            assert paths == sorted(paths)  # memcmp order of the names' bytes
            outs.append(outputs_bytes(out))
        assert outs[0]["changes.csv"] == outs[1]["changes.csv"] == outs[2]["changes.csv"]
    finally:
        shutil.rmtree(base, ignore_errors=True)
