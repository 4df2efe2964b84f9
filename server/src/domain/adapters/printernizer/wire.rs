//! The report as sent: the DTO serde fills, with the `validator` rules of each field on its own
//! (`rules.rs`). The rules that relate fields to each other or to the clock are the adapter's
//! (`mod.rs`).

use std::collections::BTreeMap;

use serde::Deserialize;
use validator::Validate;

use super::rules::{
    catalog_value, check_declared, country, field_errors, supported_schema, uuid, version,
};
use crate::domain::{FieldError, Rejected, ReportRules};

/// A weekly report as sent (Printernizer's `AggregatedStats`, schema 1.0). Unknown fields are
/// ignored, never stored, and counted. Datetimes are strings in ISO 8601 with `T` or a space,
/// with or without fractional seconds, naive (taken as UTC) or with `Z` or an offset:
/// `2026-11-20 12:00:00.123456`, `2026-11-20T12:00:00Z`, `2026-11-20T14:00:00+02:00`.
#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[schema(as = Submission)]
pub struct SubmissionDto {
    #[validate(custom(function = "supported_schema"))]
    #[schema(example = "1.0", pattern = "^1\\.0$")]
    pub(super) schema_version: Option<String>,
    /// A datetime string in one of the forms `Submission` lists.
    #[schema(example = "2026-11-20 12:00:00.123456")]
    pub(super) submission_timestamp: Option<String>,
    #[validate(nested)]
    pub(super) installation: InstallationDto,
    #[validate(nested)]
    pub(super) period: PeriodDto,
    #[validate(nested)]
    pub(super) printer_fleet: PrinterFleetDto,
    #[validate(nested)]
    pub(super) usage_stats: UsageStatsDto,
    /// Error counts by plain identifier (`a-z 0-9 _`, at most 48 characters), at most 32 entries,
    /// each 0 to 1000000.
    #[serde(default)]
    #[schema(example = json!({"total_errors": 2}))]
    pub(super) error_summary: BTreeMap<String, i64>,
    #[serde(flatten)]
    #[schema(ignore)]
    unknown: Unknown,
}

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[schema(as = SubmissionInstallation)]
pub(super) struct InstallationDto {
    #[validate(custom(function = "uuid"))]
    #[schema(format = Uuid, example = "550e8400-e29b-41d4-a716-446655440000")]
    pub(super) installation_id: String,
    /// A datetime string in one of the forms `Submission` lists.
    #[schema(example = "2025-12-01 10:00:00.500000")]
    pub(super) first_seen: Option<String>,
    /// 1 to 40 characters from `A-Z a-z 0-9 . - _ +`.
    #[validate(custom(function = "version"))]
    #[schema(example = "2.41.2-3-gabc1234")]
    pub(super) app_version: String,
    /// 1 to 40 characters from `A-Z a-z 0-9 . - _ +`.
    #[validate(custom(function = "version"))]
    #[schema(example = "3.12.3")]
    pub(super) python_version: Option<String>,
    /// A plain identifier; outside `linux windows darwin` it is stored as `other`.
    #[validate(custom(function = "catalog_value"))]
    #[schema(example = "linux")]
    pub(super) platform: String,
    /// A plain identifier; outside `homeassistant docker pi standalone` it is stored as `other`.
    #[validate(custom(function = "catalog_value"))]
    #[schema(example = "homeassistant")]
    pub(super) deployment_mode: String,
    /// ISO 3166-1 alpha-2, or `XX` (unknown); an unassigned code is stored as `XX`.
    #[validate(custom(function = "country"))]
    #[schema(example = "DE")]
    pub(super) country_code: String,
    #[serde(flatten)]
    #[schema(ignore)]
    unknown: Unknown,
}

/// `start < end`, at most 31 days long, ending no more than a day ahead and within the raw
/// retention window.
#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[schema(as = SubmissionPeriod)]
pub(super) struct PeriodDto {
    /// A datetime string in one of the forms `Submission` lists.
    #[schema(example = "2026-11-13 12:00:00.123456")]
    pub(super) start: String,
    /// A datetime string in one of the forms `Submission` lists.
    #[schema(example = "2026-11-20 12:00:00.123456")]
    pub(super) end: String,
    #[validate(range(min = 0.0, max = 31.0))]
    #[schema(minimum = 0, maximum = 31, example = 7)]
    pub(super) duration_days: Option<f64>,
    #[serde(flatten)]
    #[schema(ignore)]
    unknown: Unknown,
}

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[schema(as = PrinterFleet)]
pub(super) struct PrinterFleetDto {
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000, example = 3)]
    pub(super) printer_count: i64,
    /// Plain identifiers, at most 32; outside `bambu_lab prusa_core octoprint unknown` stored as
    /// `other`.
    #[serde(default)]
    #[schema(example = json!(["bambu_lab", "prusa_core"]))]
    pub(super) printer_types: Vec<String>,
    /// Printers by type (plain identifiers), at most 32 entries, each 0 to 1000.
    #[serde(default)]
    #[schema(example = json!({"bambu_lab": 2, "prusa_core": 1}))]
    pub(super) printer_type_counts: BTreeMap<String, i64>,
    #[serde(flatten)]
    #[schema(ignore)]
    unknown: Unknown,
}

// The schema's maxima and the lists in the doc comments repeat Printernizer's declaration
// (server/catalog/printernizer.toml); tests/api/openapi.rs submits each maximum and one past
// it, so the document cannot drift from the shipped rules.
#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[schema(as = UsageStats)]
pub(super) struct UsageStatsDto {
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100000, example = 23)]
    pub(super) job_count: i64,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000, example = 18)]
    pub(super) file_count: i64,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100000, example = 5)]
    pub(super) upload_count: i64,
    /// No more than the hours of the period.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 744, example = 134)]
    pub(super) uptime_hours: i64,
    /// Feature flags by plain identifier, at most 32 entries.
    #[serde(default)]
    #[schema(example = json!({"library_enabled": true, "timelapse_enabled": false}))]
    pub(super) feature_usage: BTreeMap<String, bool>,
    #[serde(flatten)]
    #[schema(ignore)]
    unknown: Unknown,
}

impl SubmissionDto {
    /// Reads a body: a 400 for what is not JSON, a 422 naming the field of a value of the wrong
    /// type.
    pub(super) fn read(body: &[u8]) -> Result<Self, Rejected> {
        let mut json = serde_json::Deserializer::from_slice(body);
        Self::deserialize(&mut json)
            .and_then(|dto| json.end().map(|()| dto))
            .map_err(|_| json_rejection(body))
    }

    /// The rules of each field on its own: the DTO's, then those Printernizer's declaration
    /// sets. Every broken field once.
    pub(super) fn check(&self, declared: &ReportRules) -> Vec<FieldError> {
        let mut errors = match self.validate() {
            Ok(()) => Vec::new(),
            Err(found) => field_errors(&found),
        };
        check_declared(self, declared, &mut errors);
        errors
    }

    /// The fields dropped at every level of the report.
    pub(super) fn unknown_fields(&self) -> usize {
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

/// Why serde refused a body, with the path of the field for a value of the wrong type. Parsed
/// a second time with path tracking, which costs too much to pay on every valid report.
fn json_rejection(body: &[u8]) -> Rejected {
    let mut json = serde_json::Deserializer::from_slice(body);
    let error = match serde_path_to_error::deserialize::<_, SubmissionDto>(&mut json) {
        Ok(_) => match json.end() {
            Ok(()) => return Rejected::Malformed("body is not valid JSON".to_owned()),
            Err(error) => return Rejected::Malformed(format!("body is not valid JSON: {error}")),
        },
        Err(error) => error,
    };
    let path = error.path().to_string();
    let inner = error.into_inner();
    if inner.is_data() {
        let loc: Vec<&str> = path.split('.').filter(|part| *part != ".").collect();
        Rejected::Invalid(vec![FieldError::new(
            &loc,
            strip_position(&inner.to_string()),
            "type_error",
        )])
    } else {
        Rejected::Malformed(format!("body is not valid JSON: {inner}"))
    }
}

/// serde_json appends " at line 1 column 42" to its messages; the loc already says where.
fn strip_position(message: &str) -> String {
    message
        .rsplit_once(" at line ")
        .map_or(message, |(head, _)| head)
        .to_owned()
}
