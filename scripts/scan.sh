#!/bin/bash
# Set up, build, and scan DIR (default: the current directory) with the
# example pipeline configs/audit.yaml: the report is scan.csv here.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-.}
bash "$repo/scripts/setup.sh"
(cd "$repo" && bazel build //:pwalk-engine >&2)
"$repo/bazel-bin/pwalk-engine" -c "$repo/configs/audit.yaml" "$dir" && status=0 || status=$?
if [[ -f scan.csv ]]; then
    echo "report: $(pwd)/scan.csv ($(($(wc -l < scan.csv) - 1)) rows); errors: $(pwd)/scan-errors.csv" >&2
fi
exit $status
