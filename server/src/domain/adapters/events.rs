//! Stories' format: batches of events (`POST /api/events/batch`) and crash reports
//! (`POST /api/crashes`), each added to its installation's day.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::body::{fingerprint, json_object};
use super::fold::{join, Folder};
use crate::domain::activity::{ClientId, Folded, Merge};
use crate::domain::{Identifier, Product, RejectedSubmission, OTHER};

/// The event type a crash report is counted as.
const CRASH: &str = "crash";

/// `{"user_id": "...", "events": [{"event_type", "timestamp", "properties"}, ...]}`.
pub fn fold_batch(
    body: &[u8],
    product: &'static Product,
    now: DateTime<Utc>,
) -> Result<Folded, RejectedSubmission> {
    let body = json_object(body)?;
    let mut folder = Folder::default();
    folder.drop_unknown(&body, &["user_id", "events"]);
    let user = folder.client_id(body.get("user_id"), &["user_id"]);
    let mut accepted = Vec::new();
    for (index, event) in folder
        .events(body.get("events"), &["events"])
        .iter()
        .enumerate()
    {
        let index = index.to_string();
        let loc = ["events", index.as_str()];
        let Some(event) = folder.object(Some(event), &loc) else {
            continue;
        };
        folder.drop_unknown(event, &["event_type", "timestamp", "properties"]);
        let event_type = folder.string(event.get("event_type"), &join(&loc, &["event_type"]));
        let day = folder.day(event.get("timestamp"), &join(&loc, &["timestamp"]), now);
        let properties_loc = join(&loc, &["properties"]);
        let properties = folder.object(event.get("properties"), &properties_loc);
        let Some(event_type) = event_type else {
            continue;
        };
        folder.row(user.as_ref().zip(day));
        let properties = properties
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v));
        if let Some(kept) = folder.event(product, event_type, properties, &properties_loc) {
            accepted.push(json!({
                "event_type": event_type,
                "timestamp": event.get("timestamp"),
                "properties": kept,
            }));
        }
    }
    let content = json!({ "user_id": user.as_ref().map(ClientId::as_str), "events": accepted });
    let fingerprint = fingerprint(product.name(), &content);
    folder.finish(product, Merge::Add, Some(fingerprint))
}

/// `{"error_message", "stack_trace", "app_version", "os_version", "timestamp", "user_id"}`,
/// counted as one event of the product's `crash` type. The message and the stack trace hold
/// paths and user names: only the message's error type is read, and neither is kept, logged,
/// hashed or echoed.
pub fn fold_crash(
    body: &[u8],
    product: &'static Product,
    now: DateTime<Utc>,
) -> Result<Folded, RejectedSubmission> {
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
    let day = folder.day(body.get("timestamp"), &["timestamp"], now);
    let error_type = folder
        .string(body.get("error_message"), &["error_message"])
        .map(|message| {
            error_type(message).unwrap_or_else(|| {
                folder.other();
                OTHER.to_owned()
            })
        });
    let error_type = error_type.map(Value::String);
    let properties = [
        ("error_type", error_type.as_ref()),
        ("app_version", body.get("app_version")),
        ("os_version", body.get("os_version")),
    ];
    let properties = properties
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name, value)));
    folder.row(user.as_ref().zip(day));
    let accepted = folder.event(product, CRASH, properties, &[]);
    // The folded values only: never the message.
    let content = json!({
        "user_id": user.as_ref().map(ClientId::as_str),
        "timestamp": body.get("timestamp"),
        "crash": accepted,
    });
    let fingerprint = fingerprint(product.name(), &content);
    folder.finish(product, Merge::Add, Some(fingerprint))
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
