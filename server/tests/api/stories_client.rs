//! Stories' bodies as its telemetry document shows them, against a real server and a real
//! PostgreSQL: macOS's `os_version` (`macOS 14.1`), `v`-prefixed app versions, and a crash
//! whose message and stack trace hold a user's paths. Each is answered 200, counted exactly,
//! its versions reduced to what the rule admits, and none of its text stored.

use serde_json::{json, Value};

use crate::helpers::{at_days_ago, body, date_days_ago, pg_dump, ADMIN_KEY};
use crate::products_ingest::{app, post, roll_every_product, wait_for_outcome};

const USER: &str = "b7e4c1d0-2f3a-4e5b-9c8d-7a6b5c4d3e2f";

/// A day of Stories on a Mac, as its document lists the events.
fn documented_batch() -> Value {
    let on_a_mac = json!({"app_version": "v0.9.7", "os_version": "macOS 14.1", "language": "en"});
    json!({
        "user_id": USER,
        "events": [
            {"event_type": "app_opened", "timestamp": at_days_ago(0), "properties": on_a_mac},
            {"event_type": "recording_started", "timestamp": at_days_ago(0), "properties": {"source": "main"}},
            {"event_type": "transcription_completed", "timestamp": at_days_ago(0), "properties": {"duration": 12.4, "success": true}},
            {"event_type": "feature_used", "timestamp": at_days_ago(0), "properties": {"feature": "export_markdown"}},
            {"event_type": "settings_changed", "timestamp": at_days_ago(0), "properties": {"setting": "whisper_model"}}
        ]
    })
}

/// A crash as Stories' main process reports it: an uncaught error with its stack.
fn documented_crash() -> Value {
    json!({
        "error_message": "TypeError: Cannot read properties of undefined (reading 'segments')",
        "stack_trace": "TypeError: Cannot read properties of undefined (reading 'segments')\n    at TranscriptionService.finish (/Users/jane.doe/Applications/Stories.app/Contents/Resources/app.asar/dist/main/transcription.js:214:31)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
        "app_version": "v0.9.7",
        "os_version": "macOS 14.1",
        "timestamp": at_days_ago(0),
        "user_id": USER
    })
}

async fn admin_get(app: &crate::helpers::TestApp, path: &str) -> Value {
    body(app.get(path, Some(ADMIN_KEY)).await).await
}

#[tokio::test]
async fn stories_documented_bodies_are_counted_exactly_with_their_versions_reduced_and_no_crash_text_stored(
) {
    let app = app().await;

    let batch = post(&app, "/api/events/batch", None, &documented_batch()).await;
    let crash = post(&app, "/api/crashes", None, &documented_crash()).await;

    assert_eq!(batch.status(), 200);
    assert_eq!(
        body(batch).await,
        json!({"status": "success", "message": "Events received"})
    );
    assert_eq!(crash.status(), 200);
    assert_eq!(
        body(crash).await,
        json!({"status": "success", "message": "Crash report received"})
    );
    roll_every_product(&app).await;
    let today = format!(
        "product=stories&from={}&to={}",
        date_days_ago(0),
        date_days_ago(0)
    );
    let one = json!({"count": 1, "installations": 1});
    assert_eq!(
        admin_get(&app, &format!("/api/v1/events?{today}")).await,
        json!({"product": "stories", "days": [{"date": date_days_ago(0), "events": {
            "app_opened": one, "recording_started": one, "transcription_completed": one,
            "feature_used": one, "settings_changed": one, "crash": one
        }}]})
    );
    let reduced = json!({"installations": 1, "amount": 1});
    for (dimension, value) in [
        ("app_opened.os_version", "14.1"),
        ("app_opened.app_version", "0.9.7"),
        ("crash.os_version", "14.1"),
        ("crash.app_version", "0.9.7"),
        ("crash.error_type", "typeerror"),
    ] {
        let series = admin_get(&app, &format!("/api/v1/dimensions/{dimension}?{today}")).await;
        assert_eq!(
            series["points"][0]["values"],
            json!({ value: reduced }),
            "{dimension}: {series}"
        );
    }
    let outcomes = wait_for_outcome(&app, "stories", "accepted", 2).await;
    assert_eq!(outcomes["totals"]["values_normalised"], 4, "{outcomes}");
    let schema = app.schema.clone();
    let dump = tokio::task::spawn_blocking(move || pg_dump(&schema))
        .await
        .expect("pg_dump");
    for secret in [
        "jane.doe",
        "/Users/",
        "TranscriptionService",
        "transcription.js",
        "Cannot read",
        "segments",
        "macOS",
    ] {
        assert!(!dump.contains(secret), "the dump contains {secret}");
    }
}
