use serde_json::json;

use super::*;
use crate::domain::activity::Merge;
use crate::domain::adapters::indexpilot::fold;

fn report() -> serde_json::Value {
    json!({
        "installation_id": "A3F5B2C1D4E6F7A8",
        "version": "1.0.0",
        "timestamp": "2025-12-10T10:00:00Z",
        "metrics": {
            "features_used": ["auto_indexing", "query_analysis"],
            "indexes_created": 42,
            "queries_analyzed": 10000,
            "performance_improvement_pct": 30.5,
            "algorithm_usage": {"predictive_indexing": 15, "cert": 8, "qpg": 12}
        },
        "environment": {
            "python_version": "3.11.0",
            "postgresql_version": "15.0",
            "os": "linux",
            "cpu_cores": 8
        }
    })
}

#[test]
fn a_daily_report_is_one_row_of_its_day_with_every_declared_entry_counted() {
    let folded = fold(&body(report()), product("indexpilot"), now()).unwrap();

    assert_eq!(folded.product, "indexpilot");
    assert_eq!(folded.merge, Merge::Replace);
    assert_eq!(folded.fingerprint, None);
    assert_eq!((folded.dropped, folded.others), (0, 0));
    assert_eq!(folded.rows[0].installation.as_str(), "a3f5b2c1d4e6f7a8");
    assert_eq!(folded.rows[0].day, day(10));
    assert_eq!(
        only_row(&folded),
        &counts(&[
            ("dim/version/1.0.0", 1.0),
            ("dim/python_version/3.11.0", 1.0),
            ("dim/postgresql_version/15.0", 1.0),
            ("dim/os/linux", 1.0),
            ("flag/features_used/auto_indexing", 1.0),
            ("flag/features_used/query_analysis", 1.0),
            ("counter/indexes_created", 42.0),
            ("counter/queries_analyzed", 10000.0),
            ("measure/performance_improvement_pct/count", 1.0),
            ("measure/performance_improvement_pct/sum", 30.5),
            ("measure/performance_improvement_pct/bucket/4", 1.0),
            ("measure/cpu_cores/count", 1.0),
            ("measure/cpu_cores/sum", 8.0),
            ("measure/cpu_cores/bucket/3", 1.0),
            ("map/algorithm_usage/predictive_indexing", 15.0),
            ("map/algorithm_usage/cert", 8.0),
            ("map/algorithm_usage/qpg", 12.0),
        ])
    );
}

#[test]
fn undeclared_entries_are_dropped_and_counted_never_refused() {
    let mut report = report();
    report["metrics"]["cache_hits"] = json!(3);
    report["environment"]["hostname"] = json!("db-01.example.com");
    report["sent_by"] = json!("cron");

    let folded = fold(&body(report), product("indexpilot"), now()).unwrap();

    assert_eq!(folded.dropped, 3);
    assert!(only_row(&folded)
        .keys()
        .all(|key| !key.contains("cache_hits") && !key.contains("example")));
}

#[test]
fn an_os_outside_the_allow_list_is_compared_lowercased_and_otherwise_stored_as_other() {
    for (os, key, others) in [("Linux", "dim/os/linux", 0), ("haiku", "dim/os/other", 1)] {
        let mut report = report();
        report["environment"]["os"] = json!(os);

        let folded = fold(&body(report), product("indexpilot"), now()).unwrap();

        assert_eq!(only_row(&folded).get(key), Some(&1.0), "{os}");
        assert_eq!(folded.others, others, "{os}");
    }
}

#[test]
fn missing_required_members_are_each_listed() {
    let report = json!({"metrics": {"indexes_created": 1}});

    let rejected = fold(&body(report), product("indexpilot"), now()).unwrap_err();

    assert_eq!(
        locs(rejected),
        [
            loc(&["installation_id"]),
            loc(&["timestamp"]),
            loc(&["version"])
        ]
    );
}

#[test]
fn an_installation_id_that_is_not_16_to_64_hex_characters_is_refused() {
    for id in ["a3f5b2c1", "a3f5b2c1d4e6f7g8", &"a".repeat(65)] {
        let mut report = report();
        report["installation_id"] = json!(id);

        let rejected = fold(&body(report), product("indexpilot"), now()).unwrap_err();

        assert_eq!(locs(rejected), [loc(&["installation_id"])], "{id}");
    }
}

#[test]
fn each_field_is_decided_alone_reduced_other_or_dropped_and_the_report_is_kept() {
    let mut report = report();
    report["version"] = json!("1.0 beta");
    report["metrics"]["indexes_created"] = json!(-1);
    report["metrics"]["queries_analyzed"] = json!(1.5);
    report["metrics"]["performance_improvement_pct"] = json!(1001);
    report["metrics"]["features_used"] = json!(["auto_indexing", "Not An Identifier"]);
    report["metrics"]["algorithm_usage"] = json!({"cert": 2_000_000});
    report["environment"]["os"] = json!(5);

    let folded = fold(&body(report), product("indexpilot"), now()).unwrap();

    assert_eq!(
        only_row(&folded),
        &counts(&[
            ("dim/version/1.0", 1.0),
            ("dim/python_version/3.11.0", 1.0),
            ("dim/postgresql_version/15.0", 1.0),
            ("dim/os/other", 1.0),
            ("flag/features_used/auto_indexing", 1.0),
            ("flag/features_used/not", 1.0),
            ("measure/cpu_cores/count", 1.0),
            ("measure/cpu_cores/sum", 8.0),
            ("measure/cpu_cores/bucket/3", 1.0),
        ])
    );
    assert_eq!(folded.fields_rejected, 4);
    assert_eq!((folded.normalised, folded.others), (2, 1));
}

#[test]
fn a_count_map_key_shaped_like_a_path_is_counted_as_other_and_kept_nowhere() {
    let mut report = report();
    report["metrics"]["algorithm_usage"] = json!({"cert": 2, "/home/bob": 1});

    let folded = fold(&body(report), product("indexpilot"), now()).unwrap();

    assert_eq!(only_row(&folded)["map/algorithm_usage/cert"], 2.0);
    assert_eq!(only_row(&folded)["map/algorithm_usage/other"], 1.0);
    assert!(!format!("{folded:?}").contains("bob"));
}

#[test]
fn a_timestamp_outside_the_window_is_refused() {
    for timestamp in ["2025-11-09T11:59:00Z", "2025-12-10T12:11:00Z", "yesterday"] {
        let mut report = report();
        report["timestamp"] = json!(timestamp);

        let rejected = fold(&body(report), product("indexpilot"), now()).unwrap_err();

        assert_eq!(locs(rejected), [loc(&["timestamp"])], "{timestamp}");
    }
}

#[test]
fn a_body_that_is_not_a_json_object_is_malformed() {
    for text in [&b"{not json"[..], b"[1, 2]", b""] {
        let rejected = fold(text, product("indexpilot"), now()).unwrap_err();

        assert!(matches!(rejected, Rejected::Malformed(_)));
    }
}

#[test]
fn another_product_of_this_format_is_folded_by_its_own_names() {
    let product = operator_product(
        "vacuumd",
        r#"
        [products.vacuumd]
        format = "indexpilot_telemetry"
        key = "required"
        cadence = "daily"
        [products.vacuumd.dimensions]
        version = { rule = "version" }
        edition = { allow = ["community", "pro"] }
        [products.vacuumd.counters]
        tables_vacuumed = { max = 1_000 }
        "#,
    );
    let report = json!({
        "installation_id": "00112233445566778899",
        "version": "2.1",
        "timestamp": "2025-12-10T11:00:00Z",
        "metrics": {"tables_vacuumed": 7, "indexes_created": 1},
        "environment": {"edition": "Pro"}
    });

    let folded = fold(&body(report), product, now()).unwrap();

    assert_eq!(folded.product, "vacuumd");
    assert_eq!(folded.dropped, 1);
    assert_eq!(
        only_row(&folded),
        &counts(&[
            ("dim/version/2.1", 1.0),
            ("dim/edition/pro", 1.0),
            ("counter/tables_vacuumed", 7.0),
        ])
    );
}
