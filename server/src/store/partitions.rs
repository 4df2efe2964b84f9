use chrono::{Datelike, Months, NaiveDate};
use deadpool_postgres::Pool;

use super::StoreError;

const PARTITION_LOCK: i64 = 0x7461_6c6c_7970_6172; // "tallypar"

/// Makes sure a monthly partition of `submissions` exists for every month from `from` to `to`.
/// Creating partitions takes a lock on the parent, so instances do it one at a time.
pub async fn ensure_partitions(
    pool: &Pool,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(), StoreError> {
    let mut conn = pool.get().await?;
    let tx = conn.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
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

/// Drops every monthly partition of `submissions` whose months end on or before `cutoff`;
/// returns their names. Dropping takes a short exclusive lock on the parent: a bounded
/// `lock_timeout` keeps writers from queueing behind it (the next day tries again).
pub async fn drop_partitions_before(
    pool: &Pool,
    cutoff: NaiveDate,
) -> Result<Vec<String>, StoreError> {
    let mut conn = pool.get().await?;
    let tx = conn.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
        .await?;
    tx.batch_execute("SET LOCAL lock_timeout = '5s'").await?;
    let rows = tx
        .query(
            "SELECT c.relname::text,
                    to_date(substring(c.relname from 'submissions_(\\d{4}_\\d{2})$'), 'YYYY_MM')
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'submissions'::regclass",
            &[],
        )
        .await?;
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        let month: Option<NaiveDate> = row.try_get(1)?;
        if month.is_some_and(|month| month + Months::new(1) <= cutoff) {
            tx.batch_execute(&format!("DROP TABLE \"{}\"", name.replace('"', "\"\"")))
                .await?;
            dropped.push(name);
        }
    }
    tx.commit().await?;
    dropped.sort();
    Ok(dropped)
}
