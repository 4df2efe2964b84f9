//! `GET` and `DELETE /installation/{id}?product=`: an installation's right of access and of
//! erasure, for every product (Printernizer without `?product=`). The product's ingest key
//! proves the caller is its client; a keyless product's client proves it by holding the id.

use actix_web::{web, HttpResponse};
use deadpool_postgres::Pool;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::ProductKey;
use crate::domain::activity::ClientId;
use crate::domain::{FieldError, Format, InstallationId, Product};
use crate::error::{ApiError, InvalidBody};
use crate::limits::SourceAllowed;
use crate::rollup::Nudge;
use crate::store::{self, Erasure, StoreError, StoredDay, StoredReport};

/// Everything stored of one installation (right of access).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Stored {
    /// A weekly report product's reports, oldest period first.
    Reports {
        #[schema(value_type = String, format = Uuid)]
        installation_id: String,
        reports: Vec<StoredReport>,
    },
    /// An event or daily product's days, oldest first: every number kept of the installation.
    Days {
        #[schema(value_type = String, example = "5f1c2a9e-b7d4-4e0a-9c3f-2d8e6a1b0c47")]
        installation_id: String,
        #[schema(example = "stories")]
        product: String,
        days: Vec<StoredDay>,
    },
}

/// Erasure: also 200 when there was nothing to erase.
#[derive(Serialize, ToSchema)]
pub struct Erased {
    #[schema(example = "success")]
    status: &'static str,
    /// Stored rows removed: reports, or days of events.
    #[schema(example = 3)]
    deleted_count: u64,
    #[schema(example = "Deleted 3 report(s) of this installation")]
    message: String,
    removed: Removed,
}

/// What was removed. The daily tables follow at the next rollup (within seconds).
#[derive(Serialize, ToSchema)]
pub struct Removed {
    /// Weekly reports, or days of folded events.
    #[schema(example = 3)]
    rows: u64,
    /// 1 when the installation was known (it had rows, or an entry in the registry of an
    /// event product's known installations), else 0.
    #[schema(example = 1)]
    registrations: u64,
    /// Days the next rollup recomputes without the installation.
    #[schema(example = 3)]
    days_to_reroll: u64,
}

/// A 422 for an id that is not one the product's clients send.
const INVALID_ID: &str = "`installation_id` is not an id of the product's clients";

/// The id as the product's clients send it: a UUID for a product whose format sends one (the
/// stored form of it), else a client id.
fn parse_id(product: &Product, path: &str) -> Result<ClientId, ApiError> {
    let refused =
        |msg: String, kind| ApiError::Invalid(vec![FieldError::path("installation_id", msg, kind)]);
    if product.format() == Format::PrinternizerReport {
        InstallationId::parse(path)
            .map(ClientId::from)
            .ok_or_else(|| refused(InstallationId::RULE.into(), "uuid"))
    } else {
        ClientId::parse(path).ok_or_else(|| refused(ClientId::rule(), "client_id"))
    }
}

#[utoipa::path(
    get,
    path = "/installation/{installation_id}",
    tag = "installation",
    operation_id = "installation_export",
    summary = "Everything stored of an installation (right of access)",
    params(
        ("installation_id" = String, Path, description = "The installation's id: a UUID for Printernizer, the client's id (8-64 of A-Z a-z 0-9 - _) for the other products"),
        ("product" = Option<String>, Query, description = "A declared product; `printernizer` by default"),
    ),
    security(("ingest_key" = [])),
    responses(
        (status = 200, description = "The stored reports or days, oldest first", body = Stored),
        (status = 422, description = INVALID_ID, body = InvalidBody),
        ProductKey,
        SourceAllowed,
        StoreError,
    )
)]
#[tracing::instrument(level = "debug", name = "installation_export", skip_all)]
pub async fn export(
    owner: ProductKey,
    _: SourceAllowed,
    path: web::Path<String>,
    pool: web::Data<Pool>,
) -> Result<HttpResponse, ApiError> {
    let product = owner.0;
    let installation = parse_id(product, &path)?;
    let stored = if product.format() == Format::PrinternizerReport {
        Stored::Reports {
            reports: store::installation_reports(&pool, product.name(), &installation).await?,
            installation_id: installation.to_string(),
        }
    } else {
        Stored::Days {
            days: store::activity_installation_days(&pool, product.name(), &installation).await?,
            installation_id: installation.to_string(),
            product: product.name().to_owned(),
        }
    };
    Ok(HttpResponse::Ok().json(stored))
}

#[utoipa::path(
    delete,
    path = "/installation/{installation_id}",
    tag = "installation",
    operation_id = "installation_delete",
    summary = "Erase everything stored of an installation (right of erasure)",
    params(
        ("installation_id" = String, Path, description = "The installation's id: a UUID for Printernizer, the client's id for the other products"),
        ("product" = Option<String>, Query, description = "A declared product; `printernizer` by default"),
    ),
    security(("ingest_key" = [])),
    responses(
        (status = 200, description = "Erased; the daily tables follow within seconds", body = Erased),
        (status = 422, description = INVALID_ID, body = InvalidBody),
        ProductKey,
        SourceAllowed,
        StoreError,
    )
)]
#[tracing::instrument(level = "debug", name = "installation_delete", skip_all)]
pub async fn delete(
    owner: ProductKey,
    _: SourceAllowed,
    path: web::Path<String>,
    pool: web::Data<Pool>,
    nudge: web::Data<Nudge>,
) -> Result<HttpResponse, ApiError> {
    let product = owner.0;
    let installation = parse_id(product, &path)?;
    let erasure = store::delete_activity_installation(&pool, product.name(), &installation).await?;
    let unit = if product.format() == Format::PrinternizerReport {
        "report(s)"
    } else {
        "day(s)"
    };
    nudge.now();
    let Erasure {
        rows,
        registrations,
        days_marked,
    } = erasure;
    // Never the id: it is what grants access to and erasure of these rows.
    tracing::info!(product = product.name(), rows, "installation erased");
    Ok(HttpResponse::Ok().json(Erased {
        status: "success",
        deleted_count: rows,
        message: format!("Deleted {rows} {unit} of this installation"),
        removed: Removed {
            rows,
            registrations,
            days_to_reroll: days_marked,
        },
    }))
}
