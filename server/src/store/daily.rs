//! The read side of the daily tables (and `ingest_outcomes`): every statistic is answered from
//! these small tables, never from the raw reports, so its cost does not grow with volume.
//! Each query reads a handful of days by primary key.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{Object, Pool};

use super::StoreError;

/// The dimensions of Printernizer's compatibility view `daily_dimensions` (V18), as named there.
pub mod dimension {
    pub const VERSION: &str = "version";
    pub const PLATFORM: &str = "platform";
    pub const DEPLOYMENT_MODE: &str = "deployment_mode";
    pub const COUNTRY: &str = "country";
    pub const PRINTER_TYPE: &str = "printer_type";
    pub const FEATURE: &str = "feature";
    pub const ERROR_TYPE: &str = "error_type";
    pub const ALL: [&str; 7] = [
        VERSION,
        PLATFORM,
        DEPLOYMENT_MODE,
        COUNTRY,
        PRINTER_TYPE,
        FEATURE,
        ERROR_TYPE,
    ];
}

/// The pool the statistics read from: a replica when `TALLY_READ_DATABASE_URL` is set.
pub struct ReadPool(pub Pool);

/// Installations known by a day and the day's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayReports {
    pub day: NaiveDate,
    pub reports: i64,
    pub new_installations: i64,
    /// Installations whose first report ended on or before this day.
    pub known_installations: i64,
}

/// A day and window of Printernizer's compatibility view `daily_totals`: active installations
/// and the sums of their latest reports' counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TotalsRow {
    pub day: NaiveDate,
    pub window_days: i16,
    pub installations: i64,
    pub printers: i64,
    pub jobs: i64,
    pub files: i64,
    pub uploads: i64,
    pub uptime_hours: i64,
    pub errors: i64,
    pub installations_with_errors: i64,
}

/// A cell of Printernizer's compatibility view `daily_dimensions`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DimensionRow {
    pub day: NaiveDate,
    pub window_days: i16,
    pub dimension: &'static str,
    pub value: String,
    pub installations: i64,
    pub amount: i64,
}

/// One ingest outcome count of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeCount {
    pub day: NaiveDate,
    pub outcome: String,
    pub count: i64,
}

/// One connection to the daily tables for the length of a request.
pub struct Daily {
    /// Also read by the queries by key (`activity_reads`).
    pub(super) client: Object,
}

impl Daily {
    pub async fn connect(pool: &ReadPool) -> Result<Self, StoreError> {
        Ok(Self {
            client: pool.0.get().await?,
        })
    }

    /// When the daily tables were last brought up to date.
    pub async fn rolled_at(&self, product: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let statement = self
            .client
            .prepare_cached("SELECT rolled_at FROM rollup_state WHERE product = $1")
            .await?;
        let row = self.client.query_opt(&statement, &[&product]).await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// The latest rolled day on or before `today`: what "now" is for the statistics. One
    /// backward step of `activity_windows`' primary key.
    pub async fn latest_day(
        &self,
        product: &str,
        today: NaiveDate,
    ) -> Result<Option<NaiveDate>, StoreError> {
        let statement = self
            .client
            .prepare_cached(
                "SELECT max(day) FROM activity_windows
                 WHERE product = $1 AND window_days = 1 AND key = '' AND day <= $2",
            )
            .await?;
        Ok(self
            .client
            .query_one(&statement, &[&product, &today])
            .await?
            .try_get(0)?)
    }

    /// The totals of `window` for every rolled day of `[from, to]`, by day.
    pub async fn totals(
        &self,
        product: &str,
        window: i16,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<TotalsRow>, StoreError> {
        let statement = self
            .client
            .prepare_cached(
                "SELECT day, installations, printers, jobs, files, uploads, uptime_hours, errors,
                        installations_with_errors
                 FROM daily_totals
                 WHERE product = $1 AND window_days = $2 AND day BETWEEN $3 AND $4
                 ORDER BY day",
            )
            .await?;
        let rows = self
            .client
            .query(&statement, &[&product, &window, &from, &to])
            .await?;
        rows.iter()
            .map(|row| {
                let n = |i: usize| -> Result<i64, tokio_postgres::Error> {
                    Ok(match row.try_get::<_, i32>(i) {
                        Ok(v) => i64::from(v),
                        Err(_) => row.try_get::<_, i64>(i)?,
                    })
                };
                Ok(TotalsRow {
                    day: row.try_get(0)?,
                    window_days: window,
                    installations: n(1)?,
                    printers: n(2)?,
                    jobs: n(3)?,
                    files: n(4)?,
                    uploads: n(5)?,
                    uptime_hours: n(6)?,
                    errors: n(7)?,
                    installations_with_errors: n(8)?,
                })
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(StoreError::from)
    }

    /// The cells of `window` for `[from, to]`: of one dimension, or of all when `None`.
    pub async fn cells(
        &self,
        product: &str,
        window: i16,
        only: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DimensionRow>, StoreError> {
        let statement = self
            .client
            .prepare_cached(
                "SELECT day, dimension, value, installations, amount
                 FROM daily_dimensions
                 WHERE product = $1 AND window_days = $2
                   AND ($3::text IS NULL OR dimension = $3)
                   AND day BETWEEN $4 AND $5
                 ORDER BY dimension, day, value",
            )
            .await?;
        let rows = self
            .client
            .query(&statement, &[&product, &window, &only, &from, &to])
            .await?;
        let mut cells = Vec::with_capacity(rows.len());
        for row in rows {
            let name: &str = row.try_get(1)?;
            // Only dimensions this version knows; a newer roller's extra rows are skipped.
            let Some(dimension) = dimension::ALL.iter().find(|d| **d == name) else {
                continue;
            };
            cells.push(DimensionRow {
                day: row.try_get(0)?,
                window_days: window,
                dimension,
                value: row.try_get(2)?,
                installations: i64::from(row.try_get::<_, i32>(3)?),
                amount: row.try_get(4)?,
            });
        }
        Ok(cells)
    }

    /// Per rolled day of `[from, to]`: reports, new and known installations.
    pub async fn reports(
        &self,
        product: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayReports>, StoreError> {
        let statement = self
            .client
            .prepare_cached(
                "SELECT day, reports, new_installations, known FROM (
                     SELECT day, reports, new_installations,
                            sum(new_installations) OVER (ORDER BY day) AS known
                     FROM daily_reports WHERE product = $1 AND day <= $3) AS running
                 WHERE day >= $2 ORDER BY day",
            )
            .await?;
        let rows = self
            .client
            .query(&statement, &[&product, &from, &to])
            .await?;
        rows.iter()
            .map(|row| {
                Ok(DayReports {
                    day: row.try_get(0)?,
                    reports: i64::from(row.try_get::<_, i32>(1)?),
                    new_installations: i64::from(row.try_get::<_, i32>(2)?),
                    known_installations: row.try_get::<_, Option<i64>>(3)?.unwrap_or_default(),
                })
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(StoreError::from)
    }

    /// The ingest outcomes of `[from, to]` (day received, UTC), by day and outcome.
    pub async fn outcomes(
        &self,
        product: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<OutcomeCount>, StoreError> {
        let statement = self
            .client
            .prepare_cached(
                "SELECT day, outcome, count FROM ingest_outcomes
                 WHERE product = $1 AND day BETWEEN $2 AND $3 ORDER BY day, outcome",
            )
            .await?;
        let rows = self
            .client
            .query(&statement, &[&product, &from, &to])
            .await?;
        rows.iter()
            .map(|row| {
                Ok(OutcomeCount {
                    day: row.try_get(0)?,
                    outcome: row.try_get(1)?,
                    count: row.try_get(2)?,
                })
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(StoreError::from)
    }
}
