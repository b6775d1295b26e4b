"""Scans from several Python threads run at the same time (issue 14): no
global lock in the extension, no process-wide state in the library, and a
sink failing in one scan stops only that scan.

Overlap is proven without timing: each scan's on_error callback (run on a
walk worker, the scan blocked mid-walk until it returns) waits for the
other scan.  The failsink fixture replaces a directory at its first rows,
so every scan reports exactly one "replaced" record while it walks.  Under
a global lock the second scan could not start while the first waits: the
waits time out and the tests fail instead of hanging."""

import os
import re
import threading

import pytest

import pwalk
import reportcheck
from conftest import make_hostile_tree

FIXTURES = os.path.join(os.environ.get("TEST_SRCDIR", ""), "pwalk", "tests", "faults",
                        "fixtures")
WAIT = 120  # seconds: only reached when the scans do not overlap (a failure)

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(FIXTURES, "failsink.so")),
    reason="the failsink fixture plugin is built only by Bazel (//tests/faults)")


def churn_tree(top):
    """top/sub (replaced mid-scan), top/trigger, top/data (a hostile tree
    the report is checked against)."""
    (top / "sub").mkdir(parents=True)
    (top / "trigger").write_text("x")
    return make_hostile_tree(os.fsencode(top / "data"), big=40)


def pipeline(top, out, extra_sinks=()):
    """One worker (so the replaced directory is opened after the sink saw
    the first rows), a csv report, the failsink that replaces top/sub."""
    return {
        "version": 1, "plugin_path": [FIXTURES],
        "scan": {"threads": 1, "roots": [str(top)]},
        "sinks": [{"name": "inv", "plugin": "csv", "options": {"path": str(out)}},
                  {"name": "churn", "plugin": "failsink",
                   "options": {"mutate": "replace", "mutate_path": str(top / "sub")}},
                  *extra_sinks],
    }


def check_report(out, data):
    """The rows below data (untouched by the churn) match lstat exactly."""
    rows = reportcheck.parse(reportcheck.read_bytes(str(out)))
    mine = [r for r in rows if pwalk.unescape(r[3]) == data or
            pwalk.unescape(r[3]).startswith(data + b"/")]
    reportcheck.check_rows(mine, [data])
    return rows


def run_in_thread(target):
    """Start target() on a thread; returns (thread, box) with box["result"]
    or box["error"] after join."""
    box = {}

    def body():
        try:
            box["result"] = target()
        except BaseException as e:  # noqa: BLE001 - examined by the test
            box["error"] = e
    t = threading.Thread(target=body)
    t.start()
    return t, box


def test_two_scans_from_two_threads_overlap_and_are_exact(tmp_path):
    barrier = threading.Barrier(2, timeout=WAIT)
    seen = {0: [], 1: []}

    def scan(i):
        top = tmp_path / f"top{i}"
        data = churn_tree(top)
        out = tmp_path / f"r{i}.csv"

        def on_error(error, kind):
            seen[i].append((error, kind))
            # both scans are mid-walk here: neither can finish before both
            # arrived (a BrokenBarrierError stops this scan and fails below)
            barrier.wait()
        s = pwalk.run(pipeline(top, out), on_error=on_error)
        return s, top, data, out

    started = [run_in_thread(lambda i=i: scan(i)) for i in (0, 1)]
    for t, _ in started:
        t.join()
    for i, (_, box) in enumerate(started):
        assert "error" not in box, box.get("error")
        s, top, data, out = box["result"]
        assert s.status == 0 and s.errors == [], s.summary
        replaced = pwalk.EntryError(str(top / "sub"), 0, "replaced by another directory",
                                    "opendir")
        assert s.vanished == [replaced]
        assert seen[i] == [(replaced, "replaced")]
        rows = check_report(out, data)
        assert len(rows) == s.rows == s.sink_rows["inv"] == s.sink_rows["churn"]


def test_a_failing_sink_stops_only_its_own_scan(tmp_path):
    inside = threading.Event()   # scan B is blocked mid-walk
    a_done = threading.Event()   # scan A failed and returned
    top_b = tmp_path / "b"
    data_b = churn_tree(top_b)
    out_b = tmp_path / "b.csv"

    def on_error(error, kind):
        inside.set()
        # B stays mid-walk until A failed: with a process-wide stop flag,
        # A's failure would stop B too
        if not a_done.wait(WAIT):
            raise RuntimeError("scan A never finished while B was running")
    tb, box = run_in_thread(lambda: pwalk.run(pipeline(top_b, out_b), on_error=on_error))
    try:
        assert inside.wait(WAIT), "scan B never reached its error record"
        tree_a = make_hostile_tree(os.fsencode(tmp_path / "a"), big=40)
        out_a = tmp_path / "a.csv"
        with pytest.raises(pwalk.PluginError) as e:
            pwalk.run({"version": 1, "plugin_path": [FIXTURES],
                       "scan": {"threads": 2, "roots": [os.fsdecode(tree_a)]},
                       "sinks": [{"name": "inv", "plugin": "csv",
                                  "options": {"path": str(out_a)}},
                                 {"name": "boom", "plugin": "failsink",
                                  "options": {"fail_in": "consume"}}]})
        # the sink's name comes from the library's field
        assert e.value.sink == "boom" and e.value.status == 3
        assert re.fullmatch(r"failsink: failing in consume after \d+ rows as asked",
                            e.value.sink_message), e.value.sink_message
        assert str(e.value).startswith("sink 'boom': " + e.value.sink_message)
        assert not out_a.exists()
    finally:
        a_done.set()
        tb.join()
    assert "error" not in box, box.get("error")
    s = box["result"]
    assert s.status == 0 and s.errors == [], s.summary
    assert len(s.vanished) == 1
    assert len(check_report(out_b, data_b)) == s.rows


def test_an_exception_in_a_callback_stops_the_scan_and_propagates(tmp_path):
    top = tmp_path / "top"
    churn_tree(top)
    out = tmp_path / "r.csv"

    class Stop(Exception):
        pass

    def on_error(error, kind):
        raise Stop(error.path)
    with pytest.raises(Stop) as e:
        pwalk.run(pipeline(top, out), on_error=on_error)
    assert e.value.args == (str(top / "sub"),)
    assert not out.exists()  # stopped: nothing published


def test_many_concurrent_scans_agree(tmp_path):
    tree = make_hostile_tree(os.fsencode(tmp_path / "tree"), big=100)
    outs = [tmp_path / f"t{i}.csv" for i in range(6)]
    runs = [run_in_thread(lambda o=o: pwalk.run(
        {"version": 1, "scan": {"threads": 2},
         "sinks": [{"name": "x", "plugin": "csv", "options": {"path": str(o)}}]}, tree))
        for o in outs]
    for t, _ in runs:
        t.join()
    for (_, box), out in zip(runs, outs):
        assert "error" not in box, box.get("error")
        assert box["result"].status == 0
        assert len(reportcheck.check_rows(reportcheck.parse(reportcheck.read_bytes(
            str(out))), [tree])) == box["result"].rows


def test_progress_reaches_python_while_the_walk_runs(tmp_path):
    # the walk's only worker waits in on_error until progress was called
    # (about once a second, on the thread running the scan): no sleeping
    top = tmp_path / "top"
    data = churn_tree(top)
    out = tmp_path / "r.csv"
    got = []
    called = threading.Event()

    def progress(p):
        got.append(p)
        called.set()

    def on_error(error, kind):
        if not called.wait(WAIT):
            raise RuntimeError("no progress while the walk was held")
    s = pwalk.run(pipeline(top, out), on_error=on_error, progress=progress)
    assert s.status == 0 and got, s.summary
    p = got[0]
    assert isinstance(p, pwalk.Progress)
    assert 1 <= p.entries <= s.entries and p.rows <= s.rows and p.seconds > 0
    check_report(out, data)
