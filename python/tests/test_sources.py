"""setup.py's source lists have one home: the Bazel targets the extension
and the shipped plugins are built from.  Bazel writes them out (//python:sources_manifest); the copy
checked in as python/extension_sources.txt (what pip's offline build reads)
must be that file exactly, and setup.py must compile exactly its sources.
A file moved, added or split in the library fails here until the copy is
refreshed (the failure prints the command)."""

import os
import runpy
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.path.dirname(HERE)
GENERATED = os.path.join(PYTHON, "sources_manifest.txt")
CHECKED_IN = os.path.join(PYTHON, "extension_sources.txt")

pytestmark = pytest.mark.skipif(not os.path.exists(GENERATED),
                                reason="the generated manifest exists only under Bazel")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_checked_in_manifest_is_what_bazel_builds():
    want = read(GENERATED)
    assert read(CHECKED_IN) == want, (
        "python/extension_sources.txt is out of date with the Bazel targets the extension "
        "is built from; refresh it:\n  bazel build //python:sources_manifest && cp "
        "bazel-bin/python/sources_manifest.txt python/extension_sources.txt\n"
        "It should read:\n" + want)


def sections(text):
    out, cur = {}, None
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        if line[0] == "[":
            cur = out.setdefault(line[1:-1], [])
        else:
            cur.append(line.split(" ", 1))
    return out


def test_manifest_lists_the_library_not_the_cli():
    parts = sections(read(GENERATED))
    srcs = {v for k, v in parts["extension"] if k == "src"}
    assert "python/src/_pwalk.c" in srcs
    assert any(s.startswith("engine/") for s in srcs)
    assert "engine/main.c" not in srcs and "engine/mpi_main.c" not in srcs
    assert all(os.path.basename(s) != "main.c" for s in srcs), srcs
    assert ["hdr", "include/pwalk/pwalk.h"] in parts["extension"]
    # the plugins the package ships, each from its own folder; not the template
    plugins = {t.split(" ", 1)[1] for t in parts if t.startswith("plugin ")}
    assert {"csv", "csv-gzip", "csv-lz4", "csv-zstd", "repair-action"} <= plugins
    assert "template" not in plugins
    for name in plugins:
        srcs = [v for k, v in parts["plugin " + name] if k == "src"]
        assert any(s.startswith("plugins/%s/" % name) for s in srcs), (name, srcs)
        assert not any(s.startswith("engine/") for s in srcs), (name, srcs)


def test_setup_py_compiles_exactly_the_manifest(monkeypatch):
    """Run setup.py from the checkout (the runfiles link to it) with
    setuptools.setup() replaced: the extension's sources are the manifest's."""
    import setuptools
    setup_py = os.path.realpath(os.path.join(PYTHON, "setup.py"))
    repo = os.path.dirname(os.path.dirname(setup_py))
    captured = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: captured.update(kw))
    monkeypatch.setattr(sys, "argv", [setup_py, "--name"])
    ns = runpy.run_path(setup_py)
    ext, = captured["ext_modules"]
    manifest = ns["read_manifest"](CHECKED_IN)["extension"]
    assert ext.sources == [os.path.join(repo, s) for s in manifest["src"]]
    assert sorted(ext.libraries) == sorted(o[2:] for o in manifest["link"] if o[:2] == "-l")
    for inc in manifest["include"]:
        assert os.path.join(repo, inc) in ext.include_dirs
    for s in ext.sources:
        assert os.path.isfile(s), s
    plugins = dict(ns["manifest_plugins"]())
    assert set(plugins) == {t.split(" ", 1)[1] for t in sections(read(CHECKED_IN))
                            if t.startswith("plugin ")}
