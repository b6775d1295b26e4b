"""pwalk.scan(): the engine's entries, in process, as they are found.

The scan is an ordinary pipeline run by run_pipeline() (the function
report() and run() use) with one sink of the walk-iterator plugin.  The
plugin copies every entry into a bounded queue; this iterator takes them
out a batch at a time (pwalk/_pwalk: EntryQueue, python/src/scan_iter.c) and
hands them out as pwalk.Entry objects.  When the queue is full the engine's
workers wait, so memory stays bounded however slowly the entries are used.

The pipeline runs on a thread of its own; the iterating thread waits for
entries with the GIL released and answers Ctrl-C.  Closing the iterator
(close(), a `with` block, break out of a for loop that holds the only
reference, or dropping it) stops the scan and joins that thread.
"""

import os
import threading

from . import _api, _pwalk, _yaml

Entry = _pwalk.Entry

# the sink's name in the pipeline
_SINK = "iterator"


def _runner(box, kw, holder):
    """The scan's thread.  It holds the consumer capsule, not the iterator,
    so dropping the iterator still closes it; releasing the capsule at the
    end tells a consumer still waiting for the sink to start that it never
    will."""
    capsule = holder.pop()
    try:
        box["result"] = _pwalk.run_pipeline(attach=[(_SINK.encode(), capsule)], **kw)
    except BaseException as e:  # re-raised on the iterating thread
        box["error"] = e
    finally:
        del capsule


class Scan(_pwalk.EntryQueue):
    """The iterator pwalk.scan() returns: pwalk.Entry objects, then
    ``summary`` (a pwalk.Summary) once it is exhausted."""

    def __init__(self, pipeline, roots, like_str, threads, sets):
        super().__init__(like_str=like_str)
        self._like_str = like_str
        self._box = {}
        self._done = False
        #: pwalk.Summary of the scan, set when the iterator is exhausted
        self.summary = None
        kw = dict(yaml=_yaml.dump(pipeline).encode("utf-8"), name="<pwalk.scan>",
                  roots=roots, sets=list(sets), threads=threads,
                  plugin_dirs=[os.fsencode(_api.PLUGIN_DIR)])
        self._thread = threading.Thread(target=_runner, name="pwalk.scan",
                                        args=(self._box, kw, [self.consumer()]), daemon=True)
        self._thread.start()

    def _join(self):
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _end(self):
        """Called by the C iterator at the end of the entries."""
        self._join()
        self._done = True
        box = self._box
        if "error" in box:
            raise box.pop("error")
        res = box["result"]
        _api._raise_for(res, self._like_str)
        self.summary = _api._summary(res, self._like_str)

    def close(self):
        """Stop the scan (if it is still running) and wait for it to end.
        The entries not taken yet are dropped; no exception is raised."""
        super().close()
        self._join()
        self._done = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if not self._done:
                self.close()
        except Exception:
            pass


def scan(top, *, max_threads=None, ignore_snapshots=True, one_file_system=False,
         capacity=65536, config=None, sets=()):
    """Scan top with the engine and iterate over its entries as they are
    found: one pwalk.Entry per report row (every entry under top, and each
    root), in no particular order (parallel traversal; a directory's entry
    comes after the entries read from it).

    An Entry is a tuple of the report's columns in its order -- inode,
    parent_inode, depth, path, extension, uid, gid, size, dev, blocks,
    nlink, mode, atime, mtime, ctime, fcount, dirsum -- with atime_ns,
    mtime_ns and ctime_ns also by name (like os.stat_result).  Metadata is
    lstat's.  path and extension are bytes when top is bytes, else str
    decoded as os.fsdecode() does (surrogateescape): no name is altered.

    capacity: entries the queue holds; when the consumer falls behind, the
    engine's workers wait, so memory stays bounded (about capacity entries
    with their paths, plus one batch per worker).

    The iterator's ``summary`` (a pwalk.Summary) is set once it is
    exhausted; entries that could not be read are in summary.errors.
    Errors are raised as report() raises them: FileNotFoundError (or
    another OSError) for a root that does not exist, ConfigError for a bad
    pipeline or option, PluginError/ScanError when the scan fails, at the
    point of iteration where they happen; KeyboardInterrupt stops the scan.
    close() it (or use ``with``) to stop early.

    config: a pipeline dict whose scan settings (and any other sinks, which
    then run too) are used; ignore_snapshots and one_file_system apply only
    without it.  sets: "SINK.KEY=VALUE" / "scan.KEY=VALUE" assignments (the
    CLI's --set), the iterator's sink is named "iterator".
    """
    roots, like_str = _api._roots(top)
    for r in roots:  # the engine checks them too; fail here, before a thread
        os.lstat(r if not like_str else os.fsdecode(r))
    threads = _api._threads(max_threads)
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"capacity must be a positive int, not {capacity!r}")
    sink = {"name": _SINK, "plugin": "walk-iterator", "options": {"capacity": capacity}}
    if config is None:
        pipeline = {"version": 1,
                    "scan": {"one_file_system": bool(one_file_system),
                             "skip_snapshots": bool(ignore_snapshots)},
                    "sinks": [sink]}
    elif isinstance(config, dict):
        pipeline = dict(config)
        sinks = list(pipeline.get("sinks") or [])
        if any(isinstance(s, dict) and s.get("name") == _SINK for s in sinks):
            raise ValueError(f"scan(): config has a sink named {_SINK!r}, the name of "
                             f"scan()'s own sink")
        pipeline["sinks"] = sinks + [sink]
        pipeline.setdefault("version", 1)
    else:
        raise TypeError("scan(): config must be a pipeline dict (pwalk.run() takes files)")
    if isinstance(sets, (str, bytes)):
        sets = [sets]
    encoded = [s if isinstance(s, bytes) else os.fsencode(s) for s in sets]
    return Scan(pipeline, roots, like_str, threads, encoded)
