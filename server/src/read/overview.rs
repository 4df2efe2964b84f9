//! The public overview of a product: active installations and distributions in which every
//! cell under the smallest cohort is merged into `other`, so no shown number describes fewer
//! installations. Printernizer: the 30-day distributions of its snapshot (its compatibility
//! view). Any other product: every declared dimension as of the latest rolled day, a report
//! product's over its 30-day window, an event product's on that day, shown only when the
//! installations they count reach the cohort.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::snapshot::Snapshot;
use super::source::Source;
use super::timestamp_opt;
use crate::domain::activity::key;
use crate::domain::{Field, Format, OTHER};
use crate::store::dimension;
use crate::store::{Cells, Daily, Keys, StoreError};

/// The dimensions a report product shows (features and errors are not public).
const PUBLIC_DIMENSIONS: [&str; 5] = [
    dimension::VERSION,
    dimension::PLATFORM,
    dimension::DEPLOYMENT_MODE,
    dimension::COUNTRY,
    dimension::PRINTER_TYPE,
];

/// The distributions, every cell under `min_cohort` installations merged into `other`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = PublicOverview)]
pub struct Overview {
    /// The latest rolled day; null before the first rollup.
    #[schema(required = true)]
    pub as_of: Option<NaiveDate>,
    /// Null when under `min_cohort`.
    #[schema(required = true)]
    pub active_installations_30d: Option<i64>,
    /// Null when under `min_cohort`.
    #[schema(required = true)]
    pub active_installations_7d: Option<i64>,
    /// Installations by value, per dimension (`version`, `platform`, `deployment_mode`,
    /// `country`, `printer_type`); empty when the active installations are under `min_cohort`.
    #[schema(example = json!({"platform": {"linux": 40, "other": 6}}))]
    pub distributions: BTreeMap<String, BTreeMap<String, i64>>,
    pub min_cohort: i64,
    #[schema(required = true)]
    #[serde(serialize_with = "timestamp_opt")]
    pub last_updated: Option<DateTime<Utc>>,
}

/// The product's overview as of the latest rolled day on or before `today`.
pub async fn overview(
    daily: &Daily,
    source: Source,
    today: NaiveDate,
    min_cohort: i64,
) -> Result<Overview, StoreError> {
    let k = min_cohort.max(1);
    let product = source.product();
    if product.format() == Format::PrinternizerReport {
        let snapshot = Snapshot::load(daily, product.name(), today).await?;
        return Ok(of_snapshot(&snapshot, k));
    }
    of_declared(daily, source, today, k).await
}

/// `n` when it describes at least `k` installations.
fn shown(n: i64, k: i64) -> Option<i64> {
    (n >= k).then_some(n)
}

fn of_snapshot(snapshot: &Snapshot, k: i64) -> Overview {
    let total = snapshot.distribution.installations;
    let mut distributions = BTreeMap::new();
    if total >= k {
        for name in PUBLIC_DIMENSIONS {
            let cells = snapshot
                .cells_of(name)
                .map(|cell| (cell.value.clone(), cell.installations));
            distributions.insert(name.to_owned(), merge_small_cells(cells, k));
        }
    }
    Overview {
        as_of: snapshot.as_of,
        active_installations_30d: shown(total, k),
        active_installations_7d: shown(snapshot.active.installations, k),
        distributions,
        min_cohort: k,
        last_updated: snapshot.rolled_at,
    }
}

/// Active installations of the latest rolled day's 7 and 30 days, and each declared
/// dimension's installations per value: of a report product, by each installation's latest
/// report in those 30 days; of an event product, on that day.
async fn of_declared(
    daily: &Daily,
    source: Source,
    today: NaiveDate,
    k: i64,
) -> Result<Overview, StoreError> {
    let product = source.product();
    let name = product.name();
    let (rolled_at, day) = tokio::try_join!(daily.rolled_at(name), daily.latest_day(name, today))?;
    let mut overview = Overview {
        as_of: day,
        active_installations_30d: None,
        active_installations_7d: None,
        distributions: BTreeMap::new(),
        min_cohort: k,
        last_updated: rolled_at,
    };
    let Some(day) = day else {
        return Ok(overview);
    };
    let active = |window: i16| async move {
        let rows = daily.activity_windows(name, window, "", day, day).await?;
        Ok::<i64, StoreError>(rows.first().map_or(0, |(_, n)| *n))
    };
    let (on_the_day, week, month) = (active(1).await?, active(7).await?, active(30).await?);
    overview.active_installations_30d = shown(month, k);
    overview.active_installations_7d = shown(week, k);
    let (cells, counted) = match source {
        Source::Reports(_) => (Cells::Window(30), month),
        Source::Events(_) => (Cells::DaySums, on_the_day),
    };
    if counted >= k {
        let paths = product
            .paths()
            .filter(|(_, field)| matches!(field, Field::Dimension(_)));
        for (path, _) in paths {
            let under = key::dimension(&path, "");
            let rows = daily
                .keys(name, cells, Keys::Under(&under), (day, day))
                .await?;
            let cells = rows.iter().filter_map(|row| {
                let value = row.key.strip_prefix(&under)?;
                Some((value.to_owned(), row.installations))
            });
            overview
                .distributions
                .insert(path, merge_small_cells(cells, k));
        }
    }
    Ok(overview)
}

/// Merges every cell under `k` installations into `other`; while `other` itself is under `k`,
/// the smallest remaining cell joins it, so no shown number describes fewer than `k`.
fn merge_small_cells(
    cells: impl IntoIterator<Item = (String, i64)>,
    k: i64,
) -> BTreeMap<String, i64> {
    let mut kept: Vec<(String, i64)> = Vec::new();
    let mut other = 0;
    for (value, installations) in cells {
        if value == OTHER || installations < k {
            other += installations;
        } else {
            kept.push((value, installations));
        }
    }
    kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    while other > 0 && other < k {
        match kept.pop() {
            Some((_, n)) => other += n,
            None => break,
        }
    }
    let mut shown: BTreeMap<String, i64> = kept.into_iter().collect();
    if other >= k {
        shown.insert(OTHER.to_owned(), other);
    }
    shown
}
