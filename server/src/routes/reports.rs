//! `/reports/*` (admin key), Printernizer's shapes: the e-mail settings' status, a test mail,
//! and the weekly or monthly report sent now. A report sent on demand covers the 7 (or 30)
//! days ending today's latest rolled day, the numbers `/stats/*` answers now, and is not
//! remembered: the schedule still sends its own.
//!
//! Errors are JSON with a `detail` a maintainer can act on: 503 when e-mail is not configured,
//! 422 for a bad recipient, 502 when the SMTP server fails (with its answer).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::QueryDeadline;
use crate::auth::AdminKey;
use crate::error::ApiError;
use crate::reports::mail::MailError;
use crate::reports::{addresses, Kind, Period, Report, ReportError, Reporting};
use crate::store::{self, Daily, ReadPool};

/// The optional body of the POST routes; other fields are ignored, as Printernizer's service
/// ignores them.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct EmailRequest {
    /// Addresses to send to instead of `TALLY_REPORT_RECIPIENTS` (at most 20).
    #[schema(example = json!(["maintainer@example.org"]))]
    recipients: Option<Vec<String>>,
}

/// What a sent mail answers (Printernizer's shape).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Sent {
    #[schema(example = "success")]
    status: &'static str,
    message: &'static str,
    recipients: Vec<String>,
}

fn request(body: &[u8]) -> Result<EmailRequest, ReportError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(EmailRequest::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ReportError::InvalidRequest(format!(
            "the body must be {{\"recipients\": [\"a@example.org\"]}} or empty: {e}"
        ))
    })
}

impl ResponseError for ReportError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::InvalidRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Mail(MailError::Send { .. } | MailError::TimedOut { .. }) => {
                StatusCode::BAD_GATEWAY
            }
            Self::Mail(_) | Self::Undeclared(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Store(error) if error.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // The SMTP server's answer helps the maintainer and says nothing about our insides;
        // the database's causes and a bug's stay in the log.
        let detail = match self {
            Self::Store(_) => match self.status_code() {
                StatusCode::SERVICE_UNAVAILABLE => "Service temporarily unavailable".to_owned(),
                _ => "Internal server error".to_owned(),
            },
            other => other.to_string(),
        };
        HttpResponse::build(self.status_code()).json(json!({ "detail": detail }))
    }
}

/// The database's errors become `ApiError`s, so that the log gets their whole chain once.
fn answer(error: ReportError) -> actix_web::Error {
    match error {
        ReportError::Store(error) => ApiError::from(error).into(),
        other => other.into(),
    }
}

fn success(message: &'static str, recipients: Vec<String>) -> HttpResponse {
    HttpResponse::Ok().json(Sent {
        status: "success",
        message,
        recipients,
    })
}

/// The errors of sending: e-mail not configured (503), a bad body or recipient (422), the SMTP
/// server refused or did not answer (502), the database (503/500).
impl utoipa::IntoResponses for ReportError {
    fn responses(
    ) -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        use utoipa::openapi::ResponseBuilder;
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
                .into()
        };
        [
            ("422", error("The body or a recipient is invalid")),
            ("502", error("The SMTP server refused the mail or did not answer; `detail` has its answer")),
            ("503", error("E-mail is not configured (`detail` names the missing setting), or the database is unavailable")),
            ("500", error("Internal server error")),
        ]
        .into_iter()
        .map(|(status, response)| (status.to_owned(), response))
        .collect()
    }
}

#[utoipa::path(
    get,
    path = "/reports/email-status",
    tag = "reports",
    operation_id = "reports_email_status",
    summary = "The e-mail settings, as Printernizer's service answers them",
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses((status = 200, description = "OK", body = crate::reports::EmailStatus), AdminKey)
)]
#[tracing::instrument(name = "reports_email_status", skip_all)]
pub async fn email_status(_: AdminKey, reporting: web::Data<Reporting>) -> HttpResponse {
    HttpResponse::Ok().json(reporting.status())
}

#[utoipa::path(
    post,
    path = "/reports/test-email",
    tag = "reports",
    operation_id = "reports_test_email",
    summary = "Sends a test e-mail",
    request_body(content = Option<EmailRequest>, description = "Optional: other recipients"),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses((status = 200, description = "Sent", body = Sent), AdminKey, ReportError)
)]
#[tracing::instrument(name = "reports_test_email", skip_all)]
pub async fn test_email(
    _: AdminKey,
    body: web::Bytes,
    reporting: web::Data<Reporting>,
) -> Result<HttpResponse, actix_web::Error> {
    let request = request(&body).map_err(answer)?;
    let to = reporting
        .recipients(request.recipients.as_deref())
        .map_err(answer)?;
    let text = "This is a test e-mail from Tally. If it arrived, the SMTP settings work.";
    let html = format!("<!DOCTYPE html><html><body><p>{text}</p></body></html>");
    reporting
        .send(&to, "Tally: test e-mail", html, text.to_owned())
        .await
        .map_err(answer)?;
    Ok(success("Test email sent successfully", addresses(&to)))
}

/// Sends the report of `kind` now and answers as Printernizer's service does.
async fn send_now(
    kind: Kind,
    body: &[u8],
    reporting: &Reporting,
    pool: &ReadPool,
    deadline: QueryDeadline,
) -> Result<HttpResponse, actix_web::Error> {
    let to = send_report_now(kind, body, reporting, pool, deadline)
        .await
        .map_err(answer)?;
    let message = match kind {
        Kind::Weekly => "Weekly report sent successfully",
        Kind::Monthly => "Monthly report sent successfully",
    };
    Ok(success(message, to))
}

async fn send_report_now(
    kind: Kind,
    body: &[u8],
    reporting: &Reporting,
    pool: &ReadPool,
    deadline: QueryDeadline,
) -> Result<Vec<String>, ReportError> {
    let request = request(body)?;
    let to = reporting.recipients(request.recipients.as_deref())?;
    let now = Utc::now();
    let period = Period::ending(kind, now.date_naive());
    let report = store::within(deadline.0, async {
        let daily = Daily::connect(pool).await?;
        let dashboard = reporting.dashboard.clone();
        Report::load(&daily, &reporting.products, period, dashboard, now).await
    })
    .await?;
    reporting.send_report(&report, &to).await?;
    Ok(addresses(&to))
}

#[utoipa::path(
    post,
    path = "/reports/weekly",
    tag = "reports",
    operation_id = "reports_weekly",
    summary = "Sends the weekly report (the 7 days ending today) now",
    request_body(content = Option<EmailRequest>, description = "Optional: other recipients"),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses((status = 200, description = "Sent", body = Sent), AdminKey, ReportError)
)]
#[tracing::instrument(name = "reports_weekly", skip_all)]
pub async fn weekly(
    _: AdminKey,
    body: web::Bytes,
    reporting: web::Data<Reporting>,
    pool: web::Data<ReadPool>,
    deadline: web::Data<QueryDeadline>,
) -> Result<HttpResponse, actix_web::Error> {
    send_now(Kind::Weekly, &body, &reporting, &pool, **deadline).await
}

#[utoipa::path(
    post,
    path = "/reports/monthly",
    tag = "reports",
    operation_id = "reports_monthly",
    summary = "Sends the monthly report (the 30 days ending today) now",
    request_body(content = Option<EmailRequest>, description = "Optional: other recipients"),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses((status = 200, description = "Sent", body = Sent), AdminKey, ReportError)
)]
#[tracing::instrument(name = "reports_monthly", skip_all)]
pub async fn monthly(
    _: AdminKey,
    body: web::Bytes,
    reporting: web::Data<Reporting>,
    pool: web::Data<ReadPool>,
    deadline: web::Data<QueryDeadline>,
) -> Result<HttpResponse, actix_web::Error> {
    send_now(Kind::Monthly, &body, &reporting, &pool, **deadline).await
}
