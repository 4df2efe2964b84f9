//! `/api/v1` for every product but Printernizer: `activity_daily` (per day and key) and
//! `activity_windows` (installations active in the 1, 7 or 30 days ending a day). The keys are
//! spelled only by `domain::activity::key`; a path is checked against the product's declaration
//! before any query.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::{days, last_updated, range, window, Target};
use crate::domain::activity::key;
use crate::domain::{Field, Product, Rate};
use crate::error::ApiError;
use crate::routes::stats::{date, Query};
use crate::store::{Daily, KeyAmount, ReadPool};

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

pub(super) async fn metric(
    pool: &ReadPool,
    query: &Query,
    product: &'static Product,
    name: String,
) -> Result<Value, ApiError> {
    let target = Target::Activity(product);
    let Some(metric) = Metric::of(product, &name) else {
        return Err(ApiError::NotFound("Unknown metric"));
    };
    let window = window(query)?;
    let daily = Daily::connect(pool).await?;
    let (from, to) = range(query, &daily, target).await?;
    let product_name = product.name();
    let values: BTreeMap<NaiveDate, Value> = match &metric {
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
                    (day, json!(value))
                })
                .collect()
        }
        Metric::Counter(counter) => {
            let rows = daily
                .activity_keys(product_name, std::slice::from_ref(counter), None, from, to)
                .await?;
            rows.iter()
                .map(|row| (row.day, json!(row.amount.round() as i64)))
                .collect()
        }
        Metric::Rate(Rate::Ratio {
            numerator,
            denominator,
        }) => {
            let numerator = Rate::numerator_key(numerator);
            let denominator: Vec<String> = denominator.iter().map(|t| key::event(t)).collect();
            let mut keys = denominator.clone();
            keys.push(numerator.clone());
            let rows = daily
                .activity_keys(product_name, &keys, None, from, to)
                .await?;
            days(from, to)
                .map(|day| {
                    let sum = |wanted: &[String]| -> f64 {
                        rows.iter()
                            .filter(|row| row.day == day && wanted.contains(&row.key))
                            .map(|row| row.amount)
                            .sum()
                    };
                    (
                        day,
                        ratio(sum(std::slice::from_ref(&numerator)), sum(&denominator)),
                    )
                })
                .collect()
        }
        Metric::Rate(Rate::InstallationsWithout {
            installations_without,
        }) => {
            let event = key::event(installations_without);
            let with = counts(
                daily
                    .activity_windows(product_name, window, &event, from, to)
                    .await?,
            );
            let active = counts(
                daily
                    .activity_windows(product_name, window, "", from, to)
                    .await?,
            );
            days(from, to)
                .map(|day| {
                    let n = |map: &BTreeMap<NaiveDate, Value>| {
                        map.get(&day).and_then(Value::as_f64).unwrap_or(0.0)
                    };
                    let without = ratio(n(&active) - n(&with), n(&active));
                    (day, without)
                })
                .collect()
        }
    };
    // Counts are 0 on a day without rows; a rate has no value there.
    let missing = if matches!(metric, Metric::Rate(_)) {
        Value::Null
    } else {
        json!(0)
    };
    let points: Vec<Value> = days(from, to)
        .map(|d| json!({"date": date(d), "value": values.get(&d).cloned().unwrap_or(missing.clone())}))
        .collect();
    Ok(json!({
        "metric": name,
        "window_days": if metric.per_window() { json!(window) } else { Value::Null },
        "from": date(from),
        "to": date(to),
        "points": points,
        "last_updated": last_updated(daily.rolled_at(product_name).await?),
    }))
}

fn counts(rows: Vec<(NaiveDate, i64)>) -> BTreeMap<NaiveDate, Value> {
    rows.into_iter().map(|(day, n)| (day, json!(n))).collect()
}

/// `part / whole`, null when `whole` is 0.
fn ratio(part: f64, whole: f64) -> Value {
    if whole > 0.0 {
        json!(part / whole)
    } else {
        Value::Null
    }
}

pub(super) async fn dimension(
    pool: &ReadPool,
    query: &Query,
    product: &'static Product,
    path: &str,
) -> Result<Value, ApiError> {
    let target = Target::Activity(product);
    // A single flag has one key; the others a key per value, under a prefix.
    let (exact, prefix) = match product.field_at(path) {
        Some(Field::Dimension(_)) => (None, key::dimension(path, "")),
        Some(Field::Flag(flag)) if flag.max_entries().is_none() => {
            (Some(key::flag(path)), String::new())
        }
        Some(Field::Flag(_)) => (None, key::flag_entry(path, "")),
        Some(Field::CountMap(_)) => (None, key::count_map(path, "")),
        _ => return Err(ApiError::NotFound("Unknown dimension")),
    };
    let daily = Daily::connect(pool).await?;
    let (from, to) = range(query, &daily, target).await?;
    let rows = match &exact {
        Some(flag) => {
            daily
                .activity_keys(product.name(), std::slice::from_ref(flag), None, from, to)
                .await?
        }
        None => {
            daily
                .activity_keys(product.name(), &[], Some(&prefix), from, to)
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
    let points: Vec<Value> = days(from, to)
        .map(|day| {
            let values: Map<String, Value> = rows
                .iter()
                .filter(|row| row.day == day)
                .map(|row| {
                    let amount = row.amount.round() as i64;
                    (
                        value_of(row),
                        json!({"installations": row.installations, "amount": amount}),
                    )
                })
                .collect();
            json!({"date": date(day), "values": values})
        })
        .collect();
    Ok(json!({
        "dimension": path,
        "window_days": 1,
        "from": date(from),
        "to": date(to),
        "points": points,
        "last_updated": last_updated(daily.rolled_at(product.name()).await?),
    }))
}

pub(super) async fn measure(
    pool: &ReadPool,
    query: &Query,
    product: &'static Product,
    path: &str,
) -> Result<Value, ApiError> {
    let Some(Field::Measure(measure)) = product.field_at(path) else {
        return Err(ApiError::NotFound("Unknown measure"));
    };
    let target = Target::Activity(product);
    let daily = Daily::connect(pool).await?;
    let (from, to) = range(query, &daily, target).await?;
    let bounds = measure.buckets();
    let buckets: Vec<String> = (0..=bounds.len())
        .map(|i| key::measure_bucket(path, i))
        .collect();
    let (count_key, sum_key) = (key::measure_count(path), key::measure_sum(path));
    let mut keys = buckets.clone();
    keys.extend([count_key.clone(), sum_key.clone()]);
    let rows = daily
        .activity_keys(product.name(), &keys, None, from, to)
        .await?;
    let points: Vec<Value> = days(from, to)
        .map(|day| {
            let amount = |wanted: &str| {
                rows.iter()
                    .find(|row| row.day == day && row.key == wanted)
                    .map_or(0.0, |row| row.amount)
            };
            let (count, sum) = (amount(&count_key), amount(&sum_key));
            let counts: Vec<f64> = buckets.iter().map(|b| amount(b)).collect();
            json!({
                "date": date(day),
                "count": count.round() as i64,
                "sum": sum,
                "mean": (count > 0.0).then(|| sum / count),
                "p50": quantile(bounds, &counts, 0.5),
                "p90": quantile(bounds, &counts, 0.9),
            })
        })
        .collect();
    Ok(json!({
        "measure": path,
        "from": date(from),
        "to": date(to),
        "points": points,
        "last_updated": last_updated(daily.rolled_at(product.name()).await?),
    }))
}

/// The `q` quantile of a histogram: the upper bound of the first bucket at which the
/// cumulative count reaches `q` of the total. The open top bucket (`counts[bounds.len()]`)
/// reports the last bound. `None` without values.
pub(super) fn quantile(bounds: &[f64], counts: &[f64], q: f64) -> Option<f64> {
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

pub(super) async fn events(
    pool: &ReadPool,
    query: &Query,
    product: &'static Product,
) -> Result<Value, ApiError> {
    let target = Target::Activity(product);
    let daily = Daily::connect(pool).await?;
    let (from, to) = range(query, &daily, target).await?;
    let prefix = key::event("");
    let rows = daily
        .activity_keys(product.name(), &[], Some(&prefix), from, to)
        .await?;
    let days: Vec<Value> = days(from, to)
        .map(|day| {
            let events: Map<String, Value> = rows
                .iter()
                .filter(|row| row.day == day)
                .map(|row| {
                    let count = row.amount.round() as i64;
                    (
                        row.key[prefix.len()..].to_owned(),
                        json!({"count": count, "installations": row.installations}),
                    )
                })
                .collect();
            json!({"date": date(day), "events": events})
        })
        .collect();
    Ok(json!({"product": product.name(), "days": days}))
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
