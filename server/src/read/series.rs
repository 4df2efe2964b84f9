//! Series of days for any declared product: metrics, dimensions, measures, events and ingest
//! outcomes, what `/api/v1/*` serialises. A product's figures live in the tables its rollup
//! fills (`Source`); what a name means for each is in `reports` and `activity`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{activity, reports, timestamp_opt, ReadError};
use crate::domain::{Format, Product};
use crate::store::{Daily, StoreError};

/// Where a product's figures are read: the daily tables its rollup fills.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// Typed weekly reports (`daily_totals`, `daily_dimensions`, `daily_reports`).
    Reports(&'static Product),
    /// Numbers under keys, per installation and day (`activity_daily`, `activity_windows`).
    Activity(&'static Product),
}

impl Source {
    pub fn of(product: &'static Product) -> Self {
        match product.format() {
            Format::PrinternizerReport => Self::Reports(product),
            _ => Self::Activity(product),
        }
    }

    pub fn product(self) -> &'static Product {
        match self {
            Self::Reports(product) | Self::Activity(product) => product,
        }
    }

    pub fn name(self) -> &'static str {
        self.product().name()
    }
}

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

/// `name` of the product, one point per day of `[from, to]`; `window` for the metrics of a
/// window.
pub async fn metric(
    daily: &Daily,
    source: Source,
    name: String,
    window: i16,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<MetricSeries, ReadError> {
    let (window_days, points) = match source {
        Source::Reports(product) => {
            reports::metric(daily, product.name(), &name, window, from, to).await?
        }
        Source::Activity(product) => {
            activity::metric(daily, product, &name, window, from, to).await?
        }
    };
    Ok(MetricSeries {
        metric: name,
        window_days,
        from,
        to,
        points,
        last_updated: daily.rolled_at(source.name()).await?,
    })
}

/// The cells of the dimension at `path`, per day of `[from, to]`.
pub async fn dimension(
    daily: &Daily,
    source: Source,
    path: &str,
    window: i16,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<DimensionSeries, ReadError> {
    let (window_days, points) = match source {
        Source::Reports(product) => {
            let points = reports::dimension(daily, product.name(), path, window, from, to).await?;
            (window, points)
        }
        Source::Activity(product) => (
            1,
            activity::dimension(daily, product, path, from, to).await?,
        ),
    };
    Ok(DimensionSeries {
        dimension: path.to_owned(),
        window_days,
        from,
        to,
        points,
        last_updated: daily.rolled_at(source.name()).await?,
    })
}

/// The measure at `path`, per day of `[from, to]`.
pub async fn measure(
    daily: &Daily,
    source: Source,
    path: &str,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<MeasureSeries, ReadError> {
    let points = match source {
        Source::Reports(product) => reports::measure(daily, product, path, from, to).await?,
        Source::Activity(product) => activity::measure(daily, product, path, from, to).await?,
    };
    Ok(MeasureSeries {
        measure: path.to_owned(),
        from,
        to,
        points,
        last_updated: daily.rolled_at(source.name()).await?,
    })
}

/// Events per type, every day of `[from, to]`. A report product sends reports, not events: its
/// days are empty (its counts are metrics, its counted maps dimensions).
pub async fn events(
    daily: &Daily,
    source: Source,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<EventCounts, StoreError> {
    let mut by_day = match source {
        Source::Reports(_) => BTreeMap::new(),
        Source::Activity(product) => activity::events(daily, product, from, to).await?,
    };
    let days = days(from, to)
        .map(|date| EventsOnDay {
            date,
            events: by_day.remove(&date).unwrap_or_default(),
        })
        .collect();
    Ok(EventCounts {
        product: source.name(),
        days,
    })
}

/// What became of the product's ingest requests, per day received in `[from, to]`.
pub async fn outcomes(
    daily: &Daily,
    source: Source,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<OutcomeCounts, StoreError> {
    let mut days: BTreeMap<NaiveDate, BTreeMap<String, i64>> = BTreeMap::new();
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for count in daily.outcomes(source.name(), from, to).await? {
        *totals.entry(count.outcome.clone()).or_default() += count.count;
        days.entry(count.day)
            .or_default()
            .insert(count.outcome, count.count);
    }
    Ok(OutcomeCounts {
        from,
        to,
        days: days
            .into_iter()
            .map(|(date, outcomes)| OutcomesOnDay { date, outcomes })
            .collect(),
        totals,
    })
}
