-- One table of windows for every product. Printernizer's `daily_totals` and `daily_dimensions`
-- become cells of `activity_windows` (per product, window, key and day), the table every other
-- product's windows are in: its rollup counts every key of its reports there, each
-- installation by its latest report in the window. Both names stay, as views with the same
-- columns and rows: its `/stats/*` and `/api/v1/*` read them, and so may Grafana or SQL.
-- `daily_reports` (per day: reports, new installations) stays a table; its shape names no
-- product.
--
-- (During a rolling upgrade, stop the instances of the previous version before this runs:
-- they write `daily_totals` and `daily_dimensions`, which become views.)

-- Of the installations counted with a key: those whose counted value is above zero, and the
-- sum of the counted values (a dimension's value of a report format weighs what its adapter
-- says: Printernizer's, the report's jobs). NULL where the rollup counts presence only (an
-- event product's windows) or did not count it (`positive` of a counter before V18).
ALTER TABLE activity_windows
    ADD COLUMN positive integer,
    ADD COLUMN amount   double precision;

LOCK TABLE daily_totals, daily_dimensions IN SHARE MODE;

-- Every day and window stays, an empty one too (the latest rolled day is "now").
INSERT INTO activity_windows (product, day, window_days, key, installations, positive, amount)
SELECT product, day, window_days, '', installations, installations, installations
FROM daily_totals;

-- The counters are required: every installation counted has each.
INSERT INTO activity_windows (product, day, window_days, key, installations, positive, amount)
SELECT t.product, t.day, t.window_days, c.key, t.installations, NULL, c.amount
FROM daily_totals t
CROSS JOIN LATERAL (VALUES ('counter/printer_count', t.printers),
                           ('counter/job_count', t.jobs),
                           ('counter/file_count', t.files),
                           ('counter/upload_count', t.uploads),
                           ('counter/uptime_hours', t.uptime_hours)) AS c (key, amount)
WHERE t.installations > 0;

INSERT INTO activity_windows (product, day, window_days, key, installations, positive, amount)
SELECT d.product, d.day, d.window_days,
       CASE d.dimension
           WHEN 'version' THEN 'dim/app_version/'
           WHEN 'platform' THEN 'dim/platform/'
           WHEN 'deployment_mode' THEN 'dim/deployment_mode/'
           WHEN 'country' THEN 'dim/country/'
           WHEN 'printer_type' THEN 'map/printer_type_counts/'
           WHEN 'feature' THEN 'flag/feature_usage/'
           WHEN 'error_type' THEN 'map/error_summary/'
       END || d.value,
       d.installations, NULL, d.amount
FROM daily_dimensions d
WHERE d.dimension IN ('version', 'platform', 'deployment_mode', 'country', 'printer_type',
                      'feature', 'error_type');

-- `errors` and `installations_with_errors` are the error summary's `total_errors` entry.
INSERT INTO activity_windows (product, day, window_days, key, installations, positive, amount)
SELECT product, day, window_days, 'map/error_summary/total_errors', installations_with_errors,
       installations_with_errors, errors
FROM daily_totals
WHERE errors > 0 OR installations_with_errors > 0
ON CONFLICT (product, window_days, key, day)
DO UPDATE SET positive = excluded.positive, amount = excluded.amount;

DROP TABLE daily_totals, daily_dimensions;

-- Printernizer's compatibility view of its windows: the columns its daily table had (a row per
-- product, day and window with an activity row; the columns name Printernizer's keys).
CREATE VIEW daily_totals AS
SELECT product, day, window_days,
       max(installations) FILTER (WHERE key = '') AS installations,
       coalesce(round(sum(amount) FILTER (WHERE key = 'counter/printer_count')), 0)::bigint AS printers,
       coalesce(round(sum(amount) FILTER (WHERE key = 'counter/job_count')), 0)::bigint AS jobs,
       coalesce(round(sum(amount) FILTER (WHERE key = 'counter/file_count')), 0)::bigint AS files,
       coalesce(round(sum(amount) FILTER (WHERE key = 'counter/upload_count')), 0)::bigint AS uploads,
       coalesce(round(sum(amount) FILTER (WHERE key = 'counter/uptime_hours')), 0)::bigint AS uptime_hours,
       coalesce(round(sum(amount) FILTER (WHERE key = 'map/error_summary/total_errors')), 0)::bigint AS errors,
       coalesce(max(positive) FILTER (WHERE key = 'map/error_summary/total_errors'), 0) AS installations_with_errors
FROM activity_windows
WHERE key IN ('', 'counter/printer_count', 'counter/job_count', 'counter/file_count',
              'counter/upload_count', 'counter/uptime_hours', 'map/error_summary/total_errors')
GROUP BY product, day, window_days
HAVING count(*) FILTER (WHERE key = '') > 0;

-- Its dimensions, each a range of keys (an index range each; a reader's `dimension = $1`
-- keeps one branch).
CREATE VIEW daily_dimensions AS
SELECT product, day, window_days, dimension, substr(key, length(prefix) + 1) AS value,
       installations, round(amount)::bigint AS amount
FROM (
    SELECT 'version'::text AS dimension, 'dim/app_version/'::text AS prefix, w.*
    FROM activity_windows w WHERE key >= 'dim/app_version/' AND key < 'dim/app_version0'
    UNION ALL
    SELECT 'platform', 'dim/platform/', w.*
    FROM activity_windows w WHERE key >= 'dim/platform/' AND key < 'dim/platform0'
    UNION ALL
    SELECT 'deployment_mode', 'dim/deployment_mode/', w.*
    FROM activity_windows w WHERE key >= 'dim/deployment_mode/' AND key < 'dim/deployment_mode0'
    UNION ALL
    SELECT 'country', 'dim/country/', w.*
    FROM activity_windows w WHERE key >= 'dim/country/' AND key < 'dim/country0'
    UNION ALL
    SELECT 'printer_type', 'map/printer_type_counts/', w.*
    FROM activity_windows w
    WHERE key >= 'map/printer_type_counts/' AND key < 'map/printer_type_counts0'
    UNION ALL
    SELECT 'feature', 'flag/feature_usage/', w.*
    FROM activity_windows w WHERE key >= 'flag/feature_usage/' AND key < 'flag/feature_usage0'
    UNION ALL
    SELECT 'error_type', 'map/error_summary/', w.*
    FROM activity_windows w WHERE key >= 'map/error_summary/' AND key < 'map/error_summary0'
) AS cells;
