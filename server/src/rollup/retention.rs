//! Retention: raw reports live `TALLY_RAW_RETENTION_DAYS`, then only the daily tables remain.
//! Whole monthly partitions are dropped (no row-by-row DELETE, no bloat), once no report a
//! partition can hold is still within retention.

use chrono::{Duration, NaiveDate};
use deadpool_postgres::Pool;

use crate::domain::oldest_valid_start;
use crate::store::{self, StoreError};

/// Drops the raw partitions no valid report can start in any more (the partition key is the
/// period's start); returns their names.
#[tracing::instrument(skip(pool))]
pub async fn prune(
    pool: &Pool,
    retention_days: u32,
    today: NaiveDate,
) -> Result<Vec<String>, StoreError> {
    let cutoff = oldest_valid_start(today, Duration::days(i64::from(retention_days)));
    let dropped = store::drop_partitions_before(pool, cutoff).await?;
    for partition in &dropped {
        tracing::info!(%partition, %cutoff, "raw partition dropped");
    }
    Ok(dropped)
}
