-- One row per weekly report: (product, installation_id, period_start) is the report's identity,
-- so a retry of the same period overwrites it (latest wins) and keeps its submission id.
-- Nothing here can hold an address, a user agent, a key or a field we do not know.

CREATE SEQUENCE submission_id_seq AS bigint;

CREATE TABLE submissions (
    -- "C": the key's text is compared byte-wise, whatever the database's locale.
    product             text        COLLATE "C" NOT NULL,
    installation_id     uuid        NOT NULL,
    period_start        timestamptz NOT NULL,
    period_end          timestamptz NOT NULL,
    -- The id survives overwrites: it is assigned on first insert only.
    submission_id       bigint      NOT NULL DEFAULT nextval('submission_id_seq'),
    received_at         timestamptz NOT NULL,
    -- How many times this report arrived: 1, or more after retries. (RETURNING cannot read
    -- xmax from a partitioned table, and the writer must tell a new report from a retry.)
    receipts            integer     NOT NULL DEFAULT 1,
    app_version         text        NOT NULL,
    python_version      text,
    platform            text        NOT NULL,
    deployment_mode     text        NOT NULL,
    country_code        text        NOT NULL,
    first_seen          timestamptz,
    printer_count       integer     NOT NULL,
    job_count           integer     NOT NULL,
    file_count          integer     NOT NULL,
    upload_count        integer     NOT NULL,
    uptime_hours        integer     NOT NULL,
    total_errors        integer     NOT NULL,
    -- Small maps keyed by plain identifiers (checked before storing): {"bambu_lab": 2}
    printer_type_counts jsonb       NOT NULL,
    feature_usage       jsonb       NOT NULL,
    error_summary       jsonb       NOT NULL,
    -- Postgres requires the partition key in every unique key.
    PRIMARY KEY (product, installation_id, period_start),
    CHECK (period_start < period_end)
) PARTITION BY RANGE (period_start);

ALTER SEQUENCE submission_id_seq OWNED BY submissions.submission_id;

-- The rollup reads by the day a report's period ends. Reports arrive roughly in that order, so
-- a BRIN index serves it at a fraction of a B-tree's cost on the write path.
CREATE INDEX submissions_period_end_brin ON submissions USING brin (period_end);

-- Creates the monthly partition holding `month` if it is missing. Retention drops whole
-- partitions instead of deleting rows.
CREATE FUNCTION tally_ensure_month_partition(month date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    first_day date := date_trunc('month', month)::date;
    name text := 'submissions_' || to_char(first_day, 'YYYY_MM');
BEGIN
    IF to_regclass(quote_ident(name)) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF submissions FOR VALUES FROM (%L) TO (%L)',
            name,
            first_day::timestamp AT TIME ZONE 'UTC',
            (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC');
    END IF;
END;
$$;
