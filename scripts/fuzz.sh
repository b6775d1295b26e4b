#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET ...] -- build the libFuzzer targets and run
# each for SECONDS (default 20) on its corpus in tests/fuzz/corpus/<target>/.
#
# Built outside Bazel on purpose: libFuzzer needs clang (-fsanitize=fuzzer),
# while the Bazel build uses gcc; plain clang command lines over the few
# sources each target needs keep the two apart.  Binaries and the working
# corpora go to /var/tmp/pwalk-fuzz/ (FUZZ_OUT) so a run never adds hundreds
# of generated inputs to the tree; only crashes are kept in the tree, in
# tests/fuzz/regressions/<target>/, where //tests/fuzz:* replays them with
# the normal test suite.  A fix makes the replay pass; the file stays.
#
# A hang or an OOM is a finding like a crash: an input that runs longer than
# FUZZ_TIMEOUT seconds (default 10) or makes the process use more than
# FUZZ_RSS_MB MB (default 2048) fails the run, and the script names the
# target and the input (timeout-*/oom-* under $FUZZ_OUT/crashes/<target>/;
# one that reproduces alone is kept in regressions/ like a crash).
#
# Exit status: 0 when no target found anything, 1 when one did (a crash, a
# hang or an OOM; its input is named, and kept in regressions/ when it
# reproduces), 2 when a target could not be built.
set -u -o pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-20}
shift $(( $# > 0 ? 1 : 0 ))
OUT=${FUZZ_OUT:-/var/tmp/pwalk-fuzz}
ALL_TARGETS=(config options csv slurm remote exclude cli)
[ $# -gt 0 ] && TARGETS=("$@") || TARGETS=("${ALL_TARGETS[@]}")

case "$SECONDS_PER_TARGET" in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS] [TARGET ...]" >&2; exit 2 ;;
esac
# Per input: past these it is a hang (timeout-*) or an OOM (oom-*).
TIMEOUT=${FUZZ_TIMEOUT:-10}
RSS_MB=${FUZZ_RSS_MB:-2048}
case "$TIMEOUT$RSS_MB" in
    *[!0-9]*) echo "fuzz.sh: FUZZ_TIMEOUT and FUZZ_RSS_MB must be numbers" >&2; exit 2 ;;
esac
LIMITS=(-timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB")

# clang from Debian's apt (libFuzzer ships in libclang-rt-14-dev).
CC=${CC_FUZZ:-}
if [ -z "$CC" ]; then
    for c in clang-14 clang; do command -v "$c" >/dev/null && { CC=$c; break; }; done
fi
if [ -z "$CC" ]; then
    echo "fuzz.sh: installing clang (apt)" >&2
    SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get install -y clang >/dev/null || { echo "fuzz.sh: no clang" >&2; exit 2; }
    CC=clang
fi
# libyaml headers and library are the engine's own dependency
[ -f /usr/include/yaml.h ] || { echo "fuzz.sh: libyaml-dev missing" >&2; exit 2; }

# -O1 -g: fast enough to fuzz, stacks still point at lines.
# -fno-sanitize-recover: a UB report must be a crash the fuzzer keeps.
CFLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -I"$ROOT" -I"$ROOT/include" -I"$ROOT/engine"
        -Wno-unused-function)

engine_all=(engine/*.c)  # everything the exclude/cli targets link: the library (the
                         # drivers' mains are in engine/cli and engine/mpi, below it)

sources_of() {
    case "$1" in
        config)  echo engine/config.c common/outfile.c common/lossless.c ;;
        options) echo engine/options.c engine/config.c common/outfile.c common/lossless.c ;;
        csv)     echo common/csvrow.c common/lossless.c ;;
        slurm)   echo engine/threads.c ;;
        remote)  echo engine/remote.c engine/walk.c engine/pace.c engine/queue.c engine/filter.c engine/threads.c ;;
        exclude|cli) echo "${engine_all[@]}" common/csvrow.c common/lossless.c common/outfile.c ;;
        *)       return 1 ;;
    esac
}
libs_of() {
    case "$1" in
        config|options) echo -lyaml ;;
        exclude|cli) echo -lyaml -lz -ldl -lpthread ;;
        remote) echo -lpthread ;;
    esac
}

# A crash's identity: the broken property (file:line) or the sanitizer's
# SUMMARY line (kind and location).  Same signature = same bug.
signature() {
    local sig
    sig=$(grep -o -m1 '[^ ]*_fuzz.c:[0-9]*: property broken' "$1")
    [ -n "$sig" ] || sig=$(grep -m1 '^SUMMARY:' "$1" | sed 's/ in .*//; s/(.*)//')
    [ -n "$sig" ] || sig=$(grep -m1 -E 'ERROR: [A-Za-z]+Sanitizer|ERROR: libFuzzer' "$1" | sed 's/==[0-9]*==//')
    echo "${sig:-unknown}"
}

mkdir -p "$OUT"
status=0
declare -A result
for t in "${TARGETS[@]}"; do
    srcs=$(sources_of "$t") || { echo "fuzz.sh: unknown target '$t' (known: ${ALL_TARGETS[*]})" >&2; exit 2; }
    bin=$OUT/${t}_fuzz
    # shellcheck disable=SC2046
    if ! "$CC" "${CFLAGS[@]}" "tests/fuzz/${t}_fuzz.c" $srcs $(libs_of "$t") -o "$bin" \
            2>"$OUT/$t.build.log"; then
        echo "fuzz.sh: $t: build failed:" >&2
        tail -20 "$OUT/$t.build.log" >&2
        result[$t]="BUILD FAILED"
        status=2
        continue
    fi

    corpus=tests/fuzz/corpus/$t
    regress=tests/fuzz/regressions/$t
    work=$OUT/corpus/$t
    mkdir -p "$work" "$regress"
    dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")

    # 1. Replay the kept crashes one by one: a fixed one must stay fixed; an
    #    open one is reported (the engine bug is not fixed yet) and its
    #    signature noted, so the fuzzer re-finding it adds no duplicate.
    declare -A known=()
    open_regressions=0
    for f in "$regress"/*; do
        [ -f "$f" ] || continue
        if ! "$bin" -runs=1 "${LIMITS[@]}" "$f" >"$OUT/$t.replay.log" 2>&1; then
            sig=$(signature "$OUT/$t.replay.log")
            known[$sig]=1
            echo "fuzz.sh: $t: kept regression still fails: $f: $sig" >&2
            open_regressions=$((open_regressions + 1))
        fi
    done

    # 2. Fuzz from the seeds.  The working corpus ($work) is read and
    #    extended, the kept seeds only read.  Fork mode keeps going after a
    #    crash (a known open bug must not end the run in a second); each
    #    crash input lands in $crashes, and those with a new signature are
    #    kept in regressions/.  Hangs and OOMs are never ignored (no
    #    -ignore_timeouts/-ignore_ooms): fork mode keeps fuzzing past them
    #    but leaves timeout-*/oom-* inputs, and each one fails the run.
    crashes=$OUT/crashes/$t
    rm -rf "$crashes"
    mkdir -p "$crashes"
    log=$OUT/$t.log
    "$bin" -fork=1 -ignore_crashes=1 \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 "${LIMITS[@]}" \
        "${dict[@]}" -artifact_prefix="$crashes/" "$work" "$corpus" >"$log" 2>&1
    rc=$?
    new=0
    hangs=0
    first_hang=
    for f in "$crashes"/*; do
        [ -f "$f" ] || continue
        case "$(basename "$f")" in
            timeout-*) kind=HANG; what="ran longer than ${TIMEOUT} s" ;;
            oom-*)     kind=OOM;  what="used more than ${RSS_MB} MB" ;;
            *)         kind= ;;
        esac
        if "$bin" -runs=1 "${LIMITS[@]}" "$f" >"$f.log" 2>&1; then
            # a crash that does not reproduce is flaky: not kept; a hang or
            # OOM still fails the run (it happened), named but not kept
            if [ -n "$kind" ]; then
                echo "fuzz.sh: $t: $kind: input $f $what while fuzzing (not reproduced alone)" >&2
                hangs=$((hangs + 1)); first_hang=${first_hang:-$f}
            fi
            continue
        fi
        sig=$(signature "$f.log")
        if [ -n "$kind" ]; then
            echo "fuzz.sh: $t: $kind: input $f $what ($sig)" >&2
            hangs=$((hangs + 1)); first_hang=${first_hang:-$f}
        fi
        [ -n "${known[$sig]:-}" ] && continue
        known[$sig]=1
        cp "$f" "$regress/$(basename "$f")"
        echo "fuzz.sh: $t: NEW ${kind:-crash} kept as $regress/$(basename "$f"): $sig" >&2
        grep -E '^ +#[0-9]+ .* in ' "$f.log" | grep -v -E 'libFuzzer|fuzzer::|abort|raise|pthread_kill|__sanitizer' | head -6 >&2
        new=$((new + 1))
    done
    execs=$(grep -o -E 'exec/s:? *[0-9]+' "$log" | tail -1 | grep -o '[0-9]*$')
    if [ $hangs -eq 0 ] && { [ $rc -eq 70 ] || [ $rc -eq 71 ]; }; then
        # libFuzzer's exit status for a timeout (70) or an OOM (71), but no
        # input left behind: still a hang/OOM, named by the log
        echo "fuzz.sh: $t: the fuzzer exited $rc (hang/OOM) without leaving its input: $log" >&2
        grep -m3 -E 'ERROR: libFuzzer|SUMMARY' "$log" >&2
        hangs=1; first_hang="(see $log)"
    fi
    if [ $hangs -gt 0 ]; then
        result[$t]="HANG/OOM: $hangs input(s) over ${TIMEOUT} s or ${RSS_MB} MB (first: $first_hang), $new new kept in $regress/"
        [ $status -eq 0 ] && status=1
    elif [ $new -gt 0 ]; then
        result[$t]="CRASH: $new new (kept in $regress/), $open_regressions open regression(s)"
        [ $status -eq 0 ] && status=1
    elif [ $open_regressions -gt 0 ]; then
        result[$t]="FAIL: $open_regressions kept regression(s) still fail; nothing new in ${SECONDS_PER_TARGET}s (~${execs:-?} exec/s)"
        [ $status -eq 0 ] && status=1
    elif [ $rc -ne 0 ] && ! grep -q 'INFO: fuzzed for' "$log" && ! grep -q 'Done ' "$log"; then
        result[$t]="ERROR: the fuzzer exited $rc (log $log)"
        [ $status -eq 0 ] && status=1
    else
        result[$t]="ok: nothing found in ${SECONDS_PER_TARGET}s (~${execs:-?} exec/s)"
    fi
done

for t in "${TARGETS[@]}"; do
    printf '%-8s %s\n' "$t" "${result[$t]}"
done
exit $status
