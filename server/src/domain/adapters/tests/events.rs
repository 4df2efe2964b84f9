use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::domain::activity::{Merge, Unusable};
use crate::domain::adapters::events::{fold_batch, fold_crash};

const USER: &str = "0c6f2a6e-8d0b-4c53-9d55-1a0f2f6a9a11";

fn batch() -> serde_json::Value {
    json!({
        "user_id": USER,
        "events": [
            {
                "event_type": "app_opened",
                "timestamp": "2025-12-10T10:00:00Z",
                "properties": {"app_version": "1.4.0", "os_version": "14.5", "language": "en"}
            },
            {
                "event_type": "recording_started",
                "timestamp": "2025-12-10T10:01:00Z",
                "properties": {"source": "widget"}
            },
            {
                "event_type": "transcription_completed",
                "timestamp": "2025-12-10T10:02:00Z",
                "properties": {"duration": 42.5, "success": true}
            }
        ]
    })
}

fn crash(message: &str) -> serde_json::Value {
    json!({
        "error_message": message,
        "stack_trace": "at render (/Users/alice/Projects/stories/src/main.js:10:5)",
        "app_version": "1.4.0",
        "os_version": "14.5",
        "timestamp": "2025-12-10T11:00:00Z",
        "user_id": USER
    })
}

#[test]
fn a_batch_counts_each_event_and_its_declared_properties_in_one_row_of_its_day() {
    let folded = fold_batch(&body(batch()), product("stories"), now()).unwrap();

    assert_eq!(folded.merge, Merge::Add);
    assert_eq!((folded.dropped, folded.others), (0, 0));
    assert_eq!(folded.rows[0].installation.as_str(), USER);
    assert_eq!(folded.rows[0].day, day(10));
    assert_eq!(
        only_row(&folded),
        &counts(&[
            ("event/app_opened", 1.0),
            ("dim/app_opened.app_version/1.4.0", 1.0),
            ("dim/app_opened.os_version/14.5", 1.0),
            ("dim/app_opened.language/en", 1.0),
            ("event/recording_started", 1.0),
            ("dim/recording_started.source/widget", 1.0),
            ("event/transcription_completed", 1.0),
            ("measure/transcription_completed.duration/count", 1.0),
            ("measure/transcription_completed.duration/sum", 42.5),
            ("measure/transcription_completed.duration/bucket/4", 1.0),
            ("flag/transcription_completed.success", 1.0),
        ])
    );
}

#[test]
fn events_of_two_days_become_one_row_per_day() {
    let mut batch = batch();
    batch["events"][0]["timestamp"] = json!("2025-12-09T23:59:59Z");
    batch["events"][2]["timestamp"] = json!("2025-12-10T01:00:00+02:00");

    let folded = fold_batch(&body(batch), product("stories"), now()).unwrap();

    let days: Vec<_> = folded.rows.iter().map(|row| row.day).collect();
    assert_eq!(days, [day(9), day(10)]);
    assert_eq!(folded.rows[0].counts["event/app_opened"], 1.0);
    assert_eq!(folded.rows[0].counts["event/transcription_completed"], 1.0);
    assert_eq!(folded.rows[1].counts["event/recording_started"], 1.0);
}

#[test]
fn an_undeclared_property_or_event_is_dropped_and_counted() {
    let mut batch = batch();
    batch["events"][0]["properties"]["window_title"] = json!("Notes - alice");
    batch["events"]
        .as_array_mut()
        .unwrap()
        .push(json!({"event_type": "window_moved", "timestamp": "2025-12-10T10:03:00Z"}));

    let folded = fold_batch(&body(batch), product("stories"), now()).unwrap();

    assert_eq!(folded.dropped, 2);
    assert!(only_row(&folded).keys().all(|key| !key.contains("window")));
}

#[test]
fn an_event_whose_time_is_out_of_range_is_dropped_and_counted_even_if_undeclared() {
    let batch = json!({
        "user_id": USER,
        "events": [{"event_type": "window_moved", "timestamp": "2020-01-01T00:00:00Z"}]
    });

    let folded = fold_batch(&body(batch), product("stories"), now()).unwrap();

    assert!(folded.rows.is_empty());
    assert_eq!(
        folded.events_rejected,
        BTreeMap::from([(Unusable::Time, 1)])
    );
    assert_eq!(folded.dropped, 0);
}

#[test]
fn each_unusable_event_is_dropped_and_counted_by_why_and_the_rest_of_the_batch_is_kept() {
    let mut batch = batch();
    batch["events"][0]["properties"]["language"] = json!(7);
    batch["events"][1]["timestamp"] = json!("2025-12-11T10:00:00Z");
    batch["events"][2]["properties"]["duration"] = json!("long");
    let events = batch["events"].as_array_mut().unwrap();
    events.push(json!("app_opened"));
    events.push(json!({"event_type": "recording_started", "timestamp": "2025-12-10T10:04:00Z", "properties": {"duration": 86_401}}));
    events.push(json!({"timestamp": "2025-12-10T10:04:00Z"}));
    events.push(
        json!({"event_type": "app_opened", "timestamp": "2025-12-10T10:04:00Z", "properties": []}),
    );

    let folded = fold_batch(&body(batch), product("stories"), now()).unwrap();

    assert_eq!(
        only_row(&folded),
        &counts(&[
            ("event/app_opened", 1.0),
            ("dim/app_opened.app_version/1.4.0", 1.0),
            ("dim/app_opened.os_version/14.5", 1.0),
            ("dim/app_opened.language/other", 1.0),
        ])
    );
    assert_eq!(folded.others, 1);
    assert_eq!(
        folded.events_rejected,
        BTreeMap::from([
            (Unusable::Shape, 4),
            (Unusable::Range, 1),
            (Unusable::Time, 1)
        ])
    );
}

#[test]
fn a_batch_without_a_usable_user_id_is_refused_whole() {
    for user_id in [json!("alice@example.com"), json!(7), json!(null)] {
        let mut batch = batch();
        batch["user_id"] = user_id;

        let rejected = fold_batch(&body(batch), product("stories"), now()).unwrap_err();

        assert_eq!(locs(rejected), [loc(&["user_id"])]);
    }
}

#[test]
fn stories_documented_versions_are_reduced_to_their_version_and_counted() {
    let mut batch = batch();
    batch["events"][0]["properties"]["os_version"] = json!("macOS 14.1");
    batch["events"][0]["properties"]["app_version"] = json!("v0.9.7");

    let folded = fold_batch(&body(batch), product("stories"), now()).unwrap();

    let counts = only_row(&folded);
    assert_eq!(counts["dim/app_opened.os_version/14.1"], 1.0);
    assert_eq!(counts["dim/app_opened.app_version/0.9.7"], 1.0);
    assert_eq!((folded.normalised, folded.others), (2, 0));
}

#[test]
fn a_resent_batch_with_a_dropped_event_has_the_same_fingerprint() {
    let mut batch = batch();
    batch["events"][1]["timestamp"] = json!("2025-12-11T10:00:00Z");

    let first = fold_batch(&body(batch.clone()), product("stories"), now()).unwrap();
    let resent = fold_batch(&body(batch), product("stories"), now()).unwrap();

    assert!(first.fingerprint.is_some());
    assert_eq!(first.fingerprint, resent.fingerprint);
}

#[test]
fn a_batch_of_no_events_or_of_more_than_a_thousand_is_refused() {
    let event = batch()["events"][0].clone();
    for events in [vec![], vec![event; 1001]] {
        let batch = json!({"user_id": USER, "events": events});

        let rejected = fold_batch(&body(batch), product("stories"), now()).unwrap_err();

        assert_eq!(locs(rejected), [loc(&["events"])]);
    }
}

#[test]
fn a_resent_batch_has_the_same_fingerprint_and_one_more_event_changes_it() {
    let first = fold_batch(&body(batch()), product("stories"), now()).unwrap();
    // The same content with its members in another order, and a property that is dropped.
    let resent = br#"{"events": [
        {"properties": {"language": "en", "os_version": "14.5", "app_version": "1.4.0", "x": 1},
         "timestamp": "2025-12-10T10:00:00Z", "event_type": "app_opened"},
        {"event_type": "recording_started", "timestamp": "2025-12-10T10:01:00Z",
         "properties": {"source": "widget"}},
        {"event_type": "transcription_completed", "timestamp": "2025-12-10T10:02:00Z",
         "properties": {"success": true, "duration": 42.5}}
    ], "user_id": "0c6f2a6e-8d0b-4c53-9d55-1a0f2f6a9a11"}"#;
    let mut longer = batch();
    longer["events"]
        .as_array_mut()
        .unwrap()
        .push(json!({"event_type": "app_opened", "timestamp": "2025-12-10T10:05:00Z"}));

    let resent = fold_batch(resent, product("stories"), now()).unwrap();
    let longer = fold_batch(&body(longer), product("stories"), now()).unwrap();

    assert!(first.fingerprint.is_some());
    assert_eq!(resent.fingerprint, first.fingerprint);
    assert_ne!(longer.fingerprint, first.fingerprint);
}

#[test]
fn a_crash_is_counted_by_its_error_type_and_versions_and_its_text_is_kept_nowhere() {
    let message =
        "TypeError: Cannot read properties of undefined (reading '/Users/alice/notes.txt')";

    let folded = fold_crash(&body(crash(message)), product("stories"), now()).unwrap();

    assert_eq!(folded.merge, Merge::Add);
    assert!(folded.fingerprint.is_some());
    assert_eq!(folded.dropped, 0);
    assert_eq!(
        only_row(&folded),
        &counts(&[
            ("event/crash", 1.0),
            ("dim/crash.error_type/typeerror", 1.0),
            ("dim/crash.app_version/1.4.0", 1.0),
            ("dim/crash.os_version/14.5", 1.0),
        ])
    );
    let shown = format!("{folded:?}");
    for secret in ["alice", "Cannot read", "notes", "render", "main.js"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[test]
fn a_crash_fingerprint_is_the_same_whatever_the_message_beyond_its_error_type() {
    let one = fold_crash(
        &body(crash("ENOENT: /Users/alice/a")),
        product("stories"),
        now(),
    );
    let other = fold_crash(
        &body(crash("ENOENT: /Users/bob/b")),
        product("stories"),
        now(),
    );

    assert_eq!(one.unwrap().fingerprint, other.unwrap().fingerprint);
}

#[test]
fn a_crash_message_without_an_error_name_before_its_colon_is_counted_as_other() {
    for message in [
        "/Users/alice/app crashed",
        "Uncaught Error: boom",
        "annabelle: permission denied",
        "",
    ] {
        let folded = fold_crash(&body(crash(message)), product("stories"), now()).unwrap();

        assert_eq!(
            only_row(&folded)["dim/crash.error_type/other"],
            1.0,
            "{message}"
        );
        assert_eq!(folded.others, 1, "{message}");
    }
}

#[test]
fn error_classes_and_errno_codes_are_error_types() {
    for (message, expected) in [
        ("TypeError: x is undefined", "typeerror"),
        ("DOMException: aborted", "domexception"),
        (
            "ENOENT: no such file or directory, open '/Users/alice/x'",
            "enoent",
        ),
        ("RangeError", "rangeerror"),
    ] {
        let folded = fold_crash(&body(crash(message)), product("stories"), now()).unwrap();

        let key = format!("dim/crash.error_type/{expected}");
        assert_eq!(only_row(&folded)[key.as_str()], 1.0, "{message}");
    }
}

#[test]
fn a_crash_without_a_message_or_stack_trace_is_counted_with_an_error_type_of_other() {
    let mut report = crash("RangeError: x");
    let members = report.as_object_mut().unwrap();
    members.remove("stack_trace");
    members.remove("error_message");

    let folded = fold_crash(&body(report), product("stories"), now()).unwrap();

    assert_eq!(only_row(&folded)["dim/crash.error_type/other"], 1.0);
}

#[test]
fn a_crash_needs_a_usable_user_id_and_is_dropped_and_counted_when_its_time_is_not_usable() {
    let rejected = fold_crash(&body(json!({})), product("stories"), now()).unwrap_err();
    assert_eq!(locs(rejected), [loc(&["user_id"])]);

    let mut report = crash("RangeError: x");
    report["timestamp"] = json!("2025-11-01T00:00:00Z");
    let folded = fold_crash(&body(report), product("stories"), now()).unwrap();

    assert!(folded.rows.is_empty());
    assert_eq!(
        folded.events_rejected,
        BTreeMap::from([(Unusable::Time, 1)])
    );
}

#[test]
fn a_crash_with_stories_documented_versions_is_counted_with_them_reduced() {
    let mut report = crash("TypeError: x");
    report["os_version"] = json!("macOS 14.1");
    report["app_version"] = json!("v0.9.7");

    let folded = fold_crash(&body(report), product("stories"), now()).unwrap();

    let counts = only_row(&folded);
    assert_eq!(counts["dim/crash.os_version/14.1"], 1.0);
    assert_eq!(counts["dim/crash.app_version/0.9.7"], 1.0);
    assert_eq!(folded.normalised, 2);
}

#[test]
fn a_product_without_a_crash_type_drops_the_crash_and_adds_no_row() {
    let product = operator_product(
        "quietapp",
        r#"
        [products.quietapp]
        format = "event_batch"
        key = "none"
        cadence = "events"
        [products.quietapp.events.app_opened.properties]
        app_version = { kind = "dimension", rule = "version" }
        "#,
    );

    let folded = fold_crash(&body(crash("TypeError: x")), product, now()).unwrap();

    assert!(folded.rows.is_empty());
    assert_eq!(folded.dropped, 1);
}

/// A batch resent across an upgrade must still count once: its digest is what the builds
/// before stored (this value was computed by the build of 353b918, before the fingerprint's
/// pieces were hashed whole).
#[test]
fn a_batchs_fingerprint_is_the_digest_earlier_builds_stored_for_it() {
    let folded = fold_batch(&body(batch()), product("stories"), now()).unwrap();
    let hex: String = folded
        .fingerprint
        .expect("a fingerprint")
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();

    assert_eq!(
        hex,
        "86bab112452150232d1070c39f422d218c1bd6c0ab6db5073414b08abcd92062"
    );
}
