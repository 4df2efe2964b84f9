//! `tally-bare`: the bare pipeline of issue 4, the ceiling Tally's throughput is compared to.
//!
//! actix-web parses `POST /submit` into typed structs; a bounded channel carries each report to
//! ONE writer task, which commits whatever is waiting (up to `--batch-max`) in one prepared
//! `INSERT ... SELECT FROM UNNEST ... ON CONFLICT` into `bare_reports`, then answers each request.
//! `bare_reports` is the typed table Tally stored Printernizer's reports in until its migration
//! V16 (V1's `submissions` with V3's index), created here so that the reference keeps the cost
//! it was calibrated on.
//! One writer, one batch at a time: exactly the pipeline the issue's target was calibrated on.
//!
//! The event formats' routes (`/batch/`, `/capture/`, `/api/events/batch`, `/api/v1/telemetry`;
//! issue 23) take the same path: a gzip body is inflated, the envelope parsed into typed structs
//! (the installation, each event's name and time; properties skipped unread), and the request
//! is ONE row of `bare_requests` (installation, events counted) in the same writer's batches.
//!
//! Deliberately nothing else: no keys, no validation rules, no rate limits, no ingest outcomes,
//! no metrics, no logs. What Tally costs beyond this is the price of those. A benchmark
//! instrument, not a server; `BENCH_SERVER=bare load-tests/bench.sh` runs it.

use std::collections::{hash_map::Entry, BTreeMap, HashMap};
use std::net::SocketAddr;
use std::str::FromStr;

use std::io::Read;

use actix_web::http::header::CONTENT_ENCODING;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{DateTime, NaiveDateTime, Utc};
use clap::Parser;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde::{Deserialize, Deserializer, Serialize};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "tally-bare",
    about = "The bare ingest pipeline of issue 4 (a benchmark reference)"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8090")]
    bind: SocketAddr,
    /// PostgreSQL URL of a database `tally migrate` has prepared (its `activity` for nothing:
    /// the reference's tables are its own).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// HTTP worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Most reports committed in one statement.
    #[arg(long, default_value_t = 512)]
    batch_max: usize,
}

/// Reports that may wait for the writer; past it the answer is 503 (Tally's default).
const QUEUE_CAPACITY: usize = 8192;

/// The reports' table as Tally's migrations V1 and V3 made `submissions`: one row per report
/// keyed by its period's start, monthly partitions, BRIN indexes on the period's end and on
/// `received_at`.
const CREATE_REPORTS: &str = "
CREATE SEQUENCE IF NOT EXISTS bare_report_id_seq AS bigint;
CREATE TABLE IF NOT EXISTS bare_reports (
    product             text        COLLATE \"C\" NOT NULL,
    installation_id     uuid        NOT NULL,
    period_start        timestamptz NOT NULL,
    period_end          timestamptz NOT NULL,
    submission_id       bigint      NOT NULL DEFAULT nextval('bare_report_id_seq'),
    received_at         timestamptz NOT NULL,
    receipts            integer     NOT NULL DEFAULT 1,
    app_version         text        NOT NULL,
    python_version      text,
    platform            text        NOT NULL,
    deployment_mode     text        NOT NULL,
    country_code        text        NOT NULL,
    first_seen          timestamptz,
    printer_count       integer     NOT NULL,
    job_count           integer     NOT NULL,
    file_count          integer     NOT NULL,
    upload_count        integer     NOT NULL,
    uptime_hours        integer     NOT NULL,
    total_errors        integer     NOT NULL,
    printer_type_counts jsonb       NOT NULL,
    feature_usage       jsonb       NOT NULL,
    error_summary       jsonb       NOT NULL,
    PRIMARY KEY (product, installation_id, period_start),
    CHECK (period_start < period_end)
) PARTITION BY RANGE (period_start);
CREATE INDEX IF NOT EXISTS bare_reports_period_end_brin ON bare_reports USING brin (period_end);
CREATE INDEX IF NOT EXISTS bare_reports_received_at_brin ON bare_reports USING brin (received_at);
CREATE OR REPLACE FUNCTION bare_ensure_month_partition(month date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    first_day date := date_trunc('month', month)::date;
    name text := 'bare_reports_' || to_char(first_day, 'YYYY_MM');
BEGIN
    IF to_regclass(quote_ident(name)) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF bare_reports FOR VALUES FROM (%L) TO (%L)',
            name,
            first_day::timestamp AT TIME ZONE 'UTC',
            (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC');
    END IF;
END;
$$;";

/// The months Tally's `serve` made partitions for: its raw retention (400 days) and a month ahead.
const ENSURE_PARTITIONS: &str = "SELECT bare_ensure_month_partition(m::date)
    FROM generate_series(date_trunc('month', now() - interval '432 days'),
                         now() + interval '1 month', interval '1 month') AS m";

/// Tally's `UPSERT_BATCH` of before V16 (server/src/store/submissions.rs then), returning only
/// what we answer.
const UPSERT: &str = "
INSERT INTO bare_reports AS s (
    product, installation_id, period_start, period_end, received_at,
    app_version, python_version, platform, deployment_mode, country_code, first_seen,
    printer_count, job_count, file_count, upload_count, uptime_hours, total_errors,
    printer_type_counts, feature_usage, error_summary)
SELECT product, installation_id, period_start, period_end, received_at,
    app_version, python_version, platform, deployment_mode, country_code, first_seen,
    printer_count, job_count, file_count, upload_count, uptime_hours, total_errors,
    printer_type_counts::jsonb, feature_usage::jsonb, error_summary::jsonb
FROM UNNEST(
    $1::text[], $2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[],
    $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[],
    $12::int[], $13::int[], $14::int[], $15::int[], $16::int[], $17::int[],
    $18::text[], $19::text[], $20::text[])
  AS t(product, installation_id, period_start, period_end, received_at,
    app_version, python_version, platform, deployment_mode, country_code, first_seen,
    printer_count, job_count, file_count, upload_count, uptime_hours, total_errors,
    printer_type_counts, feature_usage, error_summary)
ON CONFLICT (product, installation_id, period_start) DO UPDATE SET
    receipts = s.receipts + 1, period_end = EXCLUDED.period_end,
    received_at = EXCLUDED.received_at, app_version = EXCLUDED.app_version,
    python_version = EXCLUDED.python_version, platform = EXCLUDED.platform,
    deployment_mode = EXCLUDED.deployment_mode, country_code = EXCLUDED.country_code,
    first_seen = EXCLUDED.first_seen, printer_count = EXCLUDED.printer_count,
    job_count = EXCLUDED.job_count, file_count = EXCLUDED.file_count,
    upload_count = EXCLUDED.upload_count, uptime_hours = EXCLUDED.uptime_hours,
    total_errors = EXCLUDED.total_errors, printer_type_counts = EXCLUDED.printer_type_counts,
    feature_usage = EXCLUDED.feature_usage, error_summary = EXCLUDED.error_summary
RETURNING installation_id, period_start, submission_id";

/// The Printernizer body (CONTRACT.md); serde skips the fields not named here.
#[derive(Deserialize)]
struct Body {
    installation: Installation,
    period: Period,
    printer_fleet: Fleet,
    usage_stats: Usage,
    #[serde(default)]
    error_summary: BTreeMap<String, i32>,
}

#[derive(Deserialize)]
struct Installation {
    installation_id: Uuid,
    app_version: String,
    python_version: Option<String>,
    platform: String,
    deployment_mode: String,
    country_code: String,
    #[serde(default, deserialize_with = "optional_datetime")]
    first_seen: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct Period {
    #[serde(deserialize_with = "datetime")]
    start: DateTime<Utc>,
    #[serde(deserialize_with = "datetime")]
    end: DateTime<Utc>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Fleet {
    printer_count: i32,
    printer_types: Vec<String>,
    printer_type_counts: BTreeMap<String, i32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Usage {
    job_count: i32,
    file_count: i32,
    upload_count: i32,
    uptime_hours: i32,
    feature_usage: BTreeMap<String, bool>,
}

/// Printernizer's naive UTC datetimes: `T` or a space before the time, optional fraction.
fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let format = match text.as_bytes().get(10) {
        Some(b' ') => "%Y-%m-%d %H:%M:%S%.f",
        _ => "%Y-%m-%dT%H:%M:%S%.f",
    };
    NaiveDateTime::parse_from_str(text, format)
        .ok()
        .map(|t| t.and_utc())
}

fn datetime<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(d)?;
    parse_datetime(&text).ok_or_else(|| serde::de::Error::custom("not a datetime"))
}

fn optional_datetime<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_datetime(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("not a datetime")),
    }
}

/// The report's key in the table (the product is always `printernizer`).
type Key = (Uuid, DateTime<Utc>);

/// What the writer commits: a report, or an event format's request as one row.
// Unboxed: a report's path stays exactly the frozen reference's, without an allocation more.
#[allow(clippy::large_enum_variant)]
enum Job {
    Report(Body, DateTime<Utc>, oneshot::Sender<i64>),
    Request(Request, oneshot::Sender<i64>),
}

/// One request of an event format: a row of `bare_requests`.
struct Request {
    route: &'static str,
    installation_id: String,
    events: i32,
    received_at: DateTime<Utc>,
}

/// The event formats' table, beside Tally's in the migrated database.
const CREATE_REQUESTS: &str = "CREATE TABLE IF NOT EXISTS bare_requests (
    route text NOT NULL, installation_id text NOT NULL, received_at timestamptz NOT NULL,
    events integer NOT NULL)";

const INSERT_REQUESTS: &str =
    "INSERT INTO bare_requests (route, installation_id, received_at, events)
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::int[])";

/// The most a gzip body may inflate to (PostHog's batch limit).
const MAX_INFLATED: u64 = 20 << 20;

/// A PostHog event; its properties are read for the installation only.
#[derive(Deserialize)]
struct CaptureEvent {
    #[serde(rename = "event")]
    _event: String,
    distinct_id: Option<String>,
    properties: Option<CaptureProperties>,
    #[serde(rename = "timestamp")]
    _timestamp: Option<String>,
}

#[derive(Deserialize)]
struct CaptureProperties {
    distinct_id: Option<String>,
}

impl CaptureEvent {
    fn installation(&self) -> Option<&str> {
        self.distinct_id
            .as_deref()
            .or_else(|| self.properties.as_ref()?.distinct_id.as_deref())
    }
}

/// `/capture/`'s single event (its members beside the key) or `/batch/`'s list (either route
/// takes either).
#[derive(Deserialize)]
struct CaptureBody {
    #[serde(rename = "api_key")]
    _api_key: String,
    batch: Option<Vec<CaptureEvent>>,
    event: Option<String>,
    distinct_id: Option<String>,
    properties: Option<CaptureProperties>,
}

/// Stories' batch.
#[derive(Deserialize)]
struct EventBatch {
    user_id: String,
    events: Vec<StoriesEvent>,
}

#[derive(Deserialize)]
struct StoriesEvent {
    #[serde(rename = "event_type")]
    _event_type: String,
    #[serde(rename = "timestamp")]
    _timestamp: String,
}

/// IndexPilot's daily report.
#[derive(Deserialize)]
struct Telemetry {
    installation_id: String,
    #[serde(rename = "version")]
    _version: String,
    #[serde(rename = "timestamp")]
    _timestamp: String,
}

#[derive(Serialize)]
struct Accepted {
    status: &'static str,
    submission_id: i64,
    message: &'static str,
}

async fn submit(body: web::Json<Body>, queue: web::Data<mpsc::Sender<Job>>) -> HttpResponse {
    let (reply, answer) = oneshot::channel();
    if queue
        .try_send(Job::Report(body.into_inner(), Utc::now(), reply))
        .is_err()
    {
        return HttpResponse::ServiceUnavailable().finish();
    }
    match answer.await {
        Ok(submission_id) => HttpResponse::Ok().json(Accepted {
            status: "success",
            submission_id,
            message: "Statistics submitted successfully",
        }),
        // The writer dropped the reply: the batch did not commit.
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// The body as sent, inflated when it says it is gzip.
fn inflate(req: &HttpRequest, body: web::Bytes) -> Option<Vec<u8>> {
    let gzip = req
        .headers()
        .get(CONTENT_ENCODING)
        .is_some_and(|encoding| encoding == "gzip");
    if !gzip {
        return Some(body.to_vec());
    }
    let mut inflated = Vec::with_capacity(body.len() * 8);
    flate2::read::GzDecoder::new(&body[..])
        .take(MAX_INFLATED)
        .read_to_end(&mut inflated)
        .ok()?;
    Some(inflated)
}

/// An event format's request: inflated, parsed as `T`, turned into its row by `row`, queued,
/// and answered `accepted` once the row has committed; 400 when it cannot be read.
async fn store_request<T: serde::de::DeserializeOwned>(
    req: HttpRequest,
    body: web::Bytes,
    queue: web::Data<mpsc::Sender<Job>>,
    row: impl FnOnce(T) -> Option<Request>,
    accepted: serde_json::Value,
) -> HttpResponse {
    let request = inflate(&req, body)
        .and_then(|body| serde_json::from_slice::<T>(&body).ok())
        .and_then(row);
    let Some(request) = request else {
        return HttpResponse::BadRequest().finish();
    };
    let (reply, answer) = oneshot::channel();
    if queue.try_send(Job::Request(request, reply)).is_err() {
        return HttpResponse::ServiceUnavailable().finish();
    }
    match answer.await {
        Ok(_) => HttpResponse::Ok().json(accepted),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

async fn capture(
    req: HttpRequest,
    body: web::Bytes,
    queue: web::Data<mpsc::Sender<Job>>,
) -> HttpResponse {
    let row = |body: CaptureBody| {
        let events = match body.batch {
            Some(batch) => batch,
            None => vec![CaptureEvent {
                _event: body.event?,
                distinct_id: body.distinct_id,
                properties: body.properties,
                _timestamp: None,
            }],
        };
        Some(Request {
            route: "capture",
            installation_id: events.first()?.installation()?.to_owned(),
            events: events.len() as i32,
            received_at: Utc::now(),
        })
    };
    store_request(req, body, queue, row, serde_json::json!({"status": 1})).await
}

async fn event_batch(
    req: HttpRequest,
    body: web::Bytes,
    queue: web::Data<mpsc::Sender<Job>>,
) -> HttpResponse {
    let row = |batch: EventBatch| {
        Some(Request {
            route: "events",
            installation_id: batch.user_id,
            events: batch.events.len() as i32,
            received_at: Utc::now(),
        })
    };
    let accepted = serde_json::json!({"status": "success", "message": "Events received"});
    store_request(req, body, queue, row, accepted).await
}

async fn telemetry(
    req: HttpRequest,
    body: web::Bytes,
    queue: web::Data<mpsc::Sender<Job>>,
) -> HttpResponse {
    let now = Utc::now();
    let row = |report: Telemetry| {
        Some(Request {
            route: "telemetry",
            installation_id: report.installation_id,
            events: 1,
            received_at: now,
        })
    };
    let next = (now + chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let accepted = serde_json::json!({
        "status": "success", "message": "Telemetry received", "next_collection": next,
    });
    store_request(req, body, queue, row, accepted).await
}

/// The one writer: a batch at a time, each answered after its statement has committed.
async fn writer(pool: Pool, mut jobs: mpsc::Receiver<Job>, batch_max: usize) {
    let mut batch = Vec::with_capacity(batch_max);
    while jobs.recv_many(&mut batch, batch_max).await > 0 {
        let (reports, requests): (Vec<Job>, Vec<Job>) = batch
            .drain(..)
            .partition(|job| matches!(job, Job::Report(..)));
        if !requests.is_empty() {
            insert_requests(&pool, requests).await;
        }
        if reports.is_empty() {
            continue;
        }
        // One statement cannot update a row twice: the same key merges, the last one wins.
        let mut slots: HashMap<Key, usize> = HashMap::with_capacity(reports.len());
        let mut rows: Vec<(Body, DateTime<Utc>)> = Vec::with_capacity(reports.len());
        let mut waiters: Vec<Vec<oneshot::Sender<i64>>> = Vec::with_capacity(reports.len());
        for job in reports {
            let Job::Report(body, received_at, reply) = job else {
                continue;
            };
            match slots.entry((body.installation.installation_id, body.period.start)) {
                Entry::Occupied(slot) => {
                    rows[*slot.get()] = (body, received_at);
                    waiters[*slot.get()].push(reply);
                }
                Entry::Vacant(slot) => {
                    slot.insert(rows.len());
                    rows.push((body, received_at));
                    waiters.push(vec![reply]);
                }
            }
        }
        match upsert(&pool, &rows).await {
            Ok(stored) => {
                for (key, submission_id) in stored {
                    let Some(&slot) = slots.get(&key) else {
                        continue;
                    };
                    for reply in waiters[slot].drain(..) {
                        let _ = reply.send(submission_id);
                    }
                }
            }
            Err(error) => eprintln!("tally-bare: batch of {} not committed: {error}", rows.len()),
        }
        // Replies still held are dropped here: those requests answer 503.
    }
}

/// One row per request, in one statement; each answered once it has committed.
async fn insert_requests(pool: &Pool, jobs: Vec<Job>) {
    let (rows, replies): (Vec<Request>, Vec<oneshot::Sender<i64>>) = jobs
        .into_iter()
        .filter_map(|job| match job {
            Job::Request(row, reply) => Some((row, reply)),
            Job::Report(..) => None,
        })
        .unzip();
    let inserted = async {
        let client = pool.get().await.map_err(|e| e.to_string())?;
        let statement = client
            .prepare_cached(INSERT_REQUESTS)
            .await
            .map_err(|e| e.to_string())?;
        client
            .execute(
                &statement,
                &[
                    &rows.iter().map(|r| r.route).collect::<Vec<_>>(),
                    &rows
                        .iter()
                        .map(|r| r.installation_id.as_str())
                        .collect::<Vec<_>>(),
                    &rows.iter().map(|r| r.received_at).collect::<Vec<_>>(),
                    &rows.iter().map(|r| r.events).collect::<Vec<_>>(),
                ],
            )
            .await
            .map_err(|e| e.to_string())
    };
    match inserted.await {
        Ok(_) => {
            for reply in replies {
                let _ = reply.send(0);
            }
        }
        // The replies are dropped: those requests answer 503.
        Err(error) => eprintln!("tally-bare: batch of {} not committed: {error}", rows.len()),
    }
}

/// The maps go to the database as JSON text, cast to jsonb there (as Tally does).
fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

async fn upsert(pool: &Pool, rows: &[(Body, DateTime<Utc>)]) -> Result<Vec<(Key, i64)>, String> {
    // One array per column, in the statement's order.
    macro_rules! column {
        ($f:expr) => {
            rows.iter().map($f).collect::<Vec<_>>()
        };
    }
    let client = pool.get().await.map_err(|e| e.to_string())?;
    let statement = client
        .prepare_cached(UPSERT)
        .await
        .map_err(|e| e.to_string())?;
    let stored = client
        .query(
            &statement,
            &[
                &vec!["printernizer"; rows.len()],
                &column!(|(b, _)| b.installation.installation_id),
                &column!(|(b, _)| b.period.start),
                &column!(|(b, _)| b.period.end),
                &column!(|(_, at)| *at),
                &column!(|(b, _)| b.installation.app_version.as_str()),
                &column!(|(b, _)| b.installation.python_version.as_deref()),
                &column!(|(b, _)| b.installation.platform.as_str()),
                &column!(|(b, _)| b.installation.deployment_mode.as_str()),
                &column!(|(b, _)| b.installation.country_code.as_str()),
                &column!(|(b, _)| b.installation.first_seen),
                &column!(|(b, _)| b.printer_fleet.printer_count),
                &column!(|(b, _)| b.usage_stats.job_count),
                &column!(|(b, _)| b.usage_stats.file_count),
                &column!(|(b, _)| b.usage_stats.upload_count),
                &column!(|(b, _)| b.usage_stats.uptime_hours),
                &column!(|(b, _)| b.error_summary.get("total_errors").copied().unwrap_or(0)),
                // Types listed without a count are stored with 0, as Tally does.
                &column!(|(b, _)| {
                    let mut counts = b.printer_fleet.printer_type_counts.clone();
                    for name in &b.printer_fleet.printer_types {
                        counts.entry(name.clone()).or_insert(0);
                    }
                    json(&counts)
                }),
                &column!(|(b, _)| json(&b.usage_stats.feature_usage)),
                &column!(|(b, _)| json(&b.error_summary)),
            ],
        )
        .await
        .map_err(|e| e.to_string())?;
    stored
        .iter()
        .map(|row| Ok(((row.try_get(0)?, row.try_get(1)?), row.try_get(2)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(|e| e.to_string())
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "healthy"}))
}

/// Live totals, so tally-load's acknowledged == stored check works (no key needed).
async fn summary(pool: web::Data<Pool>) -> HttpResponse {
    let counted = async {
        let client = pool.get().await.map_err(|e| e.to_string())?;
        client
            .query_one(
                "SELECT count(*), count(DISTINCT installation_id) FROM bare_reports",
                &[],
            )
            .await
            .map_err(|e| e.to_string())
    };
    match counted.await {
        Ok(row) => HttpResponse::Ok().json(serde_json::json!({
            "total_submissions": row.get::<_, i64>(0),
            "unique_installations": row.get::<_, i64>(1),
            "latest_submission_at": null,
            "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })),
        Err(error) => HttpResponse::ServiceUnavailable().body(error),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut pg = tokio_postgres::Config::from_str(&args.database_url)?;
    pg.application_name("tally-bare");
    let manager = Manager::from_config(
        pg,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(4)
        .runtime(Runtime::Tokio1)
        .build()?;
    pool.get().await?.batch_execute(CREATE_REPORTS).await?;
    pool.get().await?.batch_execute(ENSURE_PARTITIONS).await?;
    pool.get().await?.batch_execute(CREATE_REQUESTS).await?;

    let (queue, jobs) = mpsc::channel::<Job>(QUEUE_CAPACITY);
    tokio::spawn(writer(pool.clone(), jobs, args.batch_max.max(1)));
    let queue = web::Data::new(queue);
    let pool = web::Data::new(pool);
    eprintln!("tally-bare: listening on {}", args.bind);
    HttpServer::new(move || {
        App::new()
            .app_data(queue.clone())
            .app_data(pool.clone())
            .route("/submit", web::post().to(submit))
            .route("/batch/", web::post().to(capture))
            .route("/capture/", web::post().to(capture))
            .route("/api/events/batch", web::post().to(event_batch))
            .route("/api/v1/telemetry", web::post().to(telemetry))
            .route("/health", web::get().to(health))
            .route("/stats/summary", web::get().to(summary))
    })
    .workers(args.workers)
    .bind(args.bind)?
    .run()
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_read_with_t_or_a_space_and_an_optional_fraction() {
        let whole = parse_datetime("2026-11-16T10:00:00").unwrap();
        assert_eq!(whole.to_rfc3339(), "2026-11-16T10:00:00+00:00");
        assert_eq!(parse_datetime("2026-11-16 10:00:00"), Some(whole));
        let fraction = parse_datetime("2026-11-16 10:00:00.123456").unwrap();
        assert_eq!(
            fraction.timestamp_micros() - whole.timestamp_micros(),
            123_456
        );
        assert_eq!(parse_datetime("2026-11-16T10:00:00.123456"), Some(fraction));
        assert_eq!(parse_datetime("2026-11-16"), None);
        assert_eq!(parse_datetime("next tuesday"), None);
    }

    #[test]
    fn the_contract_example_parses() {
        let body: Body = serde_json::from_str(
            r#"{"schema_version": "1.0", "submission_timestamp": "2026-11-20 12:00:00.123456",
             "installation": {"installation_id": "550e8400-e29b-41d4-a716-446655440000",
               "first_seen": "2025-12-01 10:00:00.500000", "app_version": "2.41.2",
               "python_version": "3.12.3", "platform": "linux",
               "deployment_mode": "homeassistant", "country_code": "DE"},
             "period": {"start": "2026-11-13T12:00:00", "end": "2026-11-20 12:00:00.123456",
               "duration_days": 7},
             "printer_fleet": {"printer_count": 3, "printer_types": ["bambu_lab", "prusa_core"],
               "printer_type_counts": {"bambu_lab": 2, "prusa_core": 1}},
             "usage_stats": {"job_count": 23, "file_count": 18, "upload_count": 5,
               "uptime_hours": 134, "feature_usage": {"library_enabled": true}},
             "error_summary": {"total_errors": 2}}"#,
        )
        .unwrap();
        assert!(body.installation.first_seen.is_some());
        assert!(body.period.start < body.period.end);
        assert_eq!(body.error_summary["total_errors"], 2);
        assert_eq!(body.printer_fleet.printer_type_counts["bambu_lab"], 2);
    }
}
