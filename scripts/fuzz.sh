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
# Exit status: 0 when no target found anything, 1 when one did (its input
# is in regressions/), 2 when a target could not be built.
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
        -I"$ROOT" -I"$ROOT/include" -I"$ROOT/engine" -I"$ROOT/plugins/csv_common"
        -Wno-unused-function)

engine_all=()   # everything the exclude/cli targets link: the engine without its two mains
                # (pwalk-mpi's needs mpi.h, which clang is not pointed at)
for f in engine/*.c; do
    case "$f" in engine/main.c|engine/mpi_main.c) ;; *) engine_all+=("$f") ;; esac
done

sources_of() {
    case "$1" in
        config)  echo engine/config.c ;;
        options) echo engine/options.c engine/config.c ;;
        csv)     echo plugins/csv_common/csvrow.c ;;
        slurm)   echo engine/threads.c ;;
        remote)  echo engine/walk.c engine/queue.c engine/filter.c engine/threads.c ;;
        exclude|cli) echo "${engine_all[@]}" plugins/csv_common/csvrow.c plugins/csv_common/outfile.c ;;
        *)       return 1 ;;
    esac
}
libs_of() {
    case "$1" in
        config|options) echo -lyaml ;;
        exclude|cli) echo -lyaml -ldl -lpthread ;;
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
        if ! "$bin" -runs=1 "$f" >"$OUT/$t.replay.log" 2>&1; then
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
    #    kept in regressions/.
    crashes=$OUT/crashes/$t
    rm -rf "$crashes"
    mkdir -p "$crashes"
    log=$OUT/$t.log
    "$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        "${dict[@]}" -artifact_prefix="$crashes/" "$work" "$corpus" >"$log" 2>&1
    rc=$?
    new=0
    for f in "$crashes"/*; do
        [ -f "$f" ] || continue
        "$bin" -runs=1 "$f" >"$f.log" 2>&1 && continue   # flaky: not kept
        sig=$(signature "$f.log")
        [ -n "${known[$sig]:-}" ] && continue
        known[$sig]=1
        cp "$f" "$regress/$(basename "$f")"
        echo "fuzz.sh: $t: NEW crash kept as $regress/$(basename "$f"): $sig" >&2
        grep -E '^ +#[0-9]+ .* in ' "$f.log" | grep -v -E 'libFuzzer|fuzzer::|abort|raise|pthread_kill|__sanitizer' | head -6 >&2
        new=$((new + 1))
    done
    execs=$(grep -o -E 'exec/s:? *[0-9]+' "$log" | tail -1 | grep -o '[0-9]*$')
    if [ $new -gt 0 ]; then
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
