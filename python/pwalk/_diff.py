"""diff(): what changed between two scans, by running the pwalk-diff tool
(engine/diff/README.md)."""

import errno
import json
import os
import shutil
import subprocess
import tempfile
from typing import NamedTuple

from ._types import Error

_HINT = "build it (bazel build //:pwalk-diff), install it beside pwalk-engine, or set PWALK_DIFF"

# option -> (flag, kind): kind "value" passes str(value), "flag" a bare switch
_OPTIONS = {
    "match": ("--match", "value"),
    "depth": ("--depth", "value"),
    "compress": ("--compress", "value"),
    "memory": ("--memory", "value"),
    "tmpdir": ("--tmpdir", "value"),
    "threads": ("--threads", "value"),
    "escape": ("--escape", "value"),
    "fail_if_growth": ("--fail-if-growth", "value"),
    "roots_differ": ("--roots-differ", "flag"),
}


class DiffError(Error):
    """pwalk-diff refused or failed.  The message is the tool's one line
    (without its "pwalk-diff: " prefix), naming the file and, for a bad row,
    the line; ``status`` is its exit status (2 bad usage or input, 3 an
    output or spill file failed, 128+N a signal).  Nothing was written."""


class DiffResult(NamedTuple):
    """What diff() found: ``summary`` is diff.json parsed (counts per change
    kind, totals, both scans' roots and rows); the paths are the files in
    ``dir``."""

    status: int           #: 0, or 1 when net growth exceeded fail_if_growth
    summary: dict         #: diff.json
    dir: str              #: the output directory
    changes: str          #: changes.csv (or .csv.zst with compress="zstd")
    by_user: str
    by_group: str
    by_dir: str
    diff_json: str
    answer: str           #: the tool's short human answer (its stdout)

    @property
    def grew_too_much(self):
        """True when net growth exceeded fail_if_growth (status 1)."""
        return self.status == 1


def find_diff(command=None):
    """The pwalk-diff to run: command, else $PWALK_DIFF, else one shipped in
    the package (pwalk/bin/pwalk-diff), else the one Bazel built beside the
    package (bazel-bin/pwalk-diff for bazel-bin/python/pwalk, the same in a
    test's runfiles), else pwalk-diff on PATH (installed beside pwalk-engine)."""
    exe = command or os.environ.get("PWALK_DIFF")
    if exe:
        found = shutil.which(exe) or exe
        if not os.path.exists(found):
            origin = "" if command else " (from PWALK_DIFF)"
            raise FileNotFoundError(errno.ENOENT, f"pwalk-diff not found at {exe}{origin}: "
                                    f"{_HINT}", exe)
        return found
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "bin", "pwalk-diff"),
                      os.path.join(os.path.dirname(os.path.dirname(here)), "pwalk-diff")):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("pwalk-diff")
    if not found:
        raise FileNotFoundError(errno.ENOENT, f"pwalk-diff not found: {_HINT}", "pwalk-diff")
    return found


def _argv(exe, old, new, out, options):
    argv = [exe, os.fspath(old), os.fspath(new), "-o", out]
    for key, value in options.items():
        if key not in _OPTIONS:
            raise TypeError(f"diff() got an unexpected keyword argument {key!r} "
                            f"(options: {', '.join(sorted(_OPTIONS))})")
        flag, kind = _OPTIONS[key]
        if value is None or value is False:
            continue
        if kind == "flag":
            argv.append(flag)
        else:
            argv += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return argv


def _result(status, out, answer):
    with open(os.path.join(out, "diff.json"), "rb") as f:
        summary = json.loads(f.read())
    files = {name: os.path.join(out, t["file"]) for name, t in summary["tables"].items()}
    return DiffResult(status=status, summary=summary, dir=out, changes=files["changes"],
                      by_user=files["by_user"], by_group=files["by_group"],
                      by_dir=files["by_dir"], diff_json=os.path.join(out, "diff.json"),
                      answer=answer)


def diff(old, new, out_dir=None, *, command=None, **options):
    """Compare two scans with pwalk-diff: old and new are reports of any csv
    sink (.csv, .csv.zst, .csv.gz, .csv.lz4; lossless or dey; with or
    without header; John Dey's pwalk's too) or pwalk-mpi manifests.

    Writes changes.csv, by_user.csv, by_group.csv, by_dir.csv and diff.json
    into out_dir (created if missing; its parent must exist), or into a new
    temporary directory when out_dir is None (yours to remove: result.dir).
    Returns a DiffResult: diff.json parsed, the files' paths, the exit
    status and the tool's human answer.

    options, as the command line's (engine/diff/README.md): match ('auto',
    'inode', 'path'), depth (by_dir levels below each root, default 3),
    compress ('none', 'zstd'), memory ('1G', '64M', or bytes), tmpdir
    (where sorted runs spill), threads, escape ('auto', 'lossless', 'dey'),
    fail_if_growth (a size: net growth above it makes status 1, not an
    exception; outputs are written all the same), roots_differ (True:
    compare scans of different roots).  command: the pwalk-diff to run
    (default: find_diff()).

    Raises DiffError with the tool's one-line message (a truncated or
    corrupt file and where, columns that are not pwalk's, a row that does
    not parse with its file and line, different roots) and its status;
    FileNotFoundError when pwalk-diff cannot be found.
    """
    exe = find_diff(command)
    made = out_dir is None
    out = tempfile.mkdtemp(prefix="pwalk-diff-") if made else os.fsdecode(os.fspath(out_dir))
    proc = subprocess.run(_argv(exe, old, new, out, options), capture_output=True)
    if proc.returncode not in (0, 1):
        if made:
            shutil.rmtree(out, ignore_errors=True)
        err = proc.stderr.decode("utf-8", "replace").strip()
        lines = [l for l in err.splitlines() if l.startswith("pwalk-diff: ")]
        message = lines[-1][len("pwalk-diff: "):] if lines else \
            (err or f"pwalk-diff exited with status {proc.returncode}")
        if proc.returncode < 0:
            message = f"pwalk-diff was killed by signal {-proc.returncode}: {message}"
        raise DiffError(message, status=proc.returncode if proc.returncode > 0
                        else 128 - proc.returncode)
    return _result(proc.returncode, out, proc.stdout.decode("utf-8", "replace"))


__all__ = ["diff", "find_diff", "DiffResult", "DiffError"]
