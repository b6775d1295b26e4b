"""run(..., ranks=N) and report(..., ranks=N) drive pwalk-mpi; the shards
are reached only through their manifest (read_manifest refuses shards
without one)."""

import errno
import os
import shutil

import pytest

import pwalk
from conftest import make_hostile_tree

RUNFILES = os.path.join(os.environ.get("TEST_SRCDIR", ""), "pwalk")
FIXTURES = os.path.join(RUNFILES, "tests", "mpi", "fixtures")


def mpi_binary_under_test():
    """Bazel's pwalk-mpi from the runfiles under `bazel test`; otherwise
    (pytest run by hand against an installed package) $PWALK_MPI or the
    one on PATH, as the package would find it -- or None."""
    if os.environ.get("TEST_SRCDIR"):
        return os.path.join(RUNFILES, "pwalk-mpi")
    return os.environ.get("PWALK_MPI") or shutil.which("pwalk-mpi")


MPI_BINARY = mpi_binary_under_test()
# every job these tests launch is bounded (issue: every run under a timeout)
os.environ.setdefault("PWALK_MPI_TIMEOUT", "240")


def why_no_job():
    """Why a job cannot be launched here, or None.  Outside Bazel pwalk-mpi
    is usually not built: that is a skip, not a failure."""
    if shutil.which("mpirun") is None:
        return "mpirun not installed"
    if not MPI_BINARY:
        return "pwalk-mpi not built (not on PATH, PWALK_MPI unset)"
    if not os.path.isfile(MPI_BINARY):
        return f"pwalk-mpi not built: no {MPI_BINARY} (bazel build //:pwalk-mpi)"
    return None


# on every test that launches a job
launches = pytest.mark.skipif(why_no_job() is not None, reason=str(why_no_job()))


@pytest.fixture(autouse=True)
def mpi_binary(monkeypatch):
    if MPI_BINARY:
        monkeypatch.setenv("PWALK_MPI", MPI_BINARY)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_hostile_tree(os.fsencode(tmp_path_factory.mktemp("mpi") / "tree"), big=300)


def lines(paths):
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out += f.read().split(b"\n")[1:-1]
    return sorted(out)


def pipeline(path):
    return {"version": 1, "scan": {"threads": 2},
            "sinks": [{"name": "r", "plugin": "csv", "options": {"path": path}}]}


@launches
def test_run_with_ranks_returns_the_manifest_and_the_same_rows(tree, tmp_path):
    single = pwalk.run(pipeline(str(tmp_path / "one.csv")), tree)
    m = pwalk.run(pipeline(str(tmp_path / "scan.csv")), tree, ranks=3)
    assert isinstance(m, pwalk.Manifest)
    assert m.ranks == 3 and m.rows == single.rows and m.entries == single.entries
    assert m.path == str(tmp_path / "scan.manifest.json")
    shards = m.sinks["r"].shards
    assert shards == [str(tmp_path / f"scan.part-{k:04d}.csv") for k in range(3)]
    assert m.sinks["r"].glob == str(tmp_path / "scan.part-*.csv")
    assert lines(shards) == lines([str(tmp_path / "one.csv")])
    assert sum(r["rows"] for r in m.per_rank) == single.rows


@launches
def test_report_with_ranks_gives_the_glob(tree, tmp_path):
    out = tmp_path / "scan.csv.zst"
    g, errors = pwalk.report(os.fsdecode(tree), out, ranks=2)
    assert g == str(tmp_path / "scan.part-*.csv.zst")
    assert errors == []
    m = pwalk.read_manifest(out)  # the output path finds its manifest
    assert m.sinks["report"].glob == g and len(m.errors_files) == 2
    assert all(os.path.exists(p) for p in m.errors_files)


@launches
def test_manifest_paths_come_back_as_the_bytes_on_disk(tree, tmp_path):
    # an output directory whose name holds a byte that is not UTF-8, a
    # literal backslash-x and a newline: the manifest writes them as
    # lossless text and read_manifest gives back paths that open
    # (a path YAML cannot hold, UTF-8 text, goes in with sets=, as bytes)
    out = tmp_path / os.fsdecode(b"out\xff \\xff\n")
    out.mkdir()
    sets = [b"r.path=" + os.fsencode(out / "scan.csv"),
            b"scan.errors=" + os.fsencode(out / "errors.csv")]
    m = pwalk.run(pipeline("unused.csv"), tree, ranks=2, sets=sets)
    assert m.path == str(out / "scan.manifest.json")
    assert m.roots == [os.fsdecode(tree)]
    shards = m.sinks["r"].shards
    assert shards == [str(out / f"scan.part-{k:04d}.csv") for k in range(2)]
    assert all(os.path.isfile(s) for s in shards)
    assert m.sinks["r"].glob == str(out / "scan.part-*.csv")
    assert m.errors_files == [str(out / f"errors.part-{k:04d}.csv") for k in range(2)]
    assert all(os.path.isfile(e) for e in m.errors_files)
    assert pwalk.read_manifest(os.fsencode(out / "scan.csv")).sinks["r"].shards == shards


@launches
def test_shards_without_a_manifest_are_refused(tree, tmp_path):
    m = pwalk.run(pipeline(str(tmp_path / "scan.csv")), tree, ranks=2)
    pwalk.read_manifest(m.path)
    # a shard of some other scan matching the glob
    extra = tmp_path / "scan.part-0002.csv"
    extra.write_bytes(b"x\n")
    with pytest.raises(pwalk.IncompleteScanError, match="not part of this scan"):
        pwalk.read_manifest(m.path)
    extra.unlink()
    os.unlink(m.sinks["r"].shards[1])
    with pytest.raises(pwalk.IncompleteScanError, match="is missing"):
        pwalk.read_manifest(m.path)
    os.unlink(m.path)
    with pytest.raises(pwalk.IncompleteScanError, match="no manifest"):
        pwalk.read_manifest(tmp_path / "scan.csv")


@launches
def test_a_failed_job_raises_and_leaves_no_manifest(tree, tmp_path):
    if not os.path.exists(os.path.join(FIXTURES, "ranksink.so")):
        pytest.skip("the ranksink fixture plugin is built only by Bazel (//tests/mpi)")
    p = pipeline(str(tmp_path / "scan.csv"))
    p["plugin_path"] = [FIXTURES]
    p["sinks"].append({"name": "die", "plugin": "ranksink",
                       "options": {"path": str(tmp_path / "x"), "rank": 0, "die_after": 10}})
    with pytest.raises(pwalk.ScanError, match="no manifest"):
        pwalk.run(p, tree, ranks=2)
    with pytest.raises(pwalk.IncompleteScanError):
        pwalk.read_manifest(tmp_path / "scan.csv")


@launches
def test_bad_pipeline_is_a_config_error(tree, tmp_path):
    p = pipeline("-")
    with pytest.raises(pwalk.ConfigError, match="one shard per rank"):
        pwalk.run(p, tree, ranks=2)
    with pytest.raises(ValueError, match="ranks"):
        pwalk.run(pipeline(str(tmp_path / "s.csv")), tree, ranks=0)


def test_a_missing_pwalk_mpi_is_named(tmp_path, monkeypatch):
    # checked before mpirun runs: mpirun given a file that is not there
    # fails with a status (132) and a banner that name no file
    missing = str(tmp_path / "no-such-pwalk-mpi")
    monkeypatch.setenv("PWALK_MPI", missing)
    p = pipeline(str(tmp_path / "scan.csv"))
    with pytest.raises(FileNotFoundError, match="pwalk-mpi not found") as e:
        pwalk.run(p, str(tmp_path), ranks=2)
    assert e.value.errno == errno.ENOENT and e.value.filename == missing
    assert missing in str(e.value) and "PWALK_MPI" in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        pwalk.report(str(tmp_path), tmp_path / "r.csv", ranks=2)
    assert e.value.filename == missing
    assert not os.path.exists(tmp_path / "scan.manifest.json")


def test_a_job_past_pwalk_mpi_timeout_is_stopped(tmp_path, monkeypatch):
    # a "launcher" that hangs: the caller gets a ScanError, not a hang
    import sys
    import time
    from pwalk import _mpi
    monkeypatch.setenv("PWALK_MPI_TIMEOUT", "1")
    hang = [sys.executable, "-c", "import time; time.sleep(120)"]
    t0 = time.monotonic()
    with pytest.raises(pwalk.ScanError, match="PWALK_MPI_TIMEOUT=1 s"):
        _mpi.run_sharded({"version": 1, "sinks": []}, [str(tmp_path)], 2, launcher=hang,
                         mpi_command=sys.executable)
    assert time.monotonic() - t0 < 30
    monkeypatch.setenv("PWALK_MPI_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="PWALK_MPI_TIMEOUT: 'soon'"):
        _mpi.run_sharded({"version": 1, "sinks": []}, [str(tmp_path)], 2, launcher=hang,
                         mpi_command=sys.executable)


@launches
def test_report_with_ranks_writes_one_summary(tree, tmp_path):
    """report(..., ranks=2, summary=DIR): the ranks' partial aggregates are
    merged on rank 0 into one set of tables in DIR, byte for byte what one
    process writes for the same tree (issue 15); the partials are gone."""
    pwalk.report(tree, str(tmp_path / "warm.csv"))  # atimes settle (relatime) first
    pwalk.report(tree, str(tmp_path / "one.csv"), summary=str(tmp_path / "one"))
    g, errors = pwalk.report(tree, str(tmp_path / "scan.csv"), ranks=2,
                             summary=str(tmp_path / "two"))
    assert errors == []
    tables = ["dirs.csv", "users.csv", "groups.csv", "usage.csv", "top.csv"]
    assert sorted(os.listdir(tmp_path / "two")) == sorted(tables + ["summary.json"])
    for name in tables:
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    one = pwalk.read_summary(tmp_path / "one", pandas=False)
    two = pwalk.read_summary(tmp_path / "two", pandas=False)
    assert two.info["ranks"] == 2 and one.info["ranks"] == 1
    assert two.info["totals"] == one.info["totals"] and two.dirs == one.dirs
    assert not [n for n in os.listdir(tmp_path) if n.startswith("two") and n != "two"]
    assert "summary" in pwalk.read_manifest(tmp_path / "scan.csv").sinks
