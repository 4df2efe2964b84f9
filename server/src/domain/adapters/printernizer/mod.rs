//! Printernizer's weekly report (`AggregatedStats`, schema 1.0, `POST /submit`), folded into the
//! one internal shape: one row, the installation's report on the UTC day its period ends, its
//! numbers under the keys of the fields its product declares. The period is the report's
//! identity, so a resend replaces it.
//!
//! Unlike the event and telemetry formats, a report is all or nothing: Printernizer's client
//! retries a refused report and its users can mend it, so a field that breaks its rule is a 422
//! naming it (every broken field at once), and nothing is stored. A well-formed value outside
//! its allow-list is stored as `other`; unknown fields are dropped; each is counted.

mod fields;
mod rules;
mod wire;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::domain::activity::{key, Counts, DayRow, Folded, Merge, Report};
use crate::domain::{
    parse_datetime, CountryCode, FieldError, Identifier, InstallationId, Rejected, ReportRules,
    Version, OTHER,
};

pub use fields::ReportFields;
pub use wire::SubmissionDto;

/// The longest period one report may cover.
pub const MAX_PERIOD_DAYS: i64 = 31;

/// The earliest day a valid report can start on: it ends within `retention` of `today` and
/// covers at most `MAX_PERIOD_DAYS`.
pub fn oldest_valid_start(today: NaiveDate, retention: Duration) -> NaiveDate {
    today - retention - Duration::days(MAX_PERIOD_DAYS)
}

/// What a report is checked against besides its own fields and the clock.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Reports whose period ended before `now - raw_retention` would be pruned at once.
    pub raw_retention: Duration,
    /// The allow-lists and ceilings of the product's declaration. `'static` like the
    /// catalog's products, whose names a `Folded` keeps.
    pub report: &'static ReportRules,
}

/// The paths of the declared fields the report's values are kept under (`key::dimension(
/// path::PLATFORM, "linux")`), as `printernizer.toml` declares them.
pub mod path {
    pub const APP_VERSION: &str = "app_version";
    pub const PYTHON_VERSION: &str = "python_version";
    pub const PLATFORM: &str = "platform";
    pub const DEPLOYMENT_MODE: &str = "deployment_mode";
    pub const COUNTRY: &str = "country";
    pub const PRINTER_COUNT: &str = "printer_count";
    pub const JOB_COUNT: &str = "job_count";
    pub const FILE_COUNT: &str = "file_count";
    pub const UPLOAD_COUNT: &str = "upload_count";
    pub const UPTIME_HOURS: &str = "uptime_hours";
    /// A flag set: 1 for a feature reported on, 0 for one reported off.
    pub const FEATURE_USAGE: &str = "feature_usage";
    /// Printers by type; a type listed without a count has 0.
    pub const PRINTER_TYPE_COUNTS: &str = "printer_type_counts";
    /// Errors by type; `total_errors` is the report's total.
    pub const ERROR_SUMMARY: &str = "error_summary";
}

/// The entry of `error_summary` that holds the report's total.
pub const TOTAL_ERRORS: &str = "total_errors";

/// Reads a request body: JSON, then every rule, then the row.
pub fn fold(body: &[u8], rules: &Rules, now: DateTime<Utc>) -> Result<Folded, Rejected> {
    let dto = SubmissionDto::read(body)?;
    let (report, installation) = check(&dto, rules, now).map_err(Rejected::Invalid)?;
    let mut row = Row::default();
    row.values(&dto, rules.report);
    Ok(Folded {
        product: rules.report.product(),
        merge: Merge::Replace,
        rows: vec![DayRow {
            installation: installation.into(),
            day: report.end.date_naive(),
            counts: row.counts,
        }],
        report: Some(report),
        fingerprint: None,
        dropped: dto.unknown_fields() as u64,
        others: row.others,
        normalised: 0,
        events_rejected: BTreeMap::new(),
        fields_rejected: 0,
    })
}

/// Every rule at once: each field's own, then those that relate fields to each other or to the
/// clock. The report's period and installation once all passed.
fn check(
    dto: &SubmissionDto,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<(Report, InstallationId), Vec<FieldError>> {
    let mut errors = dto.check(rules.report);
    let mut datetime = |loc: &[&str], text: &str| {
        let parsed = parse_datetime(text);
        if parsed.is_none() {
            errors.push(FieldError::new(
                loc,
                "must be an ISO 8601 datetime such as 2026-11-20 12:00:00",
                "datetime",
            ));
        }
        parsed
    };
    let start = datetime(&["period", "start"], &dto.period.start);
    let end = datetime(&["period", "end"], &dto.period.end);
    // Checked, not kept: nothing reads it.
    if let Some(text) = dto.installation.first_seen.as_deref() {
        datetime(&["installation", "first_seen"], text);
    }
    if let Some(text) = dto.submission_timestamp.as_deref() {
        datetime(&["submission_timestamp"], text);
    }
    let period = match (start, end) {
        (Some(start), Some(end)) => check_period(start, end, rules, now, &mut errors),
        _ => None,
    };
    if let Some((start, end)) = period {
        let hours = (end - start).num_hours() + 1;
        if dto.usage_stats.uptime_hours > hours {
            errors.push(FieldError::new(
                &["usage_stats", "uptime_hours"],
                format!("cannot exceed the period's {hours} hours"),
                "value_error",
            ));
        }
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.loc.cmp(&b.loc));
        return Err(errors);
    }
    // Every rule has passed: neither can be missing.
    match (
        period,
        InstallationId::parse(&dto.installation.installation_id),
    ) {
        (Some((start, end)), Some(installation)) => Ok((Report { start, end }, installation)),
        _ => Err(vec![FieldError::new(&[], "invalid report", "value_error")]),
    }
}

fn check_period(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    rules: &Rules,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let before = errors.len();
    if start >= end {
        errors.push(FieldError::new(
            &["period", "start"],
            "must be before period.end",
            "value_error",
        ));
    } else if end - start > Duration::days(MAX_PERIOD_DAYS) {
        errors.push(FieldError::new(
            &["period", "start"],
            format!("a period is at most {MAX_PERIOD_DAYS} days long"),
            "value_error",
        ));
    }
    if end > now + Duration::days(1) {
        errors.push(FieldError::new(
            &["period", "end"],
            "must not be more than a day in the future",
            "value_error",
        ));
    }
    if end < now - rules.raw_retention {
        errors.push(FieldError::new(
            &["period", "end"],
            format!(
                "is older than the retention window of {} days",
                rules.raw_retention.num_days()
            ),
            "value_error",
        ));
    }
    (errors.len() == before).then_some((start, end))
}

/// The report's numbers under their keys, and how many values were stored as `other`.
#[derive(Default)]
struct Row {
    counts: Counts,
    others: u64,
}

impl Row {
    /// Every field has passed its rule before this is called.
    fn values(&mut self, dto: &SubmissionDto, declared: &ReportRules) {
        let installation = &dto.installation;
        for (path, version) in [
            (path::APP_VERSION, Some(&installation.app_version)),
            (path::PYTHON_VERSION, installation.python_version.as_ref()),
        ] {
            if let Some(version) = version.and_then(|text| Version::parse(text)) {
                self.set(key::dimension(path, version.as_str()), 1);
            }
        }
        let platform = declared
            .platform
            .fold(&installation.platform.to_ascii_lowercase());
        self.dimension(path::PLATFORM, platform);
        let mode = declared
            .deployment_mode
            .fold(&installation.deployment_mode.to_ascii_lowercase());
        self.dimension(path::DEPLOYMENT_MODE, mode);
        if let Some(country) = CountryCode::parse(&installation.country_code) {
            self.set(key::dimension(path::COUNTRY, country.as_str()), 1);
        }
        let fleet = &dto.printer_fleet;
        let usage = &dto.usage_stats;
        for (path, count) in [
            (path::PRINTER_COUNT, fleet.printer_count),
            (path::JOB_COUNT, usage.job_count),
            (path::FILE_COUNT, usage.file_count),
            (path::UPLOAD_COUNT, usage.upload_count),
            (path::UPTIME_HOURS, usage.uptime_hours),
        ] {
            self.set(key::counter(path), count);
        }
        for name in &fleet.printer_types {
            let printer_type = self.folded(declared.printer_type.fold(name));
            self.counts
                .entry(key::count_map(path::PRINTER_TYPE_COUNTS, printer_type))
                .or_insert(0.0);
        }
        for (name, count) in &fleet.printer_type_counts {
            let printer_type = self.folded(declared.printer_type.fold(name));
            *self
                .counts
                .entry(key::count_map(path::PRINTER_TYPE_COUNTS, printer_type))
                .or_insert(0.0) += *count as f64;
        }
        for (name, on) in identified(&usage.feature_usage) {
            let key = key::flag_entry(path::FEATURE_USAGE, name.as_str());
            self.set(key, i64::from(*on));
        }
        for (name, count) in identified(&dto.error_summary) {
            self.set(key::count_map(path::ERROR_SUMMARY, name.as_str()), *count);
        }
    }

    fn dimension(&mut self, path: &str, value: &str) {
        let value = self.folded(value);
        self.set(key::dimension(path, value), 1);
    }

    /// An allow-list's answer, counted when it is `other`.
    fn folded<'a>(&mut self, value: &'a str) -> &'a str {
        if value == OTHER {
            self.others += 1;
        }
        value
    }

    /// Counts passed their ceilings, all far below 2^53, where f64 is still exact.
    fn set(&mut self, key: String, count: i64) {
        self.counts.insert(key, count as f64);
    }
}

/// The map's entries as identifiers; the keys passed their rule before this is called.
fn identified<V>(map: &BTreeMap<String, V>) -> impl Iterator<Item = (Identifier, &V)> {
    map.iter()
        .filter_map(|(key, value)| Identifier::parse(key).map(|key| (key, value)))
}
