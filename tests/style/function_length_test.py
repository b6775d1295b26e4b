"""No function over 80 lines in the product's C code (issue 14's style rule).

Reads every C file under engine/ (the library and its drivers), common/,
plugins/ and python/src/ (the extension) in the real source tree and measures each function from the line that names it to
its closing brace.  The engine's style puts a function's
opening brace alone on a line at column 0 and its closing brace likewise
(a one-line function keeps both on its signature line and is short
anyway); a K&R-style opening brace at the end of the signature line is
found too.

LEFT would list a function that has to stay longer, with the reason;
anything else over the limit fails, named with its file and line.

    python3 tests/style/function_length_test.py [--limit N] [FILE...]

prints every function over N lines (default 80) of the given files (default:
the C files of every folder in SOURCES).  The real tree is read through the runfiles' link to it: the
target is tagged "external" so it runs every time, not from a cache that
would not know a source changed."""

import os
import re
import sys

LIMIT = 80

# The folders checked: the product's C code (tests are not held to it).
SOURCES = ("engine", "common", "plugins", "python/src")

# repository-relative path -> {function: why it is still long}; none is left
# (a function that must stay long for a reason goes here, with the reason)
LEFT = {}

NAME_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
NOT_A_FUNCTION = ("typedef", "struct", "enum", "union", "#", "/", "*", "}")


def repo_root():
    """The source tree: README.md in the runfiles links into it."""
    here = os.path.join(os.environ.get("TEST_SRCDIR", ""),
                        os.environ.get("TEST_WORKSPACE", "pwalk"), "README.md")
    if os.path.exists(here):
        return os.path.dirname(os.path.realpath(here))
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def signature_start(lines, i):
    """Index of the first line of the signature ending just above line i."""
    j = i - 1
    while j > 0 and lines[j][:1] in (" ", "\t"):
        j -= 1
    return j


def functions(text):
    """(name, first line number, length in lines) of each function."""
    lines = text.split("\n")
    found = []
    i = 0
    while i < len(lines):
        line = lines[i]
        start = None
        if line == "{" and i > 0:
            start = signature_start(lines, i)
        elif (line[:1].isalpha() or line[:1] == "_") and line.endswith(") {") \
                and "=" not in line:
            start = i
        if start is None:
            i += 1
            continue
        m = NAME_RE.search(lines[start])
        end = i + 1
        while end < len(lines) and lines[end] != "}":
            end += 1
        if m and not lines[start].startswith(NOT_A_FUNCTION):
            found.append((m.group(1), start + 1, end - start + 1))
        i = end + 1
    return found


def source_files(root, folder):
    """Repository-relative paths of the C files under folder."""
    for d, _, names in os.walk(os.path.join(root, folder)):
        for n in sorted(names):
            if n.endswith(".c"):
                yield os.path.relpath(os.path.join(d, n), root)


def too_long(root, limit=LIMIT):
    """(repository-relative file, function, line, length) over the limit."""
    out = []
    for rel in (f for folder in SOURCES for f in source_files(root, folder)):
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for name, line, length in functions(f.read()):
                if length > limit:
                    out.append((rel, name, line, length))
    return out


def test_the_measure_counts_name_to_closing_brace():
    text = ("static int short_one(void) { return 0; }\n"
            "static int\nlong_one(int a,\n         int b)\n{\n" + "    a++;\n" * 90 + "}\n"
            "int kr(void) {\n    return 1;\n}\n"
            "static const int table[] = {\n    1,\n};\n")
    assert functions(text) == [("long_one", 3, 94), ("kr", 97, 3)]


def test_no_function_over_the_limit():
    root = repo_root()
    for folder in SOURCES:
        assert os.path.isdir(os.path.join(root, folder)), os.path.join(root, folder)
        assert any(source_files(root, folder)), "found no C sources under " + folder
    assert sum(1 for _ in source_files(root, "engine")) > 5, "few engine sources under " + root
    bad = [f"{rel}:{line}: {name}() is {length} lines (limit {LIMIT})"
           for rel, name, line, length in too_long(root)
           if name not in LEFT.get(rel, {})]
    assert not bad, "split these functions:\n" + "\n".join(bad)


def main(argv):
    limit = LIMIT
    if argv[:1] == ["--limit"]:
        limit = int(argv[1])
        argv = argv[2:]
    root = repo_root()
    if not argv:
        for rel, name, line, length in too_long(root, limit):
            print(f"{rel}:{line}: {name} {length}")
        return 0
    for path in argv:
        with open(path, encoding="utf-8", errors="replace") as f:
            for name, line, length in functions(f.read()):
                if length > limit:
                    print(f"{path}:{line}: {name} {length}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
