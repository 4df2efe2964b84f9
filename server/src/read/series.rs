//! Series of days for any declared product: metrics, dimensions, measures, events and ingest
//! outcomes, what `/api/v1/*` serialises. What a name means follows the product's cadence
//! (`Source`), read by key (`keys`).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::points::{days, EventsOnDay, OutcomesOnDay};
pub use super::points::{
    DimensionSeries, EventCounts, Figure, MeasureSeries, MeasureTotal, MetricSeries, OutcomeCounts,
};
use super::{keys, ReadError, Source};
use crate::store::{Daily, StoreError};

/// `name` of the product, one point per day of `[from, to]`; `window` for the metrics of a
/// window.
pub async fn metric(
    daily: &Daily,
    source: Source,
    name: String,
    window: i16,
    range: (NaiveDate, NaiveDate),
) -> Result<MetricSeries, ReadError> {
    let (window_days, points) = keys::metric(daily, source, &name, window, range).await?;
    Ok(MetricSeries {
        metric: name,
        window_days,
        from: range.0,
        to: range.1,
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
    range: (NaiveDate, NaiveDate),
) -> Result<DimensionSeries, ReadError> {
    let (window_days, points) = keys::dimension(daily, source, path, window, range).await?;
    Ok(DimensionSeries {
        dimension: path.to_owned(),
        window_days,
        from: range.0,
        to: range.1,
        points,
        last_updated: daily.rolled_at(source.name()).await?,
    })
}

/// The measure at `path`, per day of `[from, to]`.
pub async fn measure(
    daily: &Daily,
    source: Source,
    path: &str,
    range: (NaiveDate, NaiveDate),
) -> Result<MeasureSeries, ReadError> {
    Ok(MeasureSeries {
        measure: path.to_owned(),
        from: range.0,
        to: range.1,
        points: keys::measure(daily, source, path, range).await?,
        last_updated: daily.rolled_at(source.name()).await?,
    })
}

/// The measure at `path` over the whole of `[from, to]` (a digest's period).
pub async fn measure_over(
    daily: &Daily,
    source: Source,
    path: &str,
    range: (NaiveDate, NaiveDate),
) -> Result<MeasureTotal, ReadError> {
    keys::measure_over(daily, source, path, range).await
}

/// The declared rate `name` over the whole of `[from, to]` (a digest's period): a ratio of the
/// range's sums, or a rate of installations for the `window` days ending `to`. None where its
/// denominator is 0.
pub async fn rate_over(
    daily: &Daily,
    source: Source,
    name: &str,
    window: i16,
    range: (NaiveDate, NaiveDate),
) -> Result<Option<f64>, ReadError> {
    keys::rate_over(daily, source, name, window, range).await
}

/// Events per type, every day of `[from, to]`.
pub async fn events(
    daily: &Daily,
    source: Source,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<EventCounts, StoreError> {
    let mut by_day = keys::events(daily, source, (from, to)).await?;
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
