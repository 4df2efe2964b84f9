//! Prometheus metrics: the recorder with explicit buckets and HELP texts, the request
//! observer, and the gauges sampled when `/metrics` renders.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use deadpool_postgres::Pool;
use metrics::{Counter, Histogram, Label, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histograms and their buckets: with explicit buckets the exporter writes real Prometheus
/// histograms (aggregatable across instances), not summaries.
const HISTOGRAMS: [(&str, &str, &[f64]); 4] = [
    (
        "tally_http_request_duration_seconds",
        "Time to answer an HTTP request, by route template, method and status.",
        &[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
    (
        "tally_batch_reports",
        "Reports taken into one batch of the writer.",
        &[
            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
        ],
    ),
    (
        "tally_batch_commit_duration_seconds",
        "Time to commit one batch of the writer, retries in halves included.",
        &[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
    (
        "tally_rollup_duration_seconds",
        "Time of a successful rollup run that brought the daily tables up to date.",
        &[
            0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
        ],
    ),
];

const COUNTERS: [(&str, &str); 6] = [
    (
        "tally_http_requests_total",
        "HTTP requests answered, by route template (\"unmatched\" for any unknown path), method and status.",
    ),
    (
        "tally_ingest_outcomes_total",
        "What became of requests to every ingest route, by product and outcome (as in /api/v1/outcomes).",
    ),
    (
        "tally_rate_limited_total",
        "Requests refused by a rate limit, by limiter (source or installation).",
    ),
    (
        "tally_batch_failures_total",
        "Batch statements that did not commit (a refused batch is retried in halves).",
    ),
    (
        "tally_writer_abandoned_reports_total",
        "Reports not written because their sender had stopped waiting.",
    ),
    (
        "tally_rollup_failures_total",
        "Rollup steps that failed, by step (roll or prune).",
    ),
];

const GAUGES: [(&str, &str); 10] = [
    (
        "tally_writer_queue_jobs",
        "Jobs waiting in a writer's queue for a batch, by writer (reports: /submit; activity: the other products).",
    ),
    (
        "tally_db_pool_max_connections",
        "Most connections the pool may open, by pool (writer, queries, reads).",
    ),
    (
        "tally_db_pool_connections",
        "Connections the pool holds open, by pool.",
    ),
    (
        "tally_db_pool_idle_connections",
        "Open connections of the pool that are free, by pool.",
    ),
    (
        "tally_db_pool_waiters",
        "Tasks waiting for a connection of the pool, by pool.",
    ),
    (
        "tally_rollup_last_success_timestamp_seconds",
        "When the last successful rollup run of this instance ended, in Unix seconds.",
    ),
    (
        "tally_rollup_lag_seconds",
        "Seconds since the start of the last successful rollup run of this instance: reports received before it are in the daily tables.",
    ),
    (
        "tally_process_resident_memory_bytes",
        "Resident memory of the process.",
    ),
    ("tally_process_open_fds", "Open file descriptors of the process."),
    (
        "tally_process_max_fds",
        "Most file descriptors the process may open (its soft limit).",
    ),
];

/// The route label of every path no route matches: one series, whatever scanners ask for.
const UNMATCHED: &str = "unmatched";

/// The process-wide Prometheus recorder (the `metrics` facade has one global recorder), with
/// every series described once.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder =
                HISTOGRAMS
                    .iter()
                    .fold(PrometheusBuilder::new(), |builder, (name, _, buckets)| {
                        builder
                            .set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
                            .expect("bucket lists are not empty")
                    });
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed, in which case ours stays unused.
            let _ = metrics::set_global_recorder(recorder);
            describe_metrics();
            keep_up(handle.clone());
            handle
        })
        .clone()
}

fn describe_metrics() {
    for (name, help, _) in HISTOGRAMS {
        metrics::describe_histogram!(name, help);
    }
    for (name, help) in COUNTERS {
        metrics::describe_counter!(name, help);
    }
    for (name, help) in GAUGES {
        metrics::describe_gauge!(name, help);
    }
    // Counters an operator alerts on exist from the start, at zero, so that `rate()` and
    // `increase()` see their first increment.
    for limiter in ["source", "installation"] {
        metrics::counter!("tally_rate_limited_total", "limiter" => limiter).increment(0);
    }
    for step in ["roll", "prune"] {
        metrics::counter!("tally_rollup_failures_total", "step" => step).increment(0);
    }
    metrics::counter!("tally_batch_failures_total").increment(0);
    metrics::counter!("tally_writer_abandoned_reports_total").increment(0);
}

/// Histogram samples wait in a buffer until a scrape or an upkeep drains them: without a
/// scraper they would grow without bound, so a thread drains them every few seconds.
fn keep_up(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(5));
            handle.run_upkeep();
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the metrics upkeep thread");
    }
}

/// Every request: counted and timed by route template, method and status; a 5xx is also
/// logged with its causes (`error::log_server_error`). A request answered with an error (a
/// deadline passed) counts with the error's status.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = method_label(req.method());
    let route = Route::of(&req);
    let began = Instant::now();
    let answered = next.call(req).await;
    let (status, error) = match &answered {
        Ok(response) => (response.status(), response.response().error()),
        Err(error) => (error.as_response_error().status_code(), Some(error)),
    };
    if status.is_server_error() {
        crate::error::log_server_error(route.template().unwrap_or(UNMATCHED), status, error);
    }
    let (requests, duration) = route.handles(method, status);
    requests.increment(1);
    duration.record(began.elapsed().as_secs_f64());
    answered
}

/// The handles of a route's requests by method and status, as this thread looked them up.
struct FixedRoute {
    template: String,
    handles: RefCell<Vec<(&'static str, u16, Counter, Histogram)>>,
}

thread_local! {
    /// The routes whose template is their path (no parameter), by path: finding a request's
    /// template walks every route and allocates, and a registry lookup builds and hashes a key
    /// with its labels. A path is kept only once it matched a route, so the map stays as
    /// small as the route table whatever paths clients invent.
    static FIXED_ROUTES: RefCell<HashMap<String, Rc<FixedRoute>>> = RefCell::default();
}

/// A request's route template, found before the request is handled (it is moved then).
enum Route {
    Fixed(Rc<FixedRoute>),
    Other(Option<String>),
}

impl Route {
    fn of(req: &ServiceRequest) -> Self {
        let path = req.path();
        if let Some(known) = FIXED_ROUTES.with_borrow(|routes| routes.get(path).cloned()) {
            return Self::Fixed(known);
        }
        match req.match_pattern() {
            Some(template) if template == path => {
                let route = Rc::new(FixedRoute {
                    template,
                    handles: RefCell::default(),
                });
                FIXED_ROUTES.with_borrow_mut(|routes| {
                    routes.insert(path.to_owned(), route.clone());
                });
                Self::Fixed(route)
            }
            other => Self::Other(other),
        }
    }

    fn template(&self) -> Option<&str> {
        match self {
            Self::Fixed(route) => Some(&route.template),
            Self::Other(template) => template.as_deref(),
        }
    }

    fn handles(&self, method: &'static str, status: StatusCode) -> (Counter, Histogram) {
        let code = status.as_u16();
        if let Self::Fixed(route) = self {
            let handles = route.handles.borrow();
            if let Some((_, _, requests, duration)) = handles
                .iter()
                .find(|(m, s, _, _)| *m == method && *s == code)
            {
                return (requests.clone(), duration.clone());
            }
        }
        let route = self
            .template()
            .map_or(SharedString::const_str(UNMATCHED), |template| {
                SharedString::from(template.to_owned())
            });
        let labels = [
            Label::new("route", route),
            Label::from_static_parts("method", method),
            status_label(status),
        ];
        let requests = metrics::counter!("tally_http_requests_total", labels.iter());
        let duration = metrics::histogram!("tally_http_request_duration_seconds", labels.iter());
        if let Self::Fixed(route) = self {
            let found = (method, code, requests.clone(), duration.clone());
            route.handles.borrow_mut().push(found);
        }
        (requests, duration)
    }
}

/// The status as a label without an allocation for the statuses Tally sends.
fn status_label(status: StatusCode) -> Label {
    let known = match status.as_u16() {
        200 => "200",
        204 => "204",
        304 => "304",
        308 => "308",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        _ => return Label::new("status", status.as_str().to_owned()),
    };
    Label::from_static_parts("status", known)
}

/// Any other method a client invents shares one label value.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

/// Start of the last successful rollup run, in Unix milliseconds; 0 before the first.
static ROLLED_FROM_MS: AtomicU64 = AtomicU64::new(0);

/// Records a successful rollup run that started at `started` and took `took`.
pub fn rollup_succeeded(started: SystemTime, took: Duration) {
    metrics::histogram!("tally_rollup_duration_seconds").record(took.as_secs_f64());
    metrics::gauge!("tally_rollup_last_success_timestamp_seconds")
        .set(unix_seconds(SystemTime::now()));
    let started_ms = started.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    });
    ROLLED_FROM_MS.fetch_max(started_ms, Ordering::Relaxed);
}

fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// The length of one writer's queue, read when `/metrics` renders.
pub type QueueLength = Box<dyn Fn() -> usize + Send + Sync>;

/// What `/metrics` reads when it renders rather than on every event: the pools, the writers'
/// queues, the rollup's lag and the process. Nothing here asks the database.
pub struct Sampled {
    pools: Vec<(&'static str, Pool)>,
    queues: Vec<(&'static str, QueueLength)>,
}

impl Sampled {
    /// `pools` and `queues` by the name of their `pool` and `writer` labels.
    pub fn new(pools: Vec<(&'static str, Pool)>, queues: Vec<(&'static str, QueueLength)>) -> Self {
        Self { pools, queues }
    }

    /// Sets the sampled gauges to their values now.
    pub fn sample(&self) {
        for (name, pool) in &self.pools {
            let status = pool.status();
            let name = *name;
            metrics::gauge!("tally_db_pool_max_connections", "pool" => name)
                .set(status.max_size as f64);
            metrics::gauge!("tally_db_pool_connections", "pool" => name).set(status.size as f64);
            metrics::gauge!("tally_db_pool_idle_connections", "pool" => name)
                .set(status.available as f64);
            metrics::gauge!("tally_db_pool_waiters", "pool" => name).set(status.waiting as f64);
        }
        for (name, queued) in &self.queues {
            metrics::gauge!("tally_writer_queue_jobs", "writer" => *name).set(queued() as f64);
        }
        let rolled_from_ms = ROLLED_FROM_MS.load(Ordering::Relaxed);
        if rolled_from_ms > 0 {
            let lag = unix_seconds(SystemTime::now()) - rolled_from_ms as f64 / 1000.0;
            metrics::gauge!("tally_rollup_lag_seconds").set(lag.max(0.0));
        }
        sample_process();
    }
}

/// Resident memory and file descriptors, from /proc (Linux); elsewhere these series are absent.
fn sample_process() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(kib) = proc_value(&status, "VmRSS:") {
        metrics::gauge!("tally_process_resident_memory_bytes").set(kib * 1024.0);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("tally_process_open_fds").set(fds.count() as f64);
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    if let Some(max) = proc_value(&limits, "Max open files") {
        metrics::gauge!("tally_process_max_fds").set(max);
    }
}

/// The first number after `key` on the line that starts with it.
fn proc_value(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_values_are_read_from_the_line_that_starts_with_their_key() {
        let status = "Name:\ttally\nVmHWM:\t   9000 kB\nVmRSS:\t   8192 kB\n";
        let limits = "Max file size             unlimited            unlimited            bytes\n\
                      Max open files            1024                 524288               files\n";

        assert_eq!(proc_value(status, "VmRSS:"), Some(8192.0));
        assert_eq!(proc_value(limits, "Max open files"), Some(1024.0));
        assert_eq!(proc_value(limits, "Max file size"), None);
    }

    #[test]
    fn a_method_nobody_registered_shares_one_label_value() {
        let invented = Method::from_bytes(b"SCAN").expect("a valid token");

        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&invented), "other");
    }
}
