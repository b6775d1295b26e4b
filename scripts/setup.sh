#!/bin/bash
# Install what pwalk needs from Debian 12's apt -- only what is missing, so a
# second run is a no-op (no apt-get update, no root needed).  Everything comes
# from apt: PyPI is not reachable on the machines this runs on.  Needs root
# when something is missing (uses sudo otherwise).
set -uo pipefail

packages=(
    bazel-bootstrap bazel-rules-java build-essential
    libyaml-dev libzstd-dev zlib1g-dev liblz4-dev
    googletest libgtest-dev
    python3 python3-pytest python3-dev python3-venv python3-setuptools python3-wheel
    zstd lz4 pigz gzip
    time  # GNU time: the benchmarks read peak RSS from it
    clang  # libFuzzer targets (scripts/fuzz.sh)
    openmpi-bin libopenmpi-dev  # pwalk-mpi and its tests
    gnuplot-nox  # the benchmark's plot (tests/bench/run.py)
    ncdu  # tests/ncdu: Debian's ncdu 1.18 re-imports and re-exports the ncdu sink's file
    gdu  # tests/ncdu: another reader of ncdu exports (its totals of the ncdu sink's file)
    python3-pandas  # optional: pwalk.read_summary() gives DataFrames with it (tested both ways)
    pkg-config man-db  # tests/install: pwalk.pc, linting the man pages (man, lexgrog)
    fuse3 libfuse3-dev  # tests/slowfs: the FUSE filesystem with latency (fusermount3, libfuse3)
    node-d3  # plugins/html: d3's minified file is inlined into the html sink at build time
    chromium fonts-dejavu-core  # tests/html: headless Chromium loads the page offline (+ a font for its screenshot)
    prometheus  # tests/prometheus: `promtool check metrics` on the prometheus sink's files (only promtool is used)
    prometheus-node-exporter  # tests/prometheus: a real node_exporter's textfile collector reads the sink's files
    strace  # tests/checkpoint: a SIGKILL at one exact syscall (fault injection)
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# DuckDB's client comes from npm (tests/duckdb).  A machine may have node
# and npm from elsewhere (nodesource bundles npm), so look for the commands
# rather than the Debian packages.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
    sudo=(sudo)
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/pwalk-setup.XXXXXX)
# apt's chatter goes to a log that is shown only when apt fails, so a
# failure says why and a success stays quiet
if ! "${sudo[@]}" apt-get update -q >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "setup: 'apt-get update' failed (is a Debian mirror reachable?); full log: $log" >&2
    exit 1
fi
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "setup: 'apt-get install' failed for: ${missing[*]}; full log: $log" >&2
    exit 1
fi
rm -f "$log"
echo "setup: done" >&2
