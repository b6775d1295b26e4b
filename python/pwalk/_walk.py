"""pwalk.walk(): os.walk() with the directories listed ahead by threads.

The generator below follows os.walk() of the running Python line by line
(3.11's recursive walk, 3.12's stack); the only difference is where a
listing comes from.  os.walk() calls os.scandir(path) when it gets to a
directory; here Walker.scan(path) returns the listing that reader threads
(python/src/oswalk_readahead.c) made while the caller was busy with the
previous directories, with the same names in the same order, the same
is_dir()/is_symlink() answers and the same errno when os.scandir() would
have failed.  Reader threads never call into Python: they fill a bounded
buffer and the generator takes from it, with the GIL released while it
waits.

The walk tells the readers what it will visit next: after each directory
is yielded (when the caller may have pruned or reordered dirnames) it
passes the surviving names to Walker.prune(), which cancels read-ahead
below the removed ones and moves the rest to the front of the queue.
Closing the generator (or dropping it, or an exception) stops and joins the
threads.
"""

import os
import sys
from os import fspath, strerror
from os.path import join

from . import _pwalk

# os.walk() changed shape in 3.12: 3.11 recurses and iterates each
# directory's dirnames lazily while it walks the subdirectories (and calls
# fspath() when walk() is called); 3.12 keeps a stack and reads dirnames once,
# right after the yield.  Both agree on every tree; they differ only if a
# caller edits a dirnames list after its subdirectories started.  Follow
# the running interpreter so "the same as os.walk" holds exactly.
_OS_WALK_311 = sys.version_info < (3, 12)

# Read-ahead buffer: directories listed but not yet yielded.  Bounded so a
# huge tree (or a slow consumer) costs a fixed amount of memory.
_MAX_BYTES = 8 << 20
_MAX_DIRS = 2048


def _default_readers():
    """Reader threads: twice the engine's automatic count (SLURM allocation,
    else the CPUs this process may use), between 2 and 8.  Readers spend
    their time in the kernel (open, getdents64) and, on a cold cache or
    network filesystem, waiting for it, so more readers than CPUs help; a
    single Python consumer cannot use more than about 8."""
    try:
        n, _ = _pwalk.auto_threads()
    except ValueError:
        n = os.cpu_count() or 1
    return max(2, min(2 * n, 8))


def walk(top, topdown=True, onerror=None, followlinks=False, *, max_threads=None,
         ignore_snapshots=True):
    """Directory tree generator: os.walk(), with directories read ahead.

    Yields (dirpath, dirnames, filenames) exactly as os.walk(top, topdown,
    onerror, followlinks) would, in the same order: with topdown true the
    caller may prune or reorder dirnames in place; onerror receives the same
    OSError; str, bytes and os.PathLike tops give str/bytes results;
    non-UTF-8 names are decoded as os.fsdecode() does.

    max_threads: reader threads (default: twice the engine's automatic
    count, 2..8; 0 reads each directory only when needed, like os.walk).
    ignore_snapshots: leave out subdirectories named like the engine's
    snapshot directories (".snapshot"): they are not in dirnames and not
    walked, as if pruned.  With ignore_snapshots=False the results are
    exactly os.walk()'s.

    Directories are read ahead on threads, before the walk gets to them, so
    entries created, removed or replaced while the walk runs (by the caller
    or anyone else) may show in the results as they were when read, which
    can differ from what os.walk, listing each directory only when it gets
    there, would give.  With max_threads=0 nothing is read ahead: each
    directory is listed when the walk reaches it, and a subdirectory is
    checked for being a symlink then, as os.walk does.
    """
    sys.audit("pwalk.walk", top, topdown, onerror, followlinks)
    if max_threads is None:
        readers = _default_readers()
    else:
        readers = int(max_threads)
        if readers < 0:
            raise ValueError("max_threads must be >= 0")
    skip = _pwalk.snapshot_names() if ignore_snapshots else None
    args = (readers, bool(followlinks), skip)
    if _OS_WALK_311:
        # like 3.11's os.walk: a bad top raises TypeError here, not at next()
        top = fspath(top)
    if not topdown:
        return _bottom_up(top, onerror, followlinks, args)
    if _OS_WALK_311:
        return _top_down_311(top, onerror, followlinks, args)
    return _top_down_312(top, onerror, followlinks, args)


def _top_down_311(top, onerror, followlinks, args):
    # One frame per directory being walked: [dirpath, dirnames, next index].
    # Indexing the live list reproduces 3.11's `for dirname in dirs:`.
    w = _pwalk.Walker(*args, max_bytes=_MAX_BYTES, max_dirs=_MAX_DIRS)
    try:
        scan, prune, pop, islink = w.scan, w.prune, w.pop, w.islink
        frames = []
        path = top
        while True:
            if path is not None:
                err, dirs, nondirs, _ = scan(path, False)
                if err:
                    if onerror is not None:
                        onerror(OSError(err, strerror(err), path))
                else:
                    yield path, dirs, nondirs
                    # what the caller left in dirs is what gets visited
                    prune(dirs)
                    frames.append([path, dirs, 0])
                path = None
            if not frames:
                return
            frame = frames[-1]
            dirs = frame[1]
            i = frame[2]
            if i < len(dirs):
                frame[2] = i + 1
                new_path = join(frame[0], dirs[i])
                if followlinks or not islink(new_path):
                    path = new_path
            else:
                frames.pop()
                prune(())  # names added back after the yield were read on demand
                pop()
    finally:
        w.close()


def _top_down_312(top, onerror, followlinks, args):
    w = _pwalk.Walker(*args, max_bytes=_MAX_BYTES, max_dirs=_MAX_DIRS)
    try:
        top = fspath(top)
        scan, prune, pop, islink = w.scan, w.prune, w.pop, w.islink
        stack = [top]
        while stack:
            top = stack.pop()
            err, dirs, nondirs, _ = scan(top, False)
            if err:
                if onerror is not None:
                    onerror(OSError(err, strerror(err), top))
                continue
            yield top, dirs, nondirs
            kept = []
            for dirname in reversed(dirs):
                new_path = join(top, dirname)
                if followlinks or not islink(new_path):
                    stack.append(new_path)
                    kept.append(dirname)
            kept.reverse()
            prune(kept)
            pop()
    finally:
        w.close()


class _Yield:
    """A finished directory waiting on the stack for its turn (bottom-up)."""

    __slots__ = ("item",)

    def __init__(self, item):
        self.item = item


def _bottom_up(top, onerror, followlinks, args):
    # Bottom-up nothing can be pruned: the readers' guess (every
    # subdirectory that is not a symlink, or every one with followlinks) is
    # exactly what is visited, in listing order.
    w = _pwalk.Walker(*args, max_bytes=_MAX_BYTES, max_dirs=_MAX_DIRS)
    try:
        top = fspath(top)
        scan, pop = w.scan, w.pop
        stack = [top]
        while stack:
            top = stack.pop()
            if type(top) is _Yield:
                yield top.item
                continue
            err, dirs, nondirs, into = scan(top, True)
            if err:
                if onerror is not None:
                    onerror(OSError(err, strerror(err), top))
                continue
            pop()
            stack.append(_Yield((top, dirs, nondirs)))
            into.reverse()
            stack.extend(into)
    finally:
        w.close()
