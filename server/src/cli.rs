//! The `tally` command line: which subcommand runs, with which settings.

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::config::{DatabaseConfig, ReportsConfig, RetentionConfig, ServeConfig, TelemetryConfig};
use crate::domain::Catalog;
use crate::startup::{self, Application};
use crate::{reports, rollup, store, telemetry};

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
        /// First day to recompute (YYYY-MM-DD); default: the first day with stored rows.
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day to recompute (YYYY-MM-DD); default: today.
        #[arg(long)]
        to: Option<NaiveDate>,
        #[command(flatten)]
        retention: RetentionConfig,
        /// The operator's catalog (as for `serve`): its products are rolled too.
        #[arg(long, env = "TALLY_CATALOG")]
        catalog: Option<std::path::PathBuf>,
    },
    /// Drop the raw partitions older than the retention and exit (daily tables stay).
    Prune {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(flatten)]
        telemetry: TelemetryConfig,
        #[command(flatten)]
        retention: RetentionConfig,
        /// The operator's catalog (as for `serve`): its products' retention applies.
        #[arg(long, env = "TALLY_CATALOG")]
        catalog: Option<std::path::PathBuf>,
    },
    /// Send the weekly or monthly report now (the 7 or 30 days ending today), or with
    /// --dry-run print it (plain text) instead.
    Report {
        #[arg(value_enum)]
        kind: ReportKind,
        /// Print the report to stdout instead of sending it.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(flatten)]
        telemetry: TelemetryConfig,
        #[command(flatten)]
        reports: ReportsConfig,
        /// The operator's catalog (as for `serve`): its products may have a part too.
        #[arg(long, env = "TALLY_CATALOG")]
        catalog: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportKind {
    Weekly,
    Monthly,
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
            telemetry::init_logs(&config.telemetry, telemetry::Reader::Collector);
            let app = Application::build(*config).await?;
            app.run_until_stopped(startup::shutdown_signal()).await
        }
        Command::Migrate {
            database,
            telemetry: logs,
        } => {
            telemetry::init_logs(&logs, telemetry::Reader::Person);
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
            retention,
            catalog,
        } => {
            telemetry::init_logs(&logs, telemetry::Reader::Person);
            let catalog = startup::load_catalog(catalog.as_deref())?;
            let pool = store::connect(&database).await?;
            store::migrate(&pool).await?;
            let retention_days = retention.raw_retention_days;
            let began = std::time::Instant::now();
            let rolled = if from.is_none() && to.is_none() {
                rollup::bring_all_up_to_date(&pool, catalog, retention_days, rollup::Wait::Yes)
                    .await?
                    .unwrap_or_default()
            } else {
                let today = chrono::Utc::now().date_naive();
                // The first stored day costs a scan of every row's day: only when asked for.
                let from = match from {
                    Some(from) => from,
                    None => store::first_day(&pool.get().await?).await?.unwrap_or(today),
                };
                rollup::recompute_all(&pool, catalog, retention_days, from, to.unwrap_or(today))
                    .await?
            };
            for (product, rolled) in &rolled {
                tracing::info!(
                    product,
                    days = rolled.days(),
                    rows = rolled.rows,
                    "product rolled"
                );
            }
            tracing::info!(
                days = rolled.iter().map(|(_, rolled)| rolled.days()).sum::<i64>(),
                rows = rolled.iter().map(|(_, rolled)| rolled.rows).sum::<u64>(),
                elapsed_ms = began.elapsed().as_millis() as u64,
                "daily tables rolled"
            );
            Ok(())
        }
        Command::Prune {
            database,
            telemetry: logs,
            retention,
            catalog,
        } => {
            telemetry::init_logs(&logs, telemetry::Reader::Person);
            let catalog = startup::load_catalog(catalog.as_deref())?;
            let pool = store::connect(&database).await?;
            store::migrate(&pool).await?;
            let today = chrono::Utc::now().date_naive();
            let rows = rollup::prune(&pool, catalog, retention.raw_retention_days, today).await?;
            tracing::info!(rows, "raw rows pruned");
            Ok(())
        }
        Command::Report {
            kind,
            dry_run,
            database,
            telemetry: logs,
            reports: settings,
            catalog,
        } => {
            telemetry::init_logs(&logs, telemetry::Reader::Person);
            let kind = match kind {
                ReportKind::Weekly => reports::Kind::Weekly,
                ReportKind::Monthly => reports::Kind::Monthly,
            };
            let catalog = startup::load_catalog(catalog.as_deref())?;
            report(kind, dry_run, &database, &settings, catalog).await
        }
    }
}

/// `tally report`: one report for the period ending today, printed or sent.
async fn report(
    kind: crate::reports::Kind,
    dry_run: bool,
    database: &DatabaseConfig,
    settings: &ReportsConfig,
    catalog: &'static Catalog,
) -> anyhow::Result<()> {
    use crate::reports::{Period, Report, Reporting};
    let reporting = Reporting::new(settings, catalog).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pool = store::connect(database).await?;
    store::migrate(&pool).await?;
    let now = chrono::Utc::now();
    let period = Period::ending(kind, now.date_naive());
    let daily = store::Daily::connect(&store::ReadPool(pool)).await?;
    let report = Report::load(
        &daily,
        &reporting.products,
        period,
        reporting.dashboard.clone(),
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", telemetry::Chain(&e)))?;
    if dry_run {
        print!(
            "Subject: {}\n\n{}",
            reports::subject(&report),
            reports::text(&report)
        );
        return Ok(());
    }
    let to = reporting
        .recipients(None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    reporting
        .send_report(&report, &to)
        .await
        .map_err(|e| anyhow::anyhow!("{}", telemetry::Chain(&e)))?;
    tracing::info!(recipients = to.len(), "report sent");
    Ok(())
}
