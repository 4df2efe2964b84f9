//! Reading a body's members, each refused with its loc: the JSON object itself, required
//! strings, installation ids, event times and lists; and the fingerprint of what was accepted.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::fold::Folder;
use super::json::{self, Json, Object};
use crate::domain::activity::ClientId;
use crate::domain::{parse_datetime, Rejected};

/// The most events one request may carry.
const MAX_EVENTS: usize = 1000;
/// Events older than this are refused: their day may already be rolled up.
const MAX_EVENT_AGE_DAYS: i64 = 30;
/// Clients' clocks run a little ahead; further ahead is a wrong clock, not a time.
const MAX_CLOCK_AHEAD_MINUTES: i64 = 10;

impl Folder {
    /// A required list of 1 to `MAX_EVENTS` events.
    pub(super) fn events<'v>(
        &mut self,
        value: Option<&'v Json<'v>>,
        loc: &[&str],
    ) -> &'v [Json<'v>] {
        match value {
            None => self.missing(loc),
            Some(Json::Array(list)) if (1..=MAX_EVENTS).contains(&list.len()) => return list,
            Some(_) => self.error(
                loc,
                format!("must be a list of 1 to {MAX_EVENTS} events"),
                "length",
            ),
        }
        &[]
    }

    /// Members of `map` other than `known`: not declared, dropped.
    pub(super) fn drop_unknown(&mut self, map: &Object<'_>, known: &[&str]) {
        let unknown = map.keys().filter(|name| !known.contains(name));
        self.drop(unknown.count() as u64);
    }

    pub(super) fn missing(&mut self, loc: &[&str]) {
        self.error(loc, "field required", "missing");
    }

    /// A required string member, or an error.
    pub(super) fn string<'v>(
        &mut self,
        value: Option<&'v Json<'_>>,
        loc: &[&str],
    ) -> Option<&'v str> {
        match value {
            None => self.missing(loc),
            Some(Json::String(text)) => return Some(text),
            Some(_) => self.error(loc, "must be a string", "type_error"),
        }
        None
    }

    /// An installation's anonymous id as the client sends it.
    pub(super) fn client_id(&mut self, value: Option<&Json<'_>>, loc: &[&str]) -> Option<ClientId> {
        let id = ClientId::parse(self.string(value, loc)?);
        if id.is_none() {
            self.error(loc, ClientId::rule(), "client_id");
        }
        id
    }

    /// The UTC day of a required datetime member.
    pub(super) fn day(
        &mut self,
        value: Option<&Json<'_>>,
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
        value: Option<&'v Json<'v>>,
        loc: &[&str],
    ) -> Option<&'v Object<'v>> {
        match value? {
            Json::Object(map) => Some(map),
            _ => {
                self.error(loc, "must be an object", "type_error");
                None
            }
        }
    }
}

/// The UTC day of an event's time, if it lies in the window still open for counting.
pub(super) fn event_day(text: &str, now: DateTime<Utc>) -> Result<NaiveDate, &'static str> {
    corrected_event_day(text, now, Duration::zero())
}

/// As `event_day`, for a time written by a clock `skew` behind ours.
pub(super) fn corrected_event_day(
    text: &str,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<NaiveDate, &'static str> {
    const RULE: &str = "must be an RFC 3339 datetime such as 2025-12-10T10:00:00Z";
    let at = parse_datetime(text)
        .and_then(|written| written.checked_add_signed(skew))
        .ok_or(RULE)?;
    if at < now - Duration::days(MAX_EVENT_AGE_DAYS) {
        return Err("must not be more than 30 days in the past");
    }
    if at > now + Duration::minutes(MAX_CLOCK_AHEAD_MINUTES) {
        return Err("must not be more than 10 minutes in the future");
    }
    Ok(at.date_naive())
}

/// A digest of a request's accepted content, told apart by product, fed one piece at a time
/// as the adapter accepts it, so that nothing is copied or assembled to be hashed. An object's
/// members are sorted (`json::Object`) and a piece's members are fed in that
/// order, so the same content gives the same digest whatever order its client wrote them in.
pub(super) struct Fingerprint {
    hasher: Sha256,
    /// A piece's JSON, hashed whole: the serializer writes a piece in many small parts (a
    /// quote, a name, a colon), and the hasher took each in a call of its own.
    piece: Vec<u8>,
}

impl Fingerprint {
    pub(super) fn of(product: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(product.as_bytes());
        hasher.update([0]);
        Self {
            hasher,
            piece: Vec::new(),
        }
    }

    /// One piece as JSON, then a newline: no piece's JSON holds one, so pieces cannot run
    /// into each other (`1`, `2` is not `12`).
    pub(super) fn add(&mut self, piece: &impl Serialize) {
        self.piece.clear();
        // Cannot fail: the pieces are strings, JSON values and lists of them, written to memory.
        let _written = serde_json::to_writer(&mut self.piece, piece);
        self.piece.push(b'\n');
        self.hasher.update(&self.piece);
    }

    pub(super) fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }
}

/// A body that is a JSON object, or the 400 that says it is not.
pub(super) fn json_object(body: &[u8]) -> Result<Object<'_>, Rejected> {
    match json(body)? {
        Json::Object(map) => Ok(map),
        _ => Err(Rejected::Malformed("body must be a JSON object".to_owned())),
    }
}

/// A body that is a JSON object or a list (posthog-js's events), or the 400 that says it is not.
pub(super) fn json_object_or_list(body: &[u8]) -> Result<Json<'_>, Rejected> {
    match json(body)? {
        value @ (Json::Object(_) | Json::Array(_)) => Ok(value),
        _ => Err(Rejected::Malformed(
            "body must be a JSON object or a list of events".to_owned(),
        )),
    }
}

fn json(body: &[u8]) -> Result<Json<'_>, Rejected> {
    json::parse(body)
        .map_err(|error| Rejected::Malformed(format!("body is not valid JSON: {error}")))
}
