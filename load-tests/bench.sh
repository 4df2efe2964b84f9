#!/usr/bin/env bash
# `make bench`: the standard throughput scenario of issue 4 on this machine.
#
# A fresh private PostgreSQL cluster (fsync and synchronous_commit ON: acknowledged means
# durable), the release `tally` with every check on except the per-source limit (all traffic
# comes from one address), and `tally-load` with 64 connections of fresh installations.
# First the HTTP stack's ceiling (GET /health), then POST /submit. Prints one JSON report.
#
# BENCH_SERVER=bare runs the same scenario against `tally-bare` instead: the issue's bare
# pipeline (actix-web, a channel, one batching writer) on the schema `tally migrate` creates,
# without keys, validation, limits, outcomes or metrics. It is the ceiling Tally is compared to.
#
# Knobs: BENCH_SERVER (tally or bare), BENCH_DURATION (30s), BENCH_WARMUP (5s),
# BENCH_CONNECTIONS (64), BENCH_REPORT (a file).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scripts="$root/scripts"
tally="$root/target/release/tally"
load="$root/target/release/tally-load"
bare="$root/target/release/tally-bare"
server=${BENCH_SERVER:-tally}
case "$server" in
    tally | bare) ;;
    *) echo "BENCH_SERVER must be tally or bare, not $server" >&2; exit 2 ;;
esac
duration=${BENCH_DURATION:-30s}
warmup=${BENCH_WARMUP:-5s}
connections=${BENCH_CONNECTIONS:-64}

work=$(mktemp -d /tmp/tally-bench.XXXXXX)
chmod 755 "$work"
pg_port=$("$scripts/free-port.sh")
http_port=$("$scripts/free-port.sh")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true; fi
    "$scripts/pg.sh" stop "$work/data"
    rm -rf "$work"
}
trap cleanup EXIT

# Room for the run's WAL without a checkpoint in the middle; otherwise PostgreSQL's defaults.
"$scripts/pg.sh" start "$work/data" "$pg_port" max_wal_size=8GB shared_buffers=512MB >&2
bin=$("$scripts/pg.sh" bindir)
"$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres tally

ingest_key="bench-ingest-$RANDOM$RANDOM"
admin_key="bench-admin-$RANDOM$RANDOM"
database_url="postgres://postgres@127.0.0.1:$pg_port/tally"
if [ "$server" = bare ]; then
    # Tally's schema, then the bare pipeline on it (it ignores the keys tally-load sends).
    RUST_LOG=warn "$tally" migrate --database-url "$database_url" >&2
    "$bare" --bind "127.0.0.1:$http_port" --database-url "$database_url" 2>"$work/server.log" &
    ready=/health
else
    DATABASE_URL="$database_url" \
    TALLY_BIND="127.0.0.1:$http_port" \
    TALLY_INGEST_KEYS="$ingest_key" \
    TALLY_ADMIN_KEYS="$admin_key" \
    TALLY_IP_RATE_PER_MINUTE=0 \
    RUST_LOG=warn \
        "$tally" serve 2>"$work/server.log" &
    ready=/ready
fi
server_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$http_port$ready" >/dev/null 2>&1 && break
    sleep 0.2
done

url="http://127.0.0.1:$http_port"
"$load" --url "$url" --target health -c "$connections" --duration "$duration" --warmup "$warmup" >"$work/health.json"
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
TALLY_LOAD_INGEST_KEY="$ingest_key" TALLY_LOAD_ADMIN_KEY="$admin_key" \
    "$load" --url "$url" --target submit -c "$connections" --duration "$duration" --warmup "$warmup" >"$work/submit.json"
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
peak=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")

python3 - "$work/health.json" "$work/submit.json" "$rss_before" "$rss_after" "$peak" "$server" <<'PY' | tee "${BENCH_REPORT:-/dev/null}"
import json, sys
health, submit = (json.load(open(p)) for p in sys.argv[1:3])
kib = [int(x) for x in sys.argv[3:6]]
print(json.dumps({
    "server": sys.argv[6],
    "machine": {"cores": __import__("os").cpu_count()},
    "health": health,
    "submit": submit,
    "server_rss_mib": {"after_health": round(kib[0] / 1024, 1),
                        "after_submit": round(kib[1] / 1024, 1),
                        "peak": round(kib[2] / 1024, 1)},
}, indent=2))
PY
if grep -qiE '"level":"(ERROR)"|not committed' "$work/server.log"; then
    echo "server errors during the run:" >&2
    grep -iE '"level":"ERROR"|not committed' "$work/server.log" | head -5 >&2
fi
