//! One module per endpoint family; `configure` mounts them all.

mod api;
mod body;
mod capture;
mod cors;
mod dashboard;
mod deadline;
mod health;
mod ingest;
mod installation;
mod metrics;
mod openapi;
mod privacy;
mod products;
mod public;
mod reports;
mod stats;
mod submit;

use actix_web::web;

use crate::auth::{RouteFormat, RouteProduct};
use crate::domain::{Format, PRINTERNIZER};
use crate::error::ApiError;
use body::BodyLimit;

use cors::cors;
pub use cors::Cors;
use deadline::deadline;
pub use deadline::QueryDeadline;
pub use health::DatabaseProbe;
pub use privacy::PrivacyNotice;
pub use public::{keep_fresh, PublicOverview};
pub use stats::StatsSettings;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/", web::get().to(health::health)))
        .service(resource("/health", web::get().to(health::health)))
        .service(resource("/ready", web::get().to(health::ready)))
        .service(resource("/metrics", web::get().to(metrics::render)))
        .service(resource("/privacy", web::get().to(privacy::page)))
        .service(resource("/openapi.json", web::get().to(openapi::document)))
        .service(
            resource("/submit", web::post().to(submit::submit))
                .app_data(printernizer())
                .wrap(actix_web::middleware::from_fn(ingest::count_outcome)),
        )
        .service(ingest_route(
            "/api/v1/telemetry",
            Format::IndexpilotTelemetry,
            web::post().to(ingest::telemetry),
        ))
        .service(ingest_route(
            "/api/events/batch",
            Format::EventBatch,
            web::post().to(ingest::event_batch),
        ))
        .service(ingest_route(
            "/api/crashes",
            Format::EventBatch,
            web::post().to(ingest::crash_report),
        ))
        .service(
            web::resource("/installation/{installation_id}")
                .wrap(actix_web::middleware::from_fn(deadline))
                .route(web::get().to(installation::export))
                .route(web::delete().to(installation::delete))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::scope("/stats")
                .wrap(actix_web::middleware::from_fn(deadline))
                .wrap(actix_web::middleware::from_fn(cors))
                .service(resource("/summary", web::get().to(stats::summary)))
                .service(resource("/overview", web::get().to(stats::overview)))
                .service(resource("/export", web::get().to(stats::export)))
                .service(resource(
                    "/installations",
                    web::get().to(stats::installations),
                ))
                .service(resource(
                    "/deployment-modes",
                    web::get().to(stats::deployment_modes),
                ))
                .service(resource("/versions", web::get().to(stats::versions)))
                .service(resource("/geography", web::get().to(stats::geography)))
                .service(resource("/printers", web::get().to(stats::printers)))
                .service(resource("/features", web::get().to(stats::features)))
                .service(resource(
                    "/version-migration",
                    web::get().to(stats::version_migration),
                ))
                .service(resource(
                    "/feature-trends",
                    web::get().to(stats::feature_trends),
                ))
                .service(resource("/errors", web::get().to(stats::errors)))
                .service(resource("/anomalies", web::get().to(stats::anomalies)))
                .default_service(web::to(not_found)),
        )
        .service(
            web::scope("/reports")
                .service(resource(
                    "/email-status",
                    web::get().to(reports::email_status),
                ))
                .service(resource("/test-email", web::post().to(reports::test_email)))
                .service(resource("/weekly", web::post().to(reports::weekly)))
                .service(resource("/monthly", web::post().to(reports::monthly)))
                .default_service(web::to(not_found)),
        )
        .service(
            web::scope("/api/v1")
                .wrap(actix_web::middleware::from_fn(deadline))
                .wrap(actix_web::middleware::from_fn(cors))
                .service(resource("/metrics/{metric}", web::get().to(api::metric)))
                .service(resource(
                    "/dimensions/{dimension}",
                    web::get().to(api::dimension_series),
                ))
                .service(resource("/measures/{path}", web::get().to(api::measure)))
                .service(resource("/events", web::get().to(api::events)))
                .service(resource("/outcomes", web::get().to(api::outcomes)))
                .service(resource("/products", web::get().to(products::products)))
                .service(resource(
                    "/public/overview",
                    web::get().to(public::public_overview),
                ))
                .service(resource("/public/catalog", web::get().to(privacy::catalog)))
                .default_service(web::to(not_found)),
        )
        .configure(capture_routes)
        .configure(dashboard::configure)
        .default_service(web::to(not_found));
}

/// PostHog's clients post to any of its event paths, with or without the trailing slash.
fn capture_routes(cfg: &mut web::ServiceConfig) {
    for (path, route) in capture::EVENT_ROUTES {
        for path in [path.to_owned(), format!("{path}/")] {
            cfg.service(ingest_route(&path, Format::PosthogCapture, route()));
        }
    }
    capture::configure(cfg);
}

/// A catalog product's ingest route: it reads `format` within the format's body limit, and
/// counts its outcomes. PostHog's capture answers any origin, as PostHog's own does.
fn ingest_route(
    path: &str,
    format: Format,
    route: actix_web::Route,
) -> impl actix_web::dev::HttpServiceFactory {
    let any_origin = format == Format::PosthogCapture;
    resource(path, route)
        .app_data(web::Data::new(RouteFormat(format)))
        .app_data(web::Data::new(BodyLimit::of(format)))
        .wrap(actix_web::middleware::from_fn(ingest::count_outcome))
        .wrap(actix_web::middleware::Condition::new(
            any_origin,
            actix_web::middleware::from_fn(cors::capture_cors),
        ))
}

/// Printernizer's routes take its ingest keys only.
fn printernizer() -> web::Data<RouteProduct> {
    web::Data::new(RouteProduct(PRINTERNIZER))
}

/// A resource with one route that answers other methods with our JSON 405.
fn resource(path: &str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(method_not_allowed))
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("Not found"))
}

async fn method_not_allowed() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}
