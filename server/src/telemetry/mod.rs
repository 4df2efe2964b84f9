//! Logs and metrics, set up in one place: logs here, metrics in `metrics`, and `observe`, the
//! one middleware every request passes through for both.
//!
//! Privacy: no log line or metric label ever carries a client address, a user agent, a key, a
//! body or an installation id (the credential for access and erasure). Handlers log outcomes.

mod metrics;

pub use self::metrics::{metrics_handle, observe, rollup_succeeded, QueueLength, Sampled};

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, FilterFn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, TelemetryConfig};

/// An error with its causes, `outer: inner: innermost`, for one log line.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

/// Installs the global subscriber; a second call (tests spawn many apps) keeps the first.
pub fn init_logs(config: &TelemetryConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .finish()
            .with(dependency_cap())
            .try_init(),
        LogFormat::Pretty => builder.finish().with(dependency_cap()).try_init(),
    };
}

/// tokio-postgres logs every statement's parameter values at debug (installation ids among
/// them), so it stays at info whatever RUST_LOG asks: a filter of its own, because a more
/// specific RUST_LOG directive (`tokio_postgres::query=debug`) would outrank one added to it.
fn dependency_cap() -> FilterFn<impl Fn(&Metadata<'_>) -> bool> {
    filter_fn(|metadata| {
        let target = metadata.target();
        let tokio_postgres = target == "tokio_postgres" || target.starts_with("tokio_postgres::");
        !tokio_postgres || *metadata.level() <= Level::INFO
    })
}
