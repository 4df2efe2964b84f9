//! The kinds of value a product may send: dimensions, counters, measures, flags and count maps.
//! Each is built only by the loader (`file.rs`), after its rules passed.

use serde::Serialize;
use utoipa::ToSchema;

use super::OTHER;
use crate::domain::values::{CountryCode, Identifier, Ruled, Version};

/// A string value: one of an allow-list (anything else is stored as `other`), or any value
/// that passes a rule. Exactly one of the two is set.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Dimension {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["linux", "windows", "darwin"]))]
    pub(super) allow: Option<AllowList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) rule: Option<ValueRule>,
}

impl Dimension {
    pub fn allow_list(&self) -> Option<&AllowList> {
        self.allow.as_ref()
    }

    /// The rule a value must pass when there is no allow-list.
    pub fn rule(&self) -> Option<ValueRule> {
        self.rule
    }
}

/// The values of a dimension that are stored as they are: plain identifiers, compared with the
/// value lowercased.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(transparent)]
pub struct AllowList(pub(super) Vec<String>);

impl AllowList {
    /// The listed value equal to `value`, or `other`.
    pub fn fold(&self, value: &str) -> &str {
        self.0
            .iter()
            .find(|entry| *entry == value)
            .map_or(OTHER, String::as_str)
    }
}

/// What a dimension's value must look like when there is no allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueRule {
    /// `a-z 0-9 _`, at most 48 characters.
    Identifier,
    /// 1 to 40 characters from `A-Z a-z 0-9 . - _ +`.
    Version,
    /// ISO 3166-1 alpha-2, or `XX`.
    Country,
}

impl ValueRule {
    /// What the rule makes of a value an event or telemetry format sent: kept, reduced to
    /// the part it admits, or `other` (each rule's own function says how).
    pub fn reduce(self, text: &str) -> Ruled {
        match self {
            Self::Identifier => Identifier::reduce(text),
            Self::Version => Version::reduce(text),
            Self::Country => CountryCode::reduce(text),
        }
    }
}

/// An integer from 0 to `max`; past it the value is an error, not data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Counter {
    #[schema(example = 100_000)]
    pub(super) max: u64,
}

impl Counter {
    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn admits(&self, value: i64) -> bool {
        u64::try_from(value).is_ok_and(|value| value <= self.max)
    }
}

/// A number kept as count, sum and a histogram: `buckets` are the ascending upper bounds of
/// the buckets (one more bucket holds what lies above the last); below `min` (0 unless
/// declared: durations and sizes are not negative) or past `max` it is an error.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Measure {
    #[schema(example = json!([1, 5, 15, 30, 60]))]
    pub(super) buckets: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max: Option<f64>,
}

impl Measure {
    /// The ascending upper bounds of the buckets.
    pub fn buckets(&self) -> &[f64] {
        &self.buckets
    }

    /// The least value accepted.
    pub fn min(&self) -> f64 {
        self.min.unwrap_or(0.0)
    }

    pub fn max(&self) -> Option<f64> {
        self.max
    }

    /// The bucket `value` falls in: the first whose bound is >= it, or the last, open one.
    pub fn bucket_of(&self, value: f64) -> usize {
        self.buckets.partition_point(|bound| *bound < value)
    }
}

/// A boolean; with `max_entries`, booleans by plain identifier, at most that many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Flag {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_entries: Option<usize>,
}

impl Flag {
    /// `None` for a single boolean.
    pub fn max_entries(&self) -> Option<usize> {
        self.max_entries
    }
}

/// Counts by key, at most `max_entries` keys, each count from 0 to `max`. Keys are plain
/// identifiers, or the values of the dimension `keys` names (outside its allow-list: `other`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CountMap {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) keys: Option<String>,
    pub(super) max_entries: usize,
    pub(super) max: u64,
}

impl CountMap {
    /// The dimension whose allow-list the keys are folded by, if any.
    pub fn keys(&self) -> Option<&str> {
        self.keys.as_deref()
    }

    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    pub fn max(&self) -> u64 {
        self.max
    }
}

/// One property of an event type: any of the kinds a product's own fields have.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Field {
    Dimension(Dimension),
    Counter(Counter),
    Measure(Measure),
    Flag(Flag),
    CountMap(CountMap),
}
