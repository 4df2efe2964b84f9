-- A report product's installations are counted for the summary by their rows: a batch counts
-- an installation new when it stores its first row (no other day in `activity`), under a lock
-- per installation that erasure and pruning take too (`store::installation_lock`). The registry
-- (`activity_installations`) now serves the event products alone, whose new and known
-- installations the rollup reads from it. Registering every report took about half of what
-- PostgreSQL spends on a `/submit` report beyond the reference's: 36.2 µs of CPU a report
-- became 31.0 (load-tests/README.md, "Seventeenth session").
--
-- (Stop the instances of the previous version before this runs: an older batch counts an
-- installation new when it registers it, and would count again every installation whose entry
-- this deletes.)

DELETE FROM activity_installations i
WHERE EXISTS (SELECT FROM activity a
              WHERE a.product = i.product AND a.installation_id = i.installation_id
                AND a.report_id IS NOT NULL);
