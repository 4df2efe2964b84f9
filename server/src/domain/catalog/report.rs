//! What the `printernizer_report` adapter (`adapters/printernizer`) reads from its product's declaration,
//! looked up once when the catalog is loaded, so a report never meets a missing rule.

use super::error::Invalid;
use super::fields::{AllowList, CountMap, Counter, Dimension};
use super::product::Product;

/// The fields a `printernizer_report` product may declare: those the adapter reads, and the
/// versions and country it checks by their own rules.
const READ: [(&str, &[&str]); 4] = [
    (
        "dimensions",
        &[
            "platform",
            "deployment_mode",
            "printer_type",
            "app_version",
            "python_version",
            "country",
        ],
    ),
    (
        "counters",
        &[
            "printer_count",
            "job_count",
            "file_count",
            "upload_count",
            "uptime_hours",
        ],
    ),
    ("flags", &["feature_usage"]),
    ("count_maps", &["printer_type_counts", "error_summary"]),
];

/// A report's allow-lists and ceilings, as its product declares them.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRules {
    product: String,
    pub platform: AllowList,
    pub deployment_mode: AllowList,
    pub printer_type: AllowList,
    pub printer_count: Counter,
    pub job_count: Counter,
    pub file_count: Counter,
    pub upload_count: Counter,
    pub uptime_hours: Counter,
    /// Most entries of `feature_usage`.
    pub feature_usage: usize,
    pub printer_type_counts: CountMap,
    pub error_summary: CountMap,
}

impl ReportRules {
    /// The product's name, as stored with each of its reports.
    pub fn product(&self) -> &str {
        &self.product
    }

    pub(super) fn resolve(product: &Product, at: &str) -> Result<Self, Invalid> {
        let declared: [(&str, Vec<&String>); 4] = [
            ("dimensions", product.dimensions.keys().collect()),
            ("counters", product.counters.keys().collect()),
            ("flags", product.flags.keys().collect()),
            ("count_maps", product.count_maps.keys().collect()),
        ];
        for ((section, names), (_, read)) in declared.iter().zip(READ) {
            if let Some(name) = names.iter().find(|name| !read.contains(&name.as_str())) {
                return Err(Invalid::new(
                    &format!("{at}.{section}.{name}"),
                    "the printernizer_report format has no such field",
                ));
            }
        }
        if !product.measures.is_empty() {
            return Err(Invalid::new(
                &format!("{at}.measures"),
                "the printernizer_report format has no measures",
            ));
        }
        let allow_list = |name: &str| {
            product
                .dimensions
                .get(name)
                .and_then(Dimension::allow_list)
                .cloned()
                .ok_or_else(|| {
                    Invalid::new(
                        &format!("{at}.dimensions.{name}"),
                        "the printernizer_report format needs this dimension, with an allow-list",
                    )
                })
        };
        // Reports keep their counts as 32-bit integers.
        let within_u32 = |max: u64, at: String| {
            if max <= u64::from(u32::MAX) {
                Ok(())
            } else {
                Err(Invalid::new(&at, format!("at most {}", u32::MAX)))
            }
        };
        let counter = |name: &str| {
            let at = format!("{at}.counters.{name}");
            let counter = product.counters.get(name).copied().ok_or_else(|| {
                Invalid::new(&at, "the printernizer_report format needs this counter")
            })?;
            within_u32(counter.max, format!("{at}.max"))?;
            Ok::<_, Invalid>(counter)
        };
        let count_map = |name: &str| {
            let at = format!("{at}.count_maps.{name}");
            let map = product.count_maps.get(name).cloned().ok_or_else(|| {
                Invalid::new(&at, "the printernizer_report format needs this count map")
            })?;
            within_u32(map.max, format!("{at}.max"))?;
            Ok::<_, Invalid>(map)
        };
        let printer_type_counts = count_map("printer_type_counts")?;
        if printer_type_counts.keys.as_deref() != Some("printer_type") {
            return Err(Invalid::new(
                &format!("{at}.count_maps.printer_type_counts.keys"),
                "the printernizer_report format counts printers by `printer_type`",
            ));
        }
        let feature_usage = product
            .flags
            .get("feature_usage")
            .and_then(|flag| flag.max_entries)
            .ok_or_else(|| {
                Invalid::new(
                    &format!("{at}.flags.feature_usage"),
                    "the printernizer_report format needs these flags, with `max_entries`",
                )
            })?;
        Ok(Self {
            product: product.name.clone(),
            platform: allow_list("platform")?,
            deployment_mode: allow_list("deployment_mode")?,
            printer_type: allow_list("printer_type")?,
            printer_count: counter("printer_count")?,
            job_count: counter("job_count")?,
            file_count: counter("file_count")?,
            upload_count: counter("upload_count")?,
            uptime_hours: counter("uptime_hours")?,
            feature_usage,
            printer_type_counts,
            error_summary: count_map("error_summary")?,
        })
    }
}
