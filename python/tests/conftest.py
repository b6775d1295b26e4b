"""Shared fixtures: hostile trees, running code as an unprivileged user,
counting this process's threads.

Under Bazel the package must come from the runfiles (the extension and
plugins Bazel just built), never from an installed copy: test_package_origin
checks that.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap

import pytest

import pwalk

NOBODY = 65534


def thread_count():
    """Threads of this process, C threads included (threading does not
    see the engine's or the read-ahead's threads)."""
    return len(os.listdir("/proc/self/task"))


def make_hostile_tree(root: bytes, big=3000):
    """A tree with the names and shapes os.walk must get right.  Returns
    the root (bytes)."""
    os.makedirs(root, exist_ok=True)

    def d(*parts):
        p = os.path.join(root, *parts)
        os.makedirs(p, exist_ok=True)
        return p

    def f(*parts, data=b"x"):
        p = os.path.join(root, *parts)
        with open(p, "wb") as fh:
            fh.write(data)
        return p

    names = [b"plain", b"with space", b"new\nline", b"tab\there", b'quote"s', b"back\\slash",
             b"comma,semi;", "caf\u00e9".encode(), "\U0001f600 emoji".encode(),
             b"bad\xffutf8", b"\xfe\xfe", b"-dash", b".hidden", b"..dots", b"x" * 255,
             b"ctrl\x01\x7f", b"a.tar.gz", b"noext."]
    d(b"files")
    for i, n in enumerate(names):
        d(b"dirs", n, b"inner")
        f(b"dirs", n, b"file%d.txt" % i, data=b"y" * i)
        f(b"files", n)
    # depth
    chain = [b"deep"] + [b"level%02d" % i for i in range(40)]
    d(*chain)
    f(*(chain + [b"bottom.txt"]))
    # empty directories, including an empty one at the top
    d(b"empty")
    d(b"dirs", b"empty-inside", b"e1", b"e2")
    # one directory needing several getdents64 calls
    big_dir = d(b"big")
    for i in range(big):
        with open(os.path.join(big_dir, b"entry-with-a-longish-name-%06d.dat" % i), "wb"):
            pass
    for i in range(20):
        d(b"big", b"subdir-%03d" % i, b"x")
    # symlinks: to a directory (relative and absolute), to a file, dangling,
    # to themselves, a loop to an ancestor, out of the tree
    d(b"target", b"t1", b"t2")
    f(b"target", b"t1", b"tf")
    os.symlink(b"target", os.path.join(root, b"link-to-dir"))
    os.symlink(os.path.join(root, b"target", b"t1"), os.path.join(root, b"abs-link-to-dir"))
    os.symlink(b"files/plain", os.path.join(root, b"link-to-file"))
    os.symlink(b"does-not-exist", os.path.join(root, b"dangling"))
    os.symlink(b"self-loop", os.path.join(root, b"self-loop"))
    d(b"loopy", b"a")
    os.symlink(b"..", os.path.join(root, b"loopy", b"a", b"up"))
    os.symlink(b"/usr/share/doc/python3", os.path.join(root, b"outside"))
    os.symlink(b"target", os.path.join(root, b"\xffbad-link"))
    # other file types
    os.mkfifo(os.path.join(root, b"fifo"))
    # snapshot directories (skipped by default)
    d(b".snapshot", b"hourly.0", b"data")
    d(b"dirs", b"plain", b".snapshot", b"daily")
    f(b".snapshot", b"hourly.0", b"data", b"old.txt")
    settle_atimes(root)
    return root


def settle_atimes(root: bytes):
    """List every directory once (symlinks not followed).  relatime sets a
    directory's atime at its first listing after a change: the scans do
    not list with an atime (O_NOATIME), but checking one report lists the
    tree, and the next report of the same tree, taken before, would then
    differ from lstat by a second whenever that listing crossed one."""
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            stack += [e.path for e in it if e.is_dir(follow_symlinks=False)]


@pytest.fixture
def hostile(tmp_path):
    return make_hostile_tree(os.fsencode(tmp_path / "tree"))


@pytest.fixture(scope="session")
def world_package():
    """The pwalk package under test copied where an unprivileged user can
    read it (Bazel's runfiles live under /root), symlinks resolved."""
    src = os.path.dirname(os.path.abspath(pwalk.__file__))
    base = tempfile.mkdtemp(prefix="pwalk-pkg-", dir="/tmp")  # not under /root
    shutil.copytree(src, os.path.join(base, "pwalk"), symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for dirpath, dirnames, filenames in os.walk(base):
        os.chmod(dirpath, 0o755)
        for n in filenames:
            os.chmod(os.path.join(dirpath, n), 0o755)
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def chown_tree(top, uid, gid=None):
    gid = uid if gid is None else gid
    os.lchown(top, uid, gid)
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), uid, gid)


def open_path_to(path):
    """Let everyone traverse the directories above path (pytest's tmp_path
    is private to root)."""
    p = os.path.dirname(os.path.abspath(os.fsdecode(path)))
    while p not in ("/", ""):
        st = os.stat(p)
        if not st.st_mode & stat.S_IXOTH:
            os.chmod(p, stat.S_IMODE(st.st_mode) | 0o711)
        p = os.path.dirname(p)


def run_as_nobody(package_dir, code, cwd=None, timeout=120):
    """Run Python code as uid/gid 65534 with the package under test
    importable; the code prints one JSON document, which is returned."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")

    def drop():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    env = dict(os.environ, PYTHONPATH=package_dir, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], preexec_fn=drop,
                       cwd=cwd or "/", env=env, capture_output=True, timeout=timeout)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return json.loads(r.stdout)
