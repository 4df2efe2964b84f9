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
# reports accepted in that window, and checks the generator's acknowledged count against the
# reports stored (`activity`'s rows with a `report_id`; tally-bare's `bare_reports`).
#
# BENCH_SCENARIO picks what is sent (issue 23); every scenario's events are counted in the
# database afterwards and compared with what was acknowledged:
#   submit          new installations' reports (today's worst case: every report a new row)
#   submit-known    a realistic week: KNOWN_POOL (100000) installations report once first (not
#                   measured), then their next week is measured with 10% new installations
#   capture         posthog-python batches of 1 to 100 events to /batch/ from 10,000
#                   installations, BENCH_GZIP_PERCENT (50) of them gzip
#   events          Stories batches of 10 to 50 events from 10,000 installations, 5% resent
#   telemetry       IndexPilot daily reports of new installations
#   capture-spread  franklinwh's single captures at /capture/, each from a new installation
#   hot             the same from 1,000 installations sending 100 each, in rounds (100,000
#                   requests; the run ends when they are in)
# Tally's per-installation limits are lifted (TALLY_RATE_LIMIT_PER_HOUR and
# TALLY_EVENT_RATE_LIMIT_PER_HOUR=1000000, still checked) for the event scenarios: a pool
# installation sends far more than the defaults allow in the run.
# BENCH_WAITS=1 samples pg_stat_activity's wait events (and ungranted pg_locks) every 0.2 s
# during the measured run into the report.
# BENCH_STATEMENTS=1 loads pg_stat_statements and prints, on stderr after the run, the
# statements that took most of PostgreSQL's time (warm-up and set-up included): calls, mean
# and total time, and each one's share.
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
scenario=${BENCH_SCENARIO:-submit}
gzip_percent=${BENCH_GZIP_PERCENT:-50}
known_pool=${KNOWN_POOL:-100000}
waits=${BENCH_WAITS:-0}
statements=${BENCH_STATEMENTS:-0}
case "$scenario" in
    submit | submit-known | capture | events | telemetry | capture-spread | hot) ;;
    *) echo "BENCH_SCENARIO must be submit, submit-known, capture, events, telemetry," \
            "capture-spread or hot, not $scenario" >&2; exit 2 ;;
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
    local preload=()
    [ "$statements" = 1 ] && preload=(shared_preload_libraries=pg_stat_statements)
    "$scripts/pg.sh" start "$work/data" "$pg_port" max_wal_size=8GB shared_buffers=512MB "${preload[@]}" >&2
    bin=$("$scripts/pg.sh" bindir)
    "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres tally
    if [ "$statements" = 1 ]; then sql "CREATE EXTENSION pg_stat_statements"; fi
    database_url="postgres://postgres@127.0.0.1:$pg_port/tally"
    postmaster_pid=$(head -1 "$work/data/postmaster.pid")
}

sql() {
    "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d tally -XtAqc "$1"
}

# Sets server_pid and the path that answers 200 once the server takes reports.
start_server() {
    if [ "$server" = bare ]; then
        # Tally's schema, then the bare pipeline on it (it ignores the keys tally-load sends and
        # makes its own tables).
        RUST_LOG=warn "$tally" migrate --database-url "$database_url" >&2
        "$bare" --bind "127.0.0.1:$http_port" --database-url "$database_url" 2>"$work/server.log" &
        ready=/health
    else
        DATABASE_URL="$database_url" \
        TALLY_BIND="127.0.0.1:$http_port" \
        TALLY_INGEST_KEYS="$ingest_key,franklinwh:$capture_key,indexpilot:$telemetry_key" \
        TALLY_ADMIN_KEYS="$admin_key" \
        TALLY_IP_RATE_PER_MINUTE=0 \
        TALLY_RATE_LIMIT_PER_HOUR=$rate_limit \
        TALLY_EVENT_RATE_LIMIT_PER_HOUR=$rate_limit \
        RUST_LOG=warn \
            "$tally" serve 2>"$work/server.log" &
        ready=/ready
    fi
    server_pid=$!
    # Up to a minute: migrations on a machine other builds keep busy can take a while.
    for _ in $(seq 300); do
        if curl -fs "http://127.0.0.1:$http_port$ready" >/dev/null 2>&1; then return; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
        sleep 0.2
    done
    echo "the $server server did not become ready:" >&2
    tail -5 "$work/server.log" >&2
    exit 1
}

ingest_key="bench-ingest-$RANDOM$RANDOM"
capture_key="phc_bench$RANDOM$RANDOM"
telemetry_key="bench-indexpilot-$RANDOM$RANDOM"
admin_key="bench-admin-$RANDOM$RANDOM"

# The generator's flags, the key it sends, and the SQL counting what was stored (for Tally and
# for tally-bare, whose event routes keep one row per request in `bare_requests`).
rate_limit=1000000
key=$ingest_key
bare_events="SELECT coalesce(sum(events), 0) FROM bare_requests"
# `activity_rows` (V15) holds the appended rows the fold has not reached yet; a reference build
# from before it (REFERENCE_TALLY) has `activity` alone.
tally_events="SELECT coalesce(sum(value::numeric), 0) FROM \$rows, jsonb_each(counts)
              WHERE key LIKE 'event/%'"
case "$scenario" in
    submit | submit-known)
        rate_limit=10
        args=(--target submit)
        [ "$scenario" = submit-known ] &&
            args+=(--installations known --pool "$known_pool" --new-percent 10)
        bare_events="SELECT count(*) FROM bare_reports"
        tally_events="SELECT count(*) FROM \$reports" ;;
    capture)
        key=$capture_key
        args=(--target capture --installations pool --pool 10000 --gzip-percent "$gzip_percent") ;;
    events)
        args=(--target events --installations pool --pool 10000 --resend-percent 5) ;;
    telemetry)
        key=$telemetry_key
        args=(--target telemetry)
        tally_events="SELECT count(*) FROM \$rows" ;;
    capture-spread)
        key=$capture_key
        args=(--target capture-single) ;;
    hot)
        key=$capture_key
        args=(--target capture-single --installations hot --pool 1000 --hot-requests 100) ;;
esac
stored_sql=$tally_events
[ "$server" = bare ] && stored_sql=$bare_events
start_cluster
start_server

url="http://127.0.0.1:$http_port"
if [ "$health" = 1 ]; then
    "$load" --url "$url" --target health -c "$connections" --duration "$duration" --warmup "$warmup" >"$work/health.json"
else
    echo null >"$work/health.json"
fi
if [ "$scenario" = submit-known ]; then
    # The known installations' previous week, not measured: the server has seen them before.
    TALLY_LOAD_INGEST_KEY="$key" "$load" --url "$url" --target submit --installations known-seed \
        --pool "$known_pool" -c "$connections" --warmup 0s --duration 30m >"$work/seed.json"
else
    echo null >"$work/seed.json"
fi
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
# Both servers start the submit run from the same state: set-up's WAL flushed to the tables.
sql CHECKPOINT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
TALLY_LOAD_INGEST_KEY="$key" TALLY_LOAD_ADMIN_KEY="$admin_key" \
    "$load" --url "$url" "${args[@]}" -c "$connections" --duration "$duration" --warmup "$warmup" \
    --cpu-pid "server=$server_pid" --cpu-pid "postgres=$postmaster_pid" >"$work/submit.json" &
load_pid=$!
: >"$work/waits.txt"
if [ "$waits" = 1 ]; then
    # Every 0.2 s while the generator runs: each active backend's wait (CPU when running), and
    # the lock requests not granted at that instant.
    while kill -0 "$load_pid" 2>/dev/null; do
        sql "SELECT coalesce(string_agg(coalesce(wait_event_type || ':' || wait_event, 'CPU'), ' '), '')
                 || ' locks_waiting:' || (SELECT count(*) FROM pg_locks WHERE NOT granted)
             FROM pg_stat_activity
             WHERE backend_type = 'client backend' AND state = 'active'
               AND pid <> pg_backend_pid()" >>"$work/waits.txt" || true
        sleep 0.2
    done
fi
wait "$load_pid"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
peak=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
# Every 200 was answered after its commit, so the tables hold them all by now.
# A run that logged warnings (a failed rollup, a writer retry) says so: its figures may not be
# the code's.
if grep -qE 'WARN|ERROR' "$work/server.log"; then
    echo "the $server server logged warnings or errors during the run (the first 5):" >&2
    grep -E 'WARN|ERROR' "$work/server.log" | head -5 >&2
fi
if [ "$statements" = 1 ]; then
    sql "SELECT rpad(calls::text, 10) || rpad(round((mean_exec_time * 1000)::numeric, 1)::text || ' µs', 12)
                || rpad(round((total_exec_time / 1000)::numeric, 1)::text || ' s', 10)
                || rpad(round((100 * total_exec_time / sum(total_exec_time) OVER ())::numeric, 1)::text || '%', 7)
                || left(regexp_replace(query, '\s+', ' ', 'g'), 90)
         FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 10" >&2
fi
rows=$(sql "SELECT coalesce(to_regclass('activity_rows')::text, 'activity')")
# A reference build from before V16 keeps its reports in `submissions`.
reports=$(sql "SELECT coalesce(to_regclass('submissions')::text, 'activity WHERE report_id IS NOT NULL')")
stored_sql=${stored_sql//\$rows/$rows}
stored_rows=$(sql "${stored_sql//\$reports/$reports}")

python3 - "$work/health.json" "$work/submit.json" "$rss_before" "$rss_after" "$peak" "$server" \
    "$stored_rows" "$load_before" "$load_after" "$scenario" "$work/seed.json" "$work/waits.txt" \
    <<'PY' | tee "${BENCH_REPORT:-/dev/null}"
import collections, json, os, sys
health, submit, seed = (json.load(open(p)) for p in (sys.argv[1], sys.argv[2], sys.argv[11]))
kib = [int(x) for x in sys.argv[3:6]]
stored = int(float(sys.argv[7]))
server, scenario = sys.argv[6], sys.argv[10]
# What the server must hold: every acknowledged event. Both keep one row per report (a report
# counts as one event); Tally counts a resent batch once, the bare pipeline keeps a row per
# request.
keeps_each_request = server == "bare" and not scenario.startswith("submit")
expected = submit["acknowledged_events" if keeps_each_request else "distinct_acknowledged_events"]
if seed:
    expected += seed["distinct_acknowledged_events"]
samples = [line.split() for line in open(sys.argv[12]) if line.strip()]
waits = collections.Counter(w for s in samples for w in s if not w.startswith("locks_waiting:"))
locks = [int(w.split(":")[1]) for s in samples for w in s if w.startswith("locks_waiting:")]
# Accepted in the measured window: the 200s among the requests sent in it, the same requests
# whose CPU the window's samples cover.
accepted = submit["status_counts"].get("200", 0)
print(json.dumps({
    "server": server,
    "scenario": scenario,
    "machine": {"cores": os.cpu_count(),
                "load_average_before": [float(x) for x in sys.argv[8].split()],
                "load_average_after": [float(x) for x in sys.argv[9].split()]},
    "health": health,
    "submit": submit,
    "server_rss_mib": {"before_submit": round(kib[0] / 1024, 1),
                       "after_submit": round(kib[1] / 1024, 1),
                       "peak": round(kib[2] / 1024, 1)},
    "stored_events": stored,
    "expected_events": expected,
    "acknowledged_equals_stored": expected == stored,
    "wait_samples": {"samples": len(samples), "backend_states": dict(waits.most_common()),
                     "locks_waiting_max": max(locks, default=0),
                     "locks_waiting_mean": round(sum(locks) / len(locks), 2) if locks else 0},
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
