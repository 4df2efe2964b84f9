//! The rules of each field of a report on its own: the custom `validator` rules the DTO names
//! (`wire.rs`), the ceilings and sizes Printernizer's declaration sets, and their errors as the
//! 422's field errors (`msg`, `type`), the same as before the adapter.

use std::collections::BTreeMap;

use validator::{ValidationError, ValidationErrors, ValidationErrorsKind};

use super::wire::SubmissionDto;
use crate::domain::{
    CountMap, Counter, CountryCode, FieldError, Identifier, InstallationId, ReportRules, Version,
};

/// The rules the declaration sets: counters' ceilings, the maps' sizes and their counts'
/// ceilings. Same codes and messages as the DTO's own rules, one error per field.
pub(super) fn check_declared(
    dto: &SubmissionDto,
    declared: &ReportRules,
    errors: &mut Vec<FieldError>,
) {
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

pub(super) fn field_errors(found: &ValidationErrors) -> Vec<FieldError> {
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

pub(super) fn supported_schema(version: &str) -> Result<(), ValidationError> {
    (version == "1.0")
        .then_some(())
        .ok_or_else(|| invalid("unsupported", "only schema 1.0 is supported".into()))
}

pub(super) fn uuid(text: &str) -> Result<(), ValidationError> {
    InstallationId::parse(text)
        .map(drop)
        .ok_or_else(|| invalid("uuid", InstallationId::RULE.into()))
}

pub(super) fn version(text: &str) -> Result<(), ValidationError> {
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

pub(super) fn catalog_value(text: &str) -> Result<(), ValidationError> {
    identifier(&text.to_ascii_lowercase())
}

pub(super) fn country(text: &str) -> Result<(), ValidationError> {
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
