//! PostHog's capture, as its own service answers it, so that posthog-python, posthog-node and
//! posthog-js work when only their host is changed: the event routes (`/capture`, `/batch`,
//! `/e`, `/i/v0/e`, `/track`, `/engage`, slash optional), `/flags` and `/decide` answering no
//! flags, and posthog-js's remote config (`/array/{token}/config` and `config.js`). Every one
//! of them answers any origin (CORS).
//!
//! The path of an event request: unwrap the envelope (gzip, posthog-js's form), find the key,
//! fold the events of the key's product, store, answer `{"status": 1}` after COMMIT.

use std::borrow::Cow;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::body::{Body, BodyLimit};
use super::cors::capture_cors;
use super::ingest::{answer, Storing};
use crate::auth::{self, Keys};
use crate::domain::adapters::capture::{self, Capture};
use crate::domain::adapters::envelope::{self, EnvelopeError, Wrapping};
use crate::domain::{Format, Rejected};
use crate::error::ApiError;
use crate::limits::SourceAllowed;
use crate::store::WriteError;

/// PostHog's own answer to a capture (its clients read only the status code).
#[derive(Serialize, ToSchema)]
pub struct Captured {
    #[schema(example = 1)]
    status: u8,
}

/// `POST /capture/` (and `/e/`, `/i/v0/e/`, `/track/`): one event, or a list of them.
#[utoipa::path(
    post,
    path = "/capture/",
    tag = "ingest",
    operation_id = "capture",
    summary = "Capture events (PostHog's format); also at `/e/`, `/i/v0/e/` and `/track/`, each with or without the trailing slash",
    request_body(content = serde_json::Value, description = "One event `{api_key, event, properties, distinct_id?, timestamp?, uuid?}`, a body with `batch` (read as at `/batch/`), or posthog-js's list of events. The key as `api_key`, `token`, `$token` or `properties.token`; `distinct_id` at the top level or in `properties`. Gzip by `Content-Encoding: gzip`, `?compression=gzip-js` or its magic bytes; posthog-js's form `data=<base64>`. `$` properties (such as `$ip`) and `$` events (such as `$identify`) are dropped and counted"),
    params(("_" = Option<i64>, Query, description = "When the client sent the request (ms since the epoch), to correct its clock if the body has no `sent_at`")),
    responses(
        (status = 200, description = "Stored", body = Captured),
        auth::IngestKey,
        SourceAllowed,
        Body,
        Rejected,
        WriteError,
    )
)]
#[tracing::instrument(level = "debug", name = "capture", skip_all)]
pub async fn capture(
    _: SourceAllowed,
    req: HttpRequest,
    body: Body,
    keys: web::Data<Keys>,
    storing: Storing,
) -> Result<HttpResponse, ApiError> {
    let unwrapped = unwrap(&req, &body)?;
    let captured = unwrapped.capture()?;
    let served = auth::served(&req, &keys, captured.api_key())?;
    let folded = captured.fold(served.0, Utc::now())?;
    let outcome = storing.store(folded).await?;
    Ok(answer(Captured { status: 1 }, outcome))
}

/// `POST /batch/`: a list of events beside the key, as posthog-python and posthog-node send it.
#[utoipa::path(
    post,
    path = "/batch/",
    tag = "ingest",
    operation_id = "capture_batch",
    summary = "Capture a batch of events (PostHog's format; also without the trailing slash)",
    request_body(content = serde_json::Value, description = "`{api_key, batch: [{event, properties, distinct_id?, timestamp?, uuid?}, ...], sent_at?}`, 1 to 1,000 events of one or more installations, up to 5 MiB on the wire and 20 MiB once decompressed; gzip as at `/capture/`"),
    responses(
        (status = 200, description = "Stored", body = Captured),
        auth::IngestKey,
        SourceAllowed,
        Body,
        Rejected,
        WriteError,
    )
)]
#[tracing::instrument(level = "debug", name = "capture_batch", skip_all)]
pub async fn batch(
    source: SourceAllowed,
    req: HttpRequest,
    body: Body,
    keys: web::Data<Keys>,
    storing: Storing,
) -> Result<HttpResponse, ApiError> {
    capture(source, req, body, keys, storing).await
}

/// `POST /engage/`: person updates (`$set` and the like). Nothing of them is ours to keep; they
/// are read for their key, counted as dropped and answered as PostHog answers them.
#[tracing::instrument(level = "debug", name = "engage", skip_all)]
pub async fn engage(
    _: SourceAllowed,
    req: HttpRequest,
    body: Body,
    keys: web::Data<Keys>,
    storing: Storing,
) -> Result<HttpResponse, ApiError> {
    let unwrapped = unwrap(&req, &body)?;
    let captured = unwrapped.capture()?;
    let served = auth::served(&req, &keys, captured.api_key())?;
    let outcome = storing
        .store(captured.fold_person_updates(served.0)?)
        .await?;
    Ok(answer(Captured { status: 1 }, outcome))
}

/// The flags a client asks for: none. Both shapes PostHog answers in, so that every client
/// version finds its own (`flags` for `/flags/?v=2` and later, `featureFlags` before).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoFlags {
    #[schema(value_type = Object)]
    flags: serde_json::Value,
    #[schema(value_type = Object)]
    feature_flags: serde_json::Value,
    #[schema(value_type = Object)]
    feature_flag_payloads: serde_json::Value,
    errors_while_computing_flags: bool,
}

/// `POST /flags/` (and `GET`, and `/decide/`): no feature flags, for a client that asks.
#[utoipa::path(
    post,
    path = "/flags/",
    tag = "ingest",
    operation_id = "flags",
    summary = "Feature flags, as PostHog's clients ask for them: always none (also `GET`, `/decide/`, and without the trailing slash); the body is not read",
    responses((status = 200, description = "No flags", body = NoFlags))
)]
pub async fn flags() -> HttpResponse {
    HttpResponse::Ok().json(NoFlags {
        flags: json!({}),
        feature_flags: json!({}),
        feature_flag_payloads: json!({}),
        errors_while_computing_flags: false,
    })
}

/// posthog-js's remote config. It says which compression we read (so posthog-js gzips), and
/// turns off what would only send PostHog's own events, which we drop (session recording,
/// heatmaps, surveys, exception and performance capture).
fn remote_config() -> serde_json::Value {
    json!({
        "supportedCompression": ["gzip", "gzip-js"],
        "sessionRecording": false,
        "heatmaps": false,
        "surveys": false,
        "autocaptureExceptions": false,
        "capturePerformance": false,
    })
}

/// `GET /array/{token}/config`: the remote config as JSON.
pub async fn remote_config_json() -> HttpResponse {
    HttpResponse::Ok().json(remote_config())
}

/// `GET /array/{token}/config.js`: the remote config as the script posthog-js loads first. The
/// token is written back as a JSON string, which no token can break out of.
pub async fn remote_config_script(token: web::Path<String>) -> HttpResponse {
    let token = serde_json::Value::String(token.into_inner());
    let config = json!({"config": remote_config(), "siteApps": []});
    HttpResponse::Ok()
        .content_type("application/javascript")
        .body(format!(
            "(window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {{}})[{token}] = {config};\n"
        ))
}

/// What the query of an event request may say about its body.
#[derive(Deserialize)]
struct EventQuery {
    compression: Option<String>,
    #[serde(rename = "_")]
    sent_at_ms: Option<i64>,
}

/// The JSON inside a request's envelope, with the client's sending time.
struct Unwrapped<'a> {
    json: Cow<'a, [u8]>,
    sent_at: Option<DateTime<Utc>>,
}

impl Unwrapped<'_> {
    /// The capture it holds, read in place.
    fn capture(&self) -> Result<Capture<'_>, ApiError> {
        Ok(capture::read(&self.json)?.sent_at_or(self.sent_at))
    }
}

fn unwrap<'a>(req: &HttpRequest, body: &'a Body) -> Result<Unwrapped<'a>, ApiError> {
    let query = web::Query::<EventQuery>::from_query(req.query_string()).ok();
    let compression = query.as_ref().and_then(|q| q.compression.as_deref());
    let header_says = |name, value: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains(value))
    };
    let wrapping = Wrapping {
        gzip: header_says(header::CONTENT_ENCODING, "gzip")
            || matches!(compression, Some("gzip-js" | "gzip")),
        form: header_says(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
    };
    let decoded = BodyLimit::of(Format::PosthogCapture).decoded;
    let json = envelope::unwrap(&body.0, wrapping, decoded)?;
    let sent_at = query
        .and_then(|q| q.sent_at_ms)
        .and_then(DateTime::from_timestamp_millis);
    Ok(Unwrapped { json, sent_at })
}

impl From<EnvelopeError> for ApiError {
    fn from(error: EnvelopeError) -> Self {
        match error {
            EnvelopeError::TooLarge(max) => Self::PayloadTooLarge(max),
            EnvelopeError::Malformed(message) => Self::BadRequest(message.to_owned()),
        }
    }
}

/// Makes a route: each path, with and without its slash, is a resource of its own.
pub(super) type NewRoute = fn() -> actix_web::Route;

/// The event routes, each path also with its trailing slash (mounted by `routes::configure`,
/// like every ingest route).
pub(super) const EVENT_ROUTES: [(&str, NewRoute); 6] = [
    ("/capture", || web::post().to(capture)),
    ("/e", || web::post().to(capture)),
    ("/i/v0/e", || web::post().to(capture)),
    ("/track", || web::post().to(capture)),
    ("/batch", || web::post().to(batch)),
    ("/engage", || web::post().to(engage)),
];

/// The routes that answer PostHog's clients without storing anything: flags, remote config.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    for path in ["/flags", "/flags/", "/decide", "/decide/"] {
        cfg.service(
            web::resource(path)
                .route(web::post().to(flags))
                .route(web::get().to(flags))
                .default_service(web::to(super::method_not_allowed))
                .wrap(actix_web::middleware::from_fn(capture_cors)),
        );
    }
    cfg.service(
        super::resource("/array/{token}/config", web::get().to(remote_config_json))
            .wrap(actix_web::middleware::from_fn(capture_cors)),
    );
    cfg.service(
        super::resource(
            "/array/{token}/config.js",
            web::get().to(remote_config_script),
        )
        .wrap(actix_web::middleware::from_fn(capture_cors)),
    );
}
