//! Series of days for any declared product: metrics, dimensions, measures, events and ingest
//! outcomes, what `/api/v1/*` serialises. A product's figures live in the tables its rollup
//! fills (`Source`); what a name means for each is in `reports` and `activity`.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::points::{days, EventsOnDay, OutcomesOnDay};
pub use super::points::{
    DimensionSeries, EventCounts, Figure, MeasureSeries, MeasureTotal, MetricSeries, OutcomeCounts,
};
use super::{activity, reports, ReadError};
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

/// The measure at `path` over the whole of `[from, to]` (a digest's period). A report product's
/// measures have no buckets, so no quantiles.
pub async fn measure_over(
    daily: &Daily,
    source: Source,
    path: &str,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<MeasureTotal, ReadError> {
    match source {
        Source::Reports(product) => {
            let points = reports::measure(daily, product, path, from, to).await?;
            let count = points.iter().map(|point| point.count).sum();
            let sum = points.iter().map(|point| point.sum).sum();
            Ok(MeasureTotal::new(count, sum, None, None))
        }
        Source::Activity(product) => activity::measure_over(daily, product, path, from, to).await,
    }
}

/// The declared rate `name` over the whole of `[from, to]` (a digest's period): a ratio of the
/// range's sums, or a rate of installations for the `window` days ending `to`. None where its
/// denominator is 0. A report product declares no rates.
pub async fn rate_over(
    daily: &Daily,
    source: Source,
    name: &str,
    window: i16,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Option<f64>, ReadError> {
    match source {
        Source::Reports(_) => Err(ReadError::Unknown("Unknown metric")),
        Source::Activity(product) => {
            activity::rate_over(daily, product, name, window, from, to).await
        }
    }
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
