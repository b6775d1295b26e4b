"""pwalk.report(): every compressor, read back with its CLI and checked row
by row against lstat; errors for unreadable directories; the same bytes as
the pwalk-engine command line."""

import errno
import glob
import os
import subprocess

import pytest

import pwalk
import reportcheck
from conftest import chown_tree, make_hostile_tree, open_path_to, run_as_nobody


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_hostile_tree(os.fsencode(tmp_path_factory.mktemp("report") / "tree"), big=500)


def no_temporaries(directory):
    return [n for n in os.listdir(directory) if ".pwalk-tmp-" in n]


@pytest.mark.parametrize("compress,suffix", [("auto", ".zst"), ("zstd", ".zst"),
                                             ("gzip", ".gz"), ("lz4", ".lz4"), ("none", "")])
def test_every_compressor_default_output(tree, tmp_path, monkeypatch, compress, suffix):
    monkeypatch.chdir(tmp_path)
    path, errors = pwalk.report(tree, compress=compress)
    assert path == "scan.csv" + suffix
    assert errors == []
    rows = reportcheck.parse(reportcheck.read_bytes(path))
    by_path = reportcheck.check_rows(rows, [tree])
    reportcheck.depth_ok(by_path, tree)
    assert no_temporaries(tmp_path) == []
    assert os.listdir(tmp_path) == [path]


@pytest.mark.parametrize("name,plugin_suffix", [("out.csv.zst", ".zst"), ("out.csv.gz", ".gz"),
                                                ("out.csv.lz4", ".lz4"), ("out.csv", "")])
def test_auto_follows_the_output_suffix(tree, tmp_path, name, plugin_suffix):
    out = tmp_path / name
    path, errors = pwalk.report(os.fsdecode(tree), out)
    assert path == str(out)  # os.fspath of what was given
    rows = reportcheck.parse(reportcheck.read_bytes(str(out)))
    reportcheck.check_rows(rows, [tree])


def test_explicit_compressor_keeps_the_given_name(tree, tmp_path):
    out = str(tmp_path / "report.data")
    path, _ = pwalk.report(tree, out, compress="gzip")
    assert path == out
    with open(out, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"  # gzip, under the name asked for


@pytest.mark.parametrize("escape", ["lossless", "dey"])
@pytest.mark.parametrize("header", [True, False])
def test_header_and_escape(tree, tmp_path, header, escape):
    out = str(tmp_path / "r.csv")
    pwalk.report(tree, out, header=header, escape=escape)
    data = reportcheck.read_bytes(out)
    first = data.split(b"\n", 1)[0].decode("utf-8", "replace")
    assert (first == reportcheck.HEADER) == header
    if escape == "lossless":
        rows = reportcheck.parse(data, header=header)
        reportcheck.check_rows(rows, [tree])
        assert b"new\\x0aline" in data and b"bad\\xffutf8" in data
    else:
        # pwalk's bytes: control bytes dropped, invalid UTF-8 raw
        assert b"newline" in data and b"bad\xffutf8" in data


def test_str_and_bytes_roots_and_several_roots(tree, tmp_path):
    a = os.path.join(tree, b"dirs")
    b = os.path.join(tree, b"files")
    out = str(tmp_path / "r.csv")
    path, errors = pwalk.report([os.fsdecode(a), os.fsdecode(b)], out)
    rows = reportcheck.parse(reportcheck.read_bytes(out))
    reportcheck.check_rows(rows, [a, b])
    with pytest.raises(TypeError):
        pwalk.report([a, os.fsdecode(b)], out)


def test_snapshots(tree, tmp_path):
    out = str(tmp_path / "r.csv")
    pwalk.report(tree, out, ignore_snapshots=False)
    rows = reportcheck.parse(reportcheck.read_bytes(out))
    reportcheck.check_rows(rows, [tree], skip_snapshots=False)
    assert any(b"/.snapshot/" in pwalk.unescape(r[3]) for r in rows)


def test_missing_root_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        pwalk.report(str(tmp_path / "nope"), str(tmp_path / "r.csv"))
    assert e.value.filename == str(tmp_path / "nope")
    with pytest.raises(FileNotFoundError) as e:
        pwalk.report(os.fsencode(tmp_path / "nope"), str(tmp_path / "r.csv"))
    assert e.value.filename == os.fsencode(tmp_path / "nope")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("compress,suffix", [("zstd", ".zst"), ("gzip", ".gz"), ("lz4", ".lz4")])
def test_a_csv_name_gets_the_compressors_suffix(tree, tmp_path, compress, suffix):
    # compressed data is never named plain .csv (DuckDB goes by the name):
    # the sink writes r.csv.zst, and that is the path returned
    out = str(tmp_path / "r.csv")
    path, _ = pwalk.report(tree, out, compress=compress)
    assert path == out + suffix
    assert os.listdir(tmp_path) == ["r.csv" + suffix]
    s = pwalk.run({"version": 1, "sinks": [{"name": "z", "plugin": "csv-" + compress,
                                            "options": {"path": str(tmp_path / "s.csv")}}]},
                  tree)
    assert s.outputs["z"] == str(tmp_path / "s.csv") + suffix
    assert os.path.exists(s.outputs["z"])


def test_a_suffix_contradicting_the_compressor_is_refused(tree, tmp_path):
    with pytest.raises(pwalk.PluginError) as e:
        pwalk.report(tree, str(tmp_path / "r.csv.gz"), compress="zstd")
    assert e.value.status == 2
    assert "name it '" + str(tmp_path / "r.csv.zst") + "'" in str(e.value)
    assert os.listdir(tmp_path) == []


def test_output_that_cannot_be_created_is_a_plugin_error(tree, tmp_path):
    with pytest.raises(pwalk.PluginError) as e:
        pwalk.report(tree, str(tmp_path / "no" / "such" / "dir" / "r.csv"))
    assert e.value.sink == "report"
    assert "r.csv" in str(e.value)
    assert not isinstance(e.value, ValueError)


def test_bad_arguments(tree, tmp_path):
    with pytest.raises(ValueError):
        pwalk.report(tree, compress="bzip2")
    with pytest.raises(ValueError):
        pwalk.report(tree, escape="html")
    with pytest.raises(ValueError):
        pwalk.report(tree, max_threads=0)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("threads", [1, 2, 8])
def test_thread_counts_give_the_same_rows(tree, tmp_path, threads):
    out = str(tmp_path / f"r{threads}.csv.zst")
    pwalk.report(tree, out, max_threads=threads)
    rows = reportcheck.parse(reportcheck.read_bytes(out))
    reportcheck.check_rows(rows, [tree])


def test_config_dict_instead(tree, tmp_path):
    out = str(tmp_path / "cfg.csv.gz")
    cfg = {"version": 1, "sinks": [{"name": "inv", "plugin": "csv-gzip",
                                    "options": {"path": out, "level": 6}}]}
    path, errors = pwalk.report(tree, config=cfg)
    assert path == out and errors == []
    reportcheck.check_rows(reportcheck.parse(reportcheck.read_bytes(out)), [tree])


def test_config_with_output_or_compress_is_refused(tree, tmp_path):
    # the pipeline's sinks decide the output: output= and compress= would
    # be ignored without a word, so they are refused, each named
    cfg = {"version": 1, "sinks": [{"name": "inv", "plugin": "csv",
                                    "options": {"path": str(tmp_path / "cfg.csv")}}]}
    with pytest.raises(ValueError, match=r"output cannot be given with config=") as e:
        pwalk.report(tree, str(tmp_path / "mine.csv"), config=cfg)
    assert not isinstance(e.value, pwalk.ConfigError)
    with pytest.raises(ValueError, match=r"compress cannot be given with config="):
        pwalk.report(tree, compress="gzip", config=cfg)
    with pytest.raises(ValueError, match=r"output, compress cannot be given"):
        pwalk.report(tree, tmp_path / "mine.csv", "none", config=cfg)
    # so are the scan options and ranks (ranks= would quietly run one process)
    for kw in ({"header": False}, {"escape": "dey"}, {"one_file_system": True},
               {"ignore_snapshots": False}):
        with pytest.raises(ValueError, match=f"{next(iter(kw))} cannot be given with config="):
            pwalk.report(tree, config=cfg, **kw)
    with pytest.raises(ValueError, match=r"ranks cannot be given.*pwalk\.run\(config, roots, ranks=N\)"):
        pwalk.report(tree, config=cfg, ranks=2)
    assert os.listdir(tmp_path) == []
    # the defaults spelled out are still the defaults
    path, errors = pwalk.report(tree, None, "auto", config=cfg)
    assert path == str(tmp_path / "cfg.csv") and errors == []


def engine_binary():
    """pwalk-engine built by Bazel (a data dependency of this test), if any."""
    base = os.environ.get("TEST_SRCDIR")
    if base:
        p = os.path.join(base, os.environ.get("TEST_WORKSPACE", "pwalk"), "pwalk-engine")
        if os.access(p, os.X_OK):
            return p
    return None


@pytest.mark.parametrize("compress", ["none", "zstd"])
def test_same_rows_as_the_command_line(tree, tmp_path, compress):
    engine = engine_binary()
    if not engine:
        pytest.skip("pwalk-engine is not in the runfiles (run under Bazel)")
    suffix = {"none": "", "zstd": ".zst"}[compress]
    plugin = {"none": "csv", "zstd": "csv-zstd"}[compress]
    py_out = str(tmp_path / ("py.csv" + suffix))
    cli_out = str(tmp_path / ("cli.csv" + suffix))
    pwalk.report(tree, py_out, compress)
    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"version: 1\nsinks:\n  - name: r\n    plugin: {plugin}\n"
                   f"    options: {{path: {cli_out}}}\n")
    subprocess.run([engine, "-q", "-c", str(cfg), os.fsdecode(tree)], check=True)
    a = reportcheck.read_bytes(py_out).split(b"\n")
    b = reportcheck.read_bytes(cli_out).split(b"\n")
    assert a[0] == b[0] == reportcheck.HEADER.encode()
    assert sorted(a[1:]) == sorted(b[1:])


UNPRIVILEGED_REPORT = r"""
import json, os, pwalk
top, out = TOP, OUT
res = {}
for kind in ("str", "bytes"):
    t = os.fsdecode(top) if kind == "str" else top
    path, errors = pwalk.report(t, out, "none")
    res[kind] = [[type(e.path).__name__, os.fsdecode(e.path), e.errno, e.message, e.operation]
                 for e in errors]
print(json.dumps(res))
"""


def test_errors_for_unreadable_directories(tmp_path, world_package):
    base = tmp_path / "unpriv"
    top = os.fsencode(base / "tree")
    make_hostile_tree(top, big=20)
    locked = os.path.join(top, b"locked")
    os.makedirs(os.path.join(locked, b"inside"))
    noread = os.path.join(top, b"dirs", b"noread")
    os.makedirs(os.path.join(noread, b"x"))
    outdir = base / "out"
    outdir.mkdir()
    chown_tree(top, 65534)
    os.chown(outdir, 65534, 65534)
    os.chmod(locked, 0)
    os.chmod(noread, 0o311)
    open_path_to(top)
    out = str(outdir / "r.csv")
    code = UNPRIVILEGED_REPORT.replace("TOP", repr(top)).replace("OUT", repr(out))
    res = run_as_nobody(world_package, code)
    for kind, errors in res.items():
        want = {(os.fsdecode(locked), errno.EACCES), (os.fsdecode(noread), errno.EACCES)}
        assert {(e[1], e[2]) for e in errors} == want, errors
        for e in errors:
            assert e[0] == kind  # str roots give str paths, bytes give bytes
            assert e[3] == os.strerror(errno.EACCES)
            assert e[4] == "opendir"
    # the report is complete (status 1 is not an exception): the unreadable
    # directories have their rows, with pw_fcount -1
    rows = reportcheck.parse(reportcheck.read_bytes(out))
    by_path = {pwalk.unescape(r[3]): r for r in rows}
    assert by_path[locked][15] == "-1" and by_path[noread][15] == "-1"
    assert os.path.join(locked, b"inside") not in by_path
    reportcheck.check_rows(rows, [top], unreadable={locked, noread})


def test_no_output_left_after_a_failed_scan(tree, tmp_path):
    # a second sink that fails to start: nothing of the first is published
    out = str(tmp_path / "ok.csv")
    cfg = {"version": 1, "sinks": [
        {"name": "a", "plugin": "csv", "options": {"path": out}},
        {"name": "b", "plugin": "csv", "options": {"path": str(tmp_path / "x" / "b.csv")}}]}
    with pytest.raises(pwalk.PluginError):
        pwalk.run(cfg, tree)
    assert glob.glob(str(tmp_path / "*")) == []


@pytest.mark.parametrize("bad", ["bzip2", "ZSTD", "", None])
def test_bad_compress_message_starts_with_invalid_compress(tree, tmp_path, bad):
    # python-pwalk's scripts catch ValueError matching "Invalid compress"
    with pytest.raises(ValueError, match=r"^Invalid compress\b") as e:
        pwalk.report(tree, str(tmp_path / "r.csv"), compress=bad)
    assert repr(bad) in str(e.value)
    assert os.listdir(tmp_path) == []
