#!/bin/bash
# Set up whatever is missing, build the engine, and scan DIR (default: the
# current directory) with the example pipeline configs/audit.yaml.  The
# report (scan.csv) and the list of what could not be read (scan-errors.csv)
# land in the current directory, as audit.yaml says.
# Exit status is the engine's: 0 complete, 1 complete but some entries could
# not be read, 2 bad usage, 3 the scan or its output failed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-.}

bash "$repo/scripts/setup.sh" || exit 1
# build output to stderr: stdout stays free for whoever pipes this script
(cd "$repo" && bazel build //:pwalk-engine >&2) || { echo "scan: build failed" >&2; exit 1; }
# ask bazel where its output is rather than trusting the bazel-bin symlink,
# which any bazel run with another --output_base in this tree re-points
bin=$(cd "$repo" && bazel info bazel-bin 2>/dev/null) || bin="$repo/bazel-bin"

"$bin/pwalk-engine" -c "$repo/configs/audit.yaml" "$dir"
status=$?
if [[ -f scan.csv ]]; then
    echo "report: $PWD/scan.csv ($(($(wc -l < scan.csv) - 1)) rows)" >&2
    if [[ -f scan-errors.csv ]]; then
        # the last column is the kind: error, or vanished/replaced (entries
        # that changed while the scan ran: not errors)
        unreadable=$(grep -c ',error$' scan-errors.csv)
        changed=$(grep -Ec ',(vanished|replaced)$' scan-errors.csv)
        if ((unreadable)); then
            echo "unreadable entries: $PWD/scan-errors.csv ($unreadable)" >&2
        fi
        if ((changed)); then
            echo "changed during the scan (not errors): $changed, in $PWD/scan-errors.csv" >&2
        fi
    fi
fi
exit $status
