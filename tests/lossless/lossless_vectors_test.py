"""pwalk.unescape() (python/pwalk/_text.py, pure Python) against the same
vectors as the C implementation (common/lossless.c, lossless_test.cc): the
Python reader of pwalk's lossless text is a second implementation only in
language, never in behaviour."""

import csv
import io
import json
import os

import pytest

import pwalk
from pwalk import _text

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.txt")


def _load():
    good, bad = [], []
    with open(VECTORS, "rb") as f:
        for number, line in enumerate(f.read().split(b"\n"), 1):
            if not line or line.startswith(b"#"):
                continue
            cols = line.split(b"\t")
            if cols[0] == b"!":
                # a lone quote ("csv" lines) is the csv module's to refuse
                if cols[1] == b"bare":
                    bad.append(pytest.param(cols[2], id=f"line{number}"))
            else:
                good.append(pytest.param(bytes.fromhex(cols[0].decode()), *cols[1:4],
                                         id=f"line{number}"))
    return good, bad


GOOD, BAD = _load()


def test_the_vectors_are_there():
    assert len(GOOD) >= 40 and len(BAD) >= 5


@pytest.mark.parametrize("name,bare,csv_text,json_text", GOOD)
def test_unescape_gives_the_name_back(name, bare, csv_text, json_text):
    # as bytes, and as the str a UTF-8 reader (csv, json) hands over
    assert pwalk.unescape(bare) == name
    assert pwalk.unescape(bare.decode("utf-8")) == name
    # a CSV field as Python's csv module reads it ("" collapsed)
    field = next(csv.reader(io.StringIO('"' + csv_text.decode("utf-8") + '"')))[0]
    assert pwalk.unescape(field) == name
    # a JSON string (the repair log's jsonl, the MPI manifest) once decoded
    assert pwalk.unescape(json.loads('"' + json_text.decode("utf-8") + '"')) == name
    assert _text.path_of(bare) == os.fsdecode(name)


@pytest.mark.parametrize("text", BAD)
def test_unescape_refuses_malformed_text(text):
    with pytest.raises(ValueError, match="lossless"):
        pwalk.unescape(text)
    with pytest.raises(ValueError, match="lossless"):
        pwalk.unescape(text.decode("utf-8"))
