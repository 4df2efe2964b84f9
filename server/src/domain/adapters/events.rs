//! Stories' format: batches of events (`POST /api/events/batch`) and crash reports
//! (`POST /api/crashes`), each added to its installation's day.

use chrono::{DateTime, Utc};
use std::borrow::Cow;

use super::body::{json_object, Fingerprint};
use super::fold::Folder;
use super::json::{Json, Object};
use super::parts;
use crate::domain::activity::{ClientId, Folded, Merge, Unusable};
use crate::domain::{Identifier, Product, Rejected};

/// The event type a crash report is counted as.
const CRASH: &str = "crash";

/// `{"user_id": "...", "events": [{"event_type", "timestamp", "properties"}, ...]}`. An event
/// that cannot be used is dropped and counted; the rest of the batch is kept.
pub fn fold_batch(
    body: &[u8],
    product: &'static Product,
    now: DateTime<Utc>,
) -> Result<Folded, Rejected> {
    let body = json_object(body)?;
    let mut folder = Folder::default();
    folder.drop_unknown(&body, &["user_id", "events"]);
    let user = folder.client_id(body.get("user_id"), &["user_id"]);
    let mut fingerprint = Fingerprint::of(product.name());
    fingerprint.add(&user.as_ref().map(ClientId::as_str));
    for event in folder.events(body.get("events"), &["events"]) {
        if let Err(why) = fold_event(
            &mut folder,
            product,
            user.as_ref(),
            event,
            now,
            &mut fingerprint,
        ) {
            folder.reject(why);
        }
    }
    folder.finish(product, Merge::Add, Some(fingerprint.finish()))
}

/// One event of a batch into its installation's day, and its accepted content into the
/// fingerprint if its type is declared.
fn fold_event(
    folder: &mut Folder,
    product: &Product,
    user: Option<&ClientId>,
    event: &Json<'_>,
    now: DateTime<Utc>,
    fingerprint: &mut Fingerprint,
) -> Result<(), Unusable> {
    let event = parts::object(event)?;
    folder.drop_unknown(event, &["event_type", "timestamp", "properties"]);
    let event_type = parts::name(event.get("event_type"))?;
    let properties = parts::properties(event.get("properties"))?;
    let day = parts::day(event.get("timestamp"), now)?;
    folder.row(user.map(|user| (user, day)));
    let properties = properties.into_iter().flat_map(Object::iter);
    if let Some(kept) = folder.event(product, event_type, properties) {
        fingerprint.add(&(event_type, event.get("timestamp"), kept));
    }
    Ok(())
}

/// `{"error_message", "stack_trace", "app_version", "os_version", "timestamp", "user_id"}`,
/// counted as one event of the product's `crash` type. The message and the stack trace hold
/// paths and user names: only the message's error type is read, and neither is kept, logged,
/// hashed or echoed. A crash whose time cannot be used is dropped and counted, like an event.
pub fn fold_crash(
    body: &[u8],
    product: &'static Product,
    now: DateTime<Utc>,
) -> Result<Folded, Rejected> {
    let body = json_object(body)?;
    let mut folder = Folder::default();
    folder.drop_unknown(
        &body,
        &[
            "error_message",
            "stack_trace",
            "app_version",
            "os_version",
            "timestamp",
            "user_id",
        ],
    );
    let user = folder.client_id(body.get("user_id"), &["user_id"]);
    // No error type is not a string: the dimension stores it as `other`.
    let error_type = body
        .get("error_message")
        .and_then(Json::as_str)
        .and_then(error_type)
        .map_or(Json::Null, |error| Json::String(Cow::Owned(error)));
    let accepted = match parts::day(body.get("timestamp"), now) {
        Ok(day) => {
            folder.row(user.as_ref().map(|user| (user, day)));
            fold_crash_event(&mut folder, product, &body, &error_type)
        }
        Err(why) => {
            folder.reject(why);
            None
        }
    };
    // The folded values only: never the message.
    let mut fingerprint = Fingerprint::of(product.name());
    fingerprint.add(&(
        user.as_ref().map(ClientId::as_str),
        body.get("timestamp"),
        accepted,
    ));
    folder.finish(product, Merge::Add, Some(fingerprint.finish()))
}

/// A crash as an event of the `crash` type: its error type (`other` when the message names
/// none, or is missing) and versions.
fn fold_crash_event<'v>(
    folder: &mut Folder,
    product: &Product,
    body: &'v Object<'v>,
    error_type: &'v Json<'v>,
) -> Option<Vec<(&'v str, &'v Json<'v>)>> {
    let properties = [
        ("error_type", Some(error_type)),
        ("app_version", body.get("app_version")),
        ("os_version", body.get("os_version")),
    ];
    let properties = properties
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name, value)));
    folder.event(product, CRASH, properties)
}

/// The part of a crash message before its first `:`, lowercased, when it is shaped like an
/// error's name: a class (`TypeError`, `DOMException`) or an errno code (`ENOENT`). Anything
/// else before a colon can be a user's or a machine's name (`annabelle: permission denied`).
fn error_type(message: &str) -> Option<String> {
    let head = message
        .split_once(':')
        .map_or(message, |(head, _)| head)
        .trim();
    let class = head.ends_with("Error") || head.ends_with("Exception");
    let errno = head.len() > 1
        && head.starts_with('E')
        && head
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let lower = head.to_ascii_lowercase();
    ((class || errno) && Identifier::is_valid(&lower)).then_some(lower)
}
