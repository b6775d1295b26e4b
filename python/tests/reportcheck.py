"""Reading a pwalk CSV report back and checking every row against lstat
(the format: plugins/csv/FORMAT.md)."""

import csv
import io
import os
import shutil
import stat
import subprocess

import pwalk

HEADER = ('inode,parent-inode,directory-depth,"filename","fileExtension",UID,GID,st_size,'
          'st_dev,st_blocks,st_nlink,"st_mode",st_atime,st_mtime,st_ctime,pw_fcount,pw_dirsum')

DECOMPRESS = {".zst": ["zstd", "-dc"], ".gz": ["gzip", "-dc"], ".lz4": ["lz4", "-dc"]}


def read_bytes(path):
    """The CSV bytes of a report, decompressed with the codec's own CLI
    (what a user would do)."""
    path = os.fsdecode(path)
    for suffix, cmd in DECOMPRESS.items():
        if path.endswith(suffix):
            if not shutil.which(cmd[0]):
                import pytest
                pytest.skip(f"{cmd[0]} is not installed")
            return subprocess.run(cmd + [path], check=True, capture_output=True).stdout
    with open(path, "rb") as f:
        return f.read()


def parse(data, header=True):
    text = data.decode("utf-8")  # lossless escaping: always valid UTF-8
    lines = text.split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    if header:
        assert lines[0] == HEADER
        lines = lines[1:]
    else:
        assert not lines or lines[0] != HEADER
    rows = []
    for r in csv.reader(io.StringIO("\n".join(lines) + "\n")):
        assert len(r) == 17, r
        rows.append(r)
    return rows


def extension(name, is_dir):
    if is_dir:
        return b""
    dot = name.rfind(b".")
    return name[dot + 1:] if dot > 0 else b""


def _walk_nofollow(top):
    """os.walk without following a symlink even to classify it: os.walk's
    DirEntry.is_dir() stats through a link, and resolving a symlink sets
    its atime, so checking one report would change the atime the next
    report of the same tree is compared with."""
    stack = [top]
    while stack:
        d = stack.pop()
        dirs, files = [], []
        try:
            with os.scandir(d) as it:
                for e in it:
                    (dirs if e.is_dir(follow_symlinks=False) else files).append(e.name)
        except OSError:  # as os.walk: an unreadable directory lists nothing
            pass
        yield d, dirs, files
        stack.extend(os.path.join(d, n) for n in reversed(dirs))


def expected_entries(roots, skip_snapshots=True, unreadable=()):
    """Every path a scan of roots must report (as bytes), from os.walk;
    nothing below the directories the scan could not read."""
    out = set()
    for root in roots:
        root = os.fsencode(root)
        shown = root.rstrip(b"/") or b"/"
        out.add(shown)
        if not os.path.isdir(root) or os.path.islink(root):
            continue
        for dirpath, dirnames, filenames in _walk_nofollow(shown):
            if skip_snapshots:
                dirnames[:] = [d for d in dirnames if d != b".snapshot"]
            if dirpath in unreadable:
                dirnames[:] = []
                continue
            for n in dirnames + filenames:
                out.add(os.path.join(dirpath, n))
    return out


def check_rows(rows, roots, skip_snapshots=True, unreadable=()):
    """Compare every row with lstat; the set of paths with the tree.
    Returns {path: row}."""
    by_path = {}
    for r in rows:
        p = pwalk.unescape(r[3])
        assert p not in by_path, p
        by_path[p] = r
    # stat fields first: listing directories below may update their atime
    for p, r in by_path.items():
        st = os.lstat(p)
        is_root = int(r[2]) == -1
        is_dir = stat.S_ISDIR(st.st_mode)
        assert int(r[0]) == st.st_ino, p
        if is_root:
            assert int(r[1]) == 0
        else:
            assert int(r[1]) == os.lstat(os.path.dirname(p)).st_ino, p
        assert pwalk.unescape(r[4]) == (b"" if is_root else extension(os.path.basename(p), is_dir))
        assert (int(r[5]), int(r[6])) == (st.st_uid, st.st_gid), p
        assert int(r[7]) == st.st_size, p
        assert int(r[8]) == st.st_dev, p
        assert int(r[9]) == st.st_blocks, p
        assert int(r[10]) == st.st_nlink, p
        assert r[11] == "%07o" % st.st_mode, p
        assert (int(r[12]), int(r[13]), int(r[14])) == (
            int(st.st_atime), int(st.st_mtime), int(st.st_ctime)), p
    for p, r in by_path.items():
        st = os.lstat(p)
        if stat.S_ISDIR(st.st_mode) and p not in unreadable:
            names = os.listdir(p)
            assert int(r[15]) == len(names), p
            assert int(r[16]) == sum(os.lstat(os.path.join(p, n)).st_size for n in names), p
        elif stat.S_ISDIR(st.st_mode):
            assert (int(r[15]), int(r[16])) == (-1, 0), p
        else:
            assert (int(r[15]), int(r[16])) == (-1, 0), p
    assert set(by_path) == expected_entries(roots, skip_snapshots, unreadable)
    return by_path


def depth_ok(by_path, root):
    root = os.fsencode(root).rstrip(b"/") or b"/"
    for p, r in by_path.items():
        if p == root:
            assert int(r[2]) == -1
        else:
            rel = os.path.relpath(p, root)
            assert int(r[2]) == rel.count(b"/"), p
