//! One product's part of a mail: Printernizer's is the figures `/stats/*` answers
//! (`ProductReport`, its compatibility view); any other product's is built from its
//! declaration, from what `/api/v1/*` reads over the period (`DeclaredPart`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{Period, ReportError};
use crate::domain::{Field, Format};
use crate::read::figures::{self, change_percent, TrendDay};
use crate::read::series::{self, Figure, MeasureTotal, MetricSeries};
use crate::read::{anomalies, Anomaly, Series, Snapshot, Source};
use crate::store::Daily;

/// The most values a part lists of one dimension.
const TOP_VALUES: usize = 10;

/// One product's part of a report: Printernizer's shape, or a declared product's.
#[derive(Debug, Clone)]
pub enum Part {
    Reports(ProductReport),
    Declared(DeclaredPart),
}

impl Part {
    pub(super) async fn load(
        daily: &Daily,
        source: Source,
        period: Period,
        now: DateTime<Utc>,
    ) -> Result<Self, ReportError> {
        let product = source.product();
        Ok(if product.format() == Format::PrinternizerReport {
            Self::Reports(ProductReport::load(daily, product.name(), period, now).await?)
        } else {
            Self::Declared(DeclaredPart::load(daily, source, period).await?)
        })
    }

    pub fn product(&self) -> &str {
        match self {
            Self::Reports(part) => &part.product,
            Self::Declared(part) => part.product,
        }
    }

    /// The latest rolled day on or before the period's end.
    pub fn as_of(&self) -> Option<NaiveDate> {
        match self {
            Self::Reports(part) => part.as_of,
            Self::Declared(part) => part.as_of,
        }
    }
}

/// What heads every part.
#[derive(Debug, Clone)]
pub struct InstallationCounts {
    pub active_7d: i64,
    pub active_30d: i64,
    /// Active installations (7-day window) on the day before the period, and their change.
    pub active_before: i64,
    pub active_change_percent: f64,
    pub known: i64,
    /// First seen during the period.
    pub new: i64,
}

/// A report product's part: the figures `/stats/*` answers, as of the period's last day.
#[derive(Debug, Clone)]
pub struct ProductReport {
    pub product: String,
    pub as_of: Option<NaiveDate>,
    pub installations: InstallationCounts,
    /// Active and known installations per day, the day before the period first.
    pub trend: Vec<TrendDay>,
    pub versions: figures::Versions,
    pub geography: figures::Geography,
    pub printers: figures::Printers,
    pub features: figures::Features,
    pub errors: figures::Errors,
    pub anomalies: Vec<Anomaly>,
    /// What became of the product's ingest requests during the period, by outcome.
    pub outcomes: BTreeMap<String, i64>,
}

impl ProductReport {
    async fn load(
        daily: &Daily,
        product: &str,
        period: Period,
        now: DateTime<Utc>,
    ) -> Result<Self, ReportError> {
        // One day more than the period: the active installations on the day before it.
        let (snapshot, series, outcomes) = tokio::try_join!(
            Snapshot::load(daily, product, period.to),
            Series::load(daily, product, period.to, period.days() + 1, None),
            daily.outcomes(product, period.from, period.to),
        )?;
        let installations = figures::installations(&snapshot, &series);
        let active_before = installations.trend.first().map_or(0, |p| p.active);
        let new = series
            .reports
            .iter()
            .filter(|day| day.day >= period.from && day.day <= period.to)
            .map(|day| day.new_installations)
            .sum();
        let mut by_outcome = BTreeMap::new();
        for count in outcomes {
            *by_outcome.entry(count.outcome).or_default() += count.count;
        }
        let anomalies = anomalies(&snapshot, now);
        Ok(Self {
            product: product.to_owned(),
            as_of: snapshot.as_of,
            installations: InstallationCounts {
                active_7d: installations.active_7d,
                active_30d: installations.active_30d,
                active_before,
                active_change_percent: change_percent(installations.active_7d, active_before),
                known: installations.total,
                new,
            },
            trend: installations.trend,
            versions: figures::versions(&snapshot, 10),
            geography: figures::geography(&snapshot, 10),
            printers: figures::printers(&snapshot),
            features: figures::features(&snapshot),
            errors: figures::errors(&snapshot),
            anomalies: anomalies.anomalies,
            outcomes: by_outcome,
        })
    }
}

/// Any other product's part, in its own terms: each thing its declaration names, by its
/// declared name, over the period (windows: those ending its last day).
#[derive(Debug, Clone)]
pub struct DeclaredPart {
    pub product: &'static str,
    pub as_of: Option<NaiveDate>,
    pub installations: InstallationCounts,
    /// Each declared rate over the period; none where its denominator is 0.
    pub rates: BTreeMap<String, Option<f64>>,
    /// Each declared event type and its events in the period.
    pub events: BTreeMap<String, i64>,
    /// Each declared counter's sum over the period.
    pub counters: BTreeMap<String, i64>,
    pub measures: BTreeMap<String, MeasureTotal>,
    /// Each single flag: the times it was on.
    pub flags: BTreeMap<String, i64>,
    /// Each dimension, flag set and count map: its values' amounts, most first.
    pub values: Vec<(String, Vec<(String, i64)>)>,
    pub outcomes: BTreeMap<String, i64>,
}

impl DeclaredPart {
    async fn load(daily: &Daily, source: Source, period: Period) -> Result<Self, ReportError> {
        let product = source.product();
        let range = (period.from, period.to);
        let mut part = Self {
            product: source.name(),
            as_of: daily.latest_day(source.name(), period.to).await?,
            installations: installations(daily, source, period).await?,
            rates: BTreeMap::new(),
            events: BTreeMap::new(),
            counters: BTreeMap::new(),
            measures: BTreeMap::new(),
            flags: BTreeMap::new(),
            values: Vec::new(),
            outcomes: series::outcomes(daily, source, range).await?.totals,
        };
        for (name, _) in product.rates() {
            let window = period.kind.days();
            let rate = series::rate_over(daily, source, name, window, range).await?;
            part.rates.insert(name.to_owned(), rate);
        }
        if product.event_types().next().is_some() {
            let mut totals: BTreeMap<String, i64> = BTreeMap::new();
            for day in series::events(daily, source, range).await?.days {
                for (event_type, count) in day.events {
                    *totals.entry(event_type).or_default() += count.count;
                }
            }
            part.events = product
                .event_types()
                .map(|(name, _)| (name.to_owned(), totals.get(name).copied().unwrap_or(0)))
                .collect();
        }
        for (path, field) in product.paths() {
            match field {
                Field::Counter(_) => {
                    let series = series::metric(daily, source, path.clone(), 1, range).await?;
                    part.counters.insert(path, counts(&series).sum());
                }
                Field::Measure(_) => {
                    let measure = series::measure_over(daily, source, &path, range).await?;
                    part.measures.insert(path, measure);
                }
                Field::Flag(flag) if flag.max_entries().is_none() => {
                    let on = amounts(daily, source, &path, range).await?;
                    part.flags
                        .insert(path, on.get("true").copied().unwrap_or(0));
                }
                Field::Dimension(_) | Field::Flag(_) | Field::CountMap(_) => {
                    let amounts = amounts(daily, source, &path, range).await?;
                    let mut values: Vec<(String, i64)> = amounts.into_iter().collect();
                    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                    values.truncate(TOP_VALUES);
                    part.values.push((path, values));
                }
            }
        }
        Ok(part)
    }
}

/// Active installations in the 7 and 30 days ending the period's last day (and in the 7 days
/// before it), known by then, and new during it.
async fn installations(
    daily: &Daily,
    source: Source,
    period: Period,
) -> Result<InstallationCounts, ReportError> {
    let metric = |name: &str, window, from| {
        series::metric(daily, source, name.to_owned(), window, (from, period.to))
    };
    let last = |series: &MetricSeries| counts(series).last().unwrap_or(0);
    let (active_7d, active_30d, known, new) = tokio::try_join!(
        metric("active_installations", 7, period.from - Duration::days(1)),
        metric("active_installations", 30, period.to),
        metric("known_installations", 1, period.to),
        metric("new_installations", 1, period.from),
    )?;
    let active_before = counts(&active_7d).next().unwrap_or(0);
    Ok(InstallationCounts {
        active_7d: last(&active_7d),
        active_30d: last(&active_30d),
        active_before,
        active_change_percent: change_percent(last(&active_7d), active_before),
        known: last(&known),
        new: counts(&new).sum(),
    })
}

/// A count metric's value on each day.
fn counts(series: &MetricSeries) -> impl Iterator<Item = i64> + '_ {
    series.points.iter().map(|point| match point.value {
        Figure::Count(count) => count,
        Figure::Rate(_) => 0,
    })
}

/// The amounts of the dimension at `path`, each value's added up over `range`.
async fn amounts(
    daily: &Daily,
    source: Source,
    path: &str,
    range: (NaiveDate, NaiveDate),
) -> Result<BTreeMap<String, i64>, ReportError> {
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for point in series::dimension(daily, source, path, 1, range)
        .await?
        .points
    {
        for (value, cell) in point.values {
            *totals.entry(value).or_default() += cell.amount;
        }
    }
    Ok(totals)
}
