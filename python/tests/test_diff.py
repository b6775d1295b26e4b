"""pwalk.diff(): two reports written by pwalk.report() before and after
changes, compared by the pwalk-diff tool (found beside the package in
Bazel's runfiles); figures checked against the changes made (lstat)."""

import csv
import os
import shutil

import pytest

import pwalk
from pwalk._diff import find_diff

T0 = 1600000000


def _tree(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "gone").write_bytes(b"x" * 10)
    (tree / "grows").write_bytes(b"y" * 20)
    (tree / "same").write_bytes(b"s" * 30)
    for p in (tree / "gone", tree / "grows", tree / "same", tree):
        os.utime(p, (T0, T0))
    return tree


@pytest.fixture
def reports(tmp_path):
    tree = _tree(tmp_path)
    before = os.lstat(tree)
    old, _ = pwalk.report(str(tree), str(tmp_path / "old.csv.zst"))
    # create before deleting: the filesystem may give "new" the inode "gone"
    # had, and the same (st_dev, inode, type) is one entry renamed (1 run in
    # a few failed so)
    (tree / "new").write_bytes(b"n" * 1000)
    (tree / "gone").unlink()
    with open(tree / "grows", "ab") as f:
        f.write(b"+" * 5)
    new, _ = pwalk.report(str(tree), str(tmp_path / "new.csv.gz"))
    return tree, old, new, os.lstat(tree).st_size - before.st_size


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_diff_returns_the_summary_and_the_tables(reports, tmp_path):
    tree, old, new, root_delta = reports
    out = tmp_path / "out"
    res = pwalk.diff(old, new, out)
    assert res.status == 0 and not res.grew_too_much
    assert res.dir == str(out)
    assert res.summary["format"] == "pwalk-diff"
    assert res.summary["changes"]["added"] == 1
    assert res.summary["changes"]["removed"] == 1
    assert res.summary["changes"]["modified"] == 2  # grows, and the root (entries changed)
    t = res.summary["totals"]
    assert (t["files_added"], t["files_removed"]) == (1, 1)
    assert t["net_bytes"] == 1000 + 5 - 10 + root_delta
    for path in (res.changes, res.by_user, res.by_group, res.by_dir, res.diff_json):
        assert os.path.dirname(path) == str(out) and os.path.exists(path)
    got = {(r["change"], os.path.basename(r["path"])) for r in _rows(res.changes)}
    assert got == {("removed", "gone"), ("modified", "grows"), ("added", "new"),
                   ("modified", "tree")}
    users = _rows(res.by_user)
    assert [int(u["net_bytes"]) for u in users] == [t["net_bytes"]]
    assert users[0]["uid"] == str(os.geteuid())
    assert res.answer.strip()  # the human answer came back


def test_out_dir_none_is_a_new_temporary_directory(reports):
    _, old, new, _ = reports
    res = pwalk.diff(old, new)
    try:
        assert os.path.basename(res.dir).startswith("pwalk-diff-")
        assert sorted(os.listdir(res.dir)) == ["by_dir.csv", "by_group.csv", "by_user.csv",
                                               "changes.csv", "diff.json"]
    finally:
        shutil.rmtree(res.dir)


def test_options_reach_the_tool(reports, tmp_path):
    _, old, new, _ = reports
    res = pwalk.diff(old, new, tmp_path / "z", compress="zstd", match="path", depth=0,
                     memory="16M", threads=1, tmpdir=tmp_path)
    assert res.changes.endswith("changes.csv.zst") and os.path.exists(res.changes)
    assert res.summary["match"] == "path" and res.summary["compress"] == "zstd"
    with pytest.raises(TypeError, match="no_such"):
        pwalk.diff(old, new, tmp_path / "x", no_such=1)


def test_fail_if_growth_is_a_status_not_an_exception(reports, tmp_path):
    _, old, new, _ = reports
    res = pwalk.diff(old, new, tmp_path / "a", fail_if_growth=1)
    assert res.status == 1 and res.grew_too_much
    assert res.summary["complete"] is True  # written all the same
    assert pwalk.diff(old, new, tmp_path / "b", fail_if_growth="1M").status == 0


def test_failure_raises_the_tools_one_line(reports, tmp_path):
    _, old, new, _ = reports
    bad = tmp_path / "cut.csv.zst"
    data = open(old, "rb").read()
    bad.write_bytes(data[:len(data) // 2])
    out = tmp_path / "never"
    with pytest.raises(pwalk.DiffError) as e:
        pwalk.diff(old, bad, out)
    assert e.value.status == 2
    assert str(bad) in str(e.value) and "\n" not in str(e.value)
    assert not str(e.value).startswith("pwalk-diff:")
    assert not out.exists() or list(out.iterdir()) == []
    other = tmp_path / "other"
    other.mkdir()
    rep, _ = pwalk.report(str(other), str(tmp_path / "other.csv"))
    with pytest.raises(pwalk.DiffError, match="root"):
        pwalk.diff(old, rep, tmp_path / "r")
    assert pwalk.diff(old, rep, tmp_path / "r", roots_differ=True).status == 0


def test_find_diff(monkeypatch, tmp_path):
    exe = find_diff()
    assert os.access(exe, os.X_OK)
    monkeypatch.setenv("PWALK_DIFF", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="PWALK_DIFF"):
        find_diff()
    assert find_diff(exe) == exe
