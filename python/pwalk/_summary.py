"""read_summary(): the tables the `summary` sink writes in one directory
(plugins/summary/FORMAT.md), typed: integers as int, booleans as bool,
paths and names unescaped from pwalk's lossless text."""

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
from typing import NamedTuple, Union

from ._mpi import IncompleteScanError
from ._text import unescape
from ._types import Error

Path = Union[str, bytes]


class DirTotals(NamedTuple):
    """A row of dirs.csv: one directory, totals over itself and below."""

    path: Path
    depth: int          #: -1 for a root
    dev: int
    inode: int
    uid: int
    gid: int
    files: int          #: non-directories below it
    dirs: int           #: directories below it (not itself)
    bytes: int          #: st_size of itself and everything below (du --apparent-size)
    allocated: int      #: st_blocks * 512, the same way (du -B1)
    newest_mtime: int
    newest_atime: int
    oldest_mtime: int
    stale_bytes: int    #: bytes not modified for the oldest age bucket


class UserTotals(NamedTuple):
    """A row of users.csv."""

    uid: int
    user: str           #: "" when the uid has no account (orphan)
    files: int
    dirs: int
    bytes: int
    allocated: int
    newest_mtime: int
    oldest_atime: int
    orphan: bool


class GroupTotals(NamedTuple):
    """A row of groups.csv."""

    gid: int
    group: str          #: "" when the gid has no group (orphan)
    files: int
    dirs: int
    bytes: int
    allocated: int
    orphan: bool


class UsageCell(NamedTuple):
    """A cell of usage.csv, the user x group x top x age x size cube."""

    uid: int
    gid: int
    top: Path           #: first path component below the root ("." for the root's own)
    mtime_age_days: int  #: lower bound of the age bucket (0, then the age_days values)
    atime_age_days: int
    ctime_age_days: int
    size_min: int       #: lower bound of the size class
    files: int
    dirs: int
    bytes: int
    allocated: int


class TopDir(NamedTuple):
    """A row of top.csv: the largest directories, ranked three ways."""

    ranked_by: str      #: "bytes", "files" or "stale_bytes"
    rank: int           #: 1..top
    path: Path
    files: int
    dirs: int
    bytes: int
    allocated: int
    stale_bytes: int


class SummaryTables(NamedTuple):
    """What read_summary() returns.  The tables are lists of the row types
    above, or pandas DataFrames with the same columns (pandas=True)."""

    dir: Path
    dirs: object
    users: object
    groups: object
    usage: object
    top: object
    info: dict          #: summary.json as parsed (strings as written: lossless text)


# table -> row type; the columns of each are the CSV's header, in order
_TABLES = {"dirs": DirTotals, "users": UserTotals, "groups": GroupTotals,
           "usage": UsageCell, "top": TopDir}
_PATHS = {"path", "top"}       # unescaped, str or bytes like the dir given
_NAMES = {"user", "group", "ranked_by"}   # unescaped, always str
_BOOLS = {"orphan"}
_BOOL_TEXT = {"true": True, "false": False}


class SummaryFormatError(Error, ValueError):
    """A file in the summary directory is not what the summary sink writes
    (wrong header, a value of the wrong type, a row count that does not
    match summary.json).  The message names the file and the line."""


def _read_info(directory):
    path = os.path.join(directory, b"summary.json")
    try:
        with open(path, "rb") as f:
            info = json.loads(f.read().decode("utf-8", "surrogateescape"))
    except FileNotFoundError:
        raise IncompleteScanError(
            f"{os.fsdecode(path)}: missing: not a complete summary (summary.json is written "
            f"last; the scan failed, was stopped or is still running)") from None
    except ValueError as e:
        raise SummaryFormatError(f"{os.fsdecode(path)}: not JSON: {e}") from None
    if not isinstance(info, dict) or info.get("format") != "pwalk-summary":
        raise SummaryFormatError(f"{os.fsdecode(path)}: not a pwalk summary "
                                 f"(format is not \"pwalk-summary\")")
    if info.get("version") != 1:
        raise SummaryFormatError(f"{os.fsdecode(path)}: summary version "
                                 f"{info.get('version')!r} is not supported (this pwalk "
                                 f"reads version 1)")
    if info.get("complete") is not True:
        raise IncompleteScanError(f"{os.fsdecode(path)}: the summary is not complete")
    return info


@contextlib.contextmanager
def _table_text(path):
    """A table's text, streamed (a dirs.csv has a row per directory): the
    file itself, or zstd -dc's output for .zst (the zstd command; Debian:
    zstd).  Lossless text is valid UTF-8 with control bytes escaped, so csv
    sees one line per row."""
    if not path.endswith(b".zst"):
        with open(path, "rb") as f:
            yield io.TextIOWrapper(f, encoding="utf-8", errors="surrogateescape", newline="")
        return
    exe = shutil.which("zstd")
    if exe is None:
        raise FileNotFoundError(f"{os.fsdecode(path)}: reading a .zst table needs the zstd "
                                f"command (apt-get install zstd), not found on PATH")
    with subprocess.Popen([exe, "-dcq", "--", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        try:
            yield io.TextIOWrapper(proc.stdout, encoding="utf-8", errors="surrogateescape",
                                   newline="")
        except BaseException:
            proc.kill()
            raise
        err = proc.stderr.read()
        if proc.wait() != 0:
            raise SummaryFormatError(f"{os.fsdecode(path)}: zstd -d failed: "
                                     f"{err.decode(errors='replace').strip()}")


def _text_str(t):
    # no backslash: the text is the name itself (lossless text escapes
    # every byte that is not plain UTF-8), so skip the regex
    return t if "\\" not in t else os.fsdecode(unescape(t))


def _text_bytes(t):
    return t.encode("utf-8") if "\\" not in t else unescape(t)


def _converters(name, fields, like_str):
    """One callable per column; integers are never empty (FORMAT.md)."""
    out = []
    for col in fields:
        if col in _PATHS:
            out.append(_text_str if like_str else _text_bytes)
        elif col in _NAMES:
            out.append(_text_str)
        elif col in _BOOLS:
            out.append(_BOOL_TEXT.__getitem__)
        else:
            out.append(int)
    return out


def _read_table(directory, name, entry, like_str):
    """One table's rows as named tuples, checked against its header and
    the row count summary.json gives."""
    row_type = _TABLES[name]
    file = entry.get("file") if isinstance(entry, dict) else None
    if not isinstance(file, str) or "/" in file or file in ("", ".", ".."):
        raise SummaryFormatError(f"{os.fsdecode(directory)}/summary.json: tables.{name}.file "
                                 f"is not a file name: {file!r}")
    path = os.path.join(directory, os.fsencode(file))
    where = os.fsdecode(path)
    conv = _converters(name, row_type._fields, like_str)
    rows = []
    with _table_text(path) as text:
        # "" inside the quoted fields is undone by csv, the escapes by conv
        reader = csv.reader(text)
        header = next(reader, None)
        if header != list(row_type._fields):
            raise SummaryFormatError(f"{where}: header {','.join(header or [])!r} is not "
                                     f"{','.join(row_type._fields)!r}")
        for line, rec in enumerate(reader, start=2):
            if len(rec) != len(conv):
                raise SummaryFormatError(f"{where}:{line}: {len(rec)} fields, not {len(conv)}")
            try:
                rows.append(row_type._make([c(v) for c, v in zip(conv, rec)]))
            except (ValueError, KeyError) as e:
                raise SummaryFormatError(f"{where}:{line}: bad value: {e}") from None
    expected = entry.get("rows")
    if expected is not None and expected != len(rows):
        raise SummaryFormatError(f"{where}: {len(rows)} rows, summary.json says {expected}")
    return rows


def _frame(pd, row_type, rows):
    """A DataFrame with the row type's columns: int64 for integers (uint64
    for a column with a value past int64), bool, object for text."""
    columns = list(zip(*rows)) if rows else [()] * len(row_type._fields)
    data = {}
    for col, values in zip(row_type._fields, columns):
        if col in _PATHS or col in _NAMES:
            data[col] = pd.Series(values, dtype=object)
        elif col in _BOOLS:
            data[col] = pd.Series(values, dtype=bool)
        else:
            try:
                data[col] = pd.Series(values, dtype="int64")
            except OverflowError:
                data[col] = pd.Series(values, dtype="uint64")
    return pd.DataFrame(data, columns=list(row_type._fields))


def _pandas(wanted):
    if wanted is False:
        return None
    try:
        import pandas
    except ImportError:
        if wanted:
            raise
        return None
    return pandas


def read_summary(directory, *, pandas=None):
    """Read the tables the summary sink wrote in `directory`
    (plugins/summary/FORMAT.md): .csv or .csv.zst (read with the zstd
    command), as summary.json lists them.

    Returns SummaryTables(dir, dirs, users, groups, usage, top, info):
    each table a list of named tuples (DirTotals, UserTotals, GroupTotals,
    UsageCell, TopDir) -- integers as int, booleans as bool, paths and `top`
    unescaped to the exact bytes on disk, as str (os.fsdecode) when
    directory is str and as bytes when it is bytes -- or, when pandas is
    importable (pandas=None) or pandas=True, a pandas DataFrame with the
    same columns.  pandas=False always gives lists.  info is summary.json
    as parsed.

    Raises IncompleteScanError when summary.json is missing (it is written
    last: the scan failed or is still running), SummaryFormatError (a
    ValueError) for a file that is not what the sink writes, naming it."""
    given = os.fspath(directory)
    like_str = isinstance(given, str)
    d = os.fsencode(given)
    pd = _pandas(pandas)
    info = _read_info(d)
    tables = info.get("tables")
    if not isinstance(tables, dict):
        raise SummaryFormatError(f"{os.fsdecode(d)}/summary.json: no \"tables\"")
    out = {}
    for name, row_type in _TABLES.items():
        if name not in tables:
            raise SummaryFormatError(f"{os.fsdecode(d)}/summary.json: tables has no {name!r}")
        rows = _read_table(d, name, tables[name], like_str)
        out[name] = _frame(pd, row_type, rows) if pd is not None else rows
    return SummaryTables(dir=given, info=info, **out)


__all__ = ["read_summary", "SummaryTables", "DirTotals", "UserTotals", "GroupTotals",
           "UsageCell", "TopDir", "SummaryFormatError"]
