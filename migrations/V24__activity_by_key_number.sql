-- Every stored day now holds its counts as the appended rows have since V21: the numbers of its
-- keys (`activity_key_names`) in ascending order and their amounts, two arrays, where it held
-- a `jsonb` object. A report was about 600 bytes of `jsonb` that PostgreSQL parsed on every
-- insert; a year of an event product's days was two reads of 34 GB at 100,000 installations,
-- more than the page cache holds (load-tests/README.md, "Sixteenth session"). Readers in SQL
-- keep `activity_rows`, which shows every day's counts as `jsonb`, as before.
--
-- (Stop the instances of the previous version before this runs: they write `counts`, which is
-- gone. Every row is rewritten once; `VACUUM FULL activity` afterwards returns the old rows'
-- space to the operating system.)

INSERT INTO activity_key_names (name)
SELECT DISTINCT key FROM activity, jsonb_object_keys(counts) AS key ORDER BY key
ON CONFLICT (name) DO NOTHING;

DROP VIEW activity_rows;

ALTER TABLE activity
    ADD COLUMN keys    integer[],
    ADD COLUMN amounts float8[],
    ALTER COLUMN counts DROP NOT NULL;

-- `counts` set to null in the same update, so that the rewritten rows do not carry it.
UPDATE activity AS a
SET (keys, amounts, counts) = (
    SELECT coalesce(array_agg(n.id ORDER BY n.id), '{}'),
           coalesce(array_agg(e.value::float8 ORDER BY n.id), '{}'),
           NULL::jsonb
    FROM jsonb_each_text(a.counts) AS e JOIN activity_key_names n ON n.name = e.key);

ALTER TABLE activity
    DROP COLUMN counts,
    ALTER COLUMN keys SET NOT NULL,
    ALTER COLUMN amounts SET NOT NULL,
    ADD CHECK (cardinality(keys) = cardinality(amounts));

-- Every stored day, folded or not, its counts as `jsonb` (see V15), each amount the number Tally
-- wrote before: the shortest text that reads back as the same float8, a whole number with one
-- decimal (6.0), as `serde_json` writes them.
CREATE VIEW activity_rows AS
    SELECT a.product, a.installation_id, a.day, a.received_at,
           (SELECT coalesce(jsonb_object_agg(n.name,
                CASE WHEN counted.amount = trunc(counted.amount)
                     THEN round(counted.amount::numeric, 1)
                     ELSE counted.amount::text::numeric END), '{}')
            FROM unnest(a.keys, a.amounts) AS counted(id, amount)
            JOIN activity_key_names n ON n.id = counted.id) AS counts
    FROM (SELECT product, installation_id, day, received_at, keys, amounts FROM activity
          UNION ALL
          SELECT product, installation_id, day, received_at, keys, amounts FROM activity_added)
        AS a;
