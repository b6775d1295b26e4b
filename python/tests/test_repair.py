"""pwalk.repair(): the repair-action plugin through the engine -- a dry run
changes nothing and predicts the real run; the real run fixes groups and
modes; a second run changes nothing; absolute and relative paths work."""

import os
import shutil
import stat
import subprocess

import pytest

import pwalk

pytestmark = [
    pytest.mark.skipif(not os.path.exists(os.path.join(pwalk.PLUGIN_DIR, "repair-action")),
                       reason="the repair-action plugin is not built"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give entries other owners"),
]

# The owner is a real account made for this module, with a private group
# named like it (the repair recognises private groups by name) whose gid is
# not the uid, as `useradd -U` gives when that number is taken; 32000 and
# 33000 name no group, so they are project groups.
USER, PRIVATE, PROJECT, OTHER = 35001, 35101, 32000, 33000
ACCOUNT = "pwtest-py"


def _sh(*cmd):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode


@pytest.fixture(scope="module", autouse=True)
def account():
    if not shutil.which("useradd") and not os.path.exists("/usr/sbin/useradd"):
        pytest.skip("needs useradd (Debian's passwd package) to make the tree's owner")
    _sh("userdel", ACCOUNT)
    _sh("groupdel", ACCOUNT)
    ok = (_sh("groupadd", "-g", str(PRIVATE), ACCOUNT) == 0 and
          _sh("useradd", "-M", "-N", "-s", "/usr/sbin/nologin", "-u", str(USER),
              "-g", str(PRIVATE), ACCOUNT) == 0)
    try:
        assert ok, "groupadd/useradd failed"
        yield ACCOUNT
    finally:
        _sh("userdel", ACCOUNT)
        _sh("groupdel", ACCOUNT)


def build(top):
    """A project tree whose owner (uid 35001) brought files with a private
    group and tight modes."""
    os.makedirs(top)
    os.chown(top, 0, PROJECT)
    os.chmod(top, 0o755)
    paths = {}

    def mk(rel, mode, kind="file", gid=PRIVATE):
        p = os.path.join(top, rel)
        if kind == "dir":
            os.mkdir(p)
        else:
            with open(p, "w") as f:
                f.write("data")
        os.chown(p, USER, gid)
        os.chmod(p, mode)
        paths[rel] = p
        return p

    mk("sub", 0o700, "dir")
    mk("sub/private.txt", 0o600)
    mk("sub/script.sh", 0o700)
    mk("sub/deeper", 0o755, "dir")
    mk("sub/deeper/notes", 0o644)
    mk("other-group.txt", 0o600, gid=OTHER)
    mk("setuid-prog", 0o4755)
    linked = mk("linked.txt", 0o600)
    os.link(linked, os.path.join(top, "sub", "second-name"))
    os.symlink("/etc/passwd", os.path.join(top, "passwd-link"))
    return paths


def snapshot(top):
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for n in [""] + dirnames + filenames:
            p = os.path.join(dirpath, n) if n else dirpath
            st = os.lstat(p)
            out[p] = (st.st_uid, st.st_gid, st.st_mode, st.st_ino)
    return out


def test_dry_run_changes_nothing_and_predicts_the_real_run(tmp_path):
    top = str(tmp_path / "proj")
    build(top)
    before = snapshot(top)
    dry = pwalk.repair(top)
    assert dry.dry_run and dry.errors == [] and dry.summary.status == 0
    assert snapshot(top) == before  # not one bit changed
    predicted = {(os.path.relpath(c.path, top), c.what, c.old, c.new) for c in dry.changes}
    assert ("sub/private.txt", "group", str(PRIVATE), str(PROJECT)) in predicted
    assert ("sub/private.txt", "mode", "0600", "0640") in predicted
    assert ("sub/script.sh", "mode", "0700", "0750") in predicted
    assert any(p == "sub" and w == "setgid" for p, w, _, _ in predicted)
    assert any(p == "." and w == "setgid" for p, w, _, _ in predicted)
    rules = {(os.path.relpath(c.path, top), c.what): c.record["rule"] for c in dry.changes}
    assert rules[("sub/private.txt", "group")] == "private-group(%s)" % ACCOUNT
    assert rules[("sub/private.txt", "mode")] == "group-read"
    assert rules[("sub/script.sh", "mode")] == "group-read+mirror_user_exec"
    assert not any(p == "other-group.txt" and w == "group" for p, w, _, _ in predicted)
    skipped = {(os.path.relpath(s.path, top), s.reason) for s in dry.skipped}
    assert ("passwd-link", "symlink") in skipped
    assert ("linked.txt", "hardlink") in skipped and ("sub/second-name", "hardlink") in skipped
    assert ("setuid-prog", "setuid-setgid") in skipped

    real = pwalk.repair(top, dry_run=False)
    assert not real.dry_run and real.errors == []
    done = {(os.path.relpath(c.path, top), c.what, c.old, c.new) for c in real.changes}
    assert done == predicted
    st = os.lstat(os.path.join(top, "sub", "private.txt"))
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (PROJECT, 0o640)
    st = os.lstat(os.path.join(top, "sub"))
    assert st.st_gid == PROJECT and st.st_mode & stat.S_ISGID and st.st_mode & 0o050 == 0o050
    assert stat.S_IMODE(os.lstat(os.path.join(top, "sub", "script.sh")).st_mode) == 0o750
    assert os.lstat(os.path.join(top, "other-group.txt")).st_gid == OTHER
    assert os.lstat(os.path.join(top, "linked.txt")).st_gid == PRIVATE  # skipped
    assert os.lstat("/etc/passwd").st_gid == 0

    again = pwalk.repair(top, dry_run=False)
    assert again.changes == []


def test_options_relative_and_bytes_paths(tmp_path, monkeypatch):
    top = str(tmp_path / "proj")
    build(top)
    monkeypatch.chdir(tmp_path)
    log = str(tmp_path / "changes.csv")
    r = pwalk.repair(b"proj", dry_run=False, change_gids=[OTHER], force_group_writable=True,
                     exclude=["*/deeper"], log=log)
    assert r.log == log and os.path.exists(log)
    with open(log) as f:
        assert f.readline().strip() == "path,what,old,new,rule"
    assert all(isinstance(c.path, bytes) for c in r.changes)
    assert os.lstat(os.path.join(top, "other-group.txt")).st_gid == PROJECT  # change_gids
    assert stat.S_IMODE(os.lstat(os.path.join(top, "sub", "private.txt")).st_mode) == 0o660
    deeper = os.lstat(os.path.join(top, "sub", "deeper"))
    assert deeper.st_gid == PRIVATE and not deeper.st_mode & stat.S_ISGID  # excluded
    assert not any(b"deeper" in c.path for c in r.changes)


def test_jsonl_log_and_unchanged_when_nothing_to_do(tmp_path):
    top = str(tmp_path / "proj")
    os.makedirs(top)
    os.chown(top, 0, PROJECT)
    os.chmod(top, 0o2775)
    log = str(tmp_path / "log.jsonl")
    r = pwalk.repair(top, dry_run=False, log=log)
    assert r.changes == [] and r.skipped == [] and r.errors == []
    assert os.path.exists(log)


def test_missing_root_changes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        pwalk.repair(str(tmp_path / "nope"), dry_run=False)
