-- A rollup run removes only the marks it read. An erasure that marks a day again while a run is
-- rolling it gives the mark a new number, so the run's unmarking (by number) leaves it for the
-- next run. A time would not do: an erasure's statement can start before a run reads the marks
-- and commit after it.
CREATE SEQUENCE rollup_dirty_days_mark;

-- Existing marks each get a number too (the default is evaluated per row).
ALTER TABLE rollup_dirty_days
    ADD COLUMN mark bigint NOT NULL DEFAULT nextval('rollup_dirty_days_mark');

ALTER SEQUENCE rollup_dirty_days_mark OWNED BY rollup_dirty_days.mark;
