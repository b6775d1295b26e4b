"""Scans over MPI ranks (pwalk-mpi) from Python: run(..., ranks=N) and
report(..., ranks=N) launch the job, and read_manifest() is the only way
to the shards -- shards without their manifest are refused."""

import csv
import errno
import glob
import io
import json
import os
import shutil
import subprocess
import tempfile
from typing import NamedTuple

from . import _yaml
from ._text import path_of
from ._types import ConfigError, EntryError, Error, ScanError


class IncompleteScanError(Error):
    """Shards without a manifest (the scan failed, was killed or is still
    running), or a manifest whose shards are not all there."""


class SinkShards(NamedTuple):
    name: str
    plugin: str
    glob: str           #: one pattern for all shards (DuckDB: read_csv(glob));
                        #: for a merged sink (the summary) its one output
    rows: int
    shards: list        #: absolute shard paths, rank order ([the output] when merged)


class Manifest(NamedTuple):
    """A complete scan over MPI ranks (pwalk-mpi's manifest)."""

    path: str
    ranks: int
    roots: list
    sinks: dict         #: sink name -> SinkShards
    entries: int
    rows: int
    error_count: int
    errors_files: list  #: per-rank error files ([] without scan.errors)
    per_rank: list      #: dicts: rank, status, entries, rows, errors, ...
    seconds: float
    raw: dict           #: the manifest as parsed


def manifest_path_for(output):
    """The manifest pwalk-mpi writes for a sink writing `output`
    (out/scan.csv.zst -> out/scan.manifest.json)."""
    output = os.fsdecode(os.fspath(output))
    head, base = os.path.split(output)
    cut = base.find(".csv")
    if cut < 0:
        cut = base.find(".")
    if cut <= 0:
        cut = len(base)
    return os.path.join(head, base[:cut] + ".manifest.json")


def read_manifest(path):
    """Check and read a pwalk-mpi manifest; `path` is the manifest or the
    output path of a sink (whose manifest is found beside it).

    Raises IncompleteScanError when there is no manifest, when a shard it
    lists is missing, or when a shard it does not list matches its glob
    (a leftover from another scan would silently join a DuckDB glob)."""
    path = os.fsdecode(os.fspath(path))
    if not path.endswith(".manifest.json"):
        path = manifest_path_for(path)
    try:
        with open(path, "rb") as f:
            raw = json.loads(f.read().decode("utf-8", "surrogateescape"))
    except FileNotFoundError:
        raise IncompleteScanError(
            f"{path}: no manifest: the shards of this scan are incomplete (a rank failed, "
            f"the job was killed, or it is still running)") from None
    except ValueError as e:
        raise IncompleteScanError(f"{path}: not a pwalk-mpi manifest: {e}") from None
    if raw.get("format") != "pwalk-shards" or raw.get("complete") is not True:
        raise IncompleteScanError(f"{path}: not a complete pwalk-mpi manifest")
    sinks = {}
    # the manifest's strings are lossless text like the reports (a path may
    # hold any byte): undone here, so that what is returned opens as it is
    for s in raw["sinks"]:
        if s.get("merged"):
            # one output (the summary's directory) that rank 0 merged from the
            # ranks' partials: no shards, no glob
            out = path_of(s["path"])
            if not os.path.exists(out):
                raise IncompleteScanError(f"{path}: {out} is missing")
            sinks[s["name"]] = SinkShards(s["name"], s["plugin"], out, s["rows"], [out])
            continue
        shards = [path_of(x["path"]) for x in s["shards"]]
        for p in shards:
            if not os.path.exists(p):
                raise IncompleteScanError(f"{path}: shard {p} is missing")
        pattern = path_of(s["glob"])
        extra = sorted(set(glob.glob(glob.escape(pattern).replace("[*]", "*"))) - set(shards))
        if extra:
            raise IncompleteScanError(f"{path}: {extra[0]} matches {pattern} but is not "
                                      f"part of this scan")
        sinks[s["name"]] = SinkShards(s["name"], s["plugin"], pattern, s["rows"], shards)
    t = raw["totals"]
    return Manifest(path=path, ranks=raw["ranks"], roots=[path_of(r) for r in raw["roots"]],
                    sinks=sinks, entries=t["entries"], rows=t["rows"], error_count=t["errors"],
                    errors_files=[path_of(e) for e in raw.get("errors_files") or []],
                    per_rank=raw["per_rank"], seconds=raw["seconds"], raw=raw)


_BUILD_HINT = "build it (bazel build //:pwalk-mpi, needs Open MPI) and set PWALK_MPI or put " \
    "it on PATH"


def _find_mpi(command):
    """The pwalk-mpi to launch: command, else $PWALK_MPI, else the one on
    PATH.  Checked here because mpirun given a file that is not there fails
    with a status and a banner that do not say which file was missing."""
    exe = command or os.environ.get("PWALK_MPI")
    if exe and os.sep not in exe:
        exe = shutil.which(exe) or exe
    elif not exe:
        exe = shutil.which("pwalk-mpi")
        if not exe:
            raise FileNotFoundError(errno.ENOENT, f"pwalk-mpi not found: {_BUILD_HINT}",
                                    "pwalk-mpi")
    if not os.path.isfile(exe):
        origin = "" if command else " (from PWALK_MPI)"
        raise FileNotFoundError(errno.ENOENT, f"pwalk-mpi not found at {exe}{origin}: "
                                f"{_BUILD_HINT}", exe)
    if not os.access(exe, os.X_OK):
        raise PermissionError(errno.EACCES, f"pwalk-mpi at {exe} is not executable", exe)
    return exe


def launcher_for(ranks):
    """The default launcher: mpirun -np N (--oversubscribe, so more ranks
    than cores work on one machine; --allow-run-as-root as root).  Under
    SLURM pass launcher=["srun"] instead."""
    argv = [os.environ.get("PWALK_MPIRUN", "mpirun"), "--oversubscribe", "-np", str(ranks)]
    if os.geteuid() == 0:
        argv.insert(1, "--allow-run-as-root")
    return argv


def _run_bounded(argv):
    """Run the launcher; with $PWALK_MPI_TIMEOUT (seconds) set, a job that
    outlives it is stopped -- SIGTERM first, which mpirun and srun pass on to
    the ranks, SIGKILL 10 s later -- and reported as failed (no manifest).
    A hung rank must not hang the caller, the tests least of all."""
    limit = os.environ.get("PWALK_MPI_TIMEOUT")
    try:
        limit = float(limit) if limit else None
    except ValueError:
        raise ValueError(f"PWALK_MPI_TIMEOUT: '{limit}' is not a number of seconds") from None
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        raise ScanError(f"pwalk-mpi did not finish within PWALK_MPI_TIMEOUT={limit:g} s and "
                        f"was stopped; no manifest, the shards are incomplete",
                        status=proc.returncode) from None
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def run_sharded(config, roots, ranks, threads=0, sets=(), launcher=None, mpi_command=None):
    """Run a pipeline (dict or YAML path) with pwalk-mpi over `ranks` ranks;
    returns its Manifest."""
    if int(ranks) < 1:
        raise ValueError("ranks must be >= 1")
    exe = _find_mpi(mpi_command)
    with tempfile.TemporaryDirectory(prefix="pwalk-mpi-") as tmp:
        if isinstance(config, dict):
            cfg = os.path.join(tmp, "pipeline.yaml")
            with open(cfg, "w", encoding="utf-8") as f:
                f.write(_yaml.dump(config))
        else:
            cfg = os.fspath(config)
        argv = list(launcher) if launcher else launcher_for(ranks)
        argv += [exe, "-q", "-c", cfg]
        for s in sets:
            argv += ["--set", s]
        if threads:
            argv += ["--threads", str(threads)]
        argv += list(roots or [])
        proc = _run_bounded(argv)
    err = proc.stderr.decode("utf-8", "replace")
    ours = [l[len("pwalk-mpi: "):] for l in err.splitlines() if l.startswith("pwalk-mpi: ")]
    message = ours[0] if ours else err.strip().splitlines()[-1] if err.strip() else ""
    if proc.returncode == 2:
        raise ConfigError(message, status=2)
    # stdout is the manifest's path and a newline, nothing else; the path
    # may itself hold newlines, so it is not split into lines
    printed = os.fsdecode(proc.stdout)
    if printed.endswith("\n"):
        printed = printed[:-1]
    if proc.returncode not in (0, 1) or not printed:
        raise ScanError(f"pwalk-mpi failed (exit {proc.returncode}): {message}; no manifest, "
                        f"the shards are incomplete", status=proc.returncode)
    return read_manifest(printed)


def errors_of(manifest):
    """The entries the scan could not read, from its per-rank error files."""
    out = []
    for p in manifest.errors_files:
        with open(p, "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
        for row in csv.DictReader(io.StringIO(text, newline="")):
            if row.get("kind", "error") != "error":
                continue  # vanished or replaced mid-scan: not an error
            path = path_of(row["path"])
            e = int(row["errno"])
            out.append(EntryError(path, e, os.strerror(e), row["operation"]))
    return out
