//! The series of a report product (`Source::Reports`), from its daily tables: `daily_totals`
//! (per window), `daily_reports` (per day) and `daily_dimensions`.
//!
//! Its measures are its declared counters, one value per report: on a day, `count` is the
//! installations whose latest report ended that day (the 1-day window), `sum` their counter and
//! `mean` the one per report. The daily tables keep no histogram of them, so no quantiles.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::points::{
    days, dimension_points, DimensionCell, DimensionPoint, Figure, MeasurePoint, MetricPoint,
};
use super::ReadError;
use crate::domain::{Field, Product};
use crate::store::dimension;
use crate::store::{Daily, TotalsRow};

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

/// The metric of `daily_totals` that sums a declared counter.
fn counter_metric(counter: &str) -> Option<&'static str> {
    match counter {
        "printer_count" => Some("printers"),
        "job_count" => Some("jobs"),
        "file_count" => Some("files"),
        "upload_count" => Some("uploads"),
        "uptime_hours" => Some("uptime_hours"),
        _ => None,
    }
}

/// The window the metric is of (none for a per-day metric), and its points.
pub(super) async fn metric(
    daily: &Daily,
    product: &str,
    name: &str,
    window: i16,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(Option<i16>, Vec<MetricPoint>), ReadError> {
    let is_window = WINDOW_METRICS.contains(&name);
    if !is_window && !DAY_METRICS.contains(&name) {
        return Err(ReadError::Unknown("Unknown metric"));
    }
    let mut values: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    if is_window {
        for row in daily.totals(product, window, from, to).await? {
            values.insert(row.day, total(&row, name));
        }
    } else {
        for row in daily.reports(product, from, to).await? {
            let value = match name {
                "reports" => row.reports,
                "new_installations" => row.new_installations,
                _ => row.known_installations,
            };
            values.insert(row.day, value);
        }
    }
    let points = days(from, to)
        .map(|date| MetricPoint {
            date,
            value: Figure::Count(values.get(&date).copied().unwrap_or(0)),
        })
        .collect();
    Ok((is_window.then_some(window), points))
}

pub(super) async fn dimension(
    daily: &Daily,
    product: &str,
    path: &str,
    window: i16,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DimensionPoint>, ReadError> {
    let Some(name) = dimension::ALL.iter().find(|d| **d == path).copied() else {
        return Err(ReadError::Unknown("Unknown dimension"));
    };
    let cells = daily.cells(product, window, Some(name), from, to).await?;
    let cells = cells.into_iter().map(|c| {
        let cell = DimensionCell {
            installations: c.installations,
            amount: c.amount,
        };
        (c.day, c.value, cell)
    });
    Ok(dimension_points((from, to), cells))
}

pub(super) async fn measure(
    daily: &Daily,
    product: &Product,
    path: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<MeasurePoint>, ReadError> {
    let metric = match product.field(path) {
        Some(Field::Counter(_)) => counter_metric(path),
        _ => None,
    };
    let Some(metric) = metric else {
        return Err(ReadError::Unknown("Unknown measure"));
    };
    let rows = daily.totals(product.name(), 1, from, to).await?;
    Ok(days(from, to)
        .map(|date| {
            let (count, sum) = rows
                .iter()
                .find(|row| row.day == date)
                .map_or((0, 0), |row| (row.installations, total(row, metric)));
            MeasurePoint {
                date,
                count,
                sum: sum as f64,
                mean: (count > 0).then(|| sum as f64 / count as f64),
                p50: None,
                p90: None,
            }
        })
        .collect())
}
