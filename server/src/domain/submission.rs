//! A weekly report: the wire shape (`SubmissionDto`, filled by serde and checked by validator)
//! and the parsed `Submission`, built only when every field passed its rule.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use super::catalog::{CountMap, Counter, ReportRules};
use super::datetime::parse_datetime;
use super::field_error::FieldError;
use super::values::{CountryCode, Identifier, InstallationId, Version};

/// The longest period one report may cover.
pub const MAX_PERIOD_DAYS: i64 = 31;

/// The earliest day a valid report can start on: it ends within `retention` of `today` and
/// covers at most `MAX_PERIOD_DAYS`. Raw partitions are made from here on and dropped before.
pub fn oldest_valid_start(today: NaiveDate, retention: Duration) -> NaiveDate {
    today - retention - Duration::days(MAX_PERIOD_DAYS)
}

/// A weekly report as sent (Printernizer's `AggregatedStats`, schema 1.0). Unknown fields are
/// ignored, never stored, and counted. Datetimes are strings in ISO 8601 with `T` or a space,
/// with or without fractional seconds, naive (taken as UTC) or with `Z` or an offset:
/// `2026-11-20 12:00:00.123456`, `2026-11-20T12:00:00Z`, `2026-11-20T14:00:00+02:00`.
#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[schema(as = Submission)]
pub struct SubmissionDto {
    #[validate(custom(function = "supported_schema"))]
    #[schema(example = "1.0", pattern = "^1\\.0$")]
    schema_version: Option<String>,
    /// A datetime string in one of the forms `Submission` lists.
    #[schema(example = "2026-11-20 12:00:00.123456")]
    submission_timestamp: Option<String>,
    #[validate(nested)]
    installation: InstallationDto,
    #[validate(nested)]
    period: PeriodDto,
    #[validate(nested)]
    printer_fleet: PrinterFleetDto,
    #[validate(nested)]
    usage_stats: UsageStatsDto,
    /// Error counts by plain identifier (`a-z 0-9 _`, at most 48 characters), at most 32 entries,
    /// each 0 to 1000000.
    #[serde(default)]
    #[schema(example = json!({"total_errors": 2}))]
    error_summary: BTreeMap<String, i64>,
    #[serde(flatten)]
    #[schema(ignore)]
    unknown: Unknown,
}

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[schema(as = SubmissionInstallation)]
struct InstallationDto {
    #[validate(custom(function = "uuid"))]
    #[schema(format = Uuid, example = "550e8400-e29b-41d4-a716-446655440000")]
    installation_id: String,
    /// A datetime string in one of the forms `Submission` lists.
    #[schema(example = "2025-12-01 10:00:00.500000")]
    first_seen: Option<String>,
    /// 1 to 40 characters from `A-Z a-z 0-9 . - _ +`.
    #[validate(custom(function = "version"))]
    #[schema(example = "2.41.2-3-gabc1234")]
    app_version: String,
    /// 1 to 40 characters from `A-Z a-z 0-9 . - _ +`.
    #[validate(custom(function = "version"))]
    #[schema(example = "3.12.3")]
    python_version: Option<String>,
    /// A plain identifier; outside `linux windows darwin` it is stored as `other`.
    #[validate(custom(function = "catalog_value"))]
    #[schema(example = "linux")]
    platform: String,
    /// A plain identifier; outside `homeassistant docker pi standalone` it is stored as `other`.
    #[validate(custom(function = "catalog_value"))]
    #[schema(example = "homeassistant")]
    deployment_mode: String,
    /// ISO 3166-1 alpha-2, or `XX` (unknown); an unassigned code is stored as `XX`.
    #[validate(custom(function = "country"))]
    #[schema(example = "DE")]
    country_code: String,
    #[serde(flatten)]
    #[schema(ignore)]
    unknown: Unknown,
}

/// `start < end`, at most 31 days long, ending no more than a day ahead and within the raw
/// retention window.
#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[schema(as = SubmissionPeriod)]
struct PeriodDto {
    /// A datetime string in one of the forms `Submission` lists.
    #[schema(example = "2026-11-13 12:00:00.123456")]
    start: String,
    /// A datetime string in one of the forms `Submission` lists.
    #[schema(example = "2026-11-20 12:00:00.123456")]
    end: String,
    #[validate(range(min = 0.0, max = 31.0))]
    #[schema(minimum = 0, maximum = 31, example = 7)]
    duration_days: Option<f64>,
    #[serde(flatten)]
    #[schema(ignore)]
    unknown: Unknown,
}

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[schema(as = PrinterFleet)]
struct PrinterFleetDto {
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000, example = 3)]
    printer_count: i64,
    /// Plain identifiers, at most 32; outside `bambu_lab prusa_core octoprint unknown` stored as
    /// `other`.
    #[serde(default)]
    #[schema(example = json!(["bambu_lab", "prusa_core"]))]
    printer_types: Vec<String>,
    /// Printers by type (plain identifiers), at most 32 entries, each 0 to 1000.
    #[serde(default)]
    #[schema(example = json!({"bambu_lab": 2, "prusa_core": 1}))]
    printer_type_counts: BTreeMap<String, i64>,
    #[serde(flatten)]
    #[schema(ignore)]
    unknown: Unknown,
}

// The schema's maxima and the lists in the doc comments repeat Printernizer's declaration
// (server/catalog/printernizer.toml); tests/api/openapi.rs submits each maximum and one past
// it, so the document cannot drift from the shipped rules.
#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[schema(as = UsageStats)]
struct UsageStatsDto {
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100000, example = 23)]
    job_count: i64,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000, example = 18)]
    file_count: i64,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100000, example = 5)]
    upload_count: i64,
    /// No more than the hours of the period.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 744, example = 134)]
    uptime_hours: i64,
    /// Feature flags by plain identifier, at most 32 entries.
    #[serde(default)]
    #[schema(example = json!({"library_enabled": true, "timelapse_enabled": false}))]
    feature_usage: BTreeMap<String, bool>,
    #[serde(flatten)]
    #[schema(ignore)]
    unknown: Unknown,
}

impl SubmissionDto {
    /// The fields dropped at every level of the report.
    fn unknown_fields(&self) -> usize {
        self.unknown.0
            + self.installation.unknown.0
            + self.period.unknown.0
            + self.printer_fleet.unknown.0
            + self.usage_stats.unknown.0
    }
}

/// How many fields of an object we do not know: dropped, never kept. Serde reads the known
/// fields straight into the struct and hands only the others to this flattened field.
#[derive(Debug, Default)]
struct Unknown(usize);

impl<'de> Deserialize<'de> for Unknown {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Count;
        impl<'de> serde::de::Visitor<'de> for Count {
            type Value = Unknown;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the fields of an object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Unknown, A::Error> {
                let mut fields = 0;
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {
                    fields += 1;
                }
                Ok(Unknown(fields))
            }
        }
        deserializer.deserialize_map(Count)
    }
}

/// What a report is checked against besides its own fields and the clock.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Reports whose period ended before `now - raw_retention` would be pruned at once.
    pub raw_retention: Duration,
    /// The allow-lists and ceilings of Printernizer's declaration. `'static` because a
    /// `Submission` keeps the declared values it was folded to (`&'static str`).
    pub report: &'static ReportRules,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageCounts {
    pub printers: u32,
    pub jobs: u32,
    pub files: u32,
    pub uploads: u32,
    pub uptime_hours: u32,
    pub errors: u32,
}

/// A valid weekly report of one installation. Only aggregates: nothing that names a person,
/// a machine or a place finer than a country.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub product: &'static str,
    pub installation_id: InstallationId,
    pub period: Period,
    pub app_version: Version,
    pub python_version: Option<Version>,
    pub platform: &'static str,
    pub deployment_mode: &'static str,
    pub country: CountryCode,
    pub first_seen: Option<DateTime<Utc>>,
    pub counts: UsageCounts,
    /// Printers per type (catalog value or `other`); types listed without a count have 0.
    pub printer_types: BTreeMap<&'static str, u32>,
    pub features: BTreeMap<Identifier, bool>,
    pub error_types: BTreeMap<Identifier, u32>,
}

/// Why a body did not become a `Submission`.
#[derive(Debug, PartialEq)]
pub enum RejectedSubmission {
    /// Not JSON at all (400).
    Malformed(String),
    /// JSON whose fields break their rules (422), every broken field listed.
    Invalid(Vec<FieldError>),
}

/// A parsed report and how many fields it carried that we do not know (dropped, never stored).
pub struct Parsed {
    pub submission: Submission,
    pub unknown_fields: usize,
}

impl Submission {
    /// Reads a request body: JSON, then field rules, then the domain types.
    pub fn from_json(
        body: &[u8],
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Parsed, RejectedSubmission> {
        let mut json = serde_json::Deserializer::from_slice(body);
        let dto = SubmissionDto::deserialize(&mut json)
            .and_then(|dto| json.end().map(|()| dto))
            .map_err(|_| json_rejection(body))?;
        let unknown_fields = dto.unknown_fields();
        let submission = Self::parse(dto, rules, now).map_err(RejectedSubmission::Invalid)?;
        Ok(Parsed {
            submission,
            unknown_fields,
        })
    }

    /// Every rule at once: the field rules of the DTO, then those that relate fields to each
    /// other or to the clock.
    pub fn parse(
        dto: SubmissionDto,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = match dto.validate() {
            Ok(()) => Vec::new(),
            Err(found) => field_errors(&found),
        };
        let declared = rules.report;
        check_declared(&dto, declared, &mut errors);
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
        let first_seen = dto
            .installation
            .first_seen
            .as_deref()
            .map(|text| datetime(&["installation", "first_seen"], text));
        if let Some(text) = dto.submission_timestamp.as_deref() {
            datetime(&["submission_timestamp"], text);
        }
        let period = match (start, end) {
            (Some(start), Some(end)) => check_period(start, end, rules, now, &mut errors),
            _ => None,
        };
        if let Some(period) = period {
            let hours = (period.end - period.start).num_hours() + 1;
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
        // Every rule has passed: the conversions below cannot fail.
        let (Some(period), Some(installation_id), Some(app_version), Some(country)) = (
            period,
            InstallationId::parse(&dto.installation.installation_id),
            Version::parse(&dto.installation.app_version),
            CountryCode::parse(&dto.installation.country_code),
        ) else {
            return Err(vec![FieldError::new(&[], "invalid report", "value_error")]);
        };
        let mut printer_types = BTreeMap::new();
        for name in &dto.printer_fleet.printer_types {
            printer_types
                .entry(declared.printer_type.fold(name))
                .or_insert(0);
        }
        for (name, count) in &dto.printer_fleet.printer_type_counts {
            *printer_types
                .entry(declared.printer_type.fold(name))
                .or_insert(0) += count_u32(*count);
        }
        let error_types: BTreeMap<Identifier, u32> = identified(&dto.error_summary)
            .map(|(key, count)| (key, count_u32(*count)))
            .collect();
        let usage = &dto.usage_stats;
        Ok(Self {
            product: declared.product(),
            installation_id,
            period,
            app_version,
            python_version: dto
                .installation
                .python_version
                .as_deref()
                .and_then(Version::parse),
            platform: declared
                .platform
                .fold(&dto.installation.platform.to_ascii_lowercase()),
            deployment_mode: declared
                .deployment_mode
                .fold(&dto.installation.deployment_mode.to_ascii_lowercase()),
            country,
            first_seen: first_seen.flatten(),
            counts: UsageCounts {
                printers: count_u32(dto.printer_fleet.printer_count),
                jobs: count_u32(usage.job_count),
                files: count_u32(usage.file_count),
                uploads: count_u32(usage.upload_count),
                uptime_hours: count_u32(usage.uptime_hours),
                errors: count_u32(dto.error_summary.get("total_errors").copied().unwrap_or(0)),
            },
            printer_types,
            features: identified(&usage.feature_usage)
                .map(|(key, on)| (key, *on))
                .collect(),
            error_types,
        })
    }
}

/// The rules the declaration sets: counters' ceilings, the maps' sizes and their counts'
/// ceilings. Same codes and messages as the DTO's own rules, one error per field.
fn check_declared(dto: &SubmissionDto, declared: &ReportRules, errors: &mut Vec<FieldError>) {
    let fleet = &dto.printer_fleet;
    let usage = &dto.usage_stats;
    let counters = [
        (
            "printer_fleet",
            "printer_count",
            fleet.printer_count,
            declared.printer_count,
        ),
        (
            "usage_stats",
            "job_count",
            usage.job_count,
            declared.job_count,
        ),
        (
            "usage_stats",
            "file_count",
            usage.file_count,
            declared.file_count,
        ),
        (
            "usage_stats",
            "upload_count",
            usage.upload_count,
            declared.upload_count,
        ),
        (
            "usage_stats",
            "uptime_hours",
            usage.uptime_hours,
            declared.uptime_hours,
        ),
    ];
    for (section, field, value, counter) in counters {
        if let Err(error) = counter_within(value, counter) {
            errors.push(field_error(&[section, field], &error));
        }
    }
    let maps = [
        (
            &["printer_fleet", "printer_types"][..],
            identifiers(
                &fleet.printer_types,
                declared.printer_type_counts.max_entries(),
            ),
        ),
        (
            &["printer_fleet", "printer_type_counts"][..],
            counts_within(&fleet.printer_type_counts, &declared.printer_type_counts),
        ),
        (
            &["usage_stats", "feature_usage"][..],
            entries(&usage.feature_usage, declared.feature_usage),
        ),
        (
            &["error_summary"][..],
            counts_within(&dto.error_summary, &declared.error_summary),
        ),
    ];
    for (loc, checked) in maps {
        if let Err(error) = checked {
            errors.push(field_error(loc, &error));
        }
    }
}

fn field_error(loc: &[&str], error: &ValidationError) -> FieldError {
    FieldError::new(loc, describe(error), error.code.as_ref())
}

fn check_period(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    rules: &Rules,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) -> Option<Period> {
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
    (errors.len() == before).then_some(Period { start, end })
}

/// Counters passed their ceilings (all far below `u32::MAX`) before this is called.
fn count_u32(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The map's entries as identifiers; the keys passed their rule before this is called.
fn identified<V>(map: &BTreeMap<String, V>) -> impl Iterator<Item = (Identifier, &V)> {
    map.iter()
        .filter_map(|(key, value)| Identifier::parse(key).map(|key| (key, value)))
}

/// Why serde refused a body, with the path of the field for a value of the wrong type. Parsed
/// a second time with path tracking, which costs too much to pay on every valid report.
fn json_rejection(body: &[u8]) -> RejectedSubmission {
    let mut json = serde_json::Deserializer::from_slice(body);
    let error = match serde_path_to_error::deserialize::<_, SubmissionDto>(&mut json) {
        Ok(_) => match json.end() {
            Ok(()) => return RejectedSubmission::Malformed("body is not valid JSON".to_owned()),
            Err(error) => {
                return RejectedSubmission::Malformed(format!("body is not valid JSON: {error}"))
            }
        },
        Err(error) => error,
    };
    let path = error.path().to_string();
    let inner = error.into_inner();
    if inner.is_data() {
        let loc: Vec<&str> = path.split('.').filter(|part| *part != ".").collect();
        RejectedSubmission::Invalid(vec![FieldError::new(
            &loc,
            strip_position(&inner.to_string()),
            "type_error",
        )])
    } else {
        RejectedSubmission::Malformed(format!("body is not valid JSON: {inner}"))
    }
}

/// serde_json appends " at line 1 column 42" to its messages; the loc already says where.
fn strip_position(message: &str) -> String {
    message
        .rsplit_once(" at line ")
        .map_or(message, |(head, _)| head)
        .to_owned()
}

fn field_errors(found: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(found, &mut Vec::new(), &mut out);
    out
}

fn collect(found: &ValidationErrors, path: &mut Vec<String>, out: &mut Vec<FieldError>) {
    for (field, kind) in found.errors() {
        path.push(field.to_string());
        match kind {
            ValidationErrorsKind::Field(list) => {
                let loc: Vec<&str> = path.iter().map(String::as_str).collect();
                out.extend(
                    list.iter()
                        .map(|error| FieldError::new(&loc, describe(error), error.code.as_ref())),
                );
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    path.push(index.to_string());
                    collect(inner, path, out);
                    path.pop();
                }
            }
        }
        path.pop();
    }
}

fn describe(error: &ValidationError) -> String {
    if let Some(message) = &error.message {
        return message.to_string();
    }
    match (error.params.get("min"), error.params.get("max")) {
        (Some(min), Some(max)) => format!("must be between {min} and {max}"),
        _ => format!("is invalid ({})", error.code),
    }
}

fn invalid(code: &'static str, message: String) -> ValidationError {
    ValidationError::new(code).with_message(message.into())
}

fn supported_schema(version: &str) -> Result<(), ValidationError> {
    (version == "1.0")
        .then_some(())
        .ok_or_else(|| invalid("unsupported", "only schema 1.0 is supported".into()))
}

fn uuid(text: &str) -> Result<(), ValidationError> {
    InstallationId::parse(text)
        .map(drop)
        .ok_or_else(|| invalid("uuid", InstallationId::RULE.into()))
}

fn version(text: &str) -> Result<(), ValidationError> {
    Version::is_valid(text).then_some(()).ok_or_else(|| {
        invalid(
            "version",
            format!(
                "must be 1 to {} letters, digits or . - _ +",
                Version::MAX_LEN
            ),
        )
    })
}

fn catalog_value(text: &str) -> Result<(), ValidationError> {
    identifier(&text.to_ascii_lowercase())
}

fn country(text: &str) -> Result<(), ValidationError> {
    CountryCode::parse(text).map(drop).ok_or_else(|| {
        invalid(
            "country",
            "must be two letters (ISO 3166-1 alpha-2 or XX)".into(),
        )
    })
}

fn identifier(text: &str) -> Result<(), ValidationError> {
    Identifier::is_valid(text).then_some(()).ok_or_else(|| {
        invalid(
            "identifier",
            format!(
                "'{}' is not a plain identifier (a-z, 0-9, _; at most {} characters)",
                shown(text),
                Identifier::MAX_LEN
            ),
        )
    })
}

/// Echoing a rejected value helps the client's maintainers, but only when it is harmless:
/// a value that breaks the identifier rule may be exactly what must not travel (an address).
fn shown(text: &str) -> &str {
    if text.len() <= Identifier::MAX_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        text
    } else {
        "…"
    }
}

fn counter_within(value: i64, counter: Counter) -> Result<(), ValidationError> {
    if counter.admits(value) {
        return Ok(());
    }
    let mut error = ValidationError::new("range");
    error.add_param("min".into(), &0);
    error.add_param("max".into(), &counter.max());
    Err(error)
}

fn entries<V>(map: &BTreeMap<String, V>, max_entries: usize) -> Result<(), ValidationError> {
    if map.len() > max_entries {
        return Err(invalid("length", format!("at most {max_entries} entries")));
    }
    map.keys().try_for_each(|key| identifier(key))
}

fn identifiers(list: &[String], max_entries: usize) -> Result<(), ValidationError> {
    if list.len() > max_entries {
        return Err(invalid("length", format!("at most {max_entries} entries")));
    }
    list.iter().try_for_each(|entry| identifier(entry))
}

fn counts_within(map: &BTreeMap<String, i64>, declared: &CountMap) -> Result<(), ValidationError> {
    entries(map, declared.max_entries())?;
    let ceiling = declared.max();
    match map
        .iter()
        .find(|(_, count)| !u64::try_from(**count).is_ok_and(|count| count <= ceiling))
    {
        Some((key, _)) => Err(invalid(
            "range",
            format!("'{key}' must be between 0 and {ceiling}"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::Catalog;

    fn rules() -> Rules {
        let catalog: &'static Catalog = Box::leak(Box::new(Catalog::load(None).unwrap()));
        Rules {
            raw_retention: Duration::days(400),
            report: catalog.printernizer(),
        }
    }

    fn report(extra: impl FnOnce(&mut serde_json::Value)) -> Result<Parsed, RejectedSubmission> {
        let now = Utc::now();
        let at = |hours: i64| {
            (now - Duration::hours(hours))
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        };
        let mut body = json!({
            "schema_version": "1.0",
            "installation": {
                "installation_id": "550e8400-e29b-41d4-a716-446655440000",
                "app_version": "2.41.2", "platform": "linux",
                "deployment_mode": "docker", "country_code": "DE"
            },
            "period": {"start": at(169), "end": at(1), "duration_days": 7},
            "printer_fleet": {"printer_count": 1, "printer_type_counts": {"bambu_lab": 1}},
            "usage_stats": {"job_count": 2, "feature_usage": {"library_enabled": true}},
            "error_summary": {"total_errors": 0}
        });
        extra(&mut body);
        Submission::from_json(body.to_string().as_bytes(), &rules(), now)
    }

    #[test]
    fn a_report_with_only_known_fields_has_none_unknown() {
        assert_eq!(report(|_| {}).unwrap().unknown_fields, 0);
    }

    #[test]
    fn unknown_fields_are_counted_at_every_level_and_an_unknown_object_counts_once() {
        let parsed = report(|body| {
            body["hostname"] = json!("workshop");
            body["installation"]["serial"] = json!("A1B2");
            body["period"]["timezone"] = json!("Europe/Berlin");
            body["printer_fleet"]["printers"] = json!([{"name": "x", "ip": "10.0.0.2"}]);
            body["usage_stats"]["extra"] = json!({"a": 1, "b": {"c": 2}});
        })
        .unwrap();

        assert_eq!(parsed.unknown_fields, 5);
        // The maps' keys are data, not fields: none of them is unknown.
        assert_eq!(parsed.submission.counts.printers, 1);
    }

    #[test]
    fn a_known_field_sent_twice_is_refused() {
        let body = br#"{"schema_version": "1.0", "schema_version": "1.0"}"#;
        assert!(matches!(
            Submission::from_json(body, &rules(), Utc::now()),
            Err(RejectedSubmission::Invalid(_))
        ));
    }
}
