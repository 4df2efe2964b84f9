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
# The submit run also reports the CPU seconds of the server and of the whole PostgreSQL cluster
# (postmaster and every backend, exited ones included) over the measured window, per 1,000
# reports accepted in that window, and checks the generator's acknowledged count against
# `SELECT count(*) FROM submissions`.
#
# Knobs: BENCH_SERVER (tally or bare), BENCH_DURATION (30s), BENCH_WARMUP (5s),
# BENCH_CONNECTIONS (64), BENCH_HEALTH (1; 0 skips the GET /health run), BENCH_REPORT (a file),
# BENCH_TALLY (another `tally` binary, e.g. an earlier commit's, to compare two builds).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scripts="$root/scripts"
tally=${BENCH_TALLY:-$root/target/release/tally}
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
health=${BENCH_HEALTH:-1}

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
start_cluster() {
    "$scripts/pg.sh" start "$work/data" "$pg_port" max_wal_size=8GB shared_buffers=512MB >&2
    bin=$("$scripts/pg.sh" bindir)
    "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres tally
    database_url="postgres://postgres@127.0.0.1:$pg_port/tally"
    postmaster_pid=$(head -1 "$work/data/postmaster.pid")
}

sql() {
    "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d tally -XtAqc "$1"
}

# Sets server_pid and the path that answers 200 once the server takes reports.
start_server() {
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
        if curl -fs "http://127.0.0.1:$http_port$ready" >/dev/null 2>&1; then return; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
        sleep 0.2
    done
    echo "the $server server did not become ready:" >&2
    tail -5 "$work/server.log" >&2
    exit 1
}

ingest_key="bench-ingest-$RANDOM$RANDOM"
admin_key="bench-admin-$RANDOM$RANDOM"
start_cluster
start_server

url="http://127.0.0.1:$http_port"
if [ "$health" = 1 ]; then
    "$load" --url "$url" --target health -c "$connections" --duration "$duration" --warmup "$warmup" >"$work/health.json"
else
    echo null >"$work/health.json"
fi
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
# Both servers start the submit run from the same state: set-up's WAL flushed to the tables.
sql CHECKPOINT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
TALLY_LOAD_INGEST_KEY="$ingest_key" TALLY_LOAD_ADMIN_KEY="$admin_key" \
    "$load" --url "$url" --target submit -c "$connections" --duration "$duration" --warmup "$warmup" \
    --cpu-pid "server=$server_pid" --cpu-pid "postgres=$postmaster_pid" >"$work/submit.json"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
peak=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
# Every 200 was answered after its commit, so the table holds them all by now.
stored_rows=$(sql "SELECT count(*) FROM submissions")

python3 - "$work/health.json" "$work/submit.json" "$rss_before" "$rss_after" "$peak" "$server" \
    "$stored_rows" "$load_before" "$load_after" <<'PY' | tee "${BENCH_REPORT:-/dev/null}"
import json, os, sys
health, submit = (json.load(open(p)) for p in sys.argv[1:3])
kib = [int(x) for x in sys.argv[3:6]]
stored = int(sys.argv[7])
# Accepted in the measured window: the 200s among the requests sent in it, the same requests
# whose CPU the window's samples cover.
accepted = submit["status_counts"].get("200", 0)
print(json.dumps({
    "server": sys.argv[6],
    "machine": {"cores": os.cpu_count(),
                "load_average_before": [float(x) for x in sys.argv[8].split()],
                "load_average_after": [float(x) for x in sys.argv[9].split()]},
    "health": health,
    "submit": submit,
    "server_rss_mib": {"before_submit": round(kib[0] / 1024, 1),
                       "after_submit": round(kib[1] / 1024, 1),
                       "peak": round(kib[2] / 1024, 1)},
    "stored_rows": stored,
    "acknowledged_equals_stored_rows": submit["acknowledged"] == stored,
    "accepted_in_window": accepted,
    "cpu_secs_per_1000_accepted": {
        label: round(secs * 1000 / accepted, 4) if accepted else None
        for label, secs in submit["cpu_secs"].items()
    },
}, indent=2))
PY
if grep -qiE '"level":"(ERROR)"|not committed' "$work/server.log"; then
    echo "server errors during the run:" >&2
    grep -iE '"level":"ERROR"|not committed' "$work/server.log" | head -5 >&2
fi
