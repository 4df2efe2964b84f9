//! SQL and nothing else: the pool, migrations, and one function per thing we ask Postgres.

mod activity_access;
mod activity_daily;
mod activity_reads;
mod daily;
pub(crate) mod installation_lock;
mod migrate;
mod outcomes;
mod packed;
mod reports;
mod rollup;
mod summary;
mod tls;
mod writer;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;

use crate::config::DatabaseConfig;
use crate::telemetry::Chain;

pub use activity_access::{
    activity_installation_days, delete_activity_installation, installation_reports, Erasure,
    StoredDay, StoredReport,
};
pub use activity_daily::{
    activity_days, activity_days_since, analyze_activity_tables, built_days,
    delete_activity_before, delete_fingerprints_before, delete_orphan_numbers, for_each_day_row,
    for_each_day_set, for_each_installation_number, key_numbers, number_installations,
    number_registered_since, read_days_by_index, replace_activity_days, replace_activity_windows,
    replace_day_sets, windows_rolled, DaySet, KeySum, WindowRow,
};
pub use activity_reads::{Cells, KeyAmount, Keys};
pub use daily::{dimension, Daily, DayReports, DimensionRow, OutcomeCount, ReadPool, TotalsRow};
pub use migrate::migrate;
pub use outcomes::add_outcomes;
pub use packed::Packed;
pub use reports::{begin_sending, last_sent, Sending};
pub use rollup::{
    first_day, for_each_report, lock_rollup, marked_days, midnight, new_installations,
    replace_days, reports_on, rollup_state, save_rollup_state, set_statement_timeout,
    unlock_rollup, unmark_days, watermark, DailyRows, MarkedDays, ReportRow, Reports, RollupState,
};
pub use summary::{fold_counts, ping, summary, Summary};
pub use writer::{fold_added, Activity, Counted, Stored, WriteError, Writer, WriterConfig};

/// Why the store could not answer. Causes are kept for the log (`#[source]`), never shown.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had in time: the database is away or the pool is exhausted.
    #[error("no database connection")]
    Pool(#[source] PoolError),
    /// The connection broke or closed (an error without SQLSTATE).
    #[error("the database connection failed")]
    Connection(#[source] tokio_postgres::Error),
    /// The database did not answer within the deadline.
    #[error("the database did not answer within {0:?}")]
    TimedOut(Duration),
    /// Postgres refused the statement. Only the message and SQLSTATE are kept: the error's
    /// DETAIL may quote row values (an installation id), which never reach a log.
    #[error("the database refused the statement: {message} (SQLSTATE {})", code.code())]
    Refused { code: SqlState, message: String },
}

impl StoreError {
    /// Worth retrying soon (503 + Retry-After): the database is away, overloaded, shutting
    /// down, cancelled the statement, or lost a serialization or deadlock race.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Pool(_) | Self::Connection(_) | Self::TimedOut(_) => true,
            Self::Refused { code, .. } => {
                let class = &code.code()[..2];
                // 08 connection, 40 serialization/deadlock, 53 resources, 57 operator
                // intervention (statement_timeout, shutdown), 58 system error.
                matches!(class, "08" | "40" | "53" | "57" | "58")
            }
        }
    }
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Backend(error) => Self::from(error),
            other => Self::Pool(other),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        match error.as_db_error() {
            Some(db) => Self::Refused {
                code: db.code().clone(),
                message: db.message().to_owned(),
            },
            None => Self::Connection(error),
        }
    }
}

/// What a pool serves. Each kind of work has its own connections, so that one cannot take the
/// others' (a flood of statistics reads never makes a batch wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The group-commit writer. It bounds each batch itself and closes a connection whose batch
    /// overran, so its sessions have no statement deadline and reuse checks only for a closed
    /// connection (a round trip per batch would cost throughput).
    Writer { connections: usize },
    /// Everything else. Every statement has a deadline on the server (`statement_timeout`),
    /// and a connection is verified with a round trip before reuse, so a dead one (or one left
    /// behind a stalled network) is discarded instead of handed out.
    Queries { connections: usize },
}

/// Connections the writer's batch statements wait for; other sessions' transactions are left
/// out of the rollup's watermark (see `store::watermark`).
pub const WRITER_APPLICATION: &str = "tally-writer";

/// A pool whose every wait is bounded, so a full pool or an absent database becomes a fast
/// error instead of a hang (deadpool's timeouts default to none).
pub fn pool(config: &DatabaseConfig, purpose: Purpose) -> anyhow::Result<Pool> {
    let (mut pg, tls) = tls::connector("DATABASE_URL", config.database_url.expose())?;
    pg.connect_timeout(config.timeout());
    // A NOTICE (`CREATE ... IF NOT EXISTS` skipping) is not worth a log line: tokio-postgres
    // logs every message it receives at info, so only warnings and errors are asked for.
    let mut options = String::from("-c client_min_messages=warning");
    let (connections, recycling_method) = match purpose {
        Purpose::Writer { connections } => {
            pg.application_name(WRITER_APPLICATION);
            (connections, RecyclingMethod::Fast)
        }
        Purpose::Queries { connections } => {
            pg.application_name("tally");
            let deadline = config.statement_timeout().as_millis();
            options.push_str(&format!(" -c statement_timeout={deadline}"));
            (connections, RecyclingMethod::Verified)
        }
    };
    let options = match pg.get_options() {
        Some(given) => format!("{given} {options}"),
        None => options,
    };
    pg.options(&options);
    let manager = Manager::from_config(pg, tls, ManagerConfig { recycling_method });
    Ok(Pool::builder(manager)
        .max_size(connections.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(config.timeout()))
        .create_timeout(Some(config.timeout()))
        .recycle_timeout(Some(config.timeout()))
        .build()?)
}

/// The pool for queries, once it has answered: start-up waits for the database for a while
/// (compose may start us first) and then fails with the cause.
pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<Pool> {
    let pool = pool(
        config,
        Purpose::Queries {
            connections: config.db_pool_size,
        },
    )?;
    let mut delay = Duration::from_millis(250);
    let mut waited = Duration::ZERO;
    loop {
        match ping(&pool).await {
            Ok(()) => return Ok(pool),
            Err(error) if waited < Duration::from_secs(30) => {
                tracing::warn!(error = %Chain(&error), "database not reachable yet, retrying");
                tokio::time::sleep(delay).await;
                waited += delay;
                delay = (delay * 2).min(Duration::from_secs(4));
            }
            Err(error) => anyhow::bail!("cannot reach the database: {}", Chain(&error)),
        }
    }
}

/// Runs `work` against the database within `deadline`: past it, the answer is `TimedOut`
/// whatever the network does (a stalled connection never answers, and `statement_timeout`
/// only helps a database that still talks).
pub async fn within<T, E: From<StoreError>>(
    deadline: Duration,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| Err(StoreError::TimedOut(deadline).into()))
}
