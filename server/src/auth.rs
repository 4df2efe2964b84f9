//! API keys: ingest keys for installations, admin keys for maintainers. Never logged, never
//! echoed; compared in constant time.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use subtle::ConstantTimeEq;

use crate::config::Secret;
use crate::error::ApiError;
use crate::limits::Limits;

pub const API_KEY_HEADER: &str = "x-api-key";

pub struct Keys {
    ingest: Vec<Secret>,
    admin: Vec<Secret>,
}

impl Keys {
    /// Empty entries (`TALLY_INGEST_KEYS=a,,b` or an empty variable) are not keys.
    pub fn new(ingest: &[Secret], admin: &[Secret]) -> Self {
        let keep = |keys: &[Secret]| {
            keys.iter()
                .filter(|key| !key.expose().is_empty())
                .cloned()
                .collect()
        };
        Self {
            ingest: keep(ingest),
            admin: keep(admin),
        }
    }

    pub fn has_ingest_key(&self) -> bool {
        !self.ingest.is_empty()
    }
}

/// Checks every key, so the time taken does not say which key came close.
fn any_matches(keys: &[Secret], presented: &str) -> bool {
    let found = keys.iter().fold(subtle::Choice::from(0), |found, key| {
        found | key.expose().as_bytes().ct_eq(presented.as_bytes())
    });
    !presented.is_empty() && bool::from(found)
}

fn keys(req: &HttpRequest) -> Result<&Keys, ApiError> {
    req.app_data::<web::Data<Keys>>()
        .map(|keys| keys.get_ref())
        .ok_or_else(|| ApiError::Internal("keys are not configured in the app".into()))
}

fn api_key(req: &HttpRequest) -> &str {
    req.headers()
        .get(API_KEY_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

/// Proof that the request carries an ingest key. As the first extractor of a handler it runs
/// before the body is read, so an unauthenticated request costs us nothing.
pub struct IngestKey;

impl FromRequest for IngestKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(keys(req).and_then(|keys| {
            any_matches(&keys.ingest, api_key(req))
                .then_some(IngestKey)
                .ok_or(ApiError::Unauthorized)
        }))
    }
}

/// Proof that the request carries an admin key (`X-API-Key` or `Authorization: Bearer`).
/// An ingest key here is 403: the caller is known but may not read the aggregates. A refused
/// request counts against its source's quota (429 past it), so keys cannot be guessed at speed;
/// requests with an admin key are not limited.
pub struct AdminKey;

impl FromRequest for AdminKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(keys(req).and_then(|keys| {
            let bearer = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .unwrap_or("");
            let presented = [api_key(req), bearer.trim()];
            if presented.iter().any(|key| any_matches(&keys.admin, key)) {
                return Ok(AdminKey);
            }
            if let Some(limits) = req.app_data::<web::Data<Limits>>() {
                limits.check_source(req)?;
            }
            if presented.iter().any(|key| any_matches(&keys.ingest, key)) {
                Err(ApiError::Forbidden)
            } else {
                Err(ApiError::Unauthorized)
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &[&str]) -> Vec<Secret> {
        list.iter().map(|key| key.parse().unwrap()).collect()
    }

    #[test]
    fn a_key_matches_only_when_it_is_exactly_one_of_the_keys() {
        let keys = secrets(&["alpha", "beta"]);
        assert!(any_matches(&keys, "beta"));
        assert!(!any_matches(&keys, "bet"));
        assert!(!any_matches(&keys, "betaa"));
        assert!(!any_matches(&keys, ""));
    }

    #[test]
    fn empty_entries_are_not_keys() {
        let keys = Keys::new(&secrets(&["", " "]), &[]);
        assert!(!keys.has_ingest_key());
        assert!(!any_matches(&keys.ingest, ""));
    }
}
