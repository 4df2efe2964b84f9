//! The shapes of a series of days, whatever tables it is read from: what `/api/v1/*`
//! serialises (and documents).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::timestamp_opt;

/// Every day of `[from, to]`.
pub fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |day| *day <= to)
}

/// Every day of `[from, to]` with the cells of that day: `(day, value, cell)`.
pub(super) fn dimension_points(
    (from, to): (NaiveDate, NaiveDate),
    cells: impl IntoIterator<Item = (NaiveDate, String, DimensionCell)>,
) -> Vec<DimensionPoint> {
    let mut by_day: BTreeMap<NaiveDate, BTreeMap<String, DimensionCell>> = BTreeMap::new();
    for (day, value, cell) in cells {
        by_day.entry(day).or_default().insert(value, cell);
    }
    days(from, to)
        .map(|date| DimensionPoint {
            date,
            values: by_day.remove(&date).unwrap_or_default(),
        })
        .collect()
}

/// One number per day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricSeries {
    pub metric: String,
    /// 1, 7 or 30 for the metrics of a window; null for the per-day metrics.
    #[schema(required = true)]
    pub window_days: Option<i16>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every day of the range, 0 where nothing was rolled.
    pub points: Vec<MetricPoint>,
    #[schema(required = true)]
    #[serde(serialize_with = "timestamp_opt")]
    pub last_updated: Option<DateTime<Utc>>,
}

/// `value`: an integer for counts; for a product's rate, a number from 0 to 1, null where its
/// denominator is 0.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricPoint {
    pub date: NaiveDate,
    #[schema(required = true, value_type = Option<f64>)]
    pub value: Figure,
}

/// A metric's value on one day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Figure {
    Count(i64),
    /// A ratio; none where its denominator is 0.
    Rate(Option<f64>),
}

/// A measure per day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeasureSeries {
    pub measure: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every day of the range.
    pub points: Vec<MeasurePoint>,
    #[schema(required = true)]
    #[serde(serialize_with = "timestamp_opt")]
    pub last_updated: Option<DateTime<Utc>>,
}

/// `mean`, `p50`, `p90`: null on a day without values. Quantiles are bucket upper bounds (the
/// open top bucket reports the last bound); null for a measure without buckets.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeasurePoint {
    pub date: NaiveDate,
    pub count: i64,
    pub sum: f64,
    #[schema(required = true)]
    pub mean: Option<f64>,
    #[schema(required = true)]
    pub p50: Option<f64>,
    #[schema(required = true)]
    pub p90: Option<f64>,
}

impl MeasurePoint {
    pub(super) fn on(date: NaiveDate, total: MeasureTotal) -> Self {
        let MeasureTotal {
            count,
            sum,
            mean,
            p50,
            p90,
        } = total;
        Self {
            date,
            count,
            sum,
            mean,
            p50,
            p90,
        }
    }
}

/// A measure over some days: one day of a series, or a whole range (a digest's period, whose
/// quantiles come from the range's buckets added up, not from its days' quantiles).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeasureTotal {
    pub count: i64,
    pub sum: f64,
    /// None without values.
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
}

impl MeasureTotal {
    pub(super) fn new(count: i64, sum: f64, p50: Option<f64>, p90: Option<f64>) -> Self {
        Self {
            count,
            sum,
            mean: (count > 0).then(|| sum / count as f64),
            p50,
            p90,
        }
    }
}

/// Events per day and type.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventCounts {
    #[schema(example = "stories")]
    pub product: &'static str,
    /// Every day of the range.
    pub days: Vec<EventsOnDay>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventsOnDay {
    pub date: NaiveDate,
    #[schema(example = json!({"app_opened": {"count": 31, "installations": 12}}))]
    pub events: BTreeMap<String, EventCount>,
}

/// Events of one type on one day, and the installations that sent them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventCount {
    pub count: i64,
    pub installations: i64,
}

/// Per day, each value's installations and amount.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DimensionSeries {
    pub dimension: String,
    /// Printernizer: 1, 7 or 30; other products: 1 (per day).
    pub window_days: i16,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub points: Vec<DimensionPoint>,
    #[schema(required = true)]
    #[serde(serialize_with = "timestamp_opt")]
    pub last_updated: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DimensionPoint {
    pub date: NaiveDate,
    pub values: BTreeMap<String, DimensionCell>,
}

/// `amount` is the dimension's own measure (README, "The daily tables").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DimensionCell {
    pub installations: i64,
    pub amount: i64,
}

/// What became of a product's ingest requests, per day received.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomeCounts {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Only the days with counts.
    pub days: Vec<OutcomesOnDay>,
    #[schema(example = json!({"accepted": 120, "duplicate": 3, "rate_limited": 1}))]
    pub totals: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomesOnDay {
    pub date: NaiveDate,
    pub outcomes: BTreeMap<String, i64>,
}
