//! The rollup: which days of the daily tables to roll, and rolling them.
//!
//! - **Time axis.** A report counts on the UTC day its period ends. On day D, for a window of
//!   7 or 30 days, an installation is active when it has a report ending in `[D-w+1, D]`, and
//!   counts once, by its latest such report (see `engine`). A report ending on day E therefore
//!   changes days E..E+29 and nothing else.
//! - **Idempotent.** Rolling recomputes whole days from the raw reports and replaces them in one
//!   transaction (chunks of `CHUNK_DAYS` days): rolling twice, day by day or the whole range
//!   at once gives the same rows.
//! - **Incremental.** A run rolls only the days touched since the last one: reports received
//!   since the watermark (a BRIN index on `received_at`; the watermark trails the run's start by
//!   `WATERMARK_MARGIN`, longer than any batch takes to commit), days marked by erasures
//!   (`rollup_dirty_days`), and today. The first run rolls everything.
//! - **One roller.** A run holds `pg_advisory_lock(ROLLUP_LOCK)` on its connection: the task in
//!   `tally serve` skips a turn when another instance rolls; `tally rollup` waits for it.
//! - **Installations registered.** Each incremental run also adds the installations of the
//!   reports received since the watermark to `installations`, for `/stats/summary`.
//! - **Pruned history.** Days whose reports may have been pruned (`tally prune`) are never
//!   rolled again: the daily tables are all that remains of them.

pub mod engine;
mod retention;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use deadpool_postgres::{Object, Pool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::domain::MAX_PERIOD_DAYS;
use crate::store::{self, ReportRow, Reports, RollupState, StoreError};
use engine::{Sweep, LONGEST_WINDOW};

pub use retention::prune;

/// Days recomputed in one transaction (reading their reports and the 29 days before).
const CHUNK_DAYS: i64 = 62;
/// How far behind a run's start the next run looks for received reports. A report's
/// `received_at` is taken a few seconds before its batch commits, and instances' clocks differ
/// a little: a minute is far more than both. Re-reading a minute costs nothing (idempotent).
const WATERMARK_MARGIN: Days = Days::minutes(1);

/// Whether a run waits for another instance's run to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Yes,
    No,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rolled {
    /// The ranges of days rolled, inclusive.
    pub ranges: Vec<(NaiveDate, NaiveDate)>,
    /// Reports read.
    pub reports: u64,
}

impl Rolled {
    pub fn days(&self) -> i64 {
        self.ranges
            .iter()
            .map(|(a, b)| (*b - *a).num_days() + 1)
            .sum()
    }
}

/// Brings the daily tables up to date: every day touched since the last run (all days the
/// first time). `None` when another instance holds the lock and `wait` is `No`.
#[tracing::instrument(skip(pool))]
pub async fn bring_up_to_date(
    pool: &Pool,
    product: &str,
    wait: Wait,
) -> Result<Option<Rolled>, StoreError> {
    let mut client = pool.get().await?;
    if !lock(&client, wait).await? {
        return Ok(None);
    }
    let outcome = incremental(&mut client, product).await;
    unlock(client).await;
    outcome.map(Some)
}

/// Recomputes the days `[from, to]` (clipped to what raw reports still cover), whatever was
/// rolled before. Leaves the watermark alone.
#[tracing::instrument(skip(pool))]
pub async fn recompute(
    pool: &Pool,
    product: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Rolled, StoreError> {
    let mut client = pool.get().await?;
    lock(&client, Wait::Yes).await?;
    let outcome = async {
        store::summarize_brin_indexes(&client).await?;
        roll_ranges(&mut client, product, vec![(from, to)]).await
    }
    .await;
    unlock(client).await;
    outcome
}

async fn lock(client: &Object, wait: Wait) -> Result<bool, StoreError> {
    Ok(match wait {
        Wait::Yes => {
            client
                .execute("SELECT pg_advisory_lock($1)", &[&store::ROLLUP_LOCK])
                .await?;
            true
        }
        Wait::No => client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&store::ROLLUP_LOCK])
            .await?
            .try_get(0)?,
    })
}

/// Releases the lock; a connection that cannot say so is closed (which releases it too) rather
/// than returned to the pool holding it.
async fn unlock(client: Object) {
    if let Err(error) = client
        .execute("SELECT pg_advisory_unlock($1)", &[&store::ROLLUP_LOCK])
        .await
    {
        tracing::warn!(%error, "rollup lock not released; closing its connection");
        drop(Object::take(client));
    }
}

async fn incremental(client: &mut Object, product: &str) -> Result<Rolled, StoreError> {
    let started = store::database_now(&*client).await?;
    store::summarize_brin_indexes(&*client).await?;
    let today = started.date_naive();
    let state = store::rollup_state(&*client, product).await?;
    let marked = store::marked_days(&*client, product).await?;
    let ranges = match state {
        None => match store::report_days(&*client, product).await? {
            Some((first, last)) => vec![(first, last.max(today))],
            None => vec![(today, today)],
        },
        Some(state) => {
            let received = store::received_since(&*client, product, state.watermark).await?;
            dirty_ranges(today, &received, &marked.days)
        }
    };
    let rolled = roll_ranges(client, product, ranges).await?;
    store::register_installations(client, product, state.map(|state| state.watermark)).await?;
    store::unmark_days(&*client, product, &marked).await?;
    store::save_rollup_state(
        &*client,
        product,
        RollupState {
            rolled_at: started,
            watermark: started - WATERMARK_MARGIN,
        },
    )
    .await?;
    Ok(rolled)
}

/// The days to roll, merged into ranges: each received report's end day and the 29 after it
/// (from its start day: a retry may have moved its end), each marked day and the 29 after it,
/// and today. Never past today unless a report ends later (periods may end a day ahead).
pub fn dirty_ranges(
    today: NaiveDate,
    received: &[(NaiveDate, NaiveDate)],
    marked: &[NaiveDate],
) -> Vec<(NaiveDate, NaiveDate)> {
    let after = Days::days(LONGEST_WINDOW - 1);
    let mut ranges: Vec<(NaiveDate, NaiveDate)> = received
        .iter()
        .map(|&(start, end)| {
            let start = start.max(end - Days::days(MAX_PERIOD_DAYS));
            (start, (end + after).min(today.max(end)))
        })
        .chain(
            marked
                .iter()
                .map(|&day| (day, (day + after).min(today.max(day)))),
        )
        .chain([(today, today)])
        .collect();
    ranges.sort();
    let mut merged: Vec<(NaiveDate, NaiveDate)> = Vec::with_capacity(ranges.len());
    for (from, to) in ranges {
        match merged.last_mut() {
            Some(last) if from <= last.1 + Days::days(1) => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

async fn roll_ranges(
    client: &mut Object,
    product: &str,
    ranges: Vec<(NaiveDate, NaiveDate)>,
) -> Result<Rolled, StoreError> {
    // Days whose window reaches before the oldest raw partition have lost reports to pruning.
    let safe_from = store::oldest_raw_day(&*client)
        .await?
        .map(|oldest| oldest + Days::days(MAX_PERIOD_DAYS + LONGEST_WINDOW));
    let mut rolled = Rolled::default();
    for (from, to) in ranges {
        let from = safe_from.map_or(from, |safe| from.max(safe));
        if from > to {
            tracing::info!(%to, "not rolling days whose raw reports were pruned");
            continue;
        }
        let mut chunk = from;
        while chunk <= to {
            let last = (chunk + Days::days(CHUNK_DAYS - 1)).min(to);
            rolled.reports += roll_days(client, product, chunk, last).await?;
            chunk = last + Days::days(1);
        }
        rolled.ranges.push((from, to));
    }
    Ok(rolled)
}

/// Recomputes `[from, to]` whole and replaces it in one transaction.
async fn roll_days(
    client: &mut Object,
    product: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<u64, StoreError> {
    let began = Instant::now();
    let tx = client.transaction().await?;
    // The reports of a chunk are sorted by installation; let the sort stay in memory.
    tx.batch_execute("SET LOCAL work_mem = '128MB'").await?;
    let mut sweep = Sweep::new(from, to);
    for (day, count) in store::new_installations(&tx, product, from, to).await? {
        sweep.set_new_installations(day, count);
    }
    // One day (the incremental run's usual today) needs each installation's latest report in
    // its 30-day window, and the count of reports ending on it.
    let (which, day_reports) = if from == to {
        let count = store::reports_ending_on(&tx, product, to).await?;
        (Reports::LatestPerInstallation, Some(count))
    } else {
        (Reports::All, None)
    };
    let mut installation: Vec<ReportRow> = Vec::new();
    let first_day = sweep.first_report_day();
    let reports = store::for_each_report(&tx, product, first_day, to, which, |report| {
        if installation
            .first()
            .is_some_and(|first| first.installation != report.installation)
        {
            sweep.add_installation(&installation);
            installation.clear();
        }
        installation.push(report);
    })
    .await?;
    sweep.add_installation(&installation);
    if let Some(count) = day_reports {
        sweep.set_reports(to, count);
    }
    let rows = sweep.finish();
    store::replace_days(&tx, product, from, to, &rows).await?;
    tx.commit().await?;
    tracing::debug!(%from, %to, reports, elapsed_ms = began.elapsed().as_millis() as u64, "days rolled");
    Ok(reports)
}

/// Wakes the rollup task early (after an erasure) instead of at its next turn.
#[derive(Debug, Default)]
pub struct Nudge(Notify);

impl Nudge {
    pub fn now(&self) {
        self.0.notify_one();
    }
}

/// Background rollup inside `tally serve`: every `every` (and when nudged), brings the daily
/// tables up to date unless another instance is doing it; once a day, prunes raw partitions.
pub async fn run_periodically(
    pool: Pool,
    product: &'static str,
    every: Duration,
    raw_retention_days: u32,
    nudge: Arc<Nudge>,
    stop: CancellationToken,
) {
    let mut turn = tokio::time::interval(every.max(Duration::from_secs(1)));
    turn.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut daily = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = turn.tick() => roll_once(&pool, product).await,
            () = nudge.0.notified() => roll_once(&pool, product).await,
            _ = daily.tick() => {
                if let Err(error) = prune(&pool, raw_retention_days, Utc::now().date_naive()).await {
                    tracing::error!(%error, "pruning raw partitions failed");
                }
            }
        }
    }
}

async fn roll_once(pool: &Pool, product: &str) {
    let began = Instant::now();
    match bring_up_to_date(pool, product, Wait::No).await {
        Ok(Some(rolled)) => tracing::info!(
            days = rolled.days(),
            reports = rolled.reports,
            elapsed_ms = began.elapsed().as_millis() as u64,
            "daily tables up to date"
        ),
        Ok(None) => tracing::debug!("another instance is rolling up"),
        Err(error) => tracing::error!(%error, "rollup failed"),
    }
}

/// When the daily tables were last brought up to date (`last_updated`).
pub async fn last_updated(pool: &Pool, product: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let client = pool.get().await?;
    Ok(store::rollup_state(&client, product)
        .await?
        .map(|state| state.rolled_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, day).unwrap()
    }

    #[test]
    fn a_report_dirties_its_end_day_and_the_following_days_up_to_today() {
        let ranges = dirty_ranges(d(20), &[(d(3), d(10))], &[]);
        assert_eq!(ranges, [(d(3), d(20))]);
    }

    #[test]
    fn marked_days_and_today_merge_into_ranges() {
        assert_eq!(dirty_ranges(d(31), &[], &[d(1)]), [(d(1), d(31))]);
        assert_eq!(dirty_ranges(d(31), &[], &[]), [(d(31), d(31))]);
    }
}
