"""Build the pwalk Python package from this repository's C sources.

    /usr/bin/python3 -m venv --system-site-packages V
    V/bin/pip install --no-build-isolation ./python

(PyPI is never needed: setuptools and wheel come from Debian's
python3-setuptools / python3-wheel.)

The extension pwalk._pwalk is compiled from libpwalk's own sources, the
files Bazel builds pwalk-engine's library from, as listed in
extension_sources.txt (written by Bazel, checked by //python:sources_test),
so a scan from Python is the CLI's scan.  A custom build_ext also builds every
plugin listed there (//plugins:all_plugins but the template) into
pwalk/plugins/NAME/NAME.so, where the package tells the engine to look.

This file reaches ../ : pip >= 21.3 builds in the source tree, so it can.
An older pip that copies ./python elsewhere first gets a clear error.
"""

import os
import shutil
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLUGINS = os.path.join(REPO, "plugins")
VERSION_SCRIPT = os.path.join(PLUGINS, "plugin.lds")

# What the extension and each plugin the package ships are compiled from:
# sources, headers, include directories, defines and link options.  Not a
# list kept here by hand: Bazel writes it from the targets it builds
# pwalk/_pwalk.so (libpwalk, the neutral code in common/, the walk()
# read-ahead, src/_pwalk.c) and //plugins:all_plugins from
# (//python:sources_manifest, python/bazel/cc_sources.bzl), and
# //python:sources_test fails when this checked-in copy differs from them.
MANIFEST = os.path.join(HERE, "extension_sources.txt")


def read_manifest(path=MANIFEST):
    """{section: {"src": [...], "hdr": [...], "include": [...], "define":
    [...], "link": [...]}}, sections "extension" and "plugin NAME", paths
    relative to REPO."""
    sections, kinds = {}, None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                kinds = sections.setdefault(line[1:-1], {
                    "src": [], "hdr": [], "include": [], "define": [], "link": []})
                continue
            kind, _, value = line.partition(" ")
            if kinds is None or kind not in kinds or not value:
                sys.exit("setup.py: %s:%d: not a manifest line: %r" % (path, number, line))
            kinds[kind].append(value)
    return sections


MANIFEST_SECTIONS = read_manifest()
SOURCES = MANIFEST_SECTIONS["extension"]
_missing = [f for s in MANIFEST_SECTIONS.values() for f in s["src"]
            if not os.path.isfile(os.path.join(REPO, f))]
if _missing:
    sys.exit("setup.py: the engine sources are not at %s (%s missing); build from a pwalk "
             "checkout (pip >= 21.3 builds ./python in place: pip install "
             "--no-build-isolation ./python)" % (REPO, _missing[0]))

# Same language level and warnings as .bazelrc; -O2 for speed.
CFLAGS = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-pthread"]


def _in_repo(paths):
    return [os.path.join(REPO, p) for p in paths]


def _split_link(options):
    """Link options -> (libraries, other flags)."""
    return ([o[2:] for o in options if o.startswith("-l")],
            [o for o in options if not o.startswith("-l")])


def _defines(defines):
    return [tuple(d.split("=", 1)) if "=" in d else (d, None) for d in defines]


def manifest_plugins():
    """(name, its manifest section) for every plugin the package ships."""
    return [(title.split(" ", 1)[1], kinds) for title, kinds in MANIFEST_SECTIONS.items()
            if title.startswith("plugin ")]


class BuildExt(build_ext):
    """build_ext plus the plugin shared objects (not Python extensions, so
    they are linked here rather than declared as Extensions)."""

    def run(self):
        super().run()
        self._plugin_outputs = []
        # Start from an empty plugin directory: a plugin removed or renamed
        # since an earlier build would otherwise stay in build/lib and be
        # packaged (and loaded) as if it were current.
        shutil.rmtree(self._plugin_root(), ignore_errors=True)
        for name, kinds in manifest_plugins():
            self._build_plugin(name, kinds)

    def _plugin_root(self):
        if self.inplace:
            return os.path.join(HERE, "pwalk", "plugins")
        return os.path.join(self.build_lib, "pwalk", "plugins")

    def _build_plugin(self, name, kinds):
        target = os.path.join(self._plugin_root(), name, name + ".so")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        objects = self.compiler.compile(
            _in_repo(kinds["src"]),
            output_dir=os.path.join(self.build_temp, "plugins", name),
            macros=_defines(kinds["define"]),
            include_dirs=[REPO] + _in_repo(kinds["include"]),
            extra_postargs=CFLAGS + ["-fPIC", "-fvisibility=hidden"],
            depends=_in_repo(kinds["hdr"]),
            debug=self.debug)
        libs, flags = _split_link(kinds["link"])
        link = flags + ["-Wl,--as-needed"]
        if os.path.isfile(VERSION_SCRIPT):
            # export only the entry point, as Bazel links plugins
            link.append("-Wl,--version-script=" + VERSION_SCRIPT)
        self.compiler.link_shared_object(objects, target, libraries=libs, extra_postargs=link)
        self._plugin_outputs.append(target)

    def get_outputs(self):
        return super().get_outputs() + list(getattr(self, "_plugin_outputs", []))


extension = Extension(
    "pwalk._pwalk",
    sources=_in_repo(SOURCES["src"]),
    # "engine/x.h" from the repository root, as Bazel compiles it, and each
    # library's own include directories ("pwalk/pwalk.h" from include/)
    include_dirs=[REPO] + _in_repo(SOURCES["include"]),
    define_macros=_defines(SOURCES["define"]),
    libraries=_split_link(SOURCES["link"])[0],
    extra_compile_args=CFLAGS,
    # only PyInit__pwalk is exported: the engine stays inside the extension
    extra_link_args=_split_link(SOURCES["link"])[1] + [
        "-Wl,--version-script=" + os.path.join(HERE, "src", "_pwalk.lds")],
    # build_ext rebuilds _pwalk only when a source or one of these is newer
    depends=_in_repo(SOURCES["hdr"]) + [MANIFEST, os.path.join(HERE, "src", "_pwalk.lds")],
)

setup(
    name="pwalk",
    version="0.1.0",
    description="The pwalk parallel filesystem scanner from Python: walk(), report(), "
                "repair(), run()",
    license="GPL-2.0-only",
    python_requires=">=3.9",
    packages=["pwalk"],
    ext_modules=[extension],
    cmdclass={"build_ext": BuildExt},
    entry_points={"console_scripts": ["pwalk = pwalk.cli:main"]},
    zip_safe=False,
)
