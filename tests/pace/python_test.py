"""Issue 18 through the Python package's pipeline path (pwalk.run()): the
scan keys are the engine's, so a dict pipeline and sets= carry them, bad
values raise ConfigError naming key and value, and the walk honours them
(scan.max_ops's bucket sets a lower bound on the time; lazy_stat shows in
the summary)."""
import os
import tempfile
import time

import pytest

import pwalk


@pytest.fixture
def tree():
    base = os.environ.get("TEST_TMPDIR") or os.path.expanduser("~")
    d = tempfile.mkdtemp(prefix="pace-py-", dir=base)
    os.chmod(d, 0o755)
    src = os.path.join(d, "src")
    os.makedirs(os.path.join(src, "a"))
    for j in range(300):
        open(os.path.join(src, "a", f"f{j}"), "w").close()
    yield d, src
    import shutil
    shutil.rmtree(d)


def config(out, **scan):
    return {"version": 1, "scan": dict(threads=4, **scan),
            "sinks": [{"name": "r", "plugin": "csv", "options": {"path": out}}]}


def test_pacing_keys_are_honoured(tree):
    d, src = tree
    out = os.path.join(d, "o.csv")
    t0 = time.monotonic()
    s = pwalk.run(config(out, max_ops=200, lazy_stat=True, io_priority="idle", adaptive=True,
                         max_threads=8), roots=[src])
    took = time.monotonic() - t0
    assert s.status == 0 and s.rows == 302
    # 300 stats + the directories' opens, fstats, getdents at 200/s
    assert took >= 1.4, took
    assert ", stat: statx AT_STATX_DONT_SYNC" in s.summary, s.summary


def test_sets_carry_them_too(tree):
    d, src = tree
    out = os.path.join(d, "o.csv")
    t0 = time.monotonic()
    s = pwalk.run(config(out), roots=[src], sets=["scan.max_ops=300", "scan.lazy_stat=true"])
    assert s.status == 0 and time.monotonic() - t0 >= 0.9
    assert ", stat: statx AT_STATX_DONT_SYNC" in s.summary


def test_progress_says_how_many_threads_run(tree):
    d, src = tree
    out = os.path.join(d, "o.csv")
    seen = []
    # 120/s over ~310 operations: 2.5 s, so progress (once a second) comes
    s = pwalk.run(config(out, max_ops=120), roots=[src], progress=seen.append)
    assert s.status == 0 and seen
    assert all(p.threads == 4 for p in seen), seen


@pytest.mark.parametrize("key, value, message", [
    ("max_ops", -1, "'scan.max_ops' must be an integer 0..1000000000"),
    ("io_priority", "low", "'scan.io_priority' must be normal or idle, not 'low'"),
    ("max_threads", 0, "'scan.max_threads' must be an integer 1..4096, not '0'"),
    ("adaptive", "sometimes", "'scan.adaptive' must be true or false"),
])
def test_bad_values_raise_config_error(tree, key, value, message):
    d, src = tree
    out = os.path.join(d, "o.csv")
    with pytest.raises(pwalk.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pwalk.run(config(out, **{key: value}), roots=[src])
    assert not os.path.exists(out)
    with pytest.raises(pwalk.ConfigError, match="scan.lazy_stat"):
        pwalk.run(config(out), roots=[src], sets=["scan.lazy_stat=2"])
