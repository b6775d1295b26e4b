#!/bin/bash
# Install what pwalk needs from Debian 12's apt, only what is missing.
# Idempotent; needs root (uses sudo otherwise).  PyPI is never used.
set -euo pipefail

packages=(
    bazel-bootstrap bazel-rules-java build-essential
    libyaml-dev libzstd-dev zlib1g-dev liblz4-dev
    googletest libgtest-dev
    python3 python3-dev python3-pytest python3-venv python3-setuptools python3-wheel
    zstd lz4 pigz gzip time
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# DuckDB's client comes from npm (tests/duckdb); a machine may already have
# node and npm from elsewhere (nodesource bundles npm), so check commands
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get update -q >/dev/null; then
    echo "setup: apt-get update failed" >&2
    exit 1
fi
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "setup: apt-get install failed for: ${missing[*]}" >&2
    exit 1
fi
