//! The read model: what every reader of the statistics sees, loaded from the daily tables
//! (through `store`) into typed figures. `/stats/*` (Printernizer's compatibility view) and
//! `/api/v1/*` serialise them, the maintainers' page reads those routes, the e-mailed digests
//! render the figures, and the public overview keeps a copy: nothing parses JSON back, and
//! nothing here knows HTTP.
//!
//! - `snapshot`: today's distributions and headline numbers (`Snapshot`), series of days
//!   (`Series`): what "now" and "active" mean.
//! - `figures`, `trends`, `anomalies`: the dashboard's figures and checks, built from those.
//! - `series`: any product's metrics, dimensions, measures, events and outcomes per day, read
//!   by key (`keys`) as its cadence says (`Source`), in the shapes of `points`; `aliases`:
//!   Printernizer's names from before the catalog.
//! - `overview`: the public overview, small cells merged.
//! - `versions`: the semantic order of versions.

mod aliases;
pub mod anomalies;
pub mod figures;
mod keys;
mod overview;
mod points;
pub mod series;
mod snapshot;
mod source;
pub mod trends;
mod versions;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

use crate::store::StoreError;

pub use anomalies::{anomalies, Anomalies, Anomaly};
pub use overview::{overview, Overview};
pub use snapshot::{Series, Snapshot};
pub use source::Source;

/// Why a figure could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The product declares nothing of that name (the message says what was looked for).
    #[error("{0}")]
    Unknown(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Timestamps in the figures: RFC 3339, whole seconds, `Z` (the contract's form).
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn timestamp<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(*at))
}

fn timestamp_opt<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => timestamp(at, serializer),
        None => serializer.serialize_none(),
    }
}
