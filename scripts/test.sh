#!/bin/bash
# Set up whatever is missing, build everything, run every test, and end with
# one plain line "N passed, N failed" counted from the test results
# themselves: each GoogleTest case and each pytest case is one test (pytest
# targets write JUnit XML to $XML_OUTPUT_FILE), a target that produced no
# result or failed without a failing case counts as one failure, and so does
# a failed build of the non-test targets.  Exit status: 0 only when nothing
# failed and bazel succeeded.
# Extra arguments go to `bazel test` (e.g. --config=asan).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1

if ! bash scripts/setup.sh; then
    echo "setup failed: see the message above"
    echo "0 passed, 1 failed"
    exit 1
fi

# The build event file says, for this invocation, which targets built and
# which test.xml each test run wrote: bazel-testlogs alone may hold a stale
# test.xml from an earlier run of a target that did not even build this time.
bep=$(mktemp /tmp/pwalk-bep.XXXXXX)
PWALK_COUNTS=$(mktemp /tmp/pwalk-counts.XXXXXX)
export PWALK_COUNTS
bazel test //... --keep_going --build_event_json_file="$bep" "$@"
bazel_status=$?

# Tests `bazel test //...` runs: manual ones are only run when named.
targets=$(bazel query 'tests(//...) except attr(tags, "\bmanual\b", //...)' 2>/dev/null)

python3 - "$bazel_status" "$bep" $targets -- "$@" <<'PY'
import functools, json, os, re, subprocess, sys
import urllib.parse
import xml.etree.ElementTree as ET

bazel_status, bep_path, rest = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
# TARGETS... -- BAZEL_ARGS... (the extra arguments given to `bazel test`)
sep = rest.index("--") if "--" in rest else len(rest)
targets, bazel_args = rest[:sep], rest[sep + 1:]

results = {}     # label -> {(run, shard): (attempt, event)}
completed = {}   # label -> built?
bep_ok = False
try:
    with open(bep_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            bep_ok = True
            eid = ev.get("id", {})
            if "testResult" in eid and "testResult" in ev:
                i = eid["testResult"]
                key = (i.get("run", 1), i.get("shard", 1))
                att = i.get("attempt", 1)
                runs = results.setdefault(i["label"], {})
                if key not in runs or runs[key][0] < att:  # last attempt counts
                    runs[key] = (att, ev["testResult"])
            elif "targetCompleted" in eid:
                ok = bool(ev.get("completed", {}).get("success", False))
                completed[eid["targetCompleted"]["label"]] = ok
except OSError:
    pass


def count_xml(path):
    """(passed, failed, skipped) from a JUnit XML file, or None if unreadable."""
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return None
    try:
        cases = [(c.find("failure") is not None or c.find("error") is not None,
                  c.find("skipped") is not None or c.get("result") == "skipped"
                  or c.get("status") == "notrun")
                 for c in ET.fromstring(text).iter("testcase")]
    except ET.ParseError:
        # cut short (the process died mid-write): count what is there,
        # the target's status makes it a failure anyway
        cases = [("<failure" in c or "<error" in c, "<skipped" in c)
                 for c in re.findall(r"<testcase\b.*?(?:/>|</testcase>)", text, re.S)]
    bad = sum(1 for b, _ in cases if b)
    skipped = sum(1 for b, s in cases if s and not b)
    return len(cases) - bad - skipped, bad, skipped


@functools.lru_cache(maxsize=None)
def testlogs():
    """This build's test logs: `bazel info` knows, whichever build last
    re-pointed the bazel-testlogs symlink."""
    try:
        r = subprocess.run(["bazel", "info", "bazel-testlogs"] + bazel_args,
                           capture_output=True, text=True, timeout=300)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "bazel-testlogs"


def uri_path(uri):
    return urllib.parse.unquote(uri[len("file://"):]) if uri.startswith("file://") else uri


passed = failed = 0
test_labels = list(dict.fromkeys(targets + sorted(results)))
for t in test_labels:
    good = bad = skipped = 0
    notes = []
    if bep_ok:
        runs = results.get(t)
        if not runs:
            bad = 1
            notes.append("did not build" if completed.get(t) is False else "did not run")
        for (_, res) in runs.values() if runs else ():
            status = res.get("status", "NO_STATUS")
            xml = next((uri_path(o["uri"]) for o in res.get("testActionOutput", [])
                        if o.get("name") == "test.xml"), None)
            counts = count_xml(xml) if xml else None
            if counts is None:
                bad += 1
                notes.append(f"{status}, no test.xml")
                continue
            g, b, s = counts
            if status not in ("PASSED", "FLAKY") and b == 0:
                b = 1  # crashed or timed out after its cases passed
                notes.append(status)
            good, bad, skipped = good + g, bad + b, skipped + s
    else:
        # no build event file (bazel died early): fall back to the logs
        pkg, name = t.lstrip("/").split(":")
        logs = os.path.join(testlogs(), pkg, name)
        counts = count_xml(os.path.join(logs, "test.xml"))
        if counts is None:
            bad = 1
            notes.append("no test.xml")
        else:
            good, bad, skipped = counts
            try:
                log = open(os.path.join(logs, "test.log"), errors="replace").read()
            except OSError:
                log = ""
            if bad == 0 and re.search(r"^\[  FAILED  \]|^FAILED|^-- Test timed out", log, re.M):
                bad = 1
                notes.append("test.log shows a failure")
    passed += good
    failed += bad
    extra = f", {skipped} skipped" if skipped else ""
    why = f" ({'; '.join(notes)})" if notes else ""
    print(f"{'PASSED' if bad == 0 else 'FAILED'}  {t}: {good} passed, {bad} failed{extra}{why}")

broken = sorted(l for l, ok in completed.items() if not ok and l not in set(test_labels))
if broken:
    print(f"FAILED  build of non-test targets: {', '.join(broken)}")
    failed += 1
if bazel_status != 0 and failed == 0:
    print(f"FAILED  bazel test exited with status {bazel_status}")
    failed += 1
print(f"bazel test //...: {passed} passed, {failed} failed")
with open(os.environ["PWALK_COUNTS"], "w") as f:
    f.write(f"{passed} {failed}\n")
sys.exit(1 if failed or bazel_status != 0 else 0)
PY
rc=$?
rm -f "$bep"
read -r total_pass total_fail < "$PWALK_COUNTS" || { total_pass=0; total_fail=1; }
rm -f "$PWALK_COUNTS"

# Each later stage adds its own "N passed, N failed" to the totals.
stage() {  # NAME COMMAND...: add the stage's "N passed, N failed"
    local name=$1 log line p f
    shift
    log=$(mktemp /tmp/pwalk-stage.XXXXXX)
    "$@" >"$log" 2>&1
    local status=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [[ -n "$line" ]]; then
        p=${line%% passed*}
        f=${line#*, }
        f=${f%% failed}
    else  # a stage without counts is one test
        p=$((status == 0 ? 1 : 0))
        f=0
    fi
    if [[ $status -ne 0 && $f -eq 0 ]]; then
        f=1
    fi
    # the stage's summary, and the reports behind any failure
    tail -n 200 "$log"
    echo "$name: $p passed, $f failed"
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    rm -f "$log"
}

# The layering: wrong-way dependencies must not build (tools/layering/BUILD);
# analysis only, so it runs in the quick loop too.
stage "layering (wrong-way dependencies refused)" bash scripts/check_layering.sh

# The same suites under AddressSanitizer+UBSan and ThreadSanitizer, and a
# short fuzz run of every libFuzzer target over the corpus in tests/fuzz
# (PWALK_QUICK=1 skips both, for a fast local loop).
if [[ -z "${PWALK_QUICK:-}" ]]; then
    stage "sanitizers (asan, tsan)" bash scripts/sanitize.sh
    # the sanitizer builds must leave bazel-bin at the plain build (README);
    # skipped when this run itself was a sanitizer build (--config=asan)
    if [[ " $* " != *" --config=asan "* && " $* " != *" --config=tsan "* ]]; then
        stage "bazel-bin/pwalk-engine is the plain build" bash scripts/check_bazel_bin.sh
    fi
    stage "fuzzing (10 s per target)" bash scripts/fuzz.sh 10
fi
echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 && $rc -eq 0 ]]
