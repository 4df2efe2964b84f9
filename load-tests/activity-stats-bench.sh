#!/usr/bin/env bash
# `make bench-stats PRODUCT=stories` (or PRODUCT=indexpilot): the activity read side at a year
# of data (issue 23, item 3), for Stories (events) or IndexPilot (daily reports).
#
# The product's `activity` rows generated directly in SQL (INSTALLATIONS (100000)
# installations, each reporting every day of the DAYS (365) days before today: one row per
# installation and day, with the keys the product's adapter writes; Stories' events, or
# IndexPilot's daily reports), and its registry of installations, then:
#   1. the year's backfill: the first `tally rollup` (target <= 60 s);
#   2. a day's new events (or reports): today's row of every installation, received now, and one
#      incremental `tally rollup` (target <= 1 s), then one with nothing new;
#   3. every /api/v1/* route of the product, REQUESTS (200) sequential GETs each on one
#      keep-alive connection after 10 warm-up ones, over the default 30 days and over the year:
#      p50/p95/p99 in ms (target p95 <= 10 ms).
# A private PostgreSQL cluster (fsync on), started and removed here; wal_level=minimal so that
# the generated year, written in the transaction that truncates the table, skips the WAL.
# Needs release builds of tally (`make build`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PRODUCT=${PRODUCT:-stories}
INSTALLATIONS=${INSTALLATIONS:-100000}
DAYS=${DAYS:-365}
REQUESTS=${REQUESTS:-200}
case "$PRODUCT" in
stories) rows_are=events ;;
indexpilot) rows_are=reports ;;
*)
    echo "activity-stats-bench.sh generates Stories' or IndexPilot's keys only:" \
        "PRODUCT=stories or PRODUCT=indexpilot" >&2
    exit 2
    ;;
esac
tally=${BENCH_TALLY:-$root/target/release/tally}

. "$here/bench-lib.sh"
bench_cluster activity-bench shared_buffers=1GB max_wal_size=16GB wal_level=minimal \
    max_wal_senders=0
psql() { "$("$root/scripts/pg.sh" bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres "$@"; }
RUST_LOG=warn "$tally" migrate >&2

# The product's parts: `rows_of_day_$PRODUCT DAY RECEIVED`, the SELECT of every installation's
# row on DAY (an SQL date) received at RECEIVED (an SQL timestamptz), from the temporary table
# `inst` (n, id); `id_of_$PRODUCT`, how `inst` spells installation n's id, as the adapter keeps
# it; `routes_of_$PRODUCT`, which sets `routes` (after `year`).

# Stories: one row of installation `id` on day `d` (day number `n`): a few app starts,
# recordings and transcriptions, now and then a failure or a crash; the keys
# `domain::activity::key` spells, zero counts left out as the adapter leaves them out.
id_of_stories="md5(n::text)::uuid::text"
rows_of_day_stories() {
    local day=$1 received=$2
    cat <<SQL
SELECT 'stories', inst.id, $day, $received, jsonb_strip_nulls(
    jsonb_build_object(
        'event/app_opened', x.opened,
        'dim/app_opened.language/' || x.language, x.opened,
        'dim/app_opened.app_version/' || x.version, x.opened,
        'dim/app_opened.os_version/14.2', x.opened,
        'event/recording_started', nullif(x.recorded, 0),
        'dim/recording_started.source/main', nullif(x.recorded, 0),
        'measure/recording_started.duration/count', nullif(x.recorded, 0),
        'measure/recording_started.duration/sum', nullif(x.recorded * 45, 0),
        'measure/recording_started.duration/bucket/4', nullif(x.recorded, 0),
        'event/transcription_completed', nullif(x.recorded - x.failed, 0),
        'measure/transcription_completed.duration/count', nullif(x.recorded - x.failed, 0),
        'measure/transcription_completed.duration/sum', nullif((x.recorded - x.failed) * 42.5, 0),
        'measure/transcription_completed.duration/bucket/4', nullif(x.recorded - x.failed, 0),
        'flag/transcription_completed.success', nullif(x.recorded - x.failed, 0),
        'event/transcription_failed', nullif(x.failed, 0),
        'dim/transcription_failed.error_type/network_error', nullif(x.failed, 0),
        'event/feature_used', 1,
        'dim/feature_used.feature/hotkey', 1)
    || CASE WHEN x.crashed THEN jsonb_build_object('event/crash', 1,
           'dim/crash.error_type/typeerror', 1, 'dim/crash.app_version/' || x.version, 1,
           'dim/crash.os_version/14.2', 1) ELSE '{}' END)
FROM inst, LATERAL (
    SELECT 1 + (h & 2147483647) % 3 AS opened, ((h >> 4) & 2147483647) % 6 AS recorded,
           (((h >> 8) & 2147483647) % 10 = 0 AND ((h >> 4) & 2147483647) % 6 > 0)::int AS failed,
           ((h >> 12) & 2147483647) % 50 = 0 AS crashed,
           (ARRAY['en', 'de', 'fr', 'es', 'ja'])[1 + ((h >> 16) & 2147483647) % 5] AS language,
           (ARRAY['1.4.0', '1.3.2', '1.2.0'])[1 + ((h >> 20) & 2147483647) % 3] AS version
    FROM (SELECT hashint8(inst.n::bigint * 100000 + ($day - DATE '2000-01-01')) AS h) AS hashed
) AS x
SQL
}
routes_of_stories() {
    routes=(
        "metrics/active_installations?product=stories&window=7"
        "metrics/active_installations?product=stories&window=30"
        "metrics/new_installations?product=stories"
        "metrics/known_installations?product=stories"
        "metrics/transcription_success?product=stories"
        "metrics/crash_free?product=stories&window=7"
        "dimensions/app_opened.language?product=stories"
        "dimensions/app_opened.app_version?product=stories"
        "measures/transcription_completed.duration?product=stories"
        "events?product=stories"
        "outcomes?product=stories"
        "products"
        "metrics/active_installations?product=stories&window=7&$year"
        "metrics/crash_free?product=stories&window=30&$year"
        "dimensions/app_opened.language?product=stories&$year"
        "measures/transcription_completed.duration?product=stories&$year"
        "events?product=stories&$year"
    )
}

# IndexPilot: one daily report of installation `id` (32 hex characters) on day `d`: its
# environment (os, Python, PostgreSQL, cores) by installation, its version, counters, measure,
# features and algorithms by installation and day; the keys the adapter writes
# (server/catalog/indexpilot.toml), a measure's bucket the first whose bound holds the value
# (above the last: the bounds' count), a zero counter kept, an unused feature or algorithm
# absent as the report leaves it out. No report id or period: a daily report has none.
id_of_indexpilot="md5(n::text)"
rows_of_day_indexpilot() {
    local day=$1 received=$2
    cat <<SQL
SELECT 'indexpilot', inst.id, $day, $received, jsonb_strip_nulls(
    jsonb_build_object(
        'dim/version/' || x.version, 1,
        'dim/python_version/' || x.python_version, 1,
        'dim/postgresql_version/' || x.postgresql_version, 1,
        'dim/os/' || x.os, 1,
        'counter/indexes_created', x.indexes_created,
        'counter/queries_analyzed', x.queries_analyzed,
        'measure/performance_improvement_pct/count', 1,
        'measure/performance_improvement_pct/sum', x.improvement,
        'measure/performance_improvement_pct/bucket/' || CASE
            WHEN x.improvement <= 0 THEN 0 WHEN x.improvement <= 5 THEN 1
            WHEN x.improvement <= 10 THEN 2 WHEN x.improvement <= 25 THEN 3
            WHEN x.improvement <= 50 THEN 4 WHEN x.improvement <= 75 THEN 5
            WHEN x.improvement <= 100 THEN 6 ELSE 7 END, 1,
        'measure/cpu_cores/count', 1,
        'measure/cpu_cores/sum', x.cores,
        'measure/cpu_cores/bucket/' || CASE
            WHEN x.cores <= 1 THEN 0 WHEN x.cores <= 2 THEN 1 WHEN x.cores <= 4 THEN 2
            WHEN x.cores <= 8 THEN 3 WHEN x.cores <= 16 THEN 4 WHEN x.cores <= 32 THEN 5
            WHEN x.cores <= 64 THEN 6 WHEN x.cores <= 128 THEN 7 ELSE 8 END, 1,
        'flag/features_used/auto_indexing', 1,
        'flag/features_used/query_analysis', nullif(x.query_analysis, 0),
        'flag/features_used/index_cleanup', nullif(x.index_cleanup, 0),
        'map/algorithm_usage/btree_gist', nullif(x.btree_gist, 0),
        'map/algorithm_usage/qpg', nullif(x.qpg, 0),
        'map/algorithm_usage/cert', nullif(x.cert, 0)))
FROM inst, LATERAL (
    SELECT (ARRAY['1.2.0', '1.1.3', '1.0.0'])[1 + (h & 2147483647) % 3] AS version,
           ((h >> 4) & 2147483647) % 51 AS indexes_created,
           (((h >> 10) & 2147483647) % 1201) / 10.0 AS improvement,
           ((h >> 21) & 1) AS query_analysis,
           (((h >> 22) & 2147483647) % 4 = 0)::int AS index_cleanup,
           (q & 2147483647) % 100001 AS queries_analyzed,
           ((q >> 32) & 2147483647) % 20 AS btree_gist,
           ((q >> 40) & 2147483647) % 15 AS qpg,
           ((q >> 48) & 2147483647) % 10 AS cert,
           (ARRAY['linux', 'linux', 'linux', 'linux', 'darwin', 'windows', 'freebsd'])
               [1 + (g & 2147483647) % 7] AS os,
           (ARRAY['3.10.12', '3.11.9', '3.12.4'])[1 + ((g >> 4) & 2147483647) % 3] AS python_version,
           (ARRAY['14.13', '15.8', '16.4', '17.0'])[1 + ((g >> 8) & 2147483647) % 4]
               AS postgresql_version,
           (ARRAY[1, 2, 4, 6, 8, 12, 16, 32, 64, 96, 192])[1 + ((g >> 12) & 2147483647) % 11] AS cores
    FROM (SELECT hashint8(inst.n::bigint * 100000 + ($day - DATE '2000-01-01')) AS h,
                 hashint8extended(inst.n::bigint * 100000 + ($day - DATE '2000-01-01'), 1) AS q,
                 hashint4(inst.n) AS g) AS hashed
) AS x
SQL
}
routes_of_indexpilot() {
    routes=(
        "metrics/active_installations?product=indexpilot&window=7"
        "metrics/active_installations?product=indexpilot&window=30"
        "metrics/new_installations?product=indexpilot"
        "metrics/known_installations?product=indexpilot"
        "metrics/reports?product=indexpilot"
        "metrics/indexes_created?product=indexpilot&window=1"
        "metrics/indexes_created?product=indexpilot&window=7"
        "metrics/queries_analyzed?product=indexpilot"
        "dimensions/os?product=indexpilot&window=1"
        "dimensions/os?product=indexpilot&window=30"
        "dimensions/version?product=indexpilot"
        "measures/cpu_cores?product=indexpilot"
        "measures/performance_improvement_pct?product=indexpilot"
        "events?product=indexpilot"
        "outcomes?product=indexpilot"
        "products"
        "metrics/active_installations?product=indexpilot&window=7&$year"
        "metrics/indexes_created?product=indexpilot&window=7&$year"
        "dimensions/os?product=indexpilot&window=30&$year"
        "measures/cpu_cores?product=indexpilot&$year"
    )
}

rows_of_day() { "rows_of_day_$PRODUCT" "$@"; }
# The rows of `rows_of_day DAY RECEIVED` as the writer stores them: counts by key number (V24),
# the names numbered first by `number_names` (a week of every installation's days spells every
# name the generators can: a few languages, versions and error types).
numbered_rows_of_day() {
    cat <<SQL
SELECT r.product, r.installation_id, r.day, r.received_at, numbered.keys, numbered.amounts
FROM ($(rows_of_day "$@")) AS r(product, installation_id, day, received_at, counts),
LATERAL (SELECT coalesce(array_agg(n.id ORDER BY n.id), '{}') AS keys,
                coalesce(array_agg(e.value::float8 ORDER BY n.id), '{}') AS amounts
         FROM jsonb_each_text(r.counts) AS e JOIN activity_key_names n ON n.name = e.key) AS numbered
-- Not flattened into the statement around it, which would put the installations outside the
-- days and store each installation's year together: rows arrive day by day.
OFFSET 0
SQL
}
number_names="INSERT INTO activity_key_names (name)
    SELECT DISTINCT jsonb_object_keys(r.counts) FROM generate_series(0, 6) AS back,
    LATERAL ($(rows_of_day "(current_date - back.back)" "now()")) AS r(product, installation_id, day, received_at, counts)
    ORDER BY 1 ON CONFLICT (name) DO NOTHING;"
id_of="id_of_$PRODUCT"
installations="CREATE TEMP TABLE inst AS
    SELECT n, ${!id_of} AS id FROM generate_series(1, $INSTALLATIONS) AS n;"

echo "== generating $INSTALLATIONS installations x $DAYS days in SQL" >&2
generated=$(elapsed psql <<SQL
$installations
BEGIN;
TRUNCATE activity, activity_installations;
$number_names
-- Day by day, as the rows would have arrived; each received at noon of its day.
INSERT INTO activity (product, installation_id, day, received_at, keys, amounts)
SELECT r.* FROM generate_series(1, $DAYS) AS back,
LATERAL ($(numbered_rows_of_day "(current_date - back.back)" "(current_date - back.back) + interval '12 hours'")) AS r;
INSERT INTO activity_installations (product, installation_id, first_day)
SELECT '$PRODUCT', id, current_date - $DAYS FROM inst;
COMMIT;
VACUUM (ANALYZE) activity, activity_installations;
SQL
)
size=$(psql -tAc "SELECT pg_size_pretty(pg_total_relation_size('activity')), count(*) FROM activity")
echo "generated in $generated s: activity $size rows" >&2

backfill=$(elapsed "$tally" rollup)
echo "backfill (first tally rollup, the whole year): $backfill s" >&2

today_rows=$(elapsed psql <<SQL
$installations
INSERT INTO activity (product, installation_id, day, received_at, keys, amounts)
$(numbered_rows_of_day "current_date" "now()");
SQL
)
echo "a day's new $rows_are: $INSTALLATIONS rows of today inserted in $today_rows s" >&2
# A run re-rolls the rows received in the second before the previous run began (the
# watermark's margin): past it, the run after this one has nothing new, as in `tally serve`.
sleep 1.1
incremental=$(elapsed "$tally" rollup)
echo "incremental tally rollup after a day's new $rows_are: $incremental s" >&2
nothing=$(elapsed "$tally" rollup)
echo "incremental tally rollup with nothing new: $nothing s" >&2

bench_serve TALLY_ROLLUP_INTERVAL_SECS=86400

year="from=$(date -u -d "-$DAYS days" +%F)&to=$(date -u +%F)"
"routes_of_$PRODUCT"
printf '%-96s %8s %8s %8s\n' "GET /api/v1/..." p50_ms p95_ms p99_ms
for route in "${routes[@]}"; do
    # shellcheck disable=SC2046 # the three figures, one word each
    printf '%-96s %8s %8s %8s\n' "$route" $(time_route "/api/v1/$route" "$REQUESTS")
done
echo "targets: backfill $backfill s (<= 60), incremental $incremental s (<= 1), p95 <= 10 ms above"
