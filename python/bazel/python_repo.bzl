"""A repository for the Python that runs pwalk's Python tests under Bazel.

Bazel 4.2.3's default Python toolchain runs the first `python3` on PATH,
which on these machines may be a pyenv build without pytest.  This rule
pins the interpreter named by $PYTHON_BIN_PATH (default /usr/bin/python3,
Debian's, which has pytest from apt python3-pytest) and exposes its C
headers, found by asking that interpreter (what python3-config --includes
prints), so the extension is compiled for the Python that imports it.
"""

_BUILD = """
load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")

package(default_visibility = ["//visibility:public"])

# Python.h and friends for CPython extensions (cc_binary linkshared).
cc_library(
    name = "headers",
    hdrs = glob(["include/**/*.h"]),
    includes = ["include"],
)

py_runtime(
    name = "runtime",
    interpreter_path = "{python}",
    python_version = "PY3",
    stub_shebang = "#!{python}",
)

py_runtime_pair(
    name = "runtime_pair",
    py3_runtime = ":runtime",
)

toolchain(
    name = "toolchain",
    toolchain = ":runtime_pair",
    toolchain_type = "@bazel_tools//tools/python:toolchain_type",
)
"""

_PROBE = "import sys, sysconfig; print(sys.executable); print(sysconfig.get_paths()['include'])"

def _python_repo_impl(rctx):
    python = rctx.os.environ.get("PYTHON_BIN_PATH", "/usr/bin/python3")
    res = rctx.execute([python, "-c", _PROBE])
    if res.return_code != 0:
        fail("cannot run %s: %s" % (python, res.stderr))
    lines = res.stdout.strip().split("\n")
    executable, include = lines[0], lines[1]
    if not rctx.path(include + "/Python.h").exists:
        fail("%s has no Python.h in %s (apt install python3-dev)" % (python, include))
    rctx.symlink(include, "include")
    rctx.file("BUILD", _BUILD.format(python = executable))
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)

python_repo = repository_rule(
    implementation = _python_repo_impl,
    environ = ["PYTHON_BIN_PATH"],
    local = True,
)
