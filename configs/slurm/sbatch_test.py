"""configs/slurm/pwalk-resume.sbatch (issue 19) run outside SLURM with a
fake scontrol on PATH that records its calls: --checkpoint on the first
run, --resume once the journal exists, `scontrol requeue $SLURM_JOB_ID`
after exit 75 (and after a SIGKILL that left a journal, a bounded number
of times), never after 0/1/2/3 (3 with a kept journal says to resubmit),
SIGUSR1 sent to the batch shell forwarded to the engine once; with a fake
engine that records its argv and exits as told.  Then with the real pwalk-engine: a scan under --time-limit
requeued (the test plays SLURM: it reruns the script after each recorded
requeue) until it completes, its rows those of an uninterrupted scan.
"""

import collections
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def built(name):
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        p = os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "pwalk"), name)
    else:
        p = os.path.join(HERE, "..", "..", "bazel-bin", name)
    return p if os.path.exists(p) else None


SCRIPT = os.path.join(HERE, "pwalk-resume.sbatch")

FAKE_ENGINE = r"""#!/bin/bash
# records its argv (one per line) and the signals it gets, then does $FAKE_DO
printf '%s\n' "$@" > "$FAKE_DIR/argv"
trap 'echo USR1 >> "$FAKE_DIR/signals"; exit 75' USR1
trap 'echo TERM >> "$FAKE_DIR/signals"; exit 143' TERM
case $FAKE_DO in
wait) touch "$FAKE_DIR/ready"; while :; do sleep 0.05; done ;;
kill) kill -9 $$ ;;
*) exit "$FAKE_DO" ;;
esac
"""

FAKE_SCONTROL = r"""#!/bin/bash
echo "$*" >> "$FAKE_DIR/scontrol"
exit "${FAKE_SCONTROL_RC:-0}"
"""


@pytest.fixture
def fake():
    base = os.environ.get("TEST_TMPDIR") or os.path.join(os.path.expanduser("~"), ".cache")
    os.makedirs(base, exist_ok=True)
    d = tempfile.mkdtemp(prefix="pwalk-sbatch-", dir=base)
    bindir = os.path.join(d, "bin")
    os.mkdir(bindir)
    for name, text in (("fake-engine", FAKE_ENGINE), ("scontrol", FAKE_SCONTROL)):
        p = os.path.join(bindir, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, 0o755)
    yield d
    subprocess.run(["rm", "-rf", d])


def env_for(d, **kw):
    e = dict(os.environ)
    e.update({"PATH": os.path.join(d, "bin") + ":" + e.get("PATH", "/usr/bin:/bin"),
              "FAKE_DIR": d, "PWALK_ENGINE": os.path.join(d, "bin", "fake-engine"),
              "PWALK_CHECKPOINT": os.path.join(d, "scan.ckpt"), "SLURM_JOB_ID": "4242",
              "SLURM_SUBMIT_DIR": d})
    for k, v in kw.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = str(v)
    return e


def read(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return f.read().splitlines()


def sbatch(d, *args, **kw):
    r = subprocess.run(["bash", SCRIPT, "scan.yaml"] + list(args), cwd=d,
                       env=env_for(d, **kw), capture_output=True, text=True, timeout=120)
    return r


def test_sbatch_directives():
    with open(SCRIPT) as f:
        text = f.read()
    assert "#SBATCH --signal=B:USR1@120\n" in text
    assert "#SBATCH --requeue\n" in text
    assert os.access(SCRIPT, os.X_OK)
    r = subprocess.run(["bash", "-n", SCRIPT], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_first_run_checkpoints_and_requeues_when_suspended(fake):
    r = sbatch(fake, "-t", "4", "/data/x", FAKE_DO=75)
    assert r.returncode == 0, r.stderr
    j = os.path.join(fake, "scan.ckpt")
    assert read(fake, "argv") == ["-c", "scan.yaml", "--checkpoint", j, "-t", "4", "/data/x"]
    assert read(fake, "scontrol") == ["requeue 4242"], r.stderr
    assert "requeueing job 4242" in r.stderr


def test_resumes_when_the_journal_exists(fake):
    j = os.path.join(fake, "scan.ckpt")
    open(j, "w").close()
    r = sbatch(fake, "/data/x", FAKE_DO=0, PWALK_CHECKPOINT_EVERY="10m")
    assert r.returncode == 0, r.stderr
    assert read(fake, "argv") == ["-c", "scan.yaml", "--resume", j, "--checkpoint-every", "10m",
                                  "/data/x"]
    assert read(fake, "scontrol") == []
    assert "scan complete" in r.stderr


def test_journal_defaults_to_the_submit_directory(fake):
    r = sbatch(fake, "/data/x", FAKE_DO=0, PWALK_CHECKPOINT=None)
    assert r.returncode == 0, r.stderr
    assert read(fake, "argv")[2:4] == ["--checkpoint", os.path.join(fake, "pwalk-resume.ckpt")]


@pytest.mark.parametrize("status", [1, 2, 3, 130, 143])
def test_other_statuses_end_the_job_without_requeue(fake, status):
    r = sbatch(fake, "/data/x", FAKE_DO=status)
    assert r.returncode == status, r.stderr
    assert read(fake, "scontrol") == []


def test_a_failure_with_a_kept_journal_says_how_to_resume(fake):
    # exit 3 after a checkpoint (a full disk): the journal stays, the job is
    # not requeued (it would fail again), the log says to resubmit once mended
    j = os.path.join(fake, "scan.ckpt")
    open(j, "w").close()
    r = sbatch(fake, "/data/x", FAKE_DO=3)
    assert r.returncode == 3, r.stderr
    assert read(fake, "scontrol") == []
    assert "journal %s kept: not requeued; once the cause is mended, submit this script " \
        "again to resume" % j in r.stderr, r.stderr
    os.unlink(j)
    r = sbatch(fake, "/data/x", FAKE_DO=3)
    assert r.returncode == 3 and "kept" not in r.stderr, r.stderr


def test_usr1_to_the_batch_shell_reaches_the_engine_once(fake):
    p = subprocess.Popen(["bash", SCRIPT, "scan.yaml", "/data/x"], cwd=fake,
                         env=env_for(fake, FAKE_DO="wait"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 30
    while not os.path.exists(os.path.join(fake, "ready")) and time.monotonic() < end:
        time.sleep(0.01)
    assert os.path.exists(os.path.join(fake, "ready")), p.communicate()
    p.send_signal(signal.SIGUSR1)  # what --signal=B:USR1 does: the shell only
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert read(fake, "signals") == ["USR1"]
    assert read(fake, "scontrol") == ["requeue 4242"], err


def test_term_to_the_batch_shell_abandons(fake):
    p = subprocess.Popen(["bash", SCRIPT, "scan.yaml", "/data/x"], cwd=fake,
                         env=env_for(fake, FAKE_DO="wait"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 30
    while not os.path.exists(os.path.join(fake, "ready")) and time.monotonic() < end:
        time.sleep(0.01)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 143, err
    assert read(fake, "signals") == ["TERM"]
    assert read(fake, "scontrol") == []


def test_suspended_outside_slurm_or_refused_requeue_exits_75(fake):
    r = sbatch(fake, "/data/x", FAKE_DO=75, SLURM_JOB_ID=None)
    assert r.returncode == 75 and read(fake, "scontrol") == [], r.stderr
    assert "run this script again" in r.stderr
    r = sbatch(fake, "/data/x", FAKE_DO=75, FAKE_SCONTROL_RC=1)
    assert r.returncode == 75 and read(fake, "scontrol") == ["requeue 4242"], r.stderr
    assert "submit this script again" in r.stderr


def test_sigkill_requeues_only_with_a_journal_and_a_bounded_number_of_times(fake):
    r = sbatch(fake, "/data/x", FAKE_DO="kill")
    assert r.returncode == 137 and read(fake, "scontrol") == [], r.stderr
    open(os.path.join(fake, "scan.ckpt"), "w").close()
    r = sbatch(fake, "/data/x", FAKE_DO="kill", SLURM_RESTART_COUNT=1)
    assert r.returncode == 0 and read(fake, "scontrol") == ["requeue 4242"], r.stderr
    r = sbatch(fake, "/data/x", FAKE_DO="kill", SLURM_RESTART_COUNT=3)
    assert r.returncode == 137 and read(fake, "scontrol") == ["requeue 4242"], r.stderr


def test_real_engine_requeued_until_complete(fake):
    engine = built("pwalk-engine")
    if not engine:
        pytest.skip("pwalk-engine not built")
    tree = os.path.join(fake, "tree")
    for i in range(150):  # 15k entries and one directory of 5000 names
        os.makedirs(os.path.join(tree, "d%d" % (i % 10), "s%d" % i))
        for k in range(70):
            open(os.path.join(tree, "d%d" % (i % 10), "s%d" % i, "f%d" % k), "w").close()
    os.mkdir(os.path.join(tree, "big"))
    for k in range(5000):
        open(os.path.join(tree, "big", "b%d" % k), "w").close()
    for dirpath, _, _ in os.walk(tree):  # atimes settle (relatime) before any row
        pass

    def pipeline(name):
        p = os.path.join(fake, name + ".yaml")
        with open(p, "w") as f:
            f.write("version: 1\nscan: {threads: 2}\nsinks:\n"
                    "  - {name: report, plugin: csv, options: {path: %s}}\n"
                    % os.path.join(fake, name + ".csv"))
        return p

    ref = subprocess.run([engine, "-q", "-c", pipeline("ref"), tree], capture_output=True)
    assert ref.returncode == 0, ref.stderr
    cfg = pipeline("job")
    runs = []
    while len(runs) < 40:
        n = len(read(fake, "scontrol"))
        r = subprocess.run(["bash", SCRIPT, cfg, "--time-limit", "700ms", "--max-ops", "8000",
                            tree], cwd=fake, capture_output=True, text=True, timeout=300,
                           env=env_for(fake, PWALK_ENGINE=engine,
                                       SLURM_RESTART_COUNT=len(runs)))
        runs.append(r.returncode)
        if len(read(fake, "scontrol")) == n:  # not requeued: done
            break
        assert r.returncode == 0, r.stderr
    assert runs[-1] == 0 and len(runs) >= 2, (runs, r.stderr)
    assert not os.path.exists(os.path.join(fake, "scan.ckpt"))

    def rows(name):
        with open(os.path.join(fake, name + ".csv"), "rb") as f:
            return collections.Counter(f.read().split(b"\n"))

    assert rows("job") == rows("ref"), "requeued %d times" % (len(runs) - 1)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
