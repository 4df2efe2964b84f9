use actix_web::{web, HttpResponse};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::telemetry::Sampled;

/// Prometheus text. Unauthenticated by contract: operators keep it behind their firewall.
pub async fn render(
    handle: web::Data<PrometheusHandle>,
    sampled: web::Data<Sampled>,
) -> HttpResponse {
    sampled.sample();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}
