//! What one statistics response reads from the daily tables, loaded in a few primary-key
//! queries on one connection, issued together.
//!
//! "Now" for the statistics is the latest rolled day on or before today (`as_of`): between
//! midnight and the first rollup of the day, the answers are yesterday's rather than empty.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use tokio::try_join;

use crate::store::dimension;
use crate::store::{Daily, DayReports, DimensionRow, StoreError, TotalsRow};

/// Distributions: the installations active in the last 30 days, each by its latest report.
pub const DISTRIBUTION_WINDOW: i16 = 30;
/// Trends and "active": the installations active in the 7 days ending each date.
pub const ACTIVITY_WINDOW: i16 = 7;

/// Today's distributions and the numbers the headline figures compare.
pub struct Snapshot {
    pub as_of: Option<NaiveDate>,
    pub rolled_at: Option<DateTime<Utc>>,
    /// 7-day window on `as_of` and a week before.
    pub active: TotalsRow,
    pub active_week_before: TotalsRow,
    /// 30-day window on `as_of`.
    pub distribution: TotalsRow,
    /// Every dimension of the 30-day window on `as_of`.
    pub cells: Vec<DimensionRow>,
    /// The 31 days ending `as_of` (submission volume, installations known).
    pub reports: Vec<DayReports>,
}

impl Snapshot {
    pub async fn load(daily: &Daily, product: &str, today: NaiveDate) -> Result<Self, StoreError> {
        let (rolled_at, as_of) =
            try_join!(daily.rolled_at(product), daily.latest_day(product, today))?;
        let Some(as_of) = as_of else {
            return Ok(Self {
                as_of: None,
                rolled_at,
                active: TotalsRow::default(),
                active_week_before: TotalsRow::default(),
                distribution: TotalsRow::default(),
                cells: Vec::new(),
                reports: Vec::new(),
            });
        };
        let week_before = as_of - Duration::days(7);
        // Issued together, the queries share one round trip's wait (tokio-postgres pipelines
        // concurrent queries on a connection): three sequential round trips cost a few ms.
        let (active, distribution, cells, reports) = try_join!(
            daily.totals(product, ACTIVITY_WINDOW, week_before, as_of),
            daily.totals(product, DISTRIBUTION_WINDOW, as_of, as_of),
            daily.cells(product, DISTRIBUTION_WINDOW, None, as_of, as_of),
            daily.reports(product, as_of - Duration::days(30), as_of),
        )?;
        let on = |day: NaiveDate| {
            active
                .iter()
                .find(|t| t.day == day)
                .copied()
                .unwrap_or_default()
        };
        Ok(Self {
            as_of: Some(as_of),
            rolled_at,
            active: on(as_of),
            active_week_before: on(week_before),
            distribution: distribution.first().copied().unwrap_or_default(),
            cells,
            reports,
        })
    }

    /// The 30-day cells of one dimension.
    pub fn cells_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a DimensionRow> + 'a {
        self.cells.iter().filter(move |c| c.dimension == name)
    }

    /// Installations known by `as_of` (first report on or before it).
    pub fn known_installations(&self) -> i64 {
        self.reports.last().map_or(0, |r| r.known_installations)
    }

    pub fn reports_on(&self, day: NaiveDate) -> i64 {
        self.reports
            .iter()
            .find(|r| r.day == day)
            .map_or(0, |r| r.reports)
    }
}

/// A series of days ending `as_of` (or today before any rollup).
pub struct Series {
    pub dates: Vec<NaiveDate>,
    pub active: Vec<TotalsRow>,
    pub reports: Vec<DayReports>,
    pub cells: Vec<DimensionRow>,
}

impl Series {
    /// `days` days of the 7-day window: totals, reports and the cells of `only` (if any).
    pub async fn load(
        daily: &Daily,
        product: &str,
        today: NaiveDate,
        days: u32,
        only: Option<&str>,
    ) -> Result<Self, StoreError> {
        let to = daily.latest_day(product, today).await?.unwrap_or(today);
        let from = to - Duration::days(i64::from(days) - 1);
        let cells = async {
            match only {
                Some(name) => {
                    daily
                        .cells(product, ACTIVITY_WINDOW, Some(name), from, to)
                        .await
                }
                None => Ok(Vec::new()),
            }
        };
        let (active, reports, cells) = try_join!(
            daily.totals(product, ACTIVITY_WINDOW, from, to),
            daily.reports(product, from, to),
            cells,
        )?;
        Ok(Self {
            dates: from.iter_days().take(days as usize).collect(),
            active,
            reports,
            cells,
        })
    }

    pub fn active_on(&self, day: NaiveDate) -> i64 {
        self.active
            .iter()
            .find(|t| t.day == day)
            .map_or(0, |t| t.installations)
    }

    /// Installations known by `day`: carried forward over days without a rolled row.
    pub fn known_by(&self, day: NaiveDate) -> i64 {
        self.reports
            .iter()
            .take_while(|r| r.day <= day)
            .last()
            .map_or(0, |r| r.known_installations)
    }

    pub fn cells_on(&self, day: NaiveDate) -> impl Iterator<Item = &DimensionRow> + '_ {
        self.cells.iter().filter(move |c| c.day == day)
    }
}

/// Names kept for the views' signatures.
pub use dimension::{COUNTRY, DEPLOYMENT_MODE, ERROR_TYPE, FEATURE, PRINTER_TYPE, VERSION};
