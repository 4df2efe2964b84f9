//! `/api/v1`: what Printernizer's shapes cannot say. Time series of any metric or dimension of
//! the daily tables over a date range and ingest outcomes per day (admin key). The public
//! overview (no key) is in `public`.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::{Duration, NaiveDate, Utc};
use serde_json::{json, Map, Value};

use crate::auth::AdminKey;
use crate::domain::FieldError;
use crate::error::{ApiError, ErrorBody, InvalidBody};
use crate::rollup::engine::dimension;
use crate::routes::openapi::bodies;
use crate::routes::stats::{date, rfc3339, Query, StatsSettings};
use crate::store::{Daily, ReadPool, StoreError, TotalsRow};

/// The longest range one request may ask for.
const MAX_RANGE_DAYS: i64 = 366;
/// The metrics of `daily_totals` (per window) and of `daily_reports` (per day).
const WINDOW_METRICS: [&str; 8] = [
    "active_installations",
    "printers",
    "jobs",
    "files",
    "uploads",
    "uptime_hours",
    "errors",
    "installations_with_errors",
];
const DAY_METRICS: [&str; 3] = ["reports", "new_installations", "known_installations"];
fn invalid(name: &str, msg: &str) -> ApiError {
    ApiError::Invalid(vec![FieldError::query(name, msg, "value_error")])
}

/// `from`/`to` (YYYY-MM-DD, inclusive): by default the 30 days ending the latest rolled day.
async fn range(
    query: &Query,
    daily: &Daily,
    product: &str,
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
        None => daily.latest_day(product, today).await?.unwrap_or(today),
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

fn window(query: &Query) -> Result<i16, ApiError> {
    match query.get("window").map(|w| w.trim()) {
        None | Some("7") => Ok(7),
        Some("30") => Ok(30),
        Some(_) => Err(invalid("window", "must be 7 or 30")),
    }
}

fn total(row: &TotalsRow, metric: &str) -> i64 {
    match metric {
        "active_installations" => row.installations,
        "printers" => row.printers,
        "jobs" => row.jobs,
        "files" => row.files,
        "uploads" => row.uploads,
        "uptime_hours" => row.uptime_hours,
        "errors" => row.errors,
        _ => row.installations_with_errors,
    }
}

pub(super) fn last_updated(at: Option<chrono::DateTime<Utc>>) -> Value {
    json!(at.map(rfc3339))
}

/// `GET /api/v1/metrics/{metric}?window=7|30&from=&to=`: one number per day.
#[utoipa::path(
    get,
    path = "/api/v1/metrics/{metric}",
    tag = "api",
    operation_id = "api_metric",
    summary = "One metric of the daily tables, one number per day",
    params(("metric" = String, Path, description = "`active_installations`, `printers`, `jobs`, `files`, `uploads`, `uptime_hours`, `errors`, `installations_with_errors` (per window); `reports`, `new_installations`, `known_installations` (per day)"), ("window" = Option<u16>, Query, description = "7 (default) or 30: the window of the daily tables"), ("from" = Option<chrono::NaiveDate>, Query, description = "First day (YYYY-MM-DD); by default 29 days before `to`"), ("to" = Option<chrono::NaiveDate>, Query, description = "Last day (YYYY-MM-DD); by default the latest rolled day. At most 366 days after `from`")),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = bodies::MetricSeries),
        (status = 404, description = "Unknown metric", body = ErrorBody),
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
    settings: web::Data<StatsSettings>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let is_window = WINDOW_METRICS.contains(&name.as_str());
    if !is_window && !DAY_METRICS.contains(&name.as_str()) {
        return Err(ApiError::NotFound("Unknown metric"));
    }
    let window = window(&query)?;
    let daily = Daily::connect(&pool).await?;
    let (from, to) = range(&query, &daily, settings.product).await?;
    let mut values: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    if is_window {
        for row in daily.totals(settings.product, window, from, to).await? {
            values.insert(row.day, total(&row, &name));
        }
    } else {
        for row in daily.reports(settings.product, from, to).await? {
            let value = match name.as_str() {
                "reports" => row.reports,
                "new_installations" => row.new_installations,
                _ => row.known_installations,
            };
            values.insert(row.day, value);
        }
    }
    let points: Vec<Value> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| json!({"date": date(d), "value": values.get(&d).copied().unwrap_or(0)}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "metric": name,
        "window_days": if is_window { json!(window) } else { Value::Null },
        "from": date(from),
        "to": date(to),
        "points": points,
        "last_updated": last_updated(daily.rolled_at(settings.product).await?),
    })))
}

/// `GET /api/v1/dimensions/{dimension}?window=7|30&from=&to=`: per day, each value's
/// installations and amount.
#[utoipa::path(
    get,
    path = "/api/v1/dimensions/{dimension}",
    tag = "api",
    operation_id = "api_dimension",
    summary = "One dimension of the daily tables, per day and value",
    params(("dimension" = String, Path, description = "`version`, `platform`, `deployment_mode`, `country`, `printer_type`, `feature`, `error_type`"), ("window" = Option<u16>, Query, description = "7 (default) or 30: the window of the daily tables"), ("from" = Option<chrono::NaiveDate>, Query, description = "First day (YYYY-MM-DD); by default 29 days before `to`"), ("to" = Option<chrono::NaiveDate>, Query, description = "Last day (YYYY-MM-DD); by default the latest rolled day. At most 366 days after `from`")),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = bodies::DimensionSeries),
        (status = 404, description = "Unknown dimension", body = ErrorBody),
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
    settings: web::Data<StatsSettings>,
) -> Result<HttpResponse, ApiError> {
    let Some(name) = dimension::ALL
        .iter()
        .find(|d| **d == path.as_str())
        .copied()
    else {
        return Err(ApiError::NotFound("Unknown dimension"));
    };
    let window = window(&query)?;
    let daily = Daily::connect(&pool).await?;
    let (from, to) = range(&query, &daily, settings.product).await?;
    let cells = daily
        .cells(settings.product, window, Some(name), from, to)
        .await?;
    let points: Vec<Value> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|day| {
            let values: Map<String, Value> = cells
                .iter()
                .filter(|c| c.day == day)
                .map(|c| {
                    (
                        c.value.clone(),
                        json!({"installations": c.installations, "amount": c.amount}),
                    )
                })
                .collect();
            json!({"date": date(day), "values": values})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "dimension": name,
        "window_days": window,
        "from": date(from),
        "to": date(to),
        "points": points,
        "last_updated": last_updated(daily.rolled_at(settings.product).await?),
    })))
}

/// `GET /api/v1/outcomes?from=&to=`: what became of the requests to `/submit`, per day received.
#[utoipa::path(
    get,
    path = "/api/v1/outcomes",
    tag = "api",
    operation_id = "api_outcomes",
    summary = "What became of the requests to `/submit`, per day received",
    params(("from" = Option<chrono::NaiveDate>, Query, description = "First day (YYYY-MM-DD); by default 29 days before `to`"), ("to" = Option<chrono::NaiveDate>, Query, description = "Last day (YYYY-MM-DD); by default the latest rolled day. At most 366 days after `from`")),
    security(("admin_key" = []), ("admin_bearer" = [])),
    responses(
        (status = 200, description = "OK", body = bodies::OutcomeCounts),
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
    settings: web::Data<StatsSettings>,
) -> Result<HttpResponse, ApiError> {
    let daily = Daily::connect(&pool).await?;
    let (from, to) = range(&query, &daily, settings.product).await?;
    let counts = daily.outcomes(settings.product, from, to).await?;
    let mut days: BTreeMap<NaiveDate, Map<String, Value>> = BTreeMap::new();
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    for count in &counts {
        days.entry(count.day)
            .or_default()
            .insert(count.outcome.clone(), json!(count.count));
        *totals.entry(count.outcome.as_str()).or_default() += count.count;
    }
    let days: Vec<Value> = days
        .into_iter()
        .map(|(day, outcomes)| json!({"date": date(day), "outcomes": outcomes}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "from": date(from),
        "to": date(to),
        "days": days,
        "totals": totals,
    })))
}
