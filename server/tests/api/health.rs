use std::process::Stdio;
use std::time::Duration;

use crate::helpers::{
    body, cluster_url, free_port, fresh_report, fresh_schema, psql, spawn_app,
    spawn_app_behind_proxy, stop_with_sigterm, tally_command, wait_for_health, ProxyMode,
    INGEST_KEY,
};

#[tokio::test]
async fn health_and_root_report_a_connected_database_and_ready_answers_200() {
    let app = spawn_app().await;

    for path in ["/", "/health"] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 200);
        let health = body(response).await;
        assert_eq!(health["status"], "healthy");
        assert_eq!(health["database"], "connected");
    }
    assert_eq!(app.get("/ready", None).await.status(), 200);
}

#[tokio::test]
async fn when_the_database_goes_away_health_says_so_ready_and_submit_answer_503_and_all_recover() {
    let (app, proxy) = spawn_app_behind_proxy(|config| config.database.db_timeout_ms = 500).await;
    let (_, report) = fresh_report();
    assert_eq!(app.submit(&report).await.status(), 200);

    proxy.set(ProxyMode::Cut);
    tokio::time::sleep(Duration::from_millis(1_100)).await; // the probe's cache expires

    let health = app.get("/health", None).await;
    assert_eq!(health.status(), 200);
    assert_eq!(body(health).await["database"], "unavailable");
    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status(), 503);
    assert!(ready.headers().contains_key("retry-after"));
    let (_, during) = fresh_report();
    let refused = app.submit(&during).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(body(refused).await["detail"].is_string());

    proxy.set(ProxyMode::Open);
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    assert_eq!(app.get("/ready", None).await.status(), 200);
    assert_eq!(app.submit(&during).await.status(), 200);
    assert_eq!(app.stored_reports().await, 2);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_404_and_405() {
    let app = spawn_app().await;

    let missing = app.get("/nothing-here", None).await;
    let missing_stat = app.get("/stats/nothing-here", None).await;
    let wrong_method = app.get("/submit", Some(INGEST_KEY)).await;

    assert_eq!(missing.status(), 404);
    assert!(body(missing).await["detail"].is_string());
    assert_eq!(missing_stat.status(), 404);
    assert!(body(missing_stat).await["detail"].is_string());
    assert_eq!(wrong_method.status(), 405);
    assert!(body(wrong_method).await["detail"].is_string());
}

#[tokio::test]
async fn metrics_are_served_as_prometheus_text() {
    let app = spawn_app().await;
    let (_, report) = fresh_report();
    assert_eq!(app.submit(&report).await.status(), 200);

    let response = app.get("/metrics", None).await;

    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("tally_ingest_outcomes_total{product=\"printernizer\",outcome=\"accepted\"}"),
        "{text}"
    );
}

#[test]
fn serve_refuses_to_start_without_an_ingest_key_and_says_which_setting_is_missing() {
    let output = tally_command()
        .args(["serve"])
        .env("DATABASE_URL", cluster_url())
        .env("TALLY_BIND", "127.0.0.1:0")
        .env("TALLY_INGEST_KEYS", "")
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TALLY_INGEST_KEYS"), "{stderr}");
}

#[test]
fn migrate_applies_the_migrations_and_exits_0() {
    let (schema, url) = fresh_schema();

    let status = tally_command()
        .args(["migrate", "--database-url", &url])
        .status()
        .unwrap();

    assert!(status.success());
    let check = psql(&format!("SELECT report_id FROM {schema}.activity LIMIT 0"));
    assert!(check.success(), "the last migration's column exists");
}

#[tokio::test]
async fn serve_stops_gracefully_on_sigterm_and_its_json_logs_hold_no_key_address_or_body() {
    let (_, url) = fresh_schema();
    let port = free_port();
    let mut child = tally_command()
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("TALLY_BIND", format!("127.0.0.1:{port}"))
        .env("TALLY_INGEST_KEYS", INGEST_KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_health(port).await;
    // Traffic whose secrets must not reach the log: a key, a wrong key, a client address,
    // a user agent, and a body field that is refused.
    let http = reqwest::Client::new();
    let submit = format!("http://127.0.0.1:{port}/submit");
    let (_, mut report) = fresh_report();
    for (key, status) in [(INGEST_KEY, 200), ("leaky-wrong-key-77", 401)] {
        let answer = http
            .post(&submit)
            .header("X-API-Key", key)
            .header("X-Forwarded-For", "203.0.113.9")
            .header("User-Agent", "LoggedAgent/1.0")
            .json(&report)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status);
    }
    report["usage_stats"]["feature_usage"] = serde_json::json!({"owner@example.com": true});
    let refused = http
        .post(&submit)
        .header("X-API-Key", INGEST_KEY)
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);

    stop_with_sigterm(&mut child).await;
    let mut logs = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut logs).unwrap();
    assert!(logs.contains("SIGTERM received"), "{logs}");
    for line in logs.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not a JSON log line: {line}"
        );
    }
    for secret in [
        INGEST_KEY,
        "leaky-wrong-key-77",
        "203.0.113.9",
        "LoggedAgent",
        "owner@example.com",
    ] {
        assert!(!logs.contains(secret), "{secret} reached the log:\n{logs}");
    }
}

#[tokio::test]
async fn two_instances_starting_at_once_on_one_database_apply_each_migration_once() {
    let (schema, url) = fresh_schema();

    let (first, second) = tokio::join!(
        tally::startup::Application::build(crate::helpers::serve_config(&url)),
        tally::startup::Application::build(crate::helpers::serve_config(&url)),
    );

    assert!(first.is_ok(), "{:?}", first.err());
    assert!(second.is_ok(), "{:?}", second.err());
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('V')
        })
        .count();
    let (client, connection) = tokio_postgres::connect(&cluster_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let applied: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM {schema}.refinery_schema_history"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied, migrations as i64);
}
