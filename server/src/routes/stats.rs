//! Maintainers' statistics (admin key).

use actix_web::{web, HttpResponse};
use chrono::{SecondsFormat, Utc};
use deadpool_postgres::Pool;
use serde_json::json;

use crate::auth::AdminKey;
use crate::error::ApiError;
use crate::store;

/// Live and exact totals over the raw reports.
#[tracing::instrument(level = "debug", name = "stats_summary", skip_all)]
pub async fn summary(_: AdminKey, pool: web::Data<Pool>) -> Result<HttpResponse, ApiError> {
    let summary = store::summary(&pool).await?;
    Ok(HttpResponse::Ok().json(json!({
        "total_submissions": summary.total_submissions,
        "unique_installations": summary.unique_installations,
        "latest_submission_at": summary
            .latest_submission_at
            .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    })))
}
