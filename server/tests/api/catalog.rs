//! Products as data: the shipped declarations, an operator's catalog file (`TALLY_CATALOG`),
//! `GET /api/v1/products`, and ingest keys per product.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::helpers::{
    body, cluster_url, fresh_report, spawn_app, spawn_app_with, tally_command, ADMIN_KEY,
};

pub(crate) const KILN: &str = r#"
[products.kiln]
format = "indexpilot_telemetry"
key = "required"
cadence = "daily"

[products.kiln.dimensions]
glaze = { allow = ["matte", "gloss"] }

[products.kiln.counters]
firings = { max = 50 }
"#;

/// A catalog file of this test's own, removed when dropped.
pub(crate) struct CatalogFile(pub(crate) PathBuf);

impl CatalogFile {
    pub(crate) fn new(text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("catalog-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).expect("the catalog file is written");
        Self(path)
    }
}

impl Drop for CatalogFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn names(products: &Value) -> Vec<&str> {
    products["products"]
        .as_array()
        .expect("a list of products")
        .iter()
        .map(|product| product["name"].as_str().expect("a name"))
        .collect()
}

/// `tally serve` with `env` set, which must stop before it listens: its stderr.
fn serve_refuses(env: &[(&str, &str)]) -> String {
    let mut command = tally_command();
    command
        .args(["serve"])
        .env("DATABASE_URL", cluster_url())
        .env("TALLY_BIND", "127.0.0.1:0")
        .env("TALLY_INGEST_KEYS", "k1");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("tally runs");
    assert!(!output.status.success(), "tally serve started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn products_lists_the_four_shipped_declarations_with_what_each_may_send() {
    let app = spawn_app().await;

    let response = app.get("/api/v1/products", Some(ADMIN_KEY)).await;

    assert_eq!(response.status(), 200);
    let products = body(response).await;
    assert_eq!(
        names(&products),
        ["franklinwh", "indexpilot", "printernizer", "stories"]
    );
    let printernizer = &products["products"][2];
    assert_eq!(printernizer["format"], "printernizer_report");
    assert_eq!(printernizer["key"], "required");
    assert_eq!(printernizer["cadence"], "weekly");
    assert_eq!(
        printernizer["dimensions"]["platform"],
        json!({"allow": ["linux", "windows", "darwin"]})
    );
    assert_eq!(
        printernizer["counters"]["job_count"],
        json!({"max": 100_000})
    );
    assert_eq!(
        printernizer["count_maps"]["error_summary"],
        json!({"max_entries": 32, "max": 1_000_000})
    );
    let stories = &products["products"][3];
    assert_eq!(stories["key"], "none");
    assert_eq!(
        stories["events"]["recording_started"]["properties"]["source"],
        json!({"kind": "dimension", "allow": ["main", "widget"]})
    );
}

#[tokio::test]
async fn products_needs_an_admin_key() {
    let app = spawn_app().await;

    let without = app.get("/api/v1/products", None).await;

    assert_eq!(without.status(), 401);
}

#[tokio::test]
async fn a_catalog_file_adds_a_fifth_product_that_products_lists() {
    let file = CatalogFile::new(KILN);
    let path = file.0.clone();
    let app = spawn_app_with(|c| c.catalog = Some(path)).await;

    let products = body(app.get("/api/v1/products", Some(ADMIN_KEY)).await).await;

    assert_eq!(
        names(&products),
        [
            "franklinwh",
            "indexpilot",
            "kiln",
            "printernizer",
            "stories"
        ]
    );
    let kiln = &products["products"][2];
    assert_eq!(kiln["format"], "indexpilot_telemetry");
    assert_eq!(
        kiln["dimensions"]["glaze"],
        json!({"allow": ["matte", "gloss"]})
    );
    assert_eq!(kiln["counters"]["firings"], json!({"max": 50}));
}

#[test]
fn a_broken_catalog_file_stops_serve_naming_the_file_and_the_path() {
    let file = CatalogFile::new(&KILN.replace(r#"["matte", "gloss"]"#, "[]"));
    let path = file.0.display().to_string();

    let stderr = serve_refuses(&[("TALLY_CATALOG", &path)]);

    assert!(
        stderr.contains(&format!(
            "{path}: products.kiln.dimensions.glaze: an allow-list needs at least one value"
        )),
        "{stderr}"
    );
}

#[test]
fn an_unknown_key_in_a_catalog_file_stops_serve() {
    let file = CatalogFile::new(&KILN.replace("cadence", "cadense"));
    let path = file.0.display().to_string();

    let stderr = serve_refuses(&[("TALLY_CATALOG", &path)]);

    assert!(stderr.contains(&format!("{path}: ")), "{stderr}");
    assert!(stderr.contains("unknown field `cadense`"), "{stderr}");
}

#[test]
fn a_missing_catalog_file_stops_serve() {
    let stderr = serve_refuses(&[("TALLY_CATALOG", "/nonexistent/catalog.toml")]);

    assert!(
        stderr.contains("TALLY_CATALOG: cannot read /nonexistent/catalog.toml"),
        "{stderr}"
    );
}

#[tokio::test]
async fn prefixed_and_bare_printernizer_keys_submit_and_another_products_key_is_403() {
    let app = spawn_app_with(|c| {
        c.ingest_keys = ["printernizer:k1", "k2", "stories:k3"]
            .map(|key| key.parse().unwrap())
            .to_vec();
    })
    .await;

    let prefixed = app.submit_with_key(&fresh_report().1, "k1").await;
    let bare = app.submit_with_key(&fresh_report().1, "k2").await;
    let other_product = app.submit_with_key(&fresh_report().1, "k3").await;
    let unknown = app.submit_with_key(&fresh_report().1, "k4").await;
    let as_written = app.submit_with_key(&fresh_report().1, "stories:k3").await;

    assert_eq!(prefixed.status(), 200);
    assert_eq!(bare.status(), 200);
    assert_eq!(other_product.status(), 403);
    assert_eq!(unknown.status(), 401);
    assert_eq!(as_written.status(), 401);
    assert_eq!(app.stored_reports().await, 2);
}

#[tokio::test]
async fn another_products_key_is_403_on_the_installation_routes() {
    let app = spawn_app_with(|c| {
        c.ingest_keys = ["k1", "indexpilot:k3"]
            .map(|key| key.parse().unwrap())
            .to_vec();
    })
    .await;
    let path = "/installation/550e8400-e29b-41d4-a716-446655440000";

    let own = app.get(path, Some("k1")).await;
    let other_product = app.get(path, Some("k3")).await;
    let erase = app
        .http
        .delete(app.url(path))
        .header("X-API-Key", "k3")
        .send()
        .await
        .unwrap();

    assert_eq!(own.status(), 200);
    assert_eq!(other_product.status(), 403);
    assert_eq!(erase.status(), 403);
}

#[test]
fn a_key_prefixed_with_an_undeclared_product_stops_serve_without_showing_it() {
    let stderr = serve_refuses(&[("TALLY_INGEST_KEYS", "k1,nosuch:never-shown-4")]);

    assert!(stderr.contains("TALLY_INGEST_KEYS: entry 2"), "{stderr}");
    assert!(!stderr.contains("never-shown"), "{stderr}");
    assert!(!stderr.contains("nosuch"), "{stderr}");
}
