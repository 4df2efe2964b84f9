//! The body of every ingest route: read only once the extractors before it have passed, and
//! refused with 413 past its format's limit.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;

use crate::domain::Format;
use crate::error::ApiError;

/// A real report is ~900 bytes; anything near this is not one.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const MIB: usize = 1024 * 1024;

/// The largest body a route takes: on the wire, and once decompressed (only PostHog's clients
/// compress). Declared per format where the route is mounted; `/submit`'s is `MAX_BODY_BYTES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    pub wire: usize,
    pub decoded: usize,
}

impl BodyLimit {
    pub const fn of(format: Format) -> Self {
        let (wire, decoded) = match format {
            // A report of one installation is a few KiB.
            Format::PrinternizerReport | Format::IndexpilotTelemetry => {
                (MAX_BODY_BYTES, MAX_BODY_BYTES)
            }
            // Up to 1,000 events of a few hundred bytes each.
            Format::EventBatch => (MIB, MIB),
            // posthog-python fills a batch up to 5 MiB before gzip (if it gzips at all);
            // PostHog's capture takes 20 MB of events once decompressed.
            Format::PosthogCapture => (5 * MIB, 20 * MIB),
        };
        Self { wire, decoded }
    }
}

/// The request body, read only once the extractors before it have passed, and refused with
/// 413 as soon as it is known to exceed the route's `BodyLimit` (`MAX_BODY_BYTES` by default).
pub struct Body(pub(crate) web::BytesMut);

impl FromRequest for Body {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let max = req
            .app_data::<web::Data<BodyLimit>>()
            .map_or(MAX_BODY_BYTES, |limit| limit.wire);
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|length| length > max) {
                return Err(ApiError::PayloadTooLarge(max));
            }
            let mut bytes = web::BytesMut::with_capacity(declared.unwrap_or(1024));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|error| {
                    ApiError::BadRequest(format!("cannot read the body: {error}"))
                })?;
                if bytes.len() + chunk.len() > max {
                    return Err(ApiError::PayloadTooLarge(max));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(Body(bytes))
        })
    }
}
