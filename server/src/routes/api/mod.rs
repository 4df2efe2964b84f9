//! `/api/v1`: what Printernizer's shapes cannot say, for every declared product (`?product=`,
//! Printernizer by default): time series of metrics, dimensions and measures over a date range,
//! event counts, and ingest outcomes per day (admin key). The public overview (no key) is in
//! `public`. The figures are `read::series`; a handler reads the query, loads, serialises.

use actix_web::{web, HttpResponse};
use chrono::{Duration, NaiveDate, Utc};

use crate::auth::AdminKey;
use crate::domain::{Catalog, FieldError, Identifier, PRINTERNIZER};
use crate::error::{ApiError, ErrorBody, InvalidBody};
use crate::read::series::{
    self, DimensionSeries, EventCounts, MeasureSeries, MetricSeries, OutcomeCounts,
};
use crate::read::Source;
use crate::routes::stats::Query;
use crate::store::{Daily, ReadPool, StoreError};

/// The longest range one request may ask for.
const MAX_RANGE_DAYS: i64 = 366;

/// `?product=`, Printernizer when absent; an undeclared product is a 404 naming it.
pub(super) fn source(query: &Query, catalog: &'static Catalog) -> Result<Source, ApiError> {
    let name = query
        .get("product")
        .map_or(PRINTERNIZER, |name| name.trim());
    match catalog.product(name) {
        Some(product) => Ok(Source::of(product)),
        // Only a plain identifier is echoed back.
        None if Identifier::is_valid(name) => Err(ApiError::UnknownProduct(name.to_owned())),
        None => Err(ApiError::NotFound("No such product is declared")),
    }
}

fn invalid(name: &str, msg: &str) -> ApiError {
    ApiError::Invalid(vec![FieldError::query(name, msg, "value_error")])
}

/// `from`/`to` (YYYY-MM-DD, inclusive): by default the 30 days ending the latest rolled day.
async fn range(
    query: &Query,
    daily: &Daily,
    source: Source,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let day = |name: &str| -> Result<Option<NaiveDate>, ApiError> {
        query
            .get(name)
            .map(|text| {
                NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .map_err(|_| invalid(name, "must be a date YYYY-MM-DD"))
            })
            .transpose()
    };
    let (from, to) = (day("from")?, day("to")?);
    let today = Utc::now().date_naive();
    let to = match to {
        Some(to) => to,
        None => daily
            .latest_day(source.name(), today)
            .await?
            .unwrap_or(today),
    };
    let from = from.unwrap_or(to - Duration::days(29));
    if from > to || (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(invalid(
            "from",
            "must be on or before `to`, at most 366 days before it",
        ));
    }
    Ok((from, to))
}

/// `window`: 1, 7 (the default) or 30 days, for every product.
fn window(query: &Query) -> Result<i16, ApiError> {
    match query.get("window").map(|w| w.trim()) {
        None | Some("7") => Ok(7),
        Some("30") => Ok(30),
        Some("1") => Ok(1),
        Some(_) => Err(invalid("window", "must be 1, 7 or 30")),
    }
}

/// `GET /api/v1/metrics/{metric}?product=&window=&from=&to=`: one number per day.
#[utoipa::path(
    get,
    path = "/api/v1/metrics/{metric}",
    tag = "api",
    operation_id = "api_metric",
    summary = "One metric of the daily tables, one number per day",
    params(
        ("metric" = String, Path, description = "Printernizer: `active_installations`, `printers`, `jobs`, `files`, `uploads`, `uptime_hours`, `errors`, `installations_with_errors` (per window); `reports`, `new_installations`, `known_installations` (per day). Any product: `active_installations` (per window), `new_installations`, `known_installations`, each declared counter by its path (`counter` or `event.counter`: a report product's sum over each installation's latest report in the window, with `reports` per day; an event product's sum of the day), and an event product's declared rates by name (see `GET /api/v1/products`): a ratio per day, or 1 − installations with an event / active installations per window; a rate is null where its denominator is 0"),
        ("product" = Option<String>, Query, description = "A declared product; `printernizer` by default"),
        ("window" = Option<u16>, Query, description = "1, 7 (default) or 30: the window of the per-window metrics"),
        ("from" = Option<chrono::NaiveDate>, Query, description = "First day (YYYY-MM-DD); by default 29 days before `to`"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "Last day (YYYY-MM-DD); by default the latest rolled day. At most 366 days after `from`"),
    ),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = MetricSeries),
        (status = 404, description = "Unknown metric or product", body = ErrorBody),
        (status = 422, description = "A query parameter is invalid", body = InvalidBody),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "api_metric", skip_all)]
pub async fn metric(
    _: AdminKey,
    path: web::Path<String>,
    query: Query,
    pool: web::Data<ReadPool>,
    catalog: web::Data<&'static Catalog>,
) -> Result<HttpResponse, ApiError> {
    let source = source(&query, catalog.get_ref())?;
    let window = window(&query)?;
    let daily = Daily::connect(&pool).await?;
    let range = range(&query, &daily, source).await?;
    let body = series::metric(&daily, source, path.into_inner(), window, range).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/v1/dimensions/{dimension}?product=&window=&from=&to=`: per day, each value's
/// installations and amount.
#[utoipa::path(
    get,
    path = "/api/v1/dimensions/{dimension}",
    tag = "api",
    operation_id = "api_dimension",
    summary = "One dimension of the daily tables, per day and value",
    params(
        ("dimension" = String, Path, description = "Printernizer: `version`, `platform`, `deployment_mode`, `country`, `printer_type`, `feature`, `error_type`. Other products: the path of a declared dimension, flag or count map (`os`, `app_opened.language`). A dimension's values count events or reports with that value; a flag set's entries (a single flag's value is `true`) count the times it was on; a count map's entries their sums. `installations`: how many had the value that day"),
        ("product" = Option<String>, Query, description = "A declared product; `printernizer` by default"),
        ("window" = Option<u16>, Query, description = "1, 7 (default) or 30. A report product (Printernizer, IndexPilot): the window its cells are of, each installation by its latest report in it (1: the day's reports). An event product answers per day (`window_days` 1) whatever the window"),
        ("from" = Option<chrono::NaiveDate>, Query, description = "First day (YYYY-MM-DD); by default 29 days before `to`"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "Last day (YYYY-MM-DD); by default the latest rolled day. At most 366 days after `from`"),
    ),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = DimensionSeries),
        (status = 404, description = "Unknown dimension or product", body = ErrorBody),
        (status = 422, description = "A query parameter is invalid", body = InvalidBody),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "api_dimension", skip_all)]
pub async fn dimension_series(
    _: AdminKey,
    path: web::Path<String>,
    query: Query,
    pool: web::Data<ReadPool>,
    catalog: web::Data<&'static Catalog>,
) -> Result<HttpResponse, ApiError> {
    let source = source(&query, catalog.get_ref())?;
    let window = window(&query)?;
    let daily = Daily::connect(&pool).await?;
    let range = range(&query, &daily, source).await?;
    let body = series::dimension(&daily, source, &path, window, range).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/v1/measures/{path}?product=&from=&to=`: per day, a measure's count, sum, mean and
/// estimated quantiles.
#[utoipa::path(
    get,
    path = "/api/v1/measures/{path}",
    tag = "api",
    operation_id = "api_measure",
    summary = "One measure of a product, per day",
    description = "Per day: `count` and `sum` of the values received, `mean` (null without values), and `p50`/`p90` estimated from the declared buckets: the upper bound of the bucket in which the cumulative count reaches the quantile. Values above the last bound (the open top bucket) report the last bound, so a quantile there is a lower bound. Printernizer's measures are its declared counters (`printer_count`, `job_count`, `file_count`, `upload_count`, `uptime_hours`), one value per report: `count` is the installations whose latest report ended that day, `sum` their counter; its daily tables keep no buckets, so its quantiles are null.",
    params(
        ("path" = String, Path, description = "A declared measure's path (`transcription_completed.duration`); for Printernizer a declared counter (`job_count`)"),
        ("product" = Option<String>, Query, description = "A declared product; `printernizer` by default"),
        ("from" = Option<chrono::NaiveDate>, Query, description = "First day (YYYY-MM-DD); by default 29 days before `to`"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "Last day (YYYY-MM-DD); by default the latest rolled day. At most 366 days after `from`"),
    ),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = MeasureSeries),
        (status = 404, description = "Unknown measure or product", body = ErrorBody),
        (status = 422, description = "A query parameter is invalid", body = InvalidBody),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "api_measure", skip_all)]
pub async fn measure(
    _: AdminKey,
    path: web::Path<String>,
    query: Query,
    pool: web::Data<ReadPool>,
    catalog: web::Data<&'static Catalog>,
) -> Result<HttpResponse, ApiError> {
    let source = source(&query, catalog.get_ref())?;
    let daily = Daily::connect(&pool).await?;
    let range = range(&query, &daily, source).await?;
    let body = series::measure(&daily, source, &path, range).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/v1/events?product=&from=&to=`: per day and event type, events and installations.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "api",
    operation_id = "api_events",
    summary = "Events per day and type, with the installations that sent them",
    description = "Every day of the range; `events` holds the types seen that day. Printernizer sends weekly reports, not events: its days are empty (its counts are metrics, its counted maps dimensions).",
    params(
        ("product" = Option<String>, Query, description = "A declared product; `printernizer` by default"),
        ("from" = Option<chrono::NaiveDate>, Query, description = "First day (YYYY-MM-DD); by default 29 days before `to`"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "Last day (YYYY-MM-DD); by default the latest rolled day. At most 366 days after `from`"),
    ),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = EventCounts),
        (status = 404, description = "Unknown product", body = ErrorBody),
        (status = 422, description = "A query parameter is invalid", body = InvalidBody),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "api_events", skip_all)]
pub async fn events(
    _: AdminKey,
    query: Query,
    pool: web::Data<ReadPool>,
    catalog: web::Data<&'static Catalog>,
) -> Result<HttpResponse, ApiError> {
    let source = source(&query, catalog.get_ref())?;
    let daily = Daily::connect(&pool).await?;
    let range = range(&query, &daily, source).await?;
    let body = series::events(&daily, source, range).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/v1/outcomes?product=&from=&to=`: what became of a product's requests, per day
/// received.
#[utoipa::path(
    get,
    path = "/api/v1/outcomes",
    tag = "api",
    operation_id = "api_outcomes",
    summary = "What became of a product's ingest requests, per day received",
    params(
        ("product" = Option<String>, Query, description = "A declared product; `printernizer` (requests to `/submit`) by default"),
        ("from" = Option<chrono::NaiveDate>, Query, description = "First day (YYYY-MM-DD); by default 29 days before `to`"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "Last day (YYYY-MM-DD); by default the latest rolled day. At most 366 days after `from`"),
    ),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = OutcomeCounts),
        (status = 404, description = "Unknown product", body = ErrorBody),
        (status = 422, description = "A query parameter is invalid", body = InvalidBody),
        AdminKey,
        StoreError,
    )
)]
#[tracing::instrument(name = "api_outcomes", skip_all)]
pub async fn outcomes(
    _: AdminKey,
    query: Query,
    pool: web::Data<ReadPool>,
    catalog: web::Data<&'static Catalog>,
) -> Result<HttpResponse, ApiError> {
    let source = source(&query, catalog.get_ref())?;
    let daily = Daily::connect(&pool).await?;
    let range = range(&query, &daily, source).await?;
    let body = series::outcomes(&daily, source, range).await?;
    Ok(HttpResponse::Ok().json(body))
}
