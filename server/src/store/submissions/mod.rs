//! The `submissions` table: the batched upsert (`batch`), the right of access and erasure, the
//! summary.

mod batch;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;

use super::{Erasure, StoreError};
use crate::domain::InstallationId;

pub use batch::PreparedReport;
pub(in crate::store) use batch::{Columns, ReportKey};

/// One stored report as the installation may read it back (right of access).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoredReport {
    pub submission_id: i64,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub app_version: String,
    pub python_version: Option<String>,
    pub platform: String,
    pub deployment_mode: String,
    pub country_code: String,
    pub first_seen: Option<DateTime<Utc>>,
    pub printer_count: i32,
    pub job_count: i32,
    pub file_count: i32,
    pub upload_count: i32,
    pub uptime_hours: i32,
    pub total_errors: i32,
    #[schema(value_type = std::collections::BTreeMap<String, i64>)]
    pub printer_type_counts: serde_json::Value,
    #[schema(value_type = std::collections::BTreeMap<String, bool>)]
    pub feature_usage: serde_json::Value,
    #[schema(value_type = std::collections::BTreeMap<String, i64>)]
    pub error_summary: serde_json::Value,
}

pub async fn installation_reports(
    pool: &Pool,
    product: &str,
    installation: InstallationId,
) -> Result<Vec<StoredReport>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT submission_id, period_start, period_end, received_at, app_version,
                    python_version, platform, deployment_mode, country_code, first_seen,
                    printer_count, job_count, file_count, upload_count, uptime_hours,
                    total_errors, printer_type_counts, feature_usage, error_summary
             FROM submissions WHERE product = $1 AND installation_id = $2
             ORDER BY period_start",
        )
        .await?;
    let rows = client
        .query(&statement, &[&product, &installation.as_uuid()])
        .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredReport {
                submission_id: row.try_get(0)?,
                period_start: row.try_get(1)?,
                period_end: row.try_get(2)?,
                received_at: row.try_get(3)?,
                app_version: row.try_get(4)?,
                python_version: row.try_get(5)?,
                platform: row.try_get(6)?,
                deployment_mode: row.try_get(7)?,
                country_code: row.try_get(8)?,
                first_seen: row.try_get(9)?,
                printer_count: row.try_get(10)?,
                job_count: row.try_get(11)?,
                file_count: row.try_get(12)?,
                upload_count: row.try_get(13)?,
                uptime_hours: row.try_get(14)?,
                total_errors: row.try_get(15)?,
                printer_type_counts: row.try_get(16)?,
                feature_usage: row.try_get(17)?,
                error_summary: row.try_get(18)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::from)
}

/// Erases every report of an installation and, in the same statement, marks the days they
/// counted on for the next rollup (so its contribution leaves the daily tables too) and takes
/// it out of the summary's counts.
pub async fn delete_installation(
    pool: &Pool,
    product: &str,
    installation: InstallationId,
) -> Result<Erasure, StoreError> {
    // A batch writing a report of the installation meanwhile either committed first (its
    // reports and registration are erased here) or waits on the rows erased here and then
    // writes them anew, registering the installation again: counts and rows agree either way.
    // Not covered: a report of a new week committing while this runs waits on no erased row;
    // it stays without a registration until a later week's report registers the installation
    // (README "The live summary"), and a retry of it takes `UPSERT_BATCH_CHECKED`.
    Erasure::run(pool, ERASE, &[&product, &installation.as_uuid()]).await
}

const ERASE: &str = "WITH erased AS (
         DELETE FROM submissions WHERE product = $1 AND installation_id = $2
         RETURNING period_end),
     marked AS (
         INSERT INTO rollup_dirty_days (product, day)
         SELECT DISTINCT $1, (period_end AT TIME ZONE 'UTC')::date FROM erased
         -- A new number: a run that read the old mark leaves this one.
         ON CONFLICT (product, day) DO UPDATE SET mark = EXCLUDED.mark
         RETURNING 1),
     unregistered AS (
         DELETE FROM installations WHERE product = $1 AND installation_id = $2
         RETURNING 1),
     counted AS (
         INSERT INTO submission_counts (product, submissions, installations)
         VALUES ($1, -(SELECT count(*) FROM erased), -(SELECT count(*) FROM unregistered)))
     SELECT (SELECT count(*) FROM erased), (SELECT count(*) FROM unregistered),
            (SELECT count(*) FROM marked)";

/// Live, exact totals of the stored reports.
#[derive(Debug)]
pub struct Summary {
    pub total_submissions: i64,
    pub unique_installations: i64,
    pub latest_submission_at: Option<DateTime<Utc>>,
}

/// Reports, installations and the latest receipt, as every batch counted them (see
/// `UPSERT_BATCH`): a sum over the rows added since the last fold, however many reports are
/// stored or arriving.
pub async fn summary(pool: &Pool) -> Result<Summary, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT coalesce(sum(submissions), 0)::bigint, coalesce(sum(installations), 0)::bigint,
                    max(latest_received_at)
             FROM submission_counts",
        )
        .await?;
    let row = client.query_one(&statement, &[]).await?;
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
