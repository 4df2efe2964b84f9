//! The `tally` command line: which subcommand runs, with which settings.

use clap::{Parser, Subcommand};

use crate::config::{DatabaseConfig, ServeConfig, TelemetryConfig};
use crate::startup::Application;
use crate::{store, telemetry};

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
    Serve(ServeConfig),
    /// Apply the database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(flatten)]
        telemetry: TelemetryConfig,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            telemetry::init_logs(&config.telemetry);
            let app = Application::build(config).await?;
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
    }
}
