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
use serde::Deserialize;
use serde_json::json;

use super::QueryDeadline;
use crate::auth::AdminKey;
use crate::error::ApiError;
use crate::reports::mail::MailError;
use crate::reports::{addresses, bounded, Kind, Period, Report, ReportError, Reporting};
use crate::store::{Daily, ReadPool};

/// The optional body of the POST routes; other fields are ignored, as Printernizer's service
/// ignores them.
#[derive(Debug, Default, Deserialize)]
struct EmailRequest {
    recipients: Option<Vec<String>>,
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
            Self::Mail(_) | Self::Shape(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Store(error) if error.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // The SMTP server's answer helps the maintainer and says nothing about our insides;
        // the database's causes and a bug's stay in the log.
        let detail = match self {
            Self::Store(_) | Self::Shape(_) => match self.status_code() {
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
        ReportError::Shape(error) => ApiError::Internal(error.into()).into(),
        other => other.into(),
    }
}

fn success(message: &str, recipients: Vec<String>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "success",
        "message": message,
        "recipients": recipients,
    }))
}

#[tracing::instrument(name = "reports_email_status", skip_all)]
pub async fn email_status(_: AdminKey, reporting: web::Data<Reporting>) -> HttpResponse {
    HttpResponse::Ok().json(reporting.status())
}

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

async fn send_now(
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
    let report = bounded(deadline.0, async {
        let daily = Daily::connect(pool).await?;
        let dashboard = reporting.dashboard.clone();
        Report::load(&daily, &reporting.products, period, dashboard, now).await
    })
    .await?;
    reporting.send_report(&report, &to).await?;
    Ok(addresses(&to))
}

#[tracing::instrument(name = "reports_weekly", skip_all)]
pub async fn weekly(
    _: AdminKey,
    body: web::Bytes,
    reporting: web::Data<Reporting>,
    pool: web::Data<ReadPool>,
    deadline: web::Data<QueryDeadline>,
) -> Result<HttpResponse, actix_web::Error> {
    let to = send_now(Kind::Weekly, &body, &reporting, &pool, **deadline)
        .await
        .map_err(answer)?;
    Ok(success("Weekly report sent successfully", to))
}

#[tracing::instrument(name = "reports_monthly", skip_all)]
pub async fn monthly(
    _: AdminKey,
    body: web::Bytes,
    reporting: web::Data<Reporting>,
    pool: web::Data<ReadPool>,
    deadline: web::Data<QueryDeadline>,
) -> Result<HttpResponse, actix_web::Error> {
    let to = send_now(Kind::Monthly, &body, &reporting, &pool, **deadline)
        .await
        .map_err(answer)?;
    Ok(success("Monthly report sent successfully", to))
}
