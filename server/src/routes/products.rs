//! `GET /api/v1/products`: the declared products and what each may send, as the catalog holds
//! them after start-up (the built-in declarations and the operator's `TALLY_CATALOG`).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AdminKey;
use crate::domain::{Catalog, Product};
use crate::error::ApiError;

/// Every declared product, by name.
#[derive(Serialize, ToSchema)]
pub struct Products {
    #[schema(value_type = Vec<Product>)]
    products: &'static [Product],
}

#[utoipa::path(
    get,
    path = "/api/v1/products",
    tag = "api",
    operation_id = "api_products",
    summary = "The declared products: format, key policy, cadence and what each may send",
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = Products),
        AdminKey,
    )
)]
#[tracing::instrument(name = "api_products", skip_all)]
pub async fn products(
    _: AdminKey,
    catalog: web::Data<&'static Catalog>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Products {
        products: catalog.products(),
    }))
}
