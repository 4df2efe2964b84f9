//! An event product's daily tables: from `activity` (one row per installation per day, its
//! events summed) to `activity_daily` (per day and key) and `activity_windows` (installations
//! active in the 1, 7 and 30 days ending each day, and with each event type: any day with the
//! key counts, `Counting::AnyRow`). What to roll is decided for every product alike
//! (`super::incremental`).

use std::time::Instant;

use chrono::NaiveDate;
use deadpool_postgres::Object;

use super::windows::{Counting, KeyWindows};
use super::Rolled;
use crate::domain::activity::key;
use crate::domain::Product;
use crate::store::{self, StoreError, WindowRow};

/// Replaces the daily sums of the `changed` days and the windows of `ranges`, in one
/// transaction. Nothing before `kept_from` is rolled: its raw rows are gone.
pub(super) async fn roll(
    client: &mut Object,
    product: &Product,
    changed: &[NaiveDate],
    ranges: Vec<(NaiveDate, NaiveDate)>,
    kept_from: NaiveDate,
) -> Result<Rolled, StoreError> {
    let began = Instant::now();
    let events: Vec<String> = product
        .event_types()
        .map(|(name, _)| key::event(name))
        .collect();
    let product = product.name();
    let tx = client.transaction().await?;
    // The windows' rows are sorted by installation (30 days of them for today's); the sums
    // group a day's keys. Let both stay in memory (4 MB spilled 10 MB to disk at 2,000
    // installations).
    tx.batch_execute("SET LOCAL work_mem = '128MB'").await?;
    let days: Vec<NaiveDate> = changed
        .iter()
        .copied()
        .filter(|d| *d >= kept_from)
        .collect();
    store::replace_activity_days(&tx, product, &days).await?;
    let summed = began.elapsed();
    let mut rolled = Rolled::default();
    // The shortest window is one day: days before `kept_from` have nothing left to count.
    for (from, to) in ranges {
        let from = from.max(kept_from);
        if from > to {
            continue;
        }
        rolled.rows += roll_windows(&tx, (product, &events), (from, to), kept_from).await?;
        rolled.ranges.push((from, to));
    }
    tx.commit().await?;
    tracing::debug!(
        days = days.len(),
        rows = rolled.rows,
        sums_ms = summed.as_millis() as u64,
        elapsed_ms = began.elapsed().as_millis() as u64,
        "activity days rolled"
    );
    Ok(rolled)
}

/// Replaces the windows of `[from, to]` of the product's activity and of each of its `events`
/// keys, counted from the rows of `[from - 29, to]` read once (`KeyWindows`). Returns the rows
/// read.
async fn roll_windows(
    tx: &deadpool_postgres::Transaction<'_>,
    (product, events): (&str, &[String]),
    (from, to): (NaiveDate, NaiveDate),
    kept_from: NaiveDate,
) -> Result<u64, StoreError> {
    let mut windows = KeyWindows::new(from, to, Counting::AnyRow);
    let mut installation = String::new();
    let mut days: Vec<(NaiveDate, Vec<String>)> = Vec::new();
    let first = windows.first_row_day();
    let read = store::for_each_active_day(tx, product, (first, to), events, |id, day, keys| {
        if id != installation {
            windows.add_installation(active(&days));
            days.clear();
            id.clone_into(&mut installation);
        }
        days.push((day, keys));
    })
    .await?;
    windows.add_installation(active(&days));
    let mut rows = Vec::new();
    windows.finish(kept_from, |day, window_days, key, cell| {
        rows.push(WindowRow {
            day,
            window_days,
            key: key.to_owned(),
            installations: i32::try_from(cell.installations).unwrap_or(i32::MAX),
            // Presence is what these windows count (`active`), not values.
            positive: None,
            amount: None,
        });
    });
    store::replace_activity_windows(tx, product, from, to, kept_from, &rows).await?;
    Ok(read)
}

/// One installation's days, latest first, as `KeyWindows` takes them: the presence of a key is
/// what counts.
fn active(
    days: &[(NaiveDate, Vec<String>)],
) -> impl Iterator<Item = (NaiveDate, impl Iterator<Item = (&str, f64)>)> {
    days.iter()
        .map(|(day, keys)| (*day, keys.iter().map(|key| (key.as_str(), 1.0))))
}
