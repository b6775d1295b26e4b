"""`pip install --no-build-isolation ./python` into a fresh venv works from a
clean copy of the sources (python/install_check.sh).  Slow (it compiles
everything): its own Bazel target, //python:install_test."""

import os
import shutil
import subprocess

import pytest


def repo_root():
    """The checkout: under Bazel the runfiles link to it."""
    here = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                         "install_check.sh"))
    root = os.path.dirname(os.path.dirname(here))
    if not os.path.isfile(os.path.join(root, "engine", "pipeline.c")):
        pytest.skip(f"no source checkout at {root}")
    return root, here


def test_pip_install_into_a_fresh_venv():
    root, script = repo_root()
    if subprocess.run(["/usr/bin/python3", "-c", "import venv, ensurepip"],
                      capture_output=True).returncode != 0:
        pytest.skip("python3-venv is not installed")
    if not shutil.which("zstd"):
        pytest.skip("zstd is not installed")
    r = subprocess.run(["bash", script, root], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "install check: ok" in r.stdout
