//! Retention: raw reports live `TALLY_RAW_RETENTION_DAYS`, then only the daily tables remain.
//! Whole monthly partitions are dropped (no row-by-row DELETE, no bloat), once every report a
//! partition can hold started before the cutoff.

use chrono::{Duration, NaiveDate};
use deadpool_postgres::Pool;

use crate::store::{self, StoreError};

/// Drops the raw partitions older than `retention_days` before `today`; returns their names.
#[tracing::instrument(skip(pool))]
pub async fn prune(
    pool: &Pool,
    retention_days: u32,
    today: NaiveDate,
) -> Result<Vec<String>, StoreError> {
    let cutoff = today - Duration::days(i64::from(retention_days));
    let dropped = store::drop_partitions_before(pool, cutoff).await?;
    for partition in &dropped {
        tracing::info!(%partition, %cutoff, "raw partition dropped");
    }
    Ok(dropped)
}
