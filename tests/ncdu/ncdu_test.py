"""The ncdu sink (issue 17), checked with Debian's ncdu 1.18 itself.

One walk feeds three sinks: ncdu, summary and the csv report.  ncdu
imports our export and re-exports it (`ncdu -e -f IN -o OUT`); the
re-export must be our file byte for byte past the metadata line (ncdu
keeps the order it read), every entry must carry the csv row's figures
(the lstat oracle of the same walk), and the totals and hard-link groups
counted from it must equal the summary's (summary.json totals, the root's
dirs.csv row).  Names with newlines, quotes, control bytes and invalid
UTF-8 round-trip through ncdu byte for byte.  The tree is the summary
test's (tests/summary/summary_tree.py: owners, hard links inside and
across directories, an unreadable directory, excluded paths, a hostile
name); the engine runs as root without DAC capabilities so the locked
directory is unreadable (ncdu's "read_error").
"""

import json
import os
import resource
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "summary"))
import summary_tree as T  # noqa: E402

NCDU = shutil.which("ncdu")


@pytest.fixture
def work():
    reason = T.can_drop_caps()
    if reason:
        pytest.skip(reason)
    if not NCDU:
        pytest.skip("ncdu not installed (scripts/setup.sh installs Debian's ncdu)")
    d = T.scratch("ncdu")
    yield d
    T.remove(d)


def pipeline(path, threads=2, excluded=(), ncdu="", summary_dir=None, csv_path=None):
    lines = ["version: 1", "scan:", "  threads: %d" % threads]
    if excluded:
        lines.append("  exclude: [%s]" % ", ".join(T.yaml_str(x) for x in excluded))
    lines.append("sinks:")
    lines.append("  - {name: browse, plugin: ncdu, options: {%s}}" % ncdu)
    if summary_dir:
        lines.append("  - {name: sum, plugin: summary, options: {dir: %s, print: false}}"
                     % T.yaml_str(summary_dir))
    if csv_path:
        lines.append("  - {name: report, plugin: csv, options: {path: %s}}" % T.yaml_str(csv_path))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def scan(work, root, tag, want, excluded=(), opts="", summary=True, csv=True, threads=2):
    """Runs ncdu (+ summary + csv) over root; returns the paths written."""
    out = {"ncdu": os.path.join(work, tag + ".json")}
    if summary:
        out["summary"] = os.path.join(work, tag + "-summary")
    if csv:
        out["csv"] = os.path.join(work, tag + ".csv")
    cfg = pipeline(os.path.join(work, tag + ".yaml"), threads, excluded,
                   "path: %s%s" % (T.yaml_str(out["ncdu"]), opts), out.get("summary"),
                   out.get("csv"))
    r = T.run_engine(["-q", "-c", cfg, root])
    assert r.returncode == want, r.stderr.decode(errors="replace")
    return out


def reexport(work, path, tag="re"):
    """ncdu imports path and writes it again; returns the re-export's bytes."""
    out = os.path.join(work, tag + ".json")
    r = subprocess.run([NCDU, "-0", "-e", "-f", path, "-o", out], capture_output=True, timeout=600)
    # ncdu 1.18 says what it refused on stderr (and may still exit 0)
    assert r.returncode == 0 and r.stderr == b"", r.stderr.decode(errors="replace")
    with open(out, "rb") as f:
        return f.read()


def parse(raw):
    """An export as Python data; names come back as their bytes."""
    return json.loads(raw.decode("utf-8", "surrogateescape"))


def name_bytes(name):
    return name.encode("utf-8", "surrogateescape")


def flatten(doc):
    """{path relative to the root (b"" for it): fields}, with dev inherited
    from the enclosing directory as ncdu does, and every path once."""
    assert doc[0] == 1 and doc[1] == 2, doc[:2]
    assert doc[2]["progname"] in ("pwalk", "ncdu")
    out = {}
    stack = [(doc[3], b"", None)]
    while stack:
        node, rel, parent_dev = stack.pop()
        info = dict(node[0])
        info.pop("name")
        info.setdefault("dev", parent_dev)
        info["dir"] = True
        assert rel not in out, rel
        out[rel] = info
        for child in node[1:]:
            if isinstance(child, list):
                n = name_bytes(child[0]["name"])
                stack.append((child, rel + b"/" + n if rel else n, info["dev"]))
            else:
                c = dict(child)
                n = name_bytes(c.pop("name"))
                c.setdefault("dev", info["dev"])
                c["dir"] = False
                p = rel + b"/" + n if rel else n
                assert p not in out, p
                out[p] = c
    return out


def totals(flat):
    """files, dirs, bytes, allocated as ncdu counts them: every hard-linked
    inode (hlnkc) once."""
    seen = set()
    t = {"files": 0, "dirs": 0, "bytes": 0, "allocated": 0}
    for info in flat.values():
        if info.get("hlnkc"):
            key = (info["dev"], info["ino"])
            if key in seen:
                continue
            seen.add(key)
        t["dirs" if info["dir"] else "files"] += 1
        t["bytes"] += info.get("asize", 0)
        t["allocated"] += info.get("dsize", 0)
    return t


def link_groups(flat):
    groups = {}
    for p, info in flat.items():
        if info.get("hlnkc"):
            groups.setdefault((info["dev"], info["ino"]), set()).add(p)
    return sorted(sorted(g) for g in groups.values())


def expected_from_csv(csv_path, root):
    """What each entry must say, from the csv report of the same walk."""
    rows = T.read_table(csv_path)
    h = rows[0]
    col = {c: h.index(c) for c in h}
    rootb = os.fsencode(root)
    want = {}
    for r in rows[1:]:
        p = T.unescape(r[col["filename"]])
        rel = b"" if p == rootb else p[len(rootb) + 1:]
        mode = int(r[col["st_mode"]], 8)
        isdir = (mode & 0o170000) == 0o040000
        nlink = int(r[col["st_nlink"]])
        e = {"dir": isdir, "asize": int(r[col["st_size"]]),
             "dsize": int(r[col["st_blocks"]]) * 512, "dev": int(r[col["st_dev"]]),
             "uid": int(r[col["UID"]]), "gid": int(r[col["GID"]]), "mode": mode,
             "mtime": max(0, int(r[col["st_mtime"]]))}
        if not isdir and nlink > 1:
            e.update(ino=int(r[col["inode"]]), hlnkc=True, nlink=nlink)
        if not isdir and (mode & 0o170000) != 0o100000:
            e["notreg"] = True
        if isdir and r[col["pw_fcount"]] == "-1":
            e["read_error"] = True
        want[rel] = e
    return want


def normalized(flat):
    """asize/dsize written only when non-zero, as ncdu does: 0 when absent."""
    out = {}
    for p, info in flat.items():
        e = dict(info)
        e.setdefault("asize", 0)
        e.setdefault("dsize", 0)
        out[p] = e
    return out


def test_ncdu_reimports_our_export_and_agrees_with_csv_and_summary(work):
    facts = T.build(os.path.join(work, "tree"))
    out = scan(work, facts["root"], "scan", 1, facts["excluded"])
    with open(out["ncdu"], "rb") as f:
        ours = f.read()
    re = reexport(work, out["ncdu"])
    # ncdu keeps what it read: the same bytes past the metadata line
    assert ours.split(b"\n", 1)[1].rstrip(b"\n") == re.split(b"\n", 1)[1], "re-export differs"
    doc = parse(ours)
    assert doc[2]["progname"] == "pwalk" and isinstance(doc[2]["progver"], str)
    assert doc[3][0]["name"] == facts["root"]  # absolute already
    flat, reflat = flatten(doc), flatten(parse(re))
    assert flat == reflat
    # every entry of the walk, with the csv row's figures, and nothing else
    want = expected_from_csv(out["csv"], facts["root"])
    got = normalized(flat)
    assert sorted(got) == sorted(want)
    for p in want:
        assert got[p] == want[p], (p, got[p], want[p])
    assert got[b"locked"].get("read_error") is True
    assert not any(p.startswith(b"locked/") for p in got)
    assert os.fsencode(T.HOSTILE) in got and os.fsencode(T.HOSTILE) + b"/in" + T.HOSTILE in got
    # the summary of the same walk: totals and the root's dirs.csv row
    with open(os.path.join(out["summary"], "summary.json")) as f:
        meta = json.load(f)
    t = totals(reflat)
    assert t == meta["totals"], (t, meta["totals"])
    dirs = T.read_table(os.path.join(out["summary"], "dirs.csv"))
    root_row = dict(zip(dirs[0], next(r for r in dirs[1:] if r[1] == "-1")))
    assert int(root_row["files"]) == t["files"] and int(root_row["dirs"]) == t["dirs"] - 1
    assert int(root_row["bytes"]) == t["bytes"]
    assert int(root_row["allocated"]) == t["allocated"]
    # hard-link groups: the same inodes together as in the tree
    groups = link_groups(reflat)
    assert [b"beta/links/same-a", b"beta/links/same-b", b"beta/links/same-c"] in groups
    assert [b"beta/links/cross", b"gamma/zz-first-walked"] in groups
    assert [b"hl/~", b"hl/\xff"] in groups
    assert [b"zeta-second"] in groups  # its other name is excluded: still nlink 2
    assert groups == link_groups(flat)


def test_gdu_reads_the_export_with_the_summarys_totals(work):
    """Another reader of ncdu exports, Debian's gdu: its totals (disk usage
    and apparent size) of our file equal the summary's of the same walk."""
    gdu = shutil.which("gdu")
    if not gdu:
        pytest.skip("gdu not installed (scripts/setup.sh installs Debian's gdu)")
    facts = T.build(os.path.join(work, "tree"))
    out = scan(work, facts["root"], "scan", 1, facts["excluded"], csv=False)
    with open(os.path.join(out["summary"], "summary.json")) as f:
        want = json.load(f)["totals"]
    got = {}
    for key, flags in (("allocated", []), ("bytes", ["-a"])):
        r = subprocess.run([gdu, "-n", "-p", "-s", "--no-prefix"] + flags + ["-f", out["ncdu"]],
                           capture_output=True, timeout=600)
        assert r.returncode == 0, r.stderr
        got[key] = int(r.stdout.split()[0])
    assert got == {"allocated": want["allocated"], "bytes": want["bytes"]}


HOSTILE_NAMES = [
    b"new\nline", b'quo"te', b"back\\slash", b"tab\there", b"cr\rlf\n", b"\x01\x02\x1f\x7f",
    b"bad\xff\xfe", b"lone\xc3", b"overlong\xc0\xaf", b"surrogate\xed\xa0\x80",
    b"ok\xc3\xa9\xe2\x82\xac", b"\\u0041", b"{\"name\":1}", b"]]", b" lead", b"trail ",
    bytes(range(0x20, 0x2f)) + bytes(range(0x30, 0x80)), bytes(range(0x80, 0x100)),
]


def test_hostile_names_round_trip_through_ncdu(work):
    root = os.path.join(work, "names")
    os.mkdir(root, 0o755)
    R = os.fsencode(root)
    for i, n in enumerate(HOSTILE_NAMES):
        if i % 2:
            os.mkdir(R + b"/" + n)
            with open(R + b"/" + n + b"/" + n, "wb") as f:
                f.write(b"x" * i)
        else:
            with open(R + b"/" + n, "wb") as f:
                f.write(b"y" * i)
    out = scan(work, root, "names", 0, summary=False, csv=False)
    with open(out["ncdu"], "rb") as f:
        ours = f.read()
    # bytes that are not UTF-8 are written as they are: \u00XX would come back
    # from ncdu as two UTF-8 bytes
    assert b'"bad\xff\xfe"' in ours and b"\\u00ff" not in ours
    assert b'"new\\nline"' in ours and b'"quo\\"te"' in ours and b'"\\u0001\\u0002\\u001f\\u007f"' in ours
    re = reexport(work, out["ncdu"])
    assert ours.split(b"\n", 1)[1].rstrip(b"\n") == re.split(b"\n", 1)[1]
    flat = flatten(parse(re))
    want = {b""}
    for dirpath, dirnames, filenames in os.walk(R):
        for n in dirnames + filenames:
            want.add(os.path.relpath(os.path.join(dirpath, n), R))
    assert set(flat) == want


def test_names_lstat_failed_on_and_export_inside_the_tree(work):
    """A directory readable but not searchable: its names are listed, their
    lstat fails (exit 1): each is written with its name and read_error, as
    ncdu does.  The export written inside the scanned tree (root ".") is not
    listed, and the root shows as the absolute working directory."""
    root = os.path.join(work, "t")
    os.makedirs(os.path.join(root, "nox"), 0o755)
    os.mkdir(os.path.join(root, "sub"), 0o755)
    for n in ("nox/a", "nox/b", "f"):
        open(os.path.join(root, n), "w").close()
    os.chmod(os.path.join(root, "nox"), 0o444)
    cfg = pipeline(os.path.join(work, "in.yaml"), ncdu="path: scan.json")
    r = subprocess.run(T.UNPRIVILEGED + [T.built("pwalk-engine"), "-q", "-c", cfg, "."],
                       cwd=root, capture_output=True, timeout=600)
    assert r.returncode == 1, r.stderr
    assert b"nox/a: Permission denied (lstat)" in r.stderr
    re = reexport(work, os.path.join(root, "scan.json"))
    doc = parse(re)
    assert doc[3][0]["name"] == root
    flat = flatten(doc)
    assert sorted(flat) == [b"", b"f", b"nox", b"nox/a", b"nox/b", b"sub"]
    assert flat[b"nox/a"] == {"read_error": True, "dev": flat[b"nox"]["dev"], "dir": False}
    assert "read_error" not in flat[b"nox"] and "read_error" not in flat[b"f"]


def test_zstd_export_reads_through_zstdcat(work):
    zstd = shutil.which("zstd")
    if not zstd:
        pytest.skip("zstd command not installed")
    root = os.path.join(work, "tree")
    T.build_wide(root)
    plain = scan(work, root, "plain", 0, summary=False, csv=False)["ncdu"]
    packed = scan(work, root, "packed", 0, opts=", compress: zstd", summary=False,
                  csv=False)["ncdu"]
    with open(packed, "rb") as f:
        assert f.read(4) == b"\x28\xb5\x2f\xfd"  # one zstd frame
    raw = subprocess.run([zstd, "-dc", packed], capture_output=True, check=True).stdout
    with open(plain, "rb") as f:
        assert raw.split(b"\n", 1)[1] == f.read().split(b"\n", 1)[1]
    r = subprocess.run("%s -dc %s | %s -0 -e -f - -o %s" % (zstd, packed, NCDU,
                       os.path.join(work, "z.json")), shell=True, capture_output=True)
    assert r.returncode == 0 and r.stderr == b"", r.stderr


def test_shipped_config_as_the_readme_runs_it(work):
    """configs/ncdu.yaml from a working directory: the report and the
    zstd export appear there, and ncdu reads the export through zstdcat."""
    cfg = T.built("configs/ncdu.yaml")
    zstd = shutil.which("zstd")
    if not cfg or not zstd:
        pytest.skip("configs/ncdu.yaml not in the runfiles, or no zstd command")
    root = os.path.join(work, "tree")
    T.build_wide(root)
    run = os.path.join(work, "run")
    os.mkdir(run, 0o755)
    r = subprocess.run(T.UNPRIVILEGED + [T.built("pwalk-engine"), "-q", "-c", cfg, root],
                       cwd=run, capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(run)) == ["scan-errors.csv", "scan.csv.zst", "scan.ncdu.json.zst"]
    r = subprocess.run("%s -dc scan.ncdu.json.zst | %s -0 -e -f - -o re.json" % (zstd, NCDU),
                       shell=True, cwd=run, capture_output=True, timeout=600)
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    with open(os.path.join(run, "re.json"), "rb") as f:
        flat = flatten(parse(f.read()))
    assert len(flat) == sum(len(d) + len(f) for _, d, f in os.walk(root)) + 1


def test_pwalk_mpi_writes_one_export_the_same_at_1_2_and_3_ranks(work):
    """Under pwalk-mpi each rank writes its sorted records as a partial and
    rank 0 merges them (plugin ABI 1.3): one export, byte for byte the
    single process's past the metadata line, listed in the manifest, the
    partials gone."""
    mpi = T.built("pwalk-mpi")
    if not mpi or not shutil.which("mpirun"):
        pytest.skip("pwalk-mpi is built only with Open MPI installed (not here)")
    facts = T.build(os.path.join(work, "tree"), unreadable=False)
    one = scan(work, facts["root"], "one", 0, facts["excluded"], summary=False, csv=False)
    with open(one["ncdu"], "rb") as f:
        want = f.read().split(b"\n", 1)[1]
    env = T.mpi_env()  # Open MPI's own leaks and races are not ours
    for np in (1, 2, 3):
        d = os.path.join(work, "np%d" % np)
        os.mkdir(d, 0o755)
        out = os.path.join(d, "scan.json.zst")  # written as named: zstd inside
        cfg = pipeline(os.path.join(work, "np%d.yaml" % np), 2, facts["excluded"],
                       "path: %s, compress: zstd" % T.yaml_str(out))
        argv = ["mpirun", "--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0
                                                else [])
        argv += ["-np", str(np), mpi, "-q", "-c", cfg, facts["root"]]
        r = subprocess.run(argv, capture_output=True, timeout=300, env=env)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        manifest = r.stdout.decode().strip().split("\n")[-1]
        assert sorted(os.listdir(d)) == sorted(["scan.json.zst", os.path.basename(manifest)])
        raw = subprocess.run(["zstd", "-dc", out], capture_output=True, check=True).stdout
        assert raw.split(b"\n", 1)[1] == want, "np=%d differs" % np
        with open(manifest) as f:
            sinks = json.load(f)["sinks"]
        # a merging sink: one output; at np 1 the one rank wrote it (no partials)
        assert [(x["plugin"], x["path"], x["merged"], x["partials"]) for x in sinks] == \
            [("ncdu", out, True, np if np > 1 else 0)], sinks


def test_tiny_sort_buffer_many_runs_same_bytes(work):
    """memory_mb: 1 over 4 workers: runs of 256 KiB, far more than the
    merge's fan-in at 1 MiB (16 runs of 64 KiB buffer), so runs are merged
    in passes; the export is the same."""
    gentree = T.built("tests/bench/gentree")
    if not gentree:
        pytest.skip("tests/bench:gentree not built")
    root = os.path.join(work, "gen")
    subprocess.run([gentree, root, "200000", "--hostile"], check=True, capture_output=True)
    big = scan(work, root, "big", 0, summary=False, csv=False)["ncdu"]
    tmp = os.path.join(work, "spill")
    os.mkdir(tmp, 0o755)
    small = scan(work, root, "small", 0, opts=", memory_mb: 1, tmpdir: %s" % T.yaml_str(tmp),
                 summary=False, csv=False, threads=4)["ncdu"]
    assert os.listdir(tmp) == []  # unlinked temporaries: nothing left
    with open(big, "rb") as a, open(small, "rb") as b:
        assert a.read().split(b"\n", 1)[1] == b.read().split(b"\n", 1)[1]
    re = reexport(work, small)
    assert len(flatten(parse(re))) == 200001


def test_bad_options_exit_2_nothing_written(work):
    root = os.path.join(work, "tree")
    os.mkdir(root, 0o755)
    other = os.path.join(work, "other")
    os.mkdir(other, 0o755)
    out = os.path.join(work, "x.json")
    cases = [
        ([root, other], "path: %s" % T.yaml_str(out), "2 roots given"),
        ([root], "path: %s" % T.yaml_str(os.path.join(work, "missing", "x.json")),
         "cannot create"),
        ([root], "path: %s, tmpdir: %s" % (T.yaml_str(out), T.yaml_str(work + "/nope")),
         "tmpdir: cannot create a temporary file in"),
        ([root], "path: %s, compress: xz" % T.yaml_str(out), "compress"),
    ]
    for roots, opts, msg in cases:
        cfg = pipeline(os.path.join(work, "bad.yaml"), ncdu=opts)
        r = T.run_engine(["-q", "-c", cfg] + roots)
        err = r.stderr.decode(errors="replace")
        assert r.returncode == 2, (opts, err)
        assert msg in err and len(err.strip().splitlines()) == 1, (opts, err)
        assert not os.path.exists(out)
        assert [n for n in os.listdir(work) if n.startswith(".")] == []


def test_a_million_entries_under_64_mib(work):
    """The issue's bound: 1M entries exported with the engine's peak RSS
    under 64 MiB (the default sort memory is 32 MiB)."""
    gentree = T.built("tests/bench/gentree")
    if not gentree:
        pytest.skip("tests/bench:gentree not built")
    root = os.path.join(work, "m")
    subprocess.run([gentree, root, "1010000"], check=True, capture_output=True)
    n = sum(len(d) + len(f) for _, d, f in os.walk(root)) + 1
    out = scan(work, root, "m", 0, summary=False, csv=False)["ncdu"]
    # the largest child so far (gentree, smaller scans, ncdu): an upper bound
    # of the engine's peak
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print("1M-entry export: %d entries, engine peak RSS %.1f MiB, %d bytes"
          % (n, peak_kib / 1024, os.path.getsize(out)))
    assert n >= 1000000
    assert peak_kib < 64 * 1024, "peak RSS %d KiB" % peak_kib
    re = reexport(work, out)
    assert re.count(b'{"name"') == n
