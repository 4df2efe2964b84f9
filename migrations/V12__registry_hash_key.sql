-- The registry is probed and added to once per new report: a hash index finds an id's entry
-- with one page read where the B-tree walked three (measured: README "Throughput"). Hash
-- indexes take one column and cannot be unique, so the key is an exclusion constraint on the
-- id alone, which `ON CONFLICT DO NOTHING` honours as it did the primary key. The product is
-- not part of it: the registry holds the installations of `submissions`, Printernizer's.
ALTER TABLE installations
    DROP CONSTRAINT installations_pkey,
    ADD CONSTRAINT installations_key EXCLUDE USING hash (installation_id WITH =);
