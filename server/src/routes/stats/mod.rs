//! Maintainers' statistics (admin key), Printernizer's compatibility view over the read
//! model: `/stats/summary` live from the raw reports, every other route a figure of `read`
//! (see `read::snapshot` for what "now" and "active" mean), in the dashboard's shapes.
//!
//! Each handler: authenticate, read the bounded parameters, load the model, serialise it.

mod dashboard;
mod params;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::Utc;
use deadpool_postgres::Pool;
use futures_util::future::LocalBoxFuture;
use serde::Serialize;

use crate::auth::AdminKey;
use crate::error::{ApiError, InvalidBody};
use crate::read::{self, Anomalies, Series, Snapshot};
use crate::read::{figures, trends};
use crate::routes::openapi::bodies;
use crate::store::dimension::{FEATURE, VERSION};
use crate::store::{self, Daily, ReadPool, StoreError};

/// `ingest` stamps its answers with it too.
pub(crate) use crate::read::rfc3339;
use dashboard::{Dashboard, Stamp};
pub use params::Query;

/// What the statistics routes need to know besides the database.
#[derive(Debug, Clone, Copy)]
pub struct StatsSettings {
    pub product: &'static str,
    /// Smallest cell shown on public outputs (`TALLY_MIN_COHORT`).
    pub min_cohort: i64,
}

fn ok(body: impl Serialize) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(body))
}

/// Live and exact totals over the raw reports.
#[derive(Serialize)]
struct Summary {
    total_submissions: i64,
    unique_installations: i64,
    latest_submission_at: Option<String>,
    timestamp: String,
}

#[utoipa::path(
    get,
    path = "/stats/summary",
    tag = "stats",
    operation_id = "stats_summary",
    summary = "Live and exact totals over the raw reports",
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = bodies::StatsSummary),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_summary", skip_all)]
pub async fn summary(
    _: AdminKey,
    pool: web::Data<Pool>,
    settings: web::Data<StatsSettings>,
) -> Result<HttpResponse, ApiError> {
    let summary = store::summary(&pool, settings.product).await?;
    ok(Summary {
        total_submissions: summary.total_submissions,
        unique_installations: summary.unique_installations,
        latest_submission_at: summary.latest_submission_at.map(rfc3339),
        timestamp: rfc3339(Utc::now()),
    })
}

/// Today's snapshot and the installations trend of `days` days.
async fn load(
    pool: &ReadPool,
    settings: &StatsSettings,
    trend_days: u32,
) -> Result<(Snapshot, Series), ApiError> {
    let daily = Daily::connect(pool).await?;
    let today = Utc::now().date_naive();
    Ok(tokio::try_join!(
        Snapshot::load(&daily, settings.product, today),
        Series::load(&daily, settings.product, today, trend_days, None),
    )?)
}

#[utoipa::path(
    get,
    path = "/stats/overview",
    tag = "stats",
    operation_id = "stats_overview",
    summary = "Everything the dashboard shows",
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = bodies::StatsOverview),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_overview", skip_all)]
pub async fn overview(
    _: AdminKey,
    pool: web::Data<ReadPool>,
    settings: web::Data<StatsSettings>,
) -> Result<HttpResponse, ApiError> {
    let (snapshot, trend) = load(&pool, &settings, 30).await?;
    let stamp = Stamp::LastUpdated(snapshot.rolled_at.map(rfc3339));
    ok(Dashboard::of(&snapshot, &trend, (10, 20), stamp))
}

#[utoipa::path(
    get,
    path = "/stats/export",
    tag = "stats",
    operation_id = "stats_export",
    summary = "The overview with longer lists, for export",
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = bodies::StatsExport),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_export", skip_all)]
pub async fn export(
    _: AdminKey,
    pool: web::Data<ReadPool>,
    settings: web::Data<StatsSettings>,
) -> Result<HttpResponse, ApiError> {
    let (snapshot, trend) = load(&pool, &settings, 30).await?;
    let stamp = Stamp::ExportedAt(rfc3339(Utc::now()));
    ok(Dashboard::of(&snapshot, &trend, (20, 50), stamp))
}

#[utoipa::path(
    get,
    path = "/stats/installations",
    tag = "stats",
    operation_id = "stats_installations",
    summary = "Installations known and active, with a daily trend",
    params(("days" = Option<u32>, Query, minimum = 1, maximum = 365, description = "Days of trend, 30 by default")),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = figures::Installations),
        (status = 422, description = "A query parameter out of range", body = InvalidBody),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_installations", skip_all)]
pub async fn installations(
    _: AdminKey,
    query: Query,
    pool: web::Data<ReadPool>,
    settings: web::Data<StatsSettings>,
) -> Result<HttpResponse, ApiError> {
    let days = params::days(&query)?;
    let (snapshot, trend) = load(&pool, &settings, days).await?;
    ok(figures::installations(&snapshot, &trend))
}

/// Today's snapshot, loaded as an extractor: after `AdminKey` in a handler's arguments, so an
/// unauthenticated request never reaches the database.
pub struct Today(Snapshot);

impl FromRequest for Today {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pool = req.app_data::<web::Data<ReadPool>>().cloned();
        let settings = req.app_data::<web::Data<StatsSettings>>().cloned();
        Box::pin(async move {
            let (Some(pool), Some(settings)) = (pool, settings) else {
                return Err(ApiError::Internal(
                    "statistics are not configured in the app".into(),
                ));
            };
            let daily = Daily::connect(&pool).await?;
            let today = Utc::now().date_naive();
            Ok(Today(
                Snapshot::load(&daily, settings.product, today).await?,
            ))
        })
    }
}

#[utoipa::path(
    get,
    path = "/stats/deployment-modes",
    tag = "stats",
    operation_id = "stats_deployment_modes",
    summary = "Active installations by deployment mode",
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = figures::DeploymentModes),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_deployment_modes", skip_all)]
pub async fn deployment_modes(_: AdminKey, today: Today) -> Result<HttpResponse, ApiError> {
    ok(figures::deployment_modes(&today.0))
}

#[utoipa::path(
    get,
    path = "/stats/versions",
    tag = "stats",
    operation_id = "stats_versions",
    summary = "Active installations by version",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Most entries listed, 10 by default")),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = figures::Versions),
        (status = 422, description = "A query parameter out of range", body = InvalidBody),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_versions", skip_all)]
pub async fn versions(_: AdminKey, query: Query, today: Today) -> Result<HttpResponse, ApiError> {
    let limit = params::limit(&query, 10)?;
    ok(figures::versions(&today.0, limit))
}

#[utoipa::path(
    get,
    path = "/stats/geography",
    tag = "stats",
    operation_id = "stats_geography",
    summary = "Active installations by country",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Most entries listed, 20 by default")),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = figures::Geography),
        (status = 422, description = "A query parameter out of range", body = InvalidBody),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_geography", skip_all)]
pub async fn geography(_: AdminKey, query: Query, today: Today) -> Result<HttpResponse, ApiError> {
    let limit = params::limit(&query, 20)?;
    ok(figures::geography(&today.0, limit))
}

#[utoipa::path(
    get,
    path = "/stats/printers",
    tag = "stats",
    operation_id = "stats_printers",
    summary = "Printers of the active installations",
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = figures::Printers),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_printers", skip_all)]
pub async fn printers(_: AdminKey, today: Today) -> Result<HttpResponse, ApiError> {
    ok(figures::printers(&today.0))
}

#[utoipa::path(
    get,
    path = "/stats/features",
    tag = "stats",
    operation_id = "stats_features",
    summary = "Feature flags of the active installations",
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = figures::Features),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_features", skip_all)]
pub async fn features(_: AdminKey, today: Today) -> Result<HttpResponse, ApiError> {
    ok(figures::features(&today.0))
}

#[utoipa::path(
    get,
    path = "/stats/errors",
    tag = "stats",
    operation_id = "stats_errors",
    summary = "Errors of the active installations, week over week",
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = figures::Errors),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_errors", skip_all)]
pub async fn errors(_: AdminKey, today: Today) -> Result<HttpResponse, ApiError> {
    ok(figures::errors(&today.0))
}

#[utoipa::path(
    get,
    path = "/stats/anomalies",
    tag = "stats",
    operation_id = "stats_anomalies",
    summary = "Anomaly checks",
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = Anomalies),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_anomalies", skip_all)]
pub async fn anomalies(_: AdminKey, today: Today) -> Result<HttpResponse, ApiError> {
    ok(read::anomalies(&today.0, Utc::now()))
}

async fn series(
    pool: &ReadPool,
    settings: &StatsSettings,
    days: u32,
    of: &str,
) -> Result<Series, ApiError> {
    let daily = Daily::connect(pool).await?;
    let today = Utc::now().date_naive();
    Ok(Series::load(&daily, settings.product, today, days, Some(of)).await?)
}

#[utoipa::path(
    get,
    path = "/stats/version-migration",
    tag = "stats",
    operation_id = "stats_version_migration",
    summary = "Active installations per version, per day",
    params(("days" = Option<u32>, Query, minimum = 1, maximum = 365, description = "Days of trend, 30 by default")),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = trends::VersionMigration),
        (status = 422, description = "A query parameter out of range", body = InvalidBody),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_version_migration", skip_all)]
pub async fn version_migration(
    _: AdminKey,
    query: Query,
    pool: web::Data<ReadPool>,
    settings: web::Data<StatsSettings>,
) -> Result<HttpResponse, ApiError> {
    let days = params::days(&query)?;
    ok(trends::version_migration(
        &series(&pool, &settings, days, VERSION).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/stats/feature-trends",
    tag = "stats",
    operation_id = "stats_feature_trends",
    summary = "Installations with each feature enabled, per day",
    params(("days" = Option<u32>, Query, minimum = 1, maximum = 365, description = "Days of trend, 30 by default")),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = trends::FeatureTrends),
        (status = 422, description = "A query parameter out of range", body = InvalidBody),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "stats_feature_trends", skip_all)]
pub async fn feature_trends(
    _: AdminKey,
    query: Query,
    pool: web::Data<ReadPool>,
    settings: web::Data<StatsSettings>,
) -> Result<HttpResponse, ApiError> {
    let days = params::days(&query)?;
    ok(trends::feature_trends(
        &series(&pool, &settings, days, FEATURE).await?,
    ))
}
