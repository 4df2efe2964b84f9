//! A body's JSON read in place: its strings and member names borrow the body's bytes unless
//! they hold an escape. `serde_json::Value` copied each of them into a `String` of its own and
//! built a `BTreeMap` of every object: reading and dropping it took a fifth of the server's CPU
//! for a Stories batch.
//!
//! An object keeps its members sorted by name, the last of a repeated name winning, as
//! `Value`'s map does (serde_json's `preserve_order` is off), and serializes as `Value` does:
//! a body reads, and fingerprints (`body::Fingerprint`), exactly as it did.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Number;

/// A JSON value of a body that outlives it.
#[derive(Debug, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// An object's members, sorted by name, each name once.
#[derive(Debug, PartialEq)]
pub struct Object<'a>(Vec<(Cow<'a, str>, Json<'a>)>);

/// `body` as JSON. A body checked as UTF-8 once is read as text: read as bytes, every string
/// it borrows was checked on its own. One that is not UTF-8 is read as bytes, for serde_json's
/// own error.
pub fn parse(body: &[u8]) -> Result<Json<'_>, serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

impl<'a> Json<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(number) => number.as_f64(),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(number) => number.as_u64(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(on) => Some(*on),
            _ => None,
        }
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Json::Number(_))
    }

    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The member `name`, if this is an object that has it.
    pub fn get(&self, name: &str) -> Option<&Json<'a>> {
        self.as_object()?.get(name)
    }
}

impl<'a> Object<'a> {
    /// An event's object has a handful of members, each looked for by several names: a scan
    /// that compares lengths first finds one with about one comparison of bytes, where the
    /// binary search compared bytes at every step (a tenth of a capture batch's CPU).
    pub fn get(&self, name: &str) -> Option<&Json<'a>> {
        const SCANNED: usize = 16;
        if self.0.len() <= SCANNED {
            return self
                .0
                .iter()
                .find(|(member, _)| member.len() == name.len() && member == name)
                .map(|(_, value)| value);
        }
        self.0
            .binary_search_by(|(member, _)| member.as_ref().cmp(name))
            .ok()
            .map(|at| &self.0[at].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(name, _)| name.as_ref())
    }

    /// The members in the order of their names.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.0.iter().map(|(name, value)| (name.as_ref(), value))
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(on) => serializer.serialize_bool(*on),
            Json::Number(number) => number.serialize(serializer),
            Json::String(text) => serializer.serialize_str(text),
            Json::Array(list) => {
                let mut seq = serializer.serialize_seq(Some(list.len()))?;
                for value in list {
                    seq.serialize_element(value)?;
                }
                seq.end()
            }
            Json::Object(object) => object.serialize(serializer),
        }
    }
}

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name.as_ref(), value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    // `Value`'s words, so that an error reads as it did.
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, on: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(on))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(number.into()))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(number.into()))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Json<'de>, E> {
        // JSON has no NaN or infinity: serde_json never hands one over.
        Ok(Number::from_f64(number).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(value) = seq.next_element()? {
            list.push(value);
        }
        Ok(Json::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        while let Some(Name(name)) = map.next_key()? {
            members.push((name, map.next_value()?));
        }
        // Stable: a repeated name's members stay in the order sent, and the last one is kept.
        members.sort_by(|(a, _), (b, _)| a.cmp(b));
        members.dedup_by(|later, kept| {
            let repeated = later.0 == kept.0;
            if repeated {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            repeated
        });
        Ok(Json::Object(Object(members)))
    }
}

/// A member's name, borrowed from the body when it holds no escape.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }

            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(text)))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_str(NameVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_reads_and_serializes_exactly_as_serde_jsons_value_does() {
        let bodies = [
            r#"{"b": 1, "a": [true, null, -2, 2.5, 1e300, "x\"y"], "c": {"z": {}, "y": []}}"#,
            r#"{"same": 1, "other": "o", "same": 2}"#,
            r#"[{"event": "é", "n": 18446744073709551615}, -9223372036854775808, 0.1]"#,
            r#""just a string""#,
        ];
        for body in bodies {
            let ours = parse(body.as_bytes()).expect("JSON");
            let theirs: serde_json::Value = serde_json::from_str(body).expect("JSON");
            assert_eq!(
                serde_json::to_string(&ours).expect("serialized"),
                serde_json::to_string(&theirs).expect("serialized"),
                "{body}"
            );
        }
    }

    #[test]
    fn strings_without_escapes_borrow_the_body_and_the_last_repeated_member_wins() {
        let body = br#"{"plain": "text", "esc\u0061ped": "a\nb", "plain": "again"}"#;
        let Json::Object(object) = parse(body).expect("JSON") else {
            panic!("an object");
        };
        assert!(matches!(
            object.get("plain"),
            Some(Json::String(Cow::Borrowed("again")))
        ));
        assert!(matches!(
            object.get("escaped"),
            Some(Json::String(Cow::Owned(_)))
        ));
        assert_eq!(object.keys().collect::<Vec<_>>(), ["escaped", "plain"]);
        assert_eq!(object.get("missing"), None);
    }

    #[test]
    fn every_member_is_found_by_its_name_in_small_and_large_objects_alike() {
        // Names of several lengths, so that some share a length and differ in their bytes.
        let name = |n: usize| format!("{}{n}", "x".repeat(n % 4));
        for members in [3, 16, 17, 40] {
            let members_sent = (0..members)
                .map(|n| format!("\"{}\": {n}", name(n)))
                .collect::<Vec<_>>()
                .join(", ");
            let body = format!("{{{members_sent}}}");
            let parsed = parse(body.as_bytes()).expect("JSON");
            for n in 0..members {
                assert_eq!(parsed.get(&name(n)).and_then(Json::as_u64), Some(n as u64));
            }
            assert_eq!(parsed.get(&name(members)), None);
            assert_eq!(parsed.get(""), None);
        }
    }

    #[test]
    fn a_body_that_is_not_json_fails_with_serde_jsons_own_error() {
        let bodies: [&[u8]; 5] = [b"{", b"{\"a\": }", b"[1,]", b"nul", b"{\"a\": \"\xff\"}"];
        for body in bodies {
            let ours = parse(body).expect_err("not JSON").to_string();
            let theirs = serde_json::from_slice::<serde_json::Value>(body)
                .expect_err("not JSON")
                .to_string();
            assert_eq!(ours, theirs, "{body:?}");
        }
    }
}
