//! A stored report read back from its keys: each field from the key `fold` keeps it under.
//! What the rollup's sweep and the right of access read of Printernizer's rows.

use crate::domain::activity::key::{self, Kind};

use super::{path, TOTAL_ERRORS};

/// A report's fields, borrowed from its keys. A field absent from the keys is `None`, 0 or
/// empty.
#[derive(Debug, Default, PartialEq)]
pub struct ReportFields<'a> {
    pub app_version: Option<&'a str>,
    pub python_version: Option<&'a str>,
    pub platform: Option<&'a str>,
    pub deployment_mode: Option<&'a str>,
    pub country: Option<&'a str>,
    pub printers: i64,
    pub jobs: i64,
    pub files: i64,
    pub uploads: i64,
    pub uptime_hours: i64,
    /// `error_summary`'s `total_errors`.
    pub errors: i64,
    /// In key order, as each map below.
    pub printer_types: Vec<(&'a str, i64)>,
    pub features: Vec<(&'a str, bool)>,
    pub error_types: Vec<(&'a str, i64)>,
}

impl<'a> ReportFields<'a> {
    /// Reads the keys of one report, in key order (as `Counts` and the stored rows hold them).
    /// Keys of no declared field are left out.
    pub fn read(counts: impl IntoIterator<Item = (&'a str, f64)>) -> Self {
        let mut fields = Self::default();
        for (key, count) in counts {
            fields.set(key, count);
        }
        fields
    }

    fn set(&mut self, key: &'a str, count: f64) {
        let Some((kind, at, entry)) = key::parse(key) else {
            return;
        };
        // Counts passed their ceilings, far below 2^53, when the report was folded.
        let count = count as i64;
        match (kind, entry) {
            (Kind::Dimension, Some(value)) => {
                let field = match at {
                    path::APP_VERSION => &mut self.app_version,
                    path::PYTHON_VERSION => &mut self.python_version,
                    path::PLATFORM => &mut self.platform,
                    path::DEPLOYMENT_MODE => &mut self.deployment_mode,
                    path::COUNTRY => &mut self.country,
                    _ => return,
                };
                *field = Some(value);
            }
            (Kind::Counter, None) => {
                let field = match at {
                    path::PRINTER_COUNT => &mut self.printers,
                    path::JOB_COUNT => &mut self.jobs,
                    path::FILE_COUNT => &mut self.files,
                    path::UPLOAD_COUNT => &mut self.uploads,
                    path::UPTIME_HOURS => &mut self.uptime_hours,
                    _ => return,
                };
                *field = count;
            }
            (Kind::CountMap, Some(entry)) if at == path::PRINTER_TYPE_COUNTS => {
                self.printer_types.push((entry, count));
            }
            (Kind::CountMap, Some(entry)) if at == path::ERROR_SUMMARY => {
                if entry == TOTAL_ERRORS {
                    self.errors = count;
                }
                self.error_types.push((entry, count));
            }
            (Kind::Flag, Some(entry)) if at == path::FEATURE_USAGE => {
                self.features.push((entry, count > 0));
            }
            _ => {}
        }
    }
}
