//! The catalog's other clients, each with its real body shape, against a real server and a
//! real PostgreSQL: IndexPilot's daily telemetry, Stories' event batches and crash reports,
//! franklinwh-cloud's PostHog-style capture, and a fifth product added by a catalog file.
//! What is checked is what lands in `activity` (one row per installation per day) and what
//! never does.

use std::collections::BTreeMap;

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::activity_reads::roll_all;
use crate::catalog::CatalogFile;
use crate::helpers::{
    at_days_ago, body, date_days_ago, pg_dump, spawn_app_with, TestApp, ADMIN_KEY,
};

pub(crate) const INDEXPILOT_KEY: &str = "ip-key";
pub(crate) const FRANKLIN_KEY: &str = "phc_franklin";
const PRINTERNIZER_KEY: &str = "pz-key";

pub(crate) async fn app() -> TestApp {
    app_with_catalog(None).await
}

async fn app_with_catalog(catalog: Option<std::path::PathBuf>) -> TestApp {
    spawn_app_with(|c| {
        c.ingest_keys = [
            PRINTERNIZER_KEY.to_owned(),
            format!("indexpilot:{INDEXPILOT_KEY}"),
            format!("franklinwh:{FRANKLIN_KEY}"),
            "kiln:kiln-key".to_owned(),
        ]
        .iter()
        .map(|key| key.parse().expect("a key"))
        .collect();
        if catalog.is_none() {
            c.ingest_keys.pop();
        }
        c.catalog = catalog;
        c.rate_limit_per_hour = 0;
        c.ip_rate_per_minute = 0;
    })
    .await
}

pub(crate) fn now_text() -> String {
    (Utc::now() - Duration::minutes(1)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn telemetry(installation: &str, indexes_created: u64) -> Value {
    json!({
        "installation_id": installation,
        "version": "1.0.0",
        "timestamp": now_text(),
        "metrics": {
            "features_used": ["auto_indexing", "pattern_detection"],
            "indexes_created": indexes_created,
            "queries_analyzed": 10000,
            "performance_improvement_pct": 30.5,
            "algorithm_usage": {"predictive_indexing": 15, "cert": 8, "qpg": 12}
        },
        "environment": {"python_version": "3.11.0", "postgresql_version": "15.0", "os": "linux", "cpu_cores": 8}
    })
}

pub(crate) fn stories_batch(user: &str) -> Value {
    let at = now_text();
    json!({
        "user_id": user,
        "events": [
            {"event_type": "app_opened", "timestamp": at, "properties": {"app_version": "1.4.0", "os_version": "14.2", "language": "de"}},
            {"event_type": "transcription_completed", "timestamp": at, "properties": {"duration": 12.5, "success": true}},
            {"event_type": "transcription_failed", "timestamp": at, "properties": {"error_type": "network_error"}}
        ]
    })
}

/// franklinwh-cloud 0.6.4's body, exactly as its `telemetry.py` sends it.
pub(crate) fn franklin_event(distinct_id: &str) -> Value {
    json!({
        "api_key": FRANKLIN_KEY,
        "event": "cli_command_executed",
        "properties": {
            "$ip": "127.0.0.1",
            "distinct_id": distinct_id,
            "franklin_version": "0.6.4",
            "python_version": "3.11.7",
            "os": "Linux",
            "os_release": "6.1.0-18-amd64",
            "command": "status"
        }
    })
}

pub(crate) async fn post(
    app: &TestApp,
    path: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = app.http.post(app.url(path)).json(body);
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    request.send().await.expect("request sent")
}

/// The stored days of `product`: installation -> the counts of its day today, summed over its
/// rows as the fold will (a batch's events are appended, then folded into the day's row).
pub(crate) async fn stored(app: &TestApp, product: &str) -> BTreeMap<String, Value> {
    app.db()
        .await
        .query(
            "SELECT installation_id, jsonb_object_agg(key, total)
             FROM (SELECT installation_id, key, sum(value::numeric) AS total
                   FROM activity_rows, jsonb_each(counts) WHERE product = $1
                   GROUP BY installation_id, key) AS summed
             GROUP BY installation_id",
            &[&product],
        )
        .await
        .expect("activity read")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

fn locations(response: &Value) -> Vec<Vec<String>> {
    response["detail"]
        .as_array()
        .expect("a list of field errors")
        .iter()
        .map(|error| serde_json::from_value(error["loc"].clone()).expect("a location"))
        .collect()
}

#[tokio::test]
async fn indexpilot_telemetry_is_one_row_per_installation_per_day_and_a_resend_replaces_it() {
    let app = app().await;
    let installation = "a3f5b2c1d4e6f7a8b9c0";

    let first = post(
        &app,
        "/api/v1/telemetry",
        Some(INDEXPILOT_KEY),
        &telemetry(installation, 42),
    )
    .await;
    assert_eq!(first.status(), 200);
    let answer = body(first).await;
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["message"], "Telemetry received");
    let next =
        chrono::DateTime::parse_from_rfc3339(answer["next_collection"].as_str().expect("a time"))
            .expect("RFC 3339");
    assert!(next > Utc::now() + Duration::hours(23));
    let resent = post(
        &app,
        "/api/v1/telemetry",
        Some(INDEXPILOT_KEY),
        &telemetry(installation, 50),
    )
    .await;
    assert_eq!(resent.status(), 200);

    let days = stored(&app, "indexpilot").await;
    assert_eq!(days.len(), 1);
    let counts = &days[installation];
    assert_eq!(counts["counter/indexes_created"], 50.0);
    assert_eq!(counts["counter/queries_analyzed"], 10000.0);
    assert_eq!(counts["dim/os/linux"], 1.0);
    assert_eq!(counts["dim/version/1.0.0"], 1.0);
    assert_eq!(counts["flag/features_used/auto_indexing"], 1.0);
    assert_eq!(counts["map/algorithm_usage/cert"], 8.0);
    assert_eq!(counts["measure/performance_improvement_pct/sum"], 30.5);
}

#[tokio::test]
async fn an_indexpilot_day_older_than_the_installations_first_day_becomes_its_first_day() {
    let app = app().await;
    let installation = "b4e6c3d2a1f0e9d8c7b6";
    for days_ago in [0, 3] {
        let mut report = telemetry(installation, 1);
        report["timestamp"] = json!(at_days_ago(days_ago));
        let response = post(&app, "/api/v1/telemetry", Some(INDEXPILOT_KEY), &report).await;
        assert_eq!(response.status(), 200);
    }

    roll_all(&app, 400).await;

    let (from, to) = (date_days_ago(3), date_days_ago(0));
    let response = app
        .get(
            &format!("/api/v1/metrics/new_installations?product=indexpilot&from={from}&to={to}"),
            Some(ADMIN_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let new: Vec<(String, i64)> = body(response).await["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|point| {
            (
                point["date"].as_str().unwrap().to_owned(),
                point["value"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        new,
        vec![
            (from, 1),
            (date_days_ago(2), 0),
            (date_days_ago(1), 0),
            (to, 0)
        ]
    );
}

#[tokio::test]
async fn an_indexpilot_report_keeps_its_good_fields_when_others_break_their_rules() {
    let app = app().await;
    let installation = "a3f5b2c1d4e6f7a8b9c0";
    let mut report = telemetry(installation, 100_001);
    report["environment"]["python_version"] = json!("3.11 /home/me");
    report["version"] = json!("v1.2.0");

    let response = post(&app, "/api/v1/telemetry", Some(INDEXPILOT_KEY), &report).await;

    assert_eq!(response.status(), 200);
    let counts = &stored(&app, "indexpilot").await[installation];
    assert_eq!(counts["dim/version/1.2.0"], 1.0);
    assert_eq!(counts["dim/python_version/other"], 1.0);
    assert_eq!(counts["counter/queries_analyzed"], 10000.0);
    assert!(counts.get("counter/indexes_created").is_none(), "{counts}");
    let outcomes = wait_for_outcome(&app, "indexpilot", "accepted", 1).await;
    for (outcome, count) in [
        ("fields_rejected", 1),
        ("values_normalised", 1),
        ("values_stored_as_other", 1),
    ] {
        assert_eq!(outcomes["totals"][outcome], count, "{outcome}: {outcomes}");
    }
}

#[tokio::test]
async fn an_indexpilot_report_without_a_usable_installation_id_is_422_and_nothing_is_stored() {
    let app = app().await;

    let response = post(
        &app,
        "/api/v1/telemetry",
        Some(INDEXPILOT_KEY),
        &telemetry("not-a-hex-hash-at-all", 1),
    )
    .await;

    assert_eq!(response.status(), 422);
    assert_eq!(
        locations(&body(response).await),
        [["body", "installation_id"]]
    );
    assert!(stored(&app, "indexpilot").await.is_empty());
}

#[tokio::test]
async fn each_route_takes_its_own_products_keys_only() {
    let app = app().await;
    let body = telemetry("a3f5b2c1d4e6f7a8", 1);

    let own = post(&app, "/api/v1/telemetry", Some(INDEXPILOT_KEY), &body).await;
    let printernizers = post(&app, "/api/v1/telemetry", Some(PRINTERNIZER_KEY), &body).await;
    let none = post(&app, "/api/v1/telemetry", None, &body).await;
    let unknown = post(&app, "/api/v1/telemetry", Some("nope"), &body).await;
    let on_submit = post(
        &app,
        "/submit",
        Some(INDEXPILOT_KEY),
        &crate::helpers::fresh_report().1,
    )
    .await;
    let mut captured = franklin_event("0c6f2a6e-8d0b-4c53-9d55-1a0f2f6a9a11");
    captured["api_key"] = json!(INDEXPILOT_KEY);
    let capture_with_another_products_key = post(&app, "/capture/", None, &captured).await;

    assert_eq!(own.status(), 200);
    assert_eq!(printernizers.status(), 403);
    assert_eq!(none.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(on_submit.status(), 403);
    assert_eq!(capture_with_another_products_key.status(), 403);
}

#[tokio::test]
async fn a_stories_batch_needs_no_key_and_a_resent_batch_is_counted_once() {
    let app = app().await;
    let user = "user_7f3a9c2e";
    let batch = stories_batch(user);

    let first = post(&app, "/api/events/batch", None, &batch).await;
    let resent = post(&app, "/api/events/batch", None, &batch).await;

    assert_eq!(first.status(), 200);
    assert_eq!(resent.status(), 200);
    assert_eq!(body(resent).await["status"], "success");
    let days = stored(&app, "stories").await;
    let counts = &days[user];
    assert_eq!(counts["event/app_opened"], 1.0);
    assert_eq!(counts["event/transcription_completed"], 1.0);
    assert_eq!(counts["dim/app_opened.language/de"], 1.0);
    assert_eq!(counts["flag/transcription_completed.success"], 1.0);
    assert_eq!(counts["measure/transcription_completed.duration/sum"], 12.5);
    assert_eq!(
        counts["dim/transcription_failed.error_type/network_error"],
        1.0
    );

    let mut another = stories_batch(user);
    another["events"][0]["timestamp"] = json!((Utc::now() - Duration::minutes(2)).to_rfc3339());
    assert_eq!(
        post(&app, "/api/events/batch", None, &another)
            .await
            .status(),
        200
    );
    assert_eq!(stored(&app, "stories").await[user]["event/app_opened"], 2.0);
}

#[tokio::test]
async fn a_later_batch_of_the_same_day_adds_its_keys_and_leaves_the_others_as_they_were() {
    let app = app().await;
    let user = "user_5b1d0e4f";
    assert_eq!(
        post(&app, "/api/events/batch", None, &stories_batch(user))
            .await
            .status(),
        200
    );
    let at = now_text();
    let later = json!({
        "user_id": user,
        "events": [
            {"event_type": "transcription_completed", "timestamp": at, "properties": {"duration": 0.25, "success": true}},
            {"event_type": "app_opened", "timestamp": at, "properties": {"language": "fr"}}
        ]
    });

    assert_eq!(
        post(&app, "/api/events/batch", None, &later).await.status(),
        200
    );

    let days = stored(&app, "stories").await;
    let counts = &days[user];
    // Added into keys both batches have.
    assert_eq!(counts["event/transcription_completed"], 2.0);
    assert_eq!(
        counts["measure/transcription_completed.duration/sum"],
        12.75
    );
    assert_eq!(counts["event/app_opened"], 2.0);
    // Kept from the first batch alone, and new from the second alone.
    assert_eq!(counts["dim/app_opened.language/de"], 1.0);
    assert_eq!(counts["event/transcription_failed"], 1.0);
    assert_eq!(counts["dim/app_opened.language/fr"], 1.0);

    // The rollup folds both batches into the day's one row first, and reads that.
    let before = days.clone();
    roll_every_product(&app).await;
    assert_eq!(appended(&app).await, 0);
    assert_eq!(folded(&app, "stories").await, before);

    // A batch after the fold is added into the folded row by the next one.
    let third = json!({
        "user_id": user,
        "events": [{"event_type": "app_opened", "timestamp": at, "properties": {"language": "it"}}]
    });
    assert_eq!(
        post(&app, "/api/events/batch", None, &third).await.status(),
        200
    );
    roll_every_product(&app).await;
    let days = folded(&app, "stories").await;
    let counts = &days[user];
    assert_eq!(counts["event/app_opened"], 3.0);
    assert_eq!(counts["dim/app_opened.language/it"], 1.0);
    assert_eq!(counts["dim/app_opened.language/de"], 1.0);
    assert_eq!(counts["event/transcription_completed"], 2.0);
}

#[tokio::test]
async fn the_rollup_folds_each_installations_appended_batches_into_one_row_a_day() {
    let app = app().await;
    // The server's own rollup folds too: its first run (at start) is over, and the next is a
    // minute away.
    wait_for_the_servers_first_rollup(&app).await;
    let users = ["user_0a0a0a0a", "user_0b0b0b0b"];
    for user in users {
        // Batches of 1, 2 and 3 events: none is a resend of another.
        for size in 1..=3 {
            let at = now_text();
            let opened = json!({"event_type": "app_opened", "timestamp": at, "properties": {"language": "de"}});
            let batch = json!({"user_id": user, "events": vec![opened; size]});
            let response = post(&app, "/api/events/batch", None, &batch).await;
            assert_eq!(response.status(), 200);
        }
    }
    // Each batch is a row of its own until the fold, and the installations register with it.
    assert_eq!(appended(&app).await, 6);
    assert_eq!(registered(&app).await, 0);
    let sent = stored(&app, "stories").await;

    roll_every_product(&app).await;

    assert_eq!(appended(&app).await, 0);
    assert_eq!(registered(&app).await, 2);
    let days = folded(&app, "stories").await;
    assert_eq!(days, sent);
    assert_eq!(days.len(), users.len());
    for user in users {
        assert_eq!(days[user]["event/app_opened"], 6.0, "{days:?}");
        assert_eq!(days[user]["dim/app_opened.language/de"], 6.0, "{days:?}");
    }
}

/// Stories' installations in the registry.
async fn registered(app: &TestApp) -> i64 {
    app.db()
        .await
        .query_one(
            "SELECT count(*) FROM activity_installations WHERE product = 'stories'",
            &[],
        )
        .await
        .expect("registered installations counted")
        .get(0)
}

pub(crate) async fn wait_for_the_servers_first_rollup(app: &TestApp) {
    let db = app.db().await;
    let started = std::time::Instant::now();
    while db
        .query_one(
            "SELECT count(*) FROM rollup_state WHERE product = 'stories'",
            &[],
        )
        .await
        .expect("rollup state read")
        .get::<_, i64>(0)
        == 0
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the server's first rollup run did not end in 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Rows appended and not folded yet.
async fn appended(app: &TestApp) -> i64 {
    app.db()
        .await
        .query_one("SELECT count(*) FROM activity_added", &[])
        .await
        .expect("appended rows counted")
        .get(0)
}

/// The folded days of `product` (one row per installation and day): installation -> counts,
/// as `activity_rows` shows them once nothing waits for the fold.
async fn folded(app: &TestApp, product: &str) -> BTreeMap<String, Value> {
    assert_eq!(appended(app).await, 0, "every appended row is folded");
    app.db()
        .await
        .query(
            "SELECT installation_id, counts FROM activity_rows WHERE product = $1",
            &[&product],
        )
        .await
        .expect("activity read")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}
#[tokio::test]
async fn a_stories_batch_keeps_its_good_events_when_others_are_unusable_and_a_resend_counts_once() {
    let app = app().await;
    let user = "user_7f3a9c2e";
    let mut batch = stories_batch(user);
    batch["events"][1]["properties"]["duration"] = json!(-3);
    batch["events"][2]["timestamp"] = json!("yesterday-ish");

    let response = post(&app, "/api/events/batch", None, &batch).await;
    let resent = post(&app, "/api/events/batch", None, &batch).await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        body(response).await,
        json!({"status": "success", "message": "Events received"})
    );
    assert_eq!(resent.status(), 200);
    let counts = &stored(&app, "stories").await[user];
    assert_eq!(counts["event/app_opened"], 1.0);
    assert!(
        counts.get("event/transcription_completed").is_none(),
        "{counts}"
    );
    assert!(
        counts.get("event/transcription_failed").is_none(),
        "{counts}"
    );
    let outcomes = wait_for_outcome(&app, "stories", "duplicate", 1).await;
    assert_eq!(outcomes["totals"]["accepted"], 1, "{outcomes}");
    // Counted for each request that set them aside, the resend included.
    assert_eq!(outcomes["totals"]["events_rejected_range"], 2, "{outcomes}");
    assert_eq!(outcomes["totals"]["events_rejected_time"], 2, "{outcomes}");
}

#[tokio::test]
async fn a_crash_is_counted_by_error_type_and_versions_and_its_text_is_nowhere_in_the_database() {
    let app = app().await;
    let message = "TypeError: Cannot read properties of undefined (reading 'secretword') at /Users/annabelle/Library/app.js";
    let trace =
        "at transcribe (/Users/annabelle/Library/Application Support/stories/main.js:812:17)";

    let response = post(
        &app,
        "/api/crashes",
        None,
        &json!({
            "error_message": message,
            "stack_trace": trace,
            "app_version": "1.4.0",
            "os_version": "14.2",
            "timestamp": now_text(),
            "user_id": "user_7f3a9c2e"
        }),
    )
    .await;

    assert_eq!(response.status(), 200);
    let counts = &stored(&app, "stories").await["user_7f3a9c2e"];
    assert_eq!(counts["event/crash"], 1.0);
    assert_eq!(counts["dim/crash.error_type/typeerror"], 1.0);
    assert_eq!(counts["dim/crash.app_version/1.4.0"], 1.0);
    let schema = app.schema.clone();
    let dump = tokio::task::spawn_blocking(move || pg_dump(&schema))
        .await
        .expect("pg_dump");
    for secret in [
        "annabelle",
        "secretword",
        "Cannot read",
        "main.js",
        "transcribe",
    ] {
        assert!(!dump.contains(secret), "the dump contains {secret}");
    }
}

#[tokio::test]
async fn franklinwh_clis_exact_body_is_captured_exact_through_api_v1_and_its_ip_is_never_stored() {
    let app = app().await;
    let installation = "0c6f2a6e-8d0b-4c53-9d55-1a0f2f6a9a11";

    let response = post(&app, "/capture/", None, &franklin_event(installation)).await;

    assert_eq!(response.status(), 200);
    assert_eq!(body(response).await, json!({"status": 1}));
    let mut top_level = franklin_event(installation);
    let properties = top_level["properties"].as_object_mut().expect("properties");
    properties.remove("distinct_id");
    top_level["distinct_id"] = json!(installation);
    assert_eq!(post(&app, "/capture", None, &top_level).await.status(), 200);
    let batch =
        json!({"api_key": FRANKLIN_KEY, "batch": [franklin_event(installation), top_level]});
    assert_eq!(post(&app, "/batch/", None, &batch).await.status(), 200);

    let counts = &stored(&app, "franklinwh").await[installation];
    // Two single captures and a batch of two: no timestamps, so four events, none a resend.
    assert_eq!(counts["event/cli_command_executed"], 4.0);
    assert_eq!(counts["dim/cli_command_executed.os/linux"], 4.0);
    assert_eq!(counts["dim/cli_command_executed.command/status"], 4.0);
    roll_every_product(&app).await;
    let today = format!(
        "product=franklinwh&from={}&to={}",
        date_days_ago(0),
        date_days_ago(0)
    );
    let admin = Some(crate::helpers::ADMIN_KEY);
    let events = body(app.get(&format!("/api/v1/events?{today}"), admin).await).await;
    assert_eq!(
        events["days"][0]["events"]["cli_command_executed"],
        json!({"count": 4, "installations": 1}),
        "{events}"
    );
    let path = format!("/api/v1/dimensions/cli_command_executed.command?{today}");
    let commands = body(app.get(&path, admin).await).await;
    assert_eq!(
        commands["points"][0]["values"]["status"],
        json!({"installations": 1, "amount": 4}),
        "{commands}"
    );
    let schema = app.schema.clone();
    let dump = tokio::task::spawn_blocking(move || pg_dump(&schema))
        .await
        .expect("pg_dump");
    for absent in ["127.0.0.1", "$ip", "6.1.0-18-amd64", FRANKLIN_KEY] {
        assert!(!dump.contains(absent), "the dump contains {absent}");
    }
}

#[tokio::test]
async fn a_capture_without_a_known_api_key_is_401() {
    let app = app().await;
    let mut event = franklin_event("0c6f2a6e-8d0b-4c53-9d55-1a0f2f6a9a11");
    event["api_key"] = json!("phc_unknown");

    let response = post(&app, "/capture/", None, &event).await;

    assert_eq!(response.status(), 401);
    assert!(stored(&app, "franklinwh").await.is_empty());
}

#[tokio::test]
async fn a_fifth_product_declared_in_a_catalog_file_takes_telemetry_with_its_own_key() {
    let file = CatalogFile::new(crate::catalog::KILN);
    let app = app_with_catalog(Some(file.0.clone())).await;
    let report = json!({
        "installation_id": "00ff00ff00ff00ff",
        "version": "2.0.0",
        "timestamp": now_text(),
        "metrics": {"firings": 7, "kiln_temperature": 1200},
        "environment": {"glaze": "Matte"}
    });

    let response = post(&app, "/api/v1/telemetry", Some("kiln-key"), &report).await;

    assert_eq!(response.status(), 200);
    let counts = &stored(&app, "kiln").await["00ff00ff00ff00ff"];
    assert_eq!(counts["counter/firings"], 7.0);
    assert_eq!(counts["dim/glaze/matte"], 1.0);
    assert!(counts.get("counter/kiln_temperature").is_none(), "{counts}");
    assert!(stored(&app, "indexpilot").await.is_empty());
}

/// Rolls every product, once what was just written is behind the rollup's watermark (which
/// trails the clock by a second).
pub(crate) async fn roll_every_product(app: &TestApp) {
    static CATALOG: std::sync::OnceLock<tally::domain::Catalog> = std::sync::OnceLock::new();
    let catalog =
        CATALOG.get_or_init(|| tally::domain::Catalog::load(None).expect("the built-in catalog"));
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    tally::rollup::bring_all_up_to_date(
        &crate::helpers::query_pool(&app.database_url),
        catalog,
        400,
        tally::rollup::Wait::Yes,
    )
    .await
    .expect("the rollup runs");
}

fn opened(days_ago: i64, language: &str) -> Value {
    json!({"event_type": "app_opened", "timestamp": at_days_ago(days_ago), "properties": {"app_version": "1.4.0", "os_version": "14.2", "language": language}})
}

#[tokio::test]
async fn stories_numbers_sent_through_its_own_routes_come_out_exact_through_api_v1() {
    let app = app().await;
    // A: two app starts today and one yesterday; B: one today and a crash; C: one yesterday,
    // sent twice (a retry). Crash-free today: 1 of 2.
    let a = json!({"user_id": "user_aaaaaaaa", "events": [opened(0, "de"), opened(0, "de"), opened(1, "en")]});
    let b = json!({"user_id": "user_bbbbbbbb", "events": [opened(0, "fr")]});
    let c = json!({"user_id": "user_cccccccc", "events": [opened(1, "de")]});
    for batch in [&a, &b, &c, &c] {
        assert_eq!(
            post(&app, "/api/events/batch", None, batch).await.status(),
            200
        );
    }
    let crash = json!({"error_message": "RangeError: x", "app_version": "1.4.0", "os_version": "14.2", "timestamp": at_days_ago(0), "user_id": "user_bbbbbbbb"});
    assert_eq!(post(&app, "/api/crashes", None, &crash).await.status(), 200);

    roll_every_product(&app).await;

    let range = format!(
        "product=stories&from={}&to={}",
        date_days_ago(1),
        date_days_ago(0)
    );
    let events = body(
        app.get(
            &format!("/api/v1/events?{range}"),
            Some(crate::helpers::ADMIN_KEY),
        )
        .await,
    )
    .await;
    assert_eq!(
        events,
        json!({"product": "stories", "days": [
            {"date": date_days_ago(1), "events": {"app_opened": {"count": 2, "installations": 2}}},
            {"date": date_days_ago(0), "events": {
                "app_opened": {"count": 3, "installations": 2},
                "crash": {"count": 1, "installations": 1}
            }}
        ]})
    );
    let active = body(
        app.get(
            &format!("/api/v1/metrics/active_installations?{range}&window=1"),
            Some(crate::helpers::ADMIN_KEY),
        )
        .await,
    )
    .await;
    let values: Vec<&Value> = active["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| &p["value"])
        .collect();
    assert_eq!(values, [&json!(2), &json!(2)], "{active}");
    let week = body(
        app.get(
            &format!("/api/v1/metrics/active_installations?{range}&window=7"),
            Some(crate::helpers::ADMIN_KEY),
        )
        .await,
    )
    .await;
    assert_eq!(week["points"][1]["value"], 3, "{week}");
    let crash_free = body(
        app.get(
            &format!("/api/v1/metrics/crash_free?{range}&window=1"),
            Some(crate::helpers::ADMIN_KEY),
        )
        .await,
    )
    .await;
    assert_eq!(crash_free["points"][1]["value"], 0.5, "{crash_free}");
}

#[tokio::test]
async fn indexpilot_numbers_sent_through_its_route_come_out_exact_through_api_v1() {
    let app = app().await;
    for (installation, indexes) in [
        ("aaaaaaaaaaaaaaaa", 10),
        ("bbbbbbbbbbbbbbbb", 5),
        ("aaaaaaaaaaaaaaaa", 12),
    ] {
        let response = post(
            &app,
            "/api/v1/telemetry",
            Some(INDEXPILOT_KEY),
            &telemetry(installation, indexes),
        )
        .await;
        assert_eq!(response.status(), 200);
    }

    roll_every_product(&app).await;

    let today = format!(
        "product=indexpilot&from={}&to={}",
        date_days_ago(0),
        date_days_ago(0)
    );
    let get = |metric: &str| {
        let path = format!("/api/v1/metrics/{metric}?{today}&window=1");
        let app = &app;
        async move {
            body(app.get(&path, Some(crate::helpers::ADMIN_KEY)).await).await["points"][0]["value"]
                .clone()
        }
    };
    // The resend replaced A's report: 12 + 5.
    assert_eq!(get("indexes_created").await, 17);
    assert_eq!(get("active_installations").await, 2);
    assert_eq!(get("new_installations").await, 2);
    let os = body(
        app.get(
            &format!("/api/v1/dimensions/os?{today}"),
            Some(crate::helpers::ADMIN_KEY),
        )
        .await,
    )
    .await;
    assert_eq!(
        os["points"][0]["values"]["linux"]["installations"], 2,
        "{os}"
    );
}

/// The outcomes `/api/v1/outcomes?product=` reports once the server has flushed them (every
/// 5 s): waits until `outcome` reaches `count`.
pub(crate) async fn wait_for_outcome(
    app: &TestApp,
    product: &str,
    outcome: &str,
    count: i64,
) -> Value {
    let started = std::time::Instant::now();
    loop {
        let path = format!(
            "/api/v1/outcomes?product={product}&from={}&to={}",
            date_days_ago(0),
            date_days_ago(0)
        );
        let outcomes = body(app.get(&path, Some(crate::helpers::ADMIN_KEY)).await).await;
        if outcomes["totals"][outcome] == count {
            return outcomes;
        }
        assert!(started.elapsed().as_secs() < 20, "{outcomes}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn outcomes_are_counted_per_product_with_what_was_dropped_or_stored_as_other() {
    let app = app().await;
    let mut report = telemetry("cccccccccccccccc", 1);
    report["environment"]["os"] = json!("plan9");
    report["environment"]["kernel"] = json!("6.1");
    let batch = stories_batch("user_dddddddd");

    assert_eq!(
        post(&app, "/api/v1/telemetry", Some(INDEXPILOT_KEY), &report)
            .await
            .status(),
        200
    );
    assert_eq!(
        post(&app, "/api/v1/telemetry", None, &report)
            .await
            .status(),
        401
    );
    assert_eq!(
        post(&app, "/api/events/batch", None, &batch).await.status(),
        200
    );
    assert_eq!(
        post(&app, "/api/events/batch", None, &batch).await.status(),
        200
    );

    let indexpilot = wait_for_outcome(&app, "indexpilot", "accepted", 1).await;
    assert_eq!(
        indexpilot["totals"]["rejected_unauthorized"], 1,
        "{indexpilot}"
    );
    assert_eq!(
        indexpilot["totals"]["values_stored_as_other"], 1,
        "{indexpilot}"
    );
    assert_eq!(
        indexpilot["totals"]["unknown_fields_dropped"], 1,
        "{indexpilot}"
    );
    assert_eq!(
        stored(&app, "indexpilot").await["cccccccccccccccc"]["dim/os/other"],
        1.0
    );
    let stories = wait_for_outcome(&app, "stories", "duplicate", 1).await;
    assert_eq!(stories["totals"]["accepted"], 1, "{stories}");
    let printernizer = body(
        app.get(
            &format!(
                "/api/v1/outcomes?from={}&to={}",
                date_days_ago(0),
                date_days_ago(0)
            ),
            Some(crate::helpers::ADMIN_KEY),
        )
        .await,
    )
    .await;
    assert!(
        printernizer["totals"]
            .as_object()
            .expect("totals")
            .is_empty(),
        "{printernizer}"
    );
}

#[tokio::test]
async fn a_batch_fingerprint_is_kept_two_days_and_then_the_same_batch_counts_again() {
    let app = app().await;
    let user = "user_ffffffff";
    let batch = stories_batch(user);
    assert_eq!(
        post(&app, "/api/events/batch", None, &batch).await.status(),
        200
    );
    let catalog = Box::leak(Box::new(
        tally::domain::Catalog::load(None).expect("catalog"),
    ));
    let pool = crate::helpers::query_pool(&app.database_url);
    let today = Utc::now().date_naive();

    tally::rollup::prune(&pool, catalog, 400, today)
        .await
        .expect("retention");
    let after_a_day = fingerprints(&app).await;
    app.db()
        .await
        .batch_execute("UPDATE batch_fingerprints SET received_on = current_date - 3")
        .await
        .expect("aged");
    tally::rollup::prune(&pool, catalog, 400, today)
        .await
        .expect("retention");
    let after_three_days = fingerprints(&app).await;
    assert_eq!(
        post(&app, "/api/events/batch", None, &batch).await.status(),
        200
    );

    assert_eq!((after_a_day, after_three_days), (1, 0));
    assert_eq!(stored(&app, "stories").await[user]["event/app_opened"], 2.0);
}

async fn fingerprints(app: &TestApp) -> i64 {
    app.db()
        .await
        .query_one("SELECT count(*) FROM batch_fingerprints", &[])
        .await
        .expect("count")
        .get(0)
}
