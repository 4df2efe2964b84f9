//! The rollup's side of the store: reading a report product's reports, replacing its whole
//! days, the rollup's state and the days marked for re-rolling. (Deciding what to roll and the
//! arithmetic live in `crate::rollup`.)

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use futures_util::{pin_mut, TryStreamExt};

use super::writer::unnumbered;
use super::{replace_activity_windows, StoreError, WindowRow, WRITER_APPLICATION};
use crate::domain::activity::Counts;

/// The rollup lock's class (the first advisory-lock key). The second key is the schema, so
/// instances on one schema roll one at a time, and Tallys in other schemas of the same database
/// (tests run so, each in its own) never wait for each other.
const ROLLUP_LOCK: i32 = 0x746c_726f; // "tlro"

/// Gives a rollup session its statement deadline and takes the rollup lock: waits for it, or,
/// with `wait` false, answers false at once when another run holds it.
pub async fn lock_rollup(
    client: &impl GenericClient,
    statement_timeout: &str,
    wait: bool,
) -> Result<bool, StoreError> {
    set_statement_timeout(client, statement_timeout).await?;
    if wait {
        client
            .execute(
                "SELECT pg_advisory_lock($1, hashtext(current_schema()))",
                &[&ROLLUP_LOCK],
            )
            .await?;
        return Ok(true);
    }
    Ok(client
        .query_one(
            "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))",
            &[&ROLLUP_LOCK],
        )
        .await?
        .try_get(0)?)
}

/// Sets the session's deadline of a statement (`unlock_rollup` resets it).
pub async fn set_statement_timeout(
    client: &impl GenericClient,
    statement_timeout: &str,
) -> Result<(), StoreError> {
    client
        .batch_execute(&format!("SET statement_timeout = '{statement_timeout}'"))
        .await?;
    Ok(())
}

/// Releases the rollup lock (if held) and the session's deadline.
pub async fn unlock_rollup(client: &impl GenericClient) -> Result<(), StoreError> {
    client
        .batch_execute("SELECT pg_advisory_unlock_all(); RESET statement_timeout")
        .await?;
    Ok(())
}

/// One stored report, as it is stored: its installation's row of the day (a later report of the
/// day replaced an earlier one), its numbers under keys.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    pub installation: String,
    pub day: NaiveDate,
    pub counts: Counts,
}

/// Midnight UTC starting `day`.
pub fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// Which reports of a range `for_each_report` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reports {
    /// Every report, in order of installation, then day.
    All,
    /// Each installation's latest report only: all that the last day of the range needs, in a
    /// quarter of the rows for weekly reports.
    LatestPerInstallation,
}

/// The reports of the days `[from, to]`, handed to `sink` in order of installation. Streamed:
/// a year of reports never sits in memory at once.
pub async fn for_each_report(
    client: &impl GenericClient,
    product: &str,
    from: NaiveDate,
    to: NaiveDate,
    which: Reports,
    mut sink: impl FnMut(ReportRow),
) -> Result<u64, StoreError> {
    const COLUMNS: &str = "installation_id, day, keys, amounts";
    const RANGE: &str = "FROM activity WHERE product = $1 AND day >= $2 AND day <= $3";
    let query = match which {
        Reports::All => format!("SELECT {COLUMNS} {RANGE} ORDER BY installation_id, day"),
        Reports::LatestPerInstallation => format!(
            "SELECT DISTINCT ON (installation_id) {COLUMNS} {RANGE}
             ORDER BY installation_id, day DESC"
        ),
    };
    let names = key_names(client).await?;
    let statement = client.prepare_cached(&query).await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&product, &from, &to];
    let rows = client.query_raw(&statement, params).await?;
    pin_mut!(rows);
    let mut count = 0;
    while let Some(row) = rows.try_next().await? {
        let keys: Vec<i32> = row.try_get(2)?;
        let amounts: Vec<f64> = row.try_get(3)?;
        let counts = keys
            .iter()
            .zip(amounts)
            .map(|(key, amount)| Ok((names.get(key).ok_or_else(unnumbered)?.clone(), amount)))
            .collect::<Result<Counts, StoreError>>()?;
        sink(ReportRow {
            installation: row.try_get(0)?,
            day: row.try_get(1)?,
            counts,
        });
        count += 1;
    }
    Ok(count)
}

/// Every key's name by its number (`activity_key_names`).
async fn key_names(client: &impl GenericClient) -> Result<HashMap<i32, String>, StoreError> {
    let statement = client
        .prepare_cached("SELECT id, name FROM activity_key_names")
        .await?;
    let rows = client.query(&statement, &[]).await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::from)
}

/// The reports of `day`.
pub async fn reports_on(
    client: &impl GenericClient,
    product: &str,
    day: NaiveDate,
) -> Result<i64, StoreError> {
    let statement = client
        .prepare_cached("SELECT count(*) FROM activity WHERE product = $1 AND day = $2")
        .await?;
    let row = client.query_one(&statement, &[&product, &day]).await?;
    Ok(row.try_get(0)?)
}

/// Installations whose first stored report is of each day of `[from, to]`: those with a report
/// in the range and none on an earlier day. The probe for an earlier day walks the
/// primary key of `activity` and stops at the first it finds; an aggregate over every
/// installation's whole history took 3.8 s for one day at a year of data.
pub async fn new_installations(
    client: &impl GenericClient,
    product: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, i64)>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT first.first_day, count(*)
             FROM (SELECT installation_id, min(day) AS first_day FROM activity
                   WHERE product = $1 AND day >= $2 AND day <= $3
                   GROUP BY installation_id) AS first
             WHERE NOT EXISTS (
                   SELECT FROM activity earlier
                   WHERE earlier.product = $1 AND earlier.installation_id = first.installation_id
                     AND earlier.day < first.first_day)
             GROUP BY first.first_day",
        )
        .await?;
    let rows = client.query(&statement, &[&product, &from, &to]).await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::from)
}

/// The recomputed rows of a range of days of a report format, ready to replace what the daily
/// tables hold.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DailyRows {
    /// (day, reports, new installations)
    pub reports: Vec<(NaiveDate, i32, i32)>,
    pub windows: Vec<WindowRow>,
}

/// Replaces every daily row of `[from, to]` (`daily_reports`, `activity_windows`) with `rows`,
/// inside the caller's transaction, so a reader sees either the old days or the new ones.
/// Every window of the range is counted whole (`kept_from` is before its first day).
pub async fn replace_days(
    tx: &Transaction<'_>,
    product: &str,
    (from, to): (NaiveDate, NaiveDate),
    kept_from: NaiveDate,
    rows: &DailyRows,
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM daily_reports WHERE product = $1 AND day BETWEEN $2 AND $3",
        &[&product, &from, &to],
    )
    .await?;
    let (days, reports, new): (Vec<_>, Vec<_>, Vec<_>) =
        rows.reports
            .iter()
            .copied()
            .fold(Default::default(), |mut acc, (d, r, n)| {
                acc.0.push(d);
                acc.1.push(r);
                acc.2.push(n);
                acc
            });
    tx.execute(
        "INSERT INTO daily_reports (product, day, reports, new_installations)
         SELECT $1, * FROM UNNEST($2::date[], $3::int[], $4::int[])",
        &[&product, &days, &reports, &new],
    )
    .await?;
    replace_activity_windows(tx, product, from, to, kept_from, &rows.windows).await
}

/// What the last completed run left: when it ran and from where the next one looks.
#[derive(Debug, Clone, Copy)]
pub struct RollupState {
    pub rolled_at: DateTime<Utc>,
    pub watermark: DateTime<Utc>,
}

pub async fn rollup_state(
    client: &impl GenericClient,
    product: &str,
) -> Result<Option<RollupState>, StoreError> {
    let row = client
        .query_opt(
            "SELECT rolled_at, watermark FROM rollup_state WHERE product = $1",
            &[&product],
        )
        .await?;
    row.map(|row| {
        Ok(RollupState {
            rolled_at: row.try_get(0)?,
            watermark: row.try_get(1)?,
        })
    })
    .transpose()
    .map_err(|e: tokio_postgres::Error| StoreError::from(e))
}

pub async fn save_rollup_state(
    client: &impl GenericClient,
    product: &str,
    state: RollupState,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO rollup_state (product, rolled_at, watermark) VALUES ($1, $2, $3)
             ON CONFLICT (product) DO UPDATE SET rolled_at = $2, watermark = $3",
            &[&product, &state.rolled_at, &state.watermark],
        )
        .await?;
    Ok(())
}

/// The database's time now, and the next run's watermark: that time, or the start of the
/// oldest writer transaction still open if earlier. A batch stamps `received_at` with its
/// transaction's start (`now()`, the same value as its `xact_start`), so every report not yet
/// committed will carry a time at or after the watermark, whatever the instances' clocks say
/// and however long the batch waits. The second of margin covers the instant between a
/// transaction taking its start time and publishing it.
pub async fn watermark(
    client: &impl GenericClient,
) -> Result<(DateTime<Utc>, DateTime<Utc>), StoreError> {
    let row = client
        .query_one(
            "SELECT now(),
                    least(now(), (SELECT min(xact_start) FROM pg_stat_activity
                                  WHERE application_name = $1 AND xact_start IS NOT NULL))
                      - interval '1 second'",
            &[&WRITER_APPLICATION],
        )
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// The first day of any product's stored rows.
pub async fn first_day(client: &impl GenericClient) -> Result<Option<NaiveDate>, StoreError> {
    let row = client
        .query_one("SELECT min(day) FROM activity", &[])
        .await?;
    Ok(row.try_get(0)?)
}

/// The days marked for re-rolling, as one run read them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MarkedDays {
    pub days: Vec<NaiveDate>,
    /// Each mark's number (from a sequence): an erasure that marks a day again renumbers it.
    marks: Vec<i64>,
}

pub async fn marked_days(
    client: &impl GenericClient,
    product: &str,
) -> Result<MarkedDays, StoreError> {
    let rows = client
        .query(
            "SELECT day, mark FROM rollup_dirty_days WHERE product = $1",
            &[&product],
        )
        .await?;
    let mut marked = MarkedDays::default();
    for row in rows {
        marked.days.push(row.try_get(0)?);
        marked.marks.push(row.try_get(1)?);
    }
    Ok(marked)
}

/// Removes the marks a run read and no later one: a day an erasure marked again since has a new
/// number (under READ COMMITTED, a DELETE waiting on that erasure re-checks the renumbered row).
pub async fn unmark_days(
    client: &impl GenericClient,
    product: &str,
    marked: &MarkedDays,
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM rollup_dirty_days WHERE product = $1 AND mark = ANY($2)",
            &[&product, &marked.marks],
        )
        .await?;
    Ok(())
}
