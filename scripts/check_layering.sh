#!/usr/bin/env bash
# scripts/check_layering.sh -- prove that the build refuses wrong-way
# dependencies (tools/layering/BUILD): a plugin or a driver linking the
# library's internals, a plugin including a private engine header, the
# library or common/ depending on a plugin.
#
# Each wrong-way probe under tools/layering/probes (tagged manual, so
# `bazel build //...` never tries them) is built on its own and must FAIL
# with the expected reason; each side's "right" probe must build, so a
# probe cannot pass by failing for an unrelated reason.  Visibility is
# checked at analysis (--nobuild); the include probe needs its compile.
# Then the real graph: bazel query finds no dependency from common/ outside
# common/ and include/, none from the library or common/ onto a plugin, and
# none from a plugin onto //engine.
# scripts/test.sh runs this as one stage and counts each check; it prints
# "N passed, N failed" and exits 1 if anything failed.
set -u -o pipefail
cd "$(dirname "$0")/.."

P=//tools/layering/probes
passed=0
failed=0
log=$(mktemp /tmp/pwalk-layering.XXXXXX)
trap 'rm -f "$log"' EXIT

ok() { echo "PASSED  $1"; passed=$((passed + 1)); }
bad() { echo "FAILED  $1: $2"; failed=$((failed + 1)); }

# LABEL MODE PATTERN WHAT: build LABEL (MODE nobuild: analysis only) and
# expect it to fail with an error matching the extended regex PATTERN.
expect_refused() {
    local label=$1 mode=$2 pattern=$3 what=$4 args=()
    [[ $mode == nobuild ]] && args=(--nobuild)
    if bazel build "${args[@]}" "$label" >"$log" 2>&1; then
        bad "$what ($label)" "it built: the layering does not hold"
    elif grep -Eq "$pattern" "$log"; then
        ok "$what ($label)"
    else
        bad "$what ($label)" "failed, but not with /$pattern/:"
        grep -E '^ERROR' "$log" | head -n 5 | sed 's/^/    /'
    fi
}

expect_builds() {
    local label=$1 what=$2
    if bazel build --nobuild "$label" >"$log" 2>&1; then
        ok "$what ($label)"
    else
        bad "$what ($label)" "a right-way dependency is refused:"
        grep -E '^ERROR' "$log" | head -n 5 | sed 's/^/    /'
    fi
}

VIS='is not visible from target'
expect_builds "$P/library:right" "the library may use common/ and its internals"
expect_refused "$P/library:links_plugin_code" nobuild "$VIS" "the library links no plugin code"
expect_refused "$P/library:carries_a_plugin" nobuild "$VIS" "the library carries no plugin"
expect_builds "$P/driver:right" "a driver may use //engine:pwalk and the public headers"
expect_refused "$P/driver:links_engine_internal" nobuild "$VIS" \
    "a driver links no library internal"
expect_refused "$P/driver:links_pipeline" nobuild "$VIS" "a driver does not assemble the pipeline"
expect_builds "$P/plugin:right.so" "a plugin may use plugin.h and common/"
expect_refused "$P/plugin:links_engine_internal.so" nobuild "$VIS" \
    "a plugin links no library internal"
expect_refused "$P/plugin:links_libpwalk.so" nobuild "$VIS" "a plugin does not link libpwalk"
expect_refused "$P/plugin:includes_engine_header.so" build \
    'engine/walk\.h: No such file|undeclared inclusion\(s\) in rule .*includes_engine_header' \
    "a plugin cannot include a private engine header"
expect_builds "$P/common:right" "common/ may use include/ and itself"
expect_refused "$P/common:links_engine_internal" nobuild "$VIS" "common/ links nothing of the library"
expect_refused "$P/common:links_plugin_code" nobuild "$VIS" "common/ links no plugin code"

# Every probe is checked above: a new one left out would prove nothing.
listed=$(grep -oE '"\$P/[a-z]+:[A-Za-z_.]+"' "$0" | tr -d '"' | sed "s|\$P|$P|" | sort -u)
if all=$(bazel query "kind(rule, $P/...)" 2>"$log" | sort -u); then
    missing=$(comm -23 <(echo "$all") <(echo "$listed"))
    if [[ -z $missing ]]; then
        ok "every probe under tools/layering/probes is checked"
    else
        bad "every probe under tools/layering/probes is checked" "not checked: $missing"
    fi
else
    bad "every probe under tools/layering/probes is checked" "bazel query failed"
fi

# QUERY WHAT: the query must answer nothing (labels in this repository).
expect_none() {
    local query=$1 what=$2 out
    if ! out=$(bazel query "$query" 2>"$log"); then
        bad "$what" "bazel query failed: $(grep -E '^ERROR' "$log" | head -n 1)"
        return
    fi
    out=$(grep '^//' <<<"$out" | grep -v "^//tools/layering/probes")
    if [[ -z $out ]]; then
        ok "$what"
    else
        bad "$what" "$(echo "$out" | head -n 5 | tr '\n' ' ')"
    fi
}
expect_none 'deps(//common/...) except (//common/...:* + //include/...:*)' \
    "common/ depends on nothing but common/ and include/"
expect_none 'deps(//engine:all) intersect //plugins/...' "the library depends on no plugin"
expect_none 'deps(//plugins/...) intersect //engine/...' "no plugin depends on //engine"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
