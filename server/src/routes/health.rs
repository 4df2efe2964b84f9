//! Liveness (`/`, `/health`) and readiness (`/ready`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use deadpool_postgres::Pool;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::store;
use crate::telemetry::Chain;

/// Checks the database for real, at most once per `max_age`, so that a probe storm (or a
/// benchmark of `/health`) does not become a database benchmark; a check that takes longer than
/// `max_age` counts as down.
pub struct DatabaseProbe {
    pool: Pool,
    max_age: Duration,
    last: Mutex<Option<(Instant, bool)>>,
}

impl DatabaseProbe {
    pub fn new(pool: Pool, max_age: Duration) -> Self {
        Self {
            pool,
            max_age,
            last: Mutex::new(None),
        }
    }

    pub async fn is_up(&self) -> bool {
        let fresh = |last: &Option<(Instant, bool)>| {
            last.filter(|(at, _)| at.elapsed() < self.max_age)
                .map(|(_, up)| up)
        };
        if let Some(up) = self.last.lock().ok().and_then(|last| fresh(&last)) {
            return up;
        }
        let up = match store::within(self.max_age, store::ping(&self.pool)).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(error = %Chain(&error), "database check failed");
                false
            }
        };
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Instant::now(), up));
        }
        up
    }
}

/// Serving; whether the database answered its latest check.
#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "healthy")]
    status: &'static str,
    database: Database,
    #[schema(example = "0.1.0")]
    version: &'static str,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Database {
    Connected,
    Unavailable,
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    #[schema(example = "ready")]
    status: &'static str,
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    operation_id = "health",
    summary = "Liveness (also at `/`); the database is checked at most once a second",
    responses((status = 200, description = "Serving", body = Health))
)]
pub async fn health(probe: web::Data<DatabaseProbe>) -> HttpResponse {
    let database = if probe.is_up().await {
        Database::Connected
    } else {
        Database::Unavailable
    };
    HttpResponse::Ok().json(Health {
        status: "healthy",
        database,
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    operation_id = "ready",
    summary = "Readiness: whether the database answers",
    responses(
        (status = 200, description = "The database answers", body = Ready),
        (
            status = 503,
            description = "The database does not answer",
            body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
        ),
    )
)]
pub async fn ready(probe: web::Data<DatabaseProbe>) -> Result<HttpResponse, ApiError> {
    if probe.is_up().await {
        Ok(HttpResponse::Ok().json(Ready { status: "ready" }))
    } else {
        Err(ApiError::Unavailable("database unavailable".into()))
    }
}
