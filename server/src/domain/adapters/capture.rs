//! PostHog-style capture (franklinwh): one event at `/capture/`, a list at `/batch/`, the
//! product's key in the body's `api_key`. A body with `batch` is a list on either route.
//!
//! PostHog's own properties (`$ip` above all) are dropped, never stored nor hashed. A batch may
//! carry several installations (`distinct_id`), each with its own rows. An event that cannot be
//! used is dropped and counted, the rest kept; a request none of whose events has a usable
//! installation id is refused.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::body::{fingerprint, json_object};
use super::fold::Folder;
use super::parts;
use crate::domain::activity::{Folded, Merge, Unusable};
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
        // Events without a usable installation id, of how many.
        let (mut anonymous, mut events) = (0, 0);
        let (list, id_loc): (Vec<_>, &[&str]) = match self.body.get("batch") {
            Some(batch) => {
                folder.drop_unknown(&self.body, &["batch"]);
                let list = folder.events(Some(batch), &["batch"]);
                (list.iter().map(parts::object).collect(), &["batch"])
            }
            None => (vec![Ok(&self.body)], &["distinct_id"]),
        };
        for event in list {
            events += 1;
            let folded = event.and_then(|event| {
                let kept = fold_event(&mut folder, product, event, now)?;
                identified &= has_time_or_id(event);
                Ok(kept)
            });
            match folded {
                Ok(kept) => accepted.extend(kept),
                Err(why) => {
                    anonymous += u64::from(why == Unusable::Installation);
                    folder.reject(why);
                }
            }
        }
        if events > 0 && anonymous == events {
            folder.error(id_loc, "no event has a usable distinct_id", "client_id");
        }
        let fingerprint = identified.then(|| fingerprint(product.name(), &Value::Array(accepted)));
        folder.finish(product, Merge::Add, fingerprint)
    }
}

/// One event into its installation's day: its accepted content if its type is declared, or
/// why it cannot be used.
fn fold_event(
    folder: &mut Folder,
    product: &Product,
    event: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Option<Value>, Unusable> {
    let properties = parts::properties(event.get("properties"))?;
    // The installation: `distinct_id` beside the event wins over the one in its properties.
    let installation = parts::installation(
        event
            .get("distinct_id")
            .or_else(|| properties.and_then(|properties| properties.get("distinct_id"))),
    )?;
    folder.drop_unknown(event, &EVENT_MEMBERS);
    let name = parts::name(event.get("event"))?;
    let day = match event.get("timestamp") {
        Some(timestamp) => parts::day(Some(timestamp), now)?,
        None => now.date_naive(),
    };
    if let Some(uuid) = event.get("uuid") {
        let text = uuid.as_str().ok_or(Unusable::Shape)?;
        uuid::Uuid::try_parse(text).map_err(|_| Unusable::Shape)?;
    }
    // `$` marks PostHog's own properties (`$ip`, `$lib`): never ours to keep.
    let (own, properties): (Vec<_>, Vec<_>) = properties
        .into_iter()
        .flatten()
        .filter(|(property, _)| *property != "distinct_id")
        .map(|(property, value)| (property.as_str(), value))
        .partition(|(property, _)| property.starts_with('$'));
    folder.row(Some((&installation, day)));
    let Some(kept) = folder.event(product, name, properties) else {
        return Ok(None);
    };
    folder.drop(own.len() as u64);
    Ok(Some(json!({
        "distinct_id": installation.as_str(),
        "event": name,
        "timestamp": event.get("timestamp"),
        "uuid": event.get("uuid"),
        "properties": kept,
    })))
}

fn has_time_or_id(event: &Map<String, Value>) -> bool {
    event.contains_key("timestamp") || event.contains_key("uuid")
}
