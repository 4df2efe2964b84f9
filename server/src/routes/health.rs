//! Liveness (`/`, `/health`) and readiness (`/ready`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use deadpool_postgres::Pool;
use serde_json::json;

use crate::error::ApiError;
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

pub async fn health(probe: web::Data<DatabaseProbe>) -> HttpResponse {
    let database = if probe.is_up().await {
        "connected"
    } else {
        "unavailable"
    };
    HttpResponse::Ok().json(json!({
        "status": "healthy",
        "database": database,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

pub async fn ready(probe: web::Data<DatabaseProbe>) -> Result<HttpResponse, ApiError> {
    if probe.is_up().await {
        Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
    } else {
        Err(ApiError::Unavailable("database unavailable".into()))
    }
}
