//! `GET` and `DELETE /installation/{id}`: an installation's right of access and of erasure.

use actix_web::{web, HttpResponse};
use deadpool_postgres::Pool;
use serde_json::json;

use crate::auth::IngestKey;
use crate::domain::{FieldError, InstallationId, Rules};
use crate::error::ApiError;
use crate::limits::SourceAllowed;
use crate::rollup::Nudge;
use crate::store;

fn installation_id(path: &str) -> Result<InstallationId, ApiError> {
    InstallationId::parse(path).ok_or_else(|| {
        ApiError::Invalid(vec![FieldError::path(
            "installation_id",
            "must be a UUID",
            "uuid",
        )])
    })
}

#[tracing::instrument(level = "debug", name = "installation_export", skip_all)]
pub async fn export(
    _: IngestKey,
    _: SourceAllowed,
    path: web::Path<String>,
    rules: web::Data<Rules>,
    pool: web::Data<Pool>,
) -> Result<HttpResponse, ApiError> {
    let installation = installation_id(&path)?;
    let reports = store::installation_reports(&pool, rules.catalog.product, installation).await?;
    Ok(HttpResponse::Ok().json(json!({
        "installation_id": installation,
        "reports": reports,
    })))
}

#[tracing::instrument(level = "debug", name = "installation_delete", skip_all)]
pub async fn delete(
    _: IngestKey,
    _: SourceAllowed,
    path: web::Path<String>,
    rules: web::Data<Rules>,
    pool: web::Data<Pool>,
    nudge: web::Data<Nudge>,
) -> Result<HttpResponse, ApiError> {
    let installation = installation_id(&path)?;
    let product = rules.catalog.product;
    let deleted = store::delete_installation(&pool, product, installation).await?;
    nudge.now();
    // Never the id: it is what grants access to and erasure of these reports.
    tracing::info!(deleted, "installation erased");
    Ok(HttpResponse::Ok().json(json!({
        "status": "success",
        "deleted_count": deleted,
        "message": format!("Deleted {deleted} report(s) of this installation"),
    })))
}
