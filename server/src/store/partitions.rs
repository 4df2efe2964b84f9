use chrono::{Datelike, Months, NaiveDate};
use deadpool_postgres::Pool;

use super::StoreError;

/// The partition lock's class; the second key is the schema, as for the rollup's lock.
const PARTITION_LOCK: i32 = 0x746c_7061; // "tlpa"

/// Makes sure a monthly partition of `submissions` exists for every month from `from` to `to`.
/// Creating partitions takes a lock on the parent, so instances do it one at a time.
pub async fn ensure_partitions(
    pool: &Pool,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(), StoreError> {
    let mut conn = pool.get().await?;
    let tx = conn.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
        &[&PARTITION_LOCK],
    )
    .await?;
    let ensure = tx
        .prepare("SELECT tally_ensure_month_partition($1)")
        .await?;
    let mut month = from.with_day(1).unwrap_or(from);
    while month <= to {
        tx.execute(&ensure, &[&month]).await?;
        month = month + Months::new(1);
    }
    tx.commit().await?;
    Ok(())
}

/// Drops every monthly partition of `submissions` whose months end on or before `cutoff`, and
/// takes their reports (and the installations left with none) out of the summary's counts;
/// returns their names. Holds `submissions` exclusively meanwhile, so no batch or erasure runs
/// in between; a bounded `lock_timeout` keeps writers from queueing behind a long wait for it
/// (the next day tries again).
pub async fn drop_partitions_before(
    pool: &Pool,
    cutoff: NaiveDate,
) -> Result<Vec<String>, StoreError> {
    let mut conn = pool.get().await?;
    let tx = conn.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
        &[&PARTITION_LOCK],
    )
    .await?;
    let rows = tx
        .query(
            "SELECT c.relname::text,
                    to_date(substring(c.relname from 'submissions_(\\d{4}_\\d{2})$'), 'YYYY_MM')
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'submissions'::regclass",
            &[],
        )
        .await?;
    let mut doomed = Vec::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        let month: Option<NaiveDate> = row.try_get(1)?;
        if month.is_some_and(|month| month + Months::new(1) <= cutoff) {
            doomed.push(name);
        }
    }
    if doomed.is_empty() {
        return Ok(doomed);
    }
    doomed.sort();
    let quoted: Vec<String> = doomed
        .iter()
        .map(|name| format!("\"{}\"", name.replace('"', "\"\"")))
        .collect();
    tx.batch_execute(
        "SET LOCAL lock_timeout = '5s'; LOCK TABLE submissions IN ACCESS EXCLUSIVE MODE",
    )
    .await?;
    let reports = quoted
        .iter()
        .map(|table| format!("SELECT product, installation_id FROM ONLY {table}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE pruned ON COMMIT DROP AS
         SELECT product, installation_id, count(*) AS reports FROM ({reports}) AS r GROUP BY 1, 2"
    ))
    .await?;
    for table in &quoted {
        tx.batch_execute(&format!("DROP TABLE {table}")).await?;
    }
    tx.batch_execute(
        "WITH orphans AS (
             DELETE FROM installations i USING pruned p
             WHERE i.product = p.product AND i.installation_id = p.installation_id
               AND NOT EXISTS (SELECT 1 FROM submissions s
                               WHERE s.product = p.product
                                 AND s.installation_id = p.installation_id)
             RETURNING i.product),
         gone AS (SELECT product, sum(reports) AS reports FROM pruned GROUP BY product)
         INSERT INTO submission_counts (product, submissions, installations)
         SELECT g.product, -g.reports, -(SELECT count(*) FROM orphans o WHERE o.product = g.product)
         FROM gone g",
    )
    .await?;
    tx.commit().await?;
    Ok(doomed)
}
