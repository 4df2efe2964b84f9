//! `/api/v1` for Printernizer: its own daily tables (`daily_totals`, `daily_reports`,
//! `daily_dimensions`), answered as before products were added.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::{days, last_updated, range, window, Target};
use crate::domain::PRINTERNIZER;
use crate::error::ApiError;
use crate::rollup::engine::dimension;
use crate::routes::stats::{date, Query};
use crate::store::{Daily, ReadPool, TotalsRow};

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

pub(super) async fn metric(
    pool: &ReadPool,
    query: &Query,
    name: String,
) -> Result<Value, ApiError> {
    let is_window = WINDOW_METRICS.contains(&name.as_str());
    if !is_window && !DAY_METRICS.contains(&name.as_str()) {
        return Err(ApiError::NotFound("Unknown metric"));
    }
    let window = window(query)?;
    let daily = Daily::connect(pool).await?;
    let (from, to) = range(query, &daily, Target::Printernizer).await?;
    let mut values: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    if is_window {
        for row in daily.totals(PRINTERNIZER, window, from, to).await? {
            values.insert(row.day, total(&row, &name));
        }
    } else {
        for row in daily.reports(PRINTERNIZER, from, to).await? {
            let value = match name.as_str() {
                "reports" => row.reports,
                "new_installations" => row.new_installations,
                _ => row.known_installations,
            };
            values.insert(row.day, value);
        }
    }
    let points: Vec<Value> = days(from, to)
        .map(|d| json!({"date": date(d), "value": values.get(&d).copied().unwrap_or(0)}))
        .collect();
    Ok(json!({
        "metric": name,
        "window_days": if is_window { json!(window) } else { Value::Null },
        "from": date(from),
        "to": date(to),
        "points": points,
        "last_updated": last_updated(daily.rolled_at(PRINTERNIZER).await?),
    }))
}

pub(super) async fn dimension(
    pool: &ReadPool,
    query: &Query,
    path: &str,
) -> Result<Value, ApiError> {
    let Some(name) = dimension::ALL.iter().find(|d| **d == path).copied() else {
        return Err(ApiError::NotFound("Unknown dimension"));
    };
    let window = window(query)?;
    let daily = Daily::connect(pool).await?;
    let (from, to) = range(query, &daily, Target::Printernizer).await?;
    let cells = daily
        .cells(PRINTERNIZER, window, Some(name), from, to)
        .await?;
    let points: Vec<Value> = days(from, to)
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
    Ok(json!({
        "dimension": name,
        "window_days": window,
        "from": date(from),
        "to": date(to),
        "points": points,
        "last_updated": last_updated(daily.rolled_at(PRINTERNIZER).await?),
    }))
}
