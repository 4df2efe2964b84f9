//! A deadline on a request's database work: a database that stalls (accepts, never answers)
//! turns into 503 + Retry-After, never a hang. The server also cancels the statement itself
//! (`statement_timeout`), and the connection is verified before it is handed out again.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::error::ApiError;
use crate::store::StoreError;

/// How long a request may wait on the database (`TALLY_DB_STATEMENT_TIMEOUT_MS`).
#[derive(Debug, Clone, Copy)]
pub struct QueryDeadline(pub Duration);

/// Past the deadline the request's work is dropped and the answer is an error, not a
/// response: the request cannot be kept to build one (routing needs it unshared).
pub async fn deadline(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let deadline = req
        .app_data::<web::Data<QueryDeadline>>()
        .map(|deadline| deadline.0);
    let Some(deadline) = deadline else {
        return next.call(req).await;
    };
    match tokio::time::timeout(deadline, next.call(req)).await {
        Ok(response) => response,
        Err(_) => Err(ApiError::Unavailable(StoreError::TimedOut(deadline).into()).into()),
    }
}
