//! The write side of the activity products' daily tables (`activity_daily`,
//! `activity_windows`) and their retention. Deciding what to roll lives in
//! `crate::rollup::activity`.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{GenericClient, Object};

use super::StoreError;

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
    rows.iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(StoreError::from)
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
    rows.iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(StoreError::from)
}

/// Whether the windows of `day` were rolled (an installation was active in the 30 days ending
/// it): one step of `activity_windows`' primary key.
pub async fn activity_windows_rolled(
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

/// Replaces the `activity_daily` rows of `days` with the sums of their rows: per key, the
/// amount over installations and how many installations had the key.
pub async fn replace_activity_days(
    client: &impl GenericClient,
    product: &str,
    days: &[NaiveDate],
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM activity_daily WHERE product = $1 AND day = ANY($2)",
            &[&product, &days],
        )
        .await?;
    client
        .execute(
            "INSERT INTO activity_daily (product, day, key, amount, installations)
             SELECT $1, a.day, counted.key, sum(counted.value::double precision), count(*)
             FROM activity a CROSS JOIN LATERAL jsonb_each(a.counts) AS counted
             WHERE a.product = $1 AND a.day = ANY($2)
             GROUP BY a.day, counted.key",
            &[&product, &days],
        )
        .await?;
    Ok(())
}

/// Replaces the `activity_windows` rows of `[from, to]`: per day, window (1, 7, 30) and key
/// ('' = any activity, `event/<type>`), the installations active in the window ending that day.
/// A window reaching before `kept_from` (raw rows deleted by retention) is left as it was: it
/// can no longer be counted whole.
///
/// Each installation's active days become spans, one per active day, reaching to the next
/// active day or to the window's end, whichever is first; spans of one installation never
/// overlap, so a plain count per day is the distinct count, without a DISTINCT sort over
/// 30 days of rows.
pub async fn replace_activity_windows(
    client: &impl GenericClient,
    product: &str,
    from: NaiveDate,
    to: NaiveDate,
    kept_from: NaiveDate,
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM activity_windows
             WHERE product = $1 AND day BETWEEN $2 AND $3 AND day - window_days + 1 >= $4",
            &[&product, &from, &to, &kept_from],
        )
        .await?;
    client
        .execute(ACTIVITY_WINDOWS, &[&product, &from, &to, &kept_from])
        .await?;
    Ok(())
}

/// `$1` product, `$2`..`$3` the days to fill, `$4` the first day with raw rows kept. Reads the
/// rows of `[$2 - 29, $3]` once.
pub const ACTIVITY_WINDOWS: &str = "
    WITH active AS (
        SELECT a.installation_id, k.key, a.day,
               lead(a.day) OVER (PARTITION BY a.installation_id, k.key ORDER BY a.day) AS next_day
        FROM activity a
        CROSS JOIN LATERAL (
            SELECT '' AS key
            UNION ALL
            SELECT key FROM jsonb_object_keys(a.counts) AS key WHERE starts_with(key, 'event/')
        ) AS k
        WHERE a.product = $1 AND a.day BETWEEN $2::date - 29 AND $3::date
    ),
    spans AS (
        SELECT active.key, w.window_days, active.day AS first,
               least(coalesce(active.next_day, active.day + w.window_days),
                     active.day + w.window_days) - 1 AS last
        FROM active CROSS JOIN (VALUES (1), (7), (30)) AS w(window_days)
    )
    INSERT INTO activity_windows (product, day, window_days, key, installations)
    SELECT $1, covered.day::date, spans.window_days, spans.key, count(*)
    FROM spans
    CROSS JOIN LATERAL generate_series(greatest(spans.first, $2::date,
                                                $4::date + spans.window_days - 1),
                                       least(spans.last, $3::date), interval '1 day') AS covered(day)
    GROUP BY covered.day, spans.window_days, spans.key";

/// Deletes the raw rows of days before `cutoff`; the daily tables keep what they said. Of a
/// product whose reports are counted for the summary (`submission_counts`), the reports and
/// the registrations of installations left without rows go too, in the same transaction, so
/// that the summary stays the count of the stored reports. Other products keep their registry
/// past raw retention (new and known installations).
///
/// Not covered: a report of an installation whose rows are all pruned, committing while this
/// runs, can leave it without a registration until an erasure (the old partitions were dropped
/// under a lock that kept writers out; a day's rows take longer to delete).
pub async fn delete_activity_before(
    client: &mut Object,
    product: &str,
    cutoff: NaiveDate,
) -> Result<u64, StoreError> {
    let transaction = client.transaction().await?;
    let row = transaction
        .query_one(
            "WITH deleted AS (
                 DELETE FROM activity WHERE product = $1 AND day < $2
                 RETURNING installation_id, report_id),
             counted AS (
                 INSERT INTO submission_counts (product, submissions, installations)
                 SELECT $1, -count(report_id), 0 FROM deleted HAVING count(report_id) > 0)
             SELECT count(*), coalesce(array_agg(DISTINCT installation_id), '{}') FROM deleted",
            &[&product, &cutoff],
        )
        .await?;
    let deleted: i64 = row.try_get(0)?;
    let installations: Vec<&str> = row.try_get(1)?;
    // A statement of its own: it sees the rows the one above deleted as gone.
    transaction
        .execute(
            "WITH orphans AS (
                 DELETE FROM activity_installations i
                 WHERE i.product = $1 AND i.installation_id = ANY($2)
                   AND EXISTS (SELECT FROM submission_counts WHERE product = $1)
                   AND NOT EXISTS (SELECT FROM activity_rows a
                                   WHERE a.product = $1 AND a.installation_id = i.installation_id)
                 RETURNING 1)
             INSERT INTO submission_counts (product, submissions, installations)
             SELECT $1, 0, -count(*) FROM orphans HAVING count(*) > 0",
            &[&product, &installations],
        )
        .await?;
    transaction.commit().await?;
    Ok(u64::try_from(deleted).unwrap_or(0))
}

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
