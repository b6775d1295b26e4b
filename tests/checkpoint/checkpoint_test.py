"""Checkpoint and resume (issue 19), one behaviour per test, on a 20k-entry
tree (gentree's hostile names and a 6000-name directory, hard links,
symlinks, odd names, an unreadable directory): SIGUSR1 suspends (exit 75,
nothing under a final name, the journal and the parts kept) and the resumed
scan publishes exactly an uninterrupted scan's outputs (csv, csv-zstd, the
error file, the summary tables byte for byte, entries = rows + lstat
records + filtered) with the sessions in summary.json; several
suspensions with other thread counts; --time-limit; SIGKILL after a periodic checkpoint; journals
that are missing, truncated, corrupt, of another format, version or
pipeline, and --checkpoint onto an existing journal, each refused with one
line and exit 2 with every file left as it was; a sink whose plugin has no
checkpoint refused; SIGTERM/SIGINT abandon (parts and journal removed);
SIGUSR1 without a journal stops (128+10); entries changed between two
sessions reported as they were when read (a file changed or removed in a
directory already done keeps its first-session row; a file added to or
removed from a directory still to do shows as it is in the second); a
directory still to do that was replaced by a symlink, removed, or whose
parent became a symlink to a look-alike is reported replaced/vanished and
nothing behind the symlinks is read; a scan SIGKILLed after publishing,
just before its journal's removal (strace fault injection), leaves a
journal the next --resume must not fail on; one SIGKILLed between the
renames of its publication is published whole by the next --resume.
The scans are paced with --max-ops (pacing may change between sessions) so
that a signal lands mid-walk.  The 30+30 random interruptions of the
100k-entry tree are interrupt_test.py.
"""

import collections
import csv
import os
import shutil
import signal
import subprocess
import time

import pytest

import ckpt as C

ENTRIES = 20000
PACE = 8000  # metadata operations per second: ~2.5 s for the tree


@pytest.fixture(scope="module")
def tree():
    reason = C.skip_reason()
    if reason:
        pytest.skip(reason)
    work = C.scratch("func")
    facts = C.build(os.path.join(work, "tree"), entries=ENTRIES)
    C.warm(facts["root"])
    ref, rc = C.reference(work, facts["root"])
    assert rc == 1, "the unreadable directory makes the reference exit 1"
    assert sum(ref["errors"].values()) == 2, ref["errors"]  # header + the locked directory
    yield work, facts["root"], ref, rc
    C.remove(work)


def suspend(s, delay=0.4, mode="checkpoint", threads=None):
    """Runs a paced scan and suspends it with SIGUSR1 after delay s:
    asserts exit 75 with the journal and the parts kept and nothing
    published."""
    r, sent = C.run_signalled(C.argv(s, mode, max_ops=PACE, threads=threads), signal.SIGUSR1,
                              delay, wait_handler=True)
    assert sent, "the paced scan ended within %.1f s: %r" % (delay, r)
    assert r.rc == C.EXIT_SUSPENDED, r
    assert os.path.isfile(s.journal), "suspended (75) but no journal at %s" % s.journal
    assert s.published() == [], "suspended, yet published: %r" % s.published()
    assert s.temporaries(), "suspended: where are the parts?"
    return r


def finish(s, ref, rc, sessions, t0, what, threads=None):
    """Resumes to the end (no pacing) and checks the outputs."""
    r = C.run(C.argv(s, "resume", threads=threads))
    assert r.rc == rc, r
    assert not os.path.lexists(s.journal), "completed, journal left: %s" % s.journal
    assert s.temporaries() == [], "completed, temporaries left: %r" % s.temporaries()
    got = C.read_outputs(s)
    C.compare(got, ref, what)
    C.check_sessions(got, sessions, t0, time.time(), what)
    return got


def test_suspend_keeps_parts_and_resume_publishes_the_same(tree):
    work, root, ref, rc = tree
    s = C.Setup(work, "once", root)
    t0 = time.time()
    suspend(s)
    # the journal holds names and sizes of directories other users cannot
    # read: the owner's only
    assert os.stat(s.journal).st_mode & 0o777 == 0o600, oct(os.stat(s.journal).st_mode)
    names = [os.path.basename(p) for p in s.temporaries()]
    for final in ("scan.csv", "scan.csv.zst", "errors.csv"):
        assert any(n.startswith("." + final + C.TMP_MARK) for n in names), (final, names)
    finish(s, ref, rc, 2, t0, "suspended once:")


def test_several_suspensions_with_other_thread_counts(tree):
    work, root, ref, rc = tree
    s = C.Setup(work, "several", root)
    t0 = time.time()
    suspend(s, 0.3)
    suspend(s, 0.3, "resume", threads=1)
    suspend(s, 0.3, "resume", threads=5)
    finish(s, ref, rc, 4, t0, "suspended three times (threads 2, 1, 5, 3):", threads=3)


def test_suspend_at_once(tree):
    # the signal as soon as the handler is in place: nothing read yet, or
    # next to nothing
    work, root, ref, rc = tree
    s = C.Setup(work, "atonce", root)
    t0 = time.time()
    suspend(s, 0.0)
    suspend(s, 0.0, "resume")
    finish(s, ref, rc, 3, t0, "suspended at once, twice:")


def test_time_limit_suspends_each_session(tree):
    work, root, ref, rc = tree
    s = C.Setup(work, "limit", root)
    t0 = time.time()
    mode, rcs = "checkpoint", []
    while len(rcs) < 30:
        r = C.run(C.argv(s, mode, max_ops=PACE, time_limit="800ms"))
        rcs.append(r.rc)
        if r.rc != C.EXIT_SUSPENDED:
            break
        assert s.published() == [], s.published()
        assert os.path.isfile(s.journal)
        mode = "resume"
    assert rcs[0] == C.EXIT_SUSPENDED, "a %.1f s scan under --time-limit 800ms: %r" % (
        ENTRIES / PACE, rcs)
    assert rcs[-1] == rc, rcs
    assert not os.path.lexists(s.journal) and s.temporaries() == []
    got = C.read_outputs(s)
    C.compare(got, ref, "--time-limit 800ms:")
    C.check_sessions(got, len(rcs), t0, time.time(), "--time-limit 800ms:")


def test_sigkill_after_periodic_checkpoints(tree):
    work, root, ref, rc = tree
    s = C.Setup(work, "killed", root)
    t0 = time.time()
    p = subprocess.Popen(C.argv(s, "checkpoint", every="200ms", max_ops=PACE),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert C.wait_for(lambda: os.path.exists(s.journal), p), \
        "no journal after a checkpoint_every of 200 ms: %r" % (p.communicate(),)
    time.sleep(0.5)  # a few more checkpoints, and rows written after the last
    assert p.poll() is None, "the paced scan ended early: %r" % (p.communicate(),)
    p.kill()
    p.communicate()
    assert s.published() == [] and os.path.isfile(s.journal)
    # the parts hold rows written after the last checkpoint: the resume
    # cuts them off and reads those directories again
    finish(s, ref, rc, None, t0, "killed after periodic checkpoints:")


def test_usr1_without_a_journal_stops(tree):
    work, root, ref, rc = tree
    s = C.Setup(work, "nojournal", root)
    r, sent = C.run_signalled(C.argv(s, None, max_ops=PACE), signal.SIGUSR1, 0.3,
                              wait_handler=True)
    assert sent and r.rc == 128 + signal.SIGUSR1, r
    assert s.published() == [] and s.temporaries() == [], (s.published(), s.temporaries())


def test_sigterm_and_sigint_abandon_and_remove_parts_and_journal(tree):
    work, root, ref, rc = tree
    # a fresh scan with a journal: SIGTERM once it has checkpointed
    s = C.Setup(work, "term", root)
    p = subprocess.Popen(C.argv(s, "checkpoint", every="200ms", max_ops=PACE),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert C.wait_for(lambda: os.path.exists(s.journal), p)
    time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate()
    assert p.returncode == 128 + signal.SIGTERM, err
    assert not os.path.lexists(s.journal), "abandoned, journal kept"
    assert s.temporaries() == [] and s.published() == [], (s.temporaries(), s.published())
    # a resumed scan: SIGINT
    s = C.Setup(work, "int", root)
    suspend(s)
    r, sent = C.run_signalled(C.argv(s, "resume", max_ops=PACE), signal.SIGINT, 0.3,
                              wait_handler=True)
    assert sent and r.rc == 128 + signal.SIGINT, r
    assert not os.path.lexists(s.journal), "abandoned resume, journal kept"
    assert s.temporaries() == [] and s.published() == [], (s.temporaries(), s.published())


# ---- refusals -------------------------------------------------------------------


def refused(s, args, expect, path, before):
    """args exits 2 with one line naming path and containing every
    string of expect, and nothing changed."""
    r = C.run(args)
    assert r.rc == 2, r
    lines = r.lines()
    assert len(lines) == 1, "want one line: %r" % r.stderr
    assert "'%s'" % path in lines[0], "the line should name %s: %r" % (path, lines[0])
    for e in ([expect] if isinstance(expect, str) else expect):
        assert e in lines[0], "want %r in %r" % (e, lines[0])
    after = s.snapshot()
    assert after == before, "a refused run changed files: %r" % sorted(
        p for p in set(before) | set(after) if before.get(p) != after.get(p))
    return lines[0]


def test_bad_journals_are_refused_and_leave_everything_untouched(tree):
    work, root, ref, rc = tree
    s = C.Setup(work, "bad", root, csv_opts=", buffer_kib: 4")
    t0 = time.time()
    killed_past_a_checkpoint(s)  # parts longer than the checkpoint: a cut would show
    with open(s.journal, "rb") as f:
        good = f.read()
    C.check_layout(good)
    bad = os.path.join(work, "bad-journals")  # outside what snapshot() covers
    os.mkdir(bad, 0o755)
    before = s.snapshot()

    def write(name, data):
        p = os.path.join(bad, name)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, 0o600)
        return p

    missing = os.path.join(bad, "missing.ckpt")
    refused(s, C.argv(s, missing), "No such file or directory", missing, before)
    n = len(good)
    for cut in sorted({0, 1, 7, 8, 12, 19, 20, 40, n // 3, n // 2, n - 5, n - 1}):
        p = write("cut%d.ckpt" % cut, good[:cut])
        line = refused(s, C.argv(s, p), [], p, before)
        assert "truncated (%d of %d bytes)" % (cut, n) in line or \
            "not a pwalk checkpoint journal" in line, line
    for at in sorted({24, n // 3, n // 2, n - 6, n - 1}):
        p = write("flip%d.ckpt" % at, good[:at] + bytes([good[at] ^ 0x20]) + good[at + 1:])
        line = refused(s, C.argv(s, p), "corrupt", p, before)
    p = write("format.ckpt", C.resealed(good[:8] + (2).to_bytes(4, "little") + good[12:]))
    refused(s, C.argv(s, p), "journal format 2, this pwalk reads format 1", p, before)
    version = C.engine_version()
    assert good.count(version.encode()) >= 1, "version %r not in the journal" % version
    other = ("9" * len(version)).encode()
    p = write("version.ckpt", C.resealed(good.replace(version.encode(), other, 1)))
    refused(s, C.argv(s, p), "was written by pwalk %s; this is pwalk %s" % (
        other.decode(), version), p, before)
    # other pipelines: a sink option, a root, a sink added, scan.errors
    j = s.journal
    cfg = s.write_pipeline(os.path.join(bad, "header.yaml"),
                           csv_opts=", buffer_kib: 4, header: false")
    refused(s, C.argv(s, "resume", cfg=cfg),
            ["is of another pipeline", "'sink.report.header' was not set, now 'false'"], j, before)
    cfg = s.write_pipeline(os.path.join(bad, "buffer.yaml"), csv_opts=", buffer_kib: 8")
    refused(s, C.argv(s, "resume", cfg=cfg),
            ["is of another pipeline", "'sink.report.buffer_kib' was '4', now '8'"], j, before)
    sub = os.path.join(root, "extra")
    refused(s, C.argv(s, "resume", root=sub),
            ["is of another pipeline", "'scan.roots[0]' was '%s', now '%s'" % (root, sub)], j,
            before)
    more = "  - {name: more, plugin: csv, options: {path: %s}}" % os.path.join(bad, "more.csv")
    cfg = s.write_pipeline(os.path.join(bad, "more.yaml"), csv_opts=", buffer_kib: 4",
                           extra_sink=more)
    refused(s, C.argv(s, "resume", cfg=cfg), ["is of another pipeline", "sink.more"], j, before)
    assert not os.listdir(bad) or not any(C.TMP_MARK in x for x in os.listdir(bad))
    # a fresh scan onto the journal of an unfinished one would lose it
    refused(s, C.argv(s, "checkpoint"), [], j, before)
    # the journal and its parts, untouched by all of that, still resume
    finish(s, ref, rc, None, t0, "resumed after the refusals:")


def test_a_sink_without_checkpoints_is_refused(tree):
    work, root, ref, rc = tree
    s = C.Setup(work, "nockpt", root, extra_sink=(
        "  - {name: tmpl, plugin: template, options: {path: %s}}"
        % C.T.yaml_str(os.path.join(work, "nockpt", "t.txt"))))
    r = C.run(C.argv(s, "checkpoint"))
    assert r.rc == 2, r
    assert len(r.lines()) == 1 and "'tmpl'" in r.lines()[0], r
    assert not os.path.lexists(s.journal)
    assert os.listdir(s.out) == [], os.listdir(s.out)


def rows_by_path(data):
    """{path bytes: [row fields]} of a lossless csv (header skipped); a
    path seen twice fails."""
    out = {}
    for line in data.split(b"\n")[1:]:
        if not line:
            continue
        f = next(csv.reader([line.decode("utf-8")]))
        p = C.T.unescape(f[3])
        assert p not in out, "%r has two rows" % p
        out[p] = f
    return out


def test_entries_changed_between_sessions_are_reported_as_read(tree):
    # its own small tree: this test changes it between the sessions
    work = tree[0]
    root = os.path.join(work, "changing")
    C.build(root, entries=6000, huge=0, seed=7)
    C.warm(root)
    s = C.Setup(work, "changed", root)
    r, sent = C.run_signalled(C.argv(s, "checkpoint", max_ops=3000), signal.SIGUSR1, 0.6,
                              wait_handler=True)
    assert sent and r.rc == C.EXIT_SUSPENDED, r
    part = [p for p in s.temporaries() if os.path.basename(p).startswith(".scan.csv" + C.TMP_MARK)]
    assert len(part) == 1, s.temporaries()
    with open(part[0], "rb") as f:
        done = rows_by_path(f.read())  # the rows of the directories done so far
    R = os.fsencode(root)
    dirs, files = [], []
    for dirpath, dirnames, filenames in os.walk(R):
        dirs += [os.path.join(dirpath, d) for d in dirnames]
        files += [os.path.join(dirpath, f) for f in filenames
                  if not os.path.islink(os.path.join(dirpath, f))]
    pending = [d for d in dirs if d not in done and os.access(d, os.R_OK)
               and not any(p.startswith(d + b"/") for p in done)
               and os.path.isdir(d) and not os.path.islink(d)]
    read = [f for f in files if f in done and os.lstat(f).st_nlink == 1]
    assert len(pending) >= 2 and len(read) >= 2, \
        "suspended too early or too late: %d rows done" % len(done)
    changed, gone = read[0], read[1]
    with open(changed, "ab") as f:
        f.write(b"z" * 12345)
    os.unlink(gone)
    newdir = sorted(pending)[0]
    new = newdir + b"/new-between-sessions"
    with open(new, "wb") as f:
        f.write(b"n" * 777)
    lost = [f for f in files if f.startswith(newdir + b"/") and f.count(b"/") ==
            newdir.count(b"/") + 1]
    if lost:
        os.unlink(lost[0])
    r = C.run(C.argv(s, "resume"))
    assert r.rc == 1, r
    with open(os.path.join(s.out, "scan.csv"), "rb") as f:
        final = rows_by_path(f.read())
    # read in the first session: the rows as they were then
    assert final[changed] == done[changed], (final[changed], done[changed])
    assert final[gone] == done[gone]
    # read in the second: as they are now
    assert final[new][7] == "777", final[new]
    if lost:
        assert lost[0] not in final
    for p in done:
        assert p in final, p
    C.check_accounting(C.read_outputs(s), "changed between sessions:")


def killed_past_a_checkpoint(s):
    """A paced scan with periodic checkpoints SIGKILLed 0.5 s after its
    first: with small csv buffers (csv_opts buffer_kib: 4) its parts then
    hold rows past the last checkpoint, so a resume that cuts a part back
    shows (a suspended scan's parts end at the checkpoint)."""
    p = subprocess.Popen(C.argv(s, "checkpoint", every="200ms", max_ops=PACE),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert C.wait_for(lambda: os.path.exists(s.journal), p)
    time.sleep(0.5)
    assert p.poll() is None, p.communicate()
    p.kill()
    p.communicate()


def test_missing_or_short_part_refused_and_no_other_part_cut(tree):
    # a refused resume must not have cut any part back
    work, root, ref, rc = tree
    s = C.Setup(work, "parts", root, csv_opts=", buffer_kib: 4")
    t0 = time.time()
    killed_past_a_checkpoint(s)
    parts = {os.path.basename(x).split(C.TMP_MARK)[0]: x for x in s.temporaries()
             if os.path.dirname(x) == s.out}
    assert {".scan.csv", ".scan.csv.zst", ".errors.csv"} <= set(parts), parts
    aside = os.path.join(work, "parts-aside")
    os.mkdir(aside, 0o755)
    # the zstd part missing
    zpart = parts[".scan.csv.zst"]
    os.rename(zpart, os.path.join(aside, "z"))
    before = s.snapshot()
    r = C.run(C.argv(s, "resume"))
    assert r.rc == 2, r
    assert len(r.lines()) == 1 and "cannot resume" in r.stderr and \
        os.path.basename(zpart) in r.stderr, r
    after = s.snapshot()
    # README: "refused the same way" (nothing written, parts untouched):
    # the sinks created before the one whose part is missing have not cut
    # theirs back either
    assert after == before, "a refused resume changed %r" % sorted(
        x for x in set(before) | set(after) if before.get(x) != after.get(x))
    os.rename(os.path.join(aside, "z"), zpart)
    # the csv part shorter than the checkpoint says
    cpart = parts[".scan.csv"]
    with open(cpart, "rb") as f:
        keep = f.read()
    os.truncate(cpart, 10)
    before = s.snapshot()
    r = C.run(C.argv(s, "resume"))
    assert r.rc == 2, r
    assert len(r.lines()) == 1 and "cannot resume" in r.stderr and \
        "is 10 bytes, the checkpoint has" in r.stderr, r
    after = s.snapshot()
    assert after == before, "a refused resume changed %r" % sorted(
        x for x in set(before) | set(after) if before.get(x) != after.get(x))
    with open(cpart, "r+b") as f:
        f.write(keep)
    finish(s, ref, rc, None, t0, "resumed after refused parts:")


def swap_candidates(s, root):
    """From a suspended scan's csv part: the rows done, the directories
    pending, those whose parent is done (their names are in the journal),
    c (under the parent with the fewest such) and the others (not under
    c's parent)."""
    part = [p for p in s.temporaries() if os.path.basename(p).startswith(".scan.csv" + C.TMP_MARK)]
    with open(part[0], "rb") as f:
        done = rows_by_path(f.read())
    R = os.fsencode(root)
    dirs = [os.path.join(dp, d) for dp, dn, _ in os.walk(R) for d in dn
            if not os.path.islink(os.path.join(dp, d))]
    pending = sorted(d for d in dirs if d not in done and os.access(d, os.R_OK)
                     and not any(p.startswith(d + b"/") for p in done)
                     and os.path.dirname(d) != R and b"/extra" not in d)
    under_done = [d for d in pending if os.path.dirname(d) in done]
    count = collections.Counter(os.path.dirname(d) for d in under_done)
    c = min(under_done, key=lambda d: (count[os.path.dirname(d)], d)) if under_done else b""
    others = [d for d in under_done if os.path.dirname(d) != os.path.dirname(c)]
    return done, pending, under_done, c, others


def test_pending_directories_swapped_between_sessions_are_not_followed(tree):
    # a directory still to do is reopened from the root one component at
    # a time, never through a symlink: one replaced by a symlink, one whose
    # parent (already read) was replaced by a symlink to a look-alike, and
    # one removed: none of the look-alikes' entries may appear
    work = tree[0]
    root = os.path.join(work, "swapped")
    C.build(root, entries=6000, huge=0, seed=11, per_dir=20, dir_every=4)  # 3 levels
    C.warm(root)
    canary = os.fsencode(os.path.join(work, "canary"))
    s = C.Setup(work, "swap", root)
    r, sent = C.run_signalled(C.argv(s, "checkpoint", max_ops=3000), signal.SIGUSR1, 0.6,
                              wait_handler=True)
    # where the walk stood decides whether three pending directories under
    # done ones exist yet (the walk goes depth first): if not, go on a
    # little and suspend again
    for attempt in range(6):
        assert sent and r.rc == C.EXIT_SUSPENDED, r
        done, pending, under_done, c, others = swap_candidates(s, root)
        if len(others) >= 2:
            break
        r, sent = C.run_signalled(C.argv(s, "resume", max_ops=3000), signal.SIGUSR1, 0.3,
                                  wait_handler=True)
    parent = os.path.dirname(c)
    assert len(others) >= 2, "%d rows done, %d pending, %d of them under a done " \
        "directory" % (len(done), len(pending), len(under_done))
    a, b = others[0], others[1]
    os.makedirs(canary + b"/look/" + os.path.basename(c), 0o755)
    for d in (canary, canary + b"/look", canary + b"/look/" + os.path.basename(c)):
        with open(d + b"/CANARY", "wb") as f:
            f.write(b"c")
    os.rename(parent, parent + b"-moved")
    os.symlink(canary + b"/look", parent)          # c's parent: a symlink to a look-alike
    os.rename(a, a + b"-moved")
    os.symlink(canary, a)                          # a: a symlink
    shutil.rmtree(b)                               # b: gone
    r = C.run(C.argv(s, "resume"))
    assert r.rc == 1, r
    with open(os.path.join(s.out, "scan.csv"), "rb") as f:
        final = rows_by_path(f.read())
    leaked = [p for p in final if b"CANARY" in p]
    assert not leaked, "entries read through a symlink swapped in between sessions: %r" % leaked
    assert not any(p.startswith(b + b"/") for p in final), "rows under a removed directory"
    with open(os.path.join(s.out, "errors.csv"), "rb") as f:
        errs = {C.T.unescape(rec[0]): rec for rec in
                csv.reader(f.read().decode("utf-8").splitlines()[1:])}
    for what, d in (("a symlink", a), ("removed", b), ("its parent a symlink", c)):
        assert d in errs and errs[d][4] in ("replaced", "vanished"), \
            "pending %s (%s): error record %r, row %r; errors: %r" % (
                d, what, errs.get(d), final.get(d), list(errs.values()))
    # the rows of the pending directories are the ones read in the first
    # session (their lstat): directories, not the symlink now there
    assert final[a][11].startswith("004"), final[a]
    C.check_accounting(C.read_outputs(s), "swapped between sessions:")


def test_killed_after_publishing_before_the_journal_is_removed(tree):
    # SIGKILL exactly at the journal's removal (strace's fault injection),
    # i.e. after every output was published: what is left must not be a
    # journal that the next --resume (a requeued SLURM job) fails on
    strace = shutil.which("strace")
    if not strace:
        pytest.skip("strace not installed (scripts/setup.sh installs it)")
    work, root, ref, rc = tree
    s = C.Setup(work, "afterpublish", root)
    r = C.run([strace, "-f", "-o", "/dev/null", "-P", s.journal, "-e", "trace=unlink,unlinkat",
               "-e", "inject=unlink,unlinkat:signal=KILL"] +
              C.argv(s, "checkpoint", every="100ms", max_ops=PACE))
    assert r.rc in (-signal.SIGKILL, 128 + signal.SIGKILL), r
    assert sorted(s.published()) == sorted(s.finals()), "killed at the journal's removal " \
        "before publishing everything: %r" % s.published()
    C.compare(C.read_outputs(s), ref, "killed after publishing:")
    if not os.path.exists(s.journal):
        return  # the journal went first: nothing to resume, nothing to trip on
    # marked complete before the first rename: --resume exits with the
    # scan's status and removes it
    r = C.run(C.argv(s, "resume"))
    assert r.rc == rc, r
    assert not os.path.lexists(s.journal)
    C.compare(C.read_outputs(s), ref, "resumed after being killed after publishing:")


@pytest.mark.parametrize("at", [3, 5, 7])
def test_killed_between_the_renames_of_the_publication(tree, at):
    # no periodic checkpoint (unpaced, the default 5m): the renames are the
    # first journal, written once the root is read, then at the end the
    # journal marked "publishing, 0 out", then each output followed by the
    # journal's count of outputs out.  SIGKILL at rename AT (3: before the
    # first output; 5: after one; 7: after two).  Outputs
    # left under temporary names only their sinks know cannot be published
    # by a resume: it must say so, exit 2 and change nothing -- never
    # report success with outputs missing
    strace = shutil.which("strace")
    if not strace:
        pytest.skip("strace not installed (scripts/setup.sh installs it)")
    work, root, ref, rc = tree
    s = C.Setup(work, "renames%d" % at, root)
    r = C.run([strace, "-f", "-o", "/dev/null", "-e", "trace=rename,renameat,renameat2",
               "-e", "inject=rename,renameat,renameat2:signal=KILL:when=%d" % at] +
              C.argv(s, "checkpoint"))
    assert r.rc in (-signal.SIGKILL, 128 + signal.SIGKILL), r
    out = s.published()
    assert len(out) < len(s.finals()), "every output was out before rename %d" % at
    before = s.snapshot()
    r = C.run(C.argv(s, "resume"))
    assert r.rc == 2, r
    assert "its scan completed but stopped while publishing" in r.stderr, r
    assert "not published (left as .NAME.pwalk-tmp-* temporaries)" in r.stderr, r
    assert r.stderr.count("\n") == 1, r
    assert s.snapshot() == before, "the refused resume changed files"
    assert s.published() == out


def failed_at_journal_rename(s, when):
    """Runs a paced scan whose journal rename number WHEN fails with ENOSPC
    (strace; the journal is alone in its directory's renames during the
    walk: outputs are renamed into s.out only when published).  It must
    exit 3, publish nothing, and end with the summary and one message line,
    which is returned."""
    strace = shutil.which("strace")
    if not strace:
        pytest.skip("strace not installed (scripts/setup.sh installs it)")
    r = C.run([strace, "-f", "-o", "/dev/null", "-P", s.work, "-P", s.journal,
               "-e", "trace=rename,renameat,renameat2",
               "-e", "inject=rename,renameat,renameat2:error=ENOSPC:when=%d" % when] +
              C.argv(s, "checkpoint", every="100ms", max_ops=PACE))
    assert r.rc == 3, r
    assert len(r.stderr.splitlines()) == 2, r  # the summary, then the message
    assert s.published() == [], s.published()
    return r.stderr.splitlines()[-1]


def test_a_checkpoint_that_cannot_be_written_keeps_the_previous_one(tree):
    # the second checkpoint (the first periodic one) fails, a full disk:
    # status 3, nothing published, but the first checkpoint and its parts
    # stay, the message says how to go on, and the resume from it gives the
    # exact outputs
    work, root, ref, rc = tree
    s = C.Setup(work, "diskfull", root)
    line = failed_at_journal_rename(s, 2)
    assert line.endswith(
        "No space left on device; no output published; the last checkpoint and its parts "
        "are kept: once the cause is mended, continue with --resume %s" % s.journal), line
    assert os.path.exists(s.journal), "the previous checkpoint went with the failed one"
    assert s.temporaries(), "the parts the kept checkpoint names were removed"
    r = C.run(C.argv(s, "resume", max_ops=PACE))
    assert r.rc == rc, r
    assert not os.path.lexists(s.journal)
    assert s.temporaries() == []
    got = C.read_outputs(s)
    C.compare(got, ref, "resumed from the checkpoint before the failed one:")
    C.check_accounting(got, "resumed from the checkpoint before the failed one:")


def test_a_first_checkpoint_that_cannot_be_written_abandons_the_scan(tree):
    # nothing to continue from: abandoned as without checkpoints, every
    # temporary removed, no journal
    work, root, ref, rc = tree
    s = C.Setup(work, "diskfull1", root)
    line = failed_at_journal_rename(s, 1)
    assert line.endswith("No space left on device; no output published"), line
    assert "kept" not in line and "--resume" not in line, line
    assert not os.path.lexists(s.journal)
    assert s.temporaries() == [], s.temporaries()


def test_relative_roots_resume_only_from_the_same_directory(tree):
    # the same relative PATH from another directory names another tree: the
    # journal records the working directory when a path is relative, and a
    # resume elsewhere is refused (exit 2, nothing touched) instead of
    # reading the wrong tree; from the right directory it completes
    work, root, ref, rc = tree
    s = C.Setup(work, "relative", root)
    here, rel = os.path.split(root)
    r = C.run(C.argv(s, "checkpoint", time_limit="300ms", max_ops=PACE, root=rel), cwd=here)
    assert r.rc == 75, r
    before = s.snapshot()
    elsewhere = os.path.join(work, "elsewhere")
    os.mkdir(elsewhere, 0o755)
    os.symlink(root, os.path.join(elsewhere, rel))  # a look-alike by that name
    r = C.run(C.argv(s, "resume", root=rel), cwd=elsewhere)
    assert r.rc == 2, r
    assert r.lines() == ["pwalk-engine: checkpoint '%s' is of another pipeline: "
                         "'working_directory' was '%s', now '%s'" % (s.journal, here, elsewhere)], r
    assert s.snapshot() == before
    r = C.run(C.argv(s, "resume", root=rel), cwd=here)
    assert r.rc == rc, r
    assert not os.path.lexists(s.journal) and s.temporaries() == []
    got = C.read_outputs(s)
    C.check_accounting(got, "relative root:")
    # rows name the relative root, so they are counted against the
    # reference rather than compared
    assert got["csv"] == got["zst"]
    assert sum(got["csv"].values()) == sum(ref["csv"].values())
    for t in ("users", "groups", "usage"):  # the tables without paths
        assert got["tables"][t] == ref["tables"][t], t


def test_killed_long_before_the_first_interval_resumes(tree):
    # checkpoint_every is the default 5m, the scan is SIGKILLed after 0.5 s:
    # the first checkpoint, written once the root was read, names its
    # parts, so the next session resumes and no temporary is left behind
    work, root, ref, rc = tree
    s = C.Setup(work, "early", root)
    t0 = time.time()
    p = subprocess.Popen(C.argv(s, "checkpoint", max_ops=PACE), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert C.wait_for(lambda: os.path.exists(s.journal), p), "no journal once the root is read"
    time.sleep(0.5)
    assert p.poll() is None, p.communicate()
    p.kill()
    p.communicate()
    assert s.temporaries(), "killed mid-walk, yet no part"
    finish(s, ref, rc, 2, t0, "killed before the first interval:")
