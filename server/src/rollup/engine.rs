//! A report product's daily rows (weekly, daily): per day, its reports and new installations
//! (`daily_reports`), and the windows of every key of its reports (`activity_windows`, the table
//! of every product's windows), each installation counted by its latest report in the window
//! (`windows::KeyWindows`). A dimension's value weighs what its format says (Printernizer's:
//! the report's jobs, what its `daily_dimensions` has always said); its compatibility views over
//! these cells are V18's. `per_day_reference` (tests) computes the same rows from the
//! definition, day by day; the property tests prove they agree.

use chrono::{Duration, NaiveDate};

use super::windows::{Cell, KeyWindows, ANY, WINDOWS};
use crate::domain::activity::key;
use crate::store::{DailyRows, ReportRow, WindowRow};

/// A report product's daily rows of the days `[from, to]`. Feed it every report of
/// `[from - 29, to]`, one installation at a time.
pub struct Sweep {
    from: NaiveDate,
    days: usize,
    reports: Vec<i64>,
    new: Vec<i64>,
    windows: KeyWindows,
    /// The counter whose value a dimension's value weighs (its key); else 1.
    weight: Option<String>,
}

impl Sweep {
    pub fn new(from: NaiveDate, to: NaiveDate, dimension_weight: Option<&str>) -> Self {
        let days = usize::try_from((to - from).num_days() + 1).unwrap_or(0);
        Self {
            from,
            days,
            reports: vec![0; days],
            new: vec![0; days],
            windows: KeyWindows::new(from, to),
            weight: dimension_weight.map(key::counter),
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

    /// Adds one installation's reports, sorted by day (one a day: a later one replaced it).
    pub fn add_installation(&mut self, reports: &[ReportRow]) {
        for report in reports {
            if let Some(at) = self.index(report.day) {
                self.reports[at] += 1;
            }
        }
        let weight = &self.weight;
        self.windows
            .add_installation(reports.iter().rev().map(|report| {
                let weight = weight
                    .as_ref()
                    .map(|counter| report.counts.get(counter).copied().unwrap_or(0.0));
                let keys = report.counts.iter().map(move |(key, value)| {
                    let value = match weight {
                        Some(weight) if key::is_dimension(key) => weight,
                        _ => *value,
                    };
                    (key.as_str(), value)
                });
                (report.day, keys)
            }));
    }

    /// The rows of every day of the range. Every day and window gets its `ANY` cell, an empty
    /// one too: a day rolled is a day whose figures are known.
    pub fn finish(self) -> DailyRows {
        let day = |i: usize| self.from + Duration::days(i as i64);
        let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
        let mut rows = DailyRows {
            reports: (0..self.days)
                .map(|i| (day(i), n(self.reports[i]), n(self.new[i])))
                .collect(),
            windows: Vec::new(),
        };
        let (from, days) = (self.from, self.days);
        let mut counted = vec![false; WINDOWS.len() * days];
        let row = |on: NaiveDate, window_days: i16, key: &str, cell: Cell| WindowRow {
            day: on,
            window_days,
            key: key.to_owned(),
            installations: n(cell.installations),
            positive: Some(n(cell.positive)),
            amount: Some(cell.amount),
        };
        self.windows
            .finish(NaiveDate::MIN, |on, window_days, key, cell| {
                if key == ANY {
                    let w = WINDOWS.iter().position(|w| *w == window_days).unwrap_or(0);
                    counted[w * days + (on - from).num_days() as usize] = true;
                }
                rows.windows.push(row(on, window_days, key, cell));
            });
        for (w, window_days) in WINDOWS.iter().enumerate() {
            for i in (0..days).filter(|i| !counted[w * days + i]) {
                rows.windows
                    .push(row(day(i), *window_days, ANY, Cell::default()));
            }
        }
        rows
    }
}

/// The rows of `[from, to]` from the definition, day by day: for each day and window, each
/// installation's latest report ending in the window, every key of it counted (a dimension's
/// value weighing `dimension_weight`). Slow (reports x days); the reference the sweep is tested
/// against.
#[cfg(test)]
pub fn per_day_reference(
    installations: &[Vec<ReportRow>],
    (from, to): (NaiveDate, NaiveDate),
    dimension_weight: Option<&str>,
) -> DailyRows {
    use std::collections::BTreeMap;

    let weight = dimension_weight.map(key::counter);
    let mut rows = DailyRows::default();
    let mut day = from;
    while day <= to {
        let reports = installations
            .iter()
            .flatten()
            .filter(|r| r.day == day)
            .count();
        rows.reports.push((day, reports as i32, 0));
        for window in WINDOWS {
            let first = day - Duration::days(i64::from(window) - 1);
            let mut cells: BTreeMap<&str, (i32, i32, f64)> = BTreeMap::new();
            cells.insert(ANY, (0, 0, 0.0));
            for reports in installations {
                let Some(latest) = reports
                    .iter()
                    .filter(|r| r.day >= first && r.day <= day)
                    .max_by_key(|r| r.day)
                else {
                    continue;
                };
                let weighs = weight
                    .as_ref()
                    .map(|counter| latest.counts.get(counter).copied().unwrap_or(0.0));
                let values = latest.counts.iter().map(|(key, value)| match weighs {
                    Some(weighs) if key::is_dimension(key) => (key.as_str(), weighs),
                    _ => (key.as_str(), *value),
                });
                for (key, value) in values.chain([(ANY, 1.0)]) {
                    let cell = cells.entry(key).or_default();
                    cell.0 += 1;
                    cell.1 += i32::from(value > 0.0);
                    cell.2 += value;
                }
            }
            for (key, (installations, positive, amount)) in cells {
                rows.windows.push(WindowRow {
                    day,
                    window_days: window,
                    key: key.to_owned(),
                    installations,
                    positive: Some(positive),
                    amount: Some(amount),
                });
            }
        }
        day += Duration::days(1);
    }
    rows
}

#[cfg(test)]
mod tests;
