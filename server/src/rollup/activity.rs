//! The rollup of every product but Printernizer: from `activity` (one row per installation per
//! day) to `activity_daily` (per day and key) and `activity_windows` (installations active in
//! the 1, 7 and 30 days ending each day).
//!
//! A run re-rolls the days of the rows received since the product's watermark (the same
//! `rollup_state` and `store::watermark` as Printernizer's) and of its marked days: their
//! `activity_daily` rows whole, and the windows of each such day and the 29 after it (up to
//! today), plus today's windows on the day's first run (an installation leaves a window as
//! days pass; see `dirty_ranges`). Days whose raw rows retention deleted are never rolled
//! again: the daily tables are all that is left.

use chrono::{Duration as Days, NaiveDate};
use deadpool_postgres::Object;

use super::windows::{Counting, KeyWindows};
use super::{dirty_ranges, Rolled};
use crate::store::{self, RollupState, StoreError, WindowRow};

/// Rolls what changed since the last run (everything the first time), in one transaction.
/// `kept_from`: the first day retention still keeps raw rows of.
pub(super) async fn incremental(
    client: &mut Object,
    product: &str,
    kept_from: NaiveDate,
) -> Result<Rolled, StoreError> {
    let (started, watermark) = store::watermark(&*client).await?;
    let today = started.date_naive();
    let tx = client.transaction().await?;
    let marked = store::marked_days(&tx, product).await?;
    let mut days = match store::rollup_state(&tx, product).await? {
        None => store::activity_days(&tx, product).await?,
        Some(state) => store::activity_days_since(&tx, product, state.watermark).await?,
    };
    days.extend(&marked.days);
    days.sort_unstable();
    days.dedup();
    let today_rolled = store::activity_windows_rolled(&tx, product, today).await?;
    let ranges = dirty_ranges(today, today_rolled, &days);
    let rolled = roll(&tx, product, &days, ranges, kept_from).await?;
    store::unmark_days(&tx, product, &marked).await?;
    let state = RollupState {
        rolled_at: started,
        watermark,
    };
    store::save_rollup_state(&tx, product, state).await?;
    tx.commit().await?;
    Ok(rolled)
}

/// Recomputes `[from, to]` whatever was rolled before; leaves the watermark alone.
pub(super) async fn recompute(
    client: &mut Object,
    product: &str,
    from: NaiveDate,
    to: NaiveDate,
    kept_from: NaiveDate,
) -> Result<Rolled, StoreError> {
    let days: Vec<NaiveDate> = from.iter_days().take_while(|day| *day <= to).collect();
    let tx = client.transaction().await?;
    let rolled = roll(&tx, product, &days, vec![(from, to)], kept_from).await?;
    tx.commit().await?;
    Ok(rolled)
}

async fn roll(
    tx: &deadpool_postgres::Transaction<'_>,
    product: &str,
    days: &[NaiveDate],
    ranges: Vec<(NaiveDate, NaiveDate)>,
    kept_from: NaiveDate,
) -> Result<Rolled, StoreError> {
    let days: Vec<NaiveDate> = days.iter().copied().filter(|d| *d >= kept_from).collect();
    store::replace_activity_days(tx, product, &days).await?;
    let mut rolled = Rolled::default();
    // The shortest window is one day: days before `kept_from` have nothing left to count.
    for (from, to) in ranges {
        let from = from.max(kept_from);
        if from > to {
            continue;
        }
        rolled.reports += roll_windows(tx, product, from, to, kept_from).await?;
        rolled.ranges.push((from, to));
    }
    Ok(rolled)
}

/// Replaces the windows of `[from, to]`, counted from the rows of `[from - 29, to]` read once
/// (`KeyWindows`: an installation is active with a key in a window holding a day it had it).
/// Returns the rows read.
async fn roll_windows(
    tx: &deadpool_postgres::Transaction<'_>,
    product: &str,
    from: NaiveDate,
    to: NaiveDate,
    kept_from: NaiveDate,
) -> Result<u64, StoreError> {
    let mut windows = KeyWindows::new(from, to, Counting::AnyRow);
    let mut installation = String::new();
    let mut days: Vec<(NaiveDate, Vec<String>)> = Vec::new();
    let first = windows.first_row_day();
    let read = store::for_each_active_day(tx, product, first, to, |id, day, keys| {
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

/// The first day whose raw rows retention keeps, `retention_days` before `today`.
pub fn kept_from(today: NaiveDate, retention_days: u32) -> NaiveDate {
    today - Days::days(i64::from(retention_days))
}
