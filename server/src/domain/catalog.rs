/// What one product may send in its enumerated fields. A well-formed value outside the catalog
/// is stored as `other` (and counted), so a newer client never loses a whole report.
#[derive(Debug)]
pub struct Catalog {
    pub product: &'static str,
    pub platforms: &'static [&'static str],
    pub deployment_modes: &'static [&'static str],
    pub printer_types: &'static [&'static str],
}

pub const OTHER: &str = "other";

impl Catalog {
    pub const PRINTERNIZER: Catalog = Catalog {
        product: "printernizer",
        platforms: &["linux", "windows", "darwin"],
        deployment_modes: &["homeassistant", "docker", "pi", "standalone"],
        printer_types: &["bambu_lab", "prusa_core", "octoprint", "unknown"],
    };

    /// The catalog entry equal to `value`, or `other`.
    pub fn fold(known: &'static [&'static str], value: &str) -> &'static str {
        known
            .iter()
            .find(|entry| **entry == value)
            .copied()
            .unwrap_or(OTHER)
    }
}
