//! The arithmetic of the daily tables: a sweep over reports instead of a scan per day.
//!
//! For a window of w days, report r of an installation (ending on day e, the installation's next
//! report ending on day n) is that installation's latest report in the window on exactly the days
//! `[e, min(n - 1, e + w - 1)]`. So each report adds its contribution at the first of those days
//! and takes it away after the last: per-day values are prefix sums over O(reports) changes,
//! and a year backfills as fast as a day is rolled. `per_day_reference` (tests) computes the
//! same numbers from the definition, day by day; the property tests prove they agree.

use foldhash::{HashMap, HashMapExt};

use chrono::{Duration, NaiveDate};

use crate::domain::adapters::printernizer::ReportFields;
use crate::store::{DailyRows, DimensionRow, ReportRow, TotalsRow};

/// The windows stored: 1 day (`/api/v1`'s daily actives), 7 days (activity, trends) and 30
/// days (distributions).
pub const WINDOWS: [i16; 3] = [1, 7, 30];
/// The longest window: a report changes its end day and the 29 days after it.
pub const LONGEST_WINDOW: i64 = 30;

/// The dimensions of `daily_dimensions`, as stored.
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

const TOTALS: usize = 8;

/// One report's contribution: totals and (dimension key index, installations, amount).
struct Contribution {
    totals: [i64; TOTALS],
    cells: Vec<(usize, i64, i64)>,
}

/// Accumulates the daily rows of the days `[from, to]`. Feed it every report ending in
/// `[from - 29, to]`, one installation at a time, in order of period end.
pub struct Sweep {
    from: NaiveDate,
    days: usize,
    reports: Vec<i64>,
    new: Vec<i64>,
    /// Per window: per day, the change of each total (difference array, one longer than days).
    totals: [Vec<[i64; TOTALS]>; WINDOWS.len()],
    /// Per window: per key, per day, the change of (installations, amount).
    cells: [Vec<Vec<[i64; 2]>>; WINDOWS.len()],
    /// foldhash, not SipHash: the sweep looks keys up millions of times in a backfill (SipHash
    /// took ~8% of a roll's CPU). It is seeded per process, so values from reports cannot be
    /// chosen to collide.
    keys: HashMap<&'static str, HashMap<String, usize>>,
    names: Vec<(&'static str, String)>,
}

impl Sweep {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        let days = usize::try_from((to - from).num_days() + 1).unwrap_or(0);
        Self {
            from,
            days,
            reports: vec![0; days],
            new: vec![0; days],
            totals: std::array::from_fn(|_| vec![[0; TOTALS]; days + 1]),
            cells: std::array::from_fn(|_| Vec::new()),
            keys: HashMap::new(),
            names: Vec::new(),
        }
    }

    /// The first day whose reports `add_installation` must see.
    pub fn first_report_day(&self) -> NaiveDate {
        self.from - Duration::days(LONGEST_WINDOW - 1)
    }

    fn index(&self, day: NaiveDate) -> i64 {
        (day - self.from).num_days()
    }

    /// Overrides the reports counted on `day`, when it was fed only some of them.
    pub fn set_reports(&mut self, day: NaiveDate, count: i64) {
        if let Ok(at) = usize::try_from(self.index(day)) {
            if at < self.days {
                self.reports[at] = count;
            }
        }
    }

    pub fn set_new_installations(&mut self, day: NaiveDate, count: i64) {
        if let Ok(at) = usize::try_from(self.index(day)) {
            if at < self.days {
                self.new[at] = count;
            }
        }
    }

    fn key(&mut self, dimension: &'static str, value: &str) -> usize {
        if let Some(at) = self
            .keys
            .get(dimension)
            .and_then(|values| values.get(value))
        {
            return *at;
        }
        let at = self.names.len();
        self.names.push((dimension, value.to_owned()));
        self.keys
            .entry(dimension)
            .or_default()
            .insert(value.to_owned(), at);
        for cells in &mut self.cells {
            cells.push(vec![[0; 2]; self.days + 1]);
        }
        at
    }

    /// The report's fields, read from its keys (`ReportFields`), as totals and cells.
    fn contribution(&mut self, report: &ReportRow) -> Contribution {
        let fields = ReportFields::read(report.counts.iter().map(|(key, n)| (key.as_str(), *n)));
        let totals = [
            1,
            fields.printers,
            fields.jobs,
            fields.files,
            fields.uploads,
            fields.uptime_hours,
            fields.errors,
            i64::from(fields.errors > 0),
        ];
        let mut cells = Vec::with_capacity(
            4 + fields.printer_types.len() + fields.features.len() + fields.error_types.len(),
        );
        for (dimension, value) in [
            (dimension::VERSION, fields.app_version),
            (dimension::PLATFORM, fields.platform),
            (dimension::DEPLOYMENT_MODE, fields.deployment_mode),
            (dimension::COUNTRY, fields.country),
        ] {
            cells.push((
                self.key(dimension, value.unwrap_or_default()),
                1,
                fields.jobs,
            ));
        }
        for (kind, n) in fields.printer_types {
            cells.push((self.key(dimension::PRINTER_TYPE, kind), 1, n));
        }
        for (feature, on) in fields.features {
            cells.push((self.key(dimension::FEATURE, feature), 1, i64::from(on)));
        }
        for (key, n) in fields.error_types {
            cells.push((self.key(dimension::ERROR_TYPE, key), 1, n));
        }
        Contribution { totals, cells }
    }

    /// Adds one installation's reports, sorted by (period end, period start).
    pub fn add_installation(&mut self, reports: &[ReportRow]) {
        for (at, report) in reports.iter().enumerate() {
            let end = report.day();
            let index = self.index(end);
            if (0..self.days as i64).contains(&index) {
                self.reports[index as usize] += 1;
            }
            let next = reports.get(at + 1).map(|next| self.index(next.day()));
            let contribution = self.contribution(report);
            for (w, window) in WINDOWS.iter().enumerate() {
                // Latest in the window on [index, last]: until the next report, at most w days.
                let mut last = index + i64::from(*window) - 1;
                if let Some(next) = next {
                    last = last.min(next - 1);
                }
                let first = index.max(0);
                let last = last.min(self.days as i64 - 1);
                if first > last {
                    continue;
                }
                let (first, after) = (first as usize, last as usize + 1);
                for (t, value) in contribution.totals.iter().enumerate() {
                    self.totals[w][first][t] += value;
                    self.totals[w][after][t] -= value;
                }
                for &(key, installations, amount) in &contribution.cells {
                    let cells = &mut self.cells[w][key];
                    cells[first][0] += installations;
                    cells[first][1] += amount;
                    cells[after][0] -= installations;
                    cells[after][1] -= amount;
                }
            }
        }
    }

    /// The rows of every day of the range; days without activity get zero totals.
    pub fn finish(self) -> DailyRows {
        let day = |i: usize| self.from + Duration::days(i as i64);
        let mut rows = DailyRows {
            reports: (0..self.days)
                .map(|i| {
                    let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
                    (day(i), n(self.reports[i]), n(self.new[i]))
                })
                .collect(),
            ..DailyRows::default()
        };
        for (w, window) in WINDOWS.iter().enumerate() {
            let mut running = [0i64; TOTALS];
            for (i, change) in self.totals[w].iter().take(self.days).enumerate() {
                for (t, value) in change.iter().enumerate() {
                    running[t] += value;
                }
                rows.totals.push(TotalsRow {
                    day: day(i),
                    window_days: *window,
                    installations: running[0],
                    printers: running[1],
                    jobs: running[2],
                    files: running[3],
                    uploads: running[4],
                    uptime_hours: running[5],
                    errors: running[6],
                    installations_with_errors: running[7],
                });
            }
            for (key, changes) in self.cells[w].iter().enumerate() {
                let (dimension, value) = &self.names[key];
                let mut running = [0i64; 2];
                for (i, change) in changes.iter().take(self.days).enumerate() {
                    running[0] += change[0];
                    running[1] += change[1];
                    if running[0] != 0 {
                        rows.dimensions.push(DimensionRow {
                            day: day(i),
                            window_days: *window,
                            dimension,
                            value: value.clone(),
                            installations: running[0],
                            amount: running[1],
                        });
                    }
                }
            }
        }
        rows.dimensions.sort();
        rows
    }
}

/// The rows of `[from, to]` from the definition, day by day: for each day and window, each
/// installation's latest report ending in the window. Slow (reports x days); the reference the
/// sweep is tested against.
#[cfg(test)]
pub fn per_day_reference(
    installations: &[Vec<ReportRow>],
    from: NaiveDate,
    to: NaiveDate,
) -> DailyRows {
    let mut rows = DailyRows::default();
    let mut day = from;
    while day <= to {
        let mut one = Sweep::new(day, day);
        let reports = installations
            .iter()
            .flatten()
            .filter(|r| r.day() == day)
            .count();
        one.reports[0] = reports as i64;
        for (w, window) in WINDOWS.iter().enumerate() {
            let first = day - Duration::days(i64::from(*window) - 1);
            for reports in installations {
                let latest = reports
                    .iter()
                    .filter(|r| r.day() >= first && r.day() <= day)
                    .max_by_key(|r| (r.period_end, r.period_start));
                if let Some(latest) = latest {
                    let c = one.contribution(latest);
                    for (t, value) in c.totals.iter().enumerate() {
                        one.totals[w][0][t] += value;
                    }
                    for (key, installations, amount) in c.cells {
                        one.cells[w][key][0][0] += installations;
                        one.cells[w][key][0][1] += amount;
                    }
                }
            }
        }
        let day_rows = one.finish();
        rows.reports.extend(day_rows.reports);
        rows.totals.extend(day_rows.totals);
        rows.dimensions.extend(day_rows.dimensions);
        day += Duration::days(1);
    }
    rows.dimensions.sort();
    rows.totals.sort_by_key(|t| (t.window_days, t.day));
    rows
}

#[cfg(test)]
mod tests;
