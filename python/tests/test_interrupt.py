"""Ctrl-C and abandoned generators: the engine and the read-ahead stop
promptly, KeyboardInterrupt reaches the caller, no thread is left running
and no report is published under its final name.

The Ctrl-C cases run in a child process (a stray SIGINT must never reach
pytest itself) that reports its thread counts from /proc/self/task, which,
unlike threading.active_count(), sees the C threads."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import pwalk
from conftest import thread_count


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory):
    """~20k entries in 2k directories: a scan of many copies of it takes
    long enough to be interrupted."""
    top = tmp_path_factory.mktemp("interrupt") / "big"
    for i in range(40):
        for j in range(50):
            d = top / f"d{i:02d}" / f"e{j:02d}"
            d.mkdir(parents=True)
            for k in range(9):
                (d / f"f{k}.dat").touch()
    return str(top)


@pytest.fixture(scope="module")
def many_trees(big_tree):
    """40 copies of big_tree (directories made anew, files hard-linked:
    ~800k entries).  Roots inside other roots, or given twice, are scanned
    once, so a long scan needs distinct trees, not [big_tree] * 400."""
    base = os.path.dirname(big_tree)
    copies = []
    for i in range(40):
        dst = os.path.join(base, f"copy{i:02d}")
        subprocess.run(["cp", "-al", big_tree, dst], check=True)
        copies.append(dst)
    return copies


def run_child(code, delay):
    """Start code in a child, send SIGINT `delay` seconds after it prints
    "started", return (its JSON result, seconds from SIGINT to its exit)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.strip() == "started", line + p.stderr.read()
        time.sleep(delay)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        elapsed = time.monotonic() - sent
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    return json.loads(out), elapsed


WALK_CHILD = r"""
import gc, json, os, sys, time
import pwalk
top = TOP
tasks = lambda: len(os.listdir("/proc/self/task"))
before = tasks()
print("started", flush=True)
n = 0
interrupted = None
try:
    while True:
        for dirpath, dirnames, filenames in pwalk.walk(top, max_threads=4):
            n += 1
except KeyboardInterrupt:
    interrupted = time.monotonic()
gc.collect()
print(json.dumps({"before": before, "after": tasks(), "dirs": n, "at": interrupted}))
"""


def test_ctrl_c_during_walk_stops_the_readers(big_tree):
    res, elapsed = run_child(WALK_CHILD.replace("TOP", repr(big_tree)), 1.0)
    assert res["at"] is not None and res["dirs"] > 0
    assert res["after"] == res["before"]
    assert elapsed < 10


REPORT_CHILD = r"""
import gc, json, os, sys, time
import pwalk
roots, out = ROOTS, OUT
tasks = lambda: len(os.listdir("/proc/self/task"))
before = tasks()
cfg = {"version": 1, "scan": {"threads": 2},
       "sinks": [{"name": "r", "plugin": "csv-gzip", "options": {"path": out, "level": 9}}]}
print("started", flush=True)
interrupted = None
t0 = time.monotonic()
try:
    pwalk.run(cfg, roots)
except KeyboardInterrupt:
    interrupted = time.monotonic()
print(json.dumps({"before": before, "after": tasks(), "at": interrupted,
                  "ran": (interrupted or time.monotonic()) - t0}))
"""


def test_ctrl_c_during_report_stops_the_engine(many_trees, tmp_path):
    out = str(tmp_path / "r.csv.gz")
    res, elapsed = run_child(REPORT_CHILD.replace("ROOTS", repr(many_trees)).replace(
        "OUT", repr(out)), 1.0)
    assert res["at"] is not None, res
    assert res["after"] == res["before"]
    assert elapsed < 10
    # nothing published, no temporary left behind
    assert os.listdir(tmp_path) == []


def test_report_from_python_helper_is_interruptible_too(many_trees, tmp_path):
    code = REPORT_CHILD.replace("pwalk.run(cfg, roots)",
                                "pwalk.report(roots, out, 'gzip', max_threads=1)")
    assert code != REPORT_CHILD
    out = str(tmp_path / "scan.csv.gz")
    res, elapsed = run_child(code.replace("ROOTS", repr(many_trees)).replace("OUT", repr(out)),
                             0.8)
    assert res["at"] is not None and res["after"] == res["before"]
    assert os.listdir(tmp_path) == []


def test_closing_the_generator_early_joins_the_threads(big_tree):
    before = thread_count()
    g = pwalk.walk(big_tree, max_threads=4)
    for _ in range(3):
        next(g)
    assert thread_count() == before + 4
    g.close()
    assert thread_count() == before


def test_dropping_the_generator_joins_the_threads(big_tree):
    before = thread_count()
    g = pwalk.walk(big_tree, max_threads=2, topdown=False)
    next(g)
    assert thread_count() == before + 2
    del g
    assert thread_count() == before


def test_exhausted_and_broken_walks_leave_no_threads(big_tree):
    before = thread_count()
    assert sum(1 for _ in pwalk.walk(big_tree)) == 1 + 40 + 40 * 50
    assert thread_count() == before
    g = pwalk.walk(big_tree, max_threads=3)
    next(g)
    with pytest.raises(ZeroDivisionError):
        g.throw(ZeroDivisionError)
    assert thread_count() == before


def test_a_generator_never_started_starts_no_thread(big_tree):
    before = thread_count()
    g = pwalk.walk(big_tree, max_threads=4)
    assert thread_count() == before
    del g


def test_many_walks_do_not_leak_threads_or_fds(big_tree):
    before = thread_count()
    fds = len(os.listdir("/proc/self/fd"))
    for i in range(30):
        g = pwalk.walk(big_tree, max_threads=1 + i % 4)
        for _ in range(i):
            next(g, None)
        g.close()
    assert thread_count() == before
    assert len(os.listdir("/proc/self/fd")) == fds
