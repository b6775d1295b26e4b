"""run(..., ranks=N) and report(..., ranks=N) drive pwalk-mpi; the shards
are reached only through their manifest (read_manifest refuses shards
without one)."""

import os
import shutil

import pytest

import pwalk
from conftest import make_hostile_tree

RUNFILES = os.path.join(os.environ.get("TEST_SRCDIR", ""), "pwalk")
FIXTURES = os.path.join(RUNFILES, "tests", "mpi", "fixtures")

pytestmark = pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not installed")


@pytest.fixture(autouse=True)
def mpi_binary(monkeypatch):
    monkeypatch.setenv("PWALK_MPI", os.path.join(RUNFILES, "pwalk-mpi"))


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


def test_report_with_ranks_gives_the_glob(tree, tmp_path):
    out = tmp_path / "scan.csv.zst"
    g, errors = pwalk.report(os.fsdecode(tree), out, ranks=2)
    assert g == str(tmp_path / "scan.part-*.csv.zst")
    assert errors == []
    m = pwalk.read_manifest(out)  # the output path finds its manifest
    assert m.sinks["report"].glob == g and len(m.errors_files) == 2
    assert all(os.path.exists(p) for p in m.errors_files)


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


def test_a_failed_job_raises_and_leaves_no_manifest(tree, tmp_path):
    p = pipeline(str(tmp_path / "scan.csv"))
    p["plugin_path"] = [FIXTURES]
    p["sinks"].append({"name": "die", "plugin": "ranksink",
                       "options": {"path": str(tmp_path / "x"), "rank": 0, "die_after": 10}})
    with pytest.raises(pwalk.ScanError, match="no manifest"):
        pwalk.run(p, tree, ranks=2)
    with pytest.raises(pwalk.IncompleteScanError):
        pwalk.read_manifest(tmp_path / "scan.csv")


def test_bad_pipeline_is_a_config_error(tree, tmp_path):
    p = pipeline("-")
    with pytest.raises(pwalk.ConfigError, match="one shard per rank"):
        pwalk.run(p, tree, ranks=2)
    with pytest.raises(ValueError, match="ranks"):
        pwalk.run(pipeline(str(tmp_path / "s.csv")), tree, ranks=0)
