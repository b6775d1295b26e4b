"""pwalk's lossless text (../shared/notes/csv-format.md, escape: lossless),
the one convention of every file the engine writes that names a path: the
csv reports, the error files, the repair log and the MPI manifest."""

import os
import re

_ESCAPE = re.compile(rb"\\(\\|x[0-9a-fA-F]{2})")


def unescape(text):
    """A path as the engine writes it losslessly ('\\\\' for a backslash,
    \\xHH for control bytes and invalid UTF-8) back to the exact bytes on
    disk."""
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return _ESCAPE.sub(lambda m: b"\\" if m.group(1) == b"\\" else
                       bytes([int(m.group(1)[1:], 16)]), raw)


def path_of(text):
    """unescape() as a str path, non-UTF-8 bytes decoded as os.fsdecode
    does (what open() and os.path take back unchanged)."""
    return os.fsdecode(unescape(text))
