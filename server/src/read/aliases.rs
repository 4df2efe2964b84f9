//! Printernizer's names for its figures, from before the catalog: its `/api/v1` metrics
//! (`printers`, `errors`, ...) and dimensions (`version`, `printer_type`, ...), each a key or a
//! declared path of its report format. A name of its own declaration answers too.

use crate::domain::activity::key;
use crate::domain::adapters::printernizer::{path, TOTAL_ERRORS};
use crate::domain::Format;

/// What an older metric name reads.
pub enum Alias {
    /// The sum of the key's values.
    Amount(String),
    /// The installations whose value of the key is above zero.
    Positive(String),
}

/// The metric an older name of `format` stands for.
pub fn metric(format: Format, name: &str) -> Option<Alias> {
    if format != Format::PrinternizerReport {
        return None;
    }
    let counter = |path| Some(Alias::Amount(key::counter(path)));
    let errors = || key::count_map(path::ERROR_SUMMARY, TOTAL_ERRORS);
    match name {
        "printers" => counter(path::PRINTER_COUNT),
        "jobs" => counter(path::JOB_COUNT),
        "files" => counter(path::FILE_COUNT),
        "uploads" => counter(path::UPLOAD_COUNT),
        "uptime_hours" => counter(path::UPTIME_HOURS),
        "errors" => Some(Alias::Amount(errors())),
        "installations_with_errors" => Some(Alias::Positive(errors())),
        _ => None,
    }
}

/// The declared path an older dimension name of `format` stands for.
pub fn dimension(format: Format, name: &str) -> Option<&'static str> {
    if format != Format::PrinternizerReport {
        return None;
    }
    match name {
        "version" => Some(path::APP_VERSION),
        "printer_type" => Some(path::PRINTER_TYPE_COUNTS),
        "feature" => Some(path::FEATURE_USAGE),
        "error_type" => Some(path::ERROR_SUMMARY),
        _ => None,
    }
}
