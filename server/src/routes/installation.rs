//! `GET` and `DELETE /installation/{id}`: an installation's right of access and of erasure.

use actix_web::{web, HttpResponse};
use deadpool_postgres::Pool;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::IngestKey;
use crate::domain::{FieldError, InstallationId, Rules};
use crate::error::{ApiError, InvalidBody};
use crate::limits::SourceAllowed;
use crate::rollup::Nudge;
use crate::store::{self, StoreError, StoredReport};

/// Every stored report of one installation (right of access).
#[derive(Serialize, ToSchema)]
pub struct Reports {
    installation_id: InstallationId,
    reports: Vec<StoredReport>,
}

/// Erasure: also 200 when there was nothing to erase.
#[derive(Serialize, ToSchema)]
pub struct Erased {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = 3)]
    deleted_count: u64,
    #[schema(example = "Deleted 3 report(s) of this installation")]
    message: String,
}

/// A 422 for an `installation_id` that is not a UUID.
const INVALID_ID: &str = "`installation_id` is not a UUID";

fn installation_id(path: &str) -> Result<InstallationId, ApiError> {
    InstallationId::parse(path).ok_or_else(|| {
        ApiError::Invalid(vec![FieldError::path(
            "installation_id",
            "must be a UUID",
            "uuid",
        )])
    })
}

#[utoipa::path(
    get,
    path = "/installation/{installation_id}",
    tag = "installation",
    operation_id = "installation_export",
    summary = "Every stored report of an installation (right of access)",
    params(("installation_id" = uuid::Uuid, Path, description = "The installation's id")),
    security(("ingest_key" = [])),
    responses(
        (status = 200, description = "The stored reports, oldest period first", body = Reports),
        (status = 422, description = INVALID_ID, body = InvalidBody),
        IngestKey,
        SourceAllowed,
        StoreError,
    )
)]
#[tracing::instrument(level = "debug", name = "installation_export", skip_all)]
pub async fn export(
    _: IngestKey,
    _: SourceAllowed,
    path: web::Path<String>,
    rules: web::Data<Rules>,
    pool: web::Data<Pool>,
) -> Result<HttpResponse, ApiError> {
    let installation = installation_id(&path)?;
    let reports = store::installation_reports(&pool, rules.report.product(), installation).await?;
    Ok(HttpResponse::Ok().json(Reports {
        installation_id: installation,
        reports,
    }))
}

#[utoipa::path(
    delete,
    path = "/installation/{installation_id}",
    tag = "installation",
    operation_id = "installation_delete",
    summary = "Erase every report of an installation (right of erasure)",
    params(("installation_id" = uuid::Uuid, Path, description = "The installation's id")),
    security(("ingest_key" = [])),
    responses(
        (status = 200, description = "Erased; the daily tables follow within seconds", body = Erased),
        (status = 422, description = INVALID_ID, body = InvalidBody),
        IngestKey,
        SourceAllowed,
        StoreError,
    )
)]
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
    let product = rules.report.product();
    let deleted = store::delete_installation(&pool, product, installation).await?;
    nudge.now();
    // Never the id: it is what grants access to and erasure of these reports.
    tracing::info!(deleted, "installation erased");
    Ok(HttpResponse::Ok().json(Erased {
        status: "success",
        deleted_count: deleted,
        message: format!("Deleted {deleted} report(s) of this installation"),
    }))
}
