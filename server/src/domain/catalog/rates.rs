//! A product's rates: ratios the dashboards want that no single key holds. Each is declared by
//! name in the catalog and resolved, once, to the keys of the daily tables it divides.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::activity::key;

/// A declared rate, checked against what its product declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Rate {
    /// Per day: the numerator's amount over the sum of the denominator's events (null when
    /// that sum is 0).
    Ratio {
        /// A flag's path (`transcription_completed.success`) or an event type.
        #[schema(example = "transcription_completed.success")]
        numerator: String,
        /// Event types.
        #[schema(example = json!(["transcription_completed", "transcription_failed"]))]
        denominator: Vec<String>,
    },
    /// Per window: 1 − installations with this event type / active installations.
    InstallationsWithout {
        #[schema(example = "crash")]
        installations_without: String,
    },
}

impl Rate {
    /// The `activity_daily` key of a ratio's numerator: a flag's (`flag/<path>`) when the
    /// numerator has a `.`, else its event type's.
    pub fn numerator_key(numerator: &str) -> String {
        if numerator.contains('.') {
            key::flag(numerator)
        } else {
            key::event(numerator)
        }
    }
}
