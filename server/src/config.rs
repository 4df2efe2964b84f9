//! Every setting once: its flag, its environment name, its default and what it means.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// A value that must never reach a log or a response (API keys, database passwords).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(text.trim().to_owned()))
    }
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// PostgreSQL URL, e.g. postgres://tally@127.0.0.1:5432/tally
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Secret,

    /// Connections for erasure and access, the live summary, health checks, the rollup and
    /// upkeep. The writer and the statistics reads have pools of their own.
    #[arg(long, env = "TALLY_DB_POOL_SIZE", default_value_t = 8)]
    pub db_pool_size: usize,

    /// How long a request waits for a pooled connection (or for one to be opened) before it
    /// answers 503; a full pool or an absent database is never a hang.
    #[arg(long, env = "TALLY_DB_TIMEOUT_MS", default_value_t = 2_000)]
    pub db_timeout_ms: u64,

    /// Longest a query may take, outside the writer's batches: the server cancels it
    /// (`statement_timeout`), and a request whose database work takes longer answers 503.
    #[arg(long, env = "TALLY_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_statement_timeout_ms: u64,
}

impl DatabaseConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.db_timeout_ms)
    }

    pub fn statement_timeout(&self) -> Duration {
        Duration::from_millis(self.db_statement_timeout_ms.max(1))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Args)]
pub struct TelemetryConfig {
    /// Log lines as JSON (one object a line) or for people. Default: json for `serve`; for
    /// the other commands pretty when stderr is a terminal, else json.
    #[arg(long, env = "TALLY_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, Args)]
pub struct RetentionConfig {
    /// Days raw reports are kept; older reports are refused and their partitions dropped.
    #[arg(long, env = "TALLY_RAW_RETENTION_DAYS", default_value_t = 400)]
    pub raw_retention_days: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub telemetry: TelemetryConfig,

    /// Address to listen on.
    #[arg(long, env = "TALLY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Comma-separated ingest keys (sent as X-API-Key), each `product:key` or a bare key,
    /// which is Printernizer's (POST /submit and /installation/*).
    #[arg(
        long,
        env = "TALLY_INGEST_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub ingest_keys: Vec<Secret>,

    /// Comma-separated keys for /stats/* and /api/v1/* (X-API-Key or Authorization: Bearer).
    #[arg(
        long,
        env = "TALLY_ADMIN_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub admin_keys: Vec<Secret>,

    /// Reports accepted per installation per hour, for report products (Printernizer's weekly,
    /// IndexPilot's daily); 0 turns the limit off.
    #[arg(long, env = "TALLY_RATE_LIMIT_PER_HOUR", default_value_t = 10)]
    pub rate_limit_per_hour: u32,

    /// Requests accepted per installation per hour, for event products (Stories, PostHog's
    /// SDKs, which flush every few seconds); 0 turns the limit off.
    #[arg(long, env = "TALLY_EVENT_RATE_LIMIT_PER_HOUR", default_value_t = 3_600)]
    pub event_rate_limit_per_hour: u32,

    /// Requests per source address per minute (0 turns the limit off).
    #[arg(long, env = "TALLY_IP_RATE_PER_MINUTE", default_value_t = 60)]
    pub ip_rate_per_minute: u32,

    /// Comma-separated proxy addresses or CIDR ranges whose X-Forwarded-For is believed.
    #[arg(long, env = "TALLY_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    #[command(flatten)]
    pub retention: RetentionConfig,

    /// A TOML file of products added to the built-in ones; one of the same name replaces the
    /// built-in declaration (README "Products and the catalog").
    #[arg(long, env = "TALLY_CATALOG")]
    pub catalog: Option<std::path::PathBuf>,

    /// HTTP worker threads (0 = one per core).
    #[arg(long, env = "TALLY_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Most reports committed in one batch.
    #[arg(long, env = "TALLY_BATCH_MAX", default_value_t = 512)]
    pub batch_max: usize,

    /// Batches committing at once. Fewer means larger batches (one commit, one WAL flush for
    /// more reports); more hides a slow commit.
    #[arg(long, env = "TALLY_CONCURRENT_BATCHES", default_value_t = 1)]
    pub concurrent_batches: usize,

    /// Reports that may wait for a batch; past this a submission answers 503 at once.
    #[arg(long, env = "TALLY_QUEUE_CAPACITY", default_value_t = 8_192)]
    pub queue_capacity: usize,

    /// Seconds between two runs of the rollup that brings the daily tables up to date.
    #[arg(long, env = "TALLY_ROLLUP_INTERVAL_SECS", default_value_t = 60)]
    pub rollup_interval_secs: u64,

    /// Smallest cell shown on public outputs; smaller cells are merged into `other`.
    #[arg(long, env = "TALLY_MIN_COHORT", default_value_t = 5)]
    pub min_cohort: u32,

    /// Comma-separated origins allowed to call /stats/* and /api/v1/* from a browser.
    #[arg(long, env = "TALLY_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Optional PostgreSQL URL of a replica that answers the statistics reads.
    #[arg(long, env = "TALLY_READ_DATABASE_URL", hide_env_values = true)]
    pub read_database_url: Option<Secret>,

    /// Connections for the statistics reads (`/stats/*` but the summary, `/api/v1/*`), on the
    /// replica or, without one, a pool of their own on the primary.
    #[arg(long, env = "TALLY_READ_POOL_SIZE", default_value_t = 8)]
    pub read_pool_size: usize,

    #[command(flatten)]
    pub reports: ReportsConfig,
}

/// The e-mailed summaries for maintainers (README "Scheduled reports"): off unless
/// `TALLY_SMTP_URL` is set.
#[derive(Debug, Clone, Args)]
pub struct ReportsConfig {
    /// SMTP server: `smtp://user:pass@host:587` (STARTTLS; required when there are
    /// credentials), `smtps://user:pass@host:465` (TLS from the start), or
    /// `smtp://host:25?tls=none` (a local relay, no TLS).
    #[arg(long, env = "TALLY_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,

    /// The sender of the reports, e.g. `Tally <tally@example.org>`.
    #[arg(long, env = "TALLY_REPORT_FROM")]
    pub report_from: Option<String>,

    /// Comma-separated addresses the scheduled reports go to.
    #[arg(long, env = "TALLY_REPORT_RECIPIENTS", value_delimiter = ',')]
    pub report_recipients: Vec<String>,

    /// Day of the week the weekly report is sent (UTC), e.g. `mon`.
    #[arg(long, env = "TALLY_REPORT_WEEKDAY", default_value = "mon")]
    pub report_weekday: chrono::Weekday,

    /// Hour of the day (UTC, 0-23) the weekly and monthly reports are sent.
    #[arg(long, env = "TALLY_REPORT_HOUR", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(0..24))]
    pub report_hour: u32,

    /// Comma-separated products a report covers; default: the served product.
    #[arg(long, env = "TALLY_REPORT_PRODUCTS", value_delimiter = ',')]
    pub report_products: Vec<String>,

    /// Public base URL of this server, for a link to `/dashboard` in the reports.
    #[arg(long, env = "TALLY_PUBLIC_URL")]
    pub public_url: Option<String>,
}
