-- Printernizer's daily tables get a 1-day window beside 7 and 30 (`/api/v1/metrics/
-- active_installations?window=1`: installations with a report ending that day). Every day
-- still backed by raw reports is marked for the next rollup run, which computes all three
-- windows again; days whose reports were pruned keep 7 and 30 only.
ALTER TABLE daily_totals DROP CONSTRAINT daily_totals_window_days_check;
ALTER TABLE daily_totals ADD CONSTRAINT daily_totals_window_days_check
    CHECK (window_days IN (1, 7, 30));
ALTER TABLE daily_dimensions DROP CONSTRAINT daily_dimensions_window_days_check;
ALTER TABLE daily_dimensions ADD CONSTRAINT daily_dimensions_window_days_check
    CHECK (window_days IN (1, 7, 30));

INSERT INTO rollup_dirty_days (product, day)
SELECT DISTINCT product, day FROM daily_reports
ON CONFLICT (product, day) DO UPDATE SET mark = nextval('rollup_dirty_days_mark');
