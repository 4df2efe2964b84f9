//! The ingest routes of the products stored in `activity`: IndexPilot's daily telemetry, event
//! batches and crash reports (Stories), and (in `capture.rs`) PostHog's capture. Each route reads one
//! wire format with its adapter; which product a request is for comes from its key (or, for a
//! keyless product, the route). The folded days go to the activity writer; the answer comes
//! after COMMIT. Outcomes are counted per product, like `/submit`'s.

use actix_web::body::MessageBody;
use std::future::{ready, Ready};

use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use chrono::{Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{self, RouteFormat, RouteProduct, Served};
use crate::domain::activity::Folded;
use crate::domain::adapters::{events, indexpilot};
use crate::domain::{Catalog, Rejected};
use crate::error::ApiError;
use crate::limits::{Limits, SourceAllowed};
use crate::outcomes::{Outcome, Outcomes};
use crate::routes::body::Body;
use crate::routes::stats::rfc3339;
use crate::store::{WriteError, Writer};

/// IndexPilot's answer: when its next report is expected.
#[derive(Serialize, ToSchema)]
pub struct TelemetryReceived {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = "Telemetry received")]
    message: &'static str,
    /// RFC 3339: a day after this one.
    #[schema(example = "2025-12-11T10:00:00Z")]
    next_collection: String,
}

/// The answer to an event batch or a crash report.
#[derive(Serialize, ToSchema)]
pub struct EventsReceived {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = "Events received")]
    message: &'static str,
}

/// `POST /api/v1/telemetry`: one daily report of one IndexPilot installation.
#[utoipa::path(
    post,
    path = "/api/v1/telemetry",
    tag = "ingest",
    operation_id = "telemetry",
    summary = "Submit one daily report of one installation (IndexPilot's format); a resend on the same UTC day replaces it",
    request_body(content = serde_json::Value, description = "IndexPilot's telemetry: `installation_id` (16-64 hex characters), `version`, `timestamp`, `metrics`, `environment`; fields the product does not declare are dropped"),
    params(("product" = Option<String>, Query, description = "Only for a keyless product of this format; a key names its product")),
    security(("ingest_key" = [])),
    responses(
        (status = 200, description = "Stored", body = TelemetryReceived),
        auth::IngestKey,
        SourceAllowed,
        Body,
        Rejected,
        WriteError,
    )
)]
#[tracing::instrument(level = "debug", name = "telemetry", skip_all)]
pub async fn telemetry(
    _: SourceAllowed,
    served: Served,
    body: Body,
    storing: Storing,
) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let folded = indexpilot::fold(&body.0, served.0, now)?;
    let outcome = storing.store(folded).await?;
    Ok(answer(
        TelemetryReceived {
            status: "success",
            message: "Telemetry received",
            next_collection: rfc3339(now + Duration::days(1)),
        },
        outcome,
    ))
}

/// `POST /api/events/batch`: a batch of one installation's events (Stories' format).
#[utoipa::path(
    post,
    path = "/api/events/batch",
    tag = "ingest",
    operation_id = "event_batch",
    summary = "Submit a batch of events of one installation; they are added into its days, a resent batch counts once",
    request_body(content = serde_json::Value, description = "`user_id` and `events`: [{`event_type`, `timestamp`, `properties`}]; undeclared event types and properties are dropped"),
    params(("product" = Option<String>, Query, description = "Which keyless product of this format (by default the first declared); a key names its product")),
    responses(
        (status = 200, description = "Stored (or already stored)", body = EventsReceived),
        auth::IngestKey,
        SourceAllowed,
        Body,
        Rejected,
        WriteError,
    )
)]
#[tracing::instrument(level = "debug", name = "event_batch", skip_all)]
pub async fn event_batch(
    _: SourceAllowed,
    served: Served,
    body: Body,
    storing: Storing,
) -> Result<HttpResponse, ApiError> {
    let folded = events::fold_batch(&body.0, served.0, Utc::now())?;
    let outcome = storing.store(folded).await?;
    Ok(answer(
        EventsReceived {
            status: "success",
            message: "Events received",
        },
        outcome,
    ))
}

/// `POST /api/crashes`: one crash report, counted by error type and versions; its message and
/// stack trace are read for the error type only and never stored.
#[utoipa::path(
    post,
    path = "/api/crashes",
    tag = "ingest",
    operation_id = "crash_report",
    summary = "Submit one crash report: counted by error type, app and OS version; the message and stack trace are never stored",
    request_body(content = serde_json::Value, description = "`error_message`, `stack_trace`, `app_version`, `os_version`, `timestamp`, `user_id`"),
    params(("product" = Option<String>, Query, description = "Which keyless product of this format (by default the first declared); a key names its product")),
    responses(
        (status = 200, description = "Stored (or already stored)", body = EventsReceived),
        auth::IngestKey,
        SourceAllowed,
        Body,
        Rejected,
        WriteError,
    )
)]
#[tracing::instrument(level = "debug", name = "crash_report", skip_all)]
pub async fn crash_report(
    _: SourceAllowed,
    served: Served,
    body: Body,
    storing: Storing,
) -> Result<HttpResponse, ApiError> {
    let folded = events::fold_crash(&body.0, served.0, Utc::now())?;
    let outcome = storing.store(folded).await?;
    Ok(answer(
        EventsReceived {
            status: "success",
            message: "Crash report received",
        },
        outcome,
    ))
}

/// What every ingest route of these products stores with: the per-installation limit, the
/// outcome counts and the writer.
pub(super) struct Storing {
    limits: web::Data<Limits>,
    writer: web::Data<Writer>,
    outcomes: web::Data<Outcomes>,
}

impl FromRequest for Storing {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let storing = match (req.app_data(), req.app_data(), req.app_data()) {
            (Some(limits), Some(writer), Some(outcomes)) => Ok(Self {
                limits: web::Data::clone(limits),
                writer: web::Data::clone(writer),
                outcomes: web::Data::clone(outcomes),
            }),
            _ => Err(ApiError::Internal("the writer is not configured".into())),
        };
        ready(storing)
    }
}

impl Storing {
    /// Limits each installation of the request, counts what was dropped, stores; says whether
    /// the request was counted or was a resend.
    pub(super) async fn store(&self, folded: Folded) -> Result<Outcome, ApiError> {
        admit(&self.limits, &self.outcomes, &folded)?;
        let stored = self.writer.store(folded).await?;
        Ok(if stored.counted {
            Outcome::Accepted
        } else {
            Outcome::Duplicate
        })
    }
}

/// What every ingest route does with a folded request before storing it: each installation's
/// limit, once each, then what the adapter set aside counted.
pub(super) fn admit(limits: &Limits, outcomes: &Outcomes, folded: &Folded) -> Result<(), ApiError> {
    let mut checked = Vec::new();
    for row in &folded.rows {
        if !checked.contains(&&row.installation) {
            limits.check_client(folded.product, &row.installation, folded.merge)?;
            checked.push(&row.installation);
        }
    }
    outcomes.add_set_aside(folded);
    Ok(())
}

pub(super) fn answer(body: impl Serialize, outcome: Outcome) -> HttpResponse {
    let mut response = HttpResponse::Ok().json(body);
    response.extensions_mut().insert(outcome);
    response
}

/// Counts every response of an ingest route as an ingest outcome of its product, the refusals
/// of the extractors (key, source limit) included: the handler marks its successes, the status
/// says the rest. The product is the one served; before it is known, the route's.
pub async fn count_outcome(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let outcomes = req.app_data::<web::Data<Outcomes>>().cloned();
    let route_product = route_product(&req);
    let response = next.call(req).await?;
    if let Some(outcomes) = outcomes {
        let marked = response.response().extensions().get::<Outcome>().copied();
        let outcome =
            marked.unwrap_or_else(|| Outcome::of_error_status(response.status().as_u16()));
        let served = response.request().extensions().get::<Served>().copied();
        let product = served.map_or(route_product, |served| served.0.name());
        outcomes.add(product, outcome, 1);
    }
    Ok(response)
}

/// The product a request is counted under until its own is known: the route's, or the first
/// declared of the route's format.
fn route_product(req: &ServiceRequest) -> &'static str {
    if let Some(product) = req.app_data::<web::Data<RouteProduct>>() {
        return product.0;
    }
    let format = req.app_data::<web::Data<RouteFormat>>().map(|f| f.0);
    req.app_data::<web::Data<&'static Catalog>>()
        .and_then(|catalog| {
            let catalog: &'static Catalog = catalog.get_ref();
            catalog
                .products()
                .iter()
                .find(|product| Some(product.format()) == format)
        })
        .map_or("", |product| product.name())
}
