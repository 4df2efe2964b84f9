//! The `tally` command line: which subcommand runs, with which settings.

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::config::{DatabaseConfig, RetentionConfig, ServeConfig, TelemetryConfig};
use crate::domain::Catalog;
use crate::startup::Application;
use crate::{rollup, store, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "tally",
    version,
    about = "Aggregation ingestion server for opt-in usage statistics"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve HTTP until SIGTERM or Ctrl-C.
    Serve(Box<ServeConfig>),
    /// Apply the database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(flatten)]
        telemetry: TelemetryConfig,
    },
    /// Bring the daily tables up to date (or recompute the days --from..--to) and exit.
    Rollup {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(flatten)]
        telemetry: TelemetryConfig,
        /// First day to recompute (YYYY-MM-DD); default: the first day with reports.
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day to recompute (YYYY-MM-DD); default: today.
        #[arg(long)]
        to: Option<NaiveDate>,
    },
    /// Drop the raw partitions older than the retention and exit (daily tables stay).
    Prune {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(flatten)]
        telemetry: TelemetryConfig,
        #[command(flatten)]
        retention: RetentionConfig,
    },
}

impl Command {
    /// `serve` spreads over every core; the one-shot commands run on one thread, where
    /// streaming a year of reports does not pay for waking another thread per batch of rows.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        match self {
            Command::Serve(_) => tokio::runtime::Builder::new_multi_thread(),
            _ => tokio::runtime::Builder::new_current_thread(),
        }
        .enable_all()
        .build()
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            telemetry::init_logs(&config.telemetry);
            let app = Application::build(*config).await?;
            app.run_until_stopped(telemetry::shutdown_signal()).await
        }
        Command::Migrate {
            database,
            telemetry: logs,
        } => {
            telemetry::init_logs(&logs);
            let pool = store::connect(&database).await?;
            store::migrate(&pool).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Rollup {
            database,
            telemetry: logs,
            from,
            to,
        } => {
            telemetry::init_logs(&logs);
            let pool = store::connect(&database).await?;
            store::migrate(&pool).await?;
            let product = Catalog::PRINTERNIZER.product;
            let began = std::time::Instant::now();
            let rolled = if from.is_none() && to.is_none() {
                rollup::bring_up_to_date(&pool, product, rollup::Wait::Yes)
                    .await?
                    .unwrap_or_default()
            } else {
                let today = chrono::Utc::now().date_naive();
                // The first report's day costs a scan of every report: only when asked for.
                let from = match from {
                    Some(from) => from,
                    None => store::report_days(&pool.get().await?, product)
                        .await?
                        .map_or(today, |(first, _)| first),
                };
                rollup::recompute(&pool, product, from, to.unwrap_or(today)).await?
            };
            tracing::info!(
                days = rolled.days(),
                reports = rolled.reports,
                elapsed_ms = began.elapsed().as_millis() as u64,
                "daily tables rolled"
            );
            Ok(())
        }
        Command::Prune {
            database,
            telemetry: logs,
            retention,
        } => {
            telemetry::init_logs(&logs);
            let pool = store::connect(&database).await?;
            store::migrate(&pool).await?;
            let dropped = rollup::prune(
                &pool,
                retention.raw_retention_days,
                chrono::Utc::now().date_naive(),
            )
            .await?;
            tracing::info!(partitions = dropped.len(), "raw partitions pruned");
            Ok(())
        }
    }
}
