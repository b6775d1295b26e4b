"""pwalk.report(..., summary=DIR) and pwalk.read_summary(DIR): the summary
sink's tables (plugins/summary/FORMAT.md) written in the same walk as the
report, read back typed -- every directory's recursive totals checked
against lstat (hard links counted once), users/groups/usage/top against
the same brute force; DataFrames with pandas, lists without it."""

import json
import os
import pwd
import shutil
import stat
import sys
import time

import pytest

import pwalk
import reportcheck

DAY = 86400
ORPHAN = 54321  # a uid and gid with no account (checked below)


def _file(path, size=0, age_days=None, sparse=False):
    with open(path, "wb") as f:
        if sparse:
            f.truncate(size)
        else:
            f.write(b"z" * size)
    if age_days is not None:
        t = time.time() - age_days * DAY
        os.utime(path, (t, t))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Several uids (root, nobody, an orphan), files on both sides of the
    730-day bucket, a sparse file, hard links within and across
    directories, names needing escapes."""
    root = os.fsencode(tmp_path_factory.mktemp("summary") / "tree")
    j = lambda *p: os.path.join(root, *p)
    for d in (b"a", b"a/deep", b"a/deep/er", b"b", b"bad\xffname", b"new\nline", b"empty"):
        os.makedirs(j(d))
    _file(j(b"top.txt"), 10)
    _file(j(b"a", b"one"), 5000, age_days=800)
    _file(j(b"a", b"two"), 70000, age_days=40)
    _file(j(b"a", b"deep", b"three"), 1, age_days=1000)
    _file(j(b"a", b"deep", b"er", b"sparse"), 1 << 30, sparse=True)
    _file(j(b"b", b"linked"), 3000)
    os.link(j(b"b", b"linked"), j(b"a", b"hard"))     # across: counted at a/hard
    os.link(j(b"b", b"linked"), j(b"b", b"linked2"))  # and within b
    _file(j(b"bad\xffname", b"back\\slash,\"q\""), 7)
    _file(j(b"new\nline", b"x"), 4096)
    os.symlink(b"a", j(b"link"))
    if os.geteuid() == 0:
        for p, u in ((b"b", 65534), (b"b/linked", 65534), (b"new\nline/x", ORPHAN)):
            os.lchown(j(p), u, u)
    t = time.time() - 3 * DAY
    for dirpath, dirnames, _ in os.walk(root):
        os.utime(dirpath, (t, t))
    return root


def _brute(root):
    """Expected dirs.csv figures from lstat: {dir path: [files, dirs,
    bytes, allocated]} (recursive, hard-linked inodes once at the path that
    sorts first), and the per-entry list that counts."""
    entries = [root]
    for dirpath, dirnames, filenames in os.walk(root):
        entries += [os.path.join(dirpath, n) for n in dirnames + filenames]
    first = {}
    for p in sorted(entries):
        st = os.lstat(p)
        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
            first.setdefault((st.st_dev, st.st_ino), p)
    counted = []
    for p in entries:
        st = os.lstat(p)
        key = (st.st_dev, st.st_ino)
        if key in first and first[key] != p:
            continue
        counted.append((p, st))
    totals = {}
    for p, st in counted:
        is_dir = os.path.isdir(p) and not os.path.islink(p)
        if is_dir:
            totals.setdefault(p, [0, 0, 0, 0])
        anc = p
        while True:
            if anc != p or is_dir:
                t = totals.setdefault(anc, [0, 0, 0, 0])
                if anc != p:
                    t[0 if not is_dir else 1] += 1
                t[2] += st.st_size
                t[3] += st.st_blocks * 512
            if anc == root:
                break
            anc = os.path.dirname(anc)
    return totals, counted


def _report(tree, tmp_path, **kw):
    out = tmp_path / "scan.csv"
    sdir = tmp_path / "summary"
    path, errors = pwalk.report(tree, str(out), summary=str(sdir), **kw)
    assert errors == []
    # the report of the same walk is whole and right
    reportcheck.check_rows(reportcheck.parse(reportcheck.read_bytes(path)), [tree])
    return sdir


@pytest.mark.parametrize("compress,suffix", [("none", ".csv"), ("zstd", ".csv.zst")])
def test_report_writes_the_summary_and_dirs_match_lstat(tree, tmp_path, compress, suffix):
    sdir = _report(tree, tmp_path, summary_compress=compress)
    names = sorted(os.listdir(sdir))
    assert names == sorted([t + suffix for t in ("dirs", "users", "groups", "usage", "top")] +
                           ["summary.json"])
    s = pwalk.read_summary(os.fsencode(sdir), pandas=False)
    assert s.info["format"] == "pwalk-summary" and s.info["version"] == 1
    assert s.info["compress"] == compress
    expected, _ = _brute(tree)
    got = {r.path: r for r in s.dirs}
    assert set(got) == set(expected)  # one row per directory, paths byte-exact
    for p, (files, dirs, nbytes, alloc) in expected.items():
        r = got[p]
        assert (r.files, r.dirs, r.bytes, r.allocated) == (files, dirs, nbytes, alloc), p
        st = os.lstat(p)
        assert (r.dev, r.inode, r.uid, r.gid) == (st.st_dev, st.st_ino, st.st_uid, st.st_gid)
        assert r.depth == (-1 if p == tree else p[len(tree) + 1:].count(b"/"))
    assert [r.path for r in s.dirs] == sorted(got)  # sorted by path, bytewise
    root = got[tree]
    totals = s.info["totals"]
    assert (totals["files"], totals["dirs"], totals["bytes"], totals["allocated"]) == \
        (root.files, root.dirs + 1, root.bytes, root.allocated)


def test_types_and_escaped_names(tree, tmp_path):
    sdir = _report(tree, tmp_path)
    s = pwalk.read_summary(str(sdir), pandas=False)
    assert isinstance(s.dirs[0], pwalk.DirTotals)
    for r in s.dirs:
        assert isinstance(r.path, str)
        assert all(type(v) is int for v in r[1:])
    bad = os.fsdecode(os.path.join(tree, b"bad\xffname"))
    nl = os.fsdecode(os.path.join(tree, b"new\nline"))
    paths = {r.path for r in s.dirs}
    assert bad in paths and nl in paths  # str, as os.fsdecode gives: opens as it is
    assert os.path.isdir(bad) and os.path.isdir(nl)
    for r in s.users + s.groups:
        assert type(r.orphan) is bool and isinstance(r[1], str)
    tops = {c.top for c in s.usage}
    assert {".", "a", "b", os.fsdecode(b"bad\xffname"), "new\nline"} <= tops
    assert {t.ranked_by for t in s.top} <= {"bytes", "files", "stale_bytes"}
    assert all(isinstance(t.path, str) and type(t.rank) is int for t in s.top)


def test_users_groups_usage_sum_to_the_totals(tree, tmp_path):
    sdir = _report(tree, tmp_path)
    s = pwalk.read_summary(sdir, pandas=False)
    _, counted = _brute(tree)
    by_uid = {}
    for p, st in counted:
        by_uid[st.st_uid] = by_uid.get(st.st_uid, 0) + st.st_size
    assert {u.uid: u.bytes for u in s.users} == by_uid
    root = next(r for r in s.dirs if r.depth == -1)
    for table in (s.users, s.groups, s.usage):
        assert sum(r.bytes for r in table) == root.bytes
        assert sum(r.files for r in table) == root.files
        assert sum(r.allocated for r in table) == root.allocated
    names = {u.uid: (u.user, u.orphan) for u in s.users}
    assert names[os.geteuid()] == (pwd.getpwuid(os.geteuid()).pw_name, False)
    if os.geteuid() == 0:
        with pytest.raises(KeyError):
            pwd.getpwuid(ORPHAN)
        assert names[ORPHAN] == ("", True)
        assert {g.gid: g.orphan for g in s.groups}[ORPHAN] is True
    # the age buckets: 800 and 1000 days -> 730, 40 -> 30; ctime is now
    old = {c.mtime_age_days for c in s.usage if c.top == "a" and c.files}
    assert {730, 30} <= old
    assert all(c.ctime_age_days == 0 for c in s.usage if c.files)
    # 1 GiB falls in the 256 MiB class (256 MiB <= size < 4 GiB)
    sparse = [c for c in s.usage if c.size_min == 256 << 20 and c.files]
    assert len(sparse) == 1 and sparse[0].bytes == 1 << 30 and sparse[0].allocated < 1 << 20
    big = {t.path for t in s.top if t.ranked_by == "bytes"}
    assert os.fsdecode(tree) in big and os.fsdecode(os.path.join(tree, b"a")) in big


def test_top_and_age_days_options(tree, tmp_path):
    sdir = _report(tree, tmp_path, summary_top=2, summary_age_days=[2, 500])
    s = pwalk.read_summary(sdir, pandas=False)
    assert s.info["age_days"] == [2, 500]
    assert {c.mtime_age_days for c in s.usage} <= {0, 2, 500}
    for kind in ("bytes", "files"):
        assert [t.rank for t in s.top if t.ranked_by == kind] == [1, 2]
    # stale = not modified for 500 days: a/one (800) and a/deep/three (1000)
    a = next(r for r in s.dirs if r.path == os.path.join(os.fsdecode(tree), "a"))
    assert a.stale_bytes == 5001


def test_pandas_dataframes(tree, tmp_path):
    pd = pytest.importorskip("pandas")
    sdir = _report(tree, tmp_path)
    lists = pwalk.read_summary(sdir, pandas=False)
    frames = pwalk.read_summary(sdir)  # pandas importable: DataFrames
    for name in ("dirs", "users", "groups", "usage", "top"):
        df, rows = getattr(frames, name), getattr(lists, name)
        assert isinstance(df, pd.DataFrame)
        assert list(df.columns) == list(type(rows[0])._fields)
        assert [tuple(r) for r in df.itertuples(index=False)] == [tuple(r) for r in rows]
    assert str(frames.dirs["bytes"].dtype) == "int64"
    assert frames.users["orphan"].dtype == bool
    assert frames.dirs["path"].map(type).eq(str).all()
    assert frames.info == lists.info


def test_without_pandas(tree, tmp_path, monkeypatch):
    sdir = _report(tree, tmp_path)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    s = pwalk.read_summary(sdir)
    assert isinstance(s.dirs, list) and isinstance(s.usage[0], pwalk.UsageCell)
    with pytest.raises(ImportError):
        pwalk.read_summary(sdir, pandas=True)


def test_incomplete_and_damaged_summaries(tree, tmp_path):
    sdir = _report(tree, tmp_path)
    bad = tmp_path / "bad"
    shutil.copytree(sdir, bad)
    os.unlink(bad / "summary.json")
    with pytest.raises(pwalk.IncompleteScanError, match="summary.json: missing"):
        pwalk.read_summary(bad)
    shutil.copy(sdir / "summary.json", bad / "summary.json")
    with open(bad / "users.csv", "r+") as f:
        text = f.read()
        f.seek(0)
        f.write(text.replace("uid,user", "uid,name", 1))
    with pytest.raises(pwalk.SummaryFormatError, match=r"users\.csv: header"):
        pwalk.read_summary(bad)
    shutil.copy(sdir / "users.csv", bad / "users.csv")
    with open(bad / "dirs.csv", "rb") as f:
        lines = f.read().split(b"\n")
    with open(bad / "dirs.csv", "wb") as f:
        f.write(b"\n".join(lines[:-2] + [b""]))  # the last row lost
    with pytest.raises(pwalk.SummaryFormatError, match=r"dirs\.csv: \d+ rows, summary.json"):
        pwalk.read_summary(bad)
    info = json.loads((sdir / "summary.json").read_text())
    info["version"] = 2
    (bad / "summary.json").write_text(json.dumps(info))
    with pytest.raises(pwalk.SummaryFormatError, match="version 2 is not supported"):
        pwalk.read_summary(bad)


def test_bad_summary_arguments(tree, tmp_path):
    out = str(tmp_path / "r.csv")
    with pytest.raises(ValueError, match="summary_top given without summary=DIR"):
        pwalk.report(tree, out, summary_top=3)
    with pytest.raises(ValueError, match="summary_compress must be 'none' or 'zstd'"):
        pwalk.report(tree, out, summary=str(tmp_path / "s"), summary_compress="gzip")
    with pytest.raises(ValueError, match="summary cannot be given with config="):
        pwalk.report(tree, config={"version": 1, "sinks": []}, summary=str(tmp_path / "s"))
    # the plugin checks the ages when it starts: its message names the value,
    # exit status 2 (bad configuration), before the walk
    with pytest.raises(pwalk.PluginError, match=r"age_days: '7' .*\(30\)") as e:
        pwalk.report(tree, out, summary=str(tmp_path / "s"), summary_age_days=[30, 7])
    assert e.value.status == 2 and e.value.sink == "summary"
    assert not os.path.exists(out) and not os.path.exists(tmp_path / "s" / "summary.json")


def test_bytes_paths_and_a_non_utf8_summary_dir(tree, tmp_path):
    sdir = os.path.join(os.fsencode(tmp_path), b"sum\xffmary")
    out = os.path.join(os.fsencode(tmp_path), b"r.csv")
    path, errors = pwalk.report(tree, out, summary=sdir, summary_compress="zstd")
    assert path == out and errors == []
    s = pwalk.read_summary(sdir, pandas=False)
    assert s.dir == sdir and s.info["tables"]["dirs"]["file"] == "dirs.csv.zst"
    paths = [r.path for r in s.dirs]
    assert all(type(p) is bytes for p in paths)
    assert os.path.join(tree, b"bad\xffname") in paths and os.path.join(tree, b"new\nline") in paths
    assert {c.top for c in s.usage} >= {b".", b"a", b"bad\xffname", b"new\nline"}
    assert all(type(t.path) is bytes for t in s.top)
    assert all(isinstance(u.user, str) for u in s.users)
    # the str reading of the same files gives the same paths, decoded
    assert [r.path for r in pwalk.read_summary(os.fsdecode(sdir), pandas=False).dirs] == \
        [os.fsdecode(p) for p in paths]


def test_a_damaged_zstd_table_is_named(tree, tmp_path):
    sdir = _report(tree, tmp_path, summary_compress="zstd")
    z = sdir / "dirs.csv.zst"
    data = z.read_bytes()
    z.write_bytes(data[:len(data) // 2])  # cut mid-frame
    with pytest.raises(pwalk.SummaryFormatError, match=r"dirs\.csv\.zst"):
        pwalk.read_summary(sdir, pandas=False)
    z.write_bytes(b"not zstd at all")
    with pytest.raises(pwalk.SummaryFormatError, match=r"dirs\.csv\.zst"):
        pwalk.read_summary(sdir, pandas=False)


def test_run_lists_the_summary_dir_as_its_output(tree, tmp_path):
    sdir = str(tmp_path / "s")
    s = pwalk.run({"version": 1, "sinks": [{"name": "sum", "plugin": "summary",
                                            "options": {"dir": sdir, "print": "false"}}]}, tree)
    assert s.outputs == {"sum": sdir}
    assert pwalk.read_summary(sdir, pandas=False).info["entries"] == s.entries
