//! The lock on an installation's place in the summary's count of installations
//! (`submission_counts`): a batch storing a counted report of it, its erasure and the prune
//! that may leave it without rows each hold it, until their transaction ends, before they
//! touch its rows. Each then reads the others' rows as committed: a batch counts an
//! installation new when it has no other day, the erasure and the prune take one off when
//! they leave it none. Without it, two batches of first reports of one installation on two
//! days would each count it (neither sees the other's row).
//!
//! An advisory lock per installation (the one-key form, apart from the two-key locks of the
//! rollup and the reports), seeded by the schema as those are; a hash shared by two
//! installations only makes them wait for each other.

use deadpool_postgres::GenericClient;
use tokio_postgres::Statement;

use super::StoreError;

/// Takes the locks of `installations` (of `products`, pairwise).
pub async fn lock_installations(
    client: &impl GenericClient,
    products: &[&str],
    installations: &[&str],
) -> Result<(), StoreError> {
    let lock = statement(client).await?;
    client.execute(&lock, &[&products, &installations]).await?;
    Ok(())
}

/// The statement that takes the locks of the installations `$2` (of the products `$1`,
/// pairwise), in one order whatever order they are given in, so that two holders of several
/// never wait for each other in a circle.
pub async fn statement(client: &impl GenericClient) -> Result<Statement, StoreError> {
    Ok(client
        .prepare_cached(
            "SELECT count(pg_advisory_xact_lock(key)) FROM (
                 SELECT DISTINCT hashtextextended(product || '/' || installation_id,
                                                  hashtext(current_schema())) AS key
                 FROM UNNEST($1::text[], $2::text[]) AS t(product, installation_id)
                 ORDER BY key) AS keys",
        )
        .await?)
}
