//! The write side of the daily tables of `activity`: `activity_daily` (an event or daily
//! product's sums per day), `activity_windows` (every product's windows), and retention.
//! Deciding what to roll lives in `crate::rollup`.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{GenericClient, Object, Transaction};
use futures_util::{pin_mut, TryStreamExt};

use super::installation_lock::lock_installations;
use super::{Packed, StoreError};

/// The days of the rows received since `since`: each is re-rolled whole.
pub async fn activity_days_since(
    client: &impl GenericClient,
    product: &str,
    since: DateTime<Utc>,
) -> Result<Vec<NaiveDate>, StoreError> {
    let rows = client
        .query(
            "SELECT DISTINCT day FROM activity WHERE product = $1 AND received_at >= $2
             ORDER BY day",
            &[&product, &since],
        )
        .await?;
    days_of(&rows)
}

/// Every day with stored rows: what the first run rolls.
pub async fn activity_days(
    client: &impl GenericClient,
    product: &str,
) -> Result<Vec<NaiveDate>, StoreError> {
    let rows = client
        .query(
            "SELECT DISTINCT day FROM activity WHERE product = $1 ORDER BY day",
            &[&product],
        )
        .await?;
    days_of(&rows)
}

/// The days of a query's first column.
fn days_of(rows: &[tokio_postgres::Row]) -> Result<Vec<NaiveDate>, StoreError> {
    rows.iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(StoreError::from)
}

/// Whether the windows of `day` were rolled: one step of `activity_windows`' primary key. (An
/// event product's run writes a day with an installation active in the 30 days ending it; a
/// report product's every day of its ranges, zeros included.)
pub async fn windows_rolled(
    client: &impl GenericClient,
    product: &str,
    day: NaiveDate,
) -> Result<bool, StoreError> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM activity_windows
                            WHERE product = $1 AND window_days = 30 AND key = '' AND day = $2)",
            &[&product, &day],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// A day's sum of one key over the installations whose row has it, the key by its number.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySum {
    pub day: NaiveDate,
    pub key: i32,
    pub amount: f64,
    pub installations: i32,
}

/// Replaces the `activity_daily` rows of `days` with `sums`, each key named.
pub async fn replace_activity_days(
    client: &impl GenericClient,
    product: &str,
    days: &[NaiveDate],
    sums: &[KeySum],
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM activity_daily WHERE product = $1 AND day = ANY($2)",
            &[&product, &days],
        )
        .await?;
    let sum_days: Vec<NaiveDate> = sums.iter().map(|sum| sum.day).collect();
    let keys: Vec<i32> = sums.iter().map(|sum| sum.key).collect();
    let amounts: Vec<f64> = sums.iter().map(|sum| sum.amount).collect();
    let installations: Vec<i32> = sums.iter().map(|sum| sum.installations).collect();
    client
        .execute(
            "INSERT INTO activity_daily (product, day, key, amount, installations)
             SELECT $1, t.day, n.name, t.amount, t.installations
             FROM UNNEST($2::date[], $3::int[], $4::float8[], $5::int[])
                 AS t(day, key, amount, installations)
             JOIN activity_key_names n ON n.id = t.key",
            &[&product, &sum_days, &keys, &amounts, &installations],
        )
        .await?;
    Ok(())
}

/// Refreshes the planner's statistics of the activity tables.
pub async fn analyze_activity_tables(client: &impl GenericClient) -> Result<(), StoreError> {
    client
        .batch_execute("ANALYZE activity_daily, activity_windows")
        .await?;
    Ok(())
}

/// Numbers the registered installations whose first day is `since` or later and that have no
/// number yet: the day sets hold numbers. The installations of the days a run builds are
/// registered by the fold that stored their rows, with their first day, so a run numbers the
/// new ones by the registry's index, without reading rows. Only the rollup writes numbers,
/// under its lock, so none is drawn in vain.
pub async fn number_registered_since(
    client: &impl GenericClient,
    product: &str,
    since: NaiveDate,
) -> Result<u64, StoreError> {
    let numbered = client
        .execute(
            "INSERT INTO activity_installation_numbers (product, installation_id)
             SELECT r.product, r.installation_id FROM activity_installations r
             WHERE r.product = $1 AND r.first_day >= $2
               AND NOT EXISTS (SELECT FROM activity_installation_numbers n
                               WHERE n.product = $1 AND n.installation_id = r.installation_id)",
            &[&product, &since],
        )
        .await?;
    analyze_numbers_after(client, numbered).await?;
    Ok(numbered)
}

/// Numbers the installations with rows on `days` that have no number yet, read from the rows:
/// those registered before they could be numbered (a database upgraded to V23).
pub async fn number_installations(
    client: &impl GenericClient,
    product: &str,
    days: &[NaiveDate],
) -> Result<u64, StoreError> {
    let numbered = client
        .execute(
            "INSERT INTO activity_installation_numbers (product, installation_id)
             SELECT DISTINCT $1::text, a.installation_id FROM activity a
             WHERE a.product = $1 AND a.day = ANY($2)
               AND NOT EXISTS (SELECT FROM activity_installation_numbers n
                               WHERE n.product = $1 AND n.installation_id = a.installation_id)",
            &[&product, &days],
        )
        .await?;
    analyze_numbers_after(client, numbered).await?;
    Ok(numbered)
}

/// After many new numbers, refreshes the table's statistics at once: planned as the empty table
/// it was, the sets' read looked each installation's rows up one by one (2.5 times as long).
async fn analyze_numbers_after(
    client: &impl GenericClient,
    numbered: u64,
) -> Result<(), StoreError> {
    const MANY: u64 = 1_000;
    if numbered >= MANY {
        client
            .batch_execute("ANALYZE activity_installation_numbers")
            .await?;
    }
    Ok(())
}

/// Deletes the numbers of installations left without rows: an erasure committing while a run
/// numbered the installation's rows leaves the number behind, with its id.
pub async fn delete_orphan_numbers(
    client: &impl GenericClient,
    product: &str,
) -> Result<u64, StoreError> {
    Ok(client
        .execute(
            "DELETE FROM activity_installation_numbers n
             WHERE n.product = $1
               AND NOT EXISTS (SELECT FROM activity_rows a
                               WHERE a.product = $1 AND a.installation_id = n.installation_id)",
            &[&product],
        )
        .await?)
}

/// Plans the rest of transaction `tx` without sequential scans where an index serves, for its
/// reads of days of `activity`. A day's rows lie together (they arrive by day), so an index
/// read of a chunk's days reads their pages only; the planner, costing those reads as random
/// ones, scanned the whole table for each chunk instead (31 days of 100,000 installations:
/// 7.8 s scanned, 4.5 s by the index). The run's other statements read by index anyway.
pub async fn read_days_by_index(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.batch_execute("SET LOCAL enable_seqscan = off").await?;
    Ok(())
}

/// Streams the rows of `days`, each as its installation, its day, and its keys' numbers and
/// amounts.
pub async fn for_each_day_row(
    client: &impl GenericClient,
    product: &str,
    days: &[NaiveDate],
    mut sink: impl FnMut(&str, NaiveDate, Packed<'_, i32>, Packed<'_, f64>),
) -> Result<u64, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT installation_id, day, keys, amounts FROM activity
             WHERE product = $1 AND day = ANY($2)",
        )
        .await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&product, &days];
    let rows = client.query_raw(&statement, params).await?;
    pin_mut!(rows);
    let mut count = 0;
    while let Some(row) = rows.try_next().await? {
        sink(
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        count += 1;
    }
    Ok(count)
}

/// Streams the numbers of the product's installations (`activity_installation_numbers`),
/// each with its installation.
pub async fn for_each_installation_number(
    client: &impl GenericClient,
    product: &str,
    mut sink: impl FnMut(&str, i32),
) -> Result<(), StoreError> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&product];
    let rows = client
        .query_raw(
            "SELECT installation_id, number FROM activity_installation_numbers
             WHERE product = $1",
            params,
        )
        .await?;
    pin_mut!(rows);
    while let Some(row) = rows.try_next().await? {
        sink(row.try_get(0)?, row.try_get(1)?);
    }
    Ok(())
}

/// The numbers of those of `names` that have one (`activity_key_names`): a name without one
/// is in no row.
pub async fn key_numbers(
    client: &impl GenericClient,
    names: &[String],
) -> Result<HashMap<String, i32>, StoreError> {
    let statement = client
        .prepare_cached("SELECT name, id FROM activity_key_names WHERE name = ANY($1)")
        .await?;
    let rows = client.query(&statement, &[&names]).await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::from)
}

/// One day's set of the installations active with a key ('' for any activity), serialized.
#[derive(Debug, Clone, PartialEq)]
pub struct DaySet {
    pub day: NaiveDate,
    pub key: String,
    pub installations: Vec<u8>,
}

/// Replaces the sets of `days` with `sets`.
pub async fn replace_day_sets(
    client: &impl GenericClient,
    product: &str,
    days: &[NaiveDate],
    sets: &[DaySet],
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM activity_day_sets WHERE product = $1 AND day = ANY($2)",
            &[&product, &days],
        )
        .await?;
    let set_days: Vec<NaiveDate> = sets.iter().map(|set| set.day).collect();
    let keys: Vec<&str> = sets.iter().map(|set| set.key.as_str()).collect();
    let installations: Vec<&[u8]> = sets
        .iter()
        .map(|set| set.installations.as_slice())
        .collect();
    client
        .execute(
            "INSERT INTO activity_day_sets (product, day, key, installations)
             SELECT $1, * FROM UNNEST($2::date[], $3::text[], $4::bytea[])",
            &[&product, &set_days, &keys, &installations],
        )
        .await?;
    Ok(())
}

/// The days of `[from, to]` whose sets are built (each built day has its '' set).
pub async fn built_days(
    client: &impl GenericClient,
    product: &str,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Vec<NaiveDate>, StoreError> {
    let rows = client
        .query(
            "SELECT day FROM activity_day_sets
             WHERE product = $1 AND key = '' AND day BETWEEN $2 AND $3",
            &[&product, &from, &to],
        )
        .await?;
    days_of(&rows)
}

/// Streams the sets of `keys` on the days of `[from, to]`.
pub async fn for_each_day_set(
    client: &impl GenericClient,
    product: &str,
    (from, to): (NaiveDate, NaiveDate),
    keys: &[String],
    mut sink: impl FnMut(NaiveDate, &str, &[u8]),
) -> Result<(), StoreError> {
    let rows = client
        .query_raw(
            "SELECT day, key, installations FROM activity_day_sets
             WHERE product = $1 AND day BETWEEN $2 AND $3 AND key = ANY($4)",
            [
                &product as &(dyn tokio_postgres::types::ToSql + Sync),
                &from,
                &to,
                &keys,
            ],
        )
        .await?;
    pin_mut!(rows);
    while let Some(row) = rows.try_next().await? {
        sink(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    }
    Ok(())
}

/// One `activity_windows` row: the installations counted in the window of `window_days` ending
/// `day` with `key` ('' for any activity); of a product whose windows count values, those with
/// a value above zero and the values' sum.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRow {
    pub day: NaiveDate,
    pub window_days: i16,
    pub key: String,
    pub installations: i32,
    pub positive: Option<i32>,
    pub amount: Option<f64>,
}

/// Replaces the `activity_windows` rows of `[from, to]` with `rows`. A window reaching before
/// `kept_from` (raw rows deleted by retention) is left as it was: it can no longer be counted
/// whole.
pub async fn replace_activity_windows(
    client: &impl GenericClient,
    product: &str,
    from: NaiveDate,
    to: NaiveDate,
    kept_from: NaiveDate,
    rows: &[WindowRow],
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM activity_windows
             WHERE product = $1 AND day BETWEEN $2 AND $3 AND day - window_days + 1 >= $4",
            &[&product, &from, &to, &kept_from],
        )
        .await?;
    let days: Vec<NaiveDate> = rows.iter().map(|row| row.day).collect();
    let windows: Vec<i16> = rows.iter().map(|row| row.window_days).collect();
    let keys: Vec<&str> = rows.iter().map(|row| row.key.as_str()).collect();
    let installations: Vec<i32> = rows.iter().map(|row| row.installations).collect();
    let positive: Vec<Option<i32>> = rows.iter().map(|row| row.positive).collect();
    let amounts: Vec<Option<f64>> = rows.iter().map(|row| row.amount).collect();
    client
        .execute(
            "INSERT INTO activity_windows (product, day, window_days, key, installations,
                 positive, amount)
             SELECT $1, * FROM UNNEST($2::date[], $3::smallint[], $4::text[], $5::int[],
                 $6::int[], $7::float8[])",
            &[
                &product,
                &days,
                &windows,
                &keys,
                &installations,
                &positive,
                &amounts,
            ],
        )
        .await?;
    Ok(())
}

/// Deletes the raw rows of days before `cutoff`, and their day sets; the daily tables keep
/// what they said. Of a product whose reports are counted for the summary
/// (`submission_counts`), the deleted reports and the installations left without rows leave
/// its counts in the same transaction, so that the summary stays the count of the stored
/// reports. Other products keep their registry past raw retention (new and known
/// installations).
///
/// A counted product's installations whose every row is before `cutoff` are pruned first, a
/// chunk at a time, each under its lock (`installation_lock`): a report of one of them,
/// committing meanwhile, is then either seen here (the installation keeps a row) or waits and
/// counts it anew. The other rows go after them, and only those of installations that keep a
/// later row: one whose rows all became old meanwhile (a report of a day long past) is pruned
/// the next time, under its lock.
pub async fn delete_activity_before(
    client: &mut Object,
    product: &str,
    cutoff: NaiveDate,
) -> Result<u64, StoreError> {
    let counted = client
        .query_opt(
            "SELECT FROM submission_counts WHERE product = $1 LIMIT 1",
            &[&product],
        )
        .await?
        .is_some();
    let mut deleted = 0;
    if counted {
        let rows = client
            .query(
                "SELECT DISTINCT installation_id FROM activity a
                 WHERE product = $1 AND day < $2
                   AND NOT EXISTS (SELECT FROM activity later
                                   WHERE later.product = $1
                                     AND later.installation_id = a.installation_id
                                     AND later.day >= $2)",
                &[&product, &cutoff],
            )
            .await?;
        let leaving: Vec<&str> = rows
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        for installations in leaving.chunks(LEAVING_CHUNK) {
            let transaction = client.transaction().await?;
            let products = vec![product; installations.len()];
            lock_installations(&transaction, &products, installations).await?;
            let row = transaction
                .query_one(PRUNE_LEAVING, &[&product, &installations, &cutoff])
                .await?;
            deleted += row.try_get::<_, i64>(0)?;
            transaction.commit().await?;
        }
    }
    let transaction = client.transaction().await?;
    let row = transaction
        .query_one(PRUNE_KEPT, &[&product, &cutoff, &counted])
        .await?;
    deleted += row.try_get::<_, i64>(0)?;
    transaction
        .execute(
            "DELETE FROM activity_day_sets WHERE product = $1 AND day < $2",
            &[&product, &cutoff],
        )
        .await?;
    transaction.commit().await?;
    Ok(u64::try_from(deleted).unwrap_or(0))
}

/// Installations a prune's transaction locks: few are left without rows on a day, and each
/// lock takes a place in PostgreSQL's shared lock table (`max_locks_per_transaction`).
const LEAVING_CHUNK: usize = 500;

/// Deletes the rows before `$3` of the installations `$2` of the counted product `$1`, and
/// takes them out of its counts with the installations left without rows (read after their
/// locks were taken). Returns the rows deleted.
const PRUNE_LEAVING: &str = "WITH deleted AS (
         DELETE FROM activity WHERE product = $1 AND installation_id = ANY($2) AND day < $3
         RETURNING installation_id, report_id),
     left_without AS (
         SELECT DISTINCT d.installation_id FROM deleted d
         WHERE d.report_id IS NOT NULL
           AND NOT EXISTS (SELECT FROM activity a
                           WHERE a.product = $1 AND a.installation_id = d.installation_id
                             AND a.day >= $3)),
     unregistered AS (
         DELETE FROM activity_installations
         WHERE product = $1 AND installation_id IN (SELECT installation_id FROM left_without)),
     counted AS (
         INSERT INTO submission_counts (product, submissions, installations)
         SELECT $1, -(SELECT count(report_id) FROM deleted), -(SELECT count(*) FROM left_without)
         WHERE EXISTS (SELECT FROM deleted))
     SELECT count(*) FROM deleted";

/// Deletes the rows before `$2` of the product `$1`; of a counted product (`$3`) only those of
/// installations that keep a later row, and takes its reports out of its counts. Returns the
/// rows deleted.
const PRUNE_KEPT: &str = "WITH deleted AS (
         DELETE FROM activity a WHERE product = $1 AND day < $2
           AND (NOT $3 OR EXISTS (SELECT FROM activity later
                                  WHERE later.product = $1
                                    AND later.installation_id = a.installation_id
                                    AND later.day >= $2))
         RETURNING report_id),
     counted AS (
         INSERT INTO submission_counts (product, submissions, installations)
         SELECT $1, -count(report_id), 0 FROM deleted HAVING count(report_id) > 0)
     SELECT count(*) FROM deleted";

/// Deletes the batch fingerprints received before `cutoff`.
pub async fn delete_fingerprints_before(
    client: &impl GenericClient,
    cutoff: NaiveDate,
) -> Result<u64, StoreError> {
    Ok(client
        .execute(
            "DELETE FROM batch_fingerprints WHERE received_on < $1",
            &[&cutoff],
        )
        .await?)
}
