#!/usr/bin/env bash
# scripts/sanitize.sh [TARGET ...] -- run the C/C++ test suites (default
# //tests/..., //plugins/... and the Python package's os.walk read-ahead test,
# //python:oswalk_readahead_test)
# under AddressSanitizer + UndefinedBehaviorSanitizer (--config=asan), then
# under ThreadSanitizer (--config=tsan); both configs are in .bazelrc.
#
# The instrumented builds use their own Bazel output base
# (PWALK_SAN_OUTPUT_BASE, default ~/.cache/bazel-san-*): they would otherwise
# evict the normal build's cache on every switch, and a separate server
# does not disturb a developer's running one.  Not below /tmp or /var/tmp:
# the tests run as root, and as root the engine refuses plugins below a
# directory others can write (README, "Plugins when running as root").
# The end-to-end and fault tests run the sanitized pwalk-engine (with
# sanitized plugins loaded into it), so a report from inside the binary
# fails the test that ran it.
#
# Tests tagged no_sanitize (they build or install their own code, e.g. the
# fuzz script's and the README's tests) are left out.  The workspace's
# bazel-bin/bazel-testlogs symlinks stay the plain build's.
#
# Prints one line per config and a final "N passed, N failed"; exits 1 when
# any test failed or did not build.
set -u -o pipefail
cd "$(dirname "$0")/.."

# One output base per checkout: runfiles in an output base point into the
# workspace that built them, so two checkouts must not share one.
OUTPUT_BASE=${PWALK_SAN_OUTPUT_BASE:-${HOME:-/root}/.cache/bazel-san-$(pwd | md5sum | cut -c1-8)}
CONFIGS=${PWALK_SAN_CONFIGS:-asan tsan}
LOGDIR=${PWALK_SAN_LOGS:-$OUTPUT_BASE-logs}
if [ $# -gt 0 ]; then targets=("$@"); else targets=(//tests/... //plugins/... //python:oswalk_readahead_test); fi
mkdir -p "$LOGDIR"

total_pass=0
total_fail=0
status=0
summary=()
for config in $CONFIGS; do
    log=$LOGDIR/$config.log
    echo "sanitize.sh: bazel test --config=$config ${targets[*]} (log: $log)" >&2
    # --keep_going: one broken target must not hide the others' results.
    # --experimental_convenience_symlinks=ignore: leave bazel-bin,
    # bazel-testlogs, ... alone -- they are the plain build's (the README's
    # bazel-bin/pwalk-engine is the scanner, not a sanitizer build); what
    # this script reads comes from `bazel info` below.
    bazel --output_base="$OUTPUT_BASE" test --config="$config" --keep_going \
        --experimental_convenience_symlinks=ignore --test_tag_filters=-no_sanitize \
        --test_output=errors --test_summary=short "${targets[@]}" >"$log" 2>&1
    rc=$?
    testlogs=$(bazel --output_base="$OUTPUT_BASE" info --config="$config" bazel-testlogs 2>/dev/null) ||
        testlogs=$OUTPUT_BASE/execroot/pwalk/bazel-out/k8-fastbuild$config/testlogs
    pass=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
    failed=$(grep -E '^//[^ ]+ +(FAILED|TIMEOUT|FLAKY|NO STATUS|INCOMPLETE|FAILED TO BUILD)' "$log" |
             awk '{print $1}' | sort -u)
    nfail=$(printf '%s' "$failed" | grep -c . || true)
    if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
        # the build itself failed before any test ran
        failed="(build failed: see $log)"
        nfail=1
    fi
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + nfail))
    if [ "$nfail" -eq 0 ]; then
        summary+=("$config: PASS ($pass tests)")
    else
        status=1
        summary+=("$config: FAIL ($pass passed, $nfail failed: $(echo $failed))")
        # the sanitizer reports, with their stacks, from the failed tests
        for t in $failed; do
            case "$t" in //*) ;; *) continue ;; esac
            pkg=${t#//}; pkg=${pkg%%:*}; name=${t##*:}
            tlog=$testlogs/$pkg/$name/test.log
            [ -f "$tlog" ] || continue
            if grep -qE 'Sanitizer|runtime error:' "$tlog"; then
                echo "---- $config $t: sanitizer report(s) ----" >&2
                grep -E -A14 'ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$tlog" |
                    head -60 >&2
            else
                # no report: an assertion, a crash or a timeout -- say which
                # case failed and how, or CI shows only the target's name
                echo "---- $config $t: no sanitizer report; the failing cases ----" >&2
                grep -E -B2 -A12 '^\[  FAILED  \]|^E  |^(FAILED|ERROR) |Failure$|Test timed out|Killed|Aborted' "$tlog" |
                    head -80 >&2
                echo "---- (last lines of $tlog) ----" >&2
                tail -n 15 "$tlog" >&2
            fi
        done
    fi
done

for line in "${summary[@]}"; do echo "$line"; done
echo "$total_pass passed, $total_fail failed"
exit $status
