#!/bin/sh
# Makes (or updates) the login role of Grafana's PostgreSQL data source: SELECT on Tally's
# daily tables and nothing else. Never the raw rows (`activity`, `activity_added`) or the
# registry, which hold installation ids. Run with libpq's PG* variables pointing at Tally's
# database as its owner; it waits until `tally serve` has migrated it, and may run again.
set -eu
: "${GRAFANA_DB_PASSWORD:?set GRAFANA_DB_PASSWORD (the data source's password)}"
role=${GRAFANA_DB_USER:-grafana_reader}

tries=0
until [ "$(psql -Atqc "SELECT to_regclass('activity_windows') IS NOT NULL" 2>/dev/null)" = t ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 150 ]; then
        echo "grant-read-only.sh: Tally's tables did not appear in 5 minutes" >&2
        exit 1
    fi
    sleep 2
done

psql -v ON_ERROR_STOP=1 -qX -v role="$role" -v password="$GRAFANA_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
ALTER ROLE :"role" SET default_transaction_read_only = on;
ALTER ROLE :"role" SET statement_timeout = '30s';
SELECT format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), :'role') \gexec
GRANT SELECT ON daily_reports, daily_totals, daily_dimensions, ingest_outcomes, rollup_state,
    activity_daily, activity_windows
    TO :"role";
SQL
echo "grant-read-only.sh: $role may read the daily tables"
