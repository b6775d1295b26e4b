"""pwalk-mpi under mpirun (--oversubscribe on a 2-core machine; every run
under a timeout): the shards of 1, 2 and 4 ranks hold exactly the rows the
threaded engine writes, work moves away from a slowed rank, edge cases,
and a rank that dies leaves no manifest."""

import collections
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

RUNFILES = os.path.join(os.environ.get("TEST_SRCDIR", ""), "pwalk")
MPI = os.path.join(RUNFILES, "pwalk-mpi")
ENGINE = os.path.join(RUNFILES, "pwalk-engine")
FIXTURES = os.path.join(RUNFILES, "tests", "mpi", "fixtures")
SUMMARY_DIR = os.path.join(RUNFILES, "plugins", "summary")
TIMEOUT = 240

pytestmark = pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not installed")


def mpirun(np, *args, timeout=TIMEOUT):
    return run_mpirun(["-np", str(np), MPI] + list(args), timeout)


def mpirun_mpmd(apps, timeout=TIMEOUT):
    """One rank per (working directory, args): mpirun's A : B form."""
    argv = []
    for wdir, args in apps:
        argv += ([":"] if argv else []) + ["-np", "1", "--wdir", wdir, MPI] + list(args)
    return run_mpirun(argv, timeout)


def run_mpirun(tail, timeout):
    argv = ["mpirun", "--oversubscribe"]
    if os.geteuid() == 0:
        argv.append("--allow-run-as-root")
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:
        # Under --config=asan: Open MPI's components are dlclose()d at
        # MPI_Finalize, leaving allocations LeakSanitizer cannot attribute or
        # suppress by name.  pwalk-mpi's own code paths (config, walk, sinks)
        # are leak-checked through pwalk-engine in the other suites.
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    if "TSAN_OPTIONS" in env:
        # under --config=tsan: Open MPI's internals are not ours (tsan.supp)
        env["TSAN_OPTIONS"] += ":suppressions=" + os.path.join(RUNFILES, "tests", "mpi",
                                                               "tsan.supp")
    return subprocess.run(argv + tail, capture_output=True, timeout=timeout, env=env)


def write_config(path, sinks, scan="{threads: 2}", plugin_path=None):
    text = "version: 1\n"
    if plugin_path:
        dirs = [plugin_path] if isinstance(plugin_path, str) else plugin_path
        text += "plugin_path: [" + ", ".join(f"'{d}'" for d in dirs) + "]\n"
    text += f"scan: {scan}\nsinks:\n"
    for s in sinks:
        text += "  - " + s + "\n"
    with open(path, "w") as f:
        f.write(text)
    return path


def lines_of(paths):
    """Data lines (header dropped) of plain CSV files, as bytes."""
    out = []
    for p in paths:
        with open(p, "rb") as f:
            data = f.read().split(b"\n")
        assert data[-1] == b"", p
        out += data[1:-1]
    return out


def reference_lines(tmp, roots):
    cfg = write_config(os.path.join(tmp, "ref.yaml"),
                       [f"{{name: ref, plugin: csv, options: {{path: '{tmp}/ref.csv'}}}}"])
    r = subprocess.run([ENGINE, "-q", "-c", cfg] + roots, capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    return lines_of([f"{tmp}/ref.csv"])


def manifest(out, stem="scan"):
    with open(os.path.join(out, f"{stem}.manifest.json"), "rb") as f:
        return json.loads(f.read())


def path_of(line):
    """The filename column (4th) of a lossless CSV line."""
    # inode,parent,depth,"filename",... -- the name is quoted and has "" for "
    start = line.index(b',"') + 2
    i = start
    while True:
        j = line.index(b'"', i)
        if line[j + 1:j + 2] == b'"':
            i = j + 2
            continue
        return line[start:j]


@pytest.fixture(scope="module")
def tree():
    """A skewed tree: one big subtree (many directories), a few small ones,
    hostile names, a deep chain past PATH_MAX and a 20k-entry directory."""
    top = tempfile.mkdtemp(prefix="pwalk-mpi-tree-")
    root = os.path.join(top, "root")
    os.mkdir(root)
    big = os.path.join(root, "big")
    os.mkdir(big)
    for i in range(40):
        d = os.path.join(big, f"d{i:02d}")
        os.mkdir(d)
        for k in range(15):
            s = os.path.join(d, f"s{k:02d}")
            os.mkdir(s)
            for n in range(6):
                with open(os.path.join(s, f"f{n}.dat"), "wb") as f:
                    f.write(b"x" * n)
    for i in range(3):
        d = os.path.join(root, f"small{i}")
        os.mkdir(d)
        open(os.path.join(d, "only"), "wb").close()
    hostile = os.path.join(os.fsencode(root), b"hostile")
    os.mkdir(hostile)
    for name in [b"new\nline", b"comma,quote\"", b"back\\slash", b"\xff\xfe", b"tab\tx",
                 b"sp ace", b"\x01ctl"]:
        os.mkdir(os.path.join(hostile, name))
        with open(os.path.join(hostile, name, name), "wb") as f:
            f.write(b"y")
    # deep chain: 400 levels of 30-byte names = 12 KB paths (> PATH_MAX)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    name = "c" * 30
    for _ in range(400):
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.close(os.open("leaf", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    os.close(fd)
    wide = os.path.join(root, "wide")
    os.mkdir(wide)
    for i in range(20000):
        os.close(os.open(os.path.join(wide, f"w{i:05d}"), os.O_CREAT | os.O_WRONLY, 0o644))
    yield root
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="pwalk-mpi-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def reference(tree):
    d = tempfile.mkdtemp(prefix="pwalk-mpi-ref-")
    try:
        yield reference_lines(d, [tree])
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("np", [1, 2, 4])
def test_shards_hold_exactly_the_threaded_engines_rows(tree, reference, tmp, np):
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    cfg = write_config(os.path.join(tmp, "p.yaml"),
                       [f"{{name: r, plugin: csv, options: {{path: '{out}/scan.csv'}}}}"])
    r = mpirun(np, "-q", "-c", cfg, tree)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    shards = [os.path.join(out, f"scan.part-{k:04d}.csv") for k in range(np)]
    got = lines_of(shards)
    assert collections.Counter(got) == collections.Counter(reference)
    paths = [path_of(x) for x in got]
    assert len(paths) == len(set(paths)), "a row written twice"
    m = manifest(out)
    assert m["complete"] is True and m["ranks"] == np
    assert m["totals"]["rows"] == len(reference)
    assert m["totals"]["entries"] == len(reference)
    assert [s["rank"] for s in m["sinks"][0]["shards"]] == list(range(np))
    for k, s in enumerate(m["sinks"][0]["shards"]):
        assert s["path"] == shards[k]
        assert s["rows"] == len(lines_of([shards[k]]))
    # nothing but the shards and the manifest
    assert sorted(os.listdir(out)) == sorted(
        [os.path.basename(s) for s in shards] + ["scan.manifest.json"])


def test_zstd_shards_decode_to_the_same_rows(tree, reference, tmp):
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    cfg = write_config(os.path.join(tmp, "p.yaml"), [
        f"{{name: z, plugin: csv-zstd, options: {{path: '{out}/scan.csv.zst'}}}}",
        f"{{name: g, plugin: csv-gzip, options: {{path: '{out}/audit.csv.gz'}}}}"])
    r = mpirun(2, "-q", "-c", cfg, tree)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    for pattern, tool in [("scan.part-{:04d}.csv.zst", "zstd"), ("audit.part-{:04d}.csv.gz", "gzip")]:
        got = []
        for k in range(2):
            p = os.path.join(out, pattern.format(k))
            assert subprocess.run([tool, "-t", p]).returncode == 0
            text = subprocess.run([tool, "-dc", p], capture_output=True, check=True).stdout
            got += text.split(b"\n")[1:-1]
        assert collections.Counter(got) == collections.Counter(reference)
    # one manifest, named after the first sink, listing both sinks' shards
    m = manifest(out)
    assert [s["name"] for s in m["sinks"]] == ["z", "g"]
    assert m["sinks"][1]["glob"] == os.path.join(out, "audit.part-*.csv.gz")


@pytest.mark.parametrize("plugin,tool,suffix", [("csv-zstd", "zstd", ".zst"),
                                                ("csv-gzip", "gzip", ".gz"),
                                                ("csv-lz4", "lz4", ".lz4")])
def test_idle_ranks_write_valid_empty_streams_named_for_their_codec(tmp, plugin, tool, suffix):
    """4 ranks on a 2-entry tree: idle ranks' shards (no header, no rows)
    were 0-byte files that zstd -t, gzip -t and DuckDB refuse.  path: scan.csv
    (the one-word swap from csv) names the shards scan.part-NNNN.csv.zst, and
    the manifest lists the files that are really there."""
    root = os.path.join(tmp, "r")
    os.mkdir(root)
    open(os.path.join(root, "a"), "wb").close()
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    cfg = write_config(os.path.join(tmp, "p.yaml"), [
        f"{{name: z, plugin: {plugin}, options: {{path: '{out}/scan.csv', header: false}}}}"])
    r = mpirun(4, "-q", "-c", cfg, root)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    shards = [os.path.join(out, f"scan.part-{k:04d}.csv{suffix}") for k in range(4)]
    assert sorted(os.listdir(out)) == sorted([os.path.basename(p) for p in shards] +
                                             ["scan.manifest.json"])
    lines = []
    for p in shards:
        assert subprocess.run([tool, "-t", p], capture_output=True).returncode == 0, p
        lines += subprocess.run([tool, "-dc", p], capture_output=True,
                                check=True).stdout.split(b"\n")[:-1]
    assert len(lines) == 2  # the root and its file, no header
    m = manifest(out)
    assert m["sinks"][0]["glob"] == os.path.join(out, f"scan.part-*.csv{suffix}")
    assert sorted(s["path"] for s in m["sinks"][0]["shards"]) == shards


@pytest.mark.parametrize("slow", [0, 1])
def test_work_moves_away_from_a_slowed_rank(tree, reference, tmp, slow):
    # The slowed rank sleeps 3 ms per batch, the others 0.3 ms: the scan
    # lasts long enough for the manager to hand work to every rank however
    # fast or loaded the machine (unpaced, a fast rank 0 could finish before
    # an idle rank's first request was answered: a rank with no work).
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    cfg = write_config(os.path.join(tmp, "p.yaml"), [
        f"{{name: r, plugin: csv, options: {{path: '{out}/scan.csv'}}}}",
        f"{{name: slow, plugin: ranksink, options: {{path: '{out}/x', rank: {slow}, "
        f"delay_us: 3000, others_delay_us: 300}}}}"], plugin_path=FIXTURES)
    r = mpirun(3, "-q", "-c", cfg, tree)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    m = manifest(out)
    # Shares are counted in directories, the unit that moves between ranks:
    # the 20000 entries of tree's "wide" are one directory read by one rank
    # (its chunks stay with it), so a rows count says where that directory
    # landed, not how the work was shared.
    dirs = [x["dirs"] for x in m["per_rank"]]
    assert all(n > 0 for n in dirs), dirs
    # the slowed rank did less than an even share
    assert dirs[slow] < sum(dirs) / 3, dirs
    got = lines_of([os.path.join(out, f"scan.part-{k:04d}.csv") for k in range(3)])
    assert collections.Counter(got) == collections.Counter(reference)


def run_small(tmp, np, roots):
    out = os.path.join(tmp, "out")
    os.makedirs(out, exist_ok=True)
    cfg = write_config(os.path.join(tmp, "p.yaml"),
                       [f"{{name: r, plugin: csv, options: {{path: '{out}/scan.csv'}}}}"])
    r = mpirun(np, "-q", "-c", cfg, *roots)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    got = lines_of([os.path.join(out, f"scan.part-{k:04d}.csv") for k in range(np)])
    return got, manifest(out)


def test_empty_root(tmp):
    root = os.path.join(tmp, "empty")
    os.mkdir(root)
    got, m = run_small(tmp, 2, [root])
    assert collections.Counter(got) == collections.Counter(reference_lines(tmp, [root]))
    assert len(got) == 1 and m["totals"]["rows"] == 1


def test_root_that_is_a_file(tmp):
    f = os.path.join(tmp, "file.txt")
    with open(f, "wb") as fh:
        fh.write(b"12345")
    got, m = run_small(tmp, 2, [f])
    assert got == reference_lines(tmp, [f])
    assert len(got) == 1 and m["per_rank"][0]["rows"] == 1


def test_more_ranks_than_directories(tmp):
    root = os.path.join(tmp, "r")
    os.makedirs(os.path.join(root, "one"))
    for n in ("a", "b", os.path.join("one", "c")):
        open(os.path.join(root, n), "wb").close()
    got, m = run_small(tmp, 4, [root])
    assert collections.Counter(got) == collections.Counter(reference_lines(tmp, [root]))
    assert m["ranks"] == 4 and m["totals"]["rows"] == 5


def test_a_rank_that_dies_leaves_no_manifest(tree, tmp):
    # Rank 1 dies once it has consumed 100 rows, so it must be given work:
    # the other ranks sleep 1 ms per batch, which makes the scan last long
    # enough for that however fast or loaded the machine.  (Unpaced, rank 0
    # alone sometimes finished the tree before rank 1's first request was
    # answered: rank 1 never died, the job succeeded, the test failed.)
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    cfg = write_config(os.path.join(tmp, "p.yaml"), [
        f"{{name: r, plugin: csv, options: {{path: '{out}/scan.csv'}}}}",
        f"{{name: die, plugin: ranksink, options: {{path: '{out}/x', rank: 1, "
        f"die_after: 100, others_delay_us: 1000}}}}"], plugin_path=FIXTURES)
    r = mpirun(3, "-q", "-c", cfg, tree)
    assert r.returncode != 0, r.stderr
    # it failed because rank 1 was killed (mpirun names the rank and signal)
    assert re.search(rb"rank 1 .*signal 9", r.stderr), r.stderr
    left = os.listdir(out)
    assert "scan.manifest.json" not in left, left
    assert "scan.part-0001.csv" not in left, left  # the dead rank published nothing


def test_a_root_that_is_another_directory_on_a_rank_is_refused_before_the_scan(tmp):
    # Two ranks started in different working directories: the relative root
    # "tree" is a/tree on rank 0 and b/tree on rank 1 (as a node-local path
    # would be).  Walked, every directory handed to rank 1 would be an error
    # record of kind replaced: a report with holes and exit 0.
    for d in ("a", "b"):
        os.makedirs(os.path.join(tmp, d, "tree", "sub"))
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    cfg = write_config(os.path.join(tmp, "p.yaml"),
                       [f"{{name: r, plugin: csv, options: {{path: '{out}/scan.csv'}}}}"])
    args = ["-q", "-c", cfg, "tree"]
    r = mpirun_mpmd([(os.path.join(tmp, "a"), args), (os.path.join(tmp, "b"), args)])
    assert r.returncode == 2, r.stderr
    ours = [l for l in r.stderr.decode(errors="replace").splitlines()
            if l.startswith("pwalk-mpi:")]
    assert len(ours) == 1, ours  # said once, by the rank that sees another tree
    assert ours[0].startswith("pwalk-mpi: rank 1: root 'tree' is another directory here "
                              "than on rank 0 (inode "), ours
    assert os.listdir(out) == []  # nothing written, no manifest
    # the same directory under another spelling is the same tree: b/tree a
    # symlink to a/tree, and the scan runs, every entry once
    shutil.rmtree(os.path.join(tmp, "b", "tree"))
    os.symlink(os.path.join(tmp, "a", "tree"), os.path.join(tmp, "b", "tree"))
    r = mpirun_mpmd([(os.path.join(tmp, "a"), args), (os.path.join(tmp, "b"), args)])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    got = lines_of([os.path.join(out, f"scan.part-{k:04d}.csv") for k in range(2)])
    assert len(got) == 2 and manifest(out)["totals"]["rows"] == 2


def test_stale_manifest_and_extra_shards_are_removed_first(tmp):
    root = os.path.join(tmp, "r")
    os.mkdir(root)
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    for name in ("scan.manifest.json", "scan.part-0007.csv", "scan.part-0001.csv"):
        with open(os.path.join(out, name), "w") as f:
            f.write("old\n")
    got, m = run_small(tmp, 2, [root])
    assert m["ranks"] == 2
    assert sorted(os.listdir(out)) == ["scan.manifest.json", "scan.part-0000.csv",
                                       "scan.part-0001.csv"]


@pytest.mark.parametrize("sink,message", [
    ("{name: fix, plugin: repair-action, options: {dry_run: true}}",
     "changes the filesystem; repairs run on one node"),
    ("{name: out, plugin: csv, options: {path: '-'}}", "cannot be split into one shard per rank"),
    ("{name: out, plugin: no-such-plugin}", "no-such-plugin"),
])
def test_bad_pipelines_are_exit_2_with_one_message(tmp, sink, message):
    root = os.path.join(tmp, "r")
    os.mkdir(root)
    # a good sink first, writing into tmp: "nothing written" must be able to fail
    good = "{name: first, plugin: csv, options: {path: '%s'}}" % os.path.join(tmp, "first.csv")
    cfg = write_config(os.path.join(tmp, "p.yaml"), [good, sink])
    r = mpirun(2, "-q", "-c", cfg, root)
    assert r.returncode == 2, r.stderr
    err = r.stderr.decode(errors="replace")
    ours = [l for l in err.splitlines() if l.startswith("pwalk-mpi:")]
    assert len(ours) == 1, err  # said once, by one rank
    assert message in ours[0] and "p.yaml" in ours[0], ours
    assert sorted(os.listdir(tmp)) == ["p.yaml", "r"]  # no shard, no temporary, no manifest


def test_usage_errors(tmp):
    r = mpirun(1)
    assert r.returncode == 2
    assert b"pwalk-mpi: -c PIPELINE.yaml is required" in r.stderr
    r = mpirun(1, "-c", os.path.join(tmp, "missing.yaml"))
    assert r.returncode == 2
    assert b"missing.yaml" in r.stderr
    r = mpirun(1, "--threads", "zero", "-c", "x.yaml")
    assert r.returncode == 2
    assert b"--threads: 'zero'" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the 0600 default is for runs as root")
def test_outputs_of_a_root_run_are_0600_unless_mode_says_otherwise(tmp):
    # shards, per-rank error files and the manifest name what sits in 0700
    # directories: not for every user (before: 0644 from a root shell's umask)
    root = os.path.join(tmp, "r")
    os.makedirs(os.path.join(root, "d"))
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    for scan, sink_mode, want_scan, want_sink in [
            ("{errors: '%s/scan.errors'}" % out, "", 0o600, 0o600),
            ("{errors: '%s/scan.errors', mode: '0640'}" % out, ", mode: '0644'", 0o640, 0o644)]:
        cfg = write_config(os.path.join(tmp, "p.yaml"),
                           [f"{{name: r, plugin: csv, options: {{path: '{out}/scan.csv'"
                            f"{sink_mode}}}}}"], scan=scan)
        r = mpirun(2, "-q", "-c", cfg, root)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        modes = {n: os.stat(os.path.join(out, n)).st_mode & 0o7777 for n in os.listdir(out)}
        assert sorted(modes) == ["scan.errors.part-0000", "scan.errors.part-0001",
                                 "scan.manifest.json", "scan.part-0000.csv",
                                 "scan.part-0001.csv"], modes
        for n, m in modes.items():
            want = want_sink if n.endswith(".csv") else want_scan
            assert m == want, (n, oct(m), oct(want))


def test_a_report_inside_the_tree_does_not_list_the_manifests_temporary(tmp):
    # rank 0 creates the manifest's temporary before the walk, in the
    # scanned tree here: it is left out like the rank's own shard
    root = os.path.join(tmp, "r")
    out = os.path.join(root, "out")
    os.makedirs(os.path.join(root, "d"))
    os.mkdir(out)
    cfg = write_config(os.path.join(tmp, "p.yaml"),
                       [f"{{name: r, plugin: csv, options: {{path: '{out}/scan.csv'}}}}"],
                       scan="{errors: '%s/scan.errors'}" % out)
    r = mpirun(2, "-q", "-c", cfg, root)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    got = lines_of([os.path.join(out, f"scan.part-{k:04d}.csv") for k in range(2)])
    assert [l for l in got if b".scan.manifest.json.pwalk-tmp-" in l] == []
    assert sum(b'/r/out"' in l or b'/r/d"' in l for l in got) == 2, got


def test_a_report_inside_the_tree_lists_no_file_of_any_rank(tmp):
    # Every rank's shard and error file temporaries and rank 0's manifest
    # temporary sit in the scanned tree while the ranks walk it; whichever
    # rank lists out/ leaves them all out (the ranks exchange their own
    # files' dev/inode before walking) and counts them as filtered.
    np = 4
    root = os.path.join(tmp, "r")
    out = os.path.join(root, "out")
    os.mkdir(root)
    os.mkdir(out)
    for i in range(8):
        d = os.path.join(root, f"d{i}")
        os.mkdir(d)
        for k in range(5):
            with open(os.path.join(d, f"f{k}"), "wb") as f:
                f.write(b"x" * k)
    with open(os.path.join(out, "keep.txt"), "wb") as f:
        f.write(b"not ours")
    cfg = write_config(os.path.join(tmp, "p.yaml"),
                       [f"{{name: r, plugin: csv, options: {{path: '{out}/scan.csv'}}}}"],
                       scan="{threads: 2, errors: '%s/scan.errors'}" % out)
    r = mpirun(np, "-q", "-c", cfg, root)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    shards = [os.path.join(out, f"scan.part-{k:04d}.csv") for k in range(np)]
    errfiles = [os.path.join(out, f"scan.errors.part-{k:04d}") for k in range(np)]
    man = os.path.join(out, "scan.manifest.json")
    ours = shards + errfiles + [man]
    assert sorted(os.listdir(out)) == sorted([os.path.basename(p) for p in ours] +
                                             ["keep.txt"])
    our_inodes = {os.lstat(p).st_ino for p in ours}
    got = lines_of(shards)
    assert [l for l in got if b".pwalk-tmp-" in l] == []
    rows = collections.Counter()
    for line in got:
        ino = int(line.split(b",", 1)[0])
        assert ino not in our_inodes, line
        path = os.fsdecode(path_of(line))
        assert os.lstat(path).st_ino == ino, line
        rows[path] += 1
    want = [root]
    for top, dirs, files in os.walk(root):
        want += [os.path.join(top, n) for n in dirs + files]
    want = [p for p in want if p not in ours]
    assert sorted(rows) == sorted(want)
    assert set(rows.values()) == {1}, "a row written twice"
    m = manifest(out)
    assert m["totals"]["rows"] == len(want)
    assert m["totals"]["filtered"] == len(ours)
    assert m["totals"]["entries"] == len(want) + len(ours)


# ---- the summary sink: ranks' partials merged into one summary (issue 15) ----

SUMMARY_TABLES = ["dirs", "users", "groups", "usage", "top"]
DAY = 86400


@pytest.fixture(scope="module")
def summary_tree():
    """Enough directories for work to move between ranks, several owners
    (one with no account), times far from every age bucket's boundary,
    sparse files, and hard links inside and across directories (so the
    links of one inode are seen by different ranks)."""
    top = tempfile.mkdtemp(prefix="pwalk-mpi-summary-")
    os.chmod(top, 0o755)
    root = os.path.join(top, "root")
    os.mkdir(root)
    now = int(time.time())
    for i in range(24):
        for k in range(6):
            d = os.path.join(root, f"d{i:02d}", f"s{k}")
            os.makedirs(d)
            for n in range(4):
                p = os.path.join(d, f"f{n}")
                with open(p, "wb") as f:
                    f.write(b"z" * (n * 1000 + i))
                age = [0, 45, 400, 1200][n] * DAY + 3 * 3600
                os.utime(p, (now - age, now - age))
                if os.geteuid() == 0:
                    os.chown(p, 1000 + n, 2000 + (i % 3))
    with open(os.path.join(root, "d03", "sparse"), "wb") as f:
        f.truncate(64 << 20)
    if os.geteuid() == 0:
        os.chown(os.path.join(root, "d03", "sparse"), 4242424, 4242424)  # an orphan
    os.link(os.path.join(root, "d00", "s0", "f1"), os.path.join(root, "d23", "s5", "hl"))
    os.link(os.path.join(root, "d00", "s0", "f1"), os.path.join(root, "d12", "link"))
    os.link(os.path.join(root, "d07", "s2", "f3"), os.path.join(root, "d07", "s2", "same"))
    # list every directory once first: with relatime a directory's first
    # listing moves its atime, which dirs.csv reports (newest_atime), so
    # the reference and the MPI run would otherwise see different trees
    cfg = write_config(os.path.join(top, "warm.yaml"),
                       [f"{{name: w, plugin: csv, options: {{path: '{top}/warm.csv'}}}}"])
    r = subprocess.run([ENGINE, "-q", "-c", cfg, root], capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    yield root
    shutil.rmtree(top, ignore_errors=True)


def summary_config(tmp, name, out, extra="", ranksink=None):
    sinks = [f"{{name: sum, plugin: summary, options: {{dir: '{out}'{extra}}}}}"]
    if ranksink:
        sinks.append(f"{{name: pace, plugin: ranksink, options: {{path: '{tmp}/pace', "
                     f"{ranksink}}}}}")
    return write_config(os.path.join(tmp, name), sinks, plugin_path=[SUMMARY_DIR, FIXTURES])


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("np,compress", [(1, "none"), (2, "none"), (4, "none"), (2, "zstd")])
def test_summary_of_ranks_is_byte_identical_to_one_process(summary_tree, tmp, np, compress):
    suffix = ".csv.zst" if compress == "zstd" else ".csv"
    extra = f", compress: {compress}"
    ref = os.path.join(tmp, "ref")
    cfg = summary_config(tmp, "ref.yaml", ref, extra)
    r = subprocess.run([ENGINE, "-q", "-c", cfg, summary_tree], capture_output=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    summ = os.path.join(out, "summary")
    # every rank sleeps 0.3 ms per batch: work reaches every rank
    cfg = summary_config(tmp, "mpi.yaml", summ, extra, ranksink="rank: -1, others_delay_us: 300")
    r = mpirun(np, "-q", "-c", cfg, summary_tree)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    for t in SUMMARY_TABLES:
        assert read_bytes(os.path.join(summ, t + suffix)) == \
            read_bytes(os.path.join(ref, t + suffix)), t
    got = json.loads(read_bytes(os.path.join(summ, "summary.json")))
    want = json.loads(read_bytes(os.path.join(ref, "summary.json")))
    assert got["ranks"] == np and want["ranks"] == 1
    for k in ["roots", "entries", "errors", "filtered", "totals", "tables", "compress"]:
        assert got[k] == want[k], k
    m = manifest(out, "summary")
    assert m["ranks"] == np
    assert m["sinks"][0]["name"] == "sum"
    assert m["sinks"][0]["path"] == summ and m["sinks"][0]["merged"] is True
    assert m["sinks"][0]["partials"] == (np if np > 1 else 0)
    # the walk was shared: more than one rank read directories (not asserted
    # under a sanitizer: there rank 0 can finish this small tree before the
    # other ranks have started asking for work)
    sanitized = os.environ.get("TSAN_OPTIONS") or os.environ.get("ASAN_OPTIONS")
    if np > 1 and not sanitized:
        assert sum(1 for x in m["per_rank"] if x["entries"] > 0) > 1, m["per_rank"]
    # the partials are gone; no shard of the summary either
    assert sorted(os.listdir(out)) == ["summary", "summary.manifest.json"]


@pytest.mark.parametrize("at,why", [(24, rb"corrupt \(checksum [0-9a-f]{16}, expected "
                                         rb"[0-9a-f]{16}\)"),
                                    (8, rb"format version 4294967295, this pwalk reads "
                                        rb"version 1")])
def test_a_corrupt_partial_fails_the_merge_with_one_line(summary_tree, tmp, at, why):
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    summ = os.path.join(out, "summary")
    part1 = os.path.join(out, "summary.part-0001")
    # rank 1 corrupts its own partial once it is published, before rank 0
    # merges it (ranksink's finish runs after the summary's)
    cfg = summary_config(tmp, "mpi.yaml", summ, ranksink=(
        f"rank: 1, others_delay_us: 300, clobber: '{part1}', clobber_at: {at}"))
    r = mpirun(2, "-q", "-c", cfg, summary_tree)
    assert r.returncode == 3, r.stderr.decode(errors="replace")
    lines = [l for l in r.stderr.split(b"\n") if b"partial" in l]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(b"pwalk-mpi: merging the ranks' partials: sink 'sum': "
                               b"summary partial '" + part1.encode() + b"': "), lines[0]
    assert re.search(why, lines[0]), lines[0]
    assert lines[0].endswith(b"; the partials are kept, no manifest written"), lines[0]
    left = sorted(os.listdir(out))
    assert "summary.manifest.json" not in left, left
    assert "summary.part-0000" in left and "summary.part-0001" in left, left
    assert not os.path.exists(os.path.join(summ, "summary.json"))
