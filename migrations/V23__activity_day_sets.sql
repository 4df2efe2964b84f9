-- An event product's windows count the installations active in the 1, 7 and 30 days ending a
-- day. Counted from the rows, today's windows read every installation's last 30 days whatever
-- changed: 3 million rows and 23 s a run at 100,000 installations (load-tests/README.md). The
-- rollup now keeps, per day and event type (and '' for any activity), the set of installations
-- active that day, as a serialized roaring bitmap of their numbers; a window is the size of its
-- days' union, and a run rebuilds only the sets of the days whose rows changed. A day's '' set
-- is written even when empty: it says the day's sets are built, so the days of an upgraded
-- database are built on the first run that needs them.
--
-- Numbers are the rollup's own (it alone writes here, under its lock), erased with the
-- installation; a number is never reused.
CREATE TABLE activity_installation_numbers (
    product         text COLLATE "C" NOT NULL,
    installation_id text COLLATE "C" NOT NULL,
    number          integer GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (product, installation_id)
);

CREATE TABLE activity_day_sets (
    product       text COLLATE "C" NOT NULL,
    day           date             NOT NULL,
    key           text COLLATE "C" NOT NULL,
    installations bytea            NOT NULL,
    PRIMARY KEY (product, day, key)
);
