"""report(), run() and repair(): pipelines run by libpwalk (pwalk/pwalk.h),
the library the pwalk-engine command line runs."""

import csv
import io
import json
import os
import shutil
import tempfile

from . import _mpi, _pwalk, _yaml
from ._text import unescape
from ._types import (ConfigError, EntryError, Incomplete, PluginError, Progress, RepairChange,
                     RepairResult, RepairSkip, ScanError, Summary, fs_like)

# The package's own plugins: pwalk/plugins/<name>/<name>.so, built by
# setup.py (or by Bazel into the same layout).  They are searched after a
# pipeline's own plugin_path and before $PWALK_PLUGIN_PATH.
PLUGIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins")

# compress= -> (plugin, default output name)
_CODECS = {
    "zstd": ("csv-zstd", "scan.csv.zst"),
    "gzip": ("csv-gzip", "scan.csv.gz"),
    "lz4": ("csv-lz4", "scan.csv.lz4"),
    "none": ("csv", "scan.csv"),
}
_SUFFIXES = ((".zst", "zstd"), (".zstd", "zstd"), (".gz", "gzip"), (".lz4", "lz4"),
             (".csv", "none"))

# What a csv sink writes for its path (common/outname.h, the engine's rule):
# a compressing plugin adds its suffix to a name ending in ".csv"
# (scan.csv -> scan.csv.zst); other names are written as given.
_PLUGIN_SUFFIX = {"csv-zstd": ".zst", "csv-gzip": ".gz", "csv-lz4": ".lz4"}


def _written_name(path, plugin):
    suffix = _PLUGIN_SUFFIX.get(plugin)
    if suffix is None or path is None:
        return path
    text = os.fsdecode(path)
    base = os.path.basename(text)
    if len(base) > 4 and base.lower().endswith(".csv"):
        return path + (os.fsencode(suffix) if isinstance(path, bytes) else suffix)
    return path


_REPORT_SINK = "report"
_REPAIR_SINK = "repair"
_SUMMARY_SINK = "summary"


def _roots(top):
    """top (one path or a list of them) -> (list of bytes, str-ness)."""
    if isinstance(top, (str, bytes, os.PathLike)):
        tops = [top]
    else:
        tops = list(top)
        if not tops:
            raise ValueError("no paths to scan")
    paths = [os.fspath(t) for t in tops]
    like_str = isinstance(paths[0], str)
    if any(isinstance(p, str) != like_str for p in paths):
        raise TypeError("roots must be all str or all bytes")
    return [os.fsencode(p) for p in paths], like_str


def _threads(max_threads):
    if max_threads is None:
        return 0
    n = int(max_threads)
    if n < 1:
        raise ValueError("max_threads must be >= 1")
    return n


def _set(sink, key, value):
    """A "SINK.KEY=VALUE" assignment (the CLI's --set) as bytes, so paths
    with any bytes get through."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, int):
        value = str(value)
    return os.fsencode(f"{sink}.{key}=") + os.fsencode(value)


def _duration(name, value):
    """A duration argument: the engine's text ("5m", "3h50m", "03:50:00")
    or a number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"{name} must be a duration such as '5m' or a number of seconds, "
                        f"not {value!r}")
    if isinstance(value, str):
        return value
    return f"{round(value * 1000)}ms"


class _Checkpoint:
    """checkpoint=, resume=, checkpoint_every=, time_limit= as the engine's
    scan settings (sets) and the journal to resume (pwalk_scan_resume)."""

    def __init__(self, checkpoint=None, resume=None, checkpoint_every=None, time_limit=None):
        self.sets, self.resume, self.journal = [], None, None
        if checkpoint is not None and resume is not None and \
                os.fspath(checkpoint) != os.fspath(resume):
            # the CLI's rule: a resumed scan keeps checkpointing into its journal
            raise ValueError(f"checkpoint={checkpoint!r} and resume={resume!r}: a resumed "
                             f"scan keeps its journal; leave checkpoint out")
        if resume is not None:
            self.journal = os.fspath(resume)
            self.resume = os.fsencode(self.journal)
        elif checkpoint is not None:
            self.journal = os.fspath(checkpoint)
            self.sets.append(_set("scan", "checkpoint", self.journal))
        if checkpoint_every is not None:
            self.sets.append(_set("scan", "checkpoint_every",
                                  _duration("checkpoint_every", checkpoint_every)))
        if time_limit is not None:
            self.sets.append(_set("scan", "time_limit", _duration("time_limit", time_limit)))

    def given(self):
        return bool(self.sets) or self.resume is not None


_NO_CHECKPOINT = _Checkpoint()


def _raise_for(res, like_str, journal=None):
    """Turn run_pipeline()'s answer into the package's exceptions."""
    stage = res["stage"]
    if stage == _pwalk.STAGE_CONFIG:
        raise ConfigError(res["message"], status=2)
    if stage == _pwalk.STAGE_ROOT:
        err = res["errno"]
        raise OSError(err, os.strerror(err), fs_like(res["root"], like_str))
    status, message, summary = res["status"], res["message"], res["summary"]
    if status in (0, 1):
        return
    if res["failure"] == _pwalk.FAIL_SUSPENDED:
        raise Incomplete(message, status=status, summary=summary, checkpoint=journal)
    if status == 2 and res["failure"] in (_pwalk.FAIL_CHECKPOINT, _pwalk.FAIL_CONFIG):
        # a journal refused (truncated, corrupt, another pipeline) or a setting
        # found wrong when the run began: nothing written
        raise ConfigError(message, status=status)
    if res["failure"] == _pwalk.FAIL_SINK:
        # the library names the sink in a field: no need to read the message
        raise PluginError(message, status=status, summary=summary, sink=res["failed_sink"],
                          sink_message=res["failed_message"])
    raise ScanError(message or f"the scan failed (status {status})", status=status,
                    summary=summary)


def _entry_error(p, e, op, kind, like_str):
    # errno 0: a directory replaced by another one (no call failed)
    message = os.strerror(e) if e or kind != _pwalk.ERROR_REPLACED else \
        "replaced by another directory"
    return EntryError(fs_like(p, like_str), e, message, op)


# the error file's kind column, by PWALK_RECORD_* value
_KINDS = {_pwalk.ERROR_FAILED: "error", _pwalk.ERROR_VANISHED: "vanished",
          _pwalk.ERROR_REPLACED: "replaced"}


def _callbacks(on_error, progress, like_str):
    """run()'s callbacks as _pwalk.run_pipeline() calls them."""
    kw = {}
    if on_error is not None:
        def error_hook(p, e, op, kind):
            on_error(_entry_error(p, e, op, kind, like_str), _KINDS.get(kind, "error"))
        kw["on_error"] = error_hook
    if progress is not None:
        kw["on_progress"] = lambda t: progress(Progress(*t))
    return kw


def _summary(res, like_str):
    errors = [_entry_error(p, e, op, k, like_str)
              for p, e, op, k in res["errors"] if k == _pwalk.ERROR_FAILED]
    # gone or replaced while the scan ran: not errors (unless scan.strict)
    vanished = [_entry_error(p, e, op, k, like_str)
                for p, e, op, k in res["errors"] if k != _pwalk.ERROR_FAILED]
    outputs, sink_rows = {}, {}
    for name, plugin, rows, options in res["sinks"]:
        # option values are text in a pipeline: outputs are str
        path = options.get("path", options.get("dir"))  # summary: its directory
        path = os.fsdecode(path) if isinstance(path, bytes) else path
        outputs[name] = _written_name(path, os.fsdecode(plugin) if isinstance(plugin, bytes)
                                      else plugin)
        sink_rows[name] = rows
    ep = res["errors_path"]
    return Summary(
        status=res["status"], message=res["message"], entries=res["entries"],
        rows=res["rows"], dirs=res["dirs"], error_count=res["error_count"], errors=errors,
        outputs=outputs, sink_rows=sink_rows, filtered=res["filtered"],
        vanished=vanished,
        seconds=res["seconds"], errors_path=os.fsdecode(ep) if ep else None,
        summary=res["summary"])


def _config_file(config):
    """A pipeline file as the engine's path, after checking it is there:
    a missing file is FileNotFoundError naming it (as open() would raise),
    not a ConfigError about its contents."""
    path = os.fspath(config)
    os.stat(path)
    return path


def _run(config, roots=None, like_str=True, threads=0, sets=(), callbacks=None,
         ckpt=_NO_CHECKPOINT):
    """Run a pipeline: config is a dict, a YAML file path, or None (the
    engine's defaults; sinks then come from sets)."""
    kw = dict(roots=roots, sets=list(sets) + ckpt.sets, threads=threads, plugin_dirs=[
        os.fsencode(PLUGIN_DIR)], **(callbacks or {}))
    if ckpt.resume is not None:
        kw["resume"] = ckpt.resume
    if isinstance(config, dict):
        kw["yaml"] = _yaml.dump(config).encode("utf-8")
        kw["name"] = "<dict>"
    elif config is not None:
        kw["file"] = os.fsencode(_config_file(config))
    res = _pwalk.run_pipeline(**kw)
    _raise_for(res, like_str, ckpt.journal)
    return _summary(res, like_str)


def run(config, roots=None, *, max_threads=None, sets=(), ranks=None, launcher=None,
        on_error=None, progress=None, checkpoint=None, resume=None, checkpoint_every=None,
        time_limit=None):
    """Run any pipeline (a YAML file path, or a dict with the same shape)
    through the engine, exactly as `pwalk-engine -c FILE [ROOTS]` would.

    roots: paths replacing scan.roots (str/bytes/PathLike, one or a list).
    sets: "SINK.KEY=VALUE" / "scan.KEY=VALUE" assignments (the CLI's --set).
    Returns a Summary.  Status 1 (some entries unreadable) is not an
    exception: see Summary.status and Summary.errors.

    Raises FileNotFoundError (or another OSError) for a root or a config
    file that does not exist, ConfigError (a ValueError) for a bad pipeline
    with the engine's message naming the key, PluginError when a sink fails,
    ScanError when the scan fails, KeyboardInterrupt on Ctrl-C (the engine is
    stopped first and no output is published).

    ranks: run the pipeline over this many MPI ranks with pwalk-mpi (each
    rank writes its own shard of every output) and return the scan's
    Manifest instead; launcher replaces "mpirun -np N" (e.g. ["srun"]).
    A scan that did not complete raises IncompleteScanError or ScanError.

    on_error(error, kind): called for every error record as it happens,
    error an EntryError, kind "error", "vanished" or "replaced" (the error
    file's kind column).  progress(Progress): about once a second while the
    walk runs.  Both run on the engine's threads (holding the GIL, so keep
    them short); an exception either raises stops the scan (nothing is
    published) and propagates from run().  Not with ranks.

    Scans from several Python threads run at the same time: each has its
    own engine state, and a sink failing or Ctrl-C stops only its own scan.

    checkpoint: keep a journal at this path (scan.checkpoint) so that the
    scan can be continued: brought up to date every checkpoint_every
    (default '5m'), and the scan is suspended once it has run time_limit
    (e.g. '3h50m', '03:50:00', or seconds as a number), raising Incomplete
    (status 75, nothing published, e.checkpoint the journal).  resume:
    continue the scan that journal describes -- the same pipeline and
    roots, else ConfigError (as for a truncated or corrupt journal) --
    checkpointing into it again; when the scan completes the outputs are
    published and the journal removed.  Not with ranks.
    """
    ckpt = _Checkpoint(checkpoint, resume, checkpoint_every, time_limit)
    if ckpt.journal is None and isinstance(config, dict):
        # the journal the pipeline names, for Incomplete.checkpoint
        ckpt.journal = (config.get("scan") or {}).get("checkpoint")
    like_str = True
    root_list = None
    if roots is not None:
        root_list, like_str = _roots(roots)
    if isinstance(sets, (str, bytes)):
        sets = [sets]
    encoded = [s if isinstance(s, bytes) else os.fsencode(s) for s in sets]
    if ranks is not None:
        if on_error is not None or progress is not None:
            raise ValueError("run(): on_error and progress cannot be given with ranks")
        if ckpt.given():
            raise ValueError("run(): checkpoint, resume, checkpoint_every and time_limit "
                             "cannot be given with ranks (run pwalk-mpi --checkpoint)")
        if not isinstance(config, dict):
            config = _config_file(config)
        return _mpi.run_sharded(config, root_list, ranks, _threads(max_threads), encoded,
                                launcher)
    return _run(config, root_list, like_str, _threads(max_threads), encoded,
                _callbacks(on_error, progress, like_str), ckpt)


def _codec(output, compress):
    if compress == "auto":
        if output is not None:
            name = os.fsdecode(os.fspath(output)).lower()
            for suffix, codec in _SUFFIXES:
                if name.endswith(suffix):
                    return codec
        return "zstd"
    if compress not in _CODECS:
        # python-pwalk's scripts match the start of this message: keep it
        raise ValueError(f"Invalid compress value {compress!r}: must be 'auto', 'zstd', "
                         f"'gzip', 'lz4' or 'none'")
    return compress


def report(top, output=None, compress="auto", *, max_threads=None, ignore_snapshots=True,
           one_file_system=False, header=True, escape="lossless", config=None, ranks=None,
           launcher=None, summary=None, summary_compress="none", summary_top=None,
           summary_age_days=None, checkpoint=None, resume=None, checkpoint_every=None,
           time_limit=None):
    """Scan top and write John Dey's pwalk CSV report, as `pwalk-engine`
    does; return (output path, errors).

    compress: 'auto' (from output's suffix: .zst, .gz, .lz4, .csv; else
    zstd), 'zstd', 'gzip', 'lz4' or 'none'.  The default output is
    scan.csv.zst (scan.csv.gz, scan.csv.lz4, scan.csv) in the current
    directory.  Compressed, an output named *.csv gets the compressor's
    suffix (r.csv -> r.csv.zst, the path returned), and a suffix that
    contradicts the data (r.csv.gz with zstd) raises PluginError.  The
    report appears under its name only when the scan
    completed.  errors: [EntryError(path, errno, message, operation)] for
    every entry that could not be read.

    config: run this pipeline (YAML file path or dict) instead, with top as
    its roots; the path returned is its first sink's path option.  The
    pipeline decides its scan options and outputs, so output, compress,
    ignore_snapshots, one_file_system, header, escape, ranks or launcher
    given with config raise ValueError (pwalk.run(config, roots, ranks=N)
    runs a pipeline over MPI).

    ranks: scan over this many MPI ranks (pwalk-mpi); the path returned is
    then the glob of the shards (out/scan.part-*.csv.zst, what DuckDB's
    read_csv takes), checked against the scan's manifest.

    summary: also write the summary tables into this directory in the same
    walk (the `summary` sink: recursive directory totals, users, groups,
    the usage cube, the top directories; plugins/summary/FORMAT.md), read
    them back with read_summary(summary).  summary_compress 'none' or
    'zstd' (.csv.zst tables), summary_top (rows per ranking in top.csv,
    default 20), summary_age_days (increasing ages in days, default
    [7, 30, 90, 365, 730, 1095]) are the sink's compress, top and age_days.

    checkpoint, resume, checkpoint_every, time_limit: as for run(); a scan
    suspended at time_limit raises Incomplete, and report(...) called again
    with the same arguments and resume=e.checkpoint continues it.
    """
    ckpt = _Checkpoint(checkpoint, resume, checkpoint_every, time_limit)
    roots, like_str = _roots(top)
    threads = _threads(max_threads)
    if config is not None:
        # the pipeline's sinks write the output: an output or compress given
        # as well would be silently ignored
        given = [name for name, value, default in (
                     ("output", output, None), ("compress", compress, "auto"),
                     ("ignore_snapshots", ignore_snapshots, True),
                     ("one_file_system", one_file_system, False), ("header", header, True),
                     ("escape", escape, "lossless"), ("ranks", ranks, None),
                     ("launcher", launcher, None), ("summary", summary, None))
                 if value != default]
        if given:
            hint = "; over MPI ranks use pwalk.run(config, roots, ranks=N)" \
                if "ranks" in given else ""
            raise ValueError(f"report(): {', '.join(given)} cannot be given with config= "
                             f"(the pipeline decides its scan options and outputs){hint}")
        s = _run(config, roots, like_str, threads, ckpt=ckpt)
        path = next(iter(s.outputs.values()), None)
        return path, s.errors
    if escape not in ("lossless", "dey"):
        raise ValueError(f"escape must be 'lossless' or 'dey', not {escape!r}")
    codec = _codec(output, compress)
    plugin, default = _CODECS[codec]
    out = default if output is None else os.fspath(output)
    pipeline = {
        "version": 1,
        "scan": {"one_file_system": bool(one_file_system),
                 "skip_snapshots": bool(ignore_snapshots)},
        "sinks": [{"name": _REPORT_SINK, "plugin": plugin,
                   "options": {"header": bool(header), "escape": escape}}],
    }
    sets = [_set(_REPORT_SINK, "path", out)]
    sets += _summary_sink(pipeline, summary, summary_compress, summary_top, summary_age_days)
    if ranks is not None:
        if ckpt.given():
            raise ValueError("report(): checkpoint, resume, checkpoint_every and time_limit "
                             "cannot be given with ranks (run pwalk-mpi --checkpoint)")
        # errors go to per-rank files beside the report
        pipeline["scan"]["errors"] = _mpi.manifest_path_for(out)[:-len(".manifest.json")] + \
            ".errors.csv"
        m = _mpi.run_sharded(pipeline, roots, ranks, threads, sets, launcher)
        errors = _mpi.errors_of(m)
        if like_str is False:
            errors = [e._replace(path=os.fsencode(e.path)) for e in errors]
        return m.sinks[_REPORT_SINK].glob, errors
    s = _run(pipeline, roots, like_str, threads, sets, ckpt=ckpt)
    return _written_name(out, plugin), s.errors


def _summary_sink(pipeline, directory, compress, top, age_days):
    """Add report()'s summary sink to pipeline; its dir as a --set (bytes
    get through).  Options checked here name report()'s arguments."""
    if directory is None:
        given = [n for n, v, d in (("summary_compress", compress, "none"),
                                   ("summary_top", top, None),
                                   ("summary_age_days", age_days, None)) if v != d]
        if given:
            raise ValueError(f"report(): {', '.join(given)} given without summary=DIR")
        return []
    if compress not in ("none", "zstd"):
        raise ValueError(f"summary_compress must be 'none' or 'zstd', not {compress!r}")
    # the digest (print) is for terminals running pwalk-engine, not Python
    options = {"compress": compress, "print": "false"}
    if top is not None:
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise ValueError(f"summary_top must be an int >= 1, not {top!r}")
        options["top"] = top
    if age_days is not None:
        ages = list(age_days)
        if not ages or any(isinstance(a, bool) or not isinstance(a, int) for a in ages):
            raise ValueError(f"summary_age_days must be a list of ints, not {age_days!r}")
        options["age_days"] = [str(a) for a in ages]
    pipeline["sinks"].append({"name": _SUMMARY_SINK, "plugin": "summary", "options": options})
    return [_set(_SUMMARY_SINK, "dir", os.fspath(directory))]


# ---- repair --------------------------------------------------------------------

def _log_records(path):
    """The repair-action change log: JSON lines (name ends in .jsonl) or
    CSV with the header path,what,old,new."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "surrogateescape")
    if os.fsdecode(path).endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return list(csv.DictReader(io.StringIO(text, newline="")))


def repair(top, dry_run=True, change_gids=None, force_group_writable=False, exclude=None, *,
           max_threads=None, log=None, mirror_user_exec=True):
    """Restore project group ownership and group permissions under top with
    the repair-action plugin (plugins/repair-action/README.md); absolute
    paths welcome.

    dry_run (default True) changes nothing and reports what would change.
    change_gids: more groups (numbers or names) that are not project groups,
    besides private groups and gid 0.  force_group_writable: g+rw on files,
    g+rwx on directories.  exclude: paths/globs left alone, not descended.
    log: keep the change log at this path (CSV, or JSON lines if it ends in
    .jsonl); by default a temporary one is read and removed.

    Returns RepairResult(dry_run, changes, skipped, errors, summary, log):
    changes are RepairChange(path, what, old, new) with what "group",
    "setgid" or "mode"; skipped are RepairSkip(path, reason) (symlink,
    hardlink, no-project-group, ...); errors are EntryError as in report().
    """
    roots, like_str = _roots(top)
    options = {"dry_run": bool(dry_run), "force_group_writable": bool(force_group_writable),
               "mirror_user_exec": bool(mirror_user_exec)}
    if change_gids:
        if isinstance(change_gids, (str, int)):
            change_gids = [change_gids]
        options["change_gids"] = [str(g) for g in change_gids]
    if exclude:
        if isinstance(exclude, (str, bytes, os.PathLike)):
            exclude = [exclude]
        options["exclude"] = [os.fsdecode(os.fspath(e)) for e in exclude]
    tmpdir = None
    if log is None:
        tmpdir = tempfile.mkdtemp(prefix="pwalk-repair-")
        log_path = os.path.join(tmpdir, "changes.jsonl")
    else:
        log_path = os.fspath(log)
    pipeline = {
        "version": 1,
        "allow_mutation": True,
        "sinks": [{"name": _REPAIR_SINK, "plugin": "repair-action", "options": options}],
    }
    try:
        s = _run(pipeline, roots, like_str, _threads(max_threads),
                 [_set(_REPAIR_SINK, "log", log_path)])
        records = _log_records(log_path) if os.path.exists(log_path) else []
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    changes, skipped = [], []
    for rec in records:
        p = fs_like(unescape(rec.get("path", "")), like_str)
        what = rec.get("what", "")
        if what == "skip":
            skipped.append(RepairSkip(p, rec.get("old", ""), rec))
        elif what != "error":  # errors come with their errno through the engine
            changes.append(RepairChange(p, what, rec.get("old", ""), rec.get("new", ""), rec))
    return RepairResult(bool(dry_run), changes, skipped, s.errors, s,
                        None if log is None else log_path)


__all__ = ["run", "report", "repair", "unescape", "PLUGIN_DIR"]
