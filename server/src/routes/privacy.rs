//! `GET /privacy` (HTML) and `GET /api/v1/public/catalog` (JSON), no key: what each product's
//! clients may send, what is kept, what is dropped and never stored, and for how long. Both are
//! made once at start-up from the loaded catalog (`Notice`), the declaration the adapters
//! enforce; a maintainer links the page from an app's opt-in dialog.

use std::fmt::Write;

use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpResponse};

use crate::domain::{KeyPolicy, Notice, ProductNotice};
use crate::html::{escape, inline};
use crate::limits::SourceAllowed;

/// The catalog changes only with a restart: browsers and proxies may keep a copy for an hour.
const CACHE_CONTROL: &str = "public, max-age=3600";

/// No script, no other host, no framing; the page's one style sheet is inline.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

/// The notice, rendered once.
pub struct PrivacyNotice {
    json: web::Bytes,
    html: web::Bytes,
}

impl PrivacyNotice {
    pub fn new(notice: &Notice) -> Self {
        Self {
            // A notice is strings and numbers: it always serializes.
            json: serde_json::to_vec(notice).unwrap_or_default().into(),
            html: render(notice).into(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/privacy",
    tag = "public",
    operation_id = "privacy_page",
    summary = "What each product may send, keeps, drops and for how long, as a page (no key)",
    responses(
        (status = 200, description = "An HTML page made from the loaded catalog", content_type = "text/html"),
        SourceAllowed,
    )
)]
#[tracing::instrument(level = "debug", name = "privacy_page", skip_all)]
pub async fn page(_: SourceAllowed, notice: web::Data<PrivacyNotice>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(notice.html.clone())
}

#[utoipa::path(
    get,
    path = "/api/v1/public/catalog",
    tag = "public",
    operation_id = "public_catalog",
    summary = "What each product may send, keeps, drops and for how long (no key)",
    responses(
        (status = 200, description = "Made from the loaded catalog", body = Notice),
        SourceAllowed,
    )
)]
#[tracing::instrument(level = "debug", name = "public_catalog", skip_all)]
pub async fn catalog(_: SourceAllowed, notice: web::Data<PrivacyNotice>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .body(notice.json.clone())
}

/// The page: every string in it comes from the notice, escaped.
fn render(notice: &Notice) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>What is collected</title><style>\
         body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}\
         table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;\
         border-bottom:1px solid #ddd;vertical-align:top}code{font-size:.9em}\
         </style></head><body><h1>What is collected</h1>\
         <p>The applications below send opt-in usage statistics to this server. It keeps numbers \
         per installation and day (or report period), adds them up into daily totals, and shows \
         maintainers those totals. This page is made from the same declarations the server \
         enforces.</p><h2>Never stored, from any application</h2><ul>",
    );
    for item in &notice.never_stored {
        let _ = write!(html, "<li>{}</li>", inline(item));
    }
    let _ = write!(
        html,
        "</ul><p>Public statistics show no group of fewer than {} installations: smaller \
         groups are merged into <code>other</code> or not shown.</p>",
        notice.min_cohort
    );
    for product in &notice.products {
        product_section(&mut html, product);
    }
    html.push_str("</body></html>");
    html
}

fn product_section(html: &mut String, product: &ProductNotice) {
    let name = escape(&product.name);
    let key = match product.key {
        KeyPolicy::Required => "with the product's key",
        KeyPolicy::None => "without a key",
    };
    let _ = write!(
        html,
        "<section id=\"{name}\"><h2>{name}</h2><p>Sent to {} {key}. Stored as {}. Rows with \
         the installation's random id are kept {} days; after that only daily totals, which \
         hold no id.</p>",
        escape(&product.routes.join(", ")),
        inline(product.stored_as),
        product.raw_retention_days
    );
    if !product.events.is_empty() {
        let events: Vec<String> = product
            .events
            .iter()
            .map(|event| format!("<code>{}</code>", escape(event)))
            .collect();
        let _ = write!(
            html,
            "<p>Events counted per day: {}.</p>",
            events.join(", ")
        );
    }
    html.push_str("<table><tr><th>Field</th><th>Kind</th><th>What is kept</th></tr>");
    for field in &product.fields {
        let allow = field.allow.as_ref().map_or(String::new(), |values| {
            format!(": {}", escape(&values.join(", ")))
        });
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}{allow}</td></tr>",
            escape(&field.path),
            field.kind,
            inline(&field.kept)
        );
    }
    html.push_str("</table>");
    if !product.dropped.is_empty() {
        html.push_str("<p>Also dropped, never stored:</p><ul>");
        for item in &product.dropped {
            let _ = write!(html, "<li>{}</li>", inline(item));
        }
        html.push_str("</ul>");
    }
    html.push_str("</section>");
}
