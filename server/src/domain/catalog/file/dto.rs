//! The TOML shapes of a catalog file, as read: nothing here is checked yet.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::super::fields::ValueRule;
use super::super::product::{Cadence, Format};
use super::super::KeyPolicy;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDto {
    #[serde(default)]
    pub(super) products: BTreeMap<String, ProductDto>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProductDto {
    pub(super) format: Format,
    pub(super) key: KeyPolicy,
    pub(super) cadence: Cadence,
    pub(super) retention_days: Option<u32>,
    #[serde(default)]
    pub(super) dimensions: BTreeMap<String, DimensionDto>,
    #[serde(default)]
    pub(super) counters: BTreeMap<String, CounterDto>,
    #[serde(default)]
    pub(super) measures: BTreeMap<String, MeasureDto>,
    #[serde(default)]
    pub(super) flags: BTreeMap<String, FlagDto>,
    #[serde(default)]
    pub(super) count_maps: BTreeMap<String, CountMapDto>,
    #[serde(default)]
    pub(super) events: BTreeMap<String, EventDto>,
    #[serde(default)]
    pub(super) rates: BTreeMap<String, RateDto>,
}

/// `numerator` + `denominator`, or `installations_without`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RateDto {
    pub(super) numerator: Option<String>,
    pub(super) denominator: Option<Vec<String>>,
    pub(super) installations_without: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DimensionDto {
    pub(super) allow: Option<Vec<String>>,
    pub(super) rule: Option<ValueRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CounterDto {
    pub(super) max: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MeasureDto {
    pub(super) buckets: Vec<f64>,
    pub(super) min: Option<f64>,
    pub(super) max: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlagDto {
    pub(super) max_entries: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CountMapDto {
    pub(super) keys: Option<String>,
    pub(super) max_entries: usize,
    pub(super) max: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventDto {
    #[serde(default)]
    pub(super) properties: BTreeMap<String, PropertyDto>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum PropertyDto {
    Dimension(DimensionDto),
    Counter(CounterDto),
    Measure(MeasureDto),
    Flag(FlagDto),
    CountMap(CountMapDto),
}
