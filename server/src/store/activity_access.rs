//! An installation's right of access to and erasure of its rows in `activity`, folded or still
//! appended (`activity_rows`): every product but Printernizer, whose reports are in
//! `submissions` (`submissions::delete_installation`).

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use utoipa::ToSchema;

use super::StoreError;
use crate::domain::activity::ClientId;

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
    /// Entries in the registry of known installations (0 or 1).
    pub registrations: u64,
    /// Days the next rollup recomputes without the installation.
    pub days_marked: u64,
}

impl Erasure {
    /// Runs one erasure statement (alone, so atomic) whose one row counts the rows, the
    /// registrations and the marked days.
    pub(super) async fn run(
        pool: &Pool,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Self, StoreError> {
        let client = pool.get().await?;
        let statement = client.prepare_cached(sql).await?;
        Self::counted(&client.query_one(&statement, params).await?)
    }

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
/// the days for the next rollup, as Printernizer's erasure does: a run rolling meanwhile
/// leaves a mark it did not read (a renumbered one) for the run after it.
pub async fn delete_activity_installation(
    pool: &Pool,
    product: &str,
    installation: &ClientId,
) -> Result<Erasure, StoreError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
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

/// `$3`: the days of the appended rows erased before. Counts days, folded or not.
const ERASE: &str = "WITH erased AS (
         DELETE FROM activity WHERE product = $1 AND installation_id = $2
         RETURNING day),
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
         RETURNING 1)
     SELECT (SELECT count(*) FROM days), (SELECT count(*) FROM unregistered),
            (SELECT count(*) FROM marked)";
