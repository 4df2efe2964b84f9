use actix_web::{web, HttpResponse};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::telemetry::Sampled;

/// Prometheus text. Unauthenticated by contract: operators keep it behind their firewall.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    summary = "Prometheus metrics (keep it behind your firewall)",
    responses((
        status = 200,
        description = "Prometheus text exposition format 0.0.4",
        body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8"
    ))
)]
pub async fn render(
    handle: web::Data<PrometheusHandle>,
    sampled: web::Data<Sampled>,
) -> HttpResponse {
    sampled.sample();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}
