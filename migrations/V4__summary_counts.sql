-- /stats/summary is live and exact; counting the raw reports took a second at a year of data.
-- Reports are counted by the writer's batch statement itself. Installations are registered by
-- the rollup, off the write path; the summary adds those in reports received since the
-- rollup's watermark. Erasure and pruning take away in the transaction that removes reports.

-- Installations with stored reports, as of the rollup's last run (ids only, erased with the
-- reports).
CREATE TABLE installations (
    product         text COLLATE "C" NOT NULL,
    installation_id uuid             NOT NULL,
    PRIMARY KEY (product, installation_id)
);

-- Stored reports, registered installations and the latest receipt, as sums over shards:
-- concurrent batches add to different rows instead of queueing on one row lock until commit.
-- A shard alone may go negative (an erasure subtracts from shard 0); only the sum means anything.
CREATE TABLE submission_counts (
    product            text COLLATE "C" NOT NULL,
    shard              smallint         NOT NULL,
    submissions        bigint           NOT NULL,
    installations      bigint           NOT NULL,
    latest_received_at timestamptz,
    PRIMARY KEY (product, shard)
);

INSERT INTO installations (product, installation_id)
SELECT DISTINCT product, installation_id FROM submissions;

INSERT INTO submission_counts (product, shard, submissions, installations, latest_received_at)
SELECT product, 0, count(*), count(DISTINCT installation_id), max(received_at)
FROM submissions GROUP BY product;
