#!/bin/bash
# Set up, build everything, run every test, and print one plain line
# "N passed, N failed" counted from the test results themselves (each
# GoogleTest case and each pytest case is one test; a test target that
# produced no result, or a build failure, counts as one failure).
# Extra arguments go to `bazel test` (e.g. --config=asan).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

build_failed=0
bazel build //... "$@" || build_failed=1
bazel test //... --keep_going "$@"
bazel_status=$?

targets=$(bazel query 'tests(//...)' 2>/dev/null)
python3 - "$build_failed" "$bazel_status" $targets <<'PY'
import os, re, sys
build_failed, bazel_status, targets = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
passed = failed = 0
for t in targets:
    pkg, name = t.lstrip("/").split(":")
    logs = os.path.join("bazel-testlogs", pkg, name)
    xml = os.path.join(logs, "test.xml")
    try:
        text = open(xml, encoding="utf-8", errors="replace").read()
    except OSError:
        print(f"FAILED  {t}: no test results (did not build or did not run)")
        failed += 1
        continue
    cases = re.findall(r"<testcase\b.*?(?:/>|</testcase>)", text, re.S)
    bad = sum(1 for c in cases if "<failure" in c or "<error" in c)
    good = len(cases) - bad
    # a crash after the XML was begun, or a target bazel saw fail with no
    # failing case in the XML, still counts as a failure
    log = ""
    try:
        log = open(os.path.join(logs, "test.log"), errors="replace").read()
    except OSError:
        pass
    target_failed = bool(re.search(r"^(FAIL|FAILED)\b|-- Test timed out", log, re.M)) and bad == 0 \
        and not cases
    if not cases:
        bad = 1 if target_failed or "[  PASSED  ]" not in log and "passed" not in log else 0
        good = 0 if bad else 1
    passed += good
    failed += bad
    print(f"{'ok     ' if bad == 0 else 'FAILED '} {t}: {good} passed, {bad} failed")
if build_failed:
    print("FAILED  build of //... failed")
    failed += 1
if bazel_status not in (0, 3, 4) and failed == 0:
    print(f"FAILED  bazel test exited {bazel_status}")
    failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
