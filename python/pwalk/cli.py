"""The `pwalk` command (also `python -m pwalk`): walk, report, repair, run.

Exit statuses follow pwalk-engine's: 0 complete, 1 complete but some entries
could not be read, 2 bad usage/configuration or a missing root, 3 the scan
or an output failed, 75 suspended at a checkpoint (--time-limit; continue
with --resume), 130 interrupted (Ctrl-C; nothing published).
"""

import argparse
import os
import sys

from . import __version__
from ._api import repair, report, run
from ._types import ConfigError, Error
from ._walk import walk


def _out(data):
    sys.stdout.buffer.write(data)


def _shown(path):
    """A path for a message: bytes as the terminal would show them, but
    control characters escaped so one entry stays one line."""
    text = os.fsdecode(path) if isinstance(path, bytes) else path
    return text.encode("utf-8", "backslashreplace").decode("utf-8").translate(
        {c: f"\\x{c:02x}" for c in list(range(0x20)) + [0x7f]})


def _print_errors(errors, limit=20):
    for e in errors[:limit]:
        print(f"pwalk: {_shown(e.path)}: {e.message} ({e.operation})", file=sys.stderr)
    if len(errors) > limit:
        print(f"pwalk: ... and {len(errors) - limit} more", file=sys.stderr)


def _cmd_walk(a):
    end = b"\0" if a.null else b"\n"
    failures = []

    def onerror(e):
        failures.append(e)
        print(f"pwalk: {_shown(e.filename)}: {e.strerror}", file=sys.stderr)

    top = os.fsencode(a.path)
    # A root that cannot be reached is bad usage, as for `pwalk report`
    # (exit 2, one line on stderr, nothing on stdout), not an entry that
    # could not be read; main() reports the OSError.
    os.lstat(top)
    if not a.bottom_up:
        _out(top + end)
    for dirpath, dirnames, filenames in walk(top, topdown=not a.bottom_up, onerror=onerror,
                                             followlinks=a.follow_links,
                                             max_threads=a.threads,
                                             ignore_snapshots=not a.snapshots):
        sep = b"" if dirpath.endswith(b"/") else b"/"
        names = dirnames if a.dirs else dirnames + filenames
        _out(b"".join(dirpath + sep + n + end for n in names))
    if a.bottom_up:
        _out(top + end)
    sys.stdout.flush()
    return 1 if failures else 0


def _cmd_report(a):
    roots = a.paths if len(a.paths) > 1 else a.paths[0]
    path, errors = report(roots, a.output, a.compress, max_threads=a.threads,
                          ignore_snapshots=not a.snapshots, one_file_system=a.one_file_system,
                          header=not a.no_header, escape=a.escape, config=a.config,
                          summary=a.summary, summary_compress=a.summary_compress,
                          **_checkpoint_args(a))
    _print_errors(errors)
    print(path if path is not None else "(no output path)")
    if a.summary is not None:
        print(a.summary)
    return 1 if errors else 0


def _cmd_repair(a):
    roots = a.paths if len(a.paths) > 1 else a.paths[0]
    r = repair(roots, dry_run=not a.apply, change_gids=a.change_gid,
               force_group_writable=a.force_group_writable, exclude=a.exclude,
               max_threads=a.threads, log=a.log, mirror_user_exec=a.mirror_user_exec)
    verb = "would change" if r.dry_run else "changed"
    for c in r.changes:
        print(f"{verb} {c.what} of {_shown(c.path)}: {c.old} -> {c.new}")
    for s in r.skipped:
        print(f"skipped {_shown(s.path)}: {s.reason}")
    _print_errors(r.errors)
    print(f"{len(r.changes)} {'to change' if r.dry_run else 'changed'}, "
          f"{len(r.skipped)} skipped, {len(r.errors)} errors"
          + (" (dry run: use --apply to make the changes)" if r.dry_run else ""))
    return 1 if r.errors else 0


def _cmd_run(a):
    s = run(a.config, a.paths or None, max_threads=a.threads, sets=a.set,
            **_checkpoint_args(a))
    if s.summary and s.status != 0:  # like pwalk-engine -q: quiet when all went well
        sys.stderr.write(s.summary)
    for name, path in s.outputs.items():
        print(f"{name}: {s.sink_rows.get(name, 0)} rows -> "
              f"{_shown(path) if path is not None else '-'}")
    print(f"{s.entries} entries, {s.dirs} directories, {s.error_count} errors, "
          f"{s.seconds:.2f} s")
    return s.status


def _checkpoint_args(a):
    return {"checkpoint": a.checkpoint, "resume": a.resume,
            "checkpoint_every": a.checkpoint_every, "time_limit": a.time_limit}


def _add_checkpoint_options(p):
    """pwalk-engine's checkpoint options (README "Checkpoints and resume")."""
    p.add_argument("--checkpoint", metavar="FILE",
                   help="keep a journal in FILE so that the scan can be resumed")
    p.add_argument("--checkpoint-every", metavar="DURATION",
                   help="bring the journal up to date this often (default 5m)")
    p.add_argument("--time-limit", metavar="DURATION",
                   help="suspend at a checkpoint after DURATION (exit 75)")
    p.add_argument("--resume", metavar="FILE",
                   help="continue the scan FILE describes (same arguments otherwise)")


def _parser():
    p = argparse.ArgumentParser(prog="pwalk", description="The pwalk scanner from Python.")
    p.add_argument("--version", action="version", version=f"pwalk {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    w = sub.add_parser("walk", help="list a tree (os.walk order, read ahead by threads)")
    w.add_argument("path", nargs="?", default=".")
    w.add_argument("--bottom-up", action="store_true", help="directories after their contents")
    w.add_argument("-L", "--follow-links", action="store_true",
                   help="descend into symlinked directories")
    w.add_argument("--snapshots", action="store_true", help="walk .snapshot directories too")
    w.add_argument("--dirs", action="store_true", help="print directories only")
    w.add_argument("-0", "--null", action="store_true", help="end names with NUL, not newline")
    w.add_argument("-t", "--threads", type=int, help="reader threads")
    w.set_defaults(func=_cmd_walk)

    r = sub.add_parser("report", help="write the pwalk CSV report")
    r.add_argument("paths", nargs="+", metavar="PATH")
    r.add_argument("-o", "--output", help="default: scan.csv.zst (suffix per compressor)")
    r.add_argument("-z", "--compress", default="auto",
                   choices=["auto", "zstd", "gzip", "lz4", "none"])
    r.add_argument("-t", "--threads", type=int)
    r.add_argument("--no-header", action="store_true")
    r.add_argument("--escape", default="lossless", choices=["lossless", "dey"])
    r.add_argument("-x", "--one-file-system", action="store_true")
    r.add_argument("--snapshots", action="store_true", help="scan .snapshot directories too")
    r.add_argument("-c", "--config", help="run this pipeline instead (PATHs are its roots)")
    r.add_argument("--summary", metavar="DIR",
                   help="also write the summary tables into DIR in the same walk")
    r.add_argument("--summary-compress", default="none", choices=["none", "zstd"])
    _add_checkpoint_options(r)
    r.set_defaults(func=_cmd_report)

    rp = sub.add_parser("repair", help="fix group ownership and permissions (dry run default)")
    rp.add_argument("paths", nargs="+", metavar="PATH")
    rp.add_argument("--apply", action="store_true", help="make the changes")
    # a number or a group name, as repair(change_gids=) takes them
    rp.add_argument("--change-gid", action="append", metavar="GID_OR_GROUP",
                    help="a group that is not a project group (repeatable)")
    rp.add_argument("--force-group-writable", action="store_true")
    rp.add_argument("--mirror-user-exec", action=argparse.BooleanOptionalAction, default=True,
                    help="files the owner may execute get g+x too (the default)")
    rp.add_argument("--exclude", action="append", metavar="PATH_OR_GLOB")
    rp.add_argument("--log", help="keep the change log here")
    rp.add_argument("-t", "--threads", type=int)
    rp.set_defaults(func=_cmd_repair)

    ru = sub.add_parser("run", help="run a YAML pipeline (as pwalk-engine -c)")
    ru.add_argument("config")
    ru.add_argument("paths", nargs="*", metavar="PATH", help="replace scan.roots")
    ru.add_argument("--set", action="append", default=[], metavar="SINK.KEY=VALUE")
    ru.add_argument("-t", "--threads", type=int)
    _add_checkpoint_options(ru)
    ru.set_defaults(func=_cmd_run)
    return p


def main(argv=None):
    a = _parser().parse_args(argv)
    try:
        return a.func(a)
    except KeyboardInterrupt:
        print("pwalk: interrupted; no output published", file=sys.stderr)
        return 130
    except ConfigError as e:
        print(f"pwalk: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        # the API refusing an argument (-t 0, -o with -c): bad usage
        print(f"pwalk: {e}", file=sys.stderr)
        return 2
    except Error as e:
        print(f"pwalk: {e}", file=sys.stderr)
        return e.status if e.status else 3
    except BrokenPipeError:
        # `pwalk walk | head`: stop quietly, as find does; point stdout at
        # /dev/null so the interpreter's final flush does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as e:
        name = f"{_shown(e.filename)}: " if e.filename is not None else ""
        print(f"pwalk: {name}{e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
