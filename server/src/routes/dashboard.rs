//! `/dashboard`: the maintainers' page, for every declared product (`?product=`). Its HTML,
//! scripts (ES modules: the page, its charts, Printernizer's view and the view drawn from a
//! product's declaration), styles and icon are compiled into the binary and it loads nothing
//! from any other host. The page itself holds no data and needs no key; every number it shows
//! comes from the admin routes (`/stats/*`, `/api/v1/*`), called with the key the maintainer
//! types in.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use super::resource;
use crate::error::ApiError;

/// Only this server may give the page anything: no inline script or style, no other host, no
/// framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file and what the browser needs to know about it.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    /// FNV-1a of the body, computed at compile time: the ETag changes exactly when the file does.
    hash: u64,
}

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! asset {
    ($file:literal, $content_type:literal) => {{
        const BODY: &[u8] = include_bytes!(concat!("../../static/dashboard/", $file));
        Asset {
            body: BODY,
            content_type: $content_type,
            hash: fnv1a(BODY),
        }
    }};
}

const PAGE: Asset = asset!("index.html", "text/html; charset=utf-8");

/// The files the page loads, by name under `/dashboard/`.
const FILES: [(&str, Asset); 6] = [
    ("app.js", asset!("app.js", "text/javascript; charset=utf-8")),
    (
        "charts.js",
        asset!("charts.js", "text/javascript; charset=utf-8"),
    ),
    (
        "report.js",
        asset!("report.js", "text/javascript; charset=utf-8"),
    ),
    (
        "declared.js",
        asset!("declared.js", "text/javascript; charset=utf-8"),
    ),
    ("app.css", asset!("app.css", "text/css; charset=utf-8")),
    ("icon.svg", asset!("icon.svg", "image/svg+xml")),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/dashboard", web::get().to(page)))
        .service(resource("/dashboard/", web::get().to(to_page)))
        .service(resource("/dashboard/{file}", web::get().to(file)));
}

async fn page(req: HttpRequest) -> HttpResponse {
    serve(&req, &PAGE)
}

async fn file(req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    FILES
        .iter()
        .find(|(file, _)| *file == name.as_str())
        .map(|(_, asset)| serve(&req, asset))
        .ok_or(ApiError::NotFound("Not found"))
}

/// The page links its files relative to `/dashboard`, which `/dashboard/` would break. The
/// relative target keeps working behind a proxy that mounts Tally under a prefix.
async fn to_page() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "../dashboard"))
        .finish()
}

/// The file, or 304 when the browser's copy is current. `no-cache` makes the browser ask every
/// time, so a new release is seen at once, and the ETag keeps the answer to that question small.
fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let etag = format!("\"{:016x}\"", asset.hash);
    let current = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim().trim_start_matches("W/") == etag)
        });
    let mut response = if current {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if current {
        return response.finish();
    }
    response
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        .body(asset.body)
}
