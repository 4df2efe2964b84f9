//! Builds the application from its configuration and runs it until it is told to stop.
//!
//! Shutdown order matters: stop accepting and finish in-flight requests first (they wait on the
//! writer), then let the writer commit what it holds, then stop the background tasks. Every
//! step is bounded (requests by their deadlines, batches by the batch timeout, background work
//! stops at its next step), and the whole of it by `SHUTDOWN_GRACE`, so a stalled database
//! cannot keep the process alive.

use std::future::Future;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use chrono::{Duration as Days, Utc};
use deadpool_postgres::Pool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::Keys;
use crate::config::{DatabaseConfig, ServeConfig};
use crate::domain::{Catalog, CatalogFile, Notice, Rules};
use crate::limits::{IpRange, Limits};
use crate::outcomes::Outcomes;
use crate::reports::{self, Reporting};
use crate::rollup::{self, Nudge};
use crate::routes::{
    self, Cors, DatabaseProbe, PrivacyNotice, PublicOverview, QueryDeadline, StatsSettings,
};
use crate::store::{self, Purpose, ReadPool, Writer, WriterConfig};
use crate::telemetry::{self, Chain, QueueLength, Sampled};

/// How often ingest outcomes counted in memory are added to the database, and the summary's
/// counts (a row per batch) folded.
const FLUSH_OUTCOMES_EVERY: Duration = Duration::from_secs(5);
/// How often the salt of the source hash is replaced and partitions are made ahead.
const DAILY: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest a shutdown takes: an orchestrator's usual wait before SIGKILL (Docker's is 10 s).
/// Past it the process exits with work unfinished; nothing acknowledged is lost by that.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// In-flight requests get this long to finish once the listener is closed; each is bounded by
/// its own deadline well within it.
const REQUESTS_GRACE_SECS: u64 = 5;

pub struct Application {
    port: u16,
    server: Server,
    /// The writers': each ends once the server's handles to it are gone.
    writer_task: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    stop: CancellationToken,
}

impl Application {
    pub async fn build(config: ServeConfig) -> anyhow::Result<Self> {
        let catalog = load_catalog(config.catalog.as_deref())?;
        let keys = Keys::new(&config.ingest_keys, &config.admin_keys, catalog)?;
        anyhow::ensure!(
            keys.has_ingest_key(),
            "no ingest key: set TALLY_INGEST_KEYS (or --ingest-keys) to one or more \
             comma-separated keys; tally serve refuses to accept reports from anyone"
        );
        let trusted_proxies = config
            .trusted_proxies
            .iter()
            .filter(|entry| !entry.trim().is_empty())
            .map(|entry| entry.parse::<IpRange>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("TALLY_TRUSTED_PROXIES: {e}"))?;
        let rules = Rules {
            raw_retention: Days::days(i64::from(config.retention.raw_retention_days)),
            report: catalog.printernizer(),
        };
        let reporting =
            Arc::new(Reporting::new(&config.reports, catalog).map_err(|e| anyhow::anyhow!("{e}"))?);

        // Pools of their own, so that no kind of work can take another's connections: the
        // writer's (its connections live on the writer's own thread), the statistics reads'
        // (on the replica if there is one), and the rest's.
        let pool = store::connect(&config.database).await?;
        store::migrate(&pool).await.context("migrations failed")?;
        let writer_pool = store::pool(
            &config.database,
            Purpose::Writer {
                connections: config.concurrent_batches.max(1),
            },
        )?;
        let read_database = DatabaseConfig {
            database_url: config
                .read_database_url
                .clone()
                .unwrap_or_else(|| config.database.database_url.clone()),
            ..config.database.clone()
        };
        let read_pool = web::Data::new(ReadPool(store::pool(
            &read_database,
            Purpose::Queries {
                connections: config.read_pool_size,
            },
        )?));
        let deadline = config.database.statement_timeout();

        let limits = Arc::new(Limits::new(
            config.ip_rate_per_minute,
            config.rate_limit_per_hour,
            config.event_rate_limit_per_hour,
            trusted_proxies,
        ));
        let writer_config = WriterConfig {
            batch_max: config.batch_max.max(1),
            queue_capacity: config.queue_capacity.max(1),
            concurrent_batches: config.concurrent_batches.max(1),
            batch_timeout: config.database.timeout() * 2,
        };
        let (writer, writer_task) = Writer::start(writer_pool.clone(), writer_config)?;
        // Printernizer first: counts of a request whose product is not known go to it.
        let printernizer = rules.report.product();
        let others = catalog.products().iter().map(|product| product.name());
        let products = std::iter::once(printernizer)
            .chain(others.filter(|name| *name != printernizer))
            .collect();
        let outcomes = Arc::new(Outcomes::new(products));
        let stop = CancellationToken::new();
        let nudge = Arc::new(Nudge::default());
        let stats = StatsSettings {
            product: rules.report.product(),
            min_cohort: i64::from(config.min_cohort),
        };
        let rollup_every = Duration::from_secs(config.rollup_interval_secs.max(1));
        let public_overview = web::Data::new(PublicOverview::new(catalog));
        let privacy = web::Data::new(PrivacyNotice::new(&Notice::new(
            catalog,
            config.min_cohort,
            config.retention.raw_retention_days,
        )));
        let mut background = vec![
            tokio::spawn(upkeep(
                pool.clone(),
                limits.clone(),
                outcomes.clone(),
                deadline,
                stop.clone(),
            )),
            tokio::spawn(rollup::run_periodically(
                pool.clone(),
                catalog,
                rollup_every,
                config.retention.raw_retention_days,
                nudge.clone(),
                stop.clone(),
            )),
            tokio::spawn(routes::keep_fresh(
                public_overview.clone(),
                read_pool.clone(),
                stats,
                deadline,
                rollup_every,
                stop.clone(),
            )),
        ];
        // Scheduled reports only with a server, a sender and recipients.
        if reporting.is_configured() {
            background.push(tokio::spawn(reports::schedule::run(
                pool.clone(),
                read_pool.clone().into_inner(),
                reporting.clone(),
                deadline,
                stop.clone(),
            )));
        }
        let reporting = web::Data::from(reporting);
        let nudge = web::Data::from(nudge);
        let stats = web::Data::new(stats);
        let cors = web::Data::new(Cors::new(&config.cors_origins));
        let deadline = web::Data::new(QueryDeadline(deadline));

        let listener = TcpListener::bind(config.bind)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let keys = web::Data::new(keys);
        let limits = web::Data::from(limits);
        let outcomes = web::Data::from(outcomes);
        let writer = web::Data::new(writer);
        let rules = web::Data::new(rules);
        let catalog = web::Data::new(catalog);
        let probe = web::Data::new(DatabaseProbe::new(pool.clone(), Duration::from_secs(1)));
        let pool = web::Data::new(pool);
        let metrics = web::Data::new(telemetry::metrics_handle());
        let sampled = web::Data::new(Sampled::new(
            vec![
                ("writer", writer_pool),
                ("queries", pool.get_ref().clone()),
                ("reads", read_pool.0.clone()),
            ],
            vec![("activity", queue_length(writer.get_ref().clone()))],
        ));
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(keys.clone())
                .app_data(limits.clone())
                .app_data(outcomes.clone())
                .app_data(writer.clone())
                .app_data(rules.clone())
                .app_data(catalog.clone())
                .app_data(privacy.clone())
                .app_data(probe.clone())
                .app_data(pool.clone())
                .app_data(metrics.clone())
                .app_data(sampled.clone())
                .app_data(read_pool.clone())
                .app_data(nudge.clone())
                .app_data(stats.clone())
                .app_data(cors.clone())
                .app_data(deadline.clone())
                .app_data(public_overview.clone())
                .app_data(reporting.clone())
                .configure(routes::configure)
                .wrap(actix_web::middleware::from_fn(telemetry::observe))
        })
        .listen(listener)?
        // Slow or silent clients must not hold workers: bounded header/body time and idle time.
        .client_request_timeout(Duration::from_secs(10))
        .client_disconnect_timeout(Duration::from_secs(2))
        .keep_alive(Duration::from_secs(30))
        .shutdown_timeout(REQUESTS_GRACE_SECS)
        .disable_signals();
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        tracing::info!(address = %config.bind, port, "listening");
        Ok(Self {
            port,
            server: server.run(),
            writer_task,
            background,
            stop,
        })
    }

    /// The port actually bound (tests bind port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        shutdown.await;
        let stopping = async {
            handle.stop(true).await;
            server.await??;
            self.stop.cancel();
            self.writer_task.await?;
            for task in self.background {
                task.await?;
            }
            anyhow::Ok(())
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, stopping).await {
            Ok(stopped) => stopped?,
            Err(_) => tracing::warn!(
                grace_secs = SHUTDOWN_GRACE.as_secs(),
                "shutdown took longer than its grace period; exiting with work unfinished"
            ),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The built-in declarations and those of the operator's file (`TALLY_CATALOG`). Leaked, once
/// per server: a `Folded` keeps its product's `&'static str` name, and the catalog lives as
/// long as the server anyway.
pub(crate) fn load_catalog(file: Option<&Path>) -> anyhow::Result<&'static Catalog> {
    let operator = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("TALLY_CATALOG: cannot read {}", path.display()))?;
            Some((path.display().to_string(), text))
        }
        None => None,
    };
    let catalog = Catalog::load(
        operator
            .as_ref()
            .map(|(name, text)| CatalogFile { name, text }),
    )?;
    Ok(Box::leak(Box::new(catalog)))
}

/// Background upkeep until `stop`: write ingest outcomes and fold the summary's counts; daily,
/// a new salt for the source hash. Each step is bounded by
/// `deadline`. Outcomes are written once more on the way out (the writer has finished by then).
async fn upkeep(
    pool: Pool,
    limits: Arc<Limits>,
    outcomes: Arc<Outcomes>,
    deadline: Duration,
    stop: CancellationToken,
) {
    let mut flush = tokio::time::interval(FLUSH_OUTCOMES_EVERY);
    let mut daily = tokio::time::interval(DAILY);
    daily.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                flush_outcomes(&pool, &outcomes, deadline).await;
                break;
            }
            _ = flush.tick() => {
                flush_outcomes(&pool, &outcomes, deadline).await;
                if let Err(error) = store::within(deadline, store::fold_counts(&pool)).await {
                    tracing::warn!(error = %Chain(&error), "summary counts not folded");
                }
            }
            _ = daily.tick() => limits.rotate_salt(),
        }
    }
}

async fn flush_outcomes(pool: &Pool, outcomes: &Outcomes, deadline: Duration) {
    let taken = outcomes.take();
    if taken.is_empty() {
        return;
    }
    let counts: Vec<(&str, &str, i64)> = taken
        .iter()
        .map(|(product, outcome, n)| {
            let n = i64::try_from(*n).unwrap_or(i64::MAX);
            (*product, outcome.as_str(), n)
        })
        .collect();
    let today = Utc::now().date_naive();
    let added = store::add_outcomes(pool, today, &counts);
    if let Err(error) = store::within(deadline, added).await {
        tracing::warn!(error = %Chain(&error), "ingest outcomes not written yet, keeping them for the next try");
        outcomes.restore(&taken);
    }
}

/// Resolves on SIGTERM or Ctrl-C: what `tally serve` runs until.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = term => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// A writer's queue length, for the gauge sampled when `/metrics` renders.
fn queue_length(writer: Writer) -> QueueLength {
    Box::new(move || writer.queued())
}
