//! Retention: raw reports live `TALLY_RAW_RETENTION_DAYS`, then only the daily tables remain.
//! Whole monthly partitions are dropped (no row-by-row DELETE, no bloat), once no report a
//! partition can hold is still within retention. The other products' rows (`activity`) are
//! deleted by day, each product after its own `retention_days` (else the global one).

use chrono::{Duration, NaiveDate};
use deadpool_postgres::Pool;

use super::{activity, activity_products, retention_of};
use crate::domain::{oldest_valid_start, Catalog};
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

/// How long a batch's fingerprint is kept: a client retries within minutes.
const FINGERPRINT_DAYS: i64 = 2;

/// Deletes each activity product's raw rows older than its retention and the batch
/// fingerprints older than two days; returns the rows deleted. The daily tables stay.
#[tracing::instrument(skip(pool, catalog))]
pub async fn prune_activity(
    pool: &Pool,
    catalog: &Catalog,
    retention_days: u32,
    today: NaiveDate,
) -> Result<u64, StoreError> {
    let client = pool.get().await?;
    let mut deleted = 0;
    for product in activity_products(catalog) {
        let cutoff = activity::kept_from(today, retention_of(product, retention_days));
        let rows = store::delete_activity_before(&client, product.name(), cutoff).await?;
        if rows > 0 {
            tracing::info!(product = product.name(), rows, %cutoff, "raw activity deleted");
        }
        deleted += rows;
    }
    store::delete_fingerprints_before(&client, today - Duration::days(FINGERPRINT_DAYS)).await?;
    Ok(deleted)
}
