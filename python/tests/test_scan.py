"""pwalk.scan(): the engine's entries in process through the walk-iterator
plugin -- every entry against lstat, names bytes-exact, memory bounded by
the queue whatever the consumer's speed, an early close stopping the scan,
errors raised as the rest of the package raises them."""

import os
import signal
import stat
import subprocess
import threading
import time

import pytest

import pwalk
import reportcheck
from conftest import make_hostile_tree, thread_count


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_hostile_tree(os.fsencode(tmp_path_factory.mktemp("scan") / "tree"), big=300)


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """3000 empty files: more than any queue below holds."""
    root = os.fsencode(tmp_path_factory.mktemp("flat") / "flat")
    os.makedirs(root)
    for d in range(3):
        sub = os.path.join(root, b"d%d" % d)
        os.mkdir(sub)
        for i in range(1000):
            with open(os.path.join(sub, b"f%04d.dat" % i), "wb"):
                pass
    return root


def _baseline():
    """The thread count with no scan running.  An earlier test's joined
    threads may still be leaving the OS for a moment; counting one of them
    here would make the end of this test look a thread short.  With no scan
    running every OS thread is a Python one, so wait (bounded) until the two
    counts agree."""
    deadline = time.monotonic() + 10
    while thread_count() != threading.active_count() and time.monotonic() < deadline:
        time.sleep(0.01)
    return thread_count()


def _threads_back_to(n):
    """The thread count once the scan's threads are gone.  Every thread was
    joined; a joined Python thread's OS thread may take a moment longer to
    exit, hence the bounded wait (not a timing assertion: 10 s is never
    needed unless a thread was left behind)."""
    deadline = time.monotonic() + 10
    while thread_count() != n and time.monotonic() < deadline:
        time.sleep(0.01)
    return thread_count()


def _check_against_lstat(entries, root):
    """Every entry's columns against os.lstat; the set of paths against
    os.walk.  entries' paths are bytes."""
    by_path = {}
    for e in entries:
        assert e.path not in by_path, e.path
        by_path[e.path] = e
    # stat fields first: listing directories below may update their atime
    for p, e in by_path.items():
        st = os.lstat(p)
        is_root = e.depth == -1
        is_dir = stat.S_ISDIR(st.st_mode)
        assert e.inode == st.st_ino, p
        assert e.parent_inode == (0 if is_root else os.lstat(os.path.dirname(p)).st_ino), p
        assert e.extension == (b"" if is_root else
                               reportcheck.extension(os.path.basename(p), is_dir)), p
        assert (e.uid, e.gid, e.size, e.dev) == (st.st_uid, st.st_gid, st.st_size,
                                                 st.st_dev), p
        assert (e.blocks, e.nlink, e.mode) == (st.st_blocks, st.st_nlink, st.st_mode), p
        assert (e.atime, e.mtime, e.ctime) == (int(st.st_atime), int(st.st_mtime),
                                               int(st.st_ctime)), p
        assert (e.atime_ns, e.mtime_ns, e.ctime_ns) == (st.st_atime_ns, st.st_mtime_ns,
                                                        st.st_ctime_ns), p
    root = root.rstrip(b"/")
    for p, e in by_path.items():
        if p != root:
            assert e.depth == os.path.relpath(p, root).count(b"/"), p
        if stat.S_ISDIR(e.mode):
            names = os.listdir(p)
            assert e.fcount == len(names), p
            assert e.dirsum == sum(os.lstat(os.path.join(p, n)).st_size for n in names), p
        else:
            assert (e.fcount, e.dirsum) == (-1, 0), p
    assert set(by_path) == reportcheck.expected_entries([root])
    return by_path


def test_every_entry_matches_lstat_with_bytes_names(tree):
    it = pwalk.scan(tree, max_threads=2)
    entries = list(it)
    assert all(isinstance(e.path, bytes) and isinstance(e.extension, bytes) for e in entries)
    by_path = _check_against_lstat(entries, tree)
    # the odd names arrive byte for byte
    for name in (b"new\nline", b'quote"s', b"bad\xffutf8", b"\xfe\xfe", b"ctrl\x01\x7f"):
        assert os.path.join(tree, b"files", name) in by_path
    s = it.summary
    assert s.status == 0 and s.errors == []
    assert s.rows == len(entries) and s.sink_rows["iterator"] == len(entries)


def test_str_roots_give_fsdecoded_paths(tree):
    entries = list(pwalk.scan(os.fsdecode(tree), max_threads=2))
    assert all(isinstance(e.path, str) and isinstance(e.extension, str) for e in entries)
    # surrogateescape, as os.fsdecode: encoding back gives the exact bytes
    paths = {os.fsencode(e.path) for e in entries}
    assert paths == reportcheck.expected_entries([tree])
    assert os.fsdecode(os.path.join(tree, b"files", b"bad\xffutf8")) in {e.path for e in entries}
    for e in entries:
        assert os.fsencode(e.extension) == reportcheck.extension(
            os.path.basename(os.fsencode(e.path)), stat.S_ISDIR(e.mode) or e.depth == -1)


def test_entry_is_a_tuple_of_the_report_columns(tree):
    e = next(iter(pwalk.scan(tree)))
    assert isinstance(e, pwalk.Entry) and len(e) == 17
    assert tuple(e)[3] == e.path and tuple(e)[16] == e.dirsum
    assert e.atime_ns // 10**9 == e.atime


def test_same_rows_as_the_csv_report(tree, tmp_path):
    """scan() and report() see the same entries with the same columns."""
    out = str(tmp_path / "r.csv")
    pwalk.report(tree, out, max_threads=2)
    rows = reportcheck.parse(reportcheck.read_bytes(out))
    by_path = {pwalk.unescape(r[3]): r for r in rows}
    entries = list(pwalk.scan(tree, max_threads=2))
    assert len(entries) == len(rows)
    for e in entries:
        r = by_path[e.path]
        assert [int(r[0]), int(r[1]), int(r[2])] == [e.inode, e.parent_inode, e.depth]
        assert pwalk.unescape(r[4]) == e.extension
        assert r[11] == "%07o" % e.mode
        assert [int(x) for x in r[5:11] + r[12:17]] == [
            e.uid, e.gid, e.size, e.dev, e.blocks, e.nlink, e.atime, e.mtime, e.ctime,
            e.fcount, e.dirsum]


def test_a_slow_consumer_keeps_the_queue_bounded(flat):
    """The consumer sleeps before taking anything and between entries: the
    engine's workers wait for it instead of queueing the tree."""
    it = pwalk.scan(flat, max_threads=2, capacity=64)
    time.sleep(0.3)
    seen = 0
    for _ in it:
        seen += 1
        if seen % 200 == 0:
            time.sleep(0.01)
    st = it.stats()
    assert seen == 3004  # 3000 files, 3 directories, the root
    assert st["capacity"] == 64
    assert 0 < st["high_water"] <= 64
    assert st["waits"] > 0  # the workers did wait for the consumer
    assert it.summary.status == 0


def test_break_stops_the_scan_and_leaves_no_thread(flat):
    before = _baseline()
    for e in pwalk.scan(flat, max_threads=2, capacity=16):
        break
    # the iterator is gone: the scan stopped and every thread was joined
    assert not [t for t in threading.enumerate() if t.name == "pwalk.scan"]
    assert _threads_back_to(before) == before


def test_close_stops_the_scan_early(flat):
    before = _baseline()
    it = pwalk.scan(flat, max_threads=2, capacity=16)
    first = next(it)
    assert first.path.startswith(flat)
    it.close()
    st = it.stats()
    # workers wait on a full queue of 16: far from the 3004 entries
    assert st["entries"] < 3004 and st["taken"] < 3004
    assert it.summary is None  # not exhausted: no summary, no exception
    assert list(it) == []
    assert _threads_back_to(before) == before
    it.close()  # twice is fine


def test_with_block_closes(flat):
    before = _baseline()
    with pwalk.scan(flat, capacity=16) as it:
        next(it)
    assert _threads_back_to(before) == before


def test_closed_before_the_sink_started(flat):
    """close() right away, before the engine reached the plugin's create():
    the plugin finds the consumer gone and the scan ends."""
    before = _baseline()
    for _ in range(5):
        pwalk.scan(flat, capacity=16).close()
    assert _threads_back_to(before) == before


def test_two_scans_at_once_from_one_thread(tree, flat):
    a, b = pwalk.scan(tree, capacity=32), pwalk.scan(flat, capacity=32)
    na = nb = 0
    for x, y in zip(a, b):  # interleaved: each scan waits for its own consumer
        na += 1
        nb += 1
    na += sum(1 for _ in a)
    nb += sum(1 for _ in b)
    assert nb == 3004
    assert na == len(reportcheck.expected_entries([tree]))


FAILSINK_DIR = os.path.join(os.environ.get("TEST_SRCDIR", ""), "pwalk", "tests", "faults",
                            "fixtures")


def test_ctrl_c_while_waiting_for_entries_stops_the_scan(flat):
    """Ctrl-C reaches the iterating thread while it waits in C for entries
    (a second sink sleeps in every call, so the queue stays empty): the
    scan is stopped, its threads joined, KeyboardInterrupt raised."""
    if not os.path.exists(os.path.join(FAILSINK_DIR, "failsink.so")):
        pytest.skip("the failsink fixture plugin is built only by Bazel (//tests/faults)")
    cfg = {"version": 1, "plugin_path": [FAILSINK_DIR],
           "sinks": [{"name": "slow", "plugin": "failsink", "options": {"delay_us": 300000}}]}
    before = _baseline()
    it = pwalk.scan(flat, config=cfg, max_threads=2)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    n = 0
    with pytest.raises(KeyboardInterrupt):
        for _ in it:
            n += 1
    timer.join()
    assert n < 3004
    assert it.summary is None
    assert _threads_back_to(before) == before


def test_missing_root_raises_file_not_found(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError) as ei:
        pwalk.scan(str(missing))
    assert ei.value.filename == str(missing)


def test_bad_option_raises_config_error(flat):
    it = pwalk.scan(flat, sets=["iterator.capacity=0"])
    with pytest.raises(pwalk.ConfigError) as ei:
        next(it)
    assert "capacity" in str(ei.value) and ei.value.status == 2
    with pytest.raises(ValueError):
        pwalk.scan(flat, capacity=0)


def test_config_dict_scan_settings_and_another_sink(tree, tmp_path):
    out = str(tmp_path / "also.csv")
    cfg = {"version": 1, "scan": {"exclude": ["big"]},
           "sinks": [{"name": "also", "plugin": "csv", "options": {"path": out}}]}
    it = pwalk.scan(tree, config=cfg)
    paths = {e.path for e in it}
    assert os.path.join(tree, b"big") not in paths
    assert it.summary.sink_rows["also"] == len(paths) == it.summary.sink_rows["iterator"]
    assert os.path.exists(out)
    with pytest.raises(ValueError):
        pwalk.scan(tree, config={"sinks": [{"name": "iterator", "plugin": "csv"}]})


def test_the_command_line_refuses_a_walk_iterator_sink(tree, tmp_path):
    """No program to hand the entries to: exit 2 naming the sink."""
    engine = os.path.join(os.environ["TEST_SRCDIR"], os.environ.get("TEST_WORKSPACE", "pwalk"),
                          "pwalk-engine") \
        if "TEST_SRCDIR" in os.environ else None
    if not engine or not os.path.exists(engine):
        pytest.skip("pwalk-engine is not in the runfiles")
    cfg = tmp_path / "p.yaml"
    cfg.write_text("version: 1\nsinks:\n  - name: it\n    plugin: walk-iterator\n")
    r = subprocess.run([engine, "-c", str(cfg), os.fsdecode(tree)], capture_output=True)
    assert r.returncode == 2, r.stderr
    assert b"sink 'it'" in r.stderr and b"no consumer attached" in r.stderr
