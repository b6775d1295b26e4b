#!/bin/bash
# Install the Python package the way the README says, offline, from a clean
# copy of the sources, and smoke-test the installed copy:
#
#   bash python/install_check.sh [REPO]
#
# A fresh venv made with Debian's python3 (--system-site-packages: setuptools,
# wheel and pytest come from apt; PyPI is never contacted), then
# `pip install --no-build-isolation ./python`, which compiles the extension
# and every plugin from the engine's sources.  Prints "install check: ok".
set -euo pipefail
# only the venv decides what is imported (a test runner's PYTHONPATH would
# put another copy of pwalk first)
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP
repo=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
python=${PYTHON:-/usr/bin/python3}
# As root, not below /tmp: the engine refuses plugins below a directory
# others can write (README, "Plugins when running as root").  Under Bazel,
# the test's private TEST_TMPDIR.
tmp=${TEST_TMPDIR:-${TMPDIR:-}}
if [ -z "$tmp" ]; then
    if [ "$(id -u)" -eq 0 ]; then tmp=${HOME:-/root}/.cache; else tmp=/tmp; fi
    mkdir -p "$tmp"
fi
work=$(mktemp -d "$tmp/pwalk-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# What a clean checkout has: sources only, none of the local build outputs.
mkdir "$work/src"
tar -C "$repo" -cf - --exclude=build --exclude='*.egg-info' --exclude=__pycache__ \
    --exclude='*.so' --exclude='.pytest_cache' common engine include plugins python |
    tar -C "$work/src" -xf -

"$python" -m venv --system-site-packages "$work/venv"
PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$work/venv/bin/pip" install -q --no-build-isolation "$work/src/python"

cd "$work"   # away from the sources: import the installed package
"$work/venv/bin/python" - "$work/src" <<'PY'
import os, subprocess, sys
import pwalk
src = sys.argv[1]
here = os.path.dirname(pwalk.__file__)
assert "site-packages" in here, here
plugins = sorted(os.listdir(pwalk.PLUGIN_DIR))
for name in ("csv", "csv-gzip", "csv-lz4", "csv-zstd"):
    assert name in plugins, plugins
assert list(pwalk.walk(src, ignore_snapshots=False)) == list(os.walk(src))
path, errors = pwalk.report(src, "smoke.csv.zst")
assert errors == [] and path == "smoke.csv.zst"
csv = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
assert csv.startswith(b"inode,parent-inode,") and csv.count(b"\n") > 100
# scan(): the walk-iterator plugin built by pip, one entry per report row
rows = csv.count(b"\n") - 1
assert "walk-iterator" in plugins, plugins
assert sum(1 for _ in pwalk.scan(src)) == rows
# the summary plugin built by pip: its tables from the same walk as a report
assert "summary" in plugins, plugins
pwalk.report(src, "s.csv", summary="smoke-summary", summary_compress="zstd")
s = pwalk.read_summary("smoke-summary", pandas=False)
root = next(d for d in s.dirs if d.depth == -1)
assert root.path == src and root.files + root.dirs + 1 == s.info["entries"], s.info
print("installed", here, "with plugins", ", ".join(plugins))
PY
"$work/venv/bin/pwalk" --version
"$work/venv/bin/pwalk" walk "$work/src/include" > /dev/null
"$work/venv/bin/python" -m pwalk report -z none -o plain.csv "$work/src/include" > /dev/null
test -s plain.csv
echo "install check: ok"
