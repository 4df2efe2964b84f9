//! An installation's right of access to and erasure of its rows in `activity`, folded or still
//! appended (`activity_rows`), for every product. A report with a period (Printernizer's) is
//! shown field by field, as it was sent.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;
use tokio_postgres::types::Json;
use tokio_postgres::Row;
use utoipa::ToSchema;

use super::installation_lock::lock_installations;
use super::StoreError;
use crate::domain::activity::ClientId;
use crate::domain::adapters::printernizer::ReportFields;

/// One stored day of one installation: its numbers under keys, as the rollup reads them.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredDay {
    pub day: NaiveDate,
    pub received_at: DateTime<Utc>,
    #[schema(value_type = Object, example = json!({"event/app_opened": 3, "dim/app_opened.os_version/14.1": 3}))]
    pub counts: serde_json::Value,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Erasure {
    /// Stored rows: weekly reports, or days of folded events.
    pub rows: u64,
    /// 1 when the installation was known (it had rows, or an entry in the registry of an
    /// event product's known installations), else 0.
    pub registrations: u64,
    /// Days the next rollup recomputes without the installation.
    pub days_marked: u64,
}

impl Erasure {
    fn counted(row: &Row) -> Result<Self, StoreError> {
        let count = |index| -> Result<u64, StoreError> {
            let counted: i64 = row.try_get(index)?;
            Ok(u64::try_from(counted).unwrap_or(0))
        };
        Ok(Self {
            rows: count(0)?,
            registrations: count(1)?,
            days_marked: count(2)?,
        })
    }
}

/// One stored report with a period as the installation may read it back (right of access):
/// its fields as `/submit` took them.
#[derive(Debug, Serialize, ToSchema)]
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
    pub printer_count: i32,
    pub job_count: i32,
    pub file_count: i32,
    pub upload_count: i32,
    pub uptime_hours: i32,
    pub total_errors: i32,
    pub printer_type_counts: BTreeMap<String, i64>,
    pub feature_usage: BTreeMap<String, bool>,
    pub error_summary: BTreeMap<String, i64>,
}

impl StoredReport {
    fn of(row: &Row) -> Result<Self, tokio_postgres::Error> {
        let Json(counts): Json<BTreeMap<String, f64>> = row.try_get(4)?;
        let fields = ReportFields::read(counts.iter().map(|(key, n)| (key.as_str(), *n)));
        // Every report has these fields, and its counts passed ceilings far below i32::MAX.
        let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
        let int = |value: i64| i32::try_from(value).unwrap_or(i32::MAX);
        Ok(Self {
            submission_id: row.try_get(0)?,
            period_start: row.try_get(1)?,
            period_end: row.try_get(2)?,
            received_at: row.try_get(3)?,
            app_version: text(fields.app_version),
            python_version: fields.python_version.map(str::to_owned),
            platform: text(fields.platform),
            deployment_mode: text(fields.deployment_mode),
            country_code: text(fields.country),
            printer_count: int(fields.printers),
            job_count: int(fields.jobs),
            file_count: int(fields.files),
            upload_count: int(fields.uploads),
            uptime_hours: int(fields.uptime_hours),
            total_errors: int(fields.errors),
            printer_type_counts: owned(fields.printer_types),
            feature_usage: owned(fields.features),
            error_summary: owned(fields.error_types),
        })
    }
}

/// A map of `ReportFields`, owned.
fn owned<V>(entries: Vec<(&str, V)>) -> BTreeMap<String, V> {
    entries
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// The installation's stored reports with a period, oldest first.
pub async fn installation_reports(
    pool: &Pool,
    product: &str,
    installation: &ClientId,
) -> Result<Vec<StoredReport>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT report_id, period_start, period_end, received_at,
                    (SELECT coalesce(jsonb_object_agg(n.name, counted.amount), '{}')
                     FROM unnest(keys, amounts) AS counted(id, amount)
                     JOIN activity_key_names n ON n.id = counted.id)
             FROM activity
             WHERE product = $1 AND installation_id = $2 AND report_id IS NOT NULL
             ORDER BY period_start",
        )
        .await?;
    let rows = client
        .query(&statement, &[&product, &installation.as_str()])
        .await?;
    rows.iter()
        .map(StoredReport::of)
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::from)
}

/// The installation's stored days, oldest first.
pub async fn activity_installation_days(
    pool: &Pool,
    product: &str,
    installation: &ClientId,
) -> Result<Vec<StoredDay>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            // A day not folded yet has several rows: summed, it reads as it will be stored.
            "SELECT day, max(received_at),
                    coalesce(jsonb_object_agg(key, total) FILTER (WHERE key IS NOT NULL), '{}')
             FROM (SELECT a.day, max(a.received_at) AS received_at, counted.key,
                          sum(counted.value::numeric) AS total
                   FROM activity_rows a LEFT JOIN LATERAL jsonb_each(a.counts) AS counted ON true
                   WHERE a.product = $1 AND a.installation_id = $2
                   GROUP BY a.day, counted.key) AS summed
             GROUP BY day ORDER BY day",
        )
        .await?;
    let rows = client
        .query(&statement, &[&product, &installation.as_str()])
        .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredDay {
                day: row.try_get(0)?,
                received_at: row.try_get(1)?,
                counts: row.try_get(2)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::from)
}

/// Erases the installation's days and its registration and, in the same transaction, marks
/// the days for the next rollup (a run rolling meanwhile leaves a mark it did not read, a
/// renumbered one, for the run after it) and takes them out of the summary's counts.
///
/// Under the installation's lock (`installation_lock`): a batch writing a counted report of it
/// either committed first (its row is erased here) or waits and then counts it anew, as an
/// installation without rows: counts and rows agree either way.
pub async fn delete_activity_installation(
    pool: &Pool,
    product: &str,
    installation: &ClientId,
) -> Result<Erasure, StoreError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    lock_installations(&transaction, &[product], &[installation.as_str()]).await?;
    // The appended rows first: a fold holding them has locked nothing in `activity` yet, so
    // this waits for it to commit (its rows are then erased from `activity`) and never the
    // other way round.
    let statement = transaction.prepare_cached(ERASE_APPENDED).await?;
    let appended: Vec<NaiveDate> = transaction
        .query(&statement, &[&product, &installation.as_str()])
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    let statement = transaction.prepare_cached(ERASE).await?;
    let row = transaction
        .query_one(&statement, &[&product, &installation.as_str(), &appended])
        .await?;
    let erasure = Erasure::counted(&row)?;
    transaction.commit().await?;
    Ok(erasure)
}

const ERASE_APPENDED: &str =
    "DELETE FROM activity_added WHERE product = $1 AND installation_id = $2 RETURNING day";

/// `$3`: the days of the appended rows erased before. Counts days, folded or not. The summary's
/// counts are kept for the products with reports with a period only.
const ERASE: &str = "WITH erased AS (
         DELETE FROM activity WHERE product = $1 AND installation_id = $2
         RETURNING day, report_id),
     days AS (
         SELECT day FROM erased UNION SELECT unnest($3::date[])),
     marked AS (
         INSERT INTO rollup_dirty_days (product, day)
         SELECT $1, day FROM days
         -- A new number: a run that read the old mark leaves this one.
         ON CONFLICT (product, day) DO UPDATE SET mark = EXCLUDED.mark
         RETURNING 1),
     unregistered AS (
         DELETE FROM activity_installations WHERE product = $1 AND installation_id = $2
         RETURNING 1),
     unnumbered AS (
         DELETE FROM activity_installation_numbers WHERE product = $1 AND installation_id = $2),
     counted AS (
         INSERT INTO submission_counts (product, submissions, installations)
         SELECT $1, -(SELECT count(report_id) FROM erased),
                -(SELECT count(*) FROM (SELECT FROM erased WHERE report_id IS NOT NULL LIMIT 1)
                      AS counted)
         WHERE EXISTS (SELECT FROM submission_counts WHERE product = $1))
     SELECT (SELECT count(*) FROM days),
            (SELECT count(*) FROM (SELECT 1 FROM unregistered UNION ALL SELECT 1 FROM days
                                   LIMIT 1) AS known),
            (SELECT count(*) FROM marked)";
