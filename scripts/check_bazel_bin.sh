#!/usr/bin/env bash
# scripts/check_bazel_bin.sh -- check that bazel-bin holds the plain build:
# the README promises that bazel-bin/pwalk-engine is the scanner, and a
# sanitizer build of it is several times slower.  scripts/test.sh runs this
# after scripts/sanitize.sh, whose builds must leave the workspace's
# convenience symlinks alone.
#
# Fails (exit 1, one line per offending file) when bazel-bin/pwalk-engine is
# missing, or when it, bazel-bin/pwalk-mpi or a plugin under
# bazel-bin/plugins/ refers to a sanitizer runtime (__asan_/__tsan_/__ubsan_
# symbols, or libasan/libtsan/libubsan among its needed libraries).
set -u -o pipefail
cd "$(dirname "$0")/.."

status=0
files=(bazel-bin/pwalk-engine)
[ -e bazel-bin/pwalk-mpi ] && files+=(bazel-bin/pwalk-mpi)
for so in bazel-bin/plugins/*/*.so; do
    [ -e "$so" ] && files+=("$so")
done
echo "check_bazel_bin.sh: bazel-bin -> $(readlink -f bazel-bin 2>/dev/null || echo '(none)')"
for f in "${files[@]}"; do
    if [ ! -f "$f" ]; then
        echo "check_bazel_bin.sh: $f: missing (the README promises the scanner there)"
        status=1
        continue
    fi
    syms=$(readelf -W --dyn-syms --syms "$f" 2>/dev/null |
           grep -oE '__(asan|tsan|ubsan)_[A-Za-z0-9_]+' | sort -u | head -3 | tr '\n' ' ')
    libs=$(readelf -d "$f" 2>/dev/null | grep -oE 'lib(asan|tsan|ubsan)\.so[.0-9]*' | sort -u | tr '\n' ' ')
    if [ -n "$syms$libs" ]; then
        echo "check_bazel_bin.sh: $f is a sanitizer build (${libs}${syms}-> $(readlink -f "$f"))"
        status=1
    fi
done
[ $status -eq 0 ] && echo "check_bazel_bin.sh: ${#files[@]} files in bazel-bin, none sanitizer-instrumented"
exit $status
