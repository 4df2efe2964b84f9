//! Reading one event's members in an event format. Unlike the request's own members
//! (`body.rs`), a member that cannot be used costs its event only: each reader says why, and
//! the adapter drops the event, counts it, and keeps the rest of the batch.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::body::corrected_event_day;
use super::json::{Json, Object};
use crate::domain::activity::{ClientId, Unusable};

/// The event itself: an object.
pub(super) fn object<'v>(value: &'v Json<'v>) -> Result<&'v Object<'v>, Unusable> {
    value.as_object().ok_or(Unusable::Shape)
}

/// The event's type: a string.
pub(super) fn name<'v>(value: Option<&'v Json<'_>>) -> Result<&'v str, Unusable> {
    value.and_then(Json::as_str).ok_or(Unusable::Shape)
}

/// Its properties: absent, or an object.
pub(super) fn properties<'v>(
    value: Option<&'v Json<'v>>,
) -> Result<Option<&'v Object<'v>>, Unusable> {
    value.map(object).transpose()
}

/// The UTC day of its time, within the window still open for counting.
pub(super) fn day(value: Option<&Json<'_>>, now: DateTime<Utc>) -> Result<NaiveDate, Unusable> {
    corrected_day(value, now, Duration::zero())
}

/// As `day`, for a time written by a clock `skew` behind ours.
pub(super) fn corrected_day(
    value: Option<&Json<'_>>,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<NaiveDate, Unusable> {
    let text = value.and_then(Json::as_str).ok_or(Unusable::Time)?;
    corrected_event_day(text, now, skew).map_err(|_| Unusable::Time)
}

/// The installation it belongs to.
pub(super) fn installation(value: Option<&Json<'_>>) -> Result<ClientId, Unusable> {
    value
        .and_then(Json::as_str)
        .and_then(ClientId::parse)
        .ok_or(Unusable::Installation)
}
