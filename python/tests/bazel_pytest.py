"""Entry point of the Bazel py_test targets: run pytest on the files given
and write JUnit XML where Bazel expects it, so scripts/test.sh counts each
pytest case as one test."""

import os
import sys

import pytest


def main():
    args = sys.argv[1:] or [os.path.dirname(os.path.abspath(__file__))]
    xml = os.environ.get("XML_OUTPUT_FILE")
    if xml:
        args.append("--junitxml=" + xml)
    # runfiles are read-only symlinks into the source tree: no cache there
    args += ["-p", "no:cacheprovider", "-q", "-rs"]
    return pytest.main(args)


if __name__ == "__main__":
    sys.exit(main())
