//! `POST /submit`: one weekly report of one installation.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::Utc;
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::IngestKey;
use crate::domain::adapters::printernizer;
use crate::domain::{Format, Rejected, Rules, SubmissionDto};
use crate::error::ApiError;
use crate::limits::{Limits, SourceAllowed};
use crate::outcomes::{Outcome, Outcomes};
use crate::routes::ingest::{admit, answer};
use crate::store::{WriteError, Writer};

/// A real report is ~900 bytes; anything near this is not one.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const MIB: usize = 1024 * 1024;

/// The largest body a route takes: on the wire, and once decompressed (only PostHog's clients
/// compress). Declared per format where the route is mounted; `/submit`'s is `MAX_BODY_BYTES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    pub wire: usize,
    pub decoded: usize,
}

impl BodyLimit {
    pub const fn of(format: Format) -> Self {
        let (wire, decoded) = match format {
            // A report of one installation is a few KiB.
            Format::PrinternizerReport | Format::IndexpilotTelemetry => {
                (MAX_BODY_BYTES, MAX_BODY_BYTES)
            }
            // Up to 1,000 events of a few hundred bytes each.
            Format::EventBatch => (MIB, MIB),
            // posthog-python fills a batch up to 5 MiB before gzip (if it gzips at all);
            // PostHog's capture takes 20 MB of events once decompressed.
            Format::PosthogCapture => (5 * MIB, 20 * MIB),
        };
        Self { wire, decoded }
    }
}

/// Sent only after COMMIT; a resent report gets the same `submission_id`.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = 42)]
    submission_id: i64,
    #[schema(example = "Statistics submitted successfully")]
    message: &'static str,
}

/// Authenticate and limit the source (extractors, before the body is read), read and parse the
/// body, limit the installation, store (group commit), answer only after COMMIT.
#[utoipa::path(
    post,
    path = "/submit",
    tag = "ingest",
    operation_id = "submit",
    summary = "Submit one weekly report of one installation",
    request_body = SubmissionDto,
    security(("ingest_key" = [])),
    responses(
        (status = 200, description = "Stored (or already stored)", body = Accepted),
        IngestKey,
        SourceAllowed,
        Body,
        Rejected,
        WriteError,
    )
)]
#[tracing::instrument(level = "debug", name = "submit", skip_all)]
pub async fn submit(
    _: IngestKey,
    _: SourceAllowed,
    body: Body,
    rules: web::Data<Rules>,
    limits: web::Data<Limits>,
    writer: web::Data<Writer>,
    outcomes: web::Data<Outcomes>,
) -> Result<HttpResponse, ApiError> {
    let folded = printernizer::fold(&body.0, &rules, Utc::now())?;
    admit(&limits, &outcomes, &folded)?;
    let stored = writer
        .store(folded)
        .await?
        .report
        .ok_or(WriteError::Unconfirmed)?;
    let outcome = if stored.inserted {
        Outcome::Accepted
    } else {
        Outcome::Duplicate
    };
    let accepted = Accepted {
        status: "success",
        submission_id: stored.submission_id,
        message: "Statistics submitted successfully",
    };
    Ok(answer(accepted, outcome))
}

/// The request body, read only once the extractors before it have passed, and refused with
/// 413 as soon as it is known to exceed the route's `BodyLimit` (`MAX_BODY_BYTES` by default).
pub struct Body(pub(crate) web::BytesMut);

impl FromRequest for Body {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let max = req
            .app_data::<web::Data<BodyLimit>>()
            .map_or(MAX_BODY_BYTES, |limit| limit.wire);
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|length| length > max) {
                return Err(ApiError::PayloadTooLarge(max));
            }
            let mut bytes = web::BytesMut::with_capacity(declared.unwrap_or(1024));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|error| {
                    ApiError::BadRequest(format!("cannot read the body: {error}"))
                })?;
                if bytes.len() + chunk.len() > max {
                    return Err(ApiError::PayloadTooLarge(max));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(Body(bytes))
        })
    }
}
