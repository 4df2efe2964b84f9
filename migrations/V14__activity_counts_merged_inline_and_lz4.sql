-- Adding a batch into a stored day was the activity writer's largest cost: about 130 µs a row at
-- 40 keys (load-tests/README.md, "Where the remaining microseconds go"). Two parts of it go:
--
-- - V8's `tally_add_counts` took both rows apart and summed every key. The writer now adds only
--   the batch's keys into the stored row, inline in its statement (`||` keeps the rest), which
--   also saves the SQL function's call.
-- - A day's row passes 2 kB after a few dozen keys, and each update decompressed and
--   recompressed it with pglz. lz4 does the same about twice as fast. Values written before
--   keep pglz until their next update; both read the same.
--
-- Measured on 10,000 stored days of 40 keys, 12 keys added to each: 130 µs a row before,
-- 63 µs after.
--
-- (During a rolling upgrade, stop the instances of the previous version before this runs:
-- their writer calls the function dropped here.)
DROP FUNCTION tally_add_counts(jsonb, jsonb);

-- A PostgreSQL built without lz4 keeps pglz: slower, the same results.
DO $$
BEGIN
    ALTER TABLE activity ALTER COLUMN counts SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: activity.counts stays compressed with pglz';
END
$$;
