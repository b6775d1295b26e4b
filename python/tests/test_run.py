"""pwalk.run(): any pipeline (file or dict) through the engine, its summary,
and the exceptions for bad input."""

import errno
import os
import pathlib
import threading

import pytest

import pwalk
import reportcheck
from conftest import make_hostile_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_hostile_tree(os.fsencode(tmp_path_factory.mktemp("run") / "tree"), big=200)


def test_dict_pipeline_with_two_sinks_and_an_error_file(tree, tmp_path):
    a, b = str(tmp_path / "a.csv"), str(tmp_path / "b.csv.lz4")
    errs = str(tmp_path / "errors.csv")
    s = pwalk.run({
        "version": 1,
        "scan": {"roots": [os.fsdecode(tree)], "threads": 2, "errors": errs,
                 "snapshot_names": [".snapshot", ".zfs"]},
        "sinks": [{"name": "plain", "plugin": "csv", "options": {"path": a}},
                  {"name": "small", "plugin": "csv-lz4", "options": {"path": b, "level": 3}}],
    })
    assert s.status == 0 and s.ok and s.message == ""
    assert s.outputs == {"plain": a, "small": b}
    assert s.sink_rows["plain"] == s.sink_rows["small"] == s.rows
    assert s.errors == [] and s.error_count == 0
    assert s.errors_path == errs and os.path.exists(errs)
    assert s.filtered["snapshot"] == 2  # the two .snapshot directories
    rows = reportcheck.parse(reportcheck.read_bytes(a))
    assert len(rows) == s.rows
    reportcheck.check_rows(rows, [tree])
    assert sorted(reportcheck.read_bytes(a).split(b"\n")) == sorted(
        reportcheck.read_bytes(b).split(b"\n"))
    assert s.entries == s.rows + s.filtered["snapshot"]


def test_yaml_file_roots_and_sets(tree, tmp_path):
    cfg = tmp_path / "p.yaml"
    cfg.write_text("version: 1\n"
                   "scan:\n  roots: [/nonexistent-replaced-below]\n"
                   "sinks:\n  - name: inv\n    plugin: csv\n"
                   "    options: {path: never.csv, header: false}\n")
    out = str(tmp_path / "set.csv")
    s = pwalk.run(str(cfg), roots=os.path.join(tree, b"dirs"), max_threads=3,
                  sets=["inv.path=" + out, "inv.header=true", "scan.skip_snapshots=false"])
    assert s.status == 0 and s.outputs == {"inv": out}
    rows = reportcheck.parse(reportcheck.read_bytes(out), header=True)
    reportcheck.check_rows(rows, [os.path.join(tree, b"dirs")], skip_snapshots=False)


def test_bad_yaml_and_unknown_keys_are_value_errors(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("version: 1\nscan:\n  rootz: [.]\nsinks: []\n")
    with pytest.raises(ValueError) as e:
        pwalk.run(str(cfg))
    assert isinstance(e.value, pwalk.ConfigError) and isinstance(e.value, pwalk.Error)
    assert "rootz" in str(e.value) and "bad.yaml:3" in str(e.value)
    cfg.write_text("version: 1\nsinks: [\n")
    with pytest.raises(pwalk.ConfigError, match="bad.yaml"):
        pwalk.run(str(cfg), roots=str(tmp_path))


def test_bad_sink_options_name_the_key(tmp_path):
    with pytest.raises(pwalk.ConfigError, match="escape"):
        pwalk.run({"version": 1, "sinks": [{"name": "x", "plugin": "csv",
                                            "options": {"escape": "html"}}]}, str(tmp_path))
    with pytest.raises(pwalk.ConfigError, match="colour"):
        pwalk.run({"version": 1, "sinks": [{"name": "x", "plugin": "csv",
                                            "options": {"colour": "red"}}]}, str(tmp_path))
    with pytest.raises(pwalk.ConfigError, match="level"):
        pwalk.run({"version": 1, "sinks": [{"name": "x", "plugin": "csv-zstd",
                                            "options": {"level": 99}}]}, str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_unknown_plugin_and_mutation_without_consent(tmp_path):
    with pytest.raises(pwalk.ConfigError, match="no-such-plugin"):
        pwalk.run({"version": 1, "sinks": [{"name": "x", "plugin": "no-such-plugin"}]},
                  str(tmp_path))
    if os.path.exists(os.path.join(pwalk.PLUGIN_DIR, "repair-action")):
        with pytest.raises(pwalk.ConfigError, match="allow_mutation"):
            pwalk.run({"version": 1, "sinks": [{"name": "r", "plugin": "repair-action"}]},
                      str(tmp_path))


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        pwalk.run({"version": 1, "sinks": [{"name": "x", "plugin": "csv",
                                            "options": {"path": str(tmp_path / "o.csv")}}]},
                  [str(tmp_path), str(tmp_path / "gone")])
    assert e.value.filename == str(tmp_path / "gone")
    assert os.listdir(tmp_path) == []


def test_missing_config_file_is_file_not_found(tree, tmp_path):
    # like open(): an OSError with errno and the name as given, not a
    # ConfigError about a file that is not there
    missing = str(tmp_path / "nofile.yaml")
    with pytest.raises(FileNotFoundError) as e:
        pwalk.run(missing, tree)
    assert e.value.errno == errno.ENOENT and e.value.filename == missing
    assert not isinstance(e.value, pwalk.Error)
    with pytest.raises(FileNotFoundError) as e:
        pwalk.run(pathlib.Path(missing))
    assert e.value.filename == missing
    with pytest.raises(FileNotFoundError) as e:
        pwalk.run(os.fsencode(missing), ranks=2)  # before looking for pwalk-mpi
    assert e.value.filename == os.fsencode(missing)
    with pytest.raises(FileNotFoundError) as e:
        pwalk.report(tree, config=missing)
    assert e.value.filename == missing
    assert os.listdir(tmp_path) == []


def test_no_roots_at_all():
    with pytest.raises(pwalk.ConfigError, match="no paths"):
        pwalk.run({"version": 1, "sinks": [{"name": "x", "plugin": "csv"}]})


def test_sink_failure_is_a_plugin_error(tmp_path):
    with pytest.raises(pwalk.PluginError) as e:
        pwalk.run({"version": 1, "sinks": [{"name": "out", "plugin": "csv", "options": {
            "path": str(tmp_path / "missing-dir" / "o.csv")}}]}, str(tmp_path))
    assert e.value.sink == "out" and e.value.status == 2
    assert "missing-dir" in str(e.value)
    # the plugin's own words, a field of the result (not cut out of the text)
    assert "missing-dir" in e.value.sink_message
    assert str(e.value).startswith("sink 'out': ") and not e.value.sink_message.startswith("sink")


def test_concurrent_runs_from_threads(tree, tmp_path):
    results, failures = {}, []

    def one(i):
        try:
            out = str(tmp_path / f"t{i}.csv")
            results[i] = pwalk.run({"version": 1, "sinks": [
                {"name": "x", "plugin": "csv", "options": {"path": out}}]}, tree)
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len({r.rows for r in results.values()}) == 1
    for i in range(4):
        reportcheck.check_rows(reportcheck.parse(reportcheck.read_bytes(
            str(tmp_path / f"t{i}.csv"))), [tree])


def test_yaml_emitter_round_trips_awkward_values(tmp_path):
    from pwalk import _yaml
    odd = str(tmp_path / 'we"ird: name #1 [x]') + ".csv"
    text = _yaml.dump({"version": 1, "sinks": [{"name": "s", "plugin": "csv",
                                                "options": {"path": odd, "header": False}}]})
    assert "we\\\"ird" in text
    s = pwalk.run({"version": 1, "sinks": [{"name": "s", "plugin": "csv",
                                            "options": {"path": odd, "header": False}}]},
                  str(tmp_path))
    assert s.outputs["s"] == odd and os.path.exists(odd)
    with pytest.raises(ValueError):
        _yaml.dump({"x": b"\xff"})


def test_package_origin():
    """Under Bazel the package, its extension and its plugins must be the
    ones Bazel built into the runfiles, never an installed copy."""
    srcdir = os.environ.get("TEST_SRCDIR")
    if not srcdir:
        pytest.skip("not under Bazel")
    here = os.path.dirname(os.path.abspath(pwalk.__file__))
    assert here.startswith(os.path.abspath(srcdir))
    ext = pwalk._pwalk.__file__
    assert os.path.dirname(os.path.abspath(ext)) == here
    assert "/bazel-out/" in os.path.realpath(ext)
    for name in ("csv", "csv-zstd", "csv-gzip", "csv-lz4"):
        so = os.path.join(pwalk.PLUGIN_DIR, name, name + ".so")
        assert "/bazel-out/" in os.path.realpath(so), so


def test_summary_holds_the_engines_summary_after_a_successful_run(tree, tmp_path):
    # issue 13 #15: Summary.summary was '' unless the scan failed
    out = str(tmp_path / "ok.csv")
    s = pwalk.run({"version": 1, "scan": {"roots": [os.fsdecode(tree)]},
                   "sinks": [{"name": "inv", "plugin": "csv", "options": {"path": out}}]})
    assert s.status == 0
    first = s.summary.splitlines()[0]
    assert first.startswith(f"pwalk: {s.entries} entries in "), s.summary
    assert f"{s.rows} rows, 0 errors" in first
    assert first.endswith(f"; sink 'inv': {s.sink_rows['inv']} rows"), first


FAILSINK_DIR = os.path.join(os.environ.get("TEST_SRCDIR", ""), "pwalk", "tests", "faults",
                            "fixtures")


@pytest.mark.parametrize("strict", [False, True])
def test_entries_changed_mid_scan_are_vanished_not_errors(tmp_path, strict):
    # issue 13 #11: a directory replaced between its lstat and its open (the
    # fixture sink swaps it at the first rows, one worker) is in
    # Summary.vanished, not in errors; status 0 unless scan.strict
    if not os.path.exists(os.path.join(FAILSINK_DIR, "failsink.so")):
        pytest.skip("the failsink fixture plugin is built only by Bazel (//tests/faults)")
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    (top / "trigger").write_text("x")
    errs = tmp_path / "errors.csv"
    s = pwalk.run({
        "version": 1, "plugin_path": [FAILSINK_DIR],
        "scan": {"threads": 1, "strict": strict, "errors": str(errs)},
        "sinks": [{"name": "inv", "plugin": "csv", "options": {"path": str(tmp_path / "r.csv")}},
                  {"name": "churn", "plugin": "failsink",
                   "options": {"mutate": "replace", "mutate_path": str(top / "sub")}}],
    }, [str(top)])
    assert s.status == (1 if strict else 0), s.summary
    assert s.errors == [] and s.error_count == 0
    assert s.vanished == [pwalk.EntryError(str(top / "sub"), 0, "replaced by another directory",
                                           "opendir")]
    assert ", 1 vanished (gone 0, replaced 1), " in s.summary
    assert errs.read_text().splitlines() == [
        "path,errno,error,operation,kind",
        f'"{top / "sub"}",0,"replaced by another directory","opendir",replaced']
