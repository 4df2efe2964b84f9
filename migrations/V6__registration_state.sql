-- Installations are registered for /stats/summary by a task that runs every second, off the
-- write path (it was the rollup's job, once per roll interval). The summary adds at read time
-- only the installations of reports received since this watermark: a second's worth.
CREATE TABLE registration_state (
    product   text COLLATE "C" PRIMARY KEY,
    watermark timestamptz      NOT NULL
);

-- Installations were registered up to the rollup's watermark.
INSERT INTO registration_state (product, watermark)
SELECT product, watermark FROM rollup_state;
