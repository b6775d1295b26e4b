"""scripts/fuzz.sh fails on a hang or an OOM and names the target and the
input (issue 13 #16: -ignore_timeouts/-ignore_ooms let them pass).

Each case runs the real script on a scratch checkout whose fuzz target is a
stand-in that hangs (or allocates 1 GiB) on one seed, with short limits
(FUZZ_TIMEOUT, FUZZ_RSS_MB), so nothing here depends on the engine."""

import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.realpath(__file__))
FUZZ_SH = os.path.realpath(os.path.join(HERE, "..", "..", "scripts", "fuzz.sh"))

# The stand-in target: one exact input hangs, another asks for 1 GiB,
# anything else returns at once.  They are recognised by a hash, not by a
# comparison, so the fuzzer cannot steer towards them in a clean run.
HANG_SEED, OOM_SEED = b"pwalk-fuzz-sh-hang", b"pwalk-fuzz-sh-oom"


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


STANDIN = r"""
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 16777619u;
    if (h == %uu)
        for (;;)
            usleep(1000);
    if (h == %uu) {
        char *volatile p = malloc(1u << 30);
        if (p) {
            memset(p, 1, 1u << 30);
            p[7] = (char)n;
        }
        free(p);
    }
    return 0;
}
""" % (fnv1a(HANG_SEED), fnv1a(OOM_SEED))

# the sources fuzz.sh compiles for the two targets used here
TARGET_SOURCES = {"config": ["engine/config.c", "common/outfile.c"],
                  "csv": ["common/csvrow.c", "common/lossless.c"]}


def clang():
    for c in ("clang-14", "clang"):
        if shutil.which(c):
            return c
    return None


@pytest.fixture
def checkout(tmp_path):
    """A scratch tree with the real scripts/fuzz.sh and stand-in targets."""
    if not os.path.isfile(FUZZ_SH):
        pytest.skip(f"no scripts/fuzz.sh at {FUZZ_SH}")
    if not clang():
        pytest.skip("clang is not installed (scripts/fuzz.sh installs it from apt)")
    if not os.path.isfile("/usr/include/yaml.h"):
        pytest.skip("libyaml-dev is not installed")
    root = tmp_path / "src"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(FUZZ_SH, root / "scripts" / "fuzz.sh")
    for target, srcs in TARGET_SOURCES.items():
        for i, src in enumerate(srcs):
            (root / src).parent.mkdir(parents=True, exist_ok=True)
            (root / src).write_text(f"int fuzz_script_test_{target}_{i};\n")
        (root / "tests" / "fuzz").mkdir(parents=True, exist_ok=True)
        (root / "tests" / "fuzz" / f"{target}_fuzz.c").write_text(STANDIN)
        (root / "tests" / "fuzz" / "corpus" / target).mkdir(parents=True)
        (root / "tests" / "fuzz" / "corpus" / target / "plain").write_bytes(b"ab")
    return root


def fuzz(root, tmp_path, *args, timeout=2, rss_mb=256):
    env = dict(os.environ, FUZZ_OUT=str(tmp_path / "out"), FUZZ_TIMEOUT=str(timeout),
               FUZZ_RSS_MB=str(rss_mb), CC_FUZZ=clang())
    return subprocess.run(["bash", str(root / "scripts" / "fuzz.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=600)


def kept(root, target):
    d = root / "tests" / "fuzz" / "regressions" / target
    return sorted(os.listdir(d)) if d.is_dir() else []


def test_a_hang_fails_the_run_and_names_target_and_input(checkout, tmp_path):
    (checkout / "tests/fuzz/corpus/config/hang").write_bytes(HANG_SEED)
    r = fuzz(checkout, tmp_path, "3", "config")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    hang_lines = [ln for ln in r.stderr.splitlines() if ln.startswith("fuzz.sh: config: HANG: input ")]
    assert hang_lines, out
    path = hang_lines[0].split("input ", 1)[1].split(" ran longer than 2 s")[0]
    assert os.path.basename(path).startswith("timeout-") and os.path.isfile(path), hang_lines
    with open(path, "rb") as f:
        assert f.read() == HANG_SEED
    assert any(ln.startswith("config") and "HANG/OOM" in ln for ln in r.stdout.splitlines()), out
    # it reproduces alone, so it is kept for //tests/fuzz:config_fuzz_replay
    assert any(k.startswith("timeout-") for k in kept(checkout, "config")), out

    # the next run replays the kept hang under the same per-input timeout
    # (without one a replay waits libFuzzer's default 1200 s) and still fails
    os.remove(checkout / "tests/fuzz/corpus/config/hang")
    r = fuzz(checkout, tmp_path, "1", "config")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "config: kept regression still fails" in r.stderr, r.stderr
    assert "timeout" in r.stderr


def test_an_oom_fails_the_run_and_names_target_and_input(checkout, tmp_path):
    (checkout / "tests/fuzz/corpus/csv/oom").write_bytes(OOM_SEED)
    r = fuzz(checkout, tmp_path, "3", "csv")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    oom_lines = [ln for ln in r.stderr.splitlines() if ln.startswith("fuzz.sh: csv: OOM: input ")]
    assert oom_lines, out
    path = oom_lines[0].split("input ", 1)[1].split(" used more than 256 MB")[0]
    assert os.path.basename(path).startswith("oom-") and os.path.isfile(path), oom_lines
    assert any(ln.startswith("csv") and "HANG/OOM" in ln for ln in r.stdout.splitlines()), out


def test_a_clean_run_passes(checkout, tmp_path):
    r = fuzz(checkout, tmp_path, "2", "csv")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok: nothing found in 2s" in r.stdout
    assert kept(checkout, "csv") == []
