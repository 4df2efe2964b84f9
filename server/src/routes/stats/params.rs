//! The bounded query parameters of the statistics routes: out of range is a 422, never a slow
//! query.

use std::collections::HashMap;

use actix_web::web;

use crate::domain::FieldError;
use crate::error::ApiError;

pub type Query = web::Query<HashMap<String, String>>;

/// `name` from the query string, an integer in `[low, high]`, or `default` when absent.
pub fn bounded(
    query: &Query,
    name: &str,
    default: u32,
    low: u32,
    high: u32,
) -> Result<u32, ApiError> {
    let Some(text) = query.get(name) else {
        return Ok(default);
    };
    match text.trim().parse::<u32>() {
        Ok(value) if (low..=high).contains(&value) => Ok(value),
        _ => Err(ApiError::Invalid(vec![FieldError::query(
            name,
            format!("must be an integer from {low} to {high}"),
            "range",
        )])),
    }
}

/// `days`: 1..365, 30 by default.
pub fn days(query: &Query) -> Result<u32, ApiError> {
    bounded(query, "days", 30, 1, 365)
}

/// `limit`: 1..100.
pub fn limit(query: &Query, default: u32) -> Result<u32, ApiError> {
    bounded(query, "limit", default, 1, 100)
}
