#!/bin/bash
# Reads pwalk reports with DuckDB, the reader sites use.  DuckDB's client
# comes from npm (@duckdb/node-api; npm is reachable, PyPI is not) and is
# cached under $PWALK_NPM_CACHE (default /var/tmp/pwalk-npm).
set -euo pipefail
cache=${PWALK_NPM_CACHE:-/var/tmp/pwalk-npm}
if [[ ! -d "$cache/node_modules/@duckdb/node-api" ]]; then
    mkdir -p "$cache"
    (cd "$cache" && npm install --no-audit --no-fund @duckdb/node-api@1.5.6-r.1 >&2)
fi
here="$TEST_SRCDIR/pwalk/tests/duckdb"
export NODE_PATH="$cache/node_modules"
export PWALK_ENGINE="$TEST_SRCDIR/pwalk/pwalk-engine"
# pwalk-mpi exists when MPI is installed (BUILD: mpi_only)
if [[ -x "$TEST_SRCDIR/pwalk/pwalk-mpi" ]] && command -v mpirun >/dev/null; then
    export PWALK_MPI="$TEST_SRCDIR/pwalk/pwalk-mpi"
    export PWALK_MPI_TSAN_SUPP="$TEST_SRCDIR/pwalk/tests/mpi/tsan.supp"
fi
# ESM ignores NODE_PATH: run from a copy beside node_modules
cp "$here/duckdb_test.mjs" "$cache/duckdb_test.mjs"
exec node "$cache/duckdb_test.mjs"
