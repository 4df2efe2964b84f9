//! The one internal shape of every product: what one installation did on one UTC day, or what
//! its report said, reduced to numbers under keys. Wire adapters (`adapters/`) fold bodies
//! into it; the writer adds it (events) or puts it in place (reports) in one row per
//! installation per day; the rollup sums the keys. No event ever gets a row of its own.
//!
//! A key names what it counts, built only by the functions below so that the adapters that
//! write a key and the queries that read it cannot disagree. A *path* is a field's name
//! (`os`) or an event type's property (`transcription_completed.duration`). Values of
//! dimensions and keys of flags and count maps are identifiers, versions or country codes,
//! none of which holds a `/`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

use super::InstallationId;

/// An installation's anonymous id as a product's client sends it: 8 to 64 characters from
/// `A-Z a-z 0-9 - _` (a UUID, a hex hash, a random token). No `@`, `.`, `/` or space, so it
/// cannot be an e-mail address, a host name or a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 64;

    pub fn parse(text: &str) -> Option<Self> {
        ((Self::MIN_LEN..=Self::MAX_LEN).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')))
        .then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What a valid id is, for a field error.
    pub fn rule() -> String {
        format!(
            "must be {} to {} letters, digits, - or _",
            Self::MIN_LEN,
            Self::MAX_LEN
        )
    }
}

/// A UUID is one: an installation of a format that sends UUIDs keeps its lowercase hyphenated
/// form.
impl From<InstallationId> for ClientId {
    fn from(id: InstallationId) -> Self {
        Self(id.to_string())
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a new row meets the one stored for the same installation and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Events: every key is added to what is stored.
    Add,
    /// A report: a resend on the same day (of the same period, for a report with one)
    /// replaces the stored one.
    Replace,
}

/// What a report of a format with periods (Printernizer's weekly one) says of itself besides
/// its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// With the installation, the report's identity: a resend of the same period replaces it.
    pub start: DateTime<Utc>,
    /// The report counts on the UTC day its period ends: its row's day.
    pub end: DateTime<Utc>,
}

/// Numbers under keys (see the module doc): event counts, sums, histogram buckets.
pub type Counts = BTreeMap<String, f64>;

/// One installation's day of one product.
#[derive(Debug, Clone, PartialEq)]
pub struct DayRow {
    pub installation: ClientId,
    pub day: NaiveDate,
    pub counts: Counts,
}

/// What one request brought, folded: the rows it adds or replaces, and what was dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Folded {
    pub product: &'static str,
    pub merge: Merge,
    /// At most one per installation and day; exactly one for a `report`.
    pub rows: Vec<DayRow>,
    /// The report's period, for a format whose reports cover one.
    pub report: Option<Report>,
    /// A digest of the request's accepted content: a request seen before with the same
    /// fingerprint (a resent batch) is not counted again. `None` when a resend cannot be told
    /// from a new request (events without their own time or id), or when `merge` is `Replace`.
    pub fingerprint: Option<[u8; 32]>,
    /// Fields, properties and events the catalog does not declare: dropped, never stored.
    pub dropped: u64,
    /// Values outside their allow-list, or of which their rule could keep nothing, stored as
    /// `other`.
    pub others: u64,
    /// Values reduced by their rule to the part it admits (`macOS 14.1` -> `14.1`).
    pub normalised: u64,
    /// Events dropped whole because they could not be used, by why; the rest was kept.
    pub events_rejected: BTreeMap<Unusable, u64>,
    /// Fields of a daily report dropped because their value could not be used; the rest of
    /// the report was kept.
    pub fields_rejected: u64,
}

/// Why an event (or a field of a daily report) could not be used. A client cannot mend a batch
/// after the fact, so such an event is dropped and counted, and the rest of its request kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unusable {
    /// Not the structure of its format: not an object, no name, a value of the wrong type.
    Shape,
    /// A number outside its declared bounds, or more entries than declared.
    Range,
    /// Its time is missing, unreadable, or outside the window still open for counting.
    Time,
    /// No usable installation id.
    Installation,
}

/// The keys of `Counts`. Every function here is the only place its key's form is spelled.
pub mod key {
    // Keys are made for every value of every event: `concat` (one allocation, one copy) rather
    // than `format!`, whose machinery showed as a tenth of a capture request's CPU.

    /// Events of a type.
    pub fn event(event_type: &str) -> String {
        ["event/", event_type].concat()
    }

    /// Events (or reports) whose dimension at `path` had `value`.
    pub fn dimension(path: &str, value: &str) -> String {
        ["dim/", path, "/", value].concat()
    }

    /// Whether `key` is a dimension's value (`dimension`).
    pub fn is_dimension(key: &str) -> bool {
        key.starts_with("dim/")
    }

    /// The sum of a counter.
    pub fn counter(path: &str) -> String {
        ["counter/", path].concat()
    }

    /// How many values a measure received.
    pub fn measure_count(path: &str) -> String {
        ["measure/", path, "/count"].concat()
    }

    /// The sum of a measure's values.
    pub fn measure_sum(path: &str) -> String {
        ["measure/", path, "/sum"].concat()
    }

    /// Values in bucket `index` of a measure: bucket i holds values <= bounds[i] and above
    /// bounds[i - 1]; bucket `bounds.len()` holds what lies above the last bound.
    pub fn measure_bucket(path: &str, index: usize) -> String {
        // Sized once: `format!` grew the key as it wrote it, a copy each time.
        let index = index.to_string();
        ["measure/", path, "/bucket/", &index].concat()
    }

    /// Times a boolean flag was on.
    pub fn flag(path: &str) -> String {
        ["flag/", path].concat()
    }

    /// Times the flag `entry` of a flag set was on.
    pub fn flag_entry(path: &str, entry: &str) -> String {
        ["flag/", path, "/", entry].concat()
    }

    /// The sum of a count map's entry.
    pub fn count_map(path: &str, entry: &str) -> String {
        ["map/", path, "/", entry].concat()
    }

    /// The path of an event type's property.
    pub fn property(event_type: &str, property: &str) -> String {
        [event_type, ".", property].concat()
    }

    /// What a key counts, as the functions above spell it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Kind {
        Event,
        Dimension,
        Counter,
        Measure,
        Flag,
        CountMap,
    }

    /// A key read back: its kind, its path, and what follows the path (a dimension's value, a
    /// flag set's or a count map's entry, a measure's part), if anything.
    pub fn parse(key: &str) -> Option<(Kind, &str, Option<&str>)> {
        let (kind, rest) = key.split_once('/')?;
        let kind = match kind {
            "event" => Kind::Event,
            "dim" => Kind::Dimension,
            "counter" => Kind::Counter,
            "measure" => Kind::Measure,
            "flag" => Kind::Flag,
            "map" => Kind::CountMap,
            _ => return None,
        };
        Some(match rest.split_once('/') {
            Some((path, entry)) => (kind, path, Some(entry)),
            None => (kind, rest, None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_reads_back_as_the_kind_path_and_entry_it_was_made_of() {
        use key::{parse, Kind};
        let cases = [
            (key::event("app_opened"), (Kind::Event, "app_opened", None)),
            (
                key::dimension("os", "linux"),
                (Kind::Dimension, "os", Some("linux")),
            ),
            (key::counter("jobs"), (Kind::Counter, "jobs", None)),
            (
                key::measure_bucket("crash.duration", 3),
                (Kind::Measure, "crash.duration", Some("bucket/3")),
            ),
            (key::flag("dark_mode"), (Kind::Flag, "dark_mode", None)),
            (
                key::flag_entry("features", "library"),
                (Kind::Flag, "features", Some("library")),
            ),
            (
                key::count_map("errors", "total_errors"),
                (Kind::CountMap, "errors", Some("total_errors")),
            ),
        ];
        for (made, read) in cases {
            assert_eq!(parse(&made), Some(read), "{made}");
        }
        assert_eq!(parse("unheard/of"), None);
    }

    #[test]
    fn client_ids_take_uuids_and_hashes_and_refuse_addresses_and_paths() {
        for good in [
            "0c6f2a6e-8d0b-4c53-9d55-1a0f2f6a9a11",
            "a3f5b2c1d4e6f7a8",
            "user_Abc-123",
        ] {
            assert!(ClientId::parse(good).is_some(), "{good}");
        }
        for bad in [
            "short",
            "me@example.com",
            "/home/bob/x",
            "10.0.0.1",
            "has space in",
            &"a".repeat(65),
        ] {
            assert!(ClientId::parse(bad).is_none(), "{bad}");
        }
    }
}
