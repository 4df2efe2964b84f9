use chrono::{Duration, Utc};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    body, fresh_report, naive, report, spawn_app, spawn_app_with, ADMIN_KEY, INGEST_KEY,
};

#[tokio::test]
async fn submit_accepts_the_contract_example_with_space_separated_datetimes_and_stores_it() {
    let app = spawn_app().await;
    let (installation, report) = fresh_report();

    let response = app.submit(&report).await;

    assert_eq!(response.status(), 200);
    let answer = body(response).await;
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["message"], "Statistics submitted successfully");
    let id = answer["submission_id"]
        .as_i64()
        .expect("an integer submission_id");
    let stored = app.stored_reports_of(&installation).await;
    assert_eq!(stored.len(), 1);
    let row = &stored[0];
    assert_eq!(row["submission_id"], id);
    assert_eq!(row["app_version"], "2.41.2");
    assert_eq!(row["platform"], "linux");
    assert_eq!(row["deployment_mode"], "homeassistant");
    assert_eq!(row["country_code"], "DE");
    assert_eq!(row["printer_count"], 3);
    assert_eq!(row["job_count"], 23);
    assert_eq!(row["uptime_hours"], 134);
    assert_eq!(row["total_errors"], 2);
    assert_eq!(
        row["printer_type_counts"],
        json!({"bambu_lab": 2, "prusa_core": 1})
    );
    assert_eq!(row["feature_usage"]["library_enabled"], true);
    assert_eq!(period_seconds(row), 7 * 24 * 3600);
}

/// The length of a stored report's period, as the right of access shows it.
fn period_seconds(report: &serde_json::Value) -> i64 {
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(report[field].as_str().expect(field)).expect(field)
    };
    (at("period_end") - at("period_start")).num_seconds()
}

#[tokio::test]
async fn submit_accepts_every_datetime_form_printernizer_may_send() {
    let app = spawn_app().await;
    let end = Utc::now() - Duration::hours(1);
    let start = end - Duration::days(7);
    let forms: [(String, String); 5] = [
        (naive(start), naive(end)),
        (
            start.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            end.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        ),
        (
            start.format("%Y-%m-%d %H:%M:%S").to_string(),
            end.format("%Y-%m-%d %H:%M:%S").to_string(),
        ),
        (
            start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        (
            (start + Duration::hours(2))
                .format("%Y-%m-%dT%H:%M:%S+02:00")
                .to_string(),
            (end + Duration::hours(2))
                .format("%Y-%m-%dT%H:%M:%S+02:00")
                .to_string(),
        ),
    ];
    let mut installations = Vec::new();
    for (start, end) in forms {
        let installation = uuid::Uuid::new_v4().to_string();
        let mut body = report(&installation, Utc::now());
        installations.push(installation);
        body["period"] = json!({"start": start, "end": end});
        let response = app.submit(&body).await;
        assert_eq!(response.status(), 200, "period {start} .. {end}");
    }
    let mut seconds = Vec::new();
    for installation in &installations {
        for report in app.stored_reports_of(installation).await {
            seconds.push(period_seconds(&report));
        }
    }
    assert_eq!(seconds.len(), 5);
    assert!(seconds.iter().all(|s| *s == 7 * 24 * 3600), "{seconds:?}");
}

#[tokio::test]
async fn submit_stores_one_row_and_answers_the_same_submission_id_when_a_report_is_retried() {
    let app = spawn_app().await;
    let (installation, mut report) = fresh_report();

    let first = body(app.submit(&report).await).await;
    report["usage_stats"]["job_count"] = json!(40);
    let retry = app.submit(&report).await;

    assert_eq!(retry.status(), 200);
    let retry = body(retry).await;
    assert_eq!(retry["submission_id"], first["submission_id"]);
    assert_eq!(app.stored_reports().await, 1);
    let jobs = &app.stored_reports_of(&installation).await[0]["job_count"];
    assert_eq!(jobs, 40, "the latest report wins");
}

#[tokio::test]
async fn a_later_report_ending_on_the_same_day_replaces_the_earlier_and_keeps_its_submission_id() {
    let app = spawn_app().await;
    let installation = uuid::Uuid::new_v4().to_string();
    // Noon yesterday: both reports end on that day, whatever the time of the run.
    let yesterday = (Utc::now() - Duration::days(1)).date_naive();
    let end = yesterday.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let mut earlier = report(&installation, end - Duration::hours(1));
    earlier["usage_stats"]["job_count"] = json!(7);
    let later = report(&installation, end);

    let first = body(app.submit(&earlier).await).await;
    let second = body(app.submit(&later).await).await;

    assert_eq!(second["submission_id"], first["submission_id"]);
    let stored = app.stored_reports_of(&installation).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["job_count"], 23, "the later report is kept");
    assert_eq!(period_seconds(&stored[0]), 7 * 24 * 3600);
    let ended = chrono::DateTime::parse_from_rfc3339(stored[0]["period_end"].as_str().unwrap());
    assert_eq!(ended.unwrap().timestamp(), end.timestamp());
}

#[tokio::test]
async fn submit_returns_401_with_one_message_for_a_missing_empty_wrong_or_admin_key() {
    let app = spawn_app().await;
    let (_, report) = fresh_report();
    let mut messages = Vec::new();
    for key in [None, Some(""), Some("wrong-key"), Some(ADMIN_KEY)] {
        let mut request = app.http.post(app.url("/submit")).json(&report);
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "key {key:?}");
        let text = response.text().await.unwrap();
        assert!(!text.contains("wrong-key") && !text.contains(ADMIN_KEY));
        messages.push(serde_json::from_str::<serde_json::Value>(&text).unwrap()["detail"].clone());
    }
    assert!(
        messages.windows(2).all(|pair| pair[0] == pair[1]),
        "{messages:?}"
    );
    assert_eq!(app.stored_reports().await, 0);
}

#[tokio::test]
async fn submit_answers_401_before_reading_the_body_of_an_unauthenticated_request() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap();
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    // Announce a large body and send none of it: only a server that does not wait for it answers.
    stream
        .write_all(
            b"POST /submit HTTP/1.1\r\nHost: x\r\nX-API-Key: nope\r\n\
              Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(std::time::Duration::from_secs(3), stream.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[tokio::test]
async fn submit_returns_413_for_a_body_over_64_kib_and_stores_nothing() {
    let app = spawn_app().await;
    let (_, mut report) = fresh_report();
    report["padding"] = json!("x".repeat(70 * 1024));

    let response = app.submit(&report).await;

    assert_eq!(response.status(), 413);
    assert!(body(response).await["detail"]
        .as_str()
        .unwrap()
        .contains("65536"));
    assert_eq!(app.stored_reports().await, 0);
}

#[tokio::test]
async fn submit_returns_400_with_a_json_detail_for_a_body_that_is_not_json() {
    let app = spawn_app().await;
    for bad in ["", "{", "not json", "{\"installation\": }"] {
        let response = app
            .http
            .post(app.url("/submit"))
            .header("X-API-Key", INGEST_KEY)
            .header("Content-Type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad:?}");
        assert!(body(response).await["detail"].is_string());
    }
    assert_eq!(app.stored_reports().await, 0);
}

fn locs(answer: &serde_json::Value) -> Vec<String> {
    answer["detail"]
        .as_array()
        .expect("a list of field errors")
        .iter()
        .map(|error| {
            assert!(
                error["msg"].is_string() && error["type"].is_string(),
                "{error}"
            );
            error["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|part| part.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

#[tokio::test]
async fn submit_returns_422_listing_every_broken_field_and_stores_nothing() {
    let app = spawn_app().await;
    let (_, mut report) = fresh_report();
    report["installation"]["installation_id"] = json!("not-a-uuid");
    report["installation"]["country_code"] = json!("Deutschland");
    report["installation"]["app_version"] = json!("2.41 beta");
    report["installation"]["platform"] = json!("Linux Mint");
    report["usage_stats"]["job_count"] = json!(-1);
    report["usage_stats"]["file_count"] = json!(50_000_000);
    report["usage_stats"]["uptime_hours"] = json!(500);
    report["printer_fleet"]["printer_type_counts"] = json!({"My Printer": 1});
    report["usage_stats"]["feature_usage"] = json!({"owner@example.com": true});
    report["error_summary"] = json!({"/var/log/x": 1});
    report["schema_version"] = json!("2.0");

    let response = app.submit(&report).await;

    assert_eq!(response.status(), 422);
    let found = locs(&body(response).await);
    for expected in [
        "body.installation.installation_id",
        "body.installation.country_code",
        "body.installation.app_version",
        "body.installation.platform",
        "body.usage_stats.job_count",
        "body.usage_stats.file_count",
        "body.usage_stats.uptime_hours",
        "body.printer_fleet.printer_type_counts",
        "body.usage_stats.feature_usage",
        "body.error_summary",
        "body.schema_version",
    ] {
        assert!(
            found.iter().any(|loc| loc == expected),
            "{expected} missing from {found:?}"
        );
    }
    assert_eq!(app.stored_reports().await, 0);
}

#[tokio::test]
async fn submit_returns_422_for_periods_that_break_their_rules() {
    let app = spawn_app().await;
    let now = Utc::now();
    for (start, end, loc) in [
        (now, now - Duration::days(7), "body.period.start"),
        (now - Duration::days(40), now, "body.period.start"),
        (
            now + Duration::days(3),
            now + Duration::days(10),
            "body.period.end",
        ),
        (
            now - Duration::days(500),
            now - Duration::days(493),
            "body.period.end",
        ),
        (
            now - Duration::days(7),
            now + Duration::days(400),
            "body.period.end",
        ),
    ] {
        let mut body = report(&uuid::Uuid::new_v4().to_string(), now);
        body["period"] = json!({"start": naive(start), "end": naive(end)});
        body["usage_stats"]["uptime_hours"] = json!(0);
        let response = app.submit(&body).await;
        assert_eq!(response.status(), 422, "{start} .. {end}");
        let found = locs(&crate::helpers::body(response).await);
        assert!(
            found.contains(&loc.to_owned()),
            "{loc} missing from {found:?}"
        );
    }
    let mut unparsable = report(&uuid::Uuid::new_v4().to_string(), now);
    unparsable["period"]["end"] = json!("next tuesday");
    let response = app.submit(&unparsable).await;
    assert_eq!(response.status(), 422);
    assert_eq!(locs(&body(response).await), vec!["body.period.end"]);
    assert_eq!(app.stored_reports().await, 0);
}

#[tokio::test]
async fn submit_returns_422_with_the_field_path_for_a_value_of_the_wrong_type_or_a_missing_part() {
    let app = spawn_app().await;
    let (_, mut wrong_type) = fresh_report();
    wrong_type["usage_stats"]["job_count"] = json!("many");
    let (_, mut missing) = fresh_report();
    missing.as_object_mut().unwrap().remove("printer_fleet");

    let wrong_type = app.submit(&wrong_type).await;
    let missing = app.submit(&missing).await;

    assert_eq!(wrong_type.status(), 422);
    assert_eq!(
        locs(&body(wrong_type).await),
        vec!["body.usage_stats.job_count"]
    );
    assert_eq!(missing.status(), 422);
    let missing = body(missing).await;
    assert!(missing["detail"][0]["msg"]
        .as_str()
        .unwrap()
        .contains("printer_fleet"));
    assert_eq!(app.stored_reports().await, 0);
}

#[tokio::test]
async fn submit_keeps_well_formed_values_outside_the_catalog_as_other() {
    let app = spawn_app().await;
    let (installation, mut report) = fresh_report();
    report["installation"]["platform"] = json!("freebsd");
    report["installation"]["deployment_mode"] = json!("kubernetes");
    report["installation"]["country_code"] = json!("qq");
    report["printer_fleet"] = json!({
        "printer_count": 3,
        "printer_types": ["bambu_lab", "creality_k1", "snapmaker"],
        "printer_type_counts": {"bambu_lab": 1, "creality_k1": 1, "snapmaker": 1}
    });

    assert_eq!(app.submit(&report).await.status(), 200);

    let row = &app.stored_reports_of(&installation).await[0];
    assert_eq!(row["platform"], "other");
    assert_eq!(row["deployment_mode"], "other");
    assert_eq!(row["country_code"], "XX");
    assert_eq!(
        row["printer_type_counts"],
        json!({"other": 2, "bambu_lab": 1})
    );
}

#[tokio::test]
async fn submit_accepts_a_minimal_report_with_every_optional_part_left_out() {
    let app = spawn_app().await;
    let end = Utc::now();
    let minimal = json!({
        "installation": {
            "installation_id": uuid::Uuid::new_v4().to_string(),
            "app_version": "abc1234", "platform": "darwin",
            "deployment_mode": "standalone", "country_code": "XX"
        },
        "period": {"start": naive(end - Duration::days(7)), "end": naive(end)},
        "printer_fleet": {},
        "usage_stats": {}
    });

    assert_eq!(app.submit(&minimal).await.status(), 200);
    assert_eq!(app.stored_reports().await, 1);
}

#[tokio::test]
async fn submit_returns_429_with_retry_after_when_the_installation_is_over_its_quota() {
    let app = spawn_app().await;
    let installation = uuid::Uuid::new_v4().to_string();
    let now = Utc::now();
    for week in 0..10 {
        let body = report(&installation, now - Duration::days(7 * week));
        assert_eq!(app.submit(&body).await.status(), 200, "report {week}");
    }

    let eleventh = app
        .submit(&report(&installation, now - Duration::days(70)))
        .await;
    let (_, other) = fresh_report();
    let other = app.submit(&other).await;

    assert_eq!(eleventh.status(), 429);
    let wait: u64 = eleventh.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait), "Retry-After {wait}");
    assert!(body(eleventh).await["detail"].is_string());
    assert_eq!(other.status(), 200, "another installation is unaffected");
    assert_eq!(app.stored_reports().await, 11);
}

#[tokio::test]
async fn submit_returns_429_with_retry_after_when_the_source_is_over_its_quota_before_reading_the_body(
) {
    let app = spawn_app_with(|config| config.ip_rate_per_minute = 3).await;
    for _ in 0..3 {
        let (_, report) = fresh_report();
        assert_eq!(app.submit(&report).await.status(), 200);
    }

    let over = app
        .http
        .post(app.url("/submit"))
        .header("X-API-Key", INGEST_KEY)
        .body("not even json")
        .send()
        .await
        .unwrap();

    assert_eq!(
        over.status(),
        429,
        "the limit is checked before the body is parsed"
    );
    assert!(over.headers().contains_key("retry-after"));
    assert_eq!(app.stored_reports().await, 3);
}

#[tokio::test]
async fn submit_limits_the_forwarded_client_only_behind_a_trusted_proxy() {
    let app = spawn_app_with(|config| {
        config.ip_rate_per_minute = 1;
        config.trusted_proxies = vec!["127.0.0.0/8".to_owned()];
    })
    .await;
    let send = |forwarded: &'static str| {
        let (_, report) = fresh_report();
        let request = app
            .http
            .post(app.url("/submit"))
            .header("X-API-Key", INGEST_KEY)
            .header("X-Forwarded-For", forwarded)
            .json(&report);
        async move { request.send().await.unwrap().status() }
    };

    assert_eq!(send("198.51.100.1").await, 200);
    assert_eq!(
        send("198.51.100.2").await,
        200,
        "another client behind the proxy"
    );
    assert_eq!(send("198.51.100.1").await, 429, "the same client again");
}

#[tokio::test]
async fn submit_counts_every_outcome_per_day_including_dropped_unknown_fields() {
    let mut app = spawn_app().await;
    let (_, mut report) = fresh_report();
    report["hostname"] = json!("dropped");
    report["installation"]["serial"] = json!("dropped");
    assert_eq!(app.submit(&report).await.status(), 200);
    assert_eq!(app.submit(&report).await.status(), 200);
    report["installation"]["country_code"] = json!("Germany");
    assert_eq!(app.submit(&report).await.status(), 422);
    assert_eq!(app.submit_with_key(&report, "wrong").await.status(), 401);

    app.stop().await; // the last outcomes are written on the way out

    let rows = app
        .db()
        .await
        .query(
            "SELECT outcome, count FROM ingest_outcomes
             WHERE product = 'printernizer' AND day = (now() AT TIME ZONE 'UTC')::date
             ORDER BY outcome",
            &[],
        )
        .await
        .unwrap();
    let counts: Vec<(String, i64)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    assert_eq!(
        counts,
        vec![
            ("accepted".to_owned(), 1),
            ("duplicate".to_owned(), 1),
            ("rejected_invalid".to_owned(), 1),
            ("rejected_unauthorized".to_owned(), 1),
            ("unknown_fields_dropped".to_owned(), 4),
        ]
    );
}

#[tokio::test]
async fn submit_counts_values_stored_as_other_like_every_other_format() {
    let mut app = spawn_app().await;
    let (_, mut report) = fresh_report();
    report["installation"]["platform"] = json!("freebsd");
    report["printer_fleet"]["printer_type_counts"] = json!({"creality": 1});
    assert_eq!(app.submit(&report).await.status(), 200);

    app.stop().await; // the last outcomes are written on the way out

    let stored_as_other: i64 = app
        .db()
        .await
        .query_one(
            "SELECT coalesce(sum(count), 0)::bigint FROM ingest_outcomes
             WHERE product = 'printernizer' AND outcome = 'values_stored_as_other'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored_as_other, 2, "the platform and the printer type");
}
