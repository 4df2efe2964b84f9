//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, generated from the handlers'
//! `#[utoipa::path]` annotations and the types they answer with.
//!
//! The error responses a route can give are named by what gives them: the extractors and
//! errors in a handler's signature (`IngestKey`, `AdminKey`, `SourceAllowed`, `StoreError`, ...)
//! each describe their statuses here, once.

pub(super) mod bodies;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use actix_web::http::header::ContentType;
use actix_web::HttpResponse;
use utoipa::openapi::path::PathItem;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, HeaderBuilder, Ref, RefOr};
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema};

use super::{
    api, body, capture, health, ingest, installation, metrics, privacy, products, public, reports,
    stats, submit,
};
use crate::auth::{AdminKey, IngestKey, ProductKey};
use crate::domain::Rejected;
use crate::error::{ErrorBody, InvalidBody, UNAUTHORIZED};
use crate::limits::SourceAllowed;
use crate::store::{StoreError, WriteError};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tally",
        description = "Opt-in, privacy-first usage statistics: installations submit weekly \
            aggregated reports, maintainers read the aggregates.\n\n\
            Every error body is JSON: `{\"detail\": \"<message>\"}`, or for 422 \
            `{\"detail\": [{\"loc\", \"msg\", \"type\"}]}` listing every broken field. \
            A path no route serves answers 404, and a method a path does not serve 405, both \
            with `{\"detail\": \"<message>\"}`. 429 and 503 carry `Retry-After` (seconds)."
    ),
    paths(
        submit::submit,
        ingest::telemetry,
        ingest::event_batch,
        ingest::crash_report,
        capture::capture,
        capture::batch,
        capture::flags,
        installation::export,
        installation::delete,
        health::health,
        health::ready,
        metrics::render,
        document,
        stats::summary,
        stats::overview,
        stats::export,
        stats::installations,
        stats::deployment_modes,
        stats::versions,
        stats::geography,
        stats::printers,
        stats::features,
        stats::version_migration,
        stats::feature_trends,
        stats::errors,
        stats::anomalies,
        api::metric,
        api::dimension_series,
        api::measure,
        api::events,
        api::outcomes,
        products::products,
        public::public_overview,
        privacy::page,
        privacy::catalog,
        reports::email_status,
        reports::test_email,
        reports::weekly,
        reports::monthly,
    ),
    // The error responses below name these by reference, which utoipa does not follow.
    components(schemas(ErrorBody, InvalidBody)),
    modifiers(&SecuritySchemes, &RootIsHealth),
    tags(
        (name = "ingest", description = "Reports from installations (ingest key)"),
        (name = "installation", description = "An installation's right of access and erasure (ingest key)"),
        (name = "reports", description = "E-mailed reports for maintainers, Printernizer's /reports/* (admin key)"),
        (name = "operations", description = "Probes, metrics and this document (no key)"),
        (name = "stats", description = "Printernizer's dashboard statistics (admin key)"),
        (name = "api", description = "Time series from the daily tables (admin key) and the public overview (no key)"),
    )
)]
pub struct ApiDoc;

/// The keys: ingest and admin keys both come as `X-API-Key`; admin keys also as a bearer token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let header = |description: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                description,
            )))
        };
        components.add_security_scheme(
            "ingest_key",
            header("One of `TALLY_INGEST_KEYS`: `/submit` and `/installation/*`"),
        );
        components.add_security_scheme(
            "admin_key",
            header("One of `TALLY_ADMIN_KEYS`: `/stats/*` and `/api/v1/*`"),
        );
        components.add_security_scheme(
            "admin_bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("One of `TALLY_ADMIN_KEYS` as `Authorization: Bearer`"))
                    .build(),
            ),
        );
    }
}

/// `GET /` answers as `GET /health` (one handler, mounted twice).
struct RootIsHealth;

impl Modify for RootIsHealth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(mut get) = openapi
            .paths
            .paths
            .get("/health")
            .and_then(|item| item.get.clone())
        else {
            return;
        };
        get.operation_id = Some("root".to_owned());
        openapi.paths.paths.insert(
            "/".to_owned(),
            PathItem::new(utoipa::openapi::HttpMethod::Get, get),
        );
    }
}

/// The document, made once: it describes the code, which does not change while serving.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    summary = "This document (OpenAPI 3.1)",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
pub async fn document() -> HttpResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| {
        // Serializing plain maps, strings and numbers cannot fail.
        serde_json::to_string(&ApiDoc::openapi()).unwrap_or_default()
    });
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body.as_str())
}

/// An error response with the body `schema` (`ErrorBody` or `InvalidBody`).
fn error(description: &str, schema: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name(schema))),
    )
}

/// An error worth retrying later: `Retry-After` says when.
fn retry_later(description: &str) -> ResponseBuilder {
    error(description, "ErrorBody").header(
        "Retry-After",
        HeaderBuilder::new()
            .schema(u64::schema())
            .description(Some("Seconds to wait before retrying"))
            .build(),
    )
}

fn responses(
    list: impl IntoIterator<Item = (u16, ResponseBuilder)>,
) -> BTreeMap<String, RefOr<Response>> {
    list.into_iter()
        .map(|(status, response)| (status.to_string(), response.build().into()))
        .collect()
}

impl IntoResponses for IngestKey {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([
            (
                401,
                error(
                    &format!("{UNAUTHORIZED}: missing, empty, wrong, or an admin key"),
                    "ErrorBody",
                ),
            ),
            (403, error("An ingest key of another product", "ErrorBody")),
        ])
    }
}

impl IntoResponses for ProductKey {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut answers = IngestKey::responses();
        answers.extend(responses([(
            404,
            error("`?product=` names no declared product", "ErrorBody"),
        )]));
        answers
    }
}

impl IntoResponses for AdminKey {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([
            (
                401,
                error(
                    &format!("{UNAUTHORIZED}: missing, empty or wrong"),
                    "ErrorBody",
                ),
            ),
            (403, error("An ingest key on an admin route", "ErrorBody")),
            (
                429,
                retry_later(
                    "Too many refused keys from this source (they count against its quota)",
                ),
            ),
        ])
    }
}

impl IntoResponses for SourceAllowed {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(429, retry_later("Over a rate limit"))])
    }
}

impl IntoResponses for body::Body {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(
            413,
            error(
                "The body is larger than its format takes (64 KiB for a report, 1 MiB for an \
                 event batch, 5 MiB for a PostHog capture or 20 MiB once decompressed)",
                "ErrorBody",
            ),
        )])
    }
}

impl IntoResponses for Rejected {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([
            (
                400,
                error("The body is not JSON (or could not be read)", "ErrorBody"),
            ),
            (
                422,
                error(
                    "Fields break their rules; every value rule's breaks are listed",
                    "InvalidBody",
                ),
            ),
        ])
    }
}

/// The database's errors: away, slow or overloaded is worth retrying; a refusal is not.
fn database(unavailable: &str) -> BTreeMap<String, RefOr<Response>> {
    responses([
        (503, retry_later(unavailable)),
        (500, error("Internal server error", "ErrorBody")),
    ])
}

impl IntoResponses for StoreError {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        database("The database is unavailable or did not answer in time")
    }
}

impl IntoResponses for WriteError {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        database("The database is unavailable or slow, or the write queue is full")
    }
}
