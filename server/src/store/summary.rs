//! The live summary of the reports with a period (`/stats/summary`): the counts every batch
//! adds (`submission_counts`, V13), folded now and then.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::StoreError;

/// Live, exact totals of the stored reports.
#[derive(Debug)]
pub struct Summary {
    pub total_submissions: i64,
    pub unique_installations: i64,
    pub latest_submission_at: Option<DateTime<Utc>>,
}

/// The product's reports, installations and latest receipt, as every batch counted them (see
/// the writer's `REPLACE_DAYS`): a sum over the rows added since the last fold, however many
/// reports are stored or arriving.
pub async fn summary(pool: &Pool, product: &str) -> Result<Summary, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT coalesce(sum(submissions), 0)::bigint, coalesce(sum(installations), 0)::bigint,
                    max(latest_received_at)
             FROM submission_counts WHERE product = $1",
        )
        .await?;
    let row = client.query_one(&statement, &[&product]).await?;
    Ok(Summary {
        total_submissions: row.try_get(0)?,
        unique_installations: row.try_get(1)?,
        latest_submission_at: row.try_get(2)?,
    })
}

/// Folds the rows of `submission_counts` (one added by every batch) into one per product, so
/// the summary's sum stays short. The rows it deletes are gone for a fold running at once
/// (which skips them), and rows added meanwhile wait for the next fold: nothing is counted twice.
pub async fn fold_counts(pool: &Pool) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "WITH folded AS (
                 DELETE FROM submission_counts WHERE product IN (
                     SELECT product FROM submission_counts GROUP BY product HAVING count(*) > 1)
                 RETURNING *)
             INSERT INTO submission_counts (product, submissions, installations, latest_received_at)
             SELECT product, sum(submissions), sum(installations), max(latest_received_at)
             FROM folded GROUP BY product",
        )
        .await?;
    client.execute(&statement, &[]).await?;
    Ok(())
}

/// Answers when a connection can be had and the database runs a query.
pub async fn ping(pool: &Pool) -> Result<(), StoreError> {
    let client = pool.get().await?;
    client.simple_query("SELECT 1").await?;
    Ok(())
}
