"""pwalk.walk() yields exactly what os.walk() yields.

Every case runs both on the same tree and compares the whole sequence of
(dirpath, dirnames, filenames) -- the lists as yielded, before any steering
-- and the errors passed to onerror (type, errno, strerror, filename).
"""

import errno
import os
import pathlib
import shutil
import sys

import pytest

import pwalk
from conftest import (chown_tree, make_hostile_tree, open_path_to, run_as_nobody,
                      thread_count)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_hostile_tree(os.fsencode(tmp_path_factory.mktemp("walk") / "tree"))


def record(gen, steer=None):
    out = []
    for dirpath, dirnames, filenames in gen:
        out.append((dirpath, list(dirnames), list(filenames)))
        if steer:
            steer(dirpath, dirnames)
    return out


def err_key(e):
    return (type(e), e.errno, e.strerror, e.filename)


def compare(top, steer=None, max_threads=None, **kw):
    ea, eb = [], []
    a = record(os.walk(top, onerror=ea.append, **kw), steer)
    b = record(pwalk.walk(top, onerror=eb.append, ignore_snapshots=False,
                          max_threads=max_threads, **kw), steer)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x == y
    assert [err_key(e) for e in ea] == [err_key(e) for e in eb]
    return a, ea


def as_kind(top, kind):
    if kind == "bytes":
        return top
    if kind == "str":
        return os.fsdecode(top)
    if kind == "pathlike":
        return pathlib.Path(os.fsdecode(top))
    if kind == "bytes-slash":
        return top + b"/"
    if kind == "str-slash":
        return os.fsdecode(top) + "//"
    raise AssertionError(kind)


@pytest.mark.parametrize("threads", [None, 0, 1, 4])
@pytest.mark.parametrize("kind", ["str", "bytes", "pathlike", "str-slash", "bytes-slash"])
@pytest.mark.parametrize("followlinks", [False, True])
@pytest.mark.parametrize("topdown", [True, False])
def test_same_as_os_walk(tree, topdown, followlinks, kind, threads):
    a, _ = compare(as_kind(tree, kind), topdown=topdown, followlinks=followlinks,
                   max_threads=threads)
    assert len(a) > 60  # the tree was really walked
    names = {n for _, d, f in a for n in d + f}
    # hostile names came through (as os.walk decodes them)
    assert any(("\n" in n) if isinstance(n, str) else (b"\n" in n) for n in names)
    assert any(("\udcff" in n) if isinstance(n, str) else (b"\xff" in n) for n in names)


def test_results_are_fresh_lists_of_the_right_type(tree):
    for top in (tree, os.fsdecode(tree)):
        for dirpath, dirnames, filenames in pwalk.walk(top):
            assert type(dirpath) is type(top)
            assert type(dirnames) is list and type(filenames) is list
            assert all(type(n) is type(top) for n in dirnames + filenames)


def name(n):
    return os.fsdecode(n)


def same_type(like, text):
    return os.fsencode(text) if isinstance(like, bytes) else text


def steer_prune(dirpath, dirnames):
    dirnames[:] = [d for d in dirnames if not name(d).startswith(("b", "l", "-"))]


def steer_reverse(dirpath, dirnames):
    dirnames.reverse()


def steer_sort(dirpath, dirnames):
    dirnames.sort()


def steer_clear_below_top(top):
    def steer(dirpath, dirnames):
        if dirpath != top:
            dirnames.clear()
    return steer


def steer_add(top):
    # names that are not there, files, symlinks to directories, repeats
    def steer(dirpath, dirnames):
        if dirpath == top:
            for extra in ("no-such-dir", "fifo", "link-to-file", "link-to-dir", "dangling",
                          "self-loop", "target"):
                dirnames.append(same_type(dirpath, extra))
            dirnames.insert(0, dirnames[-1])
    return steer


def steer_replace(dirpath, dirnames):
    # new objects equal to the old ones, in another order
    dirnames[:] = [type(d)(d) for d in sorted(dirnames, reverse=True)]


def steer_parent_later(top):
    # Edit the top's dirnames while one of its subdirectories is being
    # walked: 3.11's os.walk sees the change, 3.12's does not; pwalk.walk
    # must do what the running interpreter's os.walk does.
    lists = {}

    def steer(dirpath, dirnames):
        if dirpath == top:
            lists["top"] = dirnames
        elif "top" in lists and lists["top"]:
            lists["top"].pop()
            if not lists.get("added"):
                lists["added"] = True
                lists["top"].append(same_type(dirpath, "files"))
    return steer


@pytest.mark.parametrize("kind", ["str", "bytes"])
@pytest.mark.parametrize("followlinks", [False, True])
@pytest.mark.parametrize("how", ["prune", "reverse", "sort", "clear", "add", "replace",
                                 "parent-later"])
def test_steering_dirnames(tree, how, followlinks, kind):
    top = as_kind(tree, kind)
    steer = {"prune": steer_prune, "reverse": steer_reverse, "sort": steer_sort,
             "clear": steer_clear_below_top(top), "add": steer_add(top),
             "replace": steer_replace, "parent-later": steer_parent_later(top)}[how]
    a, errors = compare(top, steer=steer, followlinks=followlinks)
    if how == "add":
        kinds = {type(e) for e in errors}
        assert FileNotFoundError in kinds and NotADirectoryError in kinds


def test_pruned_subtrees_are_not_walked(tree):
    visited = []
    for dirpath, dirnames, filenames in pwalk.walk(tree):
        visited.append(dirpath)
        dirnames[:] = [d for d in dirnames if d != b"big" and d != b"deep"]
    assert not any(b"/big" in p or b"/deep" in p for p in visited)


def test_top_is_a_symlink_to_a_directory(tree):
    compare(os.path.join(tree, b"link-to-dir"))
    compare(os.path.join(tree, b"link-to-dir"), topdown=False)


@pytest.mark.parametrize("top", [b"/nonexistent-pwalk-test", b"", "", "/nonexistent/x"])
def test_missing_top_goes_to_onerror(top):
    a, errors = compare(top)
    assert a == [] and len(errors) == 1 and isinstance(errors[0], FileNotFoundError)
    assert list(pwalk.walk(top)) == []  # no onerror: silently nothing, like os.walk


def test_top_is_a_file(tree):
    a, errors = compare(os.path.join(tree, b"files", b"plain"))
    assert a == [] and isinstance(errors[0], NotADirectoryError)
    assert errors[0].errno == errno.ENOTDIR


def test_relative_tops(tree, monkeypatch):
    monkeypatch.chdir(os.path.dirname(tree))
    compare("tree")
    compare(b"tree", topdown=False)
    monkeypatch.chdir(tree)
    compare(".")
    compare(b"./dirs/")
    compare("dirs", followlinks=True)


def test_bad_top_types():
    with pytest.raises(TypeError):
        list(pwalk.walk(123))
    with pytest.raises(TypeError):
        list(os.walk(123))


def test_embedded_nul_raises_like_os_walk(tmp_path):
    with pytest.raises(ValueError):
        list(os.walk(str(tmp_path) + "/a\0b"))
    with pytest.raises(ValueError):
        list(pwalk.walk(str(tmp_path) + "/a\0b"))


def test_onerror_that_raises_ends_the_walk_and_its_threads():
    before = thread_count()

    def boom(e):
        raise RuntimeError(e.filename)
    with pytest.raises(RuntimeError, match="nonexistent"):
        list(pwalk.walk("/nonexistent-pwalk", onerror=boom))
    assert thread_count() == before


def snapshot_free_expectation(top, topdown):
    def drop(dirpath, dirnames):
        dirnames[:] = [d for d in dirnames if name(d) != ".snapshot"]
    if topdown:
        out = []
        for dirpath, dirnames, filenames in os.walk(top):
            drop(dirpath, dirnames)
            out.append((dirpath, list(dirnames), list(filenames)))
        return out
    sep = os.sep if isinstance(top, str) else os.sep.encode()
    snap = ".snapshot" if isinstance(top, str) else b".snapshot"
    out = []
    for dirpath, dirnames, filenames in os.walk(top, topdown=False):
        rel = os.path.relpath(dirpath, top)
        if snap in rel.split(sep):
            continue
        out.append((dirpath, [d for d in dirnames if d != snap], filenames))
    return out


@pytest.mark.parametrize("topdown", [True, False])
@pytest.mark.parametrize("kind", ["str", "bytes"])
def test_snapshots_are_skipped_by_default(tree, topdown, kind):
    top = as_kind(tree, kind)
    got = record(pwalk.walk(top, topdown=topdown))
    assert got == snapshot_free_expectation(top, topdown)
    assert not any(".snapshot" in name(p) for p, _, _ in got)


def test_unicode_tops_with_surrogate_escapes(tree):
    top = os.fsdecode(os.path.join(tree, b"dirs", b"bad\xffutf8"))
    assert "\udcff" in top
    a, _ = compare(top)
    assert a and a[0][0] == top
    compare(top, topdown=False)


def test_large_flat_directory(tmp_path):
    top = tmp_path / "flat"
    top.mkdir()
    for i in range(20000):
        (top / f"f{i:06d}-{'n' * (i % 40)}").touch()
    for i in range(200):
        (top / f"d{i:04d}").mkdir()
    a, _ = compare(str(top))
    assert len(a) == 201 and len(a[0][2]) == 20000


def test_deep_tree_beyond_os_walk_recursion(tmp_path):
    # 2100 levels (past PATH_MAX): 3.11's recursive os.walk would hit the recursion limit
    # here; pwalk.walk is iterative.  Compared with a plain scandir walk.
    top = os.fsencode(tmp_path / "deep")
    os.mkdir(top)
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(2100):
            os.mkdir(b"d", dir_fd=fd)
            nfd = os.open(b"d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
    finally:
        os.close(fd)
    try:
        got = list(pwalk.walk(top))
        assert len(got) >= 1000
        errs = []
        list(pwalk.walk(top, onerror=errs.append))
        # past PATH_MAX the paths fail exactly as os.scandir would
        assert errs and all(e.errno == errno.ENAMETOOLONG for e in errs)
        assert all(len(p) < 4096 for p, _, _ in got)
    finally:
        remove_chain(top)


def remove_chain(top):
    """Remove a d/d/d/... chain deeper than shutil.rmtree's recursion can
    go: cut it into pieces of 400 levels moved up under top first."""
    top_fd = os.open(top, os.O_RDONLY)
    fd = os.dup(top_fd)
    depth = piece = 0
    while True:
        try:
            nfd = os.open(b"d", os.O_RDONLY, dir_fd=fd)
        except FileNotFoundError:
            break
        os.close(fd)
        fd = nfd
        depth += 1
        if depth % 400 == 0:
            name = b"piece%d" % piece
            piece += 1
            try:
                os.rename(b"d", name, src_dir_fd=fd, dst_dir_fd=top_fd)
            except FileNotFoundError:
                break
            os.close(fd)
            fd = os.open(name, os.O_RDONLY, dir_fd=top_fd)
    os.close(fd)
    os.close(top_fd)
    shutil.rmtree(top)


UNPRIVILEGED_CODE = r"""
import json, os, sys
import pwalk
top = TOP
def record(gen):
    return [(p, list(d), list(f)) for p, d, f in gen]
def key(e):
    return [type(e).__name__, e.errno, e.strerror, os.fsdecode(e.filename)]
result = {"ok": True, "cases": 0, "errors": []}
for kind in ("str", "bytes"):
    t = os.fsdecode(top) if kind == "str" else top
    for topdown in (True, False):
        for followlinks in (False, True):
            for threads in (0, 3):
                ea, eb = [], []
                a = record(os.walk(t, topdown, ea.append, followlinks))
                b = record(pwalk.walk(t, topdown, eb.append, followlinks,
                                      max_threads=threads, ignore_snapshots=False))
                result["cases"] += 1
                if a != b or [key(e) for e in ea] != [key(e) for e in eb]:
                    result["ok"] = False
                    result["mismatch"] = [kind, topdown, followlinks, threads]
                result["errors"] = [key(e) for e in eb]
print(json.dumps(result))
"""


def test_unreadable_directories_and_onerror(tmp_path, world_package):
    top = os.fsencode(tmp_path / "unpriv" / "tree")
    make_hostile_tree(top, big=50)
    os.makedirs(os.path.join(top, b"locked", b"inside"))
    os.makedirs(os.path.join(top, b"listonly", b"sub"))
    os.makedirs(os.path.join(top, b"noread", b"sub"))
    os.symlink(b"../target", os.path.join(top, b"listonly", b"link"))
    chown_tree(top, 65534)
    os.chmod(os.path.join(top, b"locked"), 0o000)
    os.chmod(os.path.join(top, b"listonly"), 0o644)   # names, but no way in
    os.chmod(os.path.join(top, b"noread"), 0o311)     # a way in, but no names
    open_path_to(top)
    out = run_as_nobody(world_package, UNPRIVILEGED_CODE.replace("TOP", repr(top)))
    assert out["ok"], out
    assert out["cases"] == 16
    kinds = {tuple(e[:2]) for e in out["errors"]}
    assert ("PermissionError", errno.EACCES) in kinds
    failed = {os.path.basename(os.fsencode(e[3])) for e in out["errors"]}
    assert {b"locked", b"noread", b"sub"} <= failed


def test_walker_prune_cancels_read_ahead(tree):
    # the C read-ahead directly: pruned subtrees are cancelled, kept ones
    # are taken from the buffer, the buffer stays bounded
    w = pwalk._pwalk.Walker(4, False, None, max_bytes=1 << 20, max_dirs=64)
    try:
        err, dirs, files, _ = w.scan(tree, False)
        assert err == 0 and b"big" in dirs and b"deep" in dirs
        import time
        time.sleep(0.3)  # let the readers get ahead
        w.prune([b"files"])
        st = w.stats()
        assert st["readers"] == 4
        assert st["cancelled"] > 0
        assert st["peak_dirs"] <= 64 + 4
        err, dirs2, files2, _ = w.scan(os.path.join(tree, b"files"), False)
        assert err == 0 and b"plain" in files2
        w.pop()
        w.pop()
    finally:
        w.close()
    with pytest.raises(ValueError):
        w.scan(tree, False)


def test_walk_runs_on_threads_and_stops_them(tree):
    before = thread_count()
    g = pwalk.walk(tree, max_threads=3)
    next(g)
    assert thread_count() == before + 3
    g.close()
    assert thread_count() == before


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.11 os.walk checks top eagerly")
def test_type_error_at_call_time_like_311():
    with pytest.raises(TypeError):
        pwalk.walk(None)


def os_walk_312(top, topdown=True, onerror=None, followlinks=False):
    """Python 3.12's os.walk (iterative; dirnames read once after the
    yield), transcribed, to check pwalk.walk's 3.12 mode on any Python."""
    stack = [os.fspath(top)]
    islink, join = os.path.islink, os.path.join
    done = object()
    while stack:
        top = stack.pop()
        if isinstance(top, tuple) and top and top[0] is done:
            yield top[1]
            continue
        dirs, nondirs, walk_dirs = [], [], []
        try:
            scandir_it = os.scandir(top)
        except OSError as error:
            if onerror is not None:
                onerror(error)
            continue
        cont = False
        with scandir_it:
            while True:
                try:
                    try:
                        entry = next(scandir_it)
                    except StopIteration:
                        break
                except OSError as error:
                    if onerror is not None:
                        onerror(error)
                    cont = True
                    break
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                (dirs if is_dir else nondirs).append(entry.name)
                if not topdown and is_dir:
                    if followlinks:
                        walk_into = True
                    else:
                        try:
                            walk_into = not entry.is_symlink()
                        except OSError:
                            walk_into = True
                    if walk_into:
                        walk_dirs.append(entry.path)
        if cont:
            continue
        if topdown:
            yield top, dirs, nondirs
            for dirname in reversed(dirs):
                new_path = join(top, dirname)
                if followlinks or not islink(new_path):
                    stack.append(new_path)
        else:
            stack.append((done, (top, dirs, nondirs)))
            for new_path in reversed(walk_dirs):
                stack.append(new_path)


@pytest.mark.parametrize("how", ["none", "prune", "reverse", "add", "parent-later"])
@pytest.mark.parametrize("followlinks", [False, True])
@pytest.mark.parametrize("topdown", [True, False])
def test_the_312_shape_matches_312s_os_walk(tree, monkeypatch, how, followlinks, topdown):
    import pwalk._walk
    monkeypatch.setattr(pwalk._walk, "_OS_WALK_311", False)
    top = os.fsdecode(tree)
    steer = {"none": None, "prune": steer_prune, "reverse": steer_reverse,
             "add": steer_add(top), "parent-later": steer_parent_later(top)}[how]
    ea, eb = [], []
    a = record(os_walk_312(top, topdown, ea.append, followlinks), steer)
    steer = {"none": None, "prune": steer_prune, "reverse": steer_reverse,
             "add": steer_add(top), "parent-later": steer_parent_later(top)}[how]
    b = record(pwalk.walk(top, topdown, eb.append, followlinks, ignore_snapshots=False), steer)
    assert a == b
    assert [err_key(e) for e in ea] == [err_key(e) for e in eb]


def build_changing(top):
    """Four directories a..d, each with a subdirectory and a file "gone"
    that change_mid_walk removes."""
    for name in (b"a", b"b", b"c", b"d"):
        os.makedirs(os.path.join(top, name, b"sub"))
        for f in (b"gone", b"kept"):
            with open(os.path.join(top, name, f), "wb"):
                pass
    return top


def change_mid_walk(top):
    """A steer that changes the tree at the first yield, after some of it
    was listed: files removed and added, a listed directory removed, and
    another replaced by a symlink to a directory."""
    done = []

    def steer(dirpath, dirnames):
        if done:
            return
        done.append(dirpath)
        for name in (b"a", b"b", b"c", b"d"):
            d = os.path.join(top, name)
            if os.path.exists(os.path.join(d, b"gone")):
                os.unlink(os.path.join(d, b"gone"))
            if os.path.isdir(d):
                open(os.path.join(d, b"new"), "wb").close()
        shutil.rmtree(os.path.join(top, b"c"))
        shutil.rmtree(os.path.join(top, b"d"))
        os.symlink(b"a", os.path.join(top, b"d"))
    return steer


@pytest.mark.parametrize("shape", ["running", "3.12"])
@pytest.mark.parametrize("topdown", [True, False])
def test_max_threads_0_sees_changes_made_mid_walk_like_os_walk(tmp_path, monkeypatch,
                                                               topdown, shape):
    # With readers, a directory may be listed before the caller changes it
    # (documented); max_threads=0 lists each one when the walk gets there
    # and checks for symlinks then, as os.walk does, so even a tree changed
    # while it is walked gives os.walk's answer.
    import pwalk._walk
    reference = os.walk
    if shape == "3.12":
        monkeypatch.setattr(pwalk._walk, "_OS_WALK_311", False)
        reference = os_walk_312
    top = os.fsencode(tmp_path / "t")
    ea, eb = [], []
    build_changing(top)
    unchanged = record(reference(top, topdown))
    a = record(reference(top, topdown, ea.append), change_mid_walk(top))
    shutil.rmtree(top)
    build_changing(top)
    b = record(pwalk.walk(top, topdown, eb.append, max_threads=0, ignore_snapshots=False),
               change_mid_walk(top))
    assert a != unchanged  # the changes showed in os.walk's results
    assert a == b
    assert [err_key(e) for e in ea] == [err_key(e) for e in eb]
