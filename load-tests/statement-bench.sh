#!/usr/bin/env bash
# `make bench-statement`: the batch statements alone, Tally's against tally-bare's.
#
# A single `pgbench` client runs each statement prepared, as the servers do, with
# `synchronous_commit` off (so the figure is the statement's own work, not the WAL flush), on a
# fresh copy of a migrated database per run, in batches of BATCH fresh installations (the
# arrays are made by a query of each transaction, then bound). Tally's statement is the one the
# server really prepares, read from `auto_explain`'s log after a few reports through `tally
# serve`; the bare one is read from tally-bare's source. The forms alternate ROUNDS times;
# prints each run's statement latency (pgbench -r) and the medians.
#
# Knobs: ROUNDS (3), STATEMENT_SECS (12, per run), BATCH (31).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scripts="$root/scripts"
tally="$root/target/release/tally"
load="$root/target/release/tally-load"
rounds=${ROUNDS:-3}
secs=${STATEMENT_SECS:-12}
batch=${BATCH:-31}

work=$(mktemp -d /tmp/tally-statement.XXXXXX)
chmod 755 "$work"
port=$("$scripts/free-port.sh")
http_port=$("$scripts/free-port.sh")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true; fi
    "$scripts/pg.sh" stop "$work/data"
    rm -rf "$work"
}
trap cleanup EXIT

"$scripts/pg.sh" start "$work/data" "$port" shared_buffers=512MB max_wal_size=8GB \
    synchronous_commit=off >&2
bin=$("$scripts/pg.sh" bindir)
psql() { "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -XqAt "$@"; }
url() { echo "postgres://postgres@127.0.0.1:$port/$1"; }

# Tally's statement as the server prepares it, from auto_explain's log.
"$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres capture
psql -d capture -c "ALTER DATABASE capture SET session_preload_libraries = 'auto_explain'" \
    -c "ALTER DATABASE capture SET auto_explain.log_min_duration = 0"
key=ingest-statement-bench-0123456789
DATABASE_URL=$(url capture) TALLY_BIND="127.0.0.1:$http_port" TALLY_INGEST_KEYS=$key \
    TALLY_ADMIN_KEYS=admin-statement-bench-0123456789 TALLY_IP_RATE_PER_MINUTE=0 RUST_LOG=warn \
    "$tally" serve 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$http_port/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
"$load" --url "http://127.0.0.1:$http_port" --key "$key" --connections 2 --duration 1s \
    --warmup 0s >/dev/null 2>&1
kill -TERM "$server_pid" && wait "$server_pid" || true
server_pid=

# The template each run copies: the schema, and tally-bare's table (from its source) with
# partitions for the reports' months.
"$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres template_run
"$tally" migrate --database-url "$(url template_run)" >/dev/null 2>&1
python3 - "$root/load-tests/src/bin/tally-bare.rs" >"$work/bare-tables.sql" <<'PY'
import sys
source = open(sys.argv[1]).read()
ddl = source.split('const CREATE_REPORTS: &str = "', 1)[1].split('";', 1)[0]
print(ddl.replace('\\"', '"'))
PY
psql -d template_run -f "$work/bare-tables.sql" >/dev/null
psql -d template_run -c "SELECT bare_ensure_month_partition(m::date) FROM generate_series(
    date_trunc('month', now() - interval '60 days'), now() + interval '1 month',
    interval '1 month') AS m" >/dev/null

python3 - "$work" "$work/data/server.log" "$root/load-tests/src/bin/tally-bare.rs" "$batch" <<'PY'
import re, sys
work, log, bare_source, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
uuids = "(SELECT array_agg(gen_random_uuid()) FROM generate_series(1, {n}))"
start = "array_fill(date_trunc('week', now()) - interval '7 days', ARRAY[{n}])"
end = "array_fill(date_trunc('week', now()), ARRAY[{n}])"
# One transaction's arrays, as each writer binds them: Tally's ($1..$6) and the bare one's
# ($1..$20, received_at as $5).
tally_arrays = {
    1: "array_fill('printernizer'::text, ARRAY[{n}])",
    2: uuids.replace("gen_random_uuid()", "gen_random_uuid()::text"),
    3: "array_fill(date_trunc('week', now())::date, ARRAY[{n}])",
    4: "array_fill('{{\"dim/app_version/2.41.2\": 1, \"dim/python_version/3.12.3\": 1, "
       "\"dim/platform/linux\": 1, \"dim/deployment_mode/docker\": 1, \"dim/country/DE\": 1, "
       "\"counter/printer_count\": 3, \"counter/job_count\": 23, \"counter/file_count\": 18, "
       "\"counter/upload_count\": 5, \"counter/uptime_hours\": 134, "
       "\"map/printer_type_counts/bambu_lab\": 2, \"map/printer_type_counts/prusa_core\": 1, "
       "\"flag/feature_usage/library_enabled\": 1, \"flag/feature_usage/timelapse_enabled\": 0, "
       "\"map/error_summary/total_errors\": 2}}'::jsonb, ARRAY[{n}])",
    5: start,
    6: end,
}
bare_arrays = {
    1: "array_fill('printernizer'::text, ARRAY[{n}])", 2: uuids, 3: start, 4: end,
    5: "array_fill(now(), ARRAY[{n}])",
    6: "array_fill('2.41.2'::text, ARRAY[{n}])", 7: "array_fill('3.12.3'::text, ARRAY[{n}])",
    8: "array_fill('linux'::text, ARRAY[{n}])", 9: "array_fill('docker'::text, ARRAY[{n}])",
    10: "array_fill('DE'::text, ARRAY[{n}])", 11: "array_fill(now() - interval '100 days', ARRAY[{n}])",
    12: "array_fill(3, ARRAY[{n}])", 13: "array_fill(23, ARRAY[{n}])", 14: "array_fill(18, ARRAY[{n}])",
    15: "array_fill(5, ARRAY[{n}])", 16: "array_fill(134, ARRAY[{n}])", 17: "array_fill(2, ARRAY[{n}])",
    18: "array_fill('{{\"bambu_lab\": 2, \"prusa_core\": 1}}'::text, ARRAY[{n}])",
    19: "array_fill('{{\"library_enabled\": true, \"timelapse_enabled\": false}}'::text, ARRAY[{n}])",
    20: "array_fill('{{\"total_errors\": 2}}'::text, ARRAY[{n}])",
}

def make(arrays):
    return "SELECT " + ",\n  ".join(f"{e.format(n=batch)} AS a{i}" for i, e in arrays.items()) + "\n\\gset\n"

def one_line(sql):
    sql = re.sub(r"--[^\n]*", "", sql)
    return " ".join(sql.split()) + ";\n"

def bound(sql):
    return re.sub(r"\$(\d+)", lambda m: f":a{m.group(1)}", sql)

text = open(log, encoding="utf-8", errors="replace").read()
found = re.search(r"Query Text: (WITH t AS \(.*?SELECT product, installation_id, day, report_id, "
                  r"inserted FROM written)", text, re.S)
if not found:
    sys.exit("statement-bench: Tally's batch statement is not in auto_explain's log")
open(f"{work}/tally.pgb", "w").write(make(tally_arrays) + one_line(bound(found.group(1))))

bare = open(bare_source).read().split('const UPSERT: &str = "', 1)[1].split('";', 1)[0]
open(f"{work}/bare.pgb", "w").write(make(bare_arrays) + one_line(bound(bare)))
PY

results="$work/results.txt"
for round in $(seq "$rounds"); do
    for form in bare tally; do
        "$bin/dropdb" -h 127.0.0.1 -p "$port" -U postgres --if-exists run 2>/dev/null
        "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres -T template_run run
        out=$("$bin/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -M prepared -r \
            -T "$secs" -f "$work/$form.pgb" run 2>&1) || { echo "$out" >&2; exit 1; }
        # pgbench -r: the second statement's average latency (the first makes the arrays).
        ms=$(echo "$out" | awk '/^ +[0-9.]+ +[0-9]+ +(INSERT|WITH)/ {print $1}')
        echo "$round $form $ms" | tee -a "$results"
    done
done
python3 - "$results" "$batch" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    _, form, ms = line.split()
    runs[form].append(float(ms))
batch = int(sys.argv[2])
for form, values in runs.items():
    median = statistics.median(values)
    print(f"{form:6s} median {median:.3f} ms a batch of {batch} ({median * 1000 / batch:.1f} µs a report)")
print(f"tally / bare: {statistics.median(runs['tally']) / statistics.median(runs['bare']):.2f}")
PY
