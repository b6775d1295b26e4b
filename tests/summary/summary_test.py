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

VOLATILE = {"threads", "ranks", "start_time", "end_time", "session_times", "hostname"}
JSON_KEYS = ["format", "version", "complete", "pwalk_version", "hostname", "roots", "threads",
             "ranks", "start_time", "end_time", "sessions", "session_times", "entries", "errors",
             "filtered", "totals", "age_days", "size_classes", "compress", "tables"]


@pytest.fixture
def work():
    reason = T.can_drop_caps()
    if reason:
        pytest.skip(reason)
    d = T.scratch("test")
    yield d
    T.remove(d)


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
    # one session (the scan ran in one go): its times are the scan's
    [one] = meta["session_times"]
    assert list(one) == ["start", "end"]
    assert abs(one["start"] - meta["start_time"]) <= 2 and abs(one["end"] - meta["end_time"]) <= 2
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
        # one frame, with a checksum (FORMAT.md)
        lv = subprocess.run(["zstd", "-lv", os.path.join(out, name + ".csv.zst")],
                            capture_output=True, text=True).stdout
        assert "# Zstandard Frames: 1\n" in lv and "Check: XXH64" in lv, lv
        assert meta["tables"][name]["rows"] == bmeta["tables"][name]["rows"]


def test_same_bytes_under_pwalk_mpi_at_1_2_and_4_ranks(work):
    mpi = T.built("pwalk-mpi")
    if not mpi or not shutil.which("mpirun"):
        pytest.skip("pwalk-mpi is built only with Open MPI installed (not here)")
    facts = T.build(os.path.join(work, "tree"))  # its unreadable directory: exit 1
    base, bmeta, _ = scan(work, facts, "one")
    env = T.mpi_env()  # Open MPI's own leaks and races are not ours
    for np in (1, 2, 4):
        out = os.path.join(work, "mpi%d" % np)
        cfg = T.pipeline(os.path.join(work, "mpi%d.yaml" % np), facts,
                         "dir: %s, print: false" % T.yaml_str(out))
        argv = ["mpirun", "--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0
                                                else [])
        argv = T.UNPRIVILEGED + argv + ["-np", str(np), mpi, "-q", "-c", cfg, facts["root"]]
        r = subprocess.run(argv, capture_output=True, timeout=300, env=env)
        assert r.returncode == 1, r.stderr.decode(errors="replace")
        # one summary, as if one process had walked: no partials left
        assert sorted(os.listdir(out)) == sorted([n + ".csv" for n in T.TABLES] + ["summary.json"])
        for name in T.TABLES:
            with open(os.path.join(base, name + ".csv"), "rb") as a, \
                    open(os.path.join(out, name + ".csv"), "rb") as b:
                assert a.read() == b.read(), "%s.csv differs at np=%d" % (name, np)
        with open(os.path.join(out, "summary.json")) as f:
            meta = json.load(f)
        assert meta["ranks"] == np
        # entries, errors (the unreadable directory) and filtered: every rank's summed
        assert (meta["entries"], meta["errors"], meta["filtered"]) == \
            (bmeta["entries"], 1, facts["filtered"]), meta
        assert {k: v for k, v in meta.items() if k not in VOLATILE} == \
            {k: v for k, v in bmeta.items() if k not in VOLATILE}
        # the manifest (its path is pwalk-mpi's stdout) lists the summary:
        # one merged output, the directory, from np partials (0 at np=1)
        manifest = r.stdout.decode().strip().split("\n")[-1]
        with open(manifest) as f:
            sinks = [s for s in json.load(f)["sinks"] if s.get("name") == "sum"]
        assert len(sinks) == 1, (manifest, sinks)
        assert sinks[0]["plugin"] == "summary" and sinks[0]["merged"] is True, sinks
        assert sinks[0]["path"] == os.path.abspath(out), sinks
        assert sinks[0]["partials"] == (np if np > 1 else 0), sinks


def test_wide_tree_same_bytes_at_1_2_and_8_threads_and_as_the_model(work):
    facts = T.build_wide(os.path.join(work, "wide"))
    runs = {n: scan(work, facts, "w%d" % n, threads=n) for n in (1, 2, 8)}
    base, bmeta, _ = runs[1]
    want, _ = T.model(facts["root"], bmeta["start_time"])
    for name in T.TABLES:
        got = table(base, name, bmeta)
        assert got == want[name], "%s.csv: %s" % (name, diff(got, want[name]))
        for n in (2, 8):
            with open(os.path.join(base, name + ".csv"), "rb") as a, \
                    open(os.path.join(runs[n][0], name + ".csv"), "rb") as b:
                assert a.read() == b.read(), "%s.csv differs at %d threads" % (name, n)
    assert bmeta["tables"]["dirs"]["rows"] == 1 + 12 + 12 * 25


def test_several_roots_a_file_root_and_a_link_across_roots(work):
    a = T.build(os.path.join(work, "tree-a"))
    b = T.build(os.path.join(work, "tree-b"), now=a["now"])  # the same top names
    # a link in b to a file in a: counted once, at a's name (sorts first)
    os.link(os.path.join(a["root"], "beta", "links", "same-b"),
            os.path.join(b["root"], "alpha", "from-a"))
    froot = os.path.join(work, "file-root")
    with open(froot, "wb") as f:
        f.write(b"z" * 5000)
    facts = dict(a, excluded=a["excluded"] + b["excluded"],
                 unreadable=a["unreadable"] + b["unreadable"])
    out = os.path.join(work, "sum")
    cfg = T.pipeline(os.path.join(work, "p.yaml"), facts,
                     "dir: %s, print: false, top: 7" % T.yaml_str(out))
    r = T.run_engine(["-q", "-c", cfg, a["root"], b["root"], froot])
    assert r.returncode == 1, r.stderr
    with open(os.path.join(out, "summary.json")) as f:
        meta = json.load(f)
    want, wf = T.model([a["root"], b["root"], froot], meta["start_time"], facts["excluded"],
                       facts["unreadable"], top=7)
    for name in T.TABLES:
        got = table(out, name, meta)
        assert got == want[name], "%s.csv: %s" % (name, diff(got, want[name]))
    assert meta["roots"] == [a["root"], b["root"], froot]
    assert meta["errors"] == 2 and meta["filtered"] == 4 == wf["filtered"]
    assert meta["entries"] == wf["entries"] and meta["totals"] == wf["totals"]
    # the file root: in the totals and the cube (top "."), no dirs.csv row
    assert not any(T.unescape(r[0]) == os.fsencode(froot) for r in want["dirs"][1:])
    assert sum(int(r[-2]) for r in want["usage"][1:] if r[6] == "4096" and r[2] == ".") >= 5000


def test_summary_inside_the_tree_leaves_out_its_own_files(work):
    facts = T.build(os.path.join(work, "tree"))
    _, outside, _ = scan(work, facts, "outside")
    own = os.path.join(facts["root"], "zz-summary")  # made by the sink before the walk
    cfg = T.pipeline(os.path.join(work, "in.yaml"), facts,
                     "dir: %s, print: false" % T.yaml_str(own))
    r = T.run_engine(["-q", "-c", cfg, facts["root"]])
    assert r.returncode == 1, r.stderr
    with open(os.path.join(own, "summary.json")) as f:
        inside = json.load(f)
    # its six temporaries were in the tree during the walk: filtered
    assert inside["filtered"] == outside["filtered"] + 6, (inside, outside)
    assert inside["entries"] == outside["entries"] + 1 + 6
    want = dict(outside["totals"])
    want["dirs"] += 1
    want["bytes"] += os.lstat(own).st_size
    want["allocated"] += os.lstat(own).st_blocks * 512
    assert inside["totals"] == want
    dirs = table(own, "dirs", inside)
    row = [r for r in dirs[1:] if T.unescape(r[0]) == os.fsencode(own)]
    assert len(row) == 1 and row[0][6:8] == ["0", "0"], row



def test_threads_auto_reports_the_workers_that_ran_not_the_maximum(work):
    # threads: auto starts the sinks for scan.max_threads (256) workers;
    # summary.json says how many walked (auto starts at the cores and a
    # tree this small ends long before the controller could add 250)
    facts = T.build(os.path.join(work, "tree"))
    _, meta, _ = scan(work, facts, "auto", threads="auto")
    assert 1 <= meta["threads"] < 256, meta["threads"]


def run_on_a_terminal(argv):
    """Runs argv with stderr on a new pseudo-terminal: (status, stderr)."""
    master, slave = os.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=slave)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the last holder of the slave side is gone
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    return p.wait(timeout=600), got.decode(errors="replace").replace("\r\n", "\n")


def test_digest_on_stderr_by_default_only_when_it_is_a_terminal(work):
    facts = T.build(os.path.join(work, "tree"))
    for tag in ("tty", "pipe"):
        out = os.path.join(work, tag)
        cfg = T.pipeline(os.path.join(work, tag + ".yaml"), facts, "dir: %s" % T.yaml_str(out))
        argv = T.UNPRIVILEGED + [T.built("pwalk-engine"), "-q", "-c", cfg, facts["root"]]
        if tag == "tty":
            status, err = run_on_a_terminal(argv)
        else:
            r = subprocess.run(argv, capture_output=True, timeout=600)
            status, err = r.returncode, r.stderr.decode(errors="replace")
        assert status == 1, err  # the unreadable directory
        with open(os.path.join(out, "summary.json")) as f:
            meta = json.load(f)
        lines = [ln.split("': ", 1)[1] for ln in err.split("\n") if ln.startswith("pwalk: sink 'sum': ")]
        if tag == "pipe":
            assert lines == [], err
            continue
        t = meta["totals"]
        assert lines[0].startswith("%d files, %d directories" % (t["files"], t["dirs"])), err
        at = {ln: i for i, ln in enumerate(lines)}
        users, dirs, ages = (at["top users by bytes:"], at["largest directories:"],
                             at["bytes by age of last modification:"])
        assert users < dirs < ages, err
        # every user (fewer than 10 here), largest first; the top.csv ranking
        assert dirs - users - 1 == min(10, meta["tables"]["users"]["rows"]), err
        top = [r for r in table(out, "top", meta)[1:] if r[0] == "bytes"]
        shown = [ln.split("files  ", 1)[1] for ln in lines[dirs + 1:ages]]
        assert shown == [r[2] for r in top[:10]], err
        # one line per age bucket, the fullest drawn 40 wide, an empty one bare
        hist = lines[ages + 1:]
        assert len(hist) == len(meta["age_days"]) + 1, err
        bars = [len(ln) - len(ln.rstrip("#")) for ln in hist]
        assert max(bars) == 40 and all(ln.endswith(" B  ") or b > 0 for ln, b in zip(hist, bars)), err


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
    # the summary's options are good, the csv sink's path is not: the
    # summary's directory is not left behind either
    ("other-sink-bad", "dir: %(dir)s", ["%(missing)s"]),
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
    if case[0] == "other-sink-bad":
        report = names["missing"]
    cfg = T.pipeline(os.path.join(work, "p.yaml"), None, opts % names, csv_path=report,
                     summary_first=case[0] == "other-sink-bad")
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
