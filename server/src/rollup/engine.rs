//! Printernizer's daily tables (`daily_totals`, `daily_dimensions`, `daily_reports`): its
//! reports counted by the one window arithmetic (`windows::KeyWindows`, each installation by its
//! latest report in the window) and laid out as the columns and dimensions its `/stats` and
//! `/api/v1` have always read. `per_day_reference` (tests) computes the same rows from the
//! definition, day by day, reading each report as Printernizer's fields; the property tests
//! prove they agree.

use chrono::{Duration, NaiveDate};

use super::windows::{Counting, KeyWindows, ANY};
use crate::domain::activity::key::{self, Kind};
use crate::domain::adapters::printernizer::{path, TOTAL_ERRORS};
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

/// Printernizer's daily rows of the days `[from, to]`: its reports counted by
/// `KeyWindows` (each installation by its latest report in the window), and the figures laid out
/// as its daily tables, the compatibility view its `/stats` reads. Feed it every report ending
/// in `[from - 29, to]`, one installation at a time.
pub struct Sweep {
    from: NaiveDate,
    days: usize,
    reports: Vec<i64>,
    new: Vec<i64>,
    windows: KeyWindows,
    jobs: String,
}

impl Sweep {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        let days = usize::try_from((to - from).num_days() + 1).unwrap_or(0);
        Self {
            from,
            days,
            reports: vec![0; days],
            new: vec![0; days],
            windows: KeyWindows::new(from, to, Counting::LatestRow),
            jobs: key::counter(path::JOB_COUNT),
        }
    }

    /// The first day whose reports `add_installation` must see.
    pub fn first_report_day(&self) -> NaiveDate {
        self.windows.first_row_day()
    }

    fn index(&self, day: NaiveDate) -> Option<usize> {
        usize::try_from((day - self.from).num_days())
            .ok()
            .filter(|at| *at < self.days)
    }

    /// Overrides the reports counted on `day`, when it was fed only some of them.
    pub fn set_reports(&mut self, day: NaiveDate, count: i64) {
        if let Some(at) = self.index(day) {
            self.reports[at] = count;
        }
    }

    pub fn set_new_installations(&mut self, day: NaiveDate, count: i64) {
        if let Some(at) = self.index(day) {
            self.new[at] = count;
        }
    }

    /// Adds one installation's reports, sorted by (period end, period start). A dimension's
    /// amount is the report's jobs, as `daily_dimensions` has always said.
    pub fn add_installation(&mut self, reports: &[ReportRow]) {
        for report in reports {
            if let Some(at) = self.index(report.day()) {
                self.reports[at] += 1;
            }
        }
        let jobs = &self.jobs;
        self.windows
            .add_installation(reports.iter().rev().map(|report| {
                let weight = report.counts.get(jobs).copied().unwrap_or(0.0);
                let keys = report.counts.iter().map(move |(key, value)| {
                    let value = if key::is_dimension(key) {
                        weight
                    } else {
                        *value
                    };
                    (key.as_str(), value)
                });
                (report.day(), keys)
            }));
    }

    /// The rows of every day of the range; days without activity get zero totals.
    pub fn finish(self) -> DailyRows {
        let day = |i: usize| self.from + Duration::days(i as i64);
        let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
        let mut rows = DailyRows {
            reports: (0..self.days)
                .map(|i| (day(i), n(self.reports[i]), n(self.new[i])))
                .collect(),
            ..DailyRows::default()
        };
        let mut totals: Vec<TotalsRow> = WINDOWS
            .iter()
            .flat_map(|window| {
                (0..self.days).map(move |i| TotalsRow {
                    day: day(i),
                    window_days: *window,
                    ..TotalsRow::default()
                })
            })
            .collect();
        let (from, days) = (self.from, self.days);
        self.windows
            .finish(NaiveDate::MIN, |on, window_days, name, cell| {
                let w = WINDOWS.iter().position(|w| *w == window_days).unwrap_or(0);
                let at = w * days + (on - from).num_days() as usize;
                let amount = cell.amount.round() as i64;
                if name == ANY {
                    totals[at].installations = cell.installations;
                    return;
                }
                let Some((kind, field, entry)) = key::parse(name) else {
                    return;
                };
                let totals = &mut totals[at];
                let dimension = match (kind, field, entry) {
                    (Kind::Counter, field, None) => {
                        if let Some(total) = counter_total(totals, field) {
                            *total = amount;
                        }
                        return;
                    }
                    (Kind::Dimension, path::APP_VERSION, _) => dimension::VERSION,
                    (Kind::Dimension, path::PLATFORM, _) => dimension::PLATFORM,
                    (Kind::Dimension, path::DEPLOYMENT_MODE, _) => dimension::DEPLOYMENT_MODE,
                    (Kind::Dimension, path::COUNTRY, _) => dimension::COUNTRY,
                    (Kind::CountMap, path::PRINTER_TYPE_COUNTS, _) => dimension::PRINTER_TYPE,
                    (Kind::Flag, path::FEATURE_USAGE, _) => dimension::FEATURE,
                    (Kind::CountMap, path::ERROR_SUMMARY, entry) => {
                        if entry == Some(TOTAL_ERRORS) {
                            totals.errors = amount;
                            totals.installations_with_errors = cell.positive;
                        }
                        dimension::ERROR_TYPE
                    }
                    _ => return,
                };
                rows.dimensions.push(DimensionRow {
                    day: on,
                    window_days,
                    dimension,
                    value: entry.unwrap_or_default().to_owned(),
                    installations: cell.installations,
                    amount,
                });
            });
        rows.totals = totals;
        rows.dimensions.sort();
        rows
    }
}

/// The column of `daily_totals` that sums the counter at `path`.
fn counter_total<'a>(totals: &'a mut TotalsRow, path: &str) -> Option<&'a mut i64> {
    Some(match path {
        path::PRINTER_COUNT => &mut totals.printers,
        path::JOB_COUNT => &mut totals.jobs,
        path::FILE_COUNT => &mut totals.files,
        path::UPLOAD_COUNT => &mut totals.uploads,
        path::UPTIME_HOURS => &mut totals.uptime_hours,
        _ => return None,
    })
}

/// The rows of `[from, to]` from the definition, day by day: for each day and window, each
/// installation's latest report ending in the window, read as Printernizer's fields
/// (`ReportFields`). Slow (reports x days); the reference the sweep is tested against.
#[cfg(test)]
pub fn per_day_reference(
    installations: &[Vec<ReportRow>],
    from: NaiveDate,
    to: NaiveDate,
) -> DailyRows {
    use crate::domain::adapters::printernizer::ReportFields;
    use std::collections::BTreeMap;

    let mut rows = DailyRows::default();
    let mut day = from;
    while day <= to {
        let reports = installations
            .iter()
            .flatten()
            .filter(|r| r.day() == day)
            .count();
        rows.reports.push((day, reports as i32, 0));
        for window in WINDOWS {
            let first = day - Duration::days(i64::from(window) - 1);
            let mut totals = TotalsRow {
                day,
                window_days: window,
                ..TotalsRow::default()
            };
            let mut cells: BTreeMap<(&str, String), (i64, i64)> = BTreeMap::new();
            for reports in installations {
                let Some(latest) = reports
                    .iter()
                    .filter(|r| r.day() >= first && r.day() <= day)
                    .max_by_key(|r| (r.period_end, r.period_start))
                else {
                    continue;
                };
                let fields =
                    ReportFields::read(latest.counts.iter().map(|(k, n)| (k.as_str(), *n)));
                totals.installations += 1;
                totals.printers += fields.printers;
                totals.jobs += fields.jobs;
                totals.files += fields.files;
                totals.uploads += fields.uploads;
                totals.uptime_hours += fields.uptime_hours;
                totals.errors += fields.errors;
                totals.installations_with_errors += i64::from(fields.errors > 0);
                let mut add = |dimension, value: &str, amount| {
                    let cell = cells.entry((dimension, value.to_owned())).or_default();
                    cell.0 += 1;
                    cell.1 += amount;
                };
                for (dimension, value) in [
                    (dimension::VERSION, fields.app_version),
                    (dimension::PLATFORM, fields.platform),
                    (dimension::DEPLOYMENT_MODE, fields.deployment_mode),
                    (dimension::COUNTRY, fields.country),
                ] {
                    add(dimension, value.unwrap_or_default(), fields.jobs);
                }
                for (kind, n) in fields.printer_types {
                    add(dimension::PRINTER_TYPE, kind, n);
                }
                for (feature, on) in fields.features {
                    add(dimension::FEATURE, feature, i64::from(on));
                }
                for (key, n) in fields.error_types {
                    add(dimension::ERROR_TYPE, key, n);
                }
            }
            rows.totals.push(totals);
            for ((dimension, value), (installations, amount)) in cells {
                rows.dimensions.push(DimensionRow {
                    day,
                    window_days: window,
                    dimension,
                    value,
                    installations,
                    amount,
                });
            }
        }
        day += Duration::days(1);
    }
    rows.dimensions.sort();
    rows.totals.sort_by_key(|t| (t.window_days, t.day));
    rows
}

#[cfg(test)]
mod tests;
