"""The sinks over the summary's aggregate (summary, html, prometheus) and
ncdu in a checkpointed scan (issue 19): suspended (scan.time_limit,
SIGUSR1) or killed (SIGKILL after periodic checkpoints) and resumed until
done, each publishes exactly what an uninterrupted scan of the same tree
publishes -- the summary's tables byte for byte, the same metrics, the same
ncdu export, the same page data -- and summary.json counts the sessions.
While suspended nothing is under a final name; at the end no temporary is
left and the journal is gone.  Runs pwalk-engine as root without the DAC
capabilities (setpriv), like summary_test."""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time

import pytest

import summary_tree as T

MAX_OPS = "30000"  # metadata operations per second: a walk of the tree lasts ~1 s


@pytest.fixture
def work():
    reason = T.can_drop_caps()
    if reason:
        pytest.skip(reason)
    d = T.scratch("ckpt")
    yield d
    T.remove(d)


@pytest.fixture
def tree(work):
    """summary_tree's tree (hard links across directories, an unreadable
    directory, owners) with gentree's hostile names beside it."""
    gentree = T.built("tests/bench/gentree")
    if not gentree:
        pytest.skip("tests/bench:gentree not built")
    facts = T.build(os.path.join(work, "tree"))
    subprocess.run([gentree, os.path.join(facts["root"], "gen"), "20000", "--hostile",
                    "--seed", "19"], check=True, capture_output=True)
    return facts


def pipeline(work, tag, facts):
    out = os.path.join(work, tag)
    os.mkdir(out)
    q = lambda name: T.yaml_str(os.path.join(out, name))  # noqa: E731
    lines = ["version: 1", "scan:", "  threads: 3",
             "  exclude: [%s]" % ", ".join(T.yaml_str(x) for x in facts["excluded"]),
             "sinks:",
             "  - {name: sum, plugin: summary, options: {dir: %s, print: false}}" % q("sum"),
             "  - {name: prom, plugin: prometheus, options: {path: %s}}" % q("m.prom"),
             "  - {name: page, plugin: html, options: {path: %s}}" % q("p.html"),
             "  - {name: browse, plugin: ncdu, options: {path: %s, memory_mb: 1}}" % q("n.json")]
    cfg = os.path.join(work, tag + ".yaml")
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    return out, cfg


FINALS = ["sum/summary.json", "sum/dirs.csv", "m.prom", "p.html", "n.json"]


def engine(args):
    return subprocess.Popen(T.UNPRIVILEGED + [T.built("pwalk-engine")] + args,
                            stderr=subprocess.PIPE)


def resume_until_done(out, cfg, root, journal, interrupt, limit=80):
    """Sessions until one completes; interrupt(proc) ends each (or not).
    Returns the number of sessions since the last fresh start."""
    first = ["-q", "--max-ops", MAX_OPS, "-c", cfg, "--checkpoint-every", "40ms"]
    args = first + ["--checkpoint", journal, root]
    n = 0
    for _ in range(limit):
        n += 1
        p = engine(args)
        interrupt(p)
        err = p.communicate(timeout=300)[1].decode(errors="replace")
        if p.returncode == 1:  # complete; 1: the tree's unreadable directory
            return n
        assert p.returncode in (75, -signal.SIGKILL), (p.returncode, err)
        finals = [name for name in FINALS if os.path.exists(os.path.join(out, name))]
        if finals and p.returncode == -signal.SIGKILL:
            # killed while publishing, after the walk: what the journal can
            # still give back then is the engine's affair (the csv parts'
            # too), not these sinks': this round starts over
            print("killed while publishing (%s): starting over" % finals)
            T.remove(out)
            os.mkdir(out)
            if os.path.exists(journal):
                os.unlink(journal)
        assert not finals or p.returncode == -signal.SIGKILL, finals  # suspended: nothing
        if not os.path.exists(journal):  # killed before the first checkpoint
            assert p.returncode == -signal.SIGKILL
            args, n = first + ["--checkpoint", journal, root], 0
            continue
        args = first + ["--resume", journal, root]
    raise AssertionError("not done after %d sessions" % limit)


def published(out):
    def read(name):
        with open(os.path.join(out, name), "rb") as f:
            return f.read()
    tables = {n: read("sum/" + n + ".csv") for n in T.TABLES}
    meta = json.loads(read("sum/summary.json"))
    # the tree's figures; the scan's own (times, sessions) apart
    prom = [ln for ln in read("m.prom").split(b"\n") if b"pwalk_scan_" not in ln]
    sessions = [ln for ln in read("m.prom").split(b"\n") if ln.startswith(b"pwalk_scan_sessions ")]
    ncdu = re.sub(rb'"timestamp":\d+', b"", read("n.json"))
    page = re.sub(rb'"(start_time|end_time|threads|ranks|sessions)":\d+', b"", read("p.html"))
    return tables, meta, prom, sessions, ncdu, page


def left_behind(out, journal):
    temps = [os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs if ".pwalk-tmp-" in f]
    return temps + ([journal] if os.path.exists(journal) else [])


def check_same(ref, got, sessions, most=None):
    """sessions: the number summary.json must say (None: 1..most)."""
    tables, meta, prom, psessions, ncdu, page = got
    rtables, rmeta, rprom, _, rncdu, rpage = ref
    for name in T.TABLES:
        assert tables[name] == rtables[name], name + ".csv differs from the uninterrupted scan's"
    if sessions is None:
        assert 1 <= meta["sessions"] <= most, meta["sessions"]
        sessions = meta["sessions"]
    assert meta["sessions"] == sessions and len(meta["session_times"]) == sessions
    assert all(s["start"] <= s["end"] for s in meta["session_times"])
    assert meta["start_time"] == meta["session_times"][0]["start"]
    for k in ("entries", "errors", "filtered", "totals"):
        assert meta[k] == rmeta[k], k
    assert prom == rprom
    assert psessions == [b"pwalk_scan_sessions %d" % sessions]
    assert ncdu == rncdu
    assert page == rpage


def reference(work, facts):
    out, cfg = pipeline(work, "ref", facts)
    p = engine(["-q", "-c", cfg, facts["root"]])
    assert p.wait(timeout=300) == 1, p.stderr.read()  # the unreadable directory
    return published(out)


def test_time_limit_suspensions_then_resume_publish_the_uninterrupted_outputs(work, tree):
    ref = reference(work, tree)
    out, cfg = pipeline(work, "limit", tree)
    journal = os.path.join(work, "limit.journal")
    first = ["-q", "--max-ops", MAX_OPS, "-c", cfg, "--time-limit", "100ms"]
    args = first + ["--checkpoint", journal, tree["root"]]
    n = 0
    while True:
        n += 1
        r = subprocess.run(T.UNPRIVILEGED + [T.built("pwalk-engine")] + args, capture_output=True,
                           timeout=300)
        if r.returncode != 75:
            break
        assert os.path.exists(journal)
        args = first + ["--resume", journal, tree["root"]]
        assert n < 60
    assert r.returncode == 1, r.stderr  # the unreadable directory, as the reference
    assert n > 2, "the time limit never suspended the scan"
    check_same(ref, published(out), n)
    assert left_behind(out, journal) == []


@pytest.mark.parametrize("how", ["usr1", "kill"])
def test_interrupted_at_random_moments_then_resumed_publish_the_uninterrupted_outputs(
        work, tree, how):
    ref = reference(work, tree)
    seed = int(os.environ.get("PWALK_TEST_SEED", "1919"))
    print("seed", seed)
    rng = random.Random(seed)

    def interrupt(p):
        time.sleep(rng.uniform(0.05, 0.4))
        if p.poll() is None:
            p.send_signal(signal.SIGUSR1 if how == "usr1" else signal.SIGKILL)

    for round_ in range(3):
        out, cfg = pipeline(work, "%s%d" % (how, round_), tree)
        journal = os.path.join(work, "%s%d.journal" % (how, round_))
        n = resume_until_done(out, cfg, tree["root"], journal, interrupt)
        # a killed session counts only when it reached a checkpoint
        check_same(ref, published(out), n if how == "usr1" else None, n)
        temps = left_behind(out, journal)
        if how == "usr1":
            assert temps == []
        else:  # only a session killed before the scan's first checkpoint leaves any
            assert journal not in temps
            assert all(".n.json." in t or ".m.prom." in t or ".p.html." in t or "/sum/" in t
                       for t in temps), temps


def test_pwalk_mpi_suspended_and_resumed_with_other_rank_counts(work, tree):
    """np=3 suspended, np=2 suspended (one rank continues two ranks'
    states), np=3 to the end: the same outputs as one process's."""
    mpi = T.built("pwalk-mpi")
    if not mpi or not shutil.which("mpirun"):
        pytest.skip("pwalk-mpi is built only with Open MPI installed")
    ref = reference(work, tree)
    out, cfg = pipeline(work, "mpi", tree)
    journal = os.path.join(work, "mpi.journal")
    common = ["-q", "--max-ops", "10000", "-c", cfg, "--checkpoint-every", "50ms"]
    args = common + ["--checkpoint", journal, tree["root"]]
    sessions = 0
    for np, after in ((3, 0.4), (2, 0.4), (3, None)):
        argv = ["mpirun", "--oversubscribe", "--allow-run-as-root", "-np", str(np), mpi] + args
        p = subprocess.Popen(T.UNPRIVILEGED + argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=T.mpi_env())
        if after:
            time.sleep(after)
            if p.poll() is None:
                p.send_signal(signal.SIGUSR1)  # mpirun forwards it to every rank
        err = p.communicate(timeout=300)[1].decode(errors="replace")
        sessions += 1
        if p.returncode != 75:
            break
        for name in FINALS:
            assert not os.path.exists(os.path.join(out, name)), name
        args = common + ["--resume", journal, tree["root"]]
    assert p.returncode == 1, err  # complete (the tree's unreadable directory)
    assert sessions > 1, "never suspended"
    tables, meta, prom, _, ncdu, page = published(out)
    rtables, rmeta, rprom, _, rncdu, rpage = ref
    assert tables == rtables
    assert meta["sessions"] >= sessions  # a session per rank count, at least
    for k in ("entries", "errors", "filtered", "totals"):
        assert meta[k] == rmeta[k], k
    assert prom == rprom and ncdu == rncdu and page == rpage
    assert [t for t in left_behind(out, journal) if ".pwalk-tmp-" in t or t == journal] == []
