-- Every product but Printernizer (whose typed reports stay in `submissions`): one row per
-- installation per UTC day, its numbers under keys (see server/src/domain/activity.rs).
-- Events are added into the row; a daily report replaces it. No row per event, no event text.
CREATE TABLE activity (
    product         text COLLATE "C" NOT NULL,
    -- The client's anonymous id: 8-64 characters of A-Z a-z 0-9 - _ (checked before storing).
    installation_id text COLLATE "C" NOT NULL,
    day             date             NOT NULL,
    received_at     timestamptz      NOT NULL,
    -- {"event/app_opened": 3, "dim/app_opened.language/en": 3, "measure/x/sum": 12.5, ...}
    counts          jsonb            NOT NULL,
    PRIMARY KEY (product, installation_id, day)
);
-- The rollup finds the days changed since its watermark; retention deletes by day.
CREATE INDEX activity_received_at ON activity (product, received_at);
CREATE INDEX activity_day ON activity (product, day);

-- Installations seen per product and the first day each was: new and known installations.
-- Kept past raw retention, like Printernizer's `installations`.
CREATE TABLE activity_installations (
    product         text COLLATE "C" NOT NULL,
    installation_id text COLLATE "C" NOT NULL,
    first_day       date             NOT NULL,
    PRIMARY KEY (product, installation_id)
);
CREATE INDEX activity_installations_first_day ON activity_installations (product, first_day);

-- Digests of the event batches counted lately: a resent batch is counted once. Pruned after
-- two days (a client retries within minutes).
CREATE TABLE batch_fingerprints (
    product     text COLLATE "C" NOT NULL,
    fingerprint bytea            NOT NULL,
    received_on date             NOT NULL,
    PRIMARY KEY (product, fingerprint)
);

-- The daily tables of `activity`. Per day and key: the sum over installations, and how many
-- installations had the key.
CREATE TABLE activity_daily (
    product       text COLLATE "C" NOT NULL,
    day           date             NOT NULL,
    key           text COLLATE "C" NOT NULL,
    amount        double precision NOT NULL,
    installations integer          NOT NULL,
    PRIMARY KEY (product, day, key)
);

-- Per day and window (1, 7 or 30 days ending that day): installations active in it, by key:
-- '' = any activity, 'event/<type>' = installations with such an event.
CREATE TABLE activity_windows (
    product       text COLLATE "C" NOT NULL,
    day           date             NOT NULL,
    window_days   smallint         NOT NULL CHECK (window_days IN (1, 7, 30)),
    key           text COLLATE "C" NOT NULL,
    installations integer          NOT NULL,
    PRIMARY KEY (product, window_days, key, day)
);

-- Adds two rows' numbers key by key: how events fold into a stored day.
CREATE FUNCTION tally_add_counts(stored jsonb, added jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb)
    FROM (
        SELECT key, sum(value::numeric) AS total
        FROM (SELECT * FROM jsonb_each(stored) UNION ALL SELECT * FROM jsonb_each(added)) AS both_rows
        GROUP BY key
    ) AS sums
$$;
