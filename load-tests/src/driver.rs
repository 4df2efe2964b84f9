//! The load loops: one task per keep-alive HTTP/1.1 connection, closed or open, bounded in time.
//!
//! - Closed loop: each connection sends its next request as soon as the previous one answered.
//!   Latency is measured from the actual send.
//! - Open loop: request `n` of connection `i` is *due* at `start + (n + i/C) * C/R`, so R
//!   requests per second arrive spread evenly over the C connections. Latency is measured from
//!   the due time, not from when the connection got round to sending: if the server stalls,
//!   the queueing shows up in the percentiles instead of being hidden (coordinated omission).
//!
//! Exactly C connections, each a bare `hyper::client::conn::http1` over a `TcpStream` with
//! TCP_NODELAY; a connection the server closed is re-opened. Nothing is started after the end of
//! the run, and each request is bounded by the timeout, so every loop stops by itself. Each task
//! keeps its own counters and histogram (no locks on the hot path); they are merged at the end.
//! A request that times out or breaks is a transport error, not a latency sample: read
//! `transport_errors` next to the percentiles.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_ENCODING, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{sleep, sleep_until, timeout, Instant};

use crate::cli::TargetUrl;
use crate::formats;
use crate::payload::{self, Identity, Sent};

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const GZIP: HeaderValue = HeaderValue::from_static("gzip");
/// Latencies above this are clamped; far beyond any sensible `--timeout`.
const MAX_LATENCY_US: u64 = 60_000_000;
/// Pause after a failed connect, so a dead server does not turn the loop into a busy spin.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What each request is.
pub enum Work {
    /// `GET /health`: the HTTP stack's ceiling, no database write.
    Health,
    /// `POST route` with generated bodies, and the key as `X-API-Key` when the format sends one
    /// in a header.
    Post {
        route: &'static str,
        bodies: Bodies,
        key: Option<HeaderValue>,
    },
}

/// The bodies of a `Post`: Printernizer's reports or one of the event formats.
pub enum Bodies {
    Reports(payload::Generator),
    Events(formats::Generator),
}

impl Bodies {
    /// How many bodies the run has, when it is fixed.
    pub fn total(&self) -> Option<u64> {
        match self {
            Bodies::Reports(generator) => generator.total(),
            Bodies::Events(generator) => generator.total(),
        }
    }

    fn write(&self, k: u64, buf: &mut BytesMut, scratch: &mut Vec<u8>) -> Option<Sent> {
        match self {
            Bodies::Reports(generator) => generator.write(k, buf).map(|identity| Sent {
                identity,
                events: 1,
                gzip: false,
            }),
            Bodies::Events(generator) => generator.write(k, buf, scratch),
        }
    }
}

/// How requests are paced.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    Closed,
    /// Requests per second over all connections.
    Open {
        rate: f64,
    },
}

pub struct Plan {
    pub url: TargetUrl,
    pub work: Work,
    pub pace: Pace,
    pub connections: u32,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
}

/// Everything measured, merged over the connections. Answers and errors are counted inside
/// the measured window only; warm-up requests are only counted, in `warmup_requests`.
pub struct Outcome {
    /// Latency in microseconds of every answered request in the window.
    pub histogram: Histogram<u64>,
    /// Answers in the window by HTTP status.
    pub statuses: Vec<(u16, u64)>,
    pub transport_errors: u64,
    pub warmup_requests: u64,
    /// 200 answers, warm-up included: each is a request the server said it stored.
    pub acknowledged: u64,
    /// Distinct identities among the acknowledged requests (a resend is its original).
    pub distinct_acknowledged: u64,
    /// Events in the acknowledged requests, and in the distinct ones only.
    pub acknowledged_events: u64,
    pub distinct_acknowledged_events: u64,
    /// Events in the requests answered 200 in the measured window.
    pub window_events: u64,
    /// Any HTTP answer at all, warm-up included.
    pub answered: u64,
    /// Length of the measured window (shorter than planned when a pool ran out).
    pub measured: Duration,
}

#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
    warmup_end: Instant,
    end: Instant,
}

/// What the connection tasks share; only the two counters change during the run.
struct Shared {
    plan: Plan,
    clock: Clock,
    uri: Uri,
    host: HeaderValue,
    /// Index of the next body to send; connections claim bodies from it in turn.
    next_body: AtomicU64,
    completed: AtomicU64,
    error_shown: AtomicBool,
}

/// One connection's own counters.
struct Tally {
    /// `u32` counts halve the memory of a histogram per connection; merged into `u64` counts.
    histogram: Histogram<u32>,
    statuses: Vec<u64>,
    transport_errors: u64,
    warmup_requests: u64,
    acknowledged: u64,
    acknowledged_events: u64,
    window_events: u64,
    answered: u64,
    /// What each acknowledged request is stored under, and its events.
    keys: Vec<(Identity, u64)>,
}

impl Tally {
    fn new() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid bounds"),
            statuses: vec![0; 600],
            transport_errors: 0,
            warmup_requests: 0,
            acknowledged: 0,
            acknowledged_events: 0,
            window_events: 0,
            answered: 0,
            keys: Vec::new(),
        }
    }
}

enum Failure {
    Connect(io::Error),
    Http(hyper::Error),
    Timeout(Duration),
    KeptClosing,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "connect failed: {e}"),
            Failure::Http(e) => write!(f, "HTTP exchange failed: {e}"),
            Failure::Timeout(t) => write!(f, "no answer within {t:?}"),
            Failure::KeptClosing => f.write_str("the server closed every new connection"),
        }
    }
}

/// Runs the plan to its end (or until a pool has sent every pair) and merges the results.
pub async fn run(plan: Plan) -> Outcome {
    let start = Instant::now();
    let clock = Clock {
        start,
        warmup_end: start + plan.warmup,
        end: start + plan.warmup + plan.duration,
    };
    let route = match plan.work {
        Work::Health => "/health",
        Work::Post { route, .. } => route,
    };
    let shared = Arc::new(Shared {
        uri: plan
            .url
            .path(route)
            .parse()
            .expect("a checked URL gives a valid path"),
        host: HeaderValue::from_str(&plan.url.host_header)
            .expect("a checked URL gives a valid host"),
        plan,
        clock,
        next_body: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        error_shown: AtomicBool::new(false),
    });
    let tasks: Vec<_> = (0..shared.plan.connections)
        .map(|i| tokio::spawn(connection(i, shared.clone())))
        .collect();
    let progress = tokio::spawn(progress(shared.clone()));

    let mut total = Tally::new();
    let mut histogram =
        Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid bounds");
    for task in tasks {
        let tally = task.await.expect("a connection task panicked");
        for v in tally.histogram.iter_recorded() {
            histogram.saturating_record_n(v.value_iterated_to(), u64::from(v.count_at_value()));
        }
        for (sum, n) in total.statuses.iter_mut().zip(&tally.statuses) {
            *sum += n;
        }
        total.transport_errors += tally.transport_errors;
        total.warmup_requests += tally.warmup_requests;
        total.acknowledged += tally.acknowledged;
        total.acknowledged_events += tally.acknowledged_events;
        total.window_events += tally.window_events;
        total.answered += tally.answered;
        total.keys.extend(tally.keys);
    }
    progress.abort();
    let finished = Instant::now();

    // A resend of the same (installation, period) or batch is stored once, so count it once.
    total.keys.sort_unstable();
    total.keys.dedup();
    let distinct_acknowledged_events = total.keys.iter().map(|(_, events)| events).sum();
    Outcome {
        histogram,
        statuses: (0u16..)
            .zip(&total.statuses)
            .filter(|(_, n)| **n > 0)
            .map(|(status, n)| (status, *n))
            .collect(),
        transport_errors: total.transport_errors,
        warmup_requests: total.warmup_requests,
        acknowledged: total.acknowledged,
        distinct_acknowledged: total.keys.len() as u64,
        acknowledged_events: total.acknowledged_events,
        distinct_acknowledged_events,
        window_events: total.window_events,
        answered: total.answered,
        measured: finished
            .min(clock.end)
            .saturating_duration_since(clock.warmup_end),
    }
}

/// One connection's loop.
async fn connection(index: u32, shared: Arc<Shared>) -> Tally {
    let Shared { plan, clock, .. } = &*shared;
    let mut tally = Tally::new();
    let mut conn = None;
    // One buffer per connection: hyper drops each body once written, and the next `write`
    // then reclaims the same allocation (see payload's buffer test).
    let mut buf = BytesMut::new();
    let mut scratch = Vec::new();
    // Open loop: this connection's share of the arrivals, offset so connections interleave.
    let open = match plan.pace {
        Pace::Closed => None,
        Pace::Open { rate } => {
            let interval = Duration::from_secs_f64(f64::from(plan.connections) / rate);
            Some((interval, f64::from(index) / f64::from(plan.connections)))
        }
    };
    for n in 0u64.. {
        let due = open.map(|(interval, phase)| clock.start + interval.mul_f64(n as f64 + phase));
        if let Some(due) = due {
            if due >= clock.end {
                break;
            }
            sleep_until(due).await;
        }
        if due.is_none() && Instant::now() >= clock.end {
            break;
        }
        let (body, sent) = match &plan.work {
            Work::Health => (Bytes::new(), None),
            Work::Post { bodies, .. } => {
                let k = shared.next_body.fetch_add(1, Relaxed);
                match bodies.write(k, &mut buf, &mut scratch) {
                    Some(sent) => (buf.split().freeze(), Some(sent)),
                    None => break, // the pool has sent every body
                }
            }
        };
        let gzip = sent.is_some_and(|sent| sent.gzip);
        let request = build_request(&shared, body, gzip);
        // Closed loop: from now, after the body is written; open loop: from when it was due.
        let started = due.unwrap_or_else(Instant::now);
        let result = match timeout(plan.timeout, exchange(&mut conn, plan.url.addr, request)).await
        {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout(plan.timeout)),
        };
        let in_warmup = started < clock.warmup_end;
        match result {
            Ok(status) => {
                tally.answered += 1;
                if let Some(sent) = sent.filter(|_| status == 200) {
                    tally.acknowledged += 1;
                    tally.acknowledged_events += sent.events;
                    tally.keys.push((sent.identity, sent.events));
                }
                if in_warmup {
                    tally.warmup_requests += 1;
                } else {
                    let micros = started
                        .elapsed()
                        .as_micros()
                        .min(u128::from(MAX_LATENCY_US)) as u64;
                    tally.histogram.saturating_record(micros.max(1));
                    tally.statuses[usize::from(status).min(599)] += 1;
                    if status == 200 {
                        tally.window_events += sent.map_or(0, |sent| sent.events);
                    }
                }
            }
            Err(failure) => {
                conn = None;
                if in_warmup {
                    tally.warmup_requests += 1;
                } else {
                    tally.transport_errors += 1;
                }
                if !shared.error_shown.swap(true, Relaxed) {
                    eprintln!("tally-load: {failure} (further transport errors are only counted)");
                }
                if matches!(failure, Failure::Connect(_)) {
                    sleep(RECONNECT_PAUSE).await;
                }
            }
        }
        shared.completed.fetch_add(1, Relaxed);
    }
    tally
}

fn build_request(shared: &Shared, body: Bytes, gzip: bool) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .uri(shared.uri.clone())
        .header(HOST, shared.host.clone());
    match &shared.plan.work {
        Work::Health => builder = builder.method(Method::GET),
        Work::Post { key, .. } => {
            builder = builder
                .method(Method::POST)
                .header(CONTENT_TYPE, APPLICATION_JSON);
            if let Some(key) = key {
                builder = builder.header(X_API_KEY, key.clone());
            }
            if gzip {
                builder = builder.header(CONTENT_ENCODING, GZIP);
            }
        }
    }
    builder
        .body(Full::new(body))
        .expect("every part was validated up front")
}

/// Sends one request on the connection (opening it if needed) and reads the whole answer, so
/// the connection is ready for the next one. Returns the HTTP status.
async fn exchange(
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    addr: SocketAddr,
    mut request: Request<Full<Bytes>>,
) -> Result<u16, Failure> {
    // A server may close an idle keep-alive connection at any moment. When that happens before
    // our request was written, hyper hands the request back and resending it is safe; a few
    // attempts cover the race without looping on a server that closes everything.
    for _ in 0..3 {
        if conn.as_ref().is_none_or(SendRequest::is_closed) {
            *conn = Some(open_connection(addr).await.map_err(Failure::Connect)?);
        }
        let sender = conn.as_mut().expect("opened above");
        if sender.ready().await.is_err() {
            *conn = None;
            continue;
        }
        match sender.try_send_request(request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let mut body = response.into_body();
                while let Some(frame) = body.frame().await {
                    frame.map_err(Failure::Http)?;
                }
                return Ok(status);
            }
            Err(mut failed) => {
                *conn = None;
                match failed.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(Failure::Http(failed.into_error())),
                }
            }
        }
    }
    Err(Failure::KeptClosing)
}

async fn open_connection(addr: SocketAddr) -> io::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    // Small requests and answers: Nagle would add delayed-ACK stalls to every exchange.
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    // The connection future does the socket I/O; it ends when the sender is dropped or the
    // server closes, which is how a closed connection is noticed.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// A progress line on stderr every few seconds, so a long run is visibly alive.
async fn progress(shared: Arc<Shared>) {
    let clock = shared.clock;
    let mut last = 0;
    loop {
        sleep(PROGRESS_EVERY).await;
        let now = Instant::now();
        let completed = shared.completed.load(Relaxed);
        let phase = if now < clock.warmup_end {
            "warm-up"
        } else {
            "measuring"
        };
        eprintln!(
            "tally-load: {:>6.1}s {phase:9} {completed} requests, {:.0}/s",
            now.duration_since(clock.start).as_secs_f64(),
            (completed - last) as f64 / PROGRESS_EVERY.as_secs_f64()
        );
        last = completed;
    }
}

/// Fails with a clear message when nothing listens at `addr`, before any load is generated.
pub async fn probe(addr: SocketAddr, limit: Duration) -> Result<(), String> {
    match timeout(limit, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(format!(
            "nothing is listening on {addr} (connection refused): is the server running?"
        )),
        Ok(Err(e)) => Err(format!("cannot connect to {addr}: {e}")),
        Err(_) => Err(format!(
            "cannot connect to {addr}: no answer within {limit:?}"
        )),
    }
}

/// `total_submissions` from `GET /stats/summary`, which the contract says is live and exact.
pub async fn total_submissions(
    url: &TargetUrl,
    admin_key: &HeaderValue,
    limit: Duration,
) -> Result<u64, String> {
    let fetch = async {
        let mut sender = open_connection(url.addr).await.map_err(|e| e.to_string())?;
        let request = Request::get(url.path("/stats/summary"))
            .header(HOST, &url.host_header)
            .header(ACCEPT, APPLICATION_JSON)
            .header(X_API_KEY, admin_key.clone())
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((status, body.to_bytes()))
    };
    let (status, body) = timeout(limit, fetch)
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
        .map_err(|e| format!("GET /stats/summary failed: {e}"))?;
    if status.as_u16() == 401 || status.as_u16() == 403 {
        return Err(format!(
            "GET /stats/summary answered {status}: check --admin-key / TALLY_LOAD_ADMIN_KEY"
        ));
    }
    if !status.is_success() {
        return Err(format!("GET /stats/summary answered {status}"));
    }
    let summary: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| format!("GET /stats/summary did not answer JSON: {e}"))?;
    summary["total_submissions"]
        .as_u64()
        .ok_or_else(|| "GET /stats/summary has no numeric total_submissions".to_owned())
}

#[cfg(test)]
mod tests {
    //! The driver against a few-line hyper server on 127.0.0.1, each run bounded to well under
    //! a second.
    use super::*;
    use crate::cli::parse_loopback_url;
    use crate::payload::Installations;
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper::{Response, StatusCode};
    use std::sync::Mutex;
    use tokio::net::TcpListener;

    /// What the test server saw.
    #[derive(Default)]
    struct Seen {
        connections: AtomicU64,
        requests: AtomicU64,
        bodies: Mutex<Vec<Bytes>>,
        keys: Mutex<Vec<String>>,
        gzipped: AtomicU64,
    }

    struct Behaviour {
        /// Answer `Connection: close` on every n-th request of a connection.
        close_every: Option<u64>,
        /// Time each answer takes.
        delay: Duration,
    }

    const QUICK: Behaviour = Behaviour {
        close_every: None,
        delay: Duration::ZERO,
    };

    async fn answer(
        req: Request<Incoming>,
        seen: Arc<Seen>,
        close: bool,
        delay: Duration,
    ) -> Result<Response<Full<Bytes>>, hyper::Error> {
        seen.requests.fetch_add(1, Relaxed);
        let path = req.uri().path().to_owned();
        let key = req
            .headers()
            .get("x-api-key")
            .map(|k| k.to_str().unwrap().to_owned());
        if req
            .headers()
            .get("content-encoding")
            .is_some_and(|e| e == "gzip")
        {
            seen.gzipped.fetch_add(1, Relaxed);
        }
        let body = req.into_body().collect().await?.to_bytes();
        sleep(delay).await;
        let (status, text) = match path.as_str() {
            "/health" => (StatusCode::OK, r#"{"status":"healthy"}"#.to_owned()),
            "/submit" | "/batch/" => {
                seen.keys.lock().unwrap().push(key.unwrap_or_default());
                let mut bodies = seen.bodies.lock().unwrap();
                bodies.push(body);
                (
                    StatusCode::OK,
                    format!(r#"{{"status":"success","submission_id":{}}}"#, bodies.len()),
                )
            }
            "/stats/summary" if key.as_deref() == Some("admin") => {
                let stored = seen.bodies.lock().unwrap().len();
                (
                    StatusCode::OK,
                    format!(r#"{{"total_submissions":{stored},"unique_installations":0}}"#),
                )
            }
            "/stats/summary" => (
                StatusCode::UNAUTHORIZED,
                r#"{"detail":"Invalid API key"}"#.to_owned(),
            ),
            _ => (
                StatusCode::NOT_FOUND,
                r#"{"detail":"Not Found"}"#.to_owned(),
            ),
        };
        let mut response = Response::builder()
            .status(status)
            .header(CONTENT_TYPE, "application/json");
        if close {
            response = response.header("connection", "close");
        }
        Ok(response.body(Full::new(Bytes::from(text))).unwrap())
    }

    async fn serve(behaviour: Behaviour) -> (TargetUrl, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url =
            parse_loopback_url(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let seen = Arc::new(Seen::default());
        let state = seen.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                state.connections.fetch_add(1, Relaxed);
                let state = state.clone();
                let (close_every, delay) = (behaviour.close_every, behaviour.delay);
                tokio::spawn(async move {
                    let on_this_connection = Arc::new(AtomicU64::new(0));
                    let service = service_fn(move |req| {
                        let n = on_this_connection.fetch_add(1, Relaxed) + 1;
                        let close = close_every.is_some_and(|every| n % every == 0);
                        answer(req, state.clone(), close, delay)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (url, seen)
    }

    fn plan(
        url: TargetUrl,
        work: Work,
        pace: Pace,
        connections: u32,
        warmup_ms: u64,
        duration_ms: u64,
    ) -> Plan {
        Plan {
            url,
            work,
            pace,
            connections,
            warmup: Duration::from_millis(warmup_ms),
            duration: Duration::from_millis(duration_ms),
            timeout: Duration::from_secs(2),
        }
    }

    fn submit(installations: Installations) -> Work {
        Work::Post {
            route: "/submit",
            bodies: Bodies::Reports(payload::Generator::new(
                42,
                chrono::Utc::now().naive_utc(),
                installations,
            )),
            key: Some(HeaderValue::from_static("ingest-key")),
        }
    }

    fn recorded(outcome: &Outcome) -> u64 {
        outcome.statuses.iter().map(|(_, n)| n).sum()
    }

    #[tokio::test]
    async fn a_closed_health_run_uses_exactly_c_connections_and_stops_by_itself() {
        let (url, seen) = serve(QUICK).await;
        let began = Instant::now();
        let outcome = run(plan(url, Work::Health, Pace::Closed, 4, 100, 300)).await;
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "ran {:?}",
            began.elapsed()
        );
        assert_eq!(seen.connections.load(Relaxed), 4);
        assert_eq!(outcome.transport_errors, 0);
        assert!(outcome.warmup_requests > 0);
        assert_eq!(outcome.statuses.len(), 1);
        assert_eq!(outcome.statuses[0].0, 200);
        assert_eq!(outcome.histogram.len(), recorded(&outcome));
        assert_eq!(
            outcome.answered,
            outcome.warmup_requests + recorded(&outcome)
        );
        assert_eq!(seen.requests.load(Relaxed), outcome.answered);
    }

    #[tokio::test]
    async fn a_submit_run_acknowledges_exactly_the_reports_the_server_received() {
        let (url, seen) = serve(QUICK).await;
        let outcome = run(plan(
            url,
            submit(Installations::Fresh),
            Pace::Closed,
            3,
            50,
            250,
        ))
        .await;
        let bodies = seen.bodies.lock().unwrap();
        assert!(outcome.acknowledged > 0);
        assert_eq!(outcome.acknowledged, bodies.len() as u64);
        assert_eq!(outcome.distinct_acknowledged, bodies.len() as u64);
        for body in bodies.iter() {
            let report: serde_json::Value = serde_json::from_slice(body).unwrap();
            assert_eq!(report["schema_version"], "1.0");
        }
        assert!(seen.keys.lock().unwrap().iter().all(|k| k == "ingest-key"));
    }

    #[tokio::test]
    async fn an_event_run_counts_every_acknowledged_event_and_a_resent_batchs_once() {
        let (url, seen) = serve(QUICK).await;
        let mix = formats::Mix {
            events: 1..=100,
            gzip_percent: 50,
            resend_percent: 20,
        };
        let bodies = formats::Generator {
            seed: 42,
            now: chrono::Utc::now(),
            format: formats::Format::CaptureBatch,
            installations: formats::Installations::Fresh,
            mix,
            api_key: "phc_bench".into(),
        };
        let work = Work::Post {
            route: "/batch/",
            bodies: Bodies::Events(bodies),
            key: None,
        };
        let outcome = run(plan(url, work, Pace::Closed, 3, 0, 300)).await;
        let received = seen.bodies.lock().unwrap().len() as u64;
        assert_eq!(outcome.acknowledged, received);
        assert!(outcome.distinct_acknowledged < outcome.acknowledged);
        assert!(outcome.distinct_acknowledged_events < outcome.acknowledged_events);
        assert!(outcome.distinct_acknowledged_events >= outcome.distinct_acknowledged);
        let gzipped = seen.gzipped.load(Relaxed);
        assert!(gzipped > 0 && gzipped < received, "{gzipped} of {received}");
        assert!(seen.keys.lock().unwrap().iter().all(String::is_empty));
    }

    #[tokio::test]
    async fn a_pool_run_ends_early_once_every_installation_week_pair_is_sent() {
        let (url, seen) = serve(QUICK).await;
        let began = Instant::now();
        let pool = Installations::Pool { size: 5, weeks: 2 };
        let outcome = run(plan(url, submit(pool), Pace::Closed, 3, 0, 5_000)).await;
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "ran {:?}",
            began.elapsed()
        );
        assert_eq!(seen.bodies.lock().unwrap().len(), 10);
        assert_eq!(outcome.acknowledged, 10);
        assert_eq!(outcome.distinct_acknowledged, 10);
        assert!(outcome.measured < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn an_open_run_sends_at_the_requested_rate() {
        let (url, seen) = serve(QUICK).await;
        let outcome = run(plan(
            url,
            Work::Health,
            Pace::Open { rate: 200.0 },
            4,
            0,
            500,
        ))
        .await;
        // 200/s for 0.5 s is 100 arrivals, all due inside the window.
        assert_eq!(outcome.answered, 100);
        assert_eq!(seen.connections.load(Relaxed), 4);
    }

    #[tokio::test]
    async fn open_loop_latency_counts_the_wait_behind_a_slow_server() {
        let slow = Behaviour {
            close_every: None,
            delay: Duration::from_millis(40),
        };
        let (url, _) = serve(slow).await;
        // One connection, due every 10 ms, served every 40 ms: the backlog grows, and the
        // latency from each request's due time must show it.
        let outcome = run(plan(
            url,
            Work::Health,
            Pace::Open { rate: 100.0 },
            1,
            0,
            300,
        ))
        .await;
        let max_ms = outcome.histogram.max() / 1000;
        assert!(max_ms >= 120, "max latency {max_ms} ms hides the queueing");
        assert!(outcome.histogram.value_at_quantile(0.0) >= 40_000);
    }

    #[tokio::test]
    async fn connections_the_server_closes_are_reopened_without_errors() {
        let closing = Behaviour {
            close_every: Some(3),
            delay: Duration::ZERO,
        };
        let (url, seen) = serve(closing).await;
        let outcome = run(plan(url, Work::Health, Pace::Closed, 2, 0, 300)).await;
        assert_eq!(outcome.transport_errors, 0);
        assert!(outcome.answered >= 6);
        assert!(
            seen.connections.load(Relaxed) > 2,
            "no connection was reopened"
        );
    }

    #[tokio::test]
    async fn probing_a_port_nobody_listens_on_says_connection_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let refused = probe(addr, Duration::from_secs(1)).await.unwrap_err();
        assert!(refused.contains("connection refused"), "{refused}");
    }

    #[tokio::test]
    async fn a_run_against_nothing_answers_nothing_and_still_ends() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url =
            parse_loopback_url(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let outcome = run(plan(url, Work::Health, Pace::Closed, 2, 0, 200)).await;
        assert_eq!(outcome.answered, 0);
        assert!(outcome.transport_errors > 0);
    }

    #[tokio::test]
    async fn the_stored_count_comes_from_the_summary_with_the_admin_key() {
        let (url, seen) = serve(QUICK).await;
        seen.bodies
            .lock()
            .unwrap()
            .extend([Bytes::new(), Bytes::new()]);
        let limit = Duration::from_secs(1);
        let admin = HeaderValue::from_static("admin");
        assert_eq!(total_submissions(&url, &admin, limit).await, Ok(2));
        let wrong = HeaderValue::from_static("nope");
        let refused = total_submissions(&url, &wrong, limit).await.unwrap_err();
        assert!(
            refused.contains("401") && !refused.contains("nope"),
            "{refused}"
        );
    }
}
