#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster: TALLY_TEST_DATABASE_URL points at it,
# TALLY_TEST_PG_BIN at its binaries. The cluster is stopped and removed whatever happens.
# Tests create a schema each inside it, so they run in parallel.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/tally-test-pg.XXXXXX)
chmod 755 "$dir"
port=$("$here/free-port.sh")
cleanup() {
    "$here/pg.sh" stop "$dir/data"
    rm -rf "$dir"
}
trap cleanup EXIT
# fsync off: test data is thrown away; commits still go through the whole WAL path.
"$here/pg.sh" start "$dir/data" "$port" fsync=off full_page_writes=off
export TALLY_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
export TALLY_TEST_PG_BIN
TALLY_TEST_PG_BIN=$("$here/pg.sh" bindir)
"$@"
