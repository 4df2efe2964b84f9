//! IndexPilot's daily telemetry report (`POST /api/v1/telemetry`): one report a day, which
//! replaces that day's row when it is sent again. Decided per field: a value off its rule is
//! reduced or `other`, a field whose value cannot be used is dropped alone, each counted; only
//! a report without a usable installation id, time or version, or whose sections are not
//! objects, is refused.
//!
//! `version` and every entry of `metrics` and `environment` are looked up by name among the
//! product's declared fields, so another product of this format may declare other names.

use chrono::{DateTime, Utc};

use super::body::json_object;
use super::fold::{Folder, Scope};
use super::json::{Json, Object};
use crate::domain::activity::{ClientId, Folded, Merge};
use crate::domain::{Product, Rejected};

/// The members read besides the sections of declared fields.
const KNOWN: [&str; 3] = ["installation_id", "timestamp", "version"];
/// The sections whose entries are declared fields, by name.
const SECTIONS: [&str; 2] = ["metrics", "environment"];

/// An installation id is a hex hash of this many characters.
const ID_LEN: std::ops::RangeInclusive<usize> = 16..=64;

pub fn fold(
    body: &[u8],
    product: &'static Product,
    now: DateTime<Utc>,
) -> Result<Folded, Rejected> {
    let body = json_object(body)?;
    let mut folder = Folder::default();
    let installation = installation_id(&mut folder, body.get("installation_id"));
    let day = folder.day(body.get("timestamp"), &["timestamp"], now);
    folder.row(installation.as_ref().zip(day));
    match body.get("version") {
        None => folder.missing(&["version"]),
        Some(value) => field(&mut folder, product, "version", value),
    }
    for section in SECTIONS {
        for (name, value) in folder
            .object(body.get(section), &[section])
            .into_iter()
            .flat_map(Object::iter)
        {
            field(&mut folder, product, name, value);
        }
    }
    let unknown = body
        .keys()
        .filter(|name| !KNOWN.contains(name) && !SECTIONS.contains(name));
    folder.drop(unknown.count() as u64);
    folder.finish(product, Merge::Replace, None)
}

/// A declared field folded under its own name (dropped alone when its value cannot be used);
/// an undeclared one dropped.
fn field(folder: &mut Folder, product: &Product, name: &str, value: &Json<'_>) {
    match product.field(name) {
        Some(declared) => folder.field(Scope::Product(product), name, declared, value),
        None => folder.drop(1),
    }
}

/// 16 to 64 hex characters, either case; kept lowercased so that one installation is one id.
fn installation_id(folder: &mut Folder, value: Option<&Json<'_>>) -> Option<ClientId> {
    let loc = ["installation_id"];
    let text = folder.string(value, &loc)?;
    let id = (ID_LEN.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| ClientId::parse(&text.to_ascii_lowercase()))
        .flatten();
    if id.is_none() {
        folder.error(
            &loc,
            format!(
                "must be {} to {} hex characters",
                ID_LEN.start(),
                ID_LEN.end()
            ),
            "installation_id",
        );
    }
    id
}
