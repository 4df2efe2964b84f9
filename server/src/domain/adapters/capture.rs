//! PostHog's capture format (franklinwh, and PostHog's own SDKs): one event, a `batch` of them
//! beside the key, or posthog-js's bare list. The product's key is the body's `api_key`,
//! `token` or `$token`, or each event's (`properties.token` included); `sent_at` (or the
//! query's `_`) corrects the client's clock.
//!
//! PostHog's own properties (`$ip` above all) are dropped, never stored nor hashed; so are its
//! own events (`$identify`, `$set`, `$pageview`, ...), which may carry a person's e-mail
//! address: they are counted as dropped and nothing of them is read. A batch may carry several
//! installations (`distinct_id`), each with its own rows. An event that cannot be used is
//! dropped and counted, the rest kept; a request none of whose events has a usable
//! installation id is refused.

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use super::body::{json_object_or_list, Fingerprint};
use super::fold::Folder;
use super::json::{Json, Object};
use super::parts;
use crate::domain::activity::{Folded, Merge, Unusable};
use crate::domain::{parse_datetime, FieldError, Product, Rejected};

/// The members of one event (a single event is its own envelope); anything else is dropped.
const EVENT_MEMBERS: [&str; 9] = [
    "event",
    "properties",
    "distinct_id",
    "timestamp",
    "uuid",
    "sent_at",
    "api_key",
    "token",
    "$token",
];
/// Where PostHog's clients put the project's key, in the body or in an event.
const KEY_MEMBERS: [&str; 3] = ["api_key", "token", "$token"];
/// A batch body's own members beside its events.
const BATCH_MEMBERS: [&str; 5] = ["batch", "sent_at", "api_key", "token", "$token"];

/// A capture body whose key can be checked before its events are read.
pub struct Capture<'a> {
    api_key: String,
    /// The body: one event, an object with `batch`, or a list of events.
    body: Json<'a>,
    /// When the client sent the request, by its own clock.
    sent_at: Option<DateTime<Utc>>,
}

/// By hand: neither the key nor the body (an address in `$ip`) may reach a log.
impl fmt::Debug for Capture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture").finish_non_exhaustive()
    }
}

/// A JSON object or list that carries a key; its events are read by `Capture::fold`.
pub fn read(body: &[u8]) -> Result<Capture<'_>, Rejected> {
    let body = json_object_or_list(body)?;
    let api_key = key_of(&body)?;
    let sent_at = body
        .get("sent_at")
        .and_then(Json::as_str)
        .and_then(parse_datetime);
    Ok(Capture {
        api_key,
        body,
        sent_at,
    })
}

/// The body's key, else its events' key; events that name different keys are refused.
fn key_of(body: &Json<'_>) -> Result<String, Rejected> {
    let refused =
        |msg: &str, kind: &str| Rejected::Invalid(vec![FieldError::new(&["api_key"], msg, kind)]);
    let in_body = body.as_object().and_then(member_key).transpose();
    let mut found = in_body.map_err(|()| refused("must be a string", "type_error"))?;
    for event in events_of(body).iter().filter_map(Json::as_object) {
        let own = member_key(event)
            .or_else(|| {
                let properties = event.get("properties")?.as_object()?;
                properties
                    .get("token")
                    .map(|token| token.as_str().ok_or(()))
            })
            .transpose()
            .map_err(|()| refused("must be a string", "type_error"))?;
        match (found, own) {
            (Some(key), Some(own)) if key != own => {
                return Err(Rejected::Malformed(
                    "the events carry different keys".to_owned(),
                ))
            }
            (None, own) => found = own,
            (key, _) => found = key,
        }
    }
    found
        .map(str::to_owned)
        .ok_or_else(|| refused("field required", "missing"))
}

/// The events of a body: its list, its `batch`, or the body itself.
fn events_of<'v>(body: &'v Json<'v>) -> &'v [Json<'v>] {
    match body {
        Json::Array(list) => list,
        Json::Object(map) => match map.get("batch") {
            Some(Json::Array(list)) => list,
            _ => std::slice::from_ref(body),
        },
        _ => &[],
    }
}

/// The first of `KEY_MEMBERS` present in `map`; `Err` if it is not a string.
fn member_key<'v>(map: &'v Object<'_>) -> Option<Result<&'v str, ()>> {
    KEY_MEMBERS
        .iter()
        .find_map(|name| map.get(name))
        .map(|key| key.as_str().ok_or(()))
}

impl Capture<'_> {
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// posthog-js says when it sent a request in the query (`_`, ms since the epoch), not in
    /// the body; the body's `sent_at` wins.
    pub fn sent_at_or(mut self, sent_at: Option<DateTime<Utc>>) -> Self {
        self.sent_at = self.sent_at.or(sent_at);
        self
    }

    /// Person updates (`/engage`): each one dropped and counted; nothing is read but the key.
    pub fn fold_person_updates(self, product: &'static Product) -> Result<Folded, Rejected> {
        let mut folder = Folder::default();
        folder.drop(events_of(&self.body).len() as u64);
        folder.finish(product, Merge::Add, None)
    }

    pub fn fold(self, product: &'static Product, now: DateTime<Utc>) -> Result<Folded, Rejected> {
        let mut folder = Folder::default();
        let mut fingerprint = Fingerprint::of(product.name());
        // The client's clock is corrected by how far its `sent_at` is from ours, as PostHog
        // does: an event's day is the server's.
        let clock = Clock {
            now,
            skew: self.sent_at.map_or(Duration::zero(), |sent| now - sent),
        };
        // A resend can be told from a new event only by the event's own time or id: a CLI
        // running `status` twice sends two identical bodies that are two events.
        let mut identified = true;
        // Events without a usable installation id, of how many.
        let (mut anonymous, mut events) = (0, 0);
        let (list, id_loc): (&[Json<'_>], &[&str]) = match &self.body {
            Json::Object(body) if body.contains_key("batch") => {
                folder.drop_unknown(body, &BATCH_MEMBERS);
                (folder.events(body.get("batch"), &["batch"]), &["batch"])
            }
            Json::Object(_) => (std::slice::from_ref(&self.body), &["distinct_id"]),
            list => (folder.events(Some(list), &[]), &[]),
        };
        for event in list {
            events += 1;
            let folded = parts::object(event).and_then(|event| {
                fold_event(&mut folder, product, event, clock, &mut fingerprint)?;
                identified &= has_time_or_id(event);
                Ok(())
            });
            if let Err(why) = folded {
                anonymous += u64::from(why == Unusable::Installation);
                folder.reject(why);
            }
        }
        if events > 0 && anonymous == events {
            folder.error(id_loc, "no event has a usable distinct_id", "client_id");
        }
        folder.finish(
            product,
            Merge::Add,
            identified.then(|| fingerprint.finish()),
        )
    }
}

/// The server's time, and how far the client's clock is behind it.
#[derive(Clone, Copy)]
struct Clock {
    now: DateTime<Utc>,
    skew: Duration,
}

/// One event into its installation's day, and its accepted content into the fingerprint if
/// its type is declared; or why it cannot be used. PostHog's own events are dropped unread.
fn fold_event(
    folder: &mut Folder,
    product: &Product,
    event: &Object<'_>,
    clock: Clock,
    fingerprint: &mut Fingerprint,
) -> Result<(), Unusable> {
    let name = parts::name(event.get("event"))?;
    // PostHog's own events are not ours to read, let alone keep.
    if name.starts_with('$') {
        folder.drop(1);
        return Ok(());
    }
    let properties = parts::properties(event.get("properties"))?;
    // The installation: `distinct_id` beside the event wins over the one in its properties.
    let installation = parts::installation(
        event
            .get("distinct_id")
            .or_else(|| properties.and_then(|properties| properties.get("distinct_id"))),
    )?;
    folder.drop_unknown(event, &EVENT_MEMBERS);
    let day = match event.get("timestamp") {
        Some(timestamp) => parts::corrected_day(Some(timestamp), clock.now, clock.skew)?,
        None => clock.now.date_naive(),
    };
    if let Some(uuid) = event.get("uuid") {
        let text = uuid.as_str().ok_or(Unusable::Shape)?;
        uuid::Uuid::try_parse(text).map_err(|_| Unusable::Shape)?;
    }
    // `$` marks PostHog's own properties (`$ip`, `$lib`): never ours to keep. The key is not data.
    let (own, properties): (Vec<_>, Vec<_>) = properties
        .into_iter()
        .flat_map(Object::iter)
        .filter(|(property, _)| !matches!(*property, "distinct_id" | "token"))
        .partition(|(property, _)| property.starts_with('$'));
    folder.row(Some((&installation, day)));
    let Some(kept) = folder.event(product, name, properties) else {
        return Ok(());
    };
    folder.drop(own.len() as u64);
    fingerprint.add(&(
        installation.as_str(),
        name,
        event.get("timestamp"),
        event.get("uuid"),
        kept,
    ));
    Ok(())
}

fn has_time_or_id(event: &Object<'_>) -> bool {
    event.contains_key("timestamp") || event.contains_key("uuid")
}
