//! Retention: each product's raw rows (`activity`) live its `retention_days` (else
//! `TALLY_RAW_RETENTION_DAYS`), then only the daily tables remain. They are deleted by day.

use chrono::{Duration, NaiveDate};
use deadpool_postgres::Pool;

use super::kept_from;
use crate::domain::Catalog;
use crate::store::{self, StoreError};

/// How long a batch's fingerprint is kept: a client retries within minutes.
const FINGERPRINT_DAYS: i64 = 2;

/// Deletes each product's raw rows older than its retention and the batch fingerprints older
/// than two days; returns the rows deleted. The daily tables and the registry stay.
#[tracing::instrument(skip(pool, catalog))]
pub async fn prune(
    pool: &Pool,
    catalog: &Catalog,
    retention_days: u32,
    today: NaiveDate,
) -> Result<u64, StoreError> {
    let mut client = pool.get().await?;
    let mut deleted = 0;
    for product in catalog.products() {
        let cutoff = kept_from(product, retention_days, today);
        let rows = store::delete_activity_before(&mut client, product.name(), cutoff).await?;
        if rows > 0 {
            tracing::info!(product = product.name(), rows, %cutoff, "raw activity deleted");
        }
        deleted += rows;
    }
    store::delete_fingerprints_before(&client, today - Duration::days(FINGERPRINT_DAYS)).await?;
    Ok(deleted)
}
