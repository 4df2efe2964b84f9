-- Each batch adds a row of its own counts instead of updating a shared one: a plain insert where
-- the update of a row (its lock, a new version, the aggregate's second pass) cost about 25 µs a
-- batch (README "Throughput"). The upkeep task folds the rows into one per product every few
-- seconds, so the summary stays a sum over a few rows; it reads whatever is there, before or
-- after a fold, with the same result. The rows no longer need a key, nor shards to keep
-- concurrent batches off one row lock.
-- (During a rolling upgrade, stop the instances of the previous version before this runs:
-- their batches add to the counts by the key dropped here.)
ALTER TABLE submission_counts DROP CONSTRAINT submission_counts_pkey;
ALTER TABLE submission_counts DROP COLUMN shard;
