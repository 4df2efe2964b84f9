//! The errors of the HTTP boundary and their JSON shapes.
//!
//! Rules: every error body is JSON. 4xx bodies say what the client can fix; 5xx bodies say
//! nothing about our internals. A 5xx keeps its cause as a `#[source]` chain, and
//! `log_server_error` writes that chain to the log once, where the error has become a
//! response, at the level it deserves (503 warn, 500 error). No key, address, installation id
//! or body ever appears in a body or a log line.

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{FieldError, Rejected};
use crate::read::ReadError;
use crate::store::{StoreError, WriteError};
use crate::telemetry::Chain;

/// The body of every error but 422.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(example = "Missing or invalid API key")]
    pub detail: String,
}

/// The body of a 422: every broken field.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvalidBody<'a> {
    pub detail: &'a [FieldError],
}

/// What went wrong inside, kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// One message for a missing, empty or wrong key, so that a response never tells which.
pub const UNAUTHORIZED: &str = "Missing or invalid API key";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{UNAUTHORIZED}")]
    Unauthorized,
    #[error("This key may not use this route")]
    Forbidden,
    #[error("{0}")]
    NotFound(&'static str),
    /// `?product=` names no declared product (the name is echoed only when it is a plain
    /// identifier).
    #[error("No product `{0}` is declared")]
    UnknownProduct(String),
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("The body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    BadRequest(String),
    #[error("Invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("Too many requests: retry after {} seconds", retry_after(*.0))]
    RateLimited(Duration),
    /// The database is away, slow or overloaded, or the write queue is full: worth retrying
    /// soon.
    #[error("Service temporarily unavailable")]
    Unavailable(#[source] Cause),
    /// A fault of ours or a report the database refused: retrying will not help.
    #[error("Internal server error")]
    Internal(#[source] Cause),
}

/// Whole seconds, rounded up, at least one: `Retry-After: 0` invites a hot loop.
fn retry_after(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::UnknownProduct(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::RateLimited(wait) => {
                response.insert_header((header::RETRY_AFTER, retry_after(*wait)));
            }
            Self::Unavailable(_) => {
                response.insert_header((
                    header::RETRY_AFTER,
                    HeaderValue::from(UNAVAILABLE_RETRY_AFTER.as_secs()),
                ));
            }
            _ => {}
        }
        match self {
            Self::Invalid(errors) => response.json(InvalidBody { detail: errors }),
            other => response.json(ErrorBody {
                detail: other.to_string(),
            }),
        }
    }
}

impl From<Rejected> for ApiError {
    fn from(rejected: Rejected) -> Self {
        match rejected {
            Rejected::Malformed(message) => Self::BadRequest(message),
            Rejected::Invalid(errors) => Self::Invalid(errors),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_transient() {
            Self::Unavailable(error.into())
        } else {
            Self::Internal(error.into())
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Unknown(what) => Self::NotFound(what),
            ReadError::Store(error) => Self::from(error),
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Refused(_) => Self::Internal(error.into()),
            other => Self::Unavailable(other.into()),
        }
    }
}

/// Logs a 5xx once, with its whole chain of causes, where it has become a response (or an
/// error the server turns into one): `telemetry::observe` calls this for every 5xx.
pub fn log_server_error(route: &str, status: StatusCode, error: Option<&actix_web::Error>) {
    match error.and_then(|error| error.as_error::<ApiError>()) {
        Some(api) if status == StatusCode::SERVICE_UNAVAILABLE => {
            tracing::warn!(route, error = %Chain(api), "answering 503");
        }
        Some(api) => tracing::error!(route, error = %Chain(api), "answering {status}"),
        None => match error {
            Some(other) => tracing::error!(route, error = %other, "answering {status}"),
            None => tracing::error!(route, "answering {status}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_never_zero() {
        assert_eq!(retry_after(Duration::ZERO), 1);
        assert_eq!(retry_after(Duration::from_millis(10)), 1);
        assert_eq!(retry_after(Duration::from_secs(2)), 2);
        assert_eq!(retry_after(Duration::from_millis(2_001)), 3);
    }
}
