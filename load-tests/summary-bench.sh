#!/usr/bin/env bash
# `/stats/summary` during and right after a burst of reports (part of `make bench-stats`).
#
# A fresh private PostgreSQL cluster (fsync on) and `tally serve` with default settings but the
# per-source limit and the hourly limit per installation off. tally-load sends BURST reports,
# each from a new installation, over CONNECTIONS keep-alive connections as fast as the server
# takes them (a pool of BURST installations of one week each: a fixed count, so the run ends as
# soon as the burst is in). From SETTLE seconds in until the generator stops, one curl polls
# GET /stats/summary back to back on one keep-alive connection; as soon as the generator stops,
# another times REQUESTS sequential summaries. Prints p50/p95/p99 of both, the burst's rate, and
# checks the summary's answers against `SELECT count(*), count(DISTINCT installation_id)`.
#
# Knobs: BURST (600000), CONNECTIONS (64), SETTLE (10 s), REQUESTS (200).
# Needs release builds of tally and tally-load (`make bench-stats` builds them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scripts="$root/scripts"
BURST=${BURST:-600000}
CONNECTIONS=${CONNECTIONS:-64}
SETTLE=${SETTLE:-10}
REQUESTS=${REQUESTS:-200}
tally="$root/target/release/tally"
load="$root/target/release/tally-load"

. "$root/load-tests/bench-lib.sh"
bench_cluster summary-bench shared_buffers=1GB
psql="$("$scripts/pg.sh" bindir)/psql"
sql() { "$psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -XtAqc "$1"; }

bench_serve
url="http://127.0.0.1:$app_port/stats/summary"

# GETs of the summary on one keep-alive connection, each line "status seconds" on stderr
# (unbuffered, so a poll stopped by a signal keeps every line it finished). curl's URL range
# numbers them lazily ("?n=1", "?n=2", ...; the route reads no query).
summaries=(curl -s -H "X-API-Key: bench-admin" -w '%{stderr}%{http_code} %{time_total}\n' -o /dev/null)
# Prints "samples p50 p95 p99" (ms) of the 200s in FILE; other statuses are reported apart.
percentiles() {
    local file=$1 n
    awk '$1 != 200 && NF == 2 { bad++ } END { if (bad) printf "%d answers were not 200\n", bad > "/dev/stderr" }' "$file"
    awk '$1 == 200 && NF == 2 { print $2 }' "$file" | sort -n >"$file.sorted"
    n=$(wc -l <"$file.sorted")
    [ "$n" -gt 0 ] || { echo "0 - - -"; return; }
    pct() { sed -n "$(( (n * $1 + 99) / 100 ))p" "$file.sorted" | awk '{printf "%.2f", $1 * 1000}'; }
    echo "$n $(pct 50) $(pct 95) $(pct 99)"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== $BURST reports of new installations, $CONNECTIONS connections, summary polled from ${SETTLE} s in" >&2
burst_start=$(date +%s.%N)
TALLY_LOAD_INGEST_KEY=bench-ingest TALLY_LOAD_ADMIN_KEY=bench-admin "$load" \
    --url "http://127.0.0.1:$app_port" --target submit --installations pool --pool "$BURST" \
    --weeks 1 --warmup 0s --duration 1h -c "$CONNECTIONS" >"$dir/burst.json" 2>"$dir/load.log" &
load_pid=$!
sleep "$SETTLE"
"${summaries[@]}" "$url?n=[1-10000000]" 2>"$dir/during" &
poll_pid=$!
wait "$load_pid"
load_pid=""
burst_end=$(date +%s.%N)
kill "$poll_pid" 2>/dev/null || true
wait "$poll_pid" 2>/dev/null || true
poll_pid=""
"${summaries[@]}" "$url?n=[1-$REQUESTS]" 2>"$dir/after" || true
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

answer=$(curl -fs -H "X-API-Key: bench-admin" "$url")
counted=$(sql "SELECT count(*) || ' ' || count(DISTINCT installation_id) FROM activity
               WHERE report_id IS NOT NULL")
acknowledged=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["acknowledged"])' "$dir/burst.json")
read -r total unique < <(python3 -c 'import json, sys; a = json.loads(sys.argv[1]); print(a["total_submissions"], a["unique_installations"])' "$answer")
seconds=$(echo "$burst_end - $burst_start" | bc)

echo "burst: $acknowledged reports acknowledged in $(printf '%.1f' "$seconds") s ($(echo "$acknowledged / $seconds" | bc) reports/s)"
echo "load average before: $load_before, after: $load_after ($(nproc) cores)"
read -r n_during p50_during p95_during p99_during < <(percentiles "$dir/during")
read -r n_after p50_after p95_after p99_after < <(percentiles "$dir/after")
printf '%-22s %8s %8s %8s %8s\n' summary samples p50_ms p95_ms p99_ms
printf '%-22s %8s %8s %8s %8s\n' during-ingest "$n_during" "$p50_during" "$p95_during" "$p99_during"
printf '%-22s %8s %8s %8s %8s\n' after-burst "$n_after" "$p50_after" "$p95_after" "$p99_after"
verdict() { awk -v p="$1" -v goal="$2" 'BEGIN { print (p != "-" && p <= goal) ? "met" : "NOT met" }'; }
echo "target p95 <= 50 ms during ingest: $(verdict "$p95_during" 50); p95 <= 10 ms after the burst: $(verdict "$p95_after" 10)"
echo "summary: total_submissions $total, unique_installations $unique; SQL: count(*) ${counted% *}, count(DISTINCT installation_id) ${counted#* }"
if [ "$total $unique" = "$counted" ] && [ "$total" = "$acknowledged" ]; then
    echo "exact: the summary equals the table and the generator's acknowledged count"
else
    echo "NOT exact: the summary differs from the table or from the acknowledged count" >&2
    exit 1
fi
if [ "$acknowledged" -lt "$BURST" ]; then
    echo "the burst fell short: $acknowledged of $BURST reports acknowledged" >&2
    exit 1
fi
