use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::*;
use crate::domain::activity::{key, Counts};
use crate::domain::adapters::printernizer::path;
use crate::rollup::test_rng::Rng;

fn day(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(n)
}

fn at(day_number: i64, hour: i64) -> DateTime<Utc> {
    crate::store::midnight(day(day_number)) + Duration::hours(hour)
}

/// What a report of these tests says, as the adapter keeps it under keys.
struct Said<'a> {
    version: &'a str,
    country: &'a str,
    jobs: i64,
    errors: i64,
    features: &'a [(&'a str, bool)],
}

impl Said<'_> {
    fn counts(&self) -> Counts {
        let mut counts = Counts::new();
        for (path, value) in [
            (path::APP_VERSION, self.version),
            (path::PLATFORM, "linux"),
            (path::DEPLOYMENT_MODE, "docker"),
            (path::COUNTRY, self.country),
        ] {
            counts.insert(key::dimension(path, value), 1.0);
        }
        for (path, n) in [
            (path::PRINTER_COUNT, 2),
            (path::JOB_COUNT, self.jobs),
            (path::FILE_COUNT, 5),
            (path::UPLOAD_COUNT, 1),
            (path::UPTIME_HOURS, 100),
        ] {
            counts.insert(key::counter(path), n as f64);
        }
        counts.insert(key::count_map(path::PRINTER_TYPE_COUNTS, "bambu_lab"), 2.0);
        for (feature, on) in self.features {
            counts.insert(
                key::flag_entry(path::FEATURE_USAGE, feature),
                f64::from(u8::from(*on)),
            );
        }
        counts.insert(
            key::count_map(path::ERROR_SUMMARY, "total_errors"),
            self.errors as f64,
        );
        counts
    }
}

const SAID: Said<'static> = Said {
    version: "2.41.2",
    country: "DE",
    jobs: 10,
    errors: 0,
    features: &[("library_enabled", true)],
};

fn report(installation: u128, end: DateTime<Utc>) -> ReportRow {
    said(installation, end, &SAID)
}

fn said(installation: u128, end: DateTime<Utc>, said: &Said) -> ReportRow {
    ReportRow {
        installation: uuid::Uuid::from_u128(installation).to_string(),
        day: end.date_naive(),
        counts: said.counts(),
    }
}

/// Installations with irregular histories: gaps, several reports a week, same-day reports (of
/// which the one ending latest is stored), version changes, stops.
fn random_history(rng: &mut Rng, installations: u128, span: i64) -> Vec<Vec<ReportRow>> {
    (0..installations)
        .map(|i| {
            let mut reports = Vec::new();
            let mut d = rng.below(20) as i64 - 10;
            while d < span {
                let end = at(d, rng.below(24) as i64);
                let length = 1 + rng.below(10) as i64;
                let features = [
                    ("library_enabled", rng.below(2) == 0),
                    ("timelapse_enabled", rng.below(2) == 0),
                ];
                let what = Said {
                    version: rng.pick(&["2.40.0", "2.41.2", "2.41.2-dirty"]),
                    country: rng.pick(&["DE", "GB", "XX"]),
                    jobs: rng.below(50) as i64,
                    errors: rng.below(3) as i64,
                    features: &features,
                };
                reports.push((end, end - Duration::days(length), said(i, end, &what)));
                d += [0, 1, 3, 7, 7, 7, 14, 40][rng.below(8) as usize];
            }
            // As stored: one row a day, the report ending latest that day.
            reports.sort_by_key(|(end, start, _)| (*end, *start));
            let mut rows: Vec<ReportRow> = Vec::new();
            for (_, _, row) in reports {
                match rows.last_mut() {
                    Some(last) if last.day == row.day => *last = row,
                    _ => rows.push(row),
                }
            }
            rows
        })
        .collect()
}

/// Printernizer's weight: a dimension's value weighs the report's jobs.
const JOBS: Option<&str> = Some(path::JOB_COUNT);

/// Rows in one order, whatever order they were made in.
fn sorted(mut rows: DailyRows) -> DailyRows {
    rows.windows
        .sort_by(|a, b| (a.window_days, &a.key, a.day).cmp(&(b.window_days, &b.key, b.day)));
    rows
}

fn sweep(installations: &[Vec<ReportRow>], from: NaiveDate, to: NaiveDate) -> DailyRows {
    let mut sweep = Sweep::new(from, to, JOBS);
    let first = sweep.first_report_day();
    for reports in installations {
        let seen: Vec<ReportRow> = reports
            .iter()
            .filter(|r| r.day >= first && r.day <= to)
            .cloned()
            .collect();
        sweep.add_installation(&seen);
    }
    sorted(sweep.finish())
}

fn concat(parts: Vec<DailyRows>) -> DailyRows {
    let mut all = DailyRows::default();
    for part in parts {
        all.reports.extend(part.reports);
        all.windows.extend(part.windows);
    }
    sorted(all)
}

/// The cell of `key` in the window of `window` days ending `on`, as (installations, amount).
fn cell(rows: &DailyRows, window: i16, key: &str, on: NaiveDate) -> Option<(i32, f64)> {
    rows.windows
        .iter()
        .find(|r| r.window_days == window && r.key == key && r.day == on)
        .map(|r| (r.installations, r.amount.unwrap_or_default()))
}

#[test]
fn the_sweep_equals_the_per_day_definition_day_by_day_and_over_any_split_of_the_range() {
    for seed in 1..=25u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let history = random_history(&mut rng, 12, 90);
        let (from, to) = (day(0), day(89));

        let whole = sweep(&history, from, to);
        let reference = sorted(per_day_reference(&history, (from, to), JOBS));
        let day_by_day = concat((0..90).map(|d| sweep(&history, day(d), day(d))).collect());
        let split = rng.below(88) as i64 + 1;
        let two_parts = concat(vec![
            sweep(&history, from, day(split - 1)),
            sweep(&history, day(split), to),
        ]);

        assert_eq!(whole, reference, "seed {seed}: whole range vs definition");
        assert_eq!(
            day_by_day, reference,
            "seed {seed}: day by day vs definition"
        );
        assert_eq!(two_parts, reference, "seed {seed}: split at {split}");
    }
}

#[test]
fn an_installation_counts_once_by_its_latest_report_in_the_window() {
    let upgraded = Said {
        version: "2.42.0",
        ..SAID
    };
    let history = vec![vec![report(1, at(0, 12)), said(1, at(7, 12), &upgraded)]];

    let rows = sweep(&history, day(7), day(7));

    let versions: Vec<_> = rows
        .windows
        .iter()
        .filter(|r| r.window_days == 30 && r.key.starts_with("dim/app_version/"))
        .map(|r| (r.key.as_str(), r.installations, r.amount))
        .collect();
    assert_eq!(versions, [("dim/app_version/2.42.0", 1, Some(10.0))]);
    assert_eq!(cell(&rows, 30, ANY, day(7)), Some((1, 1.0)));
    assert_eq!(
        cell(&rows, 30, "counter/job_count", day(7)),
        Some((1, 10.0))
    );
}

#[test]
fn an_installation_that_stops_reporting_leaves_the_seven_day_window_after_seven_days() {
    let history = vec![vec![report(1, at(0, 12))]];

    let rows = sweep(&history, day(0), day(40));

    let active = |window: i16, d: i64| cell(&rows, window, ANY, day(d)).map(|(n, _)| n);
    assert_eq!((active(7, 6), active(7, 7)), (Some(1), Some(0)));
    assert_eq!((active(30, 29), active(30, 30)), (Some(1), Some(0)));
    assert_eq!(
        cell(&rows, 30, "counter/job_count", day(30)),
        None,
        "no cell where nobody is counted but the empty day's"
    );
}
