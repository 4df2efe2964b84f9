//! Retention: raw reports live `TALLY_RAW_RETENTION_DAYS`, then only the daily tables remain.
//! Whole monthly partitions are dropped (no row-by-row DELETE, no bloat), once no report a
//! partition can hold is still within retention.

use chrono::{Duration, NaiveDate};
use deadpool_postgres::Pool;

use crate::domain::MAX_PERIOD_DAYS;
use crate::store::{self, StoreError};

/// Drops the raw partitions older than `retention_days` before `today`; returns their names.
/// A partition goes once no report it holds can still be valid: a valid report ends within
/// retention and starts at most `MAX_PERIOD_DAYS` before it ends (the partition key).
#[tracing::instrument(skip(pool))]
pub async fn prune(
    pool: &Pool,
    retention_days: u32,
    today: NaiveDate,
) -> Result<Vec<String>, StoreError> {
    let cutoff = today - Duration::days(i64::from(retention_days) + MAX_PERIOD_DAYS);
    let dropped = store::drop_partitions_before(pool, cutoff).await?;
    for partition in &dropped {
        tracing::info!(%partition, %cutoff, "raw partition dropped");
    }
    Ok(dropped)
}
