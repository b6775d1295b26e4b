"""pwalk-mpi checkpoints (issue 19): a scan suspended at np=4 (SIGUSR1 to
mpirun, which forwards it to every rank as SLURM does) and resumed at np=2
ends with exactly the rows and the summary tables of an uninterrupted scan;
several suspensions with a changing number of ranks; SIGKILL after periodic
checkpoints; the refusals (one line, exit 2, nothing written).  The scans
are slowed with --max-ops so that an interruption lands mid-walk; nothing
asserts a duration."""

import collections
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

RUNFILES = os.path.join(os.environ.get("TEST_SRCDIR", ""), "pwalk")
MPI = os.path.join(RUNFILES, "pwalk-mpi")
ENGINE = os.path.join(RUNFILES, "pwalk-engine")
SUMMARY_DIR = os.path.join(RUNFILES, "plugins", "summary")
TIMEOUT = 240
TABLES = ["dirs", "users", "groups", "usage", "top"]
DAY = 86400
# all ranks together: the tree below takes a few seconds at this rate
SLOW = ["--max-ops", "2500"]

pytestmark = pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not installed")


def mpirun_argv(np, args):
    argv = ["mpirun", "--oversubscribe"]
    if os.geteuid() == 0:
        argv.append("--allow-run-as-root")
    return argv + ["-np", str(np), MPI] + list(args)


def mpi_env():
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":detect_leaks=0"  # Open MPI's, as in mpi_test.py
    if "TSAN_OPTIONS" in env:
        env["TSAN_OPTIONS"] += ":suppressions=" + os.path.join(RUNFILES, "tests", "mpi",
                                                               "tsan.supp")
    return env


def mpirun(np, *args):
    return subprocess.run(mpirun_argv(np, args), capture_output=True, timeout=TIMEOUT,
                          env=mpi_env())


def interrupted(np, args, out, ck, after=0.5, sig=signal.SIGUSR1, generation=0):
    """Run pwalk-mpi and send sig once every rank is walking (each rank's
    part exists: its sinks were created after its signal handlers) and
    `after` seconds more -- and, with generation, once the checkpoint
    manifest names at least that generation: to mpirun (which forwards
    SIGUSR1 and SIGTERM to every rank), or SIGKILL to mpirun and every
    rank at once.  Its result."""
    p = subprocess.Popen(mpirun_argv(np, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=mpi_env())
    deadline = time.monotonic() + TIMEOUT / 2
    while p.poll() is None and time.monotonic() < deadline:
        parts = glob.glob(os.path.join(out, ".scan.part-*.csv.pwalk-tmp-*"))
        if len(parts) >= np and (not generation or manifest_generation(ck) >= generation):
            break
        time.sleep(0.01)
    time.sleep(after)
    if p.poll() is None:
        if sig == signal.SIGKILL:
            crash(p.pid)
        else:
            p.send_signal(sig)
    out, err = p.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def descendants(pid):
    """pid and every process below it (Open MPI puts the ranks in process
    groups of their own: killpg would miss them)."""
    children = collections.defaultdict(list)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
            children[ppid].append(int(d))
    out, todo = [], [pid]
    while todo:
        q = todo.pop()
        out.append(q)
        todo += children[q]
    return out


def crash(pid):
    """A node crash: mpirun and every rank stop at the same instant
    (SIGSTOP first, so no rank writes on after another died), then die."""
    procs = descendants(pid)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for q in procs:
            try:
                os.kill(q, sig)
            except ProcessLookupError:
                pass


def manifest_generation(ck):
    try:
        return json.loads(read_bytes(ck))["generation"]
    except (OSError, ValueError, KeyError):
        return 0


def text(r):
    return r.stderr.decode(errors="replace")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def csv_rows(paths):
    """Data lines (header dropped) of plain CSV files, as bytes."""
    out = []
    for p in paths:
        data = read_bytes(p).split(b"\n")
        assert data[-1] == b"", p
        out += data[1:-1]
    return out


@pytest.fixture(scope="module")
def tree():
    """Directories enough for work to move between ranks, a big directory,
    hard links, a symlink, odd names, owners and times far from the
    summary's age boundaries."""
    top = tempfile.mkdtemp(prefix="pwalk-mpi-ckpt-tree-")
    os.chmod(top, 0o755)
    root = os.path.join(top, "root")
    os.mkdir(root)
    now = int(time.time())
    for i in range(30):
        for k in range(8):
            d = os.path.join(root, f"d{i:02d}", f"s{k}")
            os.makedirs(d)
            for n in range(12):
                p = os.path.join(d, f"f{n}")
                with open(p, "wb") as f:
                    f.write(b"z" * (n * 100 + i))
                age = [0, 45, 400, 1200][n % 4] * DAY + 3 * 3600
                os.utime(p, (now - age, now - age))
                if os.geteuid() == 0:
                    os.chown(p, 1000 + n % 3, 2000 + i % 3)
    big = os.path.join(root, "big")
    os.mkdir(big)
    for n in range(3000):
        os.close(os.open(os.path.join(big, f"b{n:05d}"), os.O_CREAT | os.O_WRONLY, 0o644))
    os.link(os.path.join(root, "d00", "s0", "f1"), os.path.join(root, "d29", "s7", "hl"))
    os.symlink("../d01", os.path.join(root, "d02", "up"))
    odd = os.path.join(os.fsencode(root), b"odd")
    os.mkdir(odd)
    for name in [b"new\nline", b"comma,quote\"", b"\xff\xfe"]:
        os.mkdir(os.path.join(odd, name))
        with open(os.path.join(odd, name, name), "wb") as f:
            f.write(b"y")
    # each directory listed once first (relatime moves a first listing's
    # atime, which dirs.csv reports)
    warm = os.path.join(top, "warm")
    os.mkdir(warm)
    cfg = pipeline(warm, "warm.yaml")
    r = subprocess.run([ENGINE, "-q", "-c", cfg, root], capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    yield root
    shutil.rmtree(top, ignore_errors=True)


def pipeline(d, name, errors=False):
    """csv + summary (and the error file) writing under d/out."""
    out = os.path.join(d, "out")
    os.makedirs(out, exist_ok=True)
    scan = "{threads: 2" + (f", errors: '{out}/errors.csv'" if errors else "") + "}"
    text = (f"version: 1\nplugin_path: ['{SUMMARY_DIR}']\nscan: {scan}\nsinks:\n"
            f"  - {{name: rows, plugin: csv, options: {{path: '{out}/scan.csv'}}}}\n"
            f"  - {{name: sum, plugin: summary, options: {{dir: '{out}/summary'}}}}\n")
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


@pytest.fixture(scope="module")
def reference(tree):
    """An uninterrupted scan's rows and summary tables (pwalk-engine: the
    MPI tests show pwalk-mpi's equal it)."""
    d = tempfile.mkdtemp(prefix="pwalk-mpi-ckpt-ref-")
    os.chmod(d, 0o755)
    cfg = pipeline(d, "ref.yaml")
    r = subprocess.run([ENGINE, "-q", "-c", cfg, tree], capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    out = os.path.join(d, "out")
    ref = {"rows": collections.Counter(csv_rows([os.path.join(out, "scan.csv")])),
           "tables": {t: read_bytes(os.path.join(out, "summary", t + ".csv")) for t in TABLES}}
    yield ref
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="pwalk-mpi-ckpt-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def published(out):
    """The outputs under their final names (not the temporary parts)."""
    return sorted(n for n in os.listdir(out) if not n.startswith("."))


def assert_suspended(r, out, ck, ranks):
    assert r.returncode == 75, text(r)
    assert "suspended at checkpoint" in text(r), text(r)
    assert f"--resume {ck}" in text(r), text(r)
    # nothing published: no shard, no shards manifest, no summary
    assert published(out) == [], published(out)
    m = json.loads(read_bytes(ck))
    assert m["format"] == "pwalk-mpi-checkpoint" and m["ranks"] == ranks, m
    assert m["parity"] == m["generation"] % 2
    assert m["journals"] == [f"{ck}.g{m['parity']}.rank-{k:04d}" for k in range(ranks)]
    for j in m["journals"]:
        assert os.path.isfile(j), j
    # the manifest lists the outputs the scan will publish
    assert m["outputs"] == [os.path.join(out, "scan.csv"), os.path.join(out, "summary")], m
    # every rank's part is kept
    for k in range(ranks):
        assert glob.glob(os.path.join(out, f".scan.part-{k:04d}.csv.pwalk-tmp-*")), \
            os.listdir(out)
    return m


def assert_complete(r, out, ck, ranks, reference):
    assert r.returncode == 0, text(r)
    shards = [os.path.join(out, f"scan.part-{k:04d}.csv") for k in range(ranks)]
    rows = csv_rows(shards)
    got = collections.Counter(rows)
    assert got == reference["rows"], (
        f"missing {sum((reference['rows'] - got).values())}, "
        f"extra {sum((got - reference['rows']).values())}")
    for t in TABLES:
        assert read_bytes(os.path.join(out, "summary", t + ".csv")) == reference["tables"][t], t
    m = json.loads(read_bytes(os.path.join(out, "scan.manifest.json")))
    assert m["complete"] is True and m["ranks"] == ranks
    assert m["totals"]["rows"] == len(rows)
    assert m["totals"]["entries"] == m["totals"]["rows"] + m["totals"]["errors"] + \
        m["totals"]["filtered"], m["totals"]
    assert [s["path"] for s in m["sinks"][0]["shards"]] == shards
    # the checkpoint is gone with its journals; no part left behind
    assert not os.path.exists(ck)
    assert glob.glob(ck + ".g*") == []
    assert [n for n in os.listdir(out) if "pwalk-tmp" in n] == [], os.listdir(out)
    return m


def test_suspended_at_np4_resumes_at_np2(tree, reference, tmp):
    cfg = pipeline(tmp, "p.yaml", errors=True)
    out = os.path.join(tmp, "out")
    ck = os.path.join(tmp, "scan.ckpt")
    r = interrupted(4, ["-q", "-c", cfg, "--checkpoint", ck] + SLOW + [tree], out, ck)
    m = assert_suspended(r, out, ck, 4)
    assert m["generation"] == 2  # the one at the start, then the suspension's
    r = mpirun(2, "-q", "-c", cfg, "--resume", ck, tree)
    assert_complete(r, out, ck, 2, reference)
    # the old ranks 2 and 3 were continued by ranks 0 and 1: no shard of theirs
    assert not glob.glob(os.path.join(out, "scan.part-0002*"))
    assert sorted(os.listdir(out)) == [
        "errors.part-0000.csv", "errors.part-0001.csv", "scan.manifest.json",
        "scan.part-0000.csv", "scan.part-0001.csv", "summary"], os.listdir(out)
    # the merged summary says the scan ran in two sessions, and when
    summary = json.loads(read_bytes(os.path.join(out, "summary", "summary.json")))
    times = summary["session_times"]
    assert len(times) == 2, times
    assert times[0]["start"] <= times[0]["end"] <= times[1]["start"] <= times[1]["end"], times
    assert json.loads(read_bytes(os.path.join(out, "scan.manifest.json")))["started"] == \
        times[0]["start"]


def test_several_suspensions_with_changing_ranks(tree, reference, tmp):
    cfg = pipeline(tmp, "p.yaml")
    out = os.path.join(tmp, "out")
    ck = os.path.join(tmp, "scan.ckpt")
    plan = [3, 1, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    args = ["-q", "-c", cfg, "--time-limit", "700ms"] + SLOW
    r = mpirun(plan[0], *(args + ["--checkpoint", ck, tree]))
    suspensions = 0
    ranks = plan[0]
    for np in plan[1:]:
        if r.returncode != 75:
            break
        assert_suspended(r, out, ck, ranks)
        suspensions += 1
        ranks = np
        r = mpirun(np, *(args + ["--resume", ck, tree]))
    assert suspensions >= 2, text(r)
    assert_complete(r, out, ck, ranks, reference)


def test_sigkill_after_periodic_checkpoints_resumes_from_the_last(tree, reference, tmp):
    cfg = pipeline(tmp, "p.yaml")
    out = os.path.join(tmp, "out")
    ck = os.path.join(tmp, "scan.ckpt")
    r = interrupted(4, ["-q", "-c", cfg, "--checkpoint", ck, "--checkpoint-every", "200ms"] +
                    SLOW + [tree], out, ck, after=0.1, sig=signal.SIGKILL, generation=2)
    assert r.returncode != 0, text(r)
    m = json.loads(read_bytes(ck))
    assert m["ranks"] == 4 and m["generation"] >= 2, m
    # whatever the killed ranks wrote after it is cut off by the resume
    r = mpirun(2, "-q", "-c", cfg, "--resume", ck, tree)
    assert r.returncode == 0, text(r)
    rows = csv_rows([os.path.join(out, f"scan.part-{k:04d}.csv") for k in range(2)])
    assert collections.Counter(rows) == reference["rows"]
    for t in TABLES:
        assert read_bytes(os.path.join(out, "summary", t + ".csv")) == reference["tables"][t], t
    assert not os.path.exists(ck) and glob.glob(ck + ".g*") == []


def one_line(r, want):
    lines = [l for l in text(r).splitlines() if l.startswith("pwalk-mpi")]
    assert lines == [want], text(r)


def test_refusals_say_one_line_and_write_nothing(tree, tmp):
    cfg = pipeline(tmp, "p.yaml")
    out = os.path.join(tmp, "out")
    ck = os.path.join(tmp, "scan.ckpt")
    with open(ck, "w") as f:
        f.write("someone's\n")
    r = mpirun(2, "-q", "-c", cfg, "--checkpoint", ck, tree)
    assert r.returncode == 2
    one_line(r, f"pwalk-mpi: checkpoint '{ck}' exists: a suspended scan waits in it; "
                "continue it with --resume, or remove it")
    r = mpirun(2, "-q", "-c", cfg, "--resume", ck, tree)
    assert r.returncode == 2
    one_line(r, f"pwalk-mpi: checkpoint '{ck}': not a pwalk-mpi checkpoint manifest")
    assert read_bytes(ck) == b"someone's\n"
    missing = os.path.join(tmp, "none.ckpt")
    r = mpirun(2, "-q", "-c", cfg, "--resume", missing, tree)
    assert r.returncode == 2
    one_line(r, f"pwalk-mpi: checkpoint '{missing}': No such file or directory")
    r = mpirun(2, "-q", "-c", cfg, "--checkpoint", missing, "--checkpoint-every", "0", tree)
    assert r.returncode == 2
    one_line(r, "pwalk-mpi: --checkpoint-every: '0' is not a duration (e.g. 90s, 5m, 3h50m, "
                "1d12h, 500ms, HH:MM:SS, D-HH:MM:SS; more than 0)")
    r = mpirun(2, "-q", "-c", cfg, "--time-limit", "5m", tree)
    assert r.returncode == 2
    one_line(r, "pwalk-mpi: --time-limit needs --checkpoint FILE: a suspended scan is "
                "resumed from it")
    assert published(out) == [] and [n for n in os.listdir(out)] == []
    assert not os.path.exists(missing)


def test_resume_of_another_version_is_refused(tree, tmp):
    cfg = pipeline(tmp, "p.yaml")
    out = os.path.join(tmp, "out")
    ck = os.path.join(tmp, "scan.ckpt")
    r = interrupted(2, ["-q", "-c", cfg, "--checkpoint", ck] + SLOW + [tree], out, ck)
    assert_suspended(r, out, ck, 2)
    before = {n: read_bytes(os.path.join(out, n)) for n in os.listdir(out)}
    m = read_bytes(ck)
    version = json.loads(m)["pwalk"]
    with open(ck, "wb") as f:
        f.write(m.replace(f'"pwalk": "{version}"'.encode(), b'"pwalk": "0.0.1"'))
    r = mpirun(2, "-q", "-c", cfg, "--resume", ck, tree)
    assert r.returncode == 2, text(r)
    one_line(r, f"pwalk-mpi: checkpoint '{ck}' was written by pwalk 0.0.1; "
                f"this is pwalk {version}")
    # the parts are untouched
    assert {n: read_bytes(os.path.join(out, n)) for n in os.listdir(out)} == before


def test_sigterm_abandons_and_removes_the_checkpoint(tree, tmp):
    cfg = pipeline(tmp, "p.yaml")
    out = os.path.join(tmp, "out")
    ck = os.path.join(tmp, "scan.ckpt")
    r = interrupted(2, ["-q", "-c", cfg, "--checkpoint", ck, "--checkpoint-every", "200ms"] +
                    SLOW + [tree], out, ck, after=0.1, sig=signal.SIGTERM, generation=1)
    assert r.returncode not in (0, 75), text(r)
    assert not os.path.exists(ck), text(r)
    assert glob.glob(ck + ".g*") == [], glob.glob(ck + ".g*")
    assert published(out) == [], published(out)


def test_resume_of_another_pipeline_is_refused_and_touches_nothing(tree, tmp):
    cfg = pipeline(tmp, "p.yaml")
    out = os.path.join(tmp, "out")
    ck = os.path.join(tmp, "scan.ckpt")
    r = interrupted(2, ["-q", "-c", cfg, "--checkpoint", ck] + SLOW + [tree], out, ck)
    assert_suspended(r, out, ck, 2)
    before = {n: read_bytes(os.path.join(out, n)) for n in os.listdir(out)}
    kept = {n: read_bytes(os.path.join(tmp, n)) for n in os.listdir(tmp) if n.startswith("scan")}
    r = mpirun(2, "-q", "-c", cfg, "--set", "scan.max_depth=3", "--resume", ck, tree)
    assert r.returncode == 2, text(r)
    lines = [l for l in text(r).splitlines() if l.startswith("pwalk-mpi")]
    assert lines, text(r)
    for l in lines:  # each rank that got to it names its journal and the key
        assert "is of another pipeline: 'scan.max_depth' was not set, now '3'" in l or \
            "'scan.max_depth' was '0', now '3'" in l, l
    assert {n: read_bytes(os.path.join(out, n)) for n in os.listdir(out)} == before
    assert {n: read_bytes(os.path.join(tmp, n)) for n in os.listdir(tmp)
            if n.startswith("scan")} == kept
    # and the scan still resumes with its own pipeline
    r = mpirun(2, "-q", "-c", cfg, "--resume", ck, tree)
    assert r.returncode == 0, text(r)
