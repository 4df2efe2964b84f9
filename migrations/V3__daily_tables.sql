-- The daily tables: what the statistics are read from. They hold no installation ids, only
-- counts per day, and they outlive the raw reports (retention drops raw partitions only).
--
-- Time axis: a report counts on the UTC day its period ends. For a day D and a window of w
-- days (7 or 30), an installation is *active* when it has a report ending in [D-w+1, D]; its
-- attributes that day are those of its latest such report (latest period end, then latest
-- period start). Distributions use the 30-day window, trends the 7-day one.

-- Per day: reports whose period ends that day, and installations whose first report does.
-- Installations known by D = the sum of new_installations up to D.
CREATE TABLE daily_reports (
    product           text    NOT NULL,
    day               date    NOT NULL,
    reports           integer NOT NULL,
    new_installations integer NOT NULL,
    PRIMARY KEY (product, day)
);

-- Per day and window: active installations and the sums of their latest reports' counters.
CREATE TABLE daily_totals (
    product                   text     NOT NULL,
    day                       date     NOT NULL,
    window_days               smallint NOT NULL CHECK (window_days IN (7, 30)),
    installations             integer  NOT NULL,
    printers                  bigint   NOT NULL,
    jobs                      bigint   NOT NULL,
    files                     bigint   NOT NULL,
    uploads                   bigint   NOT NULL,
    uptime_hours              bigint   NOT NULL,
    errors                    bigint   NOT NULL,
    -- Installations whose latest report has total_errors > 0.
    installations_with_errors integer  NOT NULL,
    PRIMARY KEY (product, day, window_days)
);

-- Per day, window, dimension and value, over the active installations' latest reports:
--   version, platform, deployment_mode, country: installations with that value;
--       amount = their jobs.
--   printer_type: installations listing the type; amount = printers of that type.
--   feature: installations reporting the flag; amount = those with it enabled.
--   error_type: installations reporting the key; amount = the sum of its counts.
CREATE TABLE daily_dimensions (
    product       text     NOT NULL,
    day           date     NOT NULL,
    window_days   smallint NOT NULL CHECK (window_days IN (7, 30)),
    dimension     text     NOT NULL,
    value         text     NOT NULL,
    installations integer  NOT NULL,
    amount        bigint   NOT NULL,
    PRIMARY KEY (product, window_days, dimension, day, value)
);

-- Ingest outcomes per day already live in ingest_outcomes (V2), written by the server.

-- When the daily tables were last brought up to date, and from where the next run looks for
-- reports received since (received_at, with a safety margin).
CREATE TABLE rollup_state (
    product   text        PRIMARY KEY,
    rolled_at timestamptz NOT NULL,
    watermark timestamptz NOT NULL
);

-- Days whose reports were deleted (erasure) and must be rolled again.
CREATE TABLE rollup_dirty_days (
    product text NOT NULL,
    day     date NOT NULL,
    PRIMARY KEY (product, day)
);

-- Finds reports received since the last run without a B-tree on the hot insert path: a BRIN
-- index costs almost nothing to maintain, and rows arrive in received_at order.
CREATE INDEX submissions_received_at_brin ON submissions USING brin (received_at);
