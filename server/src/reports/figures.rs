//! The `/stats/*` bodies a report shows, read into types. A report takes its numbers from the
//! very functions that answer `/stats/*`, so both say the same; reading them into types (not
//! by key at render time) makes a renamed key an error here rather than a zero in a mail.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// A `/stats/*` body that does not have the shape a report expects: a bug, caught by the tests.
#[derive(Debug, thiserror::Error)]
#[error("the body of /stats/{route} has an unexpected shape")]
pub struct ShapeError {
    route: &'static str,
    #[source]
    cause: serde_json::Error,
}

pub fn read<T: DeserializeOwned>(route: &'static str, body: Value) -> Result<T, ShapeError> {
    serde_json::from_value(body).map_err(|cause| ShapeError { route, cause })
}

#[derive(Debug, Clone, Deserialize)]
pub struct Installations {
    pub total: i64,
    pub active_7d: i64,
    pub active_30d: i64,
    pub growth_7d_percent: f64,
    pub trend: Vec<TrendPoint>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TrendPoint {
    pub date: String,
    pub total: i64,
    pub active: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Versions {
    pub versions: Vec<VersionShare>,
    pub latest_version: Option<String>,
    pub adoption_rate_latest: f64,
    pub total_versions: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VersionShare {
    pub version: String,
    pub count: i64,
    pub percentage: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Geography {
    pub countries: Vec<CountryShare>,
    pub total_countries: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CountryShare {
    pub code: String,
    pub name: String,
    pub count: i64,
    pub percentage: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Printers {
    pub total_printers: i64,
    pub average_per_installation: f64,
    pub types: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Features {
    pub features: Vec<FeatureShare>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FeatureShare {
    pub feature: String,
    pub enabled: i64,
    pub total_reporting: i64,
    pub enabled_percent: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Errors {
    pub total_errors: i64,
    pub installations_with_errors: i64,
    pub this_week_errors: i64,
    pub last_week_errors: i64,
    pub error_change_percent: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Anomalies {
    pub anomalies: Vec<Anomaly>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Anomaly {
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: String,
    pub message: String,
}
