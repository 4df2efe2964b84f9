//! Many random mutations of valid bodies on every event route this server folds (Stories'
//! batches and crashes, PostHog-style capture and batches, IndexPilot's telemetry): never a
//! 5xx, and nothing partial. A mutation inside one event of a batch never costs the batch (200,
//! the other events all counted); any other mutation is answered 200 with at most the events
//! sent counted, or 4xx with nothing stored. Seeded, so a failure names its mutation and
//! repeats.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::products_ingest::{app, now_text, post, FRANKLIN_KEY, INDEXPILOT_KEY};

/// Mutations per route.
const ROUNDS: usize = 40;

/// Values a careless or hostile client might put anywhere.
fn hostile(rng: &mut StdRng) -> Value {
    let choices = [
        Value::Null,
        json!(true),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(u64::MAX),
        json!(""),
        json!("x".repeat(300)),
        json!("alice@example.com"),
        json!("/home/alice/secret.txt"),
        json!("macOS 14.1"),
        json!("v0.9.7"),
        json!("2020-01-01T00:00:00Z"),
        json!("9999-12-31T23:59:59Z"),
        json!([]),
        json!({}),
        json!([1, "two", null]),
        json!({"nested": {"deeper": [1]}}),
    ];
    choices[rng.random_range(0..choices.len())].clone()
}

/// Every member and element of `value`, as JSON pointers.
fn pointers(value: &Value, at: String, all: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, member) in map {
                let pointer = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                all.push(pointer.clone());
                pointers(member, pointer, all);
            }
        }
        Value::Array(list) => {
            for (index, element) in list.iter().enumerate() {
                let pointer = format!("{at}/{index}");
                all.push(pointer.clone());
                pointers(element, pointer, all);
            }
        }
        _ => {}
    }
}

/// One mutation of `body`: the bytes to send, what was done, and the pointer changed (`None`
/// for a change of the bytes themselves).
fn mutate(body: &Value, rng: &mut StdRng) -> (Vec<u8>, String, Option<String>) {
    let mut value = body.clone();
    let mut all = Vec::new();
    pointers(&value, String::new(), &mut all);
    if rng.random_range(0..10) == 0 || all.is_empty() {
        let mut bytes = serde_json::to_vec(&value).expect("JSON");
        let at = rng.random_range(0..bytes.len());
        let what = if rng.random_range(0..2) == 0 {
            bytes.truncate(at);
            format!("truncated at {at}")
        } else {
            bytes[at] = b"{}[]\",:0x\\"[rng.random_range(0..10)];
            format!("byte {at} replaced")
        };
        return (bytes, what, None);
    }
    let pointer = all[rng.random_range(0..all.len())].clone();
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer");
    let what = match rng.random_range(0..4) {
        0 => {
            let replacement = hostile(rng);
            let what = format!("{pointer} = {replacement}");
            *value.pointer_mut(&pointer).expect("the pointer") = replacement;
            what
        }
        1 => {
            match value.pointer_mut(parent).expect("the parent") {
                Value::Object(map) => {
                    map.remove(&last.replace("~1", "/").replace("~0", "~"));
                }
                Value::Array(list) => {
                    list.remove(last.parse().expect("an index"));
                }
                _ => unreachable!("a parent holds members"),
            }
            format!("{pointer} removed")
        }
        2 => {
            let extra = hostile(rng);
            let what = format!("{pointer}.extra = {extra}");
            match value.pointer_mut(&pointer).expect("the pointer") {
                Value::Object(map) => {
                    map.insert("extra".to_owned(), extra);
                }
                other => *other = json!({ "extra": extra }),
            }
            what
        }
        _ => {
            let copy = value.pointer(&pointer).expect("the pointer").clone();
            if let Value::Array(list) = value.pointer_mut(parent).expect("the parent") {
                list.push(copy);
            }
            format!("{pointer} repeated in its list")
        }
    };
    (
        serde_json::to_vec(&value).expect("JSON"),
        what,
        Some(pointer),
    )
}

/// How much a product's stored rows hold: its events (the sum of `event/*`), or its rows for
/// a daily report.
async fn held(app: &TestApp, product: &str) -> f64 {
    app.db()
        .await
        .query_one(
            "SELECT CASE WHEN $1 = 'indexpilot' THEN (SELECT count(*) FROM activity_rows WHERE product = $1)::float8
                    ELSE (SELECT coalesce(sum(e.value::float8), 0) FROM activity_rows a, jsonb_each_text(a.counts) e
                          WHERE a.product = $1 AND e.key LIKE 'event/%') END",
            &[&product],
        )
        .await
        .expect("what is held")
        .get(0)
}

/// A route, its product, its key, a valid body with fresh ids (`round` makes them unique),
/// where its events are, and how many it holds.
struct Route {
    path: &'static str,
    product: &'static str,
    key: Option<&'static str>,
    body: fn(usize) -> Value,
    /// The pointer of the list of events, for a batch.
    events: Option<&'static str>,
    size: usize,
}

fn id(round: usize, n: usize) -> String {
    format!("mutant_{round:06}_{n}")
}

fn stories(round: usize) -> Value {
    let at = now_text();
    json!({"user_id": id(round, 0), "events": [
        {"event_type": "app_opened", "timestamp": at, "properties": {"app_version": "v0.9.7", "os_version": "macOS 14.1", "language": "en"}},
        {"event_type": "transcription_completed", "timestamp": at, "properties": {"duration": 12.5, "success": true}},
        {"event_type": "feature_used", "timestamp": at, "properties": {"feature": "export"}}
    ]})
}

fn crash(round: usize) -> Value {
    json!({"error_message": "TypeError: x at /Users/alice/a.js", "stack_trace": "at /Users/alice/a.js:1:1",
           "app_version": "0.9.7", "os_version": "14.1", "timestamp": now_text(), "user_id": id(round, 0)})
}

fn captured(round: usize, n: usize) -> Value {
    json!({"event": "cli_command_executed", "distinct_id": id(round, n), "timestamp": now_text(),
           "uuid": uuid::Uuid::new_v4().to_string(),
           "properties": {"$ip": "127.0.0.1", "command": "status", "os": "Linux", "duration_ms": 120, "success": true}})
}

fn capture(round: usize) -> Value {
    let mut event = captured(round, 0);
    event["api_key"] = json!(FRANKLIN_KEY);
    event
}

fn capture_batch(round: usize) -> Value {
    json!({"api_key": FRANKLIN_KEY, "batch": (0..3).map(|n| captured(round, n)).collect::<Vec<_>>()})
}

fn telemetry(round: usize) -> Value {
    let mut report = crate::products_ingest::telemetry(&format!("{round:016x}"), 3);
    report["version"] = json!("v1.0.0");
    report
}

const ROUTES: [Route; 5] = [
    Route {
        path: "/api/events/batch",
        product: "stories",
        key: None,
        body: stories,
        events: Some("/events"),
        size: 3,
    },
    Route {
        path: "/api/crashes",
        product: "stories",
        key: None,
        body: crash,
        events: None,
        size: 1,
    },
    Route {
        path: "/capture/",
        product: "franklinwh",
        key: None,
        body: capture,
        events: None,
        size: 1,
    },
    Route {
        path: "/batch/",
        product: "franklinwh",
        key: None,
        body: capture_batch,
        events: Some("/batch"),
        size: 3,
    },
    Route {
        path: "/api/v1/telemetry",
        product: "indexpilot",
        key: Some(INDEXPILOT_KEY),
        body: telemetry,
        events: None,
        size: 1,
    },
];

#[tokio::test]
async fn mutated_bodies_on_every_event_route_are_never_a_5xx_and_never_stored_in_part() {
    let app = app().await;
    let mut rng = StdRng::seed_from_u64(0x005E_ED0F_7A11);
    let mut round = 0;
    for route in &ROUTES {
        let valid = (route.body)(round);
        let response = post(&app, route.path, route.key, &valid).await;
        assert_eq!(response.status(), 200, "{}: the valid body", route.path);
        for _ in 0..ROUNDS {
            round += 1;
            let (bytes, what, pointer) = mutate(&(route.body)(round), &mut rng);
            let before = held(&app, route.product).await;

            let mut request = app
                .http
                .post(app.url(route.path))
                .header("Content-Type", "application/json")
                .body(bytes);
            if let Some(key) = route.key {
                request = request.header("X-API-Key", key);
            }
            let status = request.send().await.expect("an answer").status();
            let added = held(&app, route.product).await - before;

            let case = format!("{} {what}: {status}, {added} added", route.path);
            assert!(!status.is_server_error(), "{case}");
            // Inside one event of a batch: never the batch's refusal, the others all counted.
            let in_one_event =
                route
                    .events
                    .zip(pointer.as_deref())
                    .is_some_and(|(events, pointer)| {
                        pointer
                            .strip_prefix(events)
                            .and_then(|rest| rest.strip_prefix('/'))
                            .is_some_and(|rest| rest.contains('/'))
                    });
            if in_one_event {
                assert_eq!(status, 200, "{case}");
                assert!(added >= (route.size - 1) as f64, "{case}");
            }
            if status.is_success() {
                // A repeated event of a batch may count once more.
                assert!(added <= (route.size + 1) as f64, "{case}");
            } else {
                assert_eq!(added, 0.0, "{case}");
            }
        }
    }
}
