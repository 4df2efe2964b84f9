//! The series of an activity product (`Source::Activity`): `activity_daily` (per day and key)
//! and `activity_windows` (installations active in the 1, 7 or 30 days ending a day). The keys
//! are spelled only by `domain::activity::key`; a path is checked against the product's
//! declaration before any query.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::points::{
    days, dimension_points, DimensionCell, DimensionPoint, EventCount, Figure, MeasurePoint,
    MeasureTotal, MetricPoint,
};
use super::ReadError;
use crate::domain::activity::key;
use crate::domain::{Field, Product, Rate};
use crate::store::{Daily, KeyAmount, Keys, StoreError};

/// What `/metrics/{name}` reads for a product.
enum Metric<'a> {
    Active,
    New,
    Known,
    /// A declared counter's daily sum, by its key.
    Counter(String),
    Rate(&'a Rate),
}

impl<'a> Metric<'a> {
    fn of(product: &'a Product, name: &str) -> Option<Self> {
        match name {
            "active_installations" => Some(Self::Active),
            "new_installations" => Some(Self::New),
            "known_installations" => Some(Self::Known),
            _ => match (product.rate(name), product.field_at(name)) {
                (Some(rate), _) => Some(Self::Rate(rate)),
                (None, Some(Field::Counter(_))) => Some(Self::Counter(key::counter(name))),
                _ => None,
            },
        }
    }

    fn per_window(&self) -> bool {
        matches!(
            self,
            Self::Active | Self::Rate(Rate::InstallationsWithout { .. })
        )
    }
}

/// The window the metric is of (none for a per-day metric), and its points.
pub(super) async fn metric(
    daily: &Daily,
    product: &Product,
    name: &str,
    window: i16,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(Option<i16>, Vec<MetricPoint>), ReadError> {
    let Some(metric) = Metric::of(product, name) else {
        return Err(ReadError::Unknown("Unknown metric"));
    };
    let product_name = product.name();
    let values: BTreeMap<NaiveDate, Figure> = match &metric {
        Metric::Active => counts(
            daily
                .activity_windows(product_name, window, "", from, to)
                .await?,
        ),
        Metric::New | Metric::Known => {
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
        Metric::Counter(counter) => {
            let rows = daily
                .activity_keys(
                    product_name,
                    Keys::Listed(std::slice::from_ref(counter)),
                    from,
                    to,
                )
                .await?;
            rows.iter()
                .map(|row| (row.day, Figure::Count(row.amount.round() as i64)))
                .collect()
        }
        Metric::Rate(Rate::Ratio {
            numerator,
            denominator,
        }) => {
            let ratio = Ratio::of(numerator, denominator);
            let rows = daily
                .activity_keys(product_name, Keys::Listed(&ratio.keys()), from, to)
                .await?;
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
    Ok((metric.per_window().then_some(window), points))
}

/// A declared rate over the whole of `[from, to]`: a ratio of the range's sums; a rate of
/// installations, its value for the `window` days ending `to`. None where its denominator is 0.
pub(super) async fn rate_over(
    daily: &Daily,
    product: &Product,
    name: &str,
    window: i16,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Option<f64>, ReadError> {
    let figure = match product.rate(name) {
        Some(Rate::Ratio {
            numerator,
            denominator,
        }) => {
            let ratio = Ratio::of(numerator, denominator);
            let rows = daily
                .activity_keys(product.name(), Keys::Listed(&ratio.keys()), from, to)
                .await?;
            ratio.over(rows.iter())
        }
        Some(Rate::InstallationsWithout { .. }) => {
            let (_, points) = metric(daily, product, name, window, to, to).await?;
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

/// A declared ratio, by the `activity_daily` keys it divides.
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

    fn keys(&self) -> Vec<String> {
        let mut keys = self.denominator.clone();
        keys.push(self.numerator.clone());
        keys
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

pub(super) async fn dimension(
    daily: &Daily,
    product: &Product,
    path: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DimensionPoint>, ReadError> {
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
    let rows = match &exact {
        Some(flag) => {
            daily
                .activity_keys(
                    product.name(),
                    Keys::Listed(std::slice::from_ref(flag)),
                    from,
                    to,
                )
                .await?
        }
        None => {
            daily
                .activity_keys(product.name(), Keys::Under(&prefix), from, to)
                .await?
        }
    };
    let value_of = |row: &KeyAmount| -> String {
        if exact.is_some() {
            "true".to_owned()
        } else {
            row.key[prefix.len()..].to_owned()
        }
    };
    let cells = rows.iter().map(|row| {
        let cell = DimensionCell {
            installations: row.installations,
            amount: row.amount.round() as i64,
        };
        (row.day, value_of(row), cell)
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
    let histogram = Histogram::of(product, path)?;
    let rows = daily
        .activity_keys(product.name(), Keys::Listed(&histogram.keys()), from, to)
        .await?;
    // The rows come by day: one pass, not a scan of the range's rows for each day.
    let mut by_day = rows.chunk_by(|a, b| a.day == b.day).peekable();
    Ok(days(from, to)
        .map(|date| {
            let on_day = by_day
                .next_if(|rows| rows.first().is_some_and(|row| row.day == date))
                .unwrap_or_default();
            MeasurePoint::on(date, histogram.over(on_day.iter()))
        })
        .collect())
}

/// The measure at `path` over the whole of `[from, to]`: its quantiles from the range's buckets.
pub(super) async fn measure_over(
    daily: &Daily,
    product: &Product,
    path: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<MeasureTotal, ReadError> {
    let histogram = Histogram::of(product, path)?;
    let rows = daily
        .activity_keys(product.name(), Keys::Listed(&histogram.keys()), from, to)
        .await?;
    Ok(histogram.over(rows.iter()))
}

/// A declared measure, by its `activity_daily` keys: a count, a sum, and a count per bucket.
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

/// The days of `[from, to]` with events, each type's count and installations.
pub(super) async fn events(
    daily: &Daily,
    product: &Product,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<NaiveDate, BTreeMap<String, EventCount>>, StoreError> {
    let prefix = key::event("");
    let rows = daily
        .activity_keys(product.name(), Keys::Under(&prefix), from, to)
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
