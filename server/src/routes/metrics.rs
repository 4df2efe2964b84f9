use actix_web::{web, HttpResponse};
use metrics_exporter_prometheus::PrometheusHandle;

/// Prometheus text. Unauthenticated by contract: operators keep it behind their firewall.
pub async fn render(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
