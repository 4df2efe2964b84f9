//! Reading a body's members, each refused with its loc: the JSON object itself, required
//! strings, installation ids, event times and lists; and the fingerprint of what was accepted.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::fold::Folder;
use crate::domain::activity::ClientId;
use crate::domain::{parse_datetime, RejectedSubmission};

/// The most events one request may carry.
const MAX_EVENTS: usize = 1000;
/// Events older than this are refused: their day may already be rolled up.
const MAX_EVENT_AGE_DAYS: i64 = 30;
/// Clients' clocks run a little ahead; further ahead is a wrong clock, not a time.
const MAX_CLOCK_AHEAD_MINUTES: i64 = 10;

impl Folder {
    /// A required list of 1 to `MAX_EVENTS` events.
    pub(super) fn events<'v>(&mut self, value: Option<&'v Value>, loc: &[&str]) -> &'v [Value] {
        match value {
            None => self.missing(loc),
            Some(Value::Array(list)) if (1..=MAX_EVENTS).contains(&list.len()) => return list,
            Some(_) => self.error(
                loc,
                format!("must be a list of 1 to {MAX_EVENTS} events"),
                "length",
            ),
        }
        &[]
    }

    /// Members of `map` other than `known`: not declared, dropped.
    pub(super) fn drop_unknown(&mut self, map: &Map<String, Value>, known: &[&str]) {
        let unknown = map.keys().filter(|name| !known.contains(&name.as_str()));
        self.drop(unknown.count() as u64);
    }

    pub(super) fn missing(&mut self, loc: &[&str]) {
        self.error(loc, "field required", "missing");
    }

    /// A required string member, or an error.
    pub(super) fn string<'v>(&mut self, value: Option<&'v Value>, loc: &[&str]) -> Option<&'v str> {
        match value {
            None => self.missing(loc),
            Some(Value::String(text)) => return Some(text),
            Some(_) => self.error(loc, "must be a string", "type_error"),
        }
        None
    }

    /// An installation's anonymous id as the client sends it.
    pub(super) fn client_id(&mut self, value: Option<&Value>, loc: &[&str]) -> Option<ClientId> {
        let id = ClientId::parse(self.string(value, loc)?);
        if id.is_none() {
            self.error(loc, ClientId::rule(), "client_id");
        }
        id
    }

    /// The UTC day of a required datetime member.
    pub(super) fn day(
        &mut self,
        value: Option<&Value>,
        loc: &[&str],
        now: DateTime<Utc>,
    ) -> Option<NaiveDate> {
        let text = self.string(value, loc)?;
        event_day(text, now)
            .map_err(|msg| self.error(loc, msg, "datetime"))
            .ok()
    }

    /// An optional object member; anything else but an object is an error.
    pub(super) fn object<'v>(
        &mut self,
        value: Option<&'v Value>,
        loc: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        match value? {
            Value::Object(map) => Some(map),
            _ => {
                self.error(loc, "must be an object", "type_error");
                None
            }
        }
    }
}

/// The UTC day of an event's time, if it lies in the window still open for counting.
pub(super) fn event_day(text: &str, now: DateTime<Utc>) -> Result<NaiveDate, &'static str> {
    let at =
        parse_datetime(text).ok_or("must be an RFC 3339 datetime such as 2025-12-10T10:00:00Z")?;
    if at < now - Duration::days(MAX_EVENT_AGE_DAYS) {
        return Err("must not be more than 30 days in the past");
    }
    if at > now + Duration::minutes(MAX_CLOCK_AHEAD_MINUTES) {
        return Err("must not be more than 10 minutes in the future");
    }
    Ok(at.date_naive())
}

/// A digest of a request's accepted content, told apart by product. `Value`'s maps are
/// sorted (serde_json's `preserve_order` is off), so the same content gives the same digest
/// whatever order its client wrote the members in.
pub(super) fn fingerprint(product: &str, content: &Value) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(product.as_bytes());
    hasher.update([0]);
    hasher.update(content.to_string().as_bytes());
    hasher.finalize().into()
}

/// A body that is a JSON object, or the 400 that says it is not.
pub(super) fn json_object(body: &[u8]) -> Result<Map<String, Value>, RejectedSubmission> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(RejectedSubmission::Malformed(
            "body must be a JSON object".to_owned(),
        )),
        Err(error) => Err(RejectedSubmission::Malformed(format!(
            "body is not valid JSON: {error}"
        ))),
    }
}
