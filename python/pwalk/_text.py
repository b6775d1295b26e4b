"""pwalk's lossless text (plugins/csv/FORMAT.md, escape: lossless),
the one convention of every file the engine writes that names a path: the
csv reports, the error files, the repair log and the MPI manifest."""

import os
import re

# Every backslash, with what may follow it; group 1 is None when nothing
# the engine writes does (common/lossless.c is the writer and the C reader,
# and tests/lossless/vectors.txt holds both to the same cases).
_ESCAPE = re.compile(rb"\\(\\|x[0-9a-fA-F]{2})?")


def _unescape_one(m):
    if m.group(1) is None:
        raise ValueError("not pwalk's lossless text: the backslash at byte %d of %r is "
                         "neither \\\\ nor \\xHH" % (m.start(), m.string))
    return b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1)[1:], 16)])


def unescape(text):
    """A path as the engine writes it losslessly ('\\\\' for a backslash,
    \\xHH for control bytes and invalid UTF-8) back to the exact bytes on
    disk.  ValueError for text no pwalk writer produces (a backslash
    followed by anything else)."""
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return _ESCAPE.sub(_unescape_one, raw)


def path_of(text):
    """unescape() as a str path, non-UTF-8 bytes decoded as os.fsdecode
    does (what open() and os.path take back unchanged)."""
    return os.fsdecode(unescape(text))
