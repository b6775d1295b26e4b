"""The prometheus sink (issue 17), checked with Debian's promtool and
against the summary sink of the same walk.

One walk feeds the prometheus sink and a summary: every figure of the
metrics file must equal summary.json (totals, entries, errors, filtered,
start/end), users.csv and groups.csv (per uid/gid, names in the same
lossless text), and usage.csv summed per top / per owner and mtime bucket.
The tree is the summary test's (tests/summary/summary_tree.py: owners with
and without accounts, hard links, an unreadable directory, excluded paths,
a top-level directory whose name holds a comma, a quote, a backslash, a
newline, an invalid byte and an e-acute).  `promtool check metrics` must
accept every file without a lint problem; top K keeps K series per kind and
one `other` series that adds up to the totals; a scan that fails publishes
nothing and leaves the previous file byte for byte; bad options exit 2
with one line and nothing written.
"""

import csv
import collections
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "summary"))
import summary_tree as T  # noqa: E402

PROMTOOL = shutil.which("promtool")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")


@pytest.fixture
def work():
    reason = T.can_drop_caps()
    if reason:
        pytest.skip(reason)
    if not PROMTOOL:
        pytest.skip("promtool not installed (scripts/setup.sh installs Debian's prometheus)")
    d = T.scratch("prom")
    yield d
    T.remove(d)


def pipeline(path, prom, summary_dir=None, excluded=(), fail_in=None):
    lines = ["version: 1", "scan:", "  threads: 2"]
    if excluded:
        lines.append("  exclude: [%s]" % ", ".join(T.yaml_str(x) for x in excluded))
    if fail_in:
        lines.append("plugin_path: [%s]" % T.yaml_str(T.built("tests/faults/fixtures")))
    lines.append("sinks:")
    lines.append("  - {name: metrics, plugin: prometheus, options: {%s}}" % prom)
    if summary_dir:
        lines.append("  - {name: sum, plugin: summary, options: {dir: %s, print: false}}"
                     % T.yaml_str(summary_dir))
    if fail_in:
        lines.append("  - {name: fail, plugin: failsink, options: {fail_in: %s}}" % fail_in
                     if ":" not in fail_in else
                     "  - {name: fail, plugin: failsink, options: {%s}}" % fail_in)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# ---- the exposition, read back ------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)')


def unquote(v):
    return re.sub(r'\\([\\"n])', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse(text):
    """{family: [(labels dict, value)]}, checking that each family has
    one HELP and one TYPE gauge line before its samples."""
    fams = collections.OrderedDict()
    help_seen, type_seen = set(), set()
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            help_seen.add(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            name, kind = line.split(" ")[2:4]
            assert kind == "gauge", line
            type_seen.add(name)
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.groups()
        assert name in help_seen and name in type_seen, "no HELP/TYPE before " + line
        got = collections.OrderedDict()
        rest = labels or ""
        while rest:
            lm = LABEL.match(rest)
            assert lm, "bad labels in %r" % line
            got[lm.group(1)] = unquote(lm.group(2))
            rest = rest[lm.end():]
        fams.setdefault(name, []).append((got, float(value)))
    assert text.endswith("\n")
    return fams


def promtool(path):
    r = subprocess.run([PROMTOOL, "check", "metrics"], stdin=open(path, "rb"),
                       capture_output=True, text=True)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
        "promtool check metrics: %d %s %s" % (r.returncode, r.stdout, r.stderr)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")  # strict: label values are valid UTF-8
    promtool(path)
    return parse(text)


def one(fams, name, **labels):
    vals = [v for l, v in fams[name] if all(l.get(k) == w for k, w in labels.items())]
    assert len(vals) == 1, (name, labels, vals)
    return vals[0]


def by(fams, name, *keys):
    """{tuple of label values: value}, each key once."""
    out = {}
    for l, v in fams[name]:
        k = tuple(l.get(x) for x in keys)
        assert k not in out, (name, k)
        out[k] = v
    return out


def scan(work, facts, tag, opts="", want=None):
    out = os.path.join(work, tag + ".prom")
    sdir = os.path.join(work, tag + "-summary")
    cfg = pipeline(os.path.join(work, tag + ".yaml"), "path: %s%s" % (T.yaml_str(out), opts),
                   sdir, facts["excluded"])
    r = T.run_engine(["-q", "-c", cfg, facts["root"]])
    status = (1 if facts["unreadable"] else 0) if want is None else want
    assert r.returncode == status, r.stderr.decode(errors="replace")
    with open(os.path.join(sdir, "summary.json")) as f:
        meta = json.load(f)
    tables = {n: T.read_table(os.path.join(sdir, n + ".csv")) for n in ("users", "groups",
                                                                          "usage")}
    return out, meta, tables


def rows(table):
    return [dict(zip(table[0], r)) for r in table[1:]]


# ---- the tests ------------------------------------------------------------------


def test_every_figure_equals_the_summary_of_the_same_walk(work):
    facts = T.build(os.path.join(work, "tree"))
    out, meta, tables = scan(work, facts, "all", ", top: 1000")
    fams = read(out)
    # the scan's facts
    assert one(fams, "pwalk_scan_entries") == meta["entries"]
    assert one(fams, "pwalk_scan_errors") == meta["errors"] == 1
    assert one(fams, "pwalk_scan_filtered") == meta["filtered"] > 0
    assert one(fams, "pwalk_scan_start_timestamp_seconds") == meta["start_time"]
    assert one(fams, "pwalk_scan_completion_timestamp_seconds") == meta["end_time"]
    assert one(fams, "pwalk_scan_complete") == 1
    assert one(fams, "pwalk_scan_duration_seconds") >= 0
    assert one(fams, "pwalk_scan_entries_per_second") > 0
    assert one(fams, "pwalk_scan_info", version=meta["pwalk_version"]) == 1
    for k in ("files", "dirs", "bytes"):
        assert one(fams, "pwalk_" + k) == meta["totals"][k], k
    assert one(fams, "pwalk_allocated_bytes") == meta["totals"]["allocated"]
    # users and groups: the same rows, names in the same lossless text
    for kind, idk, namek in (("user", "uid", "user"), ("group", "gid", "group")):
        want = rows(tables[kind + "s"])
        assert len(want) >= 3
        for metric, col in (("bytes", "bytes"), ("allocated_bytes", "allocated"),
                            ("files", "files"), ("dirs", "dirs")):
            got = by(fams, "pwalk_%s_%s" % (kind, metric), idk, namek)
            assert got == {(r[idk], r[namek]): int(r[col]) for r in want}, (kind, metric)
    orphan = str(facts["orphan_uid"])
    assert one(fams, "pwalk_user_bytes", uid=orphan, user="") > 0
    # top-level directories and mtime buckets: usage.csv summed
    usage = rows(tables["usage"])
    tops = collections.Counter()
    for r in usage:
        tops[r["top"]] += int(r["bytes"])
    assert by(fams, "pwalk_topdir_bytes", "top") == {(t,): v for t, v in tops.items()}
    files = collections.Counter()
    for r in usage:
        files[r["top"]] += int(r["files"])
    assert by(fams, "pwalk_topdir_files", "top") == {(t,): v for t, v in files.items()}
    for kind, key in (("user", "uid"), ("group", "gid"), ("topdir", "top")):
        ages = collections.Counter()
        for r in usage:
            ages[(r[key], r["mtime_age_days"])] += int(r["bytes"])
        got = by(fams, "pwalk_%s_mtime_age_bytes" % kind, key, "mtime_age_days")
        assert {k: v for k, v in got.items() if v} == dict(ages), kind
        # every bucket of every series is there, zero or not
        assert len(got) == len({k[0] for k in got}) * (len(T.AGE_DAYS) + 1)
    total_ages = by(fams, "pwalk_mtime_age_bytes", "mtime_age_days")
    assert sorted(int(k[0]) for k in total_ages) == [0] + T.AGE_DAYS
    assert sum(total_ages.values()) == meta["totals"]["bytes"]
    # the hostile top-level name: lossless text of its bytes, valid UTF-8
    hostile = [t for (t,) in by(fams, "pwalk_topdir_bytes", "top") if T.unescape(t) == T.HOSTILE]
    assert hostile == [T.escape(T.HOSTILE)], hostile
    with open(out, "rb") as f:
        raw = f.read()
    assert b'top="we,ird\\"\\\\\\\\\\\\x0a\\\\xff\xc3\xa9"' in raw, raw
    assert not any(l.get("rest") for f in fams.values() for l, _ in f)


@pytest.mark.parametrize("k", [1, 2])
def test_top_k_and_other_add_up_to_the_totals(work, k):
    facts = T.build(os.path.join(work, "tree"))
    out, meta, tables = scan(work, facts, "k%d" % k, ", top: %d" % k)
    fams = read(out)
    usage = rows(tables["usage"])
    kinds = (("user", "uid", rows(tables["users"])), ("group", "gid", rows(tables["groups"])),
             ("topdir", "top", None))
    for kind, key, want in kinds:
        if want is None:  # tops: from the cube
            sums = collections.Counter()
            for r in usage:
                sums[r["top"]] += int(r["bytes"])
            want = [{"top": t, "bytes": v} for t, v in sums.items()]
        assert len(want) > k + 1, kind
        # the K largest by bytes keep their series (ties: by uid / name)
        order = sorted(want, key=lambda r: (-int(r["bytes"]),
                                            int(r[key]) if key != "top" else
                                            T.unescape(r[key])))
        for metric in ("bytes", "allocated_bytes", "files", "dirs"):
            series = fams["pwalk_%s_%s" % (kind, metric)]
            kept = [l[key] for l, _ in series if not l.get("rest")]
            rest = [(l, v) for l, v in series if l.get("rest")]
            assert kept == [r[key] for r in order[:k]], (kind, metric)
            assert len(rest) == 1 and rest[0][0][key] == "other" and rest[0][0]["rest"] == "true"
            total = {"bytes": "bytes", "allocated_bytes": "allocated", "files": "files",
                     "dirs": "dirs"}[metric]
            assert sum(v for _, v in series) == meta["totals"][total], (kind, metric)
        ages = fams["pwalk_%s_mtime_age_bytes" % kind]
        assert len(ages) == (k + 1) * (len(T.AGE_DAYS) + 1)
        assert sum(v for _, v in ages) == meta["totals"]["bytes"], kind
        if kind == "user":
            assert one(fams, "pwalk_user_bytes", uid="other") == sum(
                int(r["bytes"]) for r in order[k:])


# figures of the scan itself, not of the tree
VOLATILE = ("pwalk_scan_start_timestamp_seconds", "pwalk_scan_completion_timestamp_seconds",
            "pwalk_scan_duration_seconds", "pwalk_scan_entries_per_second")


def test_pwalk_mpi_ranks_merge_into_one_file_equal_to_one_process(work):
    mpi = T.built("pwalk-mpi")
    if not mpi or not shutil.which("mpirun"):
        pytest.skip("pwalk-mpi is built only with Open MPI installed (not here)")
    facts = T.build(os.path.join(work, "tree"), unreadable=False)
    base, _, _ = scan(work, facts, "one", ", top: 3")
    with open(base) as f:
        want = parse(f.read())
    env = T.mpi_env()  # Open MPI's own leaks and races are not ours
    for np in (1, 3):
        d = os.path.join(work, "mpi%d" % np)
        os.mkdir(d)
        out = os.path.join(d, "m.prom")
        cfg = pipeline(os.path.join(work, "mpi%d.yaml" % np),
                       "path: %s, top: 3" % T.yaml_str(out), excluded=facts["excluded"])
        argv = ["mpirun", "--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0
                                                else [])
        argv += ["-np", str(np), mpi, "-q", "-c", cfg, facts["root"]]
        r = subprocess.run(argv, capture_output=True, timeout=300, env=env)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        # one file, the ranks' partials gone (the manifest sits beside it)
        assert [n for n in os.listdir(d) if "prom" in n] == ["m.prom"], os.listdir(d)
        got = read(out)
        assert list(got) == list(want)
        for name in want:
            if name not in VOLATILE:
                assert got[name] == want[name], (np, name)


def test_prefix_and_constant_labels_on_every_series(work):
    facts = T.build(os.path.join(work, "tree"), cross_links=False, filters=False,
                    unreadable=False)
    out, meta, _ = scan(work, facts, "lab",
                        ", prefix: site_disk_, top: 2, labels: [fs=home, 'note=a \"b\" \\ c']")
    fams = read(out)
    assert fams and all(n.startswith("site_disk_") for n in fams)
    for name, series in fams.items():
        for l, _ in series:
            assert list(l)[:2] == ["fs", "note"], (name, l)
            assert l["fs"] == "home" and l["note"] == 'a "b" \\ c', l
    assert one(fams, "site_disk_bytes") == meta["totals"]["bytes"]
    assert os.stat(out).st_mode & 0o777 == 0o644  # node_exporter's user reads it


def test_a_failed_scan_publishes_nothing_and_keeps_the_previous_file(work):
    fixtures = T.built("tests/faults/fixtures")
    if not fixtures or not os.path.exists(os.path.join(fixtures, "failsink.so")):
        pytest.skip("the failsink fixture is built only by Bazel (//tests/faults)")
    tree = os.path.join(work, "tree")
    os.mkdir(tree)
    with open(os.path.join(tree, "f"), "w") as f:
        f.write("x" * 100)
    out = os.path.join(work, "m", "disk.prom")
    os.mkdir(os.path.dirname(out))
    for fail_in in ("consume", "prepare"):
        # no previous file: none afterwards, no temporary either
        cfg = pipeline(os.path.join(work, "f.yaml"), "path: " + T.yaml_str(out), fail_in=fail_in)
        r = T.run_engine(["-q", "-c", cfg, tree])
        assert r.returncode == 3, r.stderr
        assert b"failsink: failing in " + fail_in.encode() in r.stderr, r.stderr
        assert os.listdir(os.path.dirname(out)) == []
    cfg = pipeline(os.path.join(work, "ok.yaml"), "path: " + T.yaml_str(out))
    r = T.run_engine(["-q", "-c", cfg, tree])
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        before = f.read()
    assert one(parse(before.decode()), "pwalk_bytes") > 100
    with open(os.path.join(tree, "g"), "w") as f:
        f.write("y" * 5000)
    for fail_in in ("consume", "prepare"):
        cfg = pipeline(os.path.join(work, "f.yaml"), "path: " + T.yaml_str(out), fail_in=fail_in)
        r = T.run_engine(["-q", "-c", cfg, tree])
        assert r.returncode == 3, r.stderr
        assert os.listdir(os.path.dirname(out)) == ["disk.prom"]
        with open(out, "rb") as f:
            assert f.read() == before, fail_in
    # the temporary node_exporter could see while a scan runs is no *.prom
    cfg = pipeline(os.path.join(work, "ok.yaml"), "path: " + T.yaml_str(out))
    assert T.run_engine(["-q", "-c", cfg, tree]).returncode == 0
    with open(out, "rb") as f:
        assert one(parse(f.read().decode()), "pwalk_bytes") > 5100


def test_the_shipped_nightly_config_writes_everything_from_one_walk(work):
    cfg = T.built("configs/nightly.yaml")
    if not cfg:
        pytest.skip("configs/nightly.yaml is not in the runfiles")
    facts = T.build(os.path.join(work, "tree"), unreadable=False)
    run = os.path.join(work, "night")
    os.mkdir(run)
    out = os.path.join(work, "textfile", "pwalk-project.prom")
    os.mkdir(os.path.dirname(out))
    engine = T.built("pwalk-engine")
    r = subprocess.run(T.UNPRIVILEGED + [engine, "-q", "-c", cfg, "--set", "metrics.path=" + out,
                                         facts["root"]], cwd=run, capture_output=True)
    assert r.returncode == 0, r.stderr
    assert os.path.getsize(os.path.join(run, "scan.csv.zst")) > 0
    with open(os.path.join(run, "summary", "summary.json")) as f:
        meta = json.load(f)
    fams = read(out)
    assert one(fams, "pwalk_bytes", fs="project") == meta["totals"]["bytes"]
    assert one(fams, "pwalk_scan_entries", fs="project") == meta["entries"]


RULE_TEST = """rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      # the last complete scan ended at t=0 and none since
      - series: 'pwalk_scan_completion_timestamp_seconds{fs="home",instance="n1"}'
        values: '0x3000'
      - series: 'pwalk_scan_errors{fs="home",instance="n1"}'
        values: '0x3000'
    alert_rule_test:
      - eval_time: 30h
        alertname: PwalkScanStale
        exp_alerts: []
      - eval_time: 40h
        alertname: PwalkScanStale
        exp_alerts:
          - exp_labels: {severity: warning, fs: home, instance: n1}
            exp_annotations:
              summary: "pwalk scan home on n1: last complete scan 1d 16h 0m 0s ago"
      - eval_time: 40h
        alertname: PwalkScanMissing
        exp_alerts: []
      - eval_time: 40h
        alertname: PwalkScanErrors
        exp_alerts: []
"""


def test_the_readme_alert_rules_check_and_fire_on_a_stale_scan(tmp_path):
    if not PROMTOOL:
        pytest.skip("promtool not installed (scripts/setup.sh installs Debian's prometheus)")
    readme = T.built("README.md")
    if not readme:
        pytest.skip("README.md is not in the runfiles")
    with open(readme) as f:
        text = f.read()
    m = re.search(r"<!-- prometheus-rules -->\s*```yaml\n(.*?)```", text, re.S)
    assert m, "README.md has no <!-- prometheus-rules --> yaml block"
    (tmp_path / "rules.yml").write_text(m.group(1))
    (tmp_path / "test.yml").write_text(RULE_TEST)
    r = subprocess.run([PROMTOOL, "check", "rules", "rules.yml"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([PROMTOOL, "test", "rules", "test.yml"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_while_a_scan_runs_node_exporter_sees_no_partial_prom_file(work):
    fixtures = T.built("tests/faults/fixtures")
    if not fixtures or not os.path.exists(os.path.join(fixtures, "failsink.so")):
        pytest.skip("the failsink fixture is built only by Bazel (//tests/faults)")
    tree = os.path.join(work, "tree")
    for i in range(4):
        os.makedirs(os.path.join(tree, "d%d" % i))
        with open(os.path.join(tree, "d%d" % i, "f"), "w") as f:
            f.write("x" * 1000)
    textdir = os.path.join(work, "textfile")
    os.mkdir(textdir)
    out = os.path.join(textdir, "disk.prom")
    # failsink sleeps 0.2 s in every consume(): the scan runs >= 1 s
    cfg = pipeline(os.path.join(work, "slow.yaml"), "path: " + T.yaml_str(out),
                   fail_in="fail_in: none, delay_us: 200000")
    engine = T.built("pwalk-engine")
    p = subprocess.Popen(T.UNPRIVILEGED + [engine, "-q", "-c", cfg, tree],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = set()
    while p.poll() is None:
        for name in os.listdir(textdir):
            seen.add(name)
            if name == "disk.prom":  # only ever whole (renamed at the end)
                with open(out) as f:
                    assert one(parse(f.read()), "pwalk_scan_complete") == 1
    _, err = p.communicate()
    assert p.returncode == 0, err
    temps = [n for n in seen if n != "disk.prom"]
    # what the textfile collector would have listed: no *.prom but the
    # complete file
    assert temps and all(n.startswith(".disk.prom.pwalk-tmp-") for n in temps), seen
    assert not any(n.endswith(".prom") for n in temps), seen
    assert os.listdir(textdir) == ["disk.prom"]
    assert one(read(out), "pwalk_files") == 4


def scrape(textdir):
    """node_exporter's /metrics with only its textfile collector on textdir."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % port,
                          "--collector.disable-defaults", "--collector.textfile",
                          "--collector.textfile.directory=" + textdir],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                            timeout=5) as r:
                    return r.read().decode("utf-8")
            except OSError:
                assert p.poll() is None, p.stderr.read()
                assert time.monotonic() < deadline, "node_exporter did not answer"
                time.sleep(0.1)
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_node_exporter_reads_two_scans_from_one_textfile_directory(work):
    if not NODE_EXPORTER:
        pytest.skip("prometheus-node-exporter not installed (scripts/setup.sh installs it)")
    facts = T.build(os.path.join(work, "tree"))
    textdir = os.path.join(work, "textfile")
    os.mkdir(textdir)
    metas = {}
    for fs in ("home", "scratch"):
        out, metas[fs], _ = scan(work, facts, fs, ", top: 100, labels: [fs=%s]" % fs)
        shutil.copy(out, os.path.join(textdir, fs + ".prom"))
    text = scrape(textdir)
    # node_exporter's own families aside (summaries, untyped), ours and the collector's
    keep = ("pwalk_", "node_textfile_", "# HELP pwalk_", "# TYPE pwalk_", "# HELP node_textfile_",
            "# TYPE node_textfile_")
    fams = parse("".join(l + "\n" for l in text.split("\n") if l.startswith(keep)))
    assert one(fams, "node_textfile_scrape_error") == 0, text
    for fs, meta in metas.items():
        assert one(fams, "pwalk_bytes", fs=fs) == meta["totals"]["bytes"]
        assert one(fams, "pwalk_scan_entries", fs=fs) == meta["entries"]
        # the hostile name, as node_exporter serves it: our lossless text
        tops = [l["top"] for l, _ in fams["pwalk_topdir_bytes"] if l.get("fs") == fs]
        assert T.escape(T.HOSTILE) in tops, tops
        assert one(fams, "pwalk_topdir_bytes", fs=fs, top=T.escape(T.HOSTILE)) > 0


BAD = [
    ("no-path", "top: 3", ["path"]),
    ("dir-missing", "path: %(missing)s", ["%(missing)s"]),
    ("prefix-bad", "path: %(out)s, prefix: 9lives_", ["prefix", "9lives_"]),
    ("label-no-equals", "path: %(out)s, labels: [home]", ["labels", "home"]),
    ("label-bad-name", "path: %(out)s, labels: ['f-s=x']", ["labels", "f-s=x"]),
    ("label-reserved", "path: %(out)s, labels: [uid=1]", ["labels", "uid"]),
    ("label-dunder", "path: %(out)s, labels: [__name__=x]", ["labels", "__name__"]),
    ("label-twice", "path: %(out)s, labels: [fs=a, fs=b]", ["labels", "fs"]),
    ("top-zero", "path: %(out)s, top: 0", ["top"]),
    ("age-decreasing", "path: %(out)s, age_days: [30, 7]", ["age_days", "7"]),
    ("mode-bogus", "path: %(out)s, mode: rw", ["mode", "rw"]),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_option_is_one_line_exit_2_and_nothing_written(work, case):
    _, opts, words = case
    tree = os.path.join(work, "tree")
    os.mkdir(tree)
    names = {"missing": os.path.join(work, "no-such-dir", "m.prom"),
             "out": os.path.join(work, "m.prom")}
    cfg = pipeline(os.path.join(work, "p.yaml"), opts % {k: T.yaml_str(v)
                                                         for k, v in names.items()})
    before = sorted(os.listdir(work))
    r = T.run_engine(["-q", "-c", cfg, tree])
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 2, err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0], err
    for w in words:
        assert (w % names) in lines[0], (w % names, err)
    assert sorted(os.listdir(work)) == before
