"""The issue's interruption test (issue 19): a 100k-entry tree (gentree's
hostile names, a 6000-name directory, hard links, symlinks, odd names, an
unreadable directory), scanned by csv + csv-zstd + summary + the error
file, interrupted at 30 random moments by SIGUSR1 (suspend, exit 75,
resume) and at 30 random moments by SIGKILL after periodic checkpoints
(--checkpoint-every 200ms, resume from the last one), several
interruptions in one scan too.  After the last resume the published
outputs must equal an uninterrupted scan's: the row multisets of csv, of
csv-zstd (decoded; and in the SIGKILL half of csv-gzip and csv-lz4) and
of the error file, the summary tables byte for byte, summary.json's
counts (the README's accounting: entries = rows + lstat records +
filtered) and the sessions it lists.

The moments come from a seeded RNG whose seed is printed (shown with a
failure); PWALK_CKPT_SEED=N reproduces it.  The scans are paced with
--max-ops (~1.7 s each) so that the moments fall across the whole walk.
"""

import os
import signal
import subprocess
import time

import pytest

import ckpt as C

ENTRIES = 100000
PACE = 60000  # metadata operations per second: ~1.7 s for the tree
# the SIGKILL half also checks the other compressed sinks' parts cut back
# and continued (gzip members and lz4 frames concatenate)
CODECS = ("  - {name: gz, plugin: csv-gzip, options: {path: '%s/g.csv'}}\n"
          "  - {name: lz, plugin: csv-lz4, options: {path: '%s/l.csv'}}")
# 30 interruptions, as scans of 1 to 5 interruptions each
PLAN = [1] * 6 + [2, 2, 3, 3, 4, 5, 5]


@pytest.fixture(scope="module")
def tree():
    reason = C.skip_reason()
    if reason:
        pytest.skip(reason)
    work = C.scratch("interrupt")
    facts = C.build(os.path.join(work, "tree"), entries=ENTRIES)
    C.warm(facts["root"])
    ref, rc = C.reference(work, facts["root"])
    # how long a paced scan takes here, with a journal but no interruption
    s = C.Setup(work, "paced", facts["root"])
    r = C.run(C.argv(s, "checkpoint", max_ops=PACE))
    assert r.rc == rc, r
    C.compare(C.read_outputs(s), ref, "paced, with a journal, uninterrupted:")
    assert not os.path.lexists(s.journal)
    print("paced scan: %.2f s" % r.seconds)
    yield work, facts["root"], ref, rc, r.seconds
    C.remove(work)


def test_usr1_at_30_random_moments(tree):
    work, root, ref, rc, paced = tree
    rnd = C.rng("usr1")
    plan = PLAN[:]
    rnd.shuffle(plan)
    assert sum(plan) == 30
    landed = 0
    for i, k in enumerate(plan):
        s = C.Setup(work, "usr1-%02d" % i, root)
        t0, mode, log, sessions = time.time(), "checkpoint", [], 0
        for _ in range(k):
            delay = rnd.uniform(0, paced * 1.1 / k)
            r, sent = C.run_signalled(C.argv(s, mode, max_ops=PACE), signal.SIGUSR1, delay,
                                      wait_handler=True)
            sessions += 1
            log.append("%s %.3f s -> %s" % (mode, delay, r.rc))
            what = "scan %d (%s):" % (i, "; ".join(log))
            if r.rc != C.EXIT_SUSPENDED:
                assert r.rc == rc, "%s %r" % (what, r)  # complete before the signal
                break
            landed += 1
            assert os.path.isfile(s.journal), "%s no journal" % what
            assert s.published() == [], "%s suspended, yet published %r" % (what, s.published())
            mode = "resume"
        else:
            r = C.run(C.argv(s, "resume"))
            sessions += 1
            log.append("resume -> %s" % r.rc)
            what = "scan %d (%s):" % (i, "; ".join(log))
            assert r.rc == rc, "%s %r" % (what, r)
        print(what)
        assert not os.path.lexists(s.journal), "%s completed, journal left" % what
        assert s.temporaries() == [], "%s temporaries left: %r" % (what, s.temporaries())
        got = C.read_outputs(s)
        C.compare(got, ref, what)
        C.check_sessions(got, sessions, t0, time.time(), what)
        C.remove(s.out)
    print("SIGUSR1: %d of 30 signals suspended a scan" % landed)
    # the others came after the walk had ended; most must land
    assert landed >= 15, "only %d of 30 SIGUSR1 suspended a scan" % landed


def publishing(journal):
    """The journal is marked as publishing (its header's flags, bit 0: the
    walk was complete and the outputs were being renamed)."""
    with open(journal, "rb") as f:
        head = f.read(16)
    return len(head) == 16 and head[:8] == b"PWALKCKP" and head[12] & 1 == 1


def test_sigkill_at_30_random_moments(tree):
    work, root, ref, rc, paced = tree
    rnd = C.rng("sigkill")
    plan = PLAN[:]
    rnd.shuffle(plan)
    resumed, orphans, late = 0, 0, []
    for i, k in enumerate(plan):
        s = C.Setup(work, "kill-%02d" % i, root, extra_sink=CODECS % (
            (os.path.join(work, "kill-%02d" % i),) * 2))
        t0, mode, log, killed_once = time.time(), "checkpoint", [], False
        done = refused = False
        for _ in range(k):
            delay = rnd.uniform(0.05, paced * 1.1 / k)
            r, sent = C.run_signalled(C.argv(s, mode, every="200ms", max_ops=PACE),
                                      signal.SIGKILL, delay)
            log.append("%s %.3f s -> %s" % (mode, delay, r.rc))
            what = "scan %d (%s):" % (i, "; ".join(log))
            if not sent:
                assert r.rc == rc, "%s %r" % (what, r)
                done = True
                break
            assert r.rc == -signal.SIGKILL, "%s %r" % (what, r)
            killed_once = True
            journal, pub = os.path.isfile(s.journal), s.published()
            if journal and publishing(s.journal):
                # killed while publishing (the walk was complete): the
                # journal counts the outputs out.  All out: --resume only
                # removes it; some not: refused, exit 2, naming them (they
                # are whole temporaries only their sinks could rename)
                r = C.run(C.argv(s, "resume", every="200ms"))
                log.append("resume -> %s" % r.rc)
                what = "scan %d (%s):" % (i, "; ".join(log))
                if sorted(pub) == sorted(s.finals()):
                    assert r.rc == rc, "%s %r" % (what, r)
                    done = True
                else:
                    assert r.rc == 2 and "stopped while publishing" in r.stderr, \
                        "%s %r" % (what, r)
                    assert os.path.isfile(s.journal) and s.published() == pub, what
                    late.append("%s published only %r" % (what, pub))
                    refused = True
                break
            if journal and not pub:
                resumed += 1
                mode = "resume"
            elif not journal and sorted(pub) == sorted(s.finals()):
                # killed after the walk completed, published and removed
                # its journal: nothing left to do
                done = True
                break
            else:
                # killed before the first checkpoint: nothing to resume,
                # start again (the dead scan's parts stay behind)
                assert not journal and not pub, "%s %r %r" % (what, journal, pub)
                assert mode == "checkpoint", "%s journal gone, nothing published" % what
                orphans += len(s.temporaries())
        if refused:
            os.unlink(s.journal)
            C.remove(s.out)
            continue
        if not done:
            r = C.run(C.argv(s, mode, every="200ms"))
            log.append("%s -> %s" % (mode, r.rc))
            what = "scan %d (%s):" % (i, "; ".join(log))
            assert r.rc == rc, "%s %r" % (what, r)
        print(what)
        assert not os.path.lexists(s.journal), "%s completed, journal left" % what
        assert sorted(s.published()) == sorted(s.finals()), "%s published only %r" % (
            what, s.published())
        got = C.read_outputs(s)
        C.compare(got, ref, what)
        if killed_once and mode == "resume":
            C.check_sessions(got, None, t0, time.time(), what)
        for name, tool in (("g.csv.gz", "gzip"), ("l.csv.lz4", "lz4")):
            z = subprocess.run([tool, "-dc", os.path.join(s.out, name)], capture_output=True)
            assert z.returncode == 0, "%s %s does not decode: %r" % (what, name, z.stderr)
            d = C.multiset_diff(C.lines_of(z.stdout), ref["csv"])
            assert not d, "%s %s: %s" % (what, name, d)
        C.remove(s.out)
    print("SIGKILL: %d of 30 kills resumed from a periodic checkpoint; temporaries of scans "
          "killed before their first checkpoint: %d" % (resumed, orphans))
    assert resumed >= 12, "only %d of 30 SIGKILLs left a journal to resume" % resumed
    if late:
        print("killed between the renames of the publication (refused, rescanned): " +
              "; ".join(late))
