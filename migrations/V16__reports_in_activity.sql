-- One store for every product: Printernizer's weekly reports become rows of `activity`, each
-- the installation's report on the UTC day its period ends, its numbers under the keys of the
-- fields `printernizer.toml` declares (server/src/domain/adapters/printernizer/mod.rs). The
-- typed `submissions` table, its monthly partitions and its own registry go.
--
-- A report's identity is now its installation and day: a later report ending on the same day
-- replaces the earlier one (before, two reports with different starts were both kept). Of such
-- reports, the latest (by end, then start) is kept here, as the rollup counted it.
--
-- (During a rolling upgrade, stop the instances of the previous version before this runs:
-- they write to and erase from `submissions`.)

-- What a report with a period says of itself besides its numbers. Set for such reports only;
-- `report_id` is given on insert and kept by a resend (the `submission_id` answered).
ALTER TABLE activity
    ADD COLUMN report_id    bigint,
    ADD COLUMN period_start timestamptz,
    ADD COLUMN period_end   timestamptz,
    ADD CHECK ((report_id IS NULL) = (period_end IS NULL) AND (period_start IS NULL) = (period_end IS NULL)),
    ADD CHECK (period_start < period_end);

LOCK TABLE submissions IN SHARE MODE;

INSERT INTO activity (product, installation_id, day, received_at, counts, report_id,
                      period_start, period_end)
SELECT DISTINCT ON (s.product, s.installation_id, (s.period_end AT TIME ZONE 'UTC')::date)
    s.product, s.installation_id::text, (s.period_end AT TIME ZONE 'UTC')::date, s.received_at,
    jsonb_build_object(
        'dim/app_version/' || s.app_version, 1,
        'dim/platform/' || s.platform, 1,
        'dim/deployment_mode/' || s.deployment_mode, 1,
        'dim/country/' || s.country_code, 1,
        'counter/printer_count', s.printer_count,
        'counter/job_count', s.job_count,
        'counter/file_count', s.file_count,
        'counter/upload_count', s.upload_count,
        'counter/uptime_hours', s.uptime_hours)
    || CASE WHEN s.python_version IS NULL THEN '{}'::jsonb
            ELSE jsonb_build_object('dim/python_version/' || s.python_version, 1) END
    || coalesce((SELECT jsonb_object_agg('map/printer_type_counts/' || key, value)
                 FROM jsonb_each(s.printer_type_counts)), '{}'::jsonb)
    || coalesce((SELECT jsonb_object_agg('flag/feature_usage/' || key,
                                         CASE WHEN value = 'true'::jsonb THEN 1 ELSE 0 END)
                 FROM jsonb_each(s.feature_usage)), '{}'::jsonb)
    || coalesce((SELECT jsonb_object_agg('map/error_summary/' || key, value)
                 FROM jsonb_each(s.error_summary)), '{}'::jsonb),
    s.submission_id, s.period_start, s.period_end
FROM submissions s
ORDER BY s.product, s.installation_id, (s.period_end AT TIME ZONE 'UTC')::date,
         s.period_end DESC, s.period_start DESC;

-- The registry of every product, with the day of each installation's first stored report. An
-- installation whose reports were all pruned was first seen before any day still stored.
INSERT INTO activity_installations (product, installation_id, first_day)
SELECT i.product, i.installation_id::text,
       coalesce((SELECT min(a.day) FROM activity a
                 WHERE a.product = i.product AND a.installation_id = i.installation_id::text),
                (SELECT min(d.day) FROM daily_reports d WHERE d.product = i.product),
                current_date)
FROM installations i
ON CONFLICT (product, installation_id) DO NOTHING;

-- The summary's counts, as the writer now keeps them: reports stored and installations
-- registered, for the products whose reports have periods.
DELETE FROM submission_counts;
INSERT INTO submission_counts (product, submissions, installations, latest_received_at)
SELECT a.product, count(*),
       (SELECT count(*) FROM activity_installations r WHERE r.product = a.product),
       max(a.received_at)
FROM activity a WHERE a.report_id IS NOT NULL GROUP BY a.product;

-- Every day still backed by reports is rolled again from its new rows.
INSERT INTO rollup_dirty_days (product, day)
SELECT DISTINCT product, day FROM activity WHERE report_id IS NOT NULL
ON CONFLICT (product, day) DO UPDATE SET mark = nextval('rollup_dirty_days_mark');

-- The ids go on from where they were: a resent report keeps its id, a new one gets the next.
ALTER SEQUENCE submission_id_seq OWNED BY activity.report_id;
DROP TABLE submissions;
DROP TABLE installations;
DROP FUNCTION tally_ensure_month_partition(date);
