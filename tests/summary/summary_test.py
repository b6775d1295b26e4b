"""The summary sink (issue 15), checked against the tree it summarised:
every table cell against an lstat model of a tree built for the test
(owners with and without accounts, times on both sides of every age
boundary, sparse files, hard links, an unreadable directory, excluded and
snapshot paths), every directory against `du`, the same bytes at 1, 2 and
8 threads (and through zstd), and bad options refused before anything is
written.  The GROUP BY oracle over the csv report of the same walk, and
the README's questions, are in summary_duckdb_test.py.

The engine runs as root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH
(setpriv) so that a mode-000 directory is unreadable to it; every test
that needs that skips, with the reason, when not root.
"""

import json
import os
import shutil
import socket
import subprocess

import pytest

import summary_tree as T

VOLATILE = {"threads", "ranks", "start_time", "end_time", "hostname"}
JSON_KEYS = ["format", "version", "complete", "pwalk_version", "hostname", "roots", "threads",
             "ranks", "start_time", "end_time", "sessions", "entries", "errors", "filtered",
             "totals", "age_days", "size_classes", "compress", "tables"]


@pytest.fixture
def work(tmp_path):
    reason = T.can_drop_caps()
    if reason:
        pytest.skip(reason)
    os.chmod(tmp_path, 0o755)
    yield str(tmp_path)
    # the unreadable directory, made readable so that pytest can remove it
    for dirpath, dirnames, _ in os.walk(tmp_path):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, 0o755)


def scan(work, facts, tag, summary_opts="", threads=2, csv=False, status=None):
    """Runs csv (optional) + summary over the tree; returns (dir, json)."""
    out = os.path.join(work, tag)
    cfg = T.pipeline(os.path.join(work, tag + ".yaml"), facts,
                     "dir: %s, print: false%s" % (T.yaml_str(out), summary_opts), threads,
                     csv_path=os.path.join(work, tag + ".csv") if csv else None)
    r = T.run_engine(["-q", "-c", cfg, facts["root"]])
    want = (1 if facts["unreadable"] else 0) if status is None else status
    err = r.stderr.decode(errors="replace")
    assert r.returncode == want, err
    with open(os.path.join(out, "summary.json")) as f:
        return out, json.load(f), err


def table(out, name, meta):
    return T.read_table(os.path.join(out, meta["tables"][name]["file"]))


def diff(got, want):
    """The first rows where two tables differ, for a readable failure."""
    if got == want:
        return ""
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return "row %d:\n got  %r\n want %r" % (i, g, w)
    return "%d rows, want %d; extra: %r" % (len(got), len(want),
                                           (got[len(want):] or want[len(got):])[:3])


def test_every_table_matches_the_tree(work):
    facts = T.build(os.path.join(work, "tree"))
    out, meta, err = scan(work, facts, "sum", ", top: 5")
    # the unreadable directory: its error reported (exit 1), counted below
    assert "locked: Permission denied" in err, err
    want, wf = T.model(facts["root"], meta["start_time"], facts["excluded"],
                       facts["unreadable"], top=5)
    for name in T.TABLES:
        got = table(out, name, meta)
        assert got == want[name], "%s.csv: %s" % (name, diff(got, want[name]))
    # the facts the model checks, spelled out
    users = {r[0]: r for r in want["users"][1:]}
    assert users[str(facts["orphan_uid"])][1] == "" and users[str(facts["orphan_uid"])][8] == "true"
    assert users["1"][8] == "false" and users["1"][1] != ""
    groups = {r[0]: r for r in want["groups"][1:]}
    assert groups[str(facts["orphan_gid"])][1:2] == [""] and groups[str(facts["orphan_gid"])][6] == "true"
    paths = [T.unescape(r[0]) for r in want["dirs"][1:]]
    root = os.fsencode(facts["root"])
    assert root + b"/locked" in paths  # own figures only
    assert not any(b"/excluded" in p or b"/.snapshot" in p for p in paths)
    assert root + b"/" + T.HOSTILE in paths
    # summary.json: fixed keys in a fixed order, the scan's counts
    assert list(meta) == JSON_KEYS
    assert meta["format"] == "pwalk-summary" and meta["version"] == 1
    assert meta["complete"] is True and meta["sessions"] == 1
    assert meta["roots"] == [facts["root"]]
    assert meta["threads"] == 2 and meta["ranks"] == 1
    assert meta["hostname"] == socket.gethostname()
    assert isinstance(meta["pwalk_version"], str) and meta["pwalk_version"]
    assert isinstance(meta["start_time"], int) and meta["start_time"] <= meta["end_time"]
    assert abs(meta["start_time"] - facts["now"]) < 600
    assert meta["errors"] == 1, meta
    assert meta["filtered"] == facts["filtered"] == wf["filtered"], meta
    assert meta["entries"] == wf["entries"], meta
    assert meta["totals"] == wf["totals"], meta
    assert meta["age_days"] == T.AGE_DAYS and meta["size_classes"] == T.SIZE_CLASSES
    assert meta["compress"] == "none"
    assert list(meta["tables"]) == list(T.TABLES)
    for name in T.TABLES:
        assert meta["tables"][name] == {"file": name + ".csv", "rows": len(want[name]) - 1}
    assert sorted(os.listdir(out)) == sorted([n + ".csv" for n in T.TABLES] + ["summary.json"])


def test_cube_users_groups_and_root_sum_to_the_totals(work):
    facts = T.build(os.path.join(work, "tree"))
    out, meta, _ = scan(work, facts, "sum")
    tot = meta["totals"]

    def sums(rows, cols):
        h = rows[0]
        return {c: sum(int(r[h.index(c)]) for r in rows[1:]) for c in cols}

    cols = ["files", "dirs", "bytes", "allocated"]
    for name in ("usage", "users", "groups"):
        assert sums(table(out, name, meta), cols) == tot, name
    dirs = table(out, "dirs", meta)
    rootrow = dict(zip(dirs[0], dirs[1]))
    assert T.unescape(rootrow["path"]) == os.fsencode(facts["root"]) and rootrow["depth"] == "-1"
    assert {"files": int(rootrow["files"]), "dirs": int(rootrow["dirs"]) + 1,
            "bytes": int(rootrow["bytes"]), "allocated": int(rootrow["allocated"])} == tot


def du(path, apparent):
    args = ["du", "-s", "-B1"] + (["--apparent-size"] if apparent else []) + ["--", path]
    # as unprivileged as the engine was: the locked directory's own size only
    r = subprocess.run(T.UNPRIVILEGED + args, capture_output=True)
    return int(r.stdout.split(b"\t", 1)[0])


def test_every_directory_matches_du(work):
    # hard links only inside one directory: du -s DIR of any directory
    # counts what the summary counts below it
    facts = T.build(os.path.join(work, "tree"), cross_links=False, filters=False)
    out, meta, _ = scan(work, facts, "sum")
    dirs = table(out, "dirs", meta)
    h = dirs[0]
    assert len(dirs) > 15
    for r in dirs[1:]:
        p = os.fsdecode(T.unescape(r[h.index("path")]))
        assert int(r[h.index("allocated")]) == du(p, False), p
        assert int(r[h.index("bytes")]) == du(p, True), p


def test_root_matches_du_with_links_across_directories(work):
    facts = T.build(os.path.join(work, "tree"), filters=False)
    out, meta, _ = scan(work, facts, "sum")
    dirs = table(out, "dirs", meta)
    rootrow = dict(zip(dirs[0], dirs[1]))
    assert T.unescape(rootrow["path"]) == os.fsencode(facts["root"])
    assert int(rootrow["allocated"]) == du(facts["root"], False)
    assert int(rootrow["bytes"]) == du(facts["root"], True)
    assert meta["totals"]["bytes"] == du(facts["root"], True)


def test_same_bytes_at_1_2_and_8_threads_and_through_zstd(work):
    facts = T.build(os.path.join(work, "tree"))
    runs = {n: scan(work, facts, "t%d" % n, threads=n) for n in (1, 2, 8)}
    base, bmeta, _ = runs[1]
    for n in (2, 8):
        out, meta, _ = runs[n]
        for name in T.TABLES:
            with open(os.path.join(base, name + ".csv"), "rb") as a, \
                    open(os.path.join(out, name + ".csv"), "rb") as b:
                assert a.read() == b.read(), "%s.csv differs at %d threads" % (name, n)
        assert meta["threads"] == n
        assert {k: v for k, v in meta.items() if k not in VOLATILE} == \
            {k: v for k, v in bmeta.items() if k not in VOLATILE}
    out, meta, _ = scan(work, facts, "z", ", compress: zstd", threads=8)
    assert meta["compress"] == "zstd"
    assert sorted(os.listdir(out)) == sorted([n + ".csv.zst" for n in T.TABLES] + ["summary.json"])
    for name in T.TABLES:
        assert meta["tables"][name]["file"] == name + ".csv.zst"
        z = subprocess.run(["zstd", "-dcq", os.path.join(out, name + ".csv.zst")],
                           check=True, capture_output=True).stdout
        with open(os.path.join(base, name + ".csv"), "rb") as a:
            assert z == a.read(), name + ".csv.zst"
        assert meta["tables"][name]["rows"] == bmeta["tables"][name]["rows"]


BAD = [
    # (id, options text (DIR = the summary directory), words the one line must name)
    ("no-dir", "top: 5", ["dir"]),
    ("parent-missing", "dir: %(missing)s", ["%(missing)s"]),
    ("dir-is-a-file", "dir: %(file)s", ["%(file)s"]),
    ("dir-unwritable", "dir: %(ro)s/sum", ["%(ro)s"]),
    ("age-decreasing", "dir: %(dir)s, age_days: [30, 7]", ["age_days", "7"]),
    ("age-repeated", "dir: %(dir)s, age_days: [7, 30, 30]", ["age_days", "30"]),
    ("age-zero", "dir: %(dir)s, age_days: [0, 7]", ["age_days", "0"]),
    ("age-negative", "dir: %(dir)s, age_days: [-7, 30]", ["age_days", "-7"]),
    ("age-not-a-number", "dir: %(dir)s, age_days: [7, week]", ["age_days", "week"]),
    ("compress-bogus", "dir: %(dir)s, compress: bogus", ["compress", "bogus"]),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_option_is_one_line_exit_2_and_nothing_written(work, case):
    _, opts, words = case
    tree = os.path.join(work, "tree")
    os.mkdir(tree)
    with open(os.path.join(tree, "f"), "w") as f:
        f.write("x")
    ro = os.path.join(work, "ro")
    os.mkdir(ro, 0o555)
    os.chmod(ro, 0o555)  # not writable for uid 0 without CAP_DAC_OVERRIDE
    names = {"missing": os.path.join(work, "no-such-parent", "sum"),
             "file": os.path.join(work, "a-file"), "ro": ro, "dir": os.path.join(work, "sum")}
    with open(names["file"], "w") as f:
        f.write("not a directory")
    report = os.path.join(work, "report.csv")
    cfg = T.pipeline(os.path.join(work, "p.yaml"), None, opts % names, csv_path=report)
    before = sorted(os.listdir(work))
    r = T.run_engine(["-q", "-c", cfg, tree])
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 2, err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0], err
    for w in words:
        assert (w % names) in lines[0], (w % names, err)
    # nothing written: no report of the other sink, no summary directory,
    # no temporaries
    assert sorted(os.listdir(work)) == before
    assert os.listdir(ro) == []
