"""Build the pwalk Python package from this repository's C sources.

    /usr/bin/python3 -m venv --system-site-packages V
    V/bin/pip install --no-build-isolation ./python

(PyPI is never needed: setuptools and wheel come from Debian's
python3-setuptools / python3-wheel.)

The extension pwalk._pwalk is compiled from the engine's own sources
(../engine/*.c, the same files Bazel builds pwalk-engine from), so a scan
from Python is the CLI's scan.  A custom build_ext also builds every
plugin under ../plugins/NAME/NAME.c into pwalk/plugins/NAME/NAME.so, where
the package tells the engine to look.

This file reaches ../ : pip >= 21.3 builds in the source tree, so it can.
An older pip that copies ./python elsewhere first gets a clear error.
"""

import os
import re
import shutil
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ENGINE = os.path.join(REPO, "engine")
PLUGINS = os.path.join(REPO, "plugins")
COMMON = os.path.join(PLUGINS, "csv_common")
WALKAHEAD = os.path.join(PLUGINS, "walk-iterator")
INCLUDE = os.path.join(REPO, "include")
SHARED = os.path.join(REPO, "common")  # neutral code, "common/x.h" from REPO
VERSION_SCRIPT = os.path.join(PLUGINS, "plugin.lds")

if not os.path.isfile(os.path.join(ENGINE, "pipeline.c")):
    sys.exit("setup.py: the engine sources are not at %s; build from a pwalk checkout "
             "(pip >= 21.3 builds ./python in place: pip install --no-build-isolation "
             "./python)" % ENGINE)

# The engine as engine/BUILD's :pipeline and its dependencies (main.c is the
# CLI and stays out), plus the common/ files report.c writes the error
# file with.
ENGINE_SOURCES = [os.path.join(ENGINE, f + ".c") for f in (
    "config", "filter", "queue", "threads", "walk", "loader", "options", "sinks",
    "pipeline", "report")]
ENGINE_SOURCES += [os.path.join(SHARED, f) for f in ("csvrow.c", "outfile.c")]
ENGINE_SOURCES += [os.path.join(WALKAHEAD, "walkahead.c")]

# Same language level and warnings as .bazelrc; -O2 for speed.
CFLAGS = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-pthread"]

# Plugins that are examples rather than something the package ships.
SKIP_PLUGINS = {"template"}

# Which system libraries a csv_common source needs.
LIBS_OF = {"codec.c": ["zstd", "z", "lz4"]}

_INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def _includes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return _INCLUDE_RE.findall(f.read())


def _plugin_sources(plugin_dir):
    """A plugin's own .c files plus the csv_common and common/ sources it reaches
    through #include "x.h" (x.c beside x.h), following headers and sources
    transitively."""
    own = sorted(os.path.join(plugin_dir, f) for f in os.listdir(plugin_dir)
                 if f.endswith(".c") and not f.endswith("_test.c"))
    sources, libs = list(own), []
    todo, seen = list(own), set(own)
    while todo:
        for header in _includes(todo.pop()):
            name = os.path.basename(header)
            for d in (plugin_dir, COMMON, SHARED):
                h = os.path.join(d, name)
                if not os.path.exists(h):
                    continue
                c = os.path.splitext(h)[0] + ".c"
                for f in (h, c):
                    if os.path.exists(f) and f not in seen:
                        seen.add(f)
                        todo.append(f)
                        if f.endswith(".c"):
                            sources.append(f)
                            libs += LIBS_OF.get(os.path.basename(f), [])
                break
    return sources, sorted(set(libs))


def discover_plugins():
    """Every plugins/NAME/ whose BUILD makes NAME.so is a plugin (csv,
    csv-zstd, ..., repair-action): its .c files (tests aside) plus what they
    include from csv_common."""
    found = []
    for name in sorted(os.listdir(PLUGINS)):
        d = os.path.join(PLUGINS, name)
        build = os.path.join(d, "BUILD")
        if name in SKIP_PLUGINS or not os.path.isfile(build):
            continue
        with open(build, encoding="utf-8", errors="replace") as f:
            if '"%s.so"' % name not in f.read():
                continue
        sources, libs = _plugin_sources(d)
        if sources:
            found.append((name, d, sources, libs))
    return found


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
        for name, plugin_dir, sources, libs in discover_plugins():
            self._build_plugin(name, plugin_dir, sources, libs)

    def _plugin_root(self):
        if self.inplace:
            return os.path.join(HERE, "pwalk", "plugins")
        return os.path.join(self.build_lib, "pwalk", "plugins")

    def _build_plugin(self, name, plugin_dir, sources, libs):
        target = os.path.join(self._plugin_root(), name, name + ".so")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        objects = self.compiler.compile(
            sources,
            output_dir=os.path.join(self.build_temp, "plugins", name),
            include_dirs=[REPO, INCLUDE, COMMON, plugin_dir],
            extra_postargs=CFLAGS + ["-fPIC", "-fvisibility=hidden"],
            debug=self.debug)
        link = ["-pthread", "-Wl,--as-needed"]
        if os.path.isfile(VERSION_SCRIPT):
            # export only the entry point, as Bazel links plugins
            link.append("-Wl,--version-script=" + VERSION_SCRIPT)
        self.compiler.link_shared_object(objects, target, libraries=libs, extra_postargs=link)
        self._plugin_outputs.append(target)

    def get_outputs(self):
        return super().get_outputs() + list(getattr(self, "_plugin_outputs", []))


def _headers(*dirs):
    """The .h files of dirs: build_ext rebuilds _pwalk only when a source
    or one of its depends is newer than it, and it includes headers from
    all of these (the plugin API, common/, csv_common, the walk read-ahead)."""
    return sorted(os.path.join(d, h) for d in dirs for h in os.listdir(d) if h.endswith(".h"))


extension = Extension(
    "pwalk._pwalk",
    sources=[os.path.join("src", "_pwalk.c")] + ENGINE_SOURCES,
    # "engine/x.h" from the repository root, as Bazel compiles it
    include_dirs=[REPO, INCLUDE, COMMON],
    libraries=["yaml", "dl", "pthread"],
    extra_compile_args=CFLAGS,
    # only PyInit__pwalk is exported: the engine stays inside the extension
    extra_link_args=["-pthread", "-Wl,--version-script=" + os.path.join(HERE, "src",
                                                                        "_pwalk.lds")],
    depends=_headers(ENGINE, os.path.join(INCLUDE, "pwalk"), SHARED, COMMON, WALKAHEAD) +
    [os.path.join(HERE, "src", "_pwalk.lds")],
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
