//! `GET /privacy` and `GET /api/v1/public/catalog`: the public notice of what each product's
//! clients may send, made from the catalog the server enforces.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::catalog::{CatalogFile, KILN};
use crate::helpers::{body, spawn_app, spawn_app_with, TestApp, ADMIN_KEY};

/// The paths of every field a product declares, as `/api/v1/products` (admin) lists them.
fn declared_paths(product: &Value) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for section in ["dimensions", "counters", "measures", "flags", "count_maps"] {
        for name in product[section]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, _)| name)
        {
            paths.insert(name.clone());
        }
    }
    for (event, declared) in product["events"].as_object().into_iter().flatten() {
        for property in declared["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(p, _)| p)
        {
            paths.insert(format!("{event}.{property}"));
        }
    }
    paths
}

async fn notice(app: &TestApp) -> Value {
    let response = app.get("/api/v1/public/catalog", None).await;
    assert_eq!(response.status(), 200);
    body(response).await
}

fn product<'a>(notice: &'a Value, name: &str) -> &'a Value {
    notice["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|product| product["name"] == name)
        .unwrap_or_else(|| panic!("{name} is in the notice"))
}

#[tokio::test]
async fn the_public_catalog_lists_every_field_each_product_declares_without_a_key() {
    let file = CatalogFile::new(KILN);
    let path = file.0.clone();
    let app = spawn_app_with(|c| c.catalog = Some(path)).await;
    let declared = body(app.get("/api/v1/products", Some(ADMIN_KEY)).await).await;

    let notice = notice(&app).await;

    assert_eq!(notice["min_cohort"], 5);
    for declaration in declared["products"].as_array().expect("products") {
        let name = declaration["name"].as_str().expect("a name");
        let listed = product(&notice, name);
        let fields: BTreeSet<String> = listed["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|field| field["path"].as_str().expect("a path").to_owned())
            .collect();
        assert_eq!(fields, declared_paths(declaration), "{name}");
        assert_eq!(listed["raw_retention_days"], 400, "{name}");
    }
    let glaze = &product(&notice, "kiln")["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|field| field["path"] == "glaze")
        .expect("the glaze is listed")["allow"];
    assert_eq!(glaze, &json!(["matte", "gloss"]));
}

#[tokio::test]
async fn what_a_format_drops_is_in_its_products_part() {
    let app = spawn_app().await;

    let notice = notice(&app).await;

    let dropped = |name: &str| product(&notice, name)["dropped"].to_string();
    assert!(dropped("stories").contains("stack trace"));
    assert!(dropped("franklinwh").contains("$ip"));
    assert_eq!(product(&notice, "printernizer")["dropped"], json!([]));
    let never = notice["never_stored"].to_string();
    for promise in ["IP addresses", "user agents", "API keys"] {
        assert!(never.contains(promise), "{promise}");
    }
}

#[tokio::test]
async fn the_privacy_page_shows_each_product_its_fields_and_allow_lists_as_html() {
    let app = spawn_app().await;

    let response = app.get("/privacy", None).await;

    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/html"));
    assert!(header("cache-control").contains("max-age"));
    assert!(header("content-security-policy").contains("default-src 'none'"));
    let page = response.text().await.expect("a page");
    for name in ["printernizer", "indexpilot", "stories", "franklinwh"] {
        assert!(page.contains(&format!("<section id=\"{name}\">")), "{name}");
    }
    assert!(page.contains("<code>app_opened.os_version</code>"));
    assert!(page.contains("homeassistant, docker, pi, standalone"));
    assert!(page.contains("fewer than 5 installations"));
    assert!(!page.contains("<script"));
}

#[tokio::test]
async fn the_privacy_page_is_under_the_per_source_limit() {
    let app = spawn_app_with(|c| c.ip_rate_per_minute = 2).await;

    let statuses = [
        app.get("/privacy", None).await.status(),
        app.get("/api/v1/public/catalog", None).await.status(),
        app.get("/privacy", None).await.status(),
    ];

    assert_eq!(statuses.map(|status| status.as_u16()), [200, 200, 429]);
}

#[tokio::test]
async fn every_route_the_notice_names_is_mounted() {
    let app = spawn_app().await;
    let notice = notice(&app).await;

    for product in notice["products"].as_array().expect("products") {
        for route in product["routes"].as_array().expect("routes") {
            let path = route
                .as_str()
                .and_then(|route| route.strip_prefix("POST "))
                .expect("a POST route");
            let status = app
                .http
                .post(app.url(path))
                .body("{}")
                .send()
                .await
                .expect("sent")
                .status();
            assert!(status != 404 && status != 405, "{path}: {status}");
        }
    }
}
