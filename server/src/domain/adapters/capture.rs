//! PostHog-style capture (franklinwh): one event at `/capture/`, a list at `/batch/`, the
//! product's key in the body's `api_key`. A body with `batch` is a list on either route.
//!
//! PostHog's own properties (`$ip` above all) are dropped, never stored nor hashed. A batch may
//! carry several installations (`distinct_id`), each with its own rows.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::body::{fingerprint, json_object};
use super::fold::{join, Folder};
use crate::domain::activity::{ClientId, Folded, Merge};
use crate::domain::{FieldError, Product, RejectedSubmission};

/// The members of one event; anything else is dropped.
const EVENT_MEMBERS: [&str; 5] = ["event", "properties", "distinct_id", "timestamp", "uuid"];

/// A capture body whose key can be checked before its events are read.
pub struct Capture {
    api_key: String,
    /// The body without its key.
    body: Map<String, Value>,
}

/// By hand: neither the key nor the body (an address in `$ip`) may reach a log.
impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture").finish_non_exhaustive()
    }
}

/// A JSON object with a string `api_key`; its events are read by `Capture::fold`.
pub fn read(body: &[u8]) -> Result<Capture, RejectedSubmission> {
    let mut body = json_object(body)?;
    let refused = |msg: &str, kind: &str| {
        RejectedSubmission::Invalid(vec![FieldError::new(&["api_key"], msg, kind)])
    };
    match body.remove("api_key") {
        Some(Value::String(api_key)) => Ok(Capture { api_key, body }),
        Some(_) => Err(refused("must be a string", "type_error")),
        None => Err(refused("field required", "missing")),
    }
}

impl Capture {
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub fn fold(
        self,
        product: &'static Product,
        now: DateTime<Utc>,
    ) -> Result<Folded, RejectedSubmission> {
        let mut folder = Folder::default();
        let mut accepted = Vec::new();
        // A resend can be told from a new event only by the event's own time or id: a CLI
        // running `status` twice sends two identical bodies that are two events.
        let mut identified = true;
        match self.body.get("batch") {
            Some(batch) => {
                folder.drop_unknown(&self.body, &["batch"]);
                for (index, event) in folder.events(Some(batch), &["batch"]).iter().enumerate() {
                    let index = index.to_string();
                    let loc = ["batch", index.as_str()];
                    if let Some(event) = folder.object(Some(event), &loc) {
                        identified &= has_time_or_id(event);
                        accepted.extend(fold_event(&mut folder, product, event, &loc, now));
                    }
                }
            }
            None => {
                identified = has_time_or_id(&self.body);
                accepted.extend(fold_event(&mut folder, product, &self.body, &[], now));
            }
        }
        let fingerprint = identified.then(|| fingerprint(product.name(), &Value::Array(accepted)));
        folder.finish(product, Merge::Add, fingerprint)
    }
}

/// One event into its installation's day; its accepted content if its type is declared.
fn fold_event(
    folder: &mut Folder,
    product: &Product,
    event: &Map<String, Value>,
    loc: &[&str],
    now: DateTime<Utc>,
) -> Option<Value> {
    folder.drop_unknown(event, &EVENT_MEMBERS);
    let name = folder.string(event.get("event"), &join(loc, &["event"]));
    let properties_loc = join(loc, &["properties"]);
    let properties = folder.object(event.get("properties"), &properties_loc);
    // The installation: `distinct_id` beside the event wins over the one in its properties.
    let installation = match event.get("distinct_id") {
        Some(id) => folder.client_id(Some(id), &join(loc, &["distinct_id"])),
        None => folder.client_id(
            properties.and_then(|properties| properties.get("distinct_id")),
            &join(loc, &["properties", "distinct_id"]),
        ),
    };
    let day = match event.get("timestamp") {
        Some(timestamp) => folder.day(Some(timestamp), &join(loc, &["timestamp"]), now),
        None => Some(now.date_naive()),
    };
    if let Some(uuid) = event.get("uuid") {
        let uuid_loc = join(loc, &["uuid"]);
        let text = folder.string(Some(uuid), &uuid_loc);
        if text.is_some_and(|text| uuid::Uuid::try_parse(text).is_err()) {
            folder.error(&uuid_loc, "must be a UUID", "uuid");
        }
    }
    let name = name?;
    // `$` marks PostHog's own properties (`$ip`, `$lib`): never ours to keep.
    let (own, properties): (Vec<_>, Vec<_>) = properties
        .into_iter()
        .flatten()
        .filter(|(property, _)| *property != "distinct_id")
        .map(|(property, value)| (property.as_str(), value))
        .partition(|(property, _)| property.starts_with('$'));
    folder.row(installation.as_ref().zip(day));
    let kept = folder.event(product, name, properties, &properties_loc)?;
    folder.drop(own.len() as u64);
    Some(json!({
        "distinct_id": installation.as_ref().map(ClientId::as_str),
        "event": name,
        "timestamp": event.get("timestamp"),
        "uuid": event.get("uuid"),
        "properties": kept,
    }))
}

fn has_time_or_id(event: &Map<String, Value>) -> bool {
    event.contains_key("timestamp") || event.contains_key("uuid")
}
