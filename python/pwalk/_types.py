"""Exceptions and result objects of the pwalk package."""

import os
from typing import NamedTuple, Optional, Union

Path = Union[str, bytes]


class Error(Exception):
    """Base class of pwalk's own failures.

    ``status`` is the engine's exit status for the failure (the number the
    ``pwalk-engine`` command line would have exited with), ``summary`` the
    engine's end-of-scan summary when the scan had started.
    """

    def __init__(self, message, status=None, summary=""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.summary = summary


class ConfigError(Error, ValueError):
    """A bad pipeline: YAML, unknown key, bad option value, unknown plugin.

    The message is the engine's, naming the file, line, column and key where
    there is one.  Also a ``ValueError``.
    """


class PluginError(Error):
    """A sink's plugin failed (could not create its output, a write failed,
    ...).  ``sink`` names the sink and ``sink_message`` is the plugin's own
    message (both fields of the engine's result, not read from the text);
    the message is the engine's line, "sink 'NAME': ...; no output published"."""

    def __init__(self, message, status=None, summary="", sink=None, sink_message=None):
        super().__init__(message, status, summary)
        self.sink = sink
        self.sink_message = sink_message


class ScanError(Error):
    """The scan itself failed (out of memory, no threads, the error file
    could not be written).  Nothing was published."""


class Incomplete(Error):
    """The scan was suspended at a checkpoint (status 75): scan.time_limit
    reached, or the engine was asked to suspend.  Nothing was published
    yet; the journal and the outputs' temporary parts are kept.
    ``checkpoint`` is the journal's path (as given to checkpoint= or
    resume=; None when only the pipeline named it): call the same function
    again with ``resume=`` that path to continue."""

    def __init__(self, message, status=None, summary="", checkpoint=None):
        super().__init__(message, status, summary)
        self.checkpoint = checkpoint


class EntryError(NamedTuple):
    """One entry the scan could not read (a row of the engine's error file)."""

    path: Path          #: str when the roots were given as str, else bytes
    errno: int
    message: str        #: os.strerror(errno)
    operation: str      #: "opendir", "lstat", "getdents", ...


class Summary(NamedTuple):
    """What one pipeline run did (pwalk.run())."""

    status: int         #: 0 complete, 1 complete but some entries unreadable
    message: str        #: why status is not 0 ("" when it is)
    entries: int        #: names read from directories, plus the roots
    rows: int           #: rows handed to the sinks
    dirs: int           #: directory rows
    error_count: int    #: error records (the walk's and the sinks')
    errors: list        #: [EntryError, ...]
    outputs: dict       #: sink name -> its "path" option (a summary: its "dir"), str, or None
    sink_rows: dict     #: sink name -> rows it accepted
    filtered: dict      #: reason -> entries left out (snapshot, exclude, ...)
    seconds: float
    errors_path: Optional[str]    #: scan.errors file, if any
    summary: str        #: the engine's summary text (as the CLI prints it)
    #: [EntryError, ...] entries that vanished (or directories replaced)
    #: while the scan ran: not errors, status 0 unless scan.strict
    vanished: list = []

    @property
    def ok(self):
        """True when every entry was read (status 0)."""
        return self.status == 0


class Progress(NamedTuple):
    """A running scan's counters, passed to run(progress=...)."""

    entries: int        #: names read so far, plus the roots
    rows: int
    dirs: int
    errors: int         #: error records (unreadable entries)
    vanished: int       #: entries gone or replaced since they were listed
    queued: int         #: directories waiting to be read
    seconds: float      #: since the walk started
    #: worker threads running now (threads: auto and scan.adaptive move it)
    threads: int = 0


class RepairChange(NamedTuple):
    """One change repair() made, or would make in a dry run."""

    path: Path
    what: str           #: e.g. "group", "mode", "setgid" (the plugin's word)
    old: str
    new: str
    record: dict        #: the whole log record, as the plugin wrote it


class RepairSkip(NamedTuple):
    """An entry repair() left alone on purpose (symlink, hard link, ...)."""

    path: Path
    reason: str
    record: dict


class RepairResult(NamedTuple):
    """What repair() did (or would do, with dry_run=True)."""

    dry_run: bool
    changes: list       #: [RepairChange, ...]
    skipped: list       #: [RepairSkip, ...]
    errors: list        #: [EntryError, ...]
    summary: Summary
    log: Optional[Path]  #: the change log kept (None if a temporary one was used)


def fs_like(path, like_str):
    """Bytes from the engine, as str when the caller gave str paths."""
    return os.fsdecode(path) if like_str else path
