-- Events were added into one row per installation and day inside the request's transaction.
-- That update of a row that grows (its lock, a new version of a compressed jsonb) was the
-- event path's largest cost, about 100 µs a row after V14, where inserting a batch's own counts
-- costs about 19 µs (load-tests/README.md, "Where the remaining microseconds go").
--
-- A batch's counts are now appended to `activity_added`, a heap with no key and no index, and
-- each rollup run first folds them into `activity` (every TALLY_ROLLUP_INTERVAL_SECS, a minute
-- by default), as V13 does for the summary counts. The fold adds a minute of batches of an
-- installation's day at once, and stamps the day `received_at = now()`, so the run that folded
-- it rolls the day. Daily reports still replace their day's row in `activity` at once.
--
-- (During a rolling upgrade, stop the instances of the previous version before this runs:
-- their erasure and access read `activity` alone, and miss the rows not folded yet.)
CREATE TABLE activity_added (
    product         text COLLATE "C" NOT NULL,
    installation_id text COLLATE "C" NOT NULL,
    day             date             NOT NULL,
    received_at     timestamptz      NOT NULL,
    counts          jsonb            NOT NULL
);

-- Every stored day, folded or not: until the fold, a day has more than one row, which a reader
-- of this view sums (access, tests).
CREATE VIEW activity_rows AS
    SELECT product, installation_id, day, received_at, counts FROM activity
    UNION ALL
    SELECT product, installation_id, day, received_at, counts FROM activity_added;
