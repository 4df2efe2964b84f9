//! CORS, two ways. For maintainers' browsers (`cors`): only the origins in `TALLY_CORS_ORIGINS`
//! (none by default), only on the read routes (it wraps the `/stats` and `/api/v1` scopes).
//! For PostHog's capture routes (`capture_cors`): any origin, as PostHog's capture answers, since
//! posthog-js posts from every site that embeds it; no credentials, so no cookie ever comes with
//! a capture. Preflights are answered here, before authentication, since browsers send them
//! without the key.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

/// The origins allowed to read statistics from a browser.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
}

impl Cors {
    pub fn new(origins: &[String]) -> Self {
        Self {
            origins: origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }

    fn allows(&self, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|allowed| allowed == origin || allowed == "*")
    }
}

const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let allowed = origin.filter(|origin| {
        req.app_data::<web::Data<Cors>>()
            .is_some_and(|cors| cors.allows(origin))
    });
    let Some(origin) = allowed else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let origin = HeaderValue::from_str(&origin).map_err(actix_web::error::ErrorBadRequest)?;
    if is_preflight(&req) {
        let response = preflight(origin, "GET, OPTIONS")
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "x-api-key, authorization, accept, content-type",
            ))
            .insert_header((header::VARY, "Origin"))
            .finish();
        return Ok(req.into_response(response).map_into_boxed_body());
    }
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    Ok(response.map_into_boxed_body())
}

/// Any origin may post events and ask for flags; a preflight may ask for any headers (posthog-js
/// and apps add their own), which are allowed as asked.
pub async fn capture_cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let any = HeaderValue::from_static("*");
    if is_preflight(&req) {
        let asked = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("content-type"));
        let response = preflight(any, "GET, POST, OPTIONS")
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, asked))
            .insert_header((header::VARY, "Access-Control-Request-Headers"))
            .finish();
        return Ok(req.into_response(response).map_into_boxed_body());
    }
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, any);
    Ok(response.map_into_boxed_body())
}

fn is_preflight(req: &ServiceRequest) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// A preflight's answer for `origin`, before its allowed headers.
fn preflight(origin: HeaderValue, methods: &'static str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::NoContent();
    response
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, methods))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE_SECS));
    response
}
