"""pwalk-diff's memory bound (issue 16, "Scale"): a pair of 5M-row
synthetic reports (.csv.zst, rows in scrambled order; genreport.c) diffed
under --memory 64M with an address-space limit (ulimit -v) below what
holding either scan would need, giving byte for byte the outputs of an
unlimited run, the figures the generator says its changes make, and no
file left in --tmpdir; then a SIGTERM mid-run: exit 143, nothing
published, nothing left in --tmpdir.  About a minute on 2 cores."""

import json
import os
import resource
import shutil
import signal
import subprocess
import threading
import time

import pytest

from diffcheck import BY_USER_HEADER, DIFF, GENREPORT, diff_json, outputs_bytes, table, tmp_base

ROWS = int(os.environ.get("PWALK_DIFF_SCALE_ROWS", "5000000"))
MEMORY = 64 << 20
# the address space pwalk-diff gets: --memory 64M (peak RSS about twice
# that), thread stacks, libzstd's windows, glibc's arenas.  The paths alone
# of one scan take more (asserted below), so no scan fits in it.
AS_LIMIT = 256 << 20
TIMEOUT = 600


def limit_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


@pytest.fixture(scope="module")
def pair():
    base = os.path.join(tmp_base(), "diff-scale")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    old, new = os.path.join(base, "old.csv.zst"), os.path.join(base, "new.csv.zst")
    r = subprocess.run([GENREPORT, old, new, str(ROWS)], capture_output=True, check=True,
                       timeout=TIMEOUT)
    yield base, old, new, json.loads(r.stdout)
    shutil.rmtree(base, ignore_errors=True)


def run_watched(argv, spill, preexec_fn=None):
    """Run argv; return (exit status, stderr, peak RSS bytes, whether an
    open file of the process was in spill at some point)."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=preexec_fn)
    seen = []
    done = threading.Event()

    def watch():  # the spill runs are unlinked files: visible as open fds only
        fds = f"/proc/{p.pid}/fd"
        while not done.wait(0.05):
            try:
                for fd in os.listdir(fds):
                    if os.readlink(os.path.join(fds, fd)).startswith(spill + "/"):
                        seen.append(fd)
                        return
            except OSError:
                pass

    t = threading.Thread(target=watch)
    t.start()
    try:
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        done.set()
        t.join()
        if p.returncode is None:
            p.returncode = 0  # reaped above
    return os.waitstatus_to_exitcode(status), err, ru.ru_maxrss * 1024, bool(seen)


def test_five_million_rows_under_64m_and_an_address_space_limit(pair):
    base, old, new, want = pair
    # holding either scan would not fit: its paths alone exceed the limit
    assert want["old"]["path_bytes"] > AS_LIMIT and want["new"]["path_bytes"] > AS_LIMIT
    # ... and the limit is real: reading one decompressed scan under it fails
    hold = subprocess.run(
        f"zstd -dcq '{old}' | python3 -c 'import sys; sys.stdin.buffer.read()'", shell=True,
        capture_output=True, preexec_fn=limit_address_space, timeout=TIMEOUT)
    assert hold.returncode != 0 and b"MemoryError" in hold.stderr, hold.stderr[-300:]

    spill = os.path.join(base, "spill")
    os.makedirs(spill)
    small = os.path.join(base, "small")
    status, err, rss, spilled = run_watched(
        [DIFF, old, new, "-o", small, "-q", "--memory", "64M", "--tmpdir", spill], spill,
        preexec_fn=limit_address_space)
    assert status == 0, err.decode(errors="replace")
    assert spilled, "no sorted run was spilled under --tmpdir"
    assert os.listdir(spill) == []  # nothing left behind
    assert rss <= 2 * MEMORY + (32 << 20), f"peak RSS {rss >> 20} MiB under --memory 64M"

    big = os.path.join(base, "big")
    status, err, _, _ = run_watched([DIFF, old, new, "-o", big, "-q", "--tmpdir", spill], spill)
    assert status == 0, err.decode(errors="replace")
    assert outputs_bytes(small) == outputs_bytes(big)
    assert os.listdir(spill) == []

    j = diff_json(small)
    c = want["changes"]
    assert j["changes"] == {"added": c["added"], "removed": c["removed"],
                            "modified": c["modified"], "renamed": c["renamed"],
                            "renamed+modified": 0, "suspect": 0}
    t = want["totals"]
    assert j["totals"] == dict(t, net_bytes=t["bytes_added"] - t["bytes_removed"],
                               net_files=t["files_added"] - t["files_removed"])
    assert j["old"]["rows"] == ROWS and j["new"]["rows"] == ROWS + c["added"] - c["removed"]
    header, rows = table(small, "by_user")
    assert header == BY_USER_HEADER
    got = {r[0]: [int(x) for x in r[2:6]] for r in rows}
    assert got == {uid: [n["files_added"], n["files_removed"], n["bytes_added"],
                         n["bytes_removed"]] for uid, n in want["by_uid"].items()}
    by_gid = {r[0]: [int(x) for x in r[2:6]] for r in table(small, "by_group")[1]}
    assert by_gid == {gid: [n["files_added"], n["files_removed"], n["bytes_added"],
                            n["bytes_removed"]] for gid, n in want["by_gid"].items()}
    assert j["tables"]["changes"]["rows"] == sum(c.values())


def test_a_signal_mid_run_publishes_nothing_and_leaves_no_spill(pair):
    """SIGTERM once sorted runs are being spilled: exit 128+15, no output
    directory content, nothing under --tmpdir."""
    base, old, new, _ = pair
    spill = os.path.join(base, "spill-sig")
    os.makedirs(spill)
    out = os.path.join(base, "killed")
    p = subprocess.Popen([DIFF, old, new, "-o", out, "-q", "--memory", "16M", "--tmpdir", spill],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    fds = f"/proc/{p.pid}/fd"
    spilling = False
    while p.poll() is None and not spilling:
        try:
            spilling = any(os.readlink(os.path.join(fds, fd)).startswith(spill + "/")
                           for fd in os.listdir(fds))
        except OSError:
            pass
        time.sleep(0.02)
    assert spilling, "pwalk-diff ended before it spilled anything"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=TIMEOUT)
    assert p.returncode == 128 + signal.SIGTERM, (p.returncode, err)
    assert not os.path.exists(out) or os.listdir(out) == []
    assert os.listdir(spill) == []
