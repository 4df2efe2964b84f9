use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::domain::activity::{Merge, Unusable};
use crate::domain::adapters::capture::read;

const KEY: &str = "phc_secret_project_key_123";
const USER: &str = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";

/// What franklinwh-cloud's CLI sends to `/capture/`, byte for byte in shape.
const FRANKLIN_BODY: &[u8] = br#"{"api_key": "phc_secret_project_key_123", "event": "cli_command_executed", "properties": {"$ip": "127.0.0.1", "distinct_id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "franklin_version": "0.6.4", "python_version": "3.11.7", "os": "Linux", "os_release": "6.1.0-18-amd64", "command": "status"}}"#;

fn franklin_counts() -> Counts {
    counts(&[
        ("event/cli_command_executed", 1.0),
        ("dim/cli_command_executed.franklin_version/0.6.4", 1.0),
        ("dim/cli_command_executed.python_version/3.11.7", 1.0),
        ("dim/cli_command_executed.os/linux", 1.0),
        ("dim/cli_command_executed.command/status", 1.0),
    ])
}

fn fold(body: &[u8]) -> Result<Folded, Rejected> {
    read(body)?.fold(product("franklinwh"), now())
}

fn event(user: &str, command: &str, timestamp: &str) -> serde_json::Value {
    json!({
        "event": "cli_command_executed",
        "distinct_id": user,
        "timestamp": timestamp,
        "properties": {"$ip": "10.1.2.3", "command": command, "os": "Darwin"}
    })
}

#[test]
fn franklinwh_exact_body_is_one_command_with_its_declared_properties_and_no_address() {
    let capture = read(FRANKLIN_BODY).unwrap();
    assert_eq!(capture.api_key(), KEY);

    let folded = capture.fold(product("franklinwh"), now()).unwrap();

    assert_eq!(folded.merge, Merge::Add);
    assert_eq!(folded.rows[0].installation.as_str(), USER);
    assert_eq!(folded.rows[0].day, now().date_naive());
    assert_eq!(only_row(&folded), &franklin_counts());
    // `$ip` and the undeclared `os_release`.
    assert_eq!(folded.dropped, 2);
    let shown = format!("{folded:?}");
    assert!(!shown.contains("127.0.0.1") && !shown.contains("$ip"));
    // Two runs of `status` are two identical bodies: nothing tells a resend apart.
    assert_eq!(folded.fingerprint, None);
}

#[test]
fn names_and_values_written_with_escapes_fold_as_the_same_event() {
    // JSON lets a client write any character as an escape (`\u0065`): names and values read
    // the same either way.
    let escaped = br#"{"api_\u006bey": "phc_secret_project_key_123", "event": "cli_command_\u0065xecuted", "properties": {"$ip": "127.0.0.1", "distinct_\u0069d": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "franklin_version": "0.6.4", "python_version": "3.11.7", "o\u0073": "Linux", "os_release": "6.1.0-18-amd64", "command": "st\u0061tus"}}"#;

    let folded = fold(escaped).unwrap();

    assert_eq!(folded.rows[0].installation.as_str(), USER);
    assert_eq!(only_row(&folded), &franklin_counts());
    assert_eq!(folded.dropped, 2);
}

#[test]
fn items_that_are_not_events_and_properties_that_are_not_an_object_cost_their_event_only() {
    let batch = json!({"api_key": KEY, "batch": [
        1,
        "cli_command_executed",
        [event(USER, "status", "2025-12-10T09:00:00Z")],
        {"event": "cli_command_executed", "distinct_id": USER, "properties": ["command", "status"]},
        event(USER, "status", "2025-12-10T09:00:00Z"),
    ]});

    let folded = fold(&body(batch)).unwrap();

    assert_eq!(folded.events_rejected[&Unusable::Shape], 4);
    assert_eq!(folded.rows[0].counts["event/cli_command_executed"], 1.0);
}

#[test]
fn the_same_event_with_its_distinct_id_at_the_top_level_folds_the_same() {
    let top_level = json!({
        "api_key": KEY,
        "event": "cli_command_executed",
        "distinct_id": USER,
        "properties": {"$ip": "127.0.0.1", "franklin_version": "0.6.4",
            "python_version": "3.11.7", "os": "Linux", "os_release": "6.1.0-18-amd64",
            "command": "status"}
    });

    let folded = fold(&body(top_level)).unwrap();

    assert_eq!(folded, fold(FRANKLIN_BODY).unwrap());
}

#[test]
fn a_top_level_distinct_id_wins_over_the_one_in_properties() {
    let mut capture: serde_json::Value = serde_json::from_slice(FRANKLIN_BODY).unwrap();
    capture["distinct_id"] = json!("top_level_installation");

    let folded = fold(&body(capture)).unwrap();

    assert_eq!(
        folded.rows[0].installation.as_str(),
        "top_level_installation"
    );
}

#[test]
fn a_batch_of_two_installations_becomes_one_row_each() {
    let batch = json!({
        "api_key": KEY,
        "batch": [
            event(USER, "status", "2025-12-10T09:00:00Z"),
            event("second_installation", "status", "2025-12-10T09:00:00Z"),
            event(USER, "discharge", "2025-12-10T09:05:00Z"),
        ]
    });

    let folded = fold(&body(batch)).unwrap();

    let installations: Vec<_> = folded
        .rows
        .iter()
        .map(|r| r.installation.as_str())
        .collect();
    assert_eq!(installations, [USER, "second_installation"]);
    assert_eq!(folded.rows[0].counts["event/cli_command_executed"], 2.0);
    assert_eq!(
        folded.rows[0].counts["dim/cli_command_executed.os/darwin"],
        2.0
    );
    assert_eq!(folded.rows[1].counts["event/cli_command_executed"], 1.0);
    assert_eq!(folded.dropped, 3);
}

#[test]
fn a_batch_whose_events_all_carry_a_time_or_id_has_a_fingerprint_that_ignores_the_address() {
    let batch = |ip: &str, events: usize| {
        let mut list = vec![event(USER, "status", "2025-12-10T09:00:00Z"); events];
        for event in &mut list {
            event["properties"]["$ip"] = json!(ip);
        }
        json!({"api_key": KEY, "batch": list})
    };

    let first = fold(&body(batch("10.0.0.1", 1))).unwrap().fingerprint;
    let resent_from_elsewhere = fold(&body(batch("192.168.7.7", 1))).unwrap().fingerprint;
    let longer = fold(&body(batch("10.0.0.1", 2))).unwrap().fingerprint;

    assert!(first.is_some());
    assert_eq!(resent_from_elsewhere, first);
    assert_ne!(longer, first);
}

#[test]
fn a_batch_with_one_event_without_time_or_id_has_no_fingerprint() {
    let mut untimed = event(USER, "status", "");
    untimed.as_object_mut().unwrap().remove("timestamp");
    let mut with_uuid = untimed.clone();
    with_uuid["uuid"] = json!("018f3c2a-7b1e-7c3d-9e4f-5a6b7c8d9e0f");
    let fingerprint = |events: Vec<serde_json::Value>| {
        fold(&body(json!({"api_key": KEY, "batch": events})))
            .unwrap()
            .fingerprint
    };

    assert!(fingerprint(vec![with_uuid.clone()]).is_some());
    assert_eq!(fingerprint(vec![with_uuid, untimed]), None);
}

#[test]
fn a_missing_api_key_is_refused_at_its_loc() {
    let rejected = read(br#"{"event": "cli_command_executed"}"#).unwrap_err();

    assert_eq!(locs(rejected), [loc(&["api_key"])]);
}

#[test]
fn the_api_key_appears_in_no_debug_output_nor_error() {
    let capture = read(FRANKLIN_BODY).unwrap();
    assert!(!format!("{capture:?}").contains(KEY));

    let mut broken: serde_json::Value = serde_json::from_slice(FRANKLIN_BODY).unwrap();
    broken["properties"]["distinct_id"] = json!("me@example.com");
    let rejected = fold(&body(broken)).unwrap_err();

    assert!(!format!("{rejected:?}").contains(KEY));
}

#[test]
fn each_unusable_event_of_a_batch_is_dropped_and_counted_by_why_and_the_rest_is_kept() {
    let mut bad_uuid = event(USER, "status", "2025-12-10T09:00:00Z");
    bad_uuid["uuid"] = json!("not-a-uuid");
    let batch = json!({
        "api_key": KEY,
        "batch": [
            event(USER, "status", "2025-12-10T09:00:00Z"),
            event("me@example.com", "status", "2025-12-10T09:00:00Z"),
            event(USER, "status", "2025-12-10T12:30:00Z"),
            bad_uuid,
            {"event": "x"},
            7
        ]
    });

    let folded = fold(&body(batch)).unwrap();

    assert_eq!(only_row(&folded)["event/cli_command_executed"], 1.0);
    assert_eq!(
        folded.events_rejected,
        BTreeMap::from([
            (Unusable::Shape, 2),
            (Unusable::Time, 1),
            (Unusable::Installation, 2)
        ])
    );
}

#[test]
fn a_request_none_of_whose_events_has_a_usable_installation_id_is_refused() {
    let mut single: serde_json::Value = serde_json::from_slice(FRANKLIN_BODY).unwrap();
    single["properties"]["distinct_id"] = json!("a@b.c");
    let batch = json!({"api_key": KEY, "batch": [event("short", "status", "2025-12-10T09:00:00Z"), {"event": "x"}]});

    assert_eq!(
        locs(fold(&body(single)).unwrap_err()),
        [loc(&["distinct_id"])]
    );
    assert_eq!(locs(fold(&body(batch)).unwrap_err()), [loc(&["batch"])]);
}

#[test]
fn a_command_outside_the_clis_own_list_is_other_and_the_fallback_id_anonymous_is_an_installation() {
    let mut typed: serde_json::Value = serde_json::from_slice(FRANKLIN_BODY).unwrap();
    typed["properties"]["command"] = json!("tou --set");
    typed["properties"]["distinct_id"] = json!("anonymous");

    let folded = fold(&body(typed)).unwrap();

    assert_eq!(folded.rows[0].installation.as_str(), "anonymous");
    assert_eq!(
        only_row(&folded)["dim/cli_command_executed.command/other"],
        1.0
    );
    assert_eq!(folded.others, 1);
}

#[test]
fn a_body_with_a_batch_is_a_batch_on_either_route_and_an_empty_one_is_refused() {
    let rejected = fold(&body(json!({"api_key": KEY, "batch": []}))).unwrap_err();

    assert_eq!(locs(rejected), [loc(&["batch"])]);
}

#[test]
fn the_key_is_read_from_token_dollar_token_or_each_events_properties() {
    let single = json!({"token": KEY, "event": "cli_command_executed", "distinct_id": USER});
    let dollar = json!({"$token": KEY, "batch": [event(USER, "status", "2025-12-10T09:00:00Z")]});
    let mut posthog_js = event(USER, "status", "2025-12-10T09:00:00Z");
    posthog_js["properties"]["token"] = json!(KEY);

    for sent in [single, dollar, json!([posthog_js.clone(), posthog_js])] {
        assert_eq!(read(&body(sent.clone())).unwrap().api_key(), KEY, "{sent}");
    }
}

#[test]
fn events_that_carry_different_keys_are_refused_without_naming_either() {
    let mut first = event(USER, "status", "2025-12-10T09:00:00Z");
    first["properties"]["token"] = json!(KEY);
    let mut second = first.clone();
    second["properties"]["token"] = json!("phc_another_project");

    let rejected = read(&body(json!([first, second]))).unwrap_err();

    let shown = format!("{rejected:?}");
    assert!(matches!(rejected, Rejected::Malformed(_)));
    assert!(
        !shown.contains(KEY) && !shown.contains("phc_another"),
        "{shown}"
    );
}

#[test]
fn posthog_js_list_is_folded_and_its_token_never_counted_as_a_property() {
    let mut posthog_js = event(USER, "status", "2025-12-10T09:00:00Z");
    posthog_js["properties"]["token"] = json!(KEY);

    let folded = fold(&body(json!([posthog_js]))).unwrap();

    assert_eq!(folded.rows[0].counts["event/cli_command_executed"], 1.0);
    // `$ip` alone.
    assert_eq!(folded.dropped, 1);
}

#[test]
fn posthogs_own_events_are_dropped_and_counted_and_nothing_of_them_is_read() {
    let identify = json!({
        "event": "$identify",
        "distinct_id": "alice@example.com",
        "timestamp": "not a time",
        "properties": {"$set": {"email": "alice@example.com"}}
    });
    let set =
        json!({"event": "$set", "distinct_id": USER, "properties": {"$set": {"name": "Alice"}}});
    let batch = json!({"api_key": KEY, "batch": [identify, set, event(USER, "status", "2025-12-10T09:00:00Z")]});

    let folded = fold(&body(batch)).unwrap();

    assert_eq!(folded.rows.len(), 1);
    assert_eq!(folded.rows[0].counts["event/cli_command_executed"], 1.0);
    // The two `$` events, and the kept event's `$ip`.
    assert_eq!(folded.dropped, 3);
    assert!(!format!("{folded:?}").contains("alice"));
}

#[test]
fn sent_at_moves_an_event_by_the_clients_clock_error() {
    // The client's clock is a day behind: its 09:00 yesterday is our 09:00 today.
    let batch = json!({
        "api_key": KEY,
        "sent_at": "2025-12-09T12:00:00Z",
        "batch": [event(USER, "status", "2025-12-09T09:00:00Z")]
    });
    let ahead = json!({
        "api_key": KEY,
        "batch": [event(USER, "status", "2025-12-11T09:00:00Z")]
    });

    let folded = fold(&body(batch)).unwrap();
    let corrected_by_the_query = read(&body(ahead))
        .unwrap()
        .sent_at_or(Some(now() + chrono::Duration::days(1)))
        .fold(product("franklinwh"), now())
        .unwrap();

    assert_eq!(folded.rows[0].day, day(10));
    assert_eq!(corrected_by_the_query.rows[0].day, day(10));
}

#[test]
fn person_updates_are_all_dropped_and_counted() {
    let engage = json!([
        {"$token": KEY, "$distinct_id": USER, "$set": {"email": "alice@example.com"}},
        {"$token": KEY, "$distinct_id": USER, "$set_once": {"plan": "free"}}
    ]);

    let folded = read(&body(engage))
        .unwrap()
        .fold_person_updates(product("franklinwh"))
        .unwrap();

    assert!(folded.rows.is_empty());
    assert_eq!(folded.dropped, 2);
}
