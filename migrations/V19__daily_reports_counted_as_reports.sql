-- A product that sends daily reports (IndexPilot's format) is counted as reports are, as
-- Printernizer's weekly ones are since V18: its windows count every key of its reports, each
-- installation by its latest report in the window, and its days (reports, new installations)
-- go to `daily_reports`. Its days' sums in `activity_daily` go: one report a day per
-- installation makes them its 1-day window.
--
-- Such a product is known by its sums: it has some, and none of events (an event product's
-- rows always hold events), and no days in `daily_reports` (Printernizer's).
--
-- The days whose rows are still stored are marked for the next rollup run, which counts their
-- 7- and 30-day windows of every key; older days keep their 1-day figures and their windows of
-- any activity.
-- (During a rolling upgrade, stop the instances of the previous version before this runs:
-- their rollup would write this product's sums again.)

CREATE TEMPORARY TABLE daily_report_products AS
SELECT DISTINCT w.product
FROM activity_windows w
WHERE w.window_days = 1 AND w.key = ''
  AND EXISTS (SELECT 1 FROM activity_daily d WHERE d.product = w.product)
  AND NOT EXISTS (SELECT 1 FROM activity_daily d
                  WHERE d.product = w.product AND d.key >= 'event/' AND d.key < 'event0')
  AND NOT EXISTS (SELECT 1 FROM daily_reports r WHERE r.product = w.product);

INSERT INTO activity_windows (product, day, window_days, key, installations, positive, amount)
SELECT d.product, d.day, 1, d.key, d.installations, NULL, d.amount
FROM activity_daily d JOIN daily_report_products USING (product);

-- Every day from the first to the last rolled one (known installations are the sum of the
-- new ones up to a day).
INSERT INTO daily_reports (product, day, reports, new_installations)
SELECT p.product, on_day::date,
       coalesce((SELECT w.installations FROM activity_windows w
                 WHERE w.product = p.product AND w.window_days = 1 AND w.key = ''
                   AND w.day = on_day::date), 0),
       (SELECT count(*) FROM activity_installations i
        WHERE i.product = p.product AND i.first_day = on_day::date)
FROM daily_report_products p
CROSS JOIN LATERAL generate_series(
    (SELECT min(w.day) FROM activity_windows w
     WHERE w.product = p.product AND w.window_days = 1 AND w.key = ''),
    (SELECT max(w.day) FROM activity_windows w
     WHERE w.product = p.product AND w.window_days = 1 AND w.key = ''),
    interval '1 day') AS on_day;

INSERT INTO rollup_dirty_days (product, day)
SELECT DISTINCT a.product, a.day FROM activity a JOIN daily_report_products USING (product)
ON CONFLICT (product, day) DO UPDATE SET mark = nextval('rollup_dirty_days_mark');

DELETE FROM activity_daily WHERE product IN (SELECT product FROM daily_report_products);
DROP TABLE daily_report_products;
