#!/bin/bash
# plugins/template/README.md's walkthrough, run as written: the ```sh blocks
# of its section "From copy to a working plugin" (steps 0-5) are extracted
# from the README at test time and run in order in one bash -e, so a step
# that stops working fails here.  Only the two lines saying where things are
# (PWALK=, SITE=) are replaced: PWALK is a scratch copy of the files of a
# checkout the steps use (the public header, the template, plugins/plugin.lds,
# bazel-bin/pwalk-engine), SITE a scratch directory -- as root one the
# loader accepts (root-owned, not group/other-writable up to /).
# Step 6 (Bazel) cannot run inside a Bazel test; its BUILD rule is checked
# to be the template's own rule renamed, which Bazel builds for this test.
set -euo pipefail

RUNFILES="${TEST_SRCDIR:?}/${TEST_WORKSPACE:-pwalk}"
README="$RUNFILES/plugins/template/README.md"
fail() { echo "FAIL: $*" >&2; exit 1; }

# A directory the loader accepts plugins from when we are root: every
# ancestor root-owned and not writable by group or others.
loader_safe() {
    local d
    d=$(realpath "$1")
    while :; do
        [ "$(stat -c %u "$d")" = 0 ] || return 1
        [ $(( 0$(stat -c %a "$d") & 022 )) = 0 ] || return 1
        [ "$d" = / ] && return 0
        d=$(dirname "$d")
    done
}

umask 022
base=""
if [ "$(id -u)" != 0 ] || loader_safe "${TEST_TMPDIR:?}"; then
    base=$(mktemp -d "$TEST_TMPDIR/walkthrough.XXXXXX")
else
    base=$(mktemp -d "$HOME/.pwalk-walkthrough.XXXXXX")
    trap 'rm -rf "$base"' EXIT
fi
chmod 0755 "$base"
[ "$(id -u)" != 0 ] || loader_safe "$base" || fail "no directory the loader accepts: $base"

# PWALK: what the steps read from a checkout, and nothing else.
pwalk="$base/pwalk"
mkdir -p "$pwalk/include/pwalk" "$pwalk/plugins/template" "$pwalk/bazel-bin"
cp "$RUNFILES/include/pwalk/plugin.h" "$pwalk/include/pwalk/"
cp "$RUNFILES/plugins/template/template.c" "$pwalk/plugins/template/"
cp "$RUNFILES/plugins/plugin.lds" "$pwalk/plugins/"
ln -s "$(realpath "$RUNFILES/pwalk-engine")" "$pwalk/bazel-bin/pwalk-engine"
site="$base/site"

# The section, then its ```sh blocks: steps 0-5 to run, step 6 to compare.
section=$(awk '/^## /{on = ($0 ~ /^## From copy to a working plugin/)} on' "$README")
[ -n "$section" ] || fail "README has no section '## From copy to a working plugin'"
blocks() { # $1: 1 = the blocks before "### 6.", 2 = those after
    awk -v want="$1" '
        /^### 6\./ { part = 2 }
        /^```sh$/ { inside = 1; next }
        /^```$/ { inside = 0; next }
        inside && (part ? part : 1) == want { print }' <<<"$section"
}
script=$(blocks 1)
grep -q '^PWALK=' <<<"$script" || fail "step 0 sets no PWALK="
grep -q '^SITE=' <<<"$script" || fail "step 0 sets no SITE="
script=$(sed -e "s|^PWALK=.*|PWALK='$pwalk'|" -e "s|^SITE=.*|SITE='$site'|" <<<"$script")
echo "---- the walkthrough, as run ----"
echo "$script"
echo "--------------------------------"
(cd "$base" && bash -euo pipefail -c "$script") || fail "a step of the walkthrough failed"

# What the steps promise, checked again from outside.
so="$site/quota/quota.so"
[ -f "$so" ] || fail "step 2 built no $so"
syms=$(nm -D --defined-only "$so" | awk '{print $3}')
[ "$syms" = pwalk_plugin_entry_v1 ] || fail "quota.so exports more than its entry point: $syms"
grep -q '"quota"' "$site/quota/quota.c" || fail "the rename did not name the plugin quota"
! grep -q template "$site/quota/quota.c" || fail "quota.c still says template"
[ -s "$site/quota/summary.txt" ] || fail "no summary published"
leftover=$(find "$site/quota" -name '*.pwalk-tmp-*')
[ -z "$leftover" ] || fail "temporary left behind: $leftover"

# Step 6: the README's BUILD rule is the template's rule, renamed.
rule_of() { # the cc_binary(...) block, comments and blank lines dropped
    awk '/^cc_binary\(/{on = 1} on && !/^ *#/ && NF {print} on && /^\)/{on = 0}'
}
want=$(rule_of <"$RUNFILES/plugins/template/BUILD" | sed 's/template/quota/g')
got=$(blocks 2 | awk '/<<.EOF.$/{on = 1; next} /^EOF$/{on = 0} on' | rule_of)
[ -n "$want" ] || fail "no cc_binary in plugins/template/BUILD"
[ "$got" = "$want" ] || fail "README step 6's BUILD differs from the template's rule:
--- README
$got
--- plugins/template/BUILD, renamed
$want"
grep -q '^bazel build //plugins/quota:quota.so$' <<<"$(blocks 2)" ||
    fail "step 6 does not build //plugins/quota:quota.so"
echo PASS
