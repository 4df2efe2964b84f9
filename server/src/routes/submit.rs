//! `POST /submit`: one weekly report of one installation.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::IngestKey;
use crate::domain::adapters::printernizer;
use crate::domain::{Rejected, Rules, SubmissionDto};
use crate::error::ApiError;
use crate::limits::{Limits, SourceAllowed};
use crate::outcomes::{Outcome, Outcomes};
use crate::routes::body::Body;
use crate::routes::ingest::{admit, answer};
use crate::store::{WriteError, Writer};

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
