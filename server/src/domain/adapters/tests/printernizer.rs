use chrono::Duration;
use serde_json::json;

use super::*;
use crate::domain::activity::{Merge, Report};
use crate::domain::adapters::printernizer::{fold, ReportFields, Rules};

fn rules() -> Rules {
    Rules {
        raw_retention: Duration::days(400),
        report: catalog().printernizer(),
    }
}

fn at(hours_before: i64) -> String {
    (now() - Duration::hours(hours_before))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A report of the week ending an hour before `now()`, changed by `change`.
fn report(change: impl FnOnce(&mut serde_json::Value)) -> Result<Folded, Rejected> {
    let mut report = json!({
        "schema_version": "1.0",
        "installation": {
            "installation_id": "550E8400-E29B-41D4-A716-446655440000",
            "first_seen": "2025-06-01 10:00:00.500000",
            "app_version": "2.41.2-3-gabc1234", "python_version": "3.12.3",
            "platform": "Linux", "deployment_mode": "docker", "country_code": "de"
        },
        "period": {"start": at(169), "end": at(1), "duration_days": 7},
        "printer_fleet": {
            "printer_count": 3,
            "printer_types": ["bambu_lab", "prusa_core", "octoprint"],
            "printer_type_counts": {"bambu_lab": 2, "prusa_core": 1}
        },
        "usage_stats": {
            "job_count": 23, "file_count": 18, "upload_count": 5, "uptime_hours": 134,
            "feature_usage": {"library_enabled": true, "timelapse_enabled": false}
        },
        "error_summary": {"total_errors": 2}
    });
    change(&mut report);
    fold(&body(report), &rules(), now())
}

#[test]
fn a_report_is_one_row_on_the_day_its_period_ends_with_every_field_under_its_declared_key() {
    let folded = report(|_| {}).unwrap();

    assert_eq!(folded.product, "printernizer");
    assert_eq!(folded.merge, Merge::Replace);
    assert_eq!(folded.fingerprint, None);
    assert_eq!((folded.dropped, folded.others), (0, 0));
    assert_eq!(
        folded.rows[0].installation.as_str(),
        "550e8400-e29b-41d4-a716-446655440000"
    );
    assert_eq!(folded.rows[0].day, day(10));
    assert_eq!(
        folded.report,
        Some(Report {
            start: now() - Duration::hours(169),
            end: now() - Duration::hours(1),
        })
    );
    assert_eq!(
        only_row(&folded),
        &counts(&[
            ("dim/app_version/2.41.2-3-gabc1234", 1.0),
            ("dim/python_version/3.12.3", 1.0),
            ("dim/platform/linux", 1.0),
            ("dim/deployment_mode/docker", 1.0),
            ("dim/country/DE", 1.0),
            ("counter/printer_count", 3.0),
            ("counter/job_count", 23.0),
            ("counter/file_count", 18.0),
            ("counter/upload_count", 5.0),
            ("counter/uptime_hours", 134.0),
            ("map/printer_type_counts/bambu_lab", 2.0),
            ("map/printer_type_counts/prusa_core", 1.0),
            ("map/printer_type_counts/octoprint", 0.0),
            ("flag/feature_usage/library_enabled", 1.0),
            ("flag/feature_usage/timelapse_enabled", 0.0),
            ("map/error_summary/total_errors", 2.0),
        ])
    );
}

#[test]
fn a_stored_report_reads_back_as_the_fields_it_was_folded_from() {
    let folded = report(|_| {}).unwrap();

    let fields = ReportFields::read(only_row(&folded).iter().map(|(k, v)| (k.as_str(), *v)));

    assert_eq!(
        fields,
        ReportFields {
            app_version: Some("2.41.2-3-gabc1234"),
            python_version: Some("3.12.3"),
            platform: Some("linux"),
            deployment_mode: Some("docker"),
            country: Some("DE"),
            printers: 3,
            jobs: 23,
            files: 18,
            uploads: 5,
            uptime_hours: 134,
            errors: 2,
            printer_types: vec![("bambu_lab", 2), ("octoprint", 0), ("prusa_core", 1)],
            features: vec![("library_enabled", true), ("timelapse_enabled", false)],
            error_types: vec![("total_errors", 2)],
        }
    );
}

#[test]
fn values_outside_the_allow_lists_are_stored_as_other_and_counted() {
    let folded = report(|report| {
        report["installation"]["platform"] = json!("freebsd");
        report["printer_fleet"]["printer_type_counts"] = json!({"creality": 1});
        report["printer_fleet"]["printer_types"] = json!([]);
    })
    .unwrap();

    let row = only_row(&folded);
    assert_eq!(row.get("dim/platform/other"), Some(&1.0));
    assert_eq!(row.get("map/printer_type_counts/other"), Some(&1.0));
    assert_eq!(folded.others, 2);
}

#[test]
fn unknown_fields_are_counted_at_every_level_and_an_unknown_object_counts_once() {
    let folded = report(|report| {
        report["hostname"] = json!("workshop");
        report["installation"]["serial"] = json!("A1B2");
        report["period"]["timezone"] = json!("Europe/Berlin");
        report["printer_fleet"]["printers"] = json!([{"name": "x", "ip": "10.0.0.2"}]);
        report["usage_stats"]["extra"] = json!({"a": 1, "b": {"c": 2}});
    })
    .unwrap();

    assert_eq!(folded.dropped, 5);
    // The maps' keys are data, not fields: none of them is unknown.
    assert_eq!(only_row(&folded).get("counter/printer_count"), Some(&3.0));
}

#[test]
fn every_broken_field_is_named_at_once_and_nothing_is_folded() {
    let rejected = report(|report| {
        report["installation"]["installation_id"] = json!("not-a-uuid");
        report["usage_stats"]["job_count"] = json!(100_001);
        report["period"]["end"] = json!(at(-48));
    })
    .unwrap_err();

    assert_eq!(
        locs(rejected),
        vec![
            loc(&["installation", "installation_id"]),
            loc(&["period", "end"]),
            loc(&["usage_stats", "job_count"]),
        ]
    );
}

#[test]
fn a_known_field_sent_twice_is_refused() {
    let body = br#"{"schema_version": "1.0", "schema_version": "1.0"}"#;
    assert!(matches!(
        fold(body, &rules(), now()),
        Err(Rejected::Invalid(_))
    ));
}
