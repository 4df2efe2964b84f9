#!/usr/bin/env bash
# `make run`: serve on 127.0.0.1:8080. Without DATABASE_URL it starts (or reuses) a private
# cluster (in .tally-dev/, or under /var/tmp when the `postgres` user cannot reach this clone:
# see `scripts/pg.sh devdir`) and creates the database; dev keys are made once and printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
dev="$root/.tally-dev"
mkdir -p "$dev"
chmod 755 "$dev"

if [ ! -f "$dev/keys.env" ]; then
    # Only the keys are private: directories made later must stay open to `postgres`.
    (
        umask 077
        {
            echo "TALLY_INGEST_KEYS=ingest-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
            echo "TALLY_ADMIN_KEYS=admin-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        } >"$dev/keys.env"
    )
fi
set -a
# shellcheck disable=SC1091
. "$dev/keys.env"
set +a

started_db=no
if [ -z "${DATABASE_URL:-}" ]; then
    port=${TALLY_DEV_PG_PORT:-54329}
    bin=$("$here/pg.sh" bindir)
    pgdir=$("$here/pg.sh" devdir "$root")
    if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
        "$here/pg.sh" start "$pgdir" "$port"
        started_db=yes
    fi
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'tally'" | grep -q 1; then
        "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres tally
    fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/tally"
    echo "database: $DATABASE_URL (private cluster in $pgdir)"
fi
echo "ingest key (X-API-Key for POST /submit): $TALLY_INGEST_KEYS"
echo "admin key  (X-API-Key for /stats/*):     $TALLY_ADMIN_KEYS"
echo "keys are kept in .tally-dev/keys.env"

cleanup() {
    if [ "$started_db" = yes ]; then "$here/pg.sh" stop "$pgdir"; fi
}
trap cleanup EXIT
export TALLY_LOG_FORMAT=${TALLY_LOG_FORMAT:-pretty}
"$root/target/release/tally" serve
