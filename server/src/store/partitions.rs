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
