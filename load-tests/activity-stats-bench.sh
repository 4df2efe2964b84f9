#!/usr/bin/env bash
# `make bench-stats PRODUCT=stories`: the event read side at a year of data (issue 23, item 3).
#
# A Stories-like product's `activity` rows generated directly in SQL (INSTALLATIONS (100000)
# installations, each reporting every day of the DAYS (365) days before today: one row per
# installation and day, with the keys the Stories adapter writes), then:
#   1. the year's backfill: the first `tally rollup` (target <= 60 s);
#   2. a day's new events: today's row of every installation, received now, and one incremental
#      `tally rollup` (target <= 1 s);
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
if [ "$PRODUCT" != stories ]; then
    echo "activity-stats-bench.sh generates Stories' keys only: PRODUCT=stories" >&2
    exit 2
fi
tally=${BENCH_TALLY:-$root/target/release/tally}

. "$here/bench-lib.sh"
bench_cluster activity-bench shared_buffers=1GB max_wal_size=16GB wal_level=minimal \
    max_wal_senders=0
psql() { "$("$root/scripts/pg.sh" bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres "$@"; }
RUST_LOG=warn "$tally" migrate >&2

# One row of installation `id` on day `d` (day number `n`): a few app starts, recordings and
# transcriptions, now and then a failure or a crash; the keys `domain::activity::key` spells,
# zero counts left out as the adapter leaves them out.
rows_of_day() {
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
    FROM (SELECT hashint8(inst.n * 100000 + ($day - DATE '2000-01-01')) AS h) AS hashed
) AS x
SQL
}
installations="CREATE TEMP TABLE inst AS
    SELECT n, md5(n::text)::uuid::text AS id FROM generate_series(1, $INSTALLATIONS) AS n;"

echo "== generating $INSTALLATIONS installations x $DAYS days in SQL" >&2
generated=$(elapsed psql <<SQL
$installations
BEGIN;
TRUNCATE activity, activity_installations;
-- Day by day, as the rows would have arrived; each received at noon of its day.
INSERT INTO activity (product, installation_id, day, received_at, counts)
SELECT r.* FROM generate_series(1, $DAYS) AS back,
LATERAL ($(rows_of_day "(current_date - back.back)" "(current_date - back.back) + interval '12 hours'")) AS r;
INSERT INTO activity_installations (product, installation_id, first_day)
SELECT 'stories', id, current_date - $DAYS FROM inst;
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
INSERT INTO activity (product, installation_id, day, received_at, counts)
$(rows_of_day "current_date" "now()");
SQL
)
echo "a day's new events: $INSTALLATIONS rows of today inserted in $today_rows s" >&2
# A run re-rolls the rows received in the second before the previous run began (the
# watermark's margin): past it, the run after this one has nothing new, as in `tally serve`.
sleep 1.1
incremental=$(elapsed "$tally" rollup)
echo "incremental tally rollup after a day's new events: $incremental s" >&2
nothing=$(elapsed "$tally" rollup)
echo "incremental tally rollup with nothing new: $nothing s" >&2

bench_serve TALLY_ROLLUP_INTERVAL_SECS=86400

year="from=$(date -u -d "-$DAYS days" +%F)&to=$(date -u +%F)"
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
printf '%-96s %8s %8s %8s\n' "GET /api/v1/..." p50_ms p95_ms p99_ms
for route in "${routes[@]}"; do
    # shellcheck disable=SC2046 # the three figures, one word each
    printf '%-96s %8s %8s %8s\n' "$route" $(time_route "/api/v1/$route" "$REQUESTS")
done
echo "targets: backfill $backfill s (<= 60), incremental $incremental s (<= 1), p95 <= 10 ms above"
