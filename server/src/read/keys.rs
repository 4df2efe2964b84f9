//! The series of any product, read by key from its daily tables (`activity_daily`,
//! `activity_windows`, `daily_reports`), a name meaning what the product's cadence says
//! (`Source`): a report product's figures of a window are its cells there, each installation
//! counted by its latest report, and its day's figures its 1-day window; an event product's
//! are its days' sums, its windows counting presence. The keys are spelled only by
//! `domain::activity::key`; a path is checked against the product's declaration (or its
//! format's older names, `aliases`) before any query.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::aliases::{self, Alias};
use super::points::{
    days, dimension_points, DimensionCell, DimensionPoint, EventCount, Figure, MeasurePoint,
    MeasureTotal, MetricPoint,
};
use super::{ReadError, Source};
use crate::domain::activity::key;
use crate::domain::{Field, Product, Rate};
use crate::store::{Cells, Daily, KeyAmount, Keys, StoreError};

/// What `/metrics/{name}` reads for a product.
enum Metric<'a> {
    Active,
    /// A report product's reports of the day.
    Reports,
    New,
    Known,
    /// The sum of a key's values: a declared counter's, or an older name's.
    Amount(String),
    /// The installations whose value of a key is above zero.
    Positive(String),
    Rate(&'a Rate),
}

impl<'a> Metric<'a> {
    fn of(source: Source, name: &str) -> Option<Self> {
        let product = source.product();
        match (name, source) {
            ("active_installations", _) => return Some(Self::Active),
            ("new_installations", _) => return Some(Self::New),
            ("known_installations", _) => return Some(Self::Known),
            ("reports", Source::Reports(_)) => return Some(Self::Reports),
            _ => {}
        }
        match aliases::metric(product.format(), name) {
            Some(Alias::Amount(key)) => return Some(Self::Amount(key)),
            Some(Alias::Positive(key)) => return Some(Self::Positive(key)),
            None => {}
        }
        match (product.rate(name), product.field_at(name)) {
            (Some(rate), _) => Some(Self::Rate(rate)),
            (None, Some(Field::Counter(_))) => Some(Self::Amount(key::counter(name))),
            _ => None,
        }
    }

    /// Whether the metric is of the window asked for (else of each day).
    fn per_window(&self, source: Source) -> bool {
        match self {
            Self::Active | Self::Rate(Rate::InstallationsWithout { .. }) => true,
            Self::Amount(_) | Self::Positive(_) => matches!(source, Source::Reports(_)),
            Self::Reports | Self::New | Self::Known | Self::Rate(Rate::Ratio { .. }) => false,
        }
    }
}

/// Where a product's figures of a key are, for a window of `window` days: a report product's
/// cells of that window; an event product's sums of each day, whatever the window.
fn cells(source: Source, window: i16) -> Cells {
    match source {
        Source::Reports(_) => Cells::Window(window),
        Source::Events(_) => Cells::DaySums,
    }
}

/// The window the metric is of (none for a per-day metric), and its points.
pub(super) async fn metric(
    daily: &Daily,
    source: Source,
    name: &str,
    window: i16,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<(Option<i16>, Vec<MetricPoint>), ReadError> {
    let Some(metric) = Metric::of(source, name) else {
        return Err(ReadError::Unknown("Unknown metric"));
    };
    let product_name = source.name();
    let values: BTreeMap<NaiveDate, Figure> = match &metric {
        Metric::Active => counts(
            daily
                .activity_windows(product_name, window, "", from, to)
                .await?,
        ),
        Metric::Reports | Metric::New | Metric::Known if matches!(source, Source::Reports(_)) => {
            daily
                .reports(product_name, from, to)
                .await?
                .into_iter()
                .map(|row| {
                    let value = match metric {
                        Metric::Reports => row.reports,
                        Metric::New => row.new_installations,
                        _ => row.known_installations,
                    };
                    (row.day, Figure::Count(value))
                })
                .collect()
        }
        Metric::Reports | Metric::New | Metric::Known => {
            let (before, first_days) = daily.activity_first_days(product_name, from, to).await?;
            let new: BTreeMap<NaiveDate, i64> = first_days.into_iter().collect();
            let mut known = before;
            days(from, to)
                .map(|day| {
                    let added = new.get(&day).copied().unwrap_or(0);
                    known += added;
                    let value = if matches!(metric, Metric::New) {
                        added
                    } else {
                        known
                    };
                    (day, Figure::Count(value))
                })
                .collect()
        }
        Metric::Amount(key) | Metric::Positive(key) => {
            let rows = daily
                .keys(
                    product_name,
                    cells(source, window),
                    Keys::Listed(std::slice::from_ref(key)),
                    (from, to),
                )
                .await?;
            rows.iter()
                .map(|row| {
                    let value = match metric {
                        Metric::Positive(_) => row.positive.unwrap_or(0),
                        _ => row.amount.round() as i64,
                    };
                    (row.day, Figure::Count(value))
                })
                .collect()
        }
        Metric::Rate(Rate::Ratio {
            numerator,
            denominator,
        }) => {
            let (ratio, rows) =
                Ratio::read(daily, source, numerator, denominator, (from, to)).await?;
            days(from, to)
                .map(|day| (day, ratio.over(rows.iter().filter(|row| row.day == day))))
                .collect()
        }
        Metric::Rate(Rate::InstallationsWithout {
            installations_without,
        }) => {
            let event = key::event(installations_without);
            let with = daily
                .activity_windows(product_name, window, &event, from, to)
                .await?;
            let active = daily
                .activity_windows(product_name, window, "", from, to)
                .await?;
            days(from, to)
                .map(|day| {
                    let n = |rows: &[(NaiveDate, i64)]| {
                        rows.iter()
                            .find(|(d, _)| *d == day)
                            .map_or(0.0, |(_, n)| *n as f64)
                    };
                    (day, ratio(n(&active) - n(&with), n(&active)))
                })
                .collect()
        }
    };
    // Counts are 0 on a day without rows; a rate has no value there.
    let missing = if matches!(metric, Metric::Rate(_)) {
        Figure::Rate(None)
    } else {
        Figure::Count(0)
    };
    let points = days(from, to)
        .map(|date| MetricPoint {
            date,
            value: values.get(&date).copied().unwrap_or(missing),
        })
        .collect();
    Ok((metric.per_window(source).then_some(window), points))
}

/// A declared rate over the whole of `[from, to]`: a ratio of the range's sums; a rate of
/// installations, its value for the `window` days ending `to`. None where its denominator is 0.
pub(super) async fn rate_over(
    daily: &Daily,
    source: Source,
    name: &str,
    window: i16,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Option<f64>, ReadError> {
    let figure = match source.product().rate(name) {
        Some(Rate::Ratio {
            numerator,
            denominator,
        }) => {
            let (ratio, rows) =
                Ratio::read(daily, source, numerator, denominator, (from, to)).await?;
            ratio.over(rows.iter())
        }
        Some(Rate::InstallationsWithout { .. }) => {
            let (_, points) = metric(daily, source, name, window, (to, to)).await?;
            points
                .first()
                .map_or(Figure::Rate(None), |point| point.value)
        }
        None => return Err(ReadError::Unknown("Unknown metric")),
    };
    Ok(match figure {
        Figure::Rate(rate) => rate,
        Figure::Count(_) => None,
    })
}

/// A declared ratio, by the keys it divides.
struct Ratio {
    numerator: String,
    denominator: Vec<String>,
}

impl Ratio {
    fn of(numerator: &str, denominator: &[String]) -> Self {
        Self {
            numerator: Rate::numerator_key(numerator),
            denominator: denominator.iter().map(|t| key::event(t)).collect(),
        }
    }

    /// The ratio and its keys' sums of each day of `range` (rates are an event product's).
    async fn read(
        daily: &Daily,
        source: Source,
        numerator: &str,
        denominator: &[String],
        range: (NaiveDate, NaiveDate),
    ) -> Result<(Self, Vec<KeyAmount>), StoreError> {
        let ratio = Self::of(numerator, denominator);
        let mut keys = ratio.denominator.clone();
        keys.push(ratio.numerator.clone());
        let rows = daily
            .keys(source.name(), Cells::DaySums, Keys::Listed(&keys), range)
            .await?;
        Ok((ratio, rows))
    }

    /// The numerator's amount over the denominator's, in `rows`.
    fn over<'a>(&self, rows: impl Iterator<Item = &'a KeyAmount>) -> Figure {
        let (mut part, mut whole) = (0.0, 0.0);
        for row in rows {
            if row.key == self.numerator {
                part += row.amount;
            }
            if self.denominator.contains(&row.key) {
                whole += row.amount;
            }
        }
        ratio(part, whole)
    }
}

fn counts(rows: Vec<(NaiveDate, i64)>) -> BTreeMap<NaiveDate, Figure> {
    rows.into_iter()
        .map(|(day, n)| (day, Figure::Count(n)))
        .collect()
}

/// `part / whole`, none when `whole` is 0.
fn ratio(part: f64, whole: f64) -> Figure {
    Figure::Rate((whole > 0.0).then(|| part / whole))
}

/// The window the cells are of, and the cells of the dimension at `path` (a dimension, a
/// flag, a count map) per day.
pub(super) async fn dimension(
    daily: &Daily,
    source: Source,
    path: &str,
    window: i16,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<(i16, Vec<DimensionPoint>), ReadError> {
    let product = source.product();
    let path = aliases::dimension(product.format(), path).unwrap_or(path);
    // A single flag has one key; the others a key per value, under a prefix.
    let (exact, prefix) = match product.field_at(path) {
        Some(Field::Dimension(_)) => (None, key::dimension(path, "")),
        Some(Field::Flag(flag)) if flag.max_entries().is_none() => {
            (Some(key::flag(path)), String::new())
        }
        Some(Field::Flag(_)) => (None, key::flag_entry(path, "")),
        Some(Field::CountMap(_)) => (None, key::count_map(path, "")),
        _ => return Err(ReadError::Unknown("Unknown dimension")),
    };
    let cells = cells(source, window);
    let keys = match &exact {
        Some(flag) => Keys::Listed(std::slice::from_ref(flag)),
        None => Keys::Under(&prefix),
    };
    let rows = daily.keys(product.name(), cells, keys, (from, to)).await?;
    let value_of = |row: &KeyAmount| -> String {
        if exact.is_some() {
            "true".to_owned()
        } else {
            row.key[prefix.len()..].to_owned()
        }
    };
    let cells_of_days = rows.iter().map(|row| {
        let cell = DimensionCell {
            installations: row.installations,
            amount: row.amount.round() as i64,
        };
        (row.day, value_of(row), cell)
    });
    let window = match cells {
        Cells::Window(window) => window,
        Cells::DaySums => 1,
    };
    Ok((window, dimension_points((from, to), cells_of_days)))
}

/// The measure at `path`, per day of `[from, to]`.
pub(super) async fn measure(
    daily: &Daily,
    source: Source,
    path: &str,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Vec<MeasurePoint>, ReadError> {
    let (measured, mut rows) = Measured::read(daily, source, path, (from, to)).await?;
    // By day, then one pass, not a scan of the range's rows for each day.
    rows.sort_unstable_by_key(|row| row.day);
    let mut by_day = rows.chunk_by(|a, b| a.day == b.day).peekable();
    Ok(days(from, to)
        .map(|date| {
            let on_day = by_day
                .next_if(|rows| rows.first().is_some_and(|row| row.day == date))
                .unwrap_or_default();
            MeasurePoint::on(date, measured.over(on_day.iter()))
        })
        .collect())
}

/// The measure at `path` over the whole of `[from, to]`: its quantiles from the range's buckets.
pub(super) async fn measure_over(
    daily: &Daily,
    source: Source,
    path: &str,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<MeasureTotal, ReadError> {
    let (measured, rows) = Measured::read(daily, source, path, (from, to)).await?;
    Ok(measured.over(rows.iter()))
}

/// What a measure reads: a declared measure's histogram, or a report product's counter, one
/// value a report (no buckets, so no quantiles).
enum Measured<'a> {
    Histogram(Histogram<'a>),
    Counter(String),
}

impl Measured<'static> {
    fn of(source: Source, path: &str) -> Result<Self, ReadError> {
        let product = source.product();
        match (product.field_at(path), source) {
            (Some(Field::Measure(_)), _) => Ok(Self::Histogram(Histogram::of(product, path)?)),
            (Some(Field::Counter(_)), Source::Reports(_)) => Ok(Self::Counter(key::counter(path))),
            _ => Err(ReadError::Unknown("Unknown measure")),
        }
    }

    /// The measure at `path` and its keys' figures of each day of `range`.
    async fn read(
        daily: &Daily,
        source: Source,
        path: &str,
        range: (NaiveDate, NaiveDate),
    ) -> Result<(Measured<'static>, Vec<KeyAmount>), ReadError> {
        let measured = Measured::of(source, path)?;
        let keys = match &measured {
            Measured::Histogram(histogram) => histogram.keys(),
            Measured::Counter(counter) => vec![counter.clone()],
        };
        let rows = daily
            .keys(source.name(), cells(source, 1), Keys::Listed(&keys), range)
            .await?;
        Ok((measured, rows))
    }

    fn over<'r>(&self, rows: impl Iterator<Item = &'r KeyAmount>) -> MeasureTotal {
        match self {
            Self::Histogram(histogram) => histogram.over(rows),
            Self::Counter(_) => {
                let (count, sum) = rows.fold((0, 0.0), |(count, sum), row| {
                    (count + row.installations, sum + row.amount)
                });
                MeasureTotal::new(count, sum, None, None)
            }
        }
    }
}

/// A declared measure, by its keys: a count, a sum, and a count per bucket.
struct Histogram<'a> {
    bounds: &'a [f64],
    buckets: Vec<String>,
    count: String,
    sum: String,
}

impl<'a> Histogram<'a> {
    fn of(product: &'a Product, path: &str) -> Result<Self, ReadError> {
        let Some(Field::Measure(measure)) = product.field_at(path) else {
            return Err(ReadError::Unknown("Unknown measure"));
        };
        let bounds = measure.buckets();
        Ok(Self {
            bounds,
            buckets: (0..=bounds.len())
                .map(|i| key::measure_bucket(path, i))
                .collect(),
            count: key::measure_count(path),
            sum: key::measure_sum(path),
        })
    }

    fn keys(&self) -> Vec<String> {
        let mut keys = self.buckets.clone();
        keys.extend([self.count.clone(), self.sum.clone()]);
        keys
    }

    /// The values counted in `rows`, their buckets added up.
    fn over<'r>(&self, rows: impl Iterator<Item = &'r KeyAmount>) -> MeasureTotal {
        let (mut count, mut sum) = (0.0, 0.0);
        let mut counts = vec![0.0; self.buckets.len()];
        for row in rows {
            if row.key == self.count {
                count += row.amount;
            } else if row.key == self.sum {
                sum += row.amount;
            } else if let Some(i) = self.buckets.iter().position(|b| *b == row.key) {
                counts[i] += row.amount;
            }
        }
        MeasureTotal::new(
            count.round() as i64,
            sum,
            quantile(self.bounds, &counts, 0.5),
            quantile(self.bounds, &counts, 0.9),
        )
    }
}

/// The `q` quantile of a histogram: the upper bound of the first bucket at which the
/// cumulative count reaches `q` of the total. The open top bucket (`counts[bounds.len()]`)
/// reports the last bound. `None` without values.
fn quantile(bounds: &[f64], counts: &[f64], q: f64) -> Option<f64> {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let rank = (q * total).max(f64::MIN_POSITIVE);
    let mut cumulative = 0.0;
    for (i, count) in counts.iter().enumerate() {
        cumulative += count;
        if cumulative >= rank {
            return bounds.get(i).or(bounds.last()).copied();
        }
    }
    bounds.last().copied()
}

/// The days of `[from, to]` with events, each type's count and installations. A report product
/// sends reports, not events: its days are empty (its counts are metrics, its counted maps
/// dimensions).
pub(super) async fn events(
    daily: &Daily,
    source: Source,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<BTreeMap<NaiveDate, BTreeMap<String, EventCount>>, StoreError> {
    if matches!(source, Source::Reports(_)) {
        return Ok(BTreeMap::new());
    }
    let prefix = key::event("");
    let rows = daily
        .keys(
            source.name(),
            Cells::DaySums,
            Keys::Under(&prefix),
            (from, to),
        )
        .await?;
    let mut days: BTreeMap<NaiveDate, BTreeMap<String, EventCount>> = BTreeMap::new();
    for row in rows {
        let count = EventCount {
            count: row.amount.round() as i64,
            installations: row.installations,
        };
        let event_type = row.key[prefix.len()..].to_owned();
        days.entry(row.day).or_default().insert(event_type, count);
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::quantile;

    const BOUNDS: [f64; 3] = [1.0, 5.0, 15.0];

    #[test]
    fn a_quantile_is_the_bound_of_the_bucket_where_the_cumulative_count_reaches_it() {
        // 2 values <= 1, 5 in (1, 5], 3 in (5, 15]: the 5th of 10 is in the second bucket.
        let counts = [2.0, 5.0, 3.0, 0.0];
        assert_eq!(quantile(&BOUNDS, &counts, 0.5), Some(5.0));
        assert_eq!(quantile(&BOUNDS, &counts, 0.9), Some(15.0));
        assert_eq!(quantile(&BOUNDS, &counts, 0.2), Some(1.0));
    }

    #[test]
    fn a_quantile_in_the_open_top_bucket_reports_the_last_bound() {
        assert_eq!(quantile(&BOUNDS, &[1.0, 0.0, 0.0, 9.0], 0.5), Some(15.0));
    }

    #[test]
    fn a_histogram_without_values_has_no_quantile() {
        assert_eq!(quantile(&BOUNDS, &[0.0; 4], 0.5), None);
    }
}
