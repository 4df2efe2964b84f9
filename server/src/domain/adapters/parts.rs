//! Reading one event's members in an event format. Unlike the request's own members
//! (`body.rs`), a member that cannot be used costs its event only: each reader says why, and
//! the adapter drops the event, counts it, and keeps the rest of the batch.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Map, Value};

use super::body::corrected_event_day;
use crate::domain::activity::{ClientId, Unusable};

/// The event itself: an object.
pub(super) fn object(value: &Value) -> Result<&Map<String, Value>, Unusable> {
    value.as_object().ok_or(Unusable::Shape)
}

/// The event's type: a string.
pub(super) fn name(value: Option<&Value>) -> Result<&str, Unusable> {
    value.and_then(Value::as_str).ok_or(Unusable::Shape)
}

/// Its properties: absent, or an object.
pub(super) fn properties(value: Option<&Value>) -> Result<Option<&Map<String, Value>>, Unusable> {
    value.map(object).transpose()
}

/// The UTC day of its time, within the window still open for counting.
pub(super) fn day(value: Option<&Value>, now: DateTime<Utc>) -> Result<NaiveDate, Unusable> {
    corrected_day(value, now, Duration::zero())
}

/// As `day`, for a time written by a clock `skew` behind ours.
pub(super) fn corrected_day(
    value: Option<&Value>,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<NaiveDate, Unusable> {
    let text = value.and_then(Value::as_str).ok_or(Unusable::Time)?;
    corrected_event_day(text, now, skew).map_err(|_| Unusable::Time)
}

/// The installation it belongs to.
pub(super) fn installation(value: Option<&Value>) -> Result<ClientId, Unusable> {
    value
        .and_then(Value::as_str)
        .and_then(ClientId::parse)
        .ok_or(Unusable::Installation)
}
