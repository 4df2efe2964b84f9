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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;

use super::body::{corrected_event_day, not_json, Fingerprint};
use super::fold::Folder;
use crate::domain::activity::{ClientId, Folded, Merge, Unusable};
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

/// A capture body whose key can be checked before its events are folded. It borrows the body:
/// members are found without copying them, a property's value is parsed only if the catalog
/// declares it, and PostHog's own properties (`$ip` among them) are never copied at all.
pub struct Capture<'a> {
    api_key: String,
    shape: Shape<'a>,
    /// When the client sent the request, by its own clock.
    sent_at: Option<DateTime<Utc>>,
}

/// By hand: neither the key nor the body (an address in `$ip`) may reach a log.
impl fmt::Debug for Capture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture").finish_non_exhaustive()
    }
}

/// What the body is.
enum Shape<'a> {
    /// One event, its own envelope.
    Single(Event<'a>),
    /// An object with `batch`: the object, and its events if `batch` is a list.
    Batch(Event<'a>, Option<Vec<Option<Event<'a>>>>),
    /// posthog-js's list of events.
    List(Vec<Option<Event<'a>>>),
}

/// An event's members, and its `properties`: absent, an object, or (`Err`) anything else. An
/// item of a list that is not an object is `None` where events are listed.
struct Event<'a> {
    members: Members<'a>,
    properties: Result<Option<Members<'a>>, Unusable>,
}

/// A JSON object's members, each value the JSON text it was sent as. As in a
/// `serde_json::Value`, a member sent twice is its last, and members are in name order.
type Members<'a> = BTreeMap<Cow<'a, str>, &'a RawValue>;

/// A JSON object or list that carries a key; its events are read by `Capture::fold`.
pub fn read(body: &[u8]) -> Result<Capture<'_>, Rejected> {
    let shape = match serde_json::from_slice(body).map_err(not_json)? {
        Node::Object {
            members,
            properties,
            batch: Some(batch),
        } => {
            let events = match *batch {
                Node::List(items) => Some(items.into_iter().map(Node::into_event).collect()),
                _ => None,
            };
            Shape::Batch(Event::of(members, properties), events)
        }
        Node::Object {
            members,
            properties,
            batch: None,
        } => Shape::Single(Event::of(members, properties)),
        Node::List(items) => Shape::List(items.into_iter().map(Node::into_event).collect()),
        Node::Other => {
            return Err(Rejected::Malformed(
                "body must be a JSON object or a list of events".to_owned(),
            ))
        }
    };
    let api_key = shape.key()?;
    let sent_at = match &shape {
        Shape::Single(Event { members, .. }) | Shape::Batch(Event { members, .. }, _) => members
            .get("sent_at")
            .and_then(|sent| text(sent))
            .and_then(|sent| parse_datetime(&sent)),
        Shape::List(_) => None,
    };
    Ok(Capture {
        api_key,
        shape,
        sent_at,
    })
}

impl<'a> Event<'a> {
    fn of(members: Members<'a>, properties: Option<Box<Node<'a>>>) -> Self {
        let properties = match properties.map(|node| *node) {
            None => Ok(None),
            Some(Node::Object { members, .. }) => Ok(Some(members)),
            Some(_) => Err(Unusable::Shape),
        };
        Self {
            members,
            properties,
        }
    }

    /// The first of `KEY_MEMBERS` present, else the key in its properties; `Err` if it is not
    /// a string.
    fn key(&self) -> Option<Result<Cow<'a, str>, ()>> {
        member_key(&self.members).or_else(|| {
            let properties = self.properties.as_ref().ok()?.as_ref()?;
            properties.get("token").map(|token| text(token).ok_or(()))
        })
    }

    fn has_time_or_id(&self) -> bool {
        self.members.contains_key("timestamp") || self.members.contains_key("uuid")
    }
}

impl<'a> Shape<'a> {
    /// The body's key, else its events' key; events that name different keys are refused.
    fn key(&self) -> Result<String, Rejected> {
        let refused = |msg: &str, kind: &str| {
            Rejected::Invalid(vec![FieldError::new(&["api_key"], msg, kind)])
        };
        let in_body = match self {
            Shape::Single(Event { members, .. }) | Shape::Batch(Event { members, .. }, _) => {
                member_key(members).transpose()
            }
            Shape::List(_) => Ok(None),
        };
        let mut found = in_body.map_err(|()| refused("must be a string", "type_error"))?;
        for event in self.events_with_keys() {
            let own = event
                .key()
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
            .map(Cow::into_owned)
            .ok_or_else(|| refused("field required", "missing"))
    }

    /// The events that may carry the key: those listed, or the body itself.
    fn events_with_keys(&self) -> Box<dyn Iterator<Item = &Event<'a>> + '_> {
        match self {
            Shape::Single(event) | Shape::Batch(event, None) => Box::new(std::iter::once(event)),
            Shape::Batch(_, Some(list)) | Shape::List(list) => Box::new(list.iter().flatten()),
        }
    }

    /// How many events the body holds.
    fn len(&self) -> usize {
        match self {
            Shape::Single(_) | Shape::Batch(_, None) => 1,
            Shape::Batch(_, Some(list)) | Shape::List(list) => list.len(),
        }
    }
}

/// The first of `KEY_MEMBERS` present in `members`; `Err` if it is not a string.
fn member_key<'a>(members: &Members<'a>) -> Option<Result<Cow<'a, str>, ()>> {
    KEY_MEMBERS
        .iter()
        .find_map(|name| members.get(*name))
        .map(|key| text(key).ok_or(()))
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
        folder.drop(self.shape.len() as u64);
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
        type Listed<'e, 'a> = Box<dyn Iterator<Item = Option<&'e Event<'a>>> + 'e>;
        let (list, id_loc): (Listed<'_, '_>, &[&str]) = match &self.shape {
            Shape::Batch(envelope, list) => {
                let names = envelope.members.keys().map(AsRef::as_ref);
                folder.drop_unknown(names, &BATCH_MEMBERS);
                let list = folder.event_list(Some(list.as_deref()), &["batch"]);
                (Box::new(list.iter().map(Option::as_ref)), &["batch"])
            }
            Shape::Single(event) => (Box::new(std::iter::once(Some(event))), &["distinct_id"]),
            Shape::List(list) => {
                let list = folder.event_list(Some(Some(list)), &[]);
                (Box::new(list.iter().map(Option::as_ref)), &[])
            }
        };
        for event in list {
            events += 1;
            let folded = event.ok_or(Unusable::Shape).and_then(|event| {
                fold_event(&mut folder, product, event, clock, &mut fingerprint)?;
                identified &= event.has_time_or_id();
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
    event: &Event<'_>,
    clock: Clock,
    fingerprint: &mut Fingerprint,
) -> Result<(), Unusable> {
    let members = &event.members;
    let name = members
        .get("event")
        .and_then(|name| text(name))
        .ok_or(Unusable::Shape)?;
    // PostHog's own events are not ours to read, let alone keep.
    if name.starts_with('$') {
        folder.drop(1);
        return Ok(());
    }
    let properties = event.properties.as_ref().map_err(|why| *why)?.as_ref();
    // The installation: `distinct_id` beside the event wins over the one in its properties.
    let installation = members
        .get("distinct_id")
        .or_else(|| properties?.get("distinct_id"))
        .and_then(|id| text(id))
        .and_then(|id| ClientId::parse(&id))
        .ok_or(Unusable::Installation)?;
    folder.drop_unknown(members.keys().map(AsRef::as_ref), &EVENT_MEMBERS);
    let timestamp = members
        .get("timestamp")
        .map(|at| text(at).ok_or(Unusable::Time))
        .transpose()?;
    let day = match &timestamp {
        Some(at) => corrected_event_day(at, clock.now, clock.skew).map_err(|_| Unusable::Time)?,
        None => clock.now.date_naive(),
    };
    let uuid = members
        .get("uuid")
        .map(|uuid| text(uuid).ok_or(Unusable::Shape))
        .transpose()?;
    if let Some(uuid) = &uuid {
        uuid::Uuid::try_parse(uuid).map_err(|_| Unusable::Shape)?;
    }
    // `$` marks PostHog's own properties (`$ip`, `$lib`): never ours to keep. The key is not data.
    let (own, properties): (Vec<_>, Vec<_>) = properties
        .into_iter()
        .flatten()
        .map(|(property, value)| (property.as_ref(), *value))
        .filter(|(property, _)| !matches!(*property, "distinct_id" | "token"))
        .partition(|(property, _)| property.starts_with('$'));
    folder.row(Some((&installation, day)));
    let Some(kept) = folder.event(product, &name, properties) else {
        return Ok(());
    };
    folder.drop(own.len() as u64);
    fingerprint.add(&(installation.as_str(), &name, timestamp, uuid, kept));
    Ok(())
}

/// A value of the body as one pass reads it: an object's members as their JSON text, but for
/// the members that hold events (`batch` in the body) and properties (`properties` in the body
/// or an event), read in the same pass; a list of events; anything else, skipped.
enum Node<'a> {
    Object {
        members: Members<'a>,
        properties: Option<Box<Node<'a>>>,
        batch: Option<Box<Node<'a>>>,
    },
    List(Vec<Node<'a>>),
    Other,
}

impl<'a> Node<'a> {
    /// An item of a list of events: an event if it is an object.
    fn into_event(self) -> Option<Event<'a>> {
        match self {
            Node::Object {
                members,
                properties,
                ..
            } => Some(Event::of(members, properties)),
            _ => None,
        }
    }
}

/// Where a value is, which says which of its members are read in the same pass.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    Body,
    Event,
    Properties,
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Level::Body.deserialize(deserializer)
    }
}

impl<'de> DeserializeSeed<'de> for Level {
    type Value = Node<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let (mut members, mut properties, mut batch) = (Members::new(), None, None);
        while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
            match (self, name.as_ref()) {
                (Level::Body | Level::Event, "properties") => {
                    properties = Some(Box::new(map.next_value_seed(Level::Properties)?));
                }
                (Level::Body, "batch") => {
                    batch = Some(Box::new(map.next_value_seed(Level::Event)?))
                }
                _ => {
                    members.insert(name, map.next_value::<&'de RawValue>()?);
                }
            }
        }
        Ok(Node::Object {
            members,
            properties,
            batch,
        })
    }

    /// A list in the body, or in its `batch`, is of events; any other is skipped.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        if self == Level::Properties {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Node::Other);
        }
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(Level::Event)? {
            items.push(item);
        }
        Ok(Node::List(items))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }
}

/// A JSON string, borrowed from the body unless it holds escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Texts)
    }
}

struct Texts;

impl<'de> Visitor<'de> for Texts {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(text.to_owned())))
    }
}

/// A member's value that is a string.
fn text(raw: &RawValue) -> Option<Cow<'_, str>> {
    serde_json::from_str::<Text<'_>>(raw.get())
        .ok()
        .map(|Text(text)| text)
}
