"""Which #include may cross which folder (tools/layering/BUILD).

Bazel's visibility refuses a wrong-way *dependency* (scripts/check_layering.sh
proves it), but not a wrong-way *include*: a target may include any header
of its transitive deps, so a driver linking //engine:pwalk could still
include engine/walk.h and build.  This test reads every C source of the
library, the drivers, the plugins and common/ and resolves each quoted
include to the file it names; a file of a side it may not use fails, named
with its line.  The probes under tools/layering/probes must each be caught
(so a check that silently matched nothing cannot pass).

Sides and what each may include besides its own files and system headers:
  common   include/, common/
  library  include/, common/            (engine/*, not its subfolders)
  drivers  include/, common/            (engine/cli, engine/mpi, python/src)
  plugins  include/, common/, plugins/
The real tree is read through the runfiles' link to it: the target is
tagged "external" so it runs every time, not from a cache that would not
know a source changed."""

import os
import re

import pytest

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SOURCE_EXT = (".c", ".h", ".cc")

# side -> sides whose files it may include (its own always)
ALLOWED = {
    "common": {"include"},
    "library": {"include", "common"},
    "drivers": {"include", "common"},
    "plugins": {"include", "common"},
}


def repo_root():
    """The source tree: README.md in the runfiles links into it."""
    here = os.path.join(os.environ.get("TEST_SRCDIR", ""),
                        os.environ.get("TEST_WORKSPACE", "pwalk"), "README.md")
    if os.path.exists(here):
        return os.path.dirname(os.path.realpath(here))
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def side_of(rel):
    """The side a repository path belongs to, or None (tests, tools, ...)."""
    parts = rel.split("/")
    if parts[0] == "include":
        return "include"
    if parts[0] == "common":
        return "common"
    if parts[0] == "plugins":
        return "plugins"
    if parts[0] == "engine":
        if len(parts) == 2:
            return "library"
        return "drivers" if parts[1] in ("cli", "mpi") else None
    if parts[:2] == ["python", "src"]:
        return "drivers"
    if parts[:3] == ["tools", "layering", "probes"] and len(parts) > 4:
        return {"library": "library", "driver": "drivers", "plugin": "plugins",
                "common": "common"}.get(parts[3])
    return None


def resolve(root, rel_from, name):
    """The repository path an include names, as the compiler would find it:
    beside the including file, from the repository root (Bazel's -iquote .),
    from include/ (//include's includes), or, for a bare name, from a
    folder a Bazel target adds with includes = ["."] -- any folder holding
    a file of that name on the including side's reach.  None if not found
    in the repository (a system or generated header)."""
    here = os.path.dirname(rel_from)
    for cand in (os.path.join(here, name), name, os.path.join("include", name)):
        cand = os.path.normpath(cand)
        if not cand.startswith("..") and os.path.isfile(os.path.join(root, cand)):
            return cand
    if "/" not in name:
        for top in ("engine", "plugins", "common"):
            for dirpath, _, files in os.walk(os.path.join(root, top)):
                if name in files:
                    return os.path.relpath(os.path.join(dirpath, name), root)
    return None


def sources(root, top):
    for dirpath, dirs, files in os.walk(os.path.join(root, top)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if f.endswith(SOURCE_EXT):
                yield os.path.relpath(os.path.join(dirpath, f), root)


def violations(root, files):
    """[(file, line, include, target side, file side)] for each include of a
    side the file's side may not use."""
    out = []
    for rel in files:
        side = side_of(rel)
        if side not in ALLOWED:
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for m in INCLUDE_RE.finditer(text):
            target = resolve(root, rel, m.group(1))
            if target is None:
                continue
            tside = side_of(target)
            if tside is None or tside == side or tside in ALLOWED[side]:
                continue
            out.append((rel, text.count("\n", 0, m.start()) + 1, m.group(1), tside, side))
    return out


ROOT = repo_root()
PROBES = "tools/layering/probes"


def test_the_tree_is_there():
    for top in ("engine", "plugins", "common", "include"):
        assert os.path.isdir(os.path.join(ROOT, top)), f"{ROOT}/{top}: not the source tree"
    assert any(side_of(f) == "library" for f in sources(ROOT, "engine"))
    assert any(side_of(f) == "plugins" for f in sources(ROOT, "plugins"))


def test_no_wrong_way_include():
    files = [f for top in ("engine", "plugins", "common", "python/src")
             for f in sources(ROOT, top)]
    bad = violations(ROOT, files)
    assert not bad, "\n".join(
        f"{rel}:{line}: #include \"{inc}\" is {tside} code, which {side} code may not "
        f"include (tools/layering/BUILD)" for rel, line, inc, tside, side in bad)


@pytest.mark.parametrize("probe,side", [
    ("driver/private_header.c", "drivers"),
    ("plugin/private_header.c", "plugins"),
])
def test_the_probes_are_caught(probe, side):
    rel = f"{PROBES}/{probe}"
    assert side_of(rel) == side
    bad = violations(ROOT, [rel])
    assert [(inc, tside) for _, _, inc, tside, _ in bad] == [("engine/walk.h", "library")]


def test_a_driver_including_plugin_code_is_caught(tmp_path):
    # the Python extension once compiled the read-ahead from
    # plugins/walk-iterator; it lives in python/src now
    (tmp_path / "python" / "src").mkdir(parents=True)
    (tmp_path / "plugins" / "walk-iterator").mkdir(parents=True)
    (tmp_path / "plugins" / "walk-iterator" / "walkahead.h").write_text("")
    (tmp_path / "python" / "src" / "_pwalk.c").write_text(
        '#include "plugins/walk-iterator/walkahead.h"\n')
    bad = violations(str(tmp_path), ["python/src/_pwalk.c"])
    assert [(inc, t, s) for _, _, inc, t, s in bad] == [
        ("plugins/walk-iterator/walkahead.h", "plugins", "drivers")]


def test_a_bare_name_reaching_another_side_is_caught(tmp_path):
    # "csvrow.h" through includes = ["."] was how engine/report.c reached
    # plugins/csv_common before common/ existed
    (tmp_path / "engine").mkdir()
    (tmp_path / "plugins" / "x").mkdir(parents=True)
    (tmp_path / "plugins" / "x" / "row.h").write_text("")
    (tmp_path / "engine" / "report.c").write_text('#include "row.h"\n#include <stdio.h>\n')
    (tmp_path / "engine" / "ok.c").write_text('#include "ok.h"\n')
    (tmp_path / "engine" / "ok.h").write_text("")
    bad = violations(str(tmp_path), ["engine/report.c", "engine/ok.c"])
    assert [(r, line, inc, t) for r, line, inc, t, _ in bad] == [
        ("engine/report.c", 1, "row.h", "plugins")]
