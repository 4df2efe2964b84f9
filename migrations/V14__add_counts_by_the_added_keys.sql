-- Adds only the keys of the added row into the stored one (`||` keeps the rest as it is), where
-- V8's version took both rows apart and summed every key: its cost grew with the stored row, that
-- is with every key the installation had used that day, and a 300-key row cost about 6 times
-- as much as now (load-tests/README.md, "Where the remaining microseconds go"). Same results:
-- sums stay `numeric`, keys missing on one side count as 0.
CREATE OR REPLACE FUNCTION tally_add_counts(stored jsonb, added jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT stored || coalesce(
        (SELECT jsonb_object_agg(a.key, coalesce((stored -> a.key)::numeric, 0) + a.value::numeric)
         FROM jsonb_each(added) AS a),
        '{}'::jsonb)
$$;
