-- Every event request probes and inserts its batch's fingerprint: a hash index finds a digest
-- with one page read where the B-tree, keyed by the product's name and then 32 random bytes,
-- walked three and split pages all over (the registry measured the same change, V12). The
-- digest covers the product (`Fingerprint::of`), so the digest alone is the key: an exclusion
-- constraint, which `ON CONFLICT DO NOTHING` honours as it did the primary key.
--
-- (During a rolling upgrade, stop the instances of the previous version before this runs: their
-- insert names the primary key's columns, which no longer make a unique index.)
ALTER TABLE batch_fingerprints
    DROP CONSTRAINT batch_fingerprints_pkey,
    ADD CONSTRAINT batch_fingerprints_key EXCLUDE USING hash (fingerprint WITH =);
