//! SQL and nothing else: the pool, migrations, and one function per thing we ask Postgres.

mod daily;
mod migrate;
mod outcomes;
mod partitions;
mod rollup;
mod submissions;
mod tls;
mod writer;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};

use crate::config::DatabaseConfig;

pub use daily::{Daily, DayReports, OutcomeCount, ReadPool};
pub use migrate::migrate;
pub use outcomes::add_outcomes;
pub use partitions::{drop_partitions_before, ensure_partitions};
pub use rollup::{
    database_now, for_each_report, marked_days, midnight, new_installations, oldest_raw_day,
    received_since, register_installations, replace_days, report_days, reports_ending_on,
    rollup_state, save_rollup_state, summarize_brin_indexes, unmark_days, DailyRows, DimensionRow,
    ReportRow, Reports, RollupState, TotalsRow, ROLLUP_LOCK,
};
pub use submissions::{
    delete_installation, installation_reports, ping, summary, StoredReport, Summary,
};
pub use writer::{Stored, WriteError, Writer, WriterConfig};

/// Why the store could not answer. The text is for logs only.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had or it broke: the database is away or overloaded.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Postgres answered with an error.
    #[error("database error: {0}")]
    Query(String),
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> Self {
        Self::Unavailable(with_causes(&error))
    }
}

/// An error and its causes on one line: deadpool and tokio-postgres keep what went wrong (a
/// refused certificate, a pg_hba.conf rule) in the source chain, not in their own text.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        // An error without SQLSTATE is a broken or closed connection, not a bad statement.
        match error.as_db_error() {
            Some(db) => Self::Query(format!("{} ({})", db.message(), db.code().code())),
            None => Self::Unavailable(with_causes(&error)),
        }
    }
}

/// A pool whose every wait is bounded, so a full pool or an absent database becomes a fast
/// error instead of a hang (deadpool's timeouts default to none).
pub fn pool(config: &DatabaseConfig) -> anyhow::Result<Pool> {
    let (mut pg, tls) = tls::connector("DATABASE_URL", config.database_url.expose())?;
    pg.application_name("tally");
    pg.connect_timeout(config.timeout());
    let manager = Manager::from_config(
        pg,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(config.db_pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(config.timeout()))
        .create_timeout(Some(config.timeout()))
        .recycle_timeout(Some(config.timeout()))
        .build()?)
}

/// A pool that has answered once: start-up waits for the database for a while (compose may
/// start us first) and then fails with the cause.
pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<Pool> {
    let pool = pool(config)?;
    let mut delay = Duration::from_millis(250);
    let mut waited = Duration::ZERO;
    loop {
        match ping(&pool).await {
            Ok(()) => return Ok(pool),
            Err(error) if waited < Duration::from_secs(30) => {
                tracing::warn!(%error, "database not reachable yet, retrying");
                tokio::time::sleep(delay).await;
                waited += delay;
                delay = (delay * 2).min(Duration::from_secs(4));
            }
            Err(error) => anyhow::bail!("cannot reach the database: {error}"),
        }
    }
}
