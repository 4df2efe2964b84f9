//! `GET /openapi.json`: the document changes only on purpose (a committed snapshot), names every
//! route, and describes what the routes really answer.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::api_v1::public_overview_after_a_rollup;
use crate::helpers::{body, naive, report, spawn_app, spawn_app_with, TestApp, ADMIN_KEY};
use crate::helpers::{fresh_report, INGEST_KEY};
use crate::rollup::{id, report_ago, roll, send};

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/api/snapshots/openapi.json"
);

const ANY_ID: &str = "550e8400-e29b-41d4-a716-446655440000";

/// Every route `routes::configure` mounts: method, documented path, a path to request, the key.
const ROUTES: [(&str, &str, &str, Option<&str>); 39] = [
    ("get", "/", "/", None),
    ("get", "/health", "/health", None),
    ("get", "/ready", "/ready", None),
    ("get", "/metrics", "/metrics", None),
    ("get", "/openapi.json", "/openapi.json", None),
    ("get", "/privacy", "/privacy", None),
    (
        "get",
        "/api/v1/public/catalog",
        "/api/v1/public/catalog",
        None,
    ),
    ("post", "/submit", "/submit", Some(INGEST_KEY)),
    ("post", "/api/v1/telemetry", "/api/v1/telemetry", None),
    ("post", "/api/events/batch", "/api/events/batch", None),
    ("post", "/api/crashes", "/api/crashes", None),
    ("post", "/capture/", "/capture/", None),
    ("post", "/batch/", "/batch/", None),
    (
        "get",
        "/installation/{installation_id}",
        "/installation/550e8400-e29b-41d4-a716-446655440000",
        Some(INGEST_KEY),
    ),
    (
        "delete",
        "/installation/{installation_id}",
        "/installation/550e8400-e29b-41d4-a716-446655440000",
        Some(INGEST_KEY),
    ),
    (
        "get",
        "/reports/email-status",
        "/reports/email-status",
        Some(ADMIN_KEY),
    ),
    (
        "post",
        "/reports/test-email",
        "/reports/test-email",
        Some(ADMIN_KEY),
    ),
    (
        "post",
        "/reports/weekly",
        "/reports/weekly",
        Some(ADMIN_KEY),
    ),
    (
        "post",
        "/reports/monthly",
        "/reports/monthly",
        Some(ADMIN_KEY),
    ),
    ("get", "/stats/summary", "/stats/summary", Some(ADMIN_KEY)),
    ("get", "/stats/overview", "/stats/overview", Some(ADMIN_KEY)),
    ("get", "/stats/export", "/stats/export", Some(ADMIN_KEY)),
    (
        "get",
        "/stats/installations",
        "/stats/installations",
        Some(ADMIN_KEY),
    ),
    (
        "get",
        "/stats/deployment-modes",
        "/stats/deployment-modes",
        Some(ADMIN_KEY),
    ),
    ("get", "/stats/versions", "/stats/versions", Some(ADMIN_KEY)),
    (
        "get",
        "/stats/geography",
        "/stats/geography",
        Some(ADMIN_KEY),
    ),
    ("get", "/stats/printers", "/stats/printers", Some(ADMIN_KEY)),
    ("get", "/stats/features", "/stats/features", Some(ADMIN_KEY)),
    (
        "get",
        "/stats/version-migration",
        "/stats/version-migration",
        Some(ADMIN_KEY),
    ),
    (
        "get",
        "/stats/feature-trends",
        "/stats/feature-trends",
        Some(ADMIN_KEY),
    ),
    ("get", "/stats/errors", "/stats/errors", Some(ADMIN_KEY)),
    (
        "get",
        "/stats/anomalies",
        "/stats/anomalies",
        Some(ADMIN_KEY),
    ),
    (
        "get",
        "/api/v1/metrics/{metric}",
        "/api/v1/metrics/jobs",
        Some(ADMIN_KEY),
    ),
    (
        "get",
        "/api/v1/dimensions/{dimension}",
        "/api/v1/dimensions/version",
        Some(ADMIN_KEY),
    ),
    (
        "get",
        "/api/v1/measures/{path}",
        "/api/v1/measures/transcription_completed.duration?product=stories",
        Some(ADMIN_KEY),
    ),
    (
        "get",
        "/api/v1/events",
        "/api/v1/events?product=stories",
        Some(ADMIN_KEY),
    ),
    (
        "get",
        "/api/v1/outcomes",
        "/api/v1/outcomes",
        Some(ADMIN_KEY),
    ),
    (
        "get",
        "/api/v1/products",
        "/api/v1/products",
        Some(ADMIN_KEY),
    ),
    (
        "get",
        "/api/v1/public/overview",
        "/api/v1/public/overview",
        None,
    ),
];

async fn document(app: &TestApp) -> Value {
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), 200);
    body(response).await
}

async fn request(app: &TestApp, method: &str, path: &str, key: Option<&str>) -> reqwest::Response {
    let method = method.to_uppercase().parse().expect("an HTTP method");
    let mut request = app.http.request(method, app.url(path));
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    request.send().await.expect("request sent")
}

#[tokio::test]
async fn the_served_document_equals_the_committed_snapshot() {
    let app = spawn_app().await;

    let served = serde_json::to_string_pretty(&document(&app).await).unwrap() + "\n";

    if std::env::var("UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::write(SNAPSHOT, &served).expect("the snapshot is written");
        return;
    }
    let committed = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        served == committed,
        "GET /openapi.json differs from {SNAPSHOT}; if the change is meant, run the test with \
         UPDATE_SNAPSHOTS=1 and commit the file"
    );
}

#[tokio::test]
async fn every_mounted_route_answers_and_the_document_names_exactly_those_routes() {
    let app = spawn_app().await;
    let doc = document(&app).await;

    for (method, documented, path, key) in ROUTES {
        let status = request(&app, method, path, key).await.status();
        assert!(
            status != 404 && status != 405,
            "{method} {path} answered {status}"
        );
        assert!(
            doc["paths"][documented][method].is_object(),
            "{method} {documented} is not in the document"
        );
    }
    let mut in_document: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            in_document.push((method.clone(), path.clone()));
        }
    }
    let mut mounted: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(method, path, _, _)| (method.to_string(), path.to_string()))
        .collect();
    in_document.sort();
    mounted.sort();
    assert_eq!(in_document, mounted);
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_reference_in_it_resolves() {
    let app = spawn_app().await;
    let doc = document(&app).await;

    let spec = oas3::from_json(doc.to_string()).expect("an OpenAPI 3.1 document");

    assert!(spec.validate_version().is_ok(), "version {}", spec.openapi);
    assert_eq!(spec.operations().count(), ROUTES.len());
    let mut unresolved = Vec::new();
    references(&doc, &mut |reference| {
        let target = reference
            .strip_prefix("#/")
            .map(|pointer| doc.pointer(&format!("/{pointer}")));
        if !matches!(target, Some(Some(_))) {
            unresolved.push(reference.to_owned());
        }
    });
    assert!(unresolved.is_empty(), "{unresolved:?}");
}

fn references(value: &Value, found: &mut impl FnMut(&str)) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                found(reference);
            }
            object.values().for_each(|value| references(value, found));
        }
        Value::Array(list) => list.iter().for_each(|value| references(value, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_documented_body_matches_what_its_route_answers() {
    let app = spawn_app_with(|c| {
        c.rate_limit_per_hour = 0;
        c.ip_rate_per_minute = 0;
        c.rollup_interval_secs = 1;
        c.min_cohort = 1;
    })
    .await;
    // A week before: one installation; now: three, one of them on a newer version and in
    // another country, all with errors. So every list is filled and the anomalies fire.
    send(&app, &report_ago(&id(4), 10, |_| {})).await;
    for n in 1..=3 {
        send(
            &app,
            &report_ago(&id(n), 1, |b| {
                if n == 3 {
                    b["installation"]["app_version"] = "2.42.0-3-gabc1234".into();
                    b["installation"]["country_code"] = "GB".into();
                }
            }),
        )
        .await;
    }
    send(&app, &report_ago(ANY_ID, 2, |_| {})).await;
    roll(&app).await;
    public_overview_after_a_rollup(&app).await;
    let doc = document(&app).await;

    let mut problems = Vec::new();
    for (method, documented, path, key) in ROUTES {
        let response = if documented == "/submit" {
            app.submit(&fresh_report().1).await
        } else {
            request(&app, method, path, key).await
        };
        let status = response.status().as_u16();
        problems.extend(check_response(&doc, method, documented, status, response).await);
    }
    // Errors: a missing key, an ingest key on an admin route, a broken field, an unknown path.
    let mut broken = fresh_report().1;
    broken["usage_stats"]["job_count"] = json!(-1);
    let errors = [
        (
            "get",
            "/stats/summary",
            request(&app, "get", "/stats/summary", None).await,
        ),
        (
            "get",
            "/stats/summary",
            request(&app, "get", "/stats/summary", Some(INGEST_KEY)).await,
        ),
        ("post", "/submit", app.submit(&broken).await),
        (
            "get",
            "/stats/versions",
            request(&app, "get", "/stats/versions?limit=0", Some(ADMIN_KEY)).await,
        ),
        (
            "get",
            "/api/v1/metrics/{metric}",
            request(&app, "get", "/api/v1/metrics/nope", Some(ADMIN_KEY)).await,
        ),
    ];
    for (method, documented, response) in errors {
        let status = response.status().as_u16();
        problems.extend(check_response(&doc, method, documented, status, response).await);
    }

    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test]
async fn the_documented_ceilings_of_a_report_are_the_ones_submit_enforces() {
    let app = crate::rollup::app().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let ceilings = [
        ("printer_fleet", "PrinterFleet", "printer_count"),
        ("usage_stats", "UsageStats", "job_count"),
        ("usage_stats", "UsageStats", "file_count"),
        ("usage_stats", "UsageStats", "upload_count"),
        ("usage_stats", "UsageStats", "uptime_hours"),
    ];

    for (section, schema, field) in ceilings {
        let maximum = schemas[schema]["properties"][field]["maximum"]
            .as_i64()
            .unwrap_or_else(|| panic!("{schema}.{field} documents no maximum"));
        let at_most = ceiling_report(section, field, maximum);
        let past = ceiling_report(section, field, maximum + 1);

        let accepted = app.submit(&at_most).await;
        let refused = app.submit(&past).await;

        assert_eq!(accepted.status(), 200, "{field} = {maximum}");
        assert_eq!(refused.status(), 422, "{field} = {}", maximum + 1);
        assert_eq!(
            body(refused).await["detail"][0]["loc"],
            json!(["body", section, field])
        );
    }
}

/// A fresh installation's report over the longest period (31 days), with one field set.
fn ceiling_report(section: &str, field: &str, value: i64) -> Value {
    let end = Utc::now() - Duration::minutes(5);
    let mut body = report(&uuid::Uuid::new_v4().to_string(), end);
    body["period"] = json!({"start": naive(end - Duration::days(31)), "end": naive(end)});
    body[section][field] = json!(value);
    body
}

/// What is wrong with a response, measured against the document's description of it.
async fn check_response(
    doc: &Value,
    method: &str,
    path: &str,
    status: u16,
    response: reqwest::Response,
) -> Vec<String> {
    let at = format!("{method} {path} {status}");
    let described = &doc["paths"][path][method]["responses"][status.to_string()];
    if !described.is_object() {
        return vec![format!("{at}: status not documented")];
    }
    let is_json = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let Some(schema) = described["content"]["application/json"]["schema"].as_object() else {
        return Vec::new();
    };
    if !is_json {
        return vec![format!("{at}: documented as JSON, answered otherwise")];
    }
    let value: Value = response.json().await.expect("a JSON body");
    let mut problems = Vec::new();
    check(
        doc,
        &Value::Object(schema.clone()),
        &value,
        &at,
        &mut problems,
    );
    problems
}

/// A small JSON Schema check, enough for the document's own constructs: `$ref`, `type`,
/// `enum`, `format` (date, date-time), `oneOf`, `properties`/`required`/`additionalProperties`
/// (a key the schema does not name is a problem), `items`.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return check(
            doc,
            &doc["components"]["schemas"][name],
            value,
            at,
            problems,
        );
    }
    if let Some(alternatives) = schema["oneOf"].as_array() {
        let fits = alternatives.iter().any(|alternative| {
            let mut found = Vec::new();
            check(doc, alternative, value, at, &mut found);
            found.is_empty()
        });
        if !fits {
            problems.push(format!("{at}: {value} fits none of oneOf"));
        }
        return;
    }
    if let Some(types) = types(schema) {
        if !types.iter().any(|t| is_of_type(value, t)) {
            problems.push(format!("{at}: {value} is not {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            problems.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(format), Some(text)) = (schema["format"].as_str(), value.as_str()) {
        let parses = match format {
            "date" => NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
            "date-time" => DateTime::parse_from_rfc3339(text).is_ok(),
            _ => true,
        };
        if !parses {
            problems.push(format!("{at}: {text:?} is not a {format}"));
        }
    }
    let free_form =
        schema.get("properties").is_none() && schema.get("additionalProperties").is_none();
    if let Some(object) = value.as_object().filter(|_| !free_form) {
        for required in schema["required"].as_array().into_iter().flatten() {
            let key = required.as_str().unwrap_or_default();
            if !object.contains_key(key) {
                problems.push(format!("{at}: required {key:?} is missing"));
            }
        }
        for (key, item) in object {
            let at = format!("{at}.{key}");
            match (&schema["properties"][key], &schema["additionalProperties"]) {
                (property, _) if !property.is_null() => check(doc, property, item, &at, problems),
                (_, extra) if extra.is_object() => check(doc, extra, item, &at, problems),
                _ => problems.push(format!("{at}: not documented")),
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (n, item) in list.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{n}]"), problems);
        }
    }
}

fn types(schema: &Value) -> Option<Vec<&str>> {
    match &schema["type"] {
        Value::String(one) => Some(vec![one.as_str()]),
        Value::Array(many) => Some(many.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn is_of_type(value: &Value, kind: &str) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}
