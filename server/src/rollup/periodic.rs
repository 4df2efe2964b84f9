//! The rollup inside `tally serve`: a turn every interval (or when nudged), pruning once a day.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use deadpool_postgres::Pool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{bring_all_up_to_date, prune, Wait, ROLL_DEADLINE};
use crate::domain::Catalog;
use crate::store;
use crate::telemetry::{self, Chain};

/// Wakes the rollup task early (after an erasure) instead of at its next turn.
#[derive(Debug, Default)]
pub struct Nudge(Notify);

impl Nudge {
    pub fn now(&self) {
        self.0.notify_one();
    }
}

/// Background rollup inside `tally serve`: every `every` (and when nudged), brings the daily
/// tables up to date unless another instance is doing it; once a day, prunes raw rows.
/// Stops at once when told to, abandoning a run in progress (it rolls back).
pub async fn run_periodically(
    pool: Pool,
    catalog: &'static Catalog,
    every: Duration,
    raw_retention_days: u32,
    nudge: Arc<Nudge>,
    stop: CancellationToken,
) {
    let mut turn = tokio::time::interval(every.max(Duration::from_secs(1)));
    turn.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut daily = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
    loop {
        let step = tokio::select! {
            () = stop.cancelled() => break,
            _ = turn.tick() => Step::Roll,
            () = nudge.0.notified() => Step::Roll,
            _ = daily.tick() => Step::Prune,
        };
        tokio::select! {
            () = stop.cancelled() => break,
            () = run_step(&pool, catalog, raw_retention_days, step) => {}
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Roll,
    Prune,
}

async fn run_step(pool: &Pool, catalog: &Catalog, raw_retention_days: u32, step: Step) {
    let began = Instant::now();
    let started = SystemTime::now();
    match step {
        Step::Roll => {
            let run = bring_all_up_to_date(pool, catalog, raw_retention_days, Wait::No);
            match store::within(ROLL_DEADLINE, run).await {
                Ok(Some(rolled)) => {
                    telemetry::rollup_succeeded(started, began.elapsed());
                    for (product, rolled) in rolled {
                        tracing::info!(
                            product,
                            days = rolled.days(),
                            rows = rolled.rows,
                            "daily tables up to date"
                        );
                    }
                    tracing::info!(
                        elapsed_ms = began.elapsed().as_millis() as u64,
                        "rollup run done"
                    );
                }
                Ok(None) => tracing::debug!("another instance is rolling up"),
                Err(error) => {
                    metrics::counter!("tally_rollup_failures_total", "step" => "roll").increment(1);
                    tracing::error!(error = %Chain(&error), "rollup failed");
                }
            }
        }
        Step::Prune => {
            let today = Utc::now().date_naive();
            let pruned = prune(pool, catalog, raw_retention_days, today);
            if let Err(error) = store::within(ROLL_DEADLINE, pruned).await {
                metrics::counter!("tally_rollup_failures_total", "step" => "prune").increment(1);
                tracing::error!(error = %Chain(&error), "pruning raw data failed");
            }
        }
    }
}
