-- Installations are registered by the batch statement that writes their first report (see
-- UPSERT_BATCH in server/src/store/submissions.rs), and the summary reads the counts alone.
-- The per-second registration and its watermark are gone. Whatever that registration had not
-- reached yet is registered here, and the installations' count is set to the registry's size.
-- (During a rolling upgrade, stop the instances of the old version before this runs: their
-- batches would not register.)

LOCK TABLE submissions IN SHARE MODE;
LOCK TABLE installations IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO installations (product, installation_id)
SELECT DISTINCT product, installation_id FROM submissions
ON CONFLICT DO NOTHING;

UPDATE submission_counts SET installations = 0;

INSERT INTO submission_counts AS c (product, shard, submissions, installations)
SELECT product, 0, 0, count(*) FROM installations GROUP BY product
ON CONFLICT (product, shard) DO UPDATE SET installations = EXCLUDED.installations;

DROP TABLE registration_state;
