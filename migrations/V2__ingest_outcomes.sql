-- What happened to the requests /submit received, per day received (UTC) and reason:
-- accepted, duplicate, rejected by reason, rate limited, unavailable, unknown fields dropped.
-- Counts only; nothing about who sent them.
CREATE TABLE ingest_outcomes (
    product text   NOT NULL,
    day     date   NOT NULL,
    outcome text   NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (product, day, outcome)
);
