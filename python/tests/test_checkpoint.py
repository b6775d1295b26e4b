"""pwalk.report()/run() with checkpoints (issue 19): checkpoint=, resume=,
time_limit=, checkpoint_every=; a suspended scan raises pwalk.Incomplete
(status 75) naming its journal, and resuming until it completes gives the
rows of an uninterrupted scan.  The engine's own checkpoint tests (SIGUSR1,
SIGKILL, every sink, refused journals) are tests/checkpoint's."""

import collections
import os

import pytest

import pwalk
import pwalk.cli
import reportcheck
from conftest import make_hostile_tree

# sessions before a resume loop is called stuck (each one suspends after
# time_limit; the tree takes a few of them)
MAX_SESSIONS = 500


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = make_hostile_tree(os.fsencode(tmp_path_factory.mktemp("ckpt") / "tree"), big=2000)
    # many directories: a cut has directories to leave pending, and ~20k
    # entries take far longer than the 1 ms time limits below
    for i in range(400):
        d = os.path.join(root, b"many", b"d%03d" % i)
        os.makedirs(d)
        for k in range(40):
            with open(os.path.join(d, b"f%d" % k), "wb") as f:
                f.write(b"z" * k)
    return root


def rows_of(path):
    return collections.Counter(map(tuple, reportcheck.parse(reportcheck.read_bytes(path))))


def temporaries(directory):
    return sorted(n for n in os.listdir(directory) if ".pwalk-tmp-" in n)


def test_incomplete_is_a_pwalk_error():
    assert issubclass(pwalk.Incomplete, pwalk.Error)
    assert "Incomplete" in pwalk.__all__
    e = pwalk.Incomplete("suspended", status=75, checkpoint="/x/j.ckp")
    assert (e.status, e.checkpoint, e.message) == (75, "/x/j.ckp", "suspended")


def test_checkpoint_and_another_resume_refused(tree, tmp_path):
    with pytest.raises(ValueError, match="a resumed scan keeps its journal"):
        pwalk.report(tree, str(tmp_path / "r.csv"), checkpoint=str(tmp_path / "a.ckp"),
                     resume=str(tmp_path / "b.ckp"))
    with pytest.raises(ValueError, match="cannot be given with ranks"):
        pwalk.run({"version": 1, "sinks": [{"plugin": "csv"}]}, tree, ranks=2,
                  checkpoint=str(tmp_path / "a.ckp"))
    with pytest.raises(TypeError, match="time_limit must be a duration"):
        pwalk.report(tree, str(tmp_path / "r.csv"), checkpoint=str(tmp_path / "a.ckp"),
                     time_limit=[5])
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("key,value", [("time_limit", "3h50"), ("checkpoint_every", "0"),
                                       ("time_limit", -1)])
def test_bad_durations_are_config_errors_naming_the_key(tree, tmp_path, key, value):
    with pytest.raises(pwalk.ConfigError) as e:
        pwalk.report(tree, str(tmp_path / "r.csv"), checkpoint=str(tmp_path / "j.ckp"),
                     **{key: value})
    assert f"'scan.{key}' must be a duration above zero" in e.value.message
    assert e.value.status == 2
    assert os.listdir(tmp_path) == []


def test_missing_journal_is_refused_and_nothing_written(tree, tmp_path):
    journal = str(tmp_path / "none.ckp")
    with pytest.raises(pwalk.ConfigError) as e:
        pwalk.report(tree, str(tmp_path / "r.csv"), resume=journal)
    assert e.value.message == f"checkpoint '{journal}': No such file or directory"
    assert e.value.status == 2
    assert os.listdir(tmp_path) == []


def resume_until_done(call, journal, out_dir, final):
    """call(**kw) until it completes; returns (result, sessions suspended)."""
    suspended = 0
    kw = {"checkpoint": journal}
    while True:
        try:
            return call(**kw), suspended
        except pwalk.Incomplete as e:
            suspended += 1
            assert suspended < MAX_SESSIONS, "no end to the sessions"
            assert e.status == 75 and e.checkpoint == journal, e
            assert "continue with --resume" in e.message, e.message
            assert os.path.exists(journal)
            assert not os.path.exists(final)  # nothing published while suspended
            assert temporaries(out_dir)       # the parts are kept
            kw = {"resume": journal}


@pytest.mark.parametrize("compress", ["none", "zstd"])
def test_report_resumed_until_done_has_the_uninterrupted_rows(tree, tmp_path, compress):
    want_path, want_errors = pwalk.report(tree, str(tmp_path / "ref.csv"), compress=compress)
    want = rows_of(want_path)
    out = tmp_path / "out"
    out.mkdir()
    journal = str(tmp_path / "scan.ckp")

    def call(**kw):
        return pwalk.report(tree, str(out / "r.csv"), compress=compress, time_limit="1ms",
                            checkpoint_every="1ms", **kw)
    (path, errors), suspended = resume_until_done(call, journal, str(out),
                                                  str(out / "r.csv") + (
                                                      ".zst" if compress == "zstd" else ""))
    assert suspended >= 1
    assert rows_of(path) == want  # no row twice, none lost
    assert errors == want_errors
    assert not os.path.exists(journal)  # removed once published
    assert temporaries(out) == []


def test_run_with_the_journal_in_the_pipeline(tree, tmp_path):
    journal = str(tmp_path / "p.ckp")
    out = str(tmp_path / "p.csv")
    pipeline = {"version": 1, "scan": {"checkpoint": journal, "time_limit": "1ms",
                                       "checkpoint_every": "1ms"},
                "sinks": [{"name": "inv", "plugin": "csv", "options": {"path": out}}]}
    ref = pwalk.run({"version": 1, "sinks": [{"name": "inv", "plugin": "csv",
                                               "options": {"path": out + ".ref"}}]}, tree)
    resumed = None
    for suspended in range(MAX_SESSIONS):
        try:
            s = pwalk.run(pipeline, tree, resume=resumed)
            break
        except pwalk.Incomplete as e:
            # the journal the pipeline names, without checkpoint= given
            assert e.checkpoint == journal
            resumed = e.checkpoint
    else:
        pytest.fail("no end to the sessions")
    assert suspended >= 1
    assert rows_of(out) == rows_of(out + ".ref")
    assert s.sink_rows["inv"] == ref.sink_rows["inv"]
    assert s.entries == ref.entries  # the counters add up over the sessions
    assert not os.path.exists(journal)


def test_time_limit_without_a_journal_is_refused(tree, tmp_path):
    with pytest.raises(pwalk.ConfigError, match="scan.time_limit needs scan.checkpoint"):
        pwalk.report(tree, str(tmp_path / "r.csv"), time_limit="1h")
    assert os.listdir(tmp_path) == []


def test_pwalk_command_exits_75_and_resumes(tree, tmp_path):
    # the `pwalk` command: Incomplete is exit status 75 with the engine's
    # line, and `--resume FILE` with the same arguments goes on
    journal = str(tmp_path / "c.ckp")
    out = str(tmp_path / "c.csv")
    args = ["report", os.fsdecode(tree), "-o", out, "-z", "none", "--time-limit", "1ms",
            "--checkpoint-every", "1ms"]
    status = pwalk.cli.main(args + ["--checkpoint", journal])
    sessions = 1
    while status == 75:
        assert os.path.exists(journal) and not os.path.exists(out)
        assert sessions < MAX_SESSIONS, "no end to the sessions"
        status = pwalk.cli.main(args + ["--resume", journal])
        sessions += 1
    assert status == 0
    assert sessions > 1
    assert rows_of(out) == rows_of(pwalk.report(tree, str(tmp_path / "ref.csv"))[0])
    assert not os.path.exists(journal)
