//! The rollup: which days of the daily tables to roll, and rolling them.
//!
//! - **Time axis.** A row counts on its day (a report: the UTC day its period ends). On day D,
//!   for a window of 1, 7 or 30 days, an installation is active when it has a row in
//!   `[D-w+1, D]`, and counts once (see `windows`). A row of day E therefore changes days
//!   E..E+29 and nothing else.
//! - **Idempotent.** Rolling recomputes whole days from the raw reports and replaces them in one
//!   transaction (chunks of `CHUNK_DAYS` days): rolling twice, day by day or the whole range
//!   at once gives the same rows.
//! - **Incremental.** A run rolls only the days touched since the last one: reports received
//!   since the watermark (`activity`'s index on `received_at`), days marked by erasures
//!   (`rollup_dirty_days`), and today on the day's first run (`dirty_ranges`). The first run
//!   rolls every day with rows, each with the 29 after it. `received_at` is the database's
//!   time of the batch's transaction, and the watermark is the database's time at the run's
//!   start or the start of the oldest writer transaction still open, whichever is earlier
//!   (`store::watermark`): no report can commit behind it, whatever the instances' clocks say
//!   or however long a batch waits.
//! - **One roller.** A run holds the rollup lock (`store::lock_rollup`) on its connection: the task in
//!   `tally serve` skips a turn when another instance rolls; `tally rollup` waits for it. A run
//!   that is abandoned (deadline, shutdown) closes its connection, which releases the lock; it
//!   never goes back to the pool holding it.
//! - **Bounded.** A run's statements may take `ROLL_STATEMENT_TIMEOUT` each (the pool's
//!   deadline is for requests); in `tally serve` a run is abandoned after `ROLL_DEADLINE`, or at
//!   once on shutdown, and its transaction rolls back.
//! - **Pruned history.** Days whose reports may have been pruned (`tally prune`, the product's
//!   retention) are never rolled again: the daily tables are all that remains of them.
//! - **Every product, one way.** A run folds the events appended since the last run into their
//!   days (`store::fold_added`, in a transaction of its own, the only fold: the appended rows
//!   wait at most one rollup interval), then rolls each declared product under the same lock
//!   (`bring_all_up_to_date`) by the same decision (`incremental`). The windows of every product
//!   are counted by one arithmetic (`windows::KeyWindows`): a report product (weekly, daily)
//!   counts each installation by its latest row in the window, every key of it, and keeps its
//!   reports and new installations per day in `daily_reports` (`engine`); an event product by
//!   any day of the window, for its activity and event types, and keeps its days' sums in
//!   `activity_daily` (`activity`). Every product's windows are one table, `activity_windows`.

pub mod activity;
pub mod engine;
mod periodic;
mod presence;
mod retention;
#[cfg(test)]
mod test_rng;
pub mod windows;

use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate, Utc};
use deadpool_postgres::{Object, Pool};

use crate::domain::{Cadence, Catalog, Product};
use crate::store::{self, ReportRow, Reports, RollupState, StoreError};
use crate::telemetry::Chain;
use engine::Sweep;
use windows::LONGEST_WINDOW;

pub use periodic::{run_periodically, Nudge};
pub use retention::prune;

/// Days recomputed in one transaction (reading their reports and the 29 days before).
const CHUNK_DAYS: i64 = 62;
/// Longest one statement of a run may take (a backfill reads months of reports at once).
const ROLL_STATEMENT_TIMEOUT: &str = "15min";
/// Longest a run of the task in `tally serve` may take before it is abandoned.
const ROLL_DEADLINE: Duration = Duration::from_secs(60 * 60);

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
    /// Raw rows read: a report product's reports, an activity product's installation days.
    pub rows: u64,
}

impl Rolled {
    pub fn days(&self) -> i64 {
        self.ranges
            .iter()
            .map(|(a, b)| (*b - *a).num_days() + 1)
            .sum()
    }
}

/// Where a product's days are rolled to, as its cadence says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// A report product (weekly, daily; `engine`): `daily_reports` and the windows of every key
    /// of its reports, each installation counted by its latest report, a dimension's value
    /// weighing its format's counter (if any).
    Reports(Option<&'static str>),
    /// An event product (`activity`): `activity_daily` (the days' sums) and the windows of its
    /// activity and event types, an installation counted by any day with the key.
    Events,
}

impl Layout {
    fn of(product: &Product) -> Self {
        match product.cadence() {
            Cadence::Weekly | Cadence::Daily => Self::Reports(product.format().dimension_weight()),
            Cadence::Events => Self::Events,
        }
    }
}

/// Brings one product's daily tables up to date: every day touched since the last run (all
/// days the first time), of those whose rows `raw_retention_days` (or the product's own
/// retention) keeps. `None` when another instance holds the lock and `wait` is `No`.
#[tracing::instrument(skip_all, fields(product = product.name()))]
pub async fn bring_up_to_date(
    pool: &Pool,
    product: &Product,
    raw_retention_days: u32,
    wait: Wait,
) -> Result<Option<Rolled>, StoreError> {
    let run = match wait {
        Wait::Yes => Some(Locked::wait(pool).await?),
        Wait::No => Locked::try_take(pool).await?,
    };
    let Some(mut run) = run else {
        return Ok(None);
    };
    let kept_from = kept_from(product, raw_retention_days, Utc::now().date_naive());
    let outcome = incremental(run.client(), pool, product, kept_from).await;
    run.unlock().await;
    outcome.map(Some)
}

/// Brings every declared product's daily tables up to date in one run under one lock, after
/// folding the events appended since the last run. `raw_retention_days` is the retention of
/// the products that declare none. `None` when another instance holds the lock and `wait` is
/// `No`.
#[tracing::instrument(skip(pool, catalog))]
pub async fn bring_all_up_to_date<'a>(
    pool: &Pool,
    catalog: &'a Catalog,
    raw_retention_days: u32,
    wait: Wait,
) -> Result<Option<Vec<(&'a str, Rolled)>>, StoreError> {
    let run = match wait {
        Wait::Yes => Some(Locked::wait(pool).await?),
        Wait::No => Locked::try_take(pool).await?,
    };
    let Some(mut run) = run else {
        return Ok(None);
    };
    let client = run.client();
    let outcome = async {
        store::fold_added(client).await?;
        let mut rolled = Vec::new();
        for product in catalog.products() {
            let kept_from = kept_from(product, raw_retention_days, Utc::now().date_naive());
            rolled.push((
                product.name(),
                incremental(client, pool, product, kept_from).await?,
            ));
        }
        Ok(rolled)
    }
    .await;
    run.unlock().await;
    outcome.map(Some)
}

/// Recomputes `[from, to]` of every declared product (see `recompute`).
#[tracing::instrument(skip(pool, catalog))]
pub async fn recompute_all<'a>(
    pool: &Pool,
    catalog: &'a Catalog,
    raw_retention_days: u32,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(&'a str, Rolled)>, StoreError> {
    let mut run = Locked::wait(pool).await?;
    let client = run.client();
    let outcome = async {
        store::fold_added(client).await?;
        let mut rolled = Vec::new();
        for product in catalog.products() {
            let kept_from = kept_from(product, raw_retention_days, Utc::now().date_naive());
            let done = recompute_locked(client, pool, product, from, to, kept_from).await?;
            rolled.push((product.name(), done));
        }
        Ok(rolled)
    }
    .await;
    run.unlock().await;
    outcome
}

/// Recomputes the days `[from, to]` of one product (clipped to what the rows kept from
/// `kept_from` still cover), whatever was rolled before. Leaves the watermark alone.
#[tracing::instrument(skip_all, fields(product = product.name()))]
pub async fn recompute(
    pool: &Pool,
    product: &Product,
    from: NaiveDate,
    to: NaiveDate,
    kept_from: NaiveDate,
) -> Result<Rolled, StoreError> {
    let mut run = Locked::wait(pool).await?;
    let outcome = recompute_locked(run.client(), pool, product, from, to, kept_from).await;
    run.unlock().await;
    outcome
}

async fn recompute_locked(
    client: &mut Object,
    pool: &Pool,
    product: &Product,
    from: NaiveDate,
    to: NaiveDate,
    kept_from: NaiveDate,
) -> Result<Rolled, StoreError> {
    // An event product's days end today; a report's period may end a day ahead.
    let to = match Layout::of(product) {
        Layout::Reports(_) => to,
        Layout::Events => to.min(Utc::now().date_naive()),
    };
    let days: Vec<NaiveDate> = from.iter_days().take_while(|day| *day <= to).collect();
    roll(client, pool, product, &days, vec![(from, to)], kept_from).await
}

/// The first day whose rows the product's retention keeps on `today`: its own declaration,
/// else `raw_retention_days` (`TALLY_RAW_RETENTION_DAYS`).
fn kept_from(product: &Product, raw_retention_days: u32, today: NaiveDate) -> NaiveDate {
    let retention = product.retention_days().unwrap_or(raw_retention_days);
    today - Days::days(i64::from(retention))
}

/// A connection of a run, under the run's statement deadline: the first holds the rollup lock.
/// Dropped without `unlock` (an abandoned run), it is closed rather than returned to the pool,
/// which releases the lock and rolls back.
struct Locked(Option<Object>);

impl Locked {
    /// Waits for the lock.
    async fn wait(pool: &Pool) -> Result<Self, StoreError> {
        let client = pool.get().await?;
        store::lock_rollup(&client, ROLL_STATEMENT_TIMEOUT, true).await?;
        Ok(Self(Some(client)))
    }

    /// A second connection for a run that holds the lock on its first: its reads.
    async fn beside(pool: &Pool) -> Result<Self, StoreError> {
        let client = pool.get().await?;
        store::set_statement_timeout(&client, ROLL_STATEMENT_TIMEOUT).await?;
        Ok(Self(Some(client)))
    }

    /// Takes the lock unless another run holds it.
    async fn try_take(pool: &Pool) -> Result<Option<Self>, StoreError> {
        let client = pool.get().await?;
        let locked = store::lock_rollup(&client, ROLL_STATEMENT_TIMEOUT, false).await?;
        let run = Self(Some(client));
        if locked {
            Ok(Some(run))
        } else {
            run.unlock().await;
            Ok(None)
        }
    }

    fn client(&mut self) -> &mut Object {
        self.0.as_mut().expect("a held lock has its connection")
    }

    /// Releases the lock (if held) and the session's deadline; a connection that cannot say so
    /// is closed instead.
    async fn unlock(mut self) {
        let Some(client) = self.0.take() else {
            return;
        };
        if let Err(error) = store::unlock_rollup(&client).await {
            tracing::warn!(error = %Chain(&error), "rollup lock not released; closing its connection");
            drop(Object::take(client));
        }
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}

/// Rolls what changed since the product's last run: the days of rows received since its
/// watermark (every day with rows the first time) and the days marked by erasures, each with
/// the 29 after it, and today on the day's first run (`dirty_ranges`).
async fn incremental(
    client: &mut Object,
    pool: &Pool,
    product: &Product,
    kept_from: NaiveDate,
) -> Result<Rolled, StoreError> {
    let name = product.name();
    let (started, watermark) = store::watermark(&*client).await?;
    let today = started.date_naive();
    let marked = store::marked_days(&*client, name).await?;
    let mut days = match store::rollup_state(&*client, name).await? {
        None => store::activity_days(&*client, name).await?,
        Some(state) => store::activity_days_since(&*client, name, state.watermark).await?,
    };
    days.extend(&marked.days);
    days.sort_unstable();
    days.dedup();
    let today_rolled = store::windows_rolled(&*client, name, today).await?;
    let ranges = dirty_ranges(today, today_rolled, &days);
    let rolled = roll(client, pool, product, &days, ranges, kept_from).await?;
    if !marked.days.is_empty() {
        // An erasure committing while a run numbered its installation's rows left the number.
        store::delete_orphan_numbers(&*client, name).await?;
    }
    store::unmark_days(&*client, name, &marked).await?;
    let state = RollupState {
        rolled_at: started,
        watermark,
    };
    store::save_rollup_state(&*client, name, state).await?;
    Ok(rolled)
}

/// Rolls `ranges` (and, in the activity tables, the daily sums and sets of `changed` days).
async fn roll(
    client: &mut Object,
    pool: &Pool,
    product: &Product,
    changed: &[NaiveDate],
    ranges: Vec<(NaiveDate, NaiveDate)>,
    kept_from: NaiveDate,
) -> Result<Rolled, StoreError> {
    let rolled = match Layout::of(product) {
        Layout::Reports(weight) => {
            roll_ranges(client, (product.name(), weight), ranges, kept_from).await?
        }
        Layout::Events => activity::roll(client, pool, product, changed, ranges, kept_from).await?,
    };
    if rolled.days() > LONGEST_WINDOW {
        // A backfill or a recompute rewrote the tables: the reads' plans need their statistics
        // now, not at autovacuum's next look (a year of a measure read 8-10 ms without them,
        // every row of the range fetched, against 1.6 ms with them).
        store::analyze_activity_tables(&*client).await?;
    }
    Ok(rolled)
}

/// The days to roll, merged into ranges: each changed day (of rows received, or marked) and
/// the 29 after it, and today unless `today_rolled`. Today's windows depend only on the rows
/// of their own days, which `changed` covers, so once rolled they change only with them;
/// rereading 30 days of rows for nothing cost seconds a run at 10,000 installations
/// (load-tests/README.md). Never past today unless a row's day is later (periods may end a
/// day ahead).
pub fn dirty_ranges(
    today: NaiveDate,
    today_rolled: bool,
    changed: &[NaiveDate],
) -> Vec<(NaiveDate, NaiveDate)> {
    let after = Days::days(LONGEST_WINDOW - 1);
    let mut ranges: Vec<(NaiveDate, NaiveDate)> = changed
        .iter()
        .map(|&day| (day, (day + after).min(today.max(day))))
        .chain((!today_rolled).then_some((today, today)))
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
    product: (&str, Option<&str>),
    ranges: Vec<(NaiveDate, NaiveDate)>,
    kept_from: NaiveDate,
) -> Result<Rolled, StoreError> {
    // Days whose window reaches before `kept_from` have lost reports to pruning.
    let safe_from = kept_from + Days::days(LONGEST_WINDOW - 1);
    let mut rolled = Rolled::default();
    for (from, to) in ranges {
        let from = from.max(safe_from);
        if from > to {
            tracing::info!(%to, "not rolling days whose raw reports were pruned");
            continue;
        }
        let mut chunk = from;
        while chunk <= to {
            let last = (chunk + Days::days(CHUNK_DAYS - 1)).min(to);
            rolled.rows += roll_days(client, product, (chunk, last), kept_from).await?;
            chunk = last + Days::days(1);
        }
        rolled.ranges.push((from, to));
    }
    Ok(rolled)
}

/// Recomputes `[from, to]` whole and replaces it in one transaction.
async fn roll_days(
    client: &mut Object,
    (product, weight): (&str, Option<&str>),
    (from, to): (NaiveDate, NaiveDate),
    kept_from: NaiveDate,
) -> Result<u64, StoreError> {
    let began = Instant::now();
    let tx = client.transaction().await?;
    // The reports of a chunk are sorted by installation; let the sort stay in memory.
    tx.batch_execute("SET LOCAL work_mem = '128MB'").await?;
    let mut sweep = Sweep::new(from, to, weight);
    for (day, count) in store::new_installations(&tx, product, from, to).await? {
        sweep.set_new_installations(day, count);
    }
    // One day (the incremental run's usual today) needs each installation's latest report in
    // its 30-day window, and the count of its reports.
    let (which, day_reports) = if from == to {
        let count = store::reports_on(&tx, product, to).await?;
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
    store::replace_days(&tx, product, (from, to), kept_from, &rows).await?;
    tx.commit().await?;
    tracing::debug!(%from, %to, reports, elapsed_ms = began.elapsed().as_millis() as u64, "days rolled");
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, day).unwrap()
    }

    #[test]
    fn a_changed_day_dirties_itself_and_the_following_days_up_to_today() {
        assert_eq!(dirty_ranges(d(20), true, &[d(10)]), [(d(10), d(20))]);
    }

    #[test]
    fn changed_days_and_today_merge_into_ranges() {
        assert_eq!(dirty_ranges(d(31), false, &[d(1)]), [(d(1), d(31))]);
        assert_eq!(dirty_ranges(d(31), false, &[]), [(d(31), d(31))]);
        assert_eq!(dirty_ranges(d(31), true, &[d(3), d(1)]), [(d(1), d(31))]);
    }

    #[test]
    fn today_once_rolled_is_rolled_again_only_when_a_day_of_its_windows_changed() {
        assert_eq!(dirty_ranges(d(31), true, &[]), []);
        assert_eq!(dirty_ranges(d(31), true, &[d(1)]), [(d(1), d(30))]);
        assert_eq!(dirty_ranges(d(31), true, &[d(5)]), [(d(5), d(31))]);
    }
}
