-- `activity_daily` is read by key over a range of days (a dimension's values, a measure's
-- buckets, a counter over a year): with the key before the day, each read is one index range
-- per key instead of every key of every day in the range (a year of a dimension: 6.5 ms ->
-- 1.9 ms at 2,000 installations, load-tests/README.md). The rollup replaces whole days, which
-- it now finds by a scan of the product's keys: a few thousand entries a year.
ALTER TABLE activity_daily
    DROP CONSTRAINT activity_daily_pkey,
    ADD PRIMARY KEY (product, key, day);
