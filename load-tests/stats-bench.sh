#!/usr/bin/env bash
# Statistics benchmark: seed a year of weekly reports through the API (INSTALLATIONS x WEEKS,
# each pair once), backfill the daily tables with `tally rollup`, time one day's incremental
# roll, then time every /stats route (REQUESTS sequential GETs each, p50/p95/p99 in ms).
# A private PostgreSQL cluster with fsync ON, started and removed here. Needs release builds
# of tally and tally-load (`make bench-stats` builds them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
INSTALLATIONS=${INSTALLATIONS:-20000}
WEEKS=${WEEKS:-50}
REQUESTS=${REQUESTS:-200}
# BENCH_TALLY: another build of `tally` (an earlier commit's), to compare two builds' rollups.
tally=${BENCH_TALLY:-$root/target/release/tally}
load="$root/target/release/tally-load"

. "$here/bench-lib.sh"
bench_cluster stats-bench shared_buffers=1GB
# The server's own roller runs once at start (empty) and then not during the benchmark.
bench_serve TALLY_LOG_FORMAT=json TALLY_ROLLUP_INTERVAL_SECS=86400

echo "== seeding $INSTALLATIONS installations x $WEEKS weeks through POST /submit" >&2
seed_start=$(date +%s.%N)
TALLY_LOAD_INGEST_KEY=bench-ingest TALLY_LOAD_ADMIN_KEY=bench-admin "$load" \
    --url "http://127.0.0.1:$app_port" --installations pool --pool "$INSTALLATIONS" \
    --weeks "$WEEKS" --warmup 0s --duration 2h -c 64 >"$dir/seed.json"
seed_end=$(date +%s.%N)
stored=$(curl -fs -H "X-API-Key: bench-admin" "http://127.0.0.1:$app_port/stats/summary")
echo "seeded in $(echo "$seed_end - $seed_start" | bc) s: $stored" >&2
# A year of reports arrives over a year, and autovacuum keeps up with it; here it arrived in two
# minutes. Vacuum now, so that the timings below are of that steady state and not of
# autovacuum catching up with a million fresh rows.
"$("$root/scripts/pg.sh" bindir)/psql" -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres \
    -c "VACUUM (ANALYZE)"

backfill=$(elapsed "$tally" rollup)
today=$(date -u +%F)
# A run looks again at what was received within a minute before the previous run started (the
# watermark's margin), and the backfill started right after seeding: the first run after it
# re-rolls the year. Once past that minute, as in a server rolling every minute, a run has
# nothing new but today.
sleep 61
catch_up=$(elapsed "$tally" rollup)
incremental=$(elapsed "$tally" rollup)
one_day=$(elapsed "$tally" rollup --from "$today" --to "$today")
echo "backfill (first tally rollup, whole year): ${backfill} s" >&2
echo "catch-up tally rollup (the seeding's last minute again, whole year): ${catch_up} s" >&2
echo "incremental tally rollup (nothing new but today): ${incremental} s" >&2
echo "one day recomputed (tally rollup --from $today --to $today): ${one_day} s" >&2

routes=(summary overview export installations deployment-modes versions geography printers
        features version-migration feature-trends errors anomalies)
printf '%-22s %8s %8s %8s\n' route p50_ms p95_ms p99_ms
for route in "${routes[@]}"; do
    # shellcheck disable=SC2046 # the three figures, one word each
    printf '%-22s %8s %8s %8s\n' "$route" $(time_route "/stats/$route" "$REQUESTS")
done
