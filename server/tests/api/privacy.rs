use std::io::Read;
use std::process::Stdio;

use serde_json::json;

use crate::helpers::{
    free_port, fresh_report, fresh_schema, pg_dump, spawn_app, stop_with_sigterm, tally_command,
    wait_for_health, INGEST_KEY,
};

/// Strings a hostile or careless client might send; none may reach the database.
const FORWARDED_ADDRESS: &str = "203.0.113.77";
const USER_AGENT: &str = "HostileAgent/9.9 (unique-ua-5f1c2b)";
const HOSTNAME: &str = "printer-host.example.lan";
const SERIAL: &str = "SN-QX-8841729";
const IP_KEY: &str = "192.168.1.10";
const EMAIL_KEY: &str = "owner@example.com";
const PATH_KEY: &str = "/home/alice/prints";

#[tokio::test]
async fn a_dump_of_the_database_after_hostile_submissions_contains_none_of_their_strings() {
    let app = spawn_app().await;
    let send = |body: serde_json::Value| {
        app.http
            .post(app.url("/submit"))
            .header("X-API-Key", INGEST_KEY)
            .header("X-Forwarded-For", FORWARDED_ADDRESS)
            .header("User-Agent", USER_AGENT)
            .json(&body)
            .send()
    };
    // Accepted, with unknown fields at every level: they are dropped.
    let (_, mut accepted) = fresh_report();
    accepted["hostname"] = json!(HOSTNAME);
    accepted["installation"]["serial_number"] = json!(SERIAL);
    accepted["printer_fleet"]["printers"] = json!([{"name": HOSTNAME, "ip": IP_KEY}]);
    assert_eq!(send(accepted).await.unwrap().status(), 200);
    // Refused: free-form keys shaped like an address, an e-mail or a path.
    for (part, field, key) in [
        ("printer_fleet", "printer_type_counts", IP_KEY),
        ("usage_stats", "feature_usage", EMAIL_KEY),
        ("error_summary", "", PATH_KEY),
    ] {
        let (_, mut refused) = fresh_report();
        let value = if part == "usage_stats" {
            json!(true)
        } else {
            json!(1)
        };
        if field.is_empty() {
            refused[part] = json!({ key: value });
        } else {
            refused[part][field] = json!({ key: value });
        }
        let response = send(refused).await.unwrap();
        assert_eq!(response.status(), 422, "{key}");
        let text = response.text().await.unwrap();
        assert!(
            !text.contains(key),
            "the refusal must not echo {key}: {text}"
        );
    }
    assert_eq!(app.stored_reports().await, 1);

    // Blocking wait off the test's runtime: the app runs on it and may hold a lock pg_dump needs.
    let schema = app.schema.clone();
    let dump = tokio::task::spawn_blocking(move || pg_dump(&schema))
        .await
        .unwrap();

    assert!(dump.contains("CREATE TABLE"), "the dump holds the schema");
    assert!(
        dump.contains("homeassistant"),
        "the dump holds the accepted report"
    );
    for secret in [
        FORWARDED_ADDRESS,
        USER_AGENT,
        "unique-ua-5f1c2b",
        HOSTNAME,
        SERIAL,
        IP_KEY,
        EMAIL_KEY,
        PATH_KEY,
        INGEST_KEY,
        "127.0.0.1",
    ] {
        assert!(!dump.contains(secret), "the dump contains {secret}");
    }
}

/// The installation id is the credential for access and erasure, so no log level may show it,
/// not even a dependency's trace.
#[tokio::test]
async fn no_log_line_at_any_level_carries_the_installation_id_of_a_submit_access_or_erasure() {
    let (_, url) = fresh_schema();
    let port = free_port();
    let mut child = tally_command()
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("TALLY_BIND", format!("127.0.0.1:{port}"))
        .env("TALLY_INGEST_KEYS", INGEST_KEY)
        // Every level, and a dependency's statement log asked for by name.
        .env("RUST_LOG", "trace,tokio_postgres::query=trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Trace logs overflow a pipe long before the server stops: read them as they come.
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut logs = String::new();
        stderr.read_to_string(&mut logs).map(|_| logs)
    });
    wait_for_health(port).await;
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let (installation, report) = fresh_report();
    let installation_url = format!("{base}/installation/{installation}");

    let submitted = http
        .post(format!("{base}/submit"))
        .header("X-API-Key", INGEST_KEY)
        .json(&report)
        .send()
        .await
        .unwrap();
    let accessed = http
        .get(&installation_url)
        .header("X-API-Key", INGEST_KEY)
        .send()
        .await
        .unwrap();
    let erased = http
        .delete(&installation_url)
        .header("X-API-Key", INGEST_KEY)
        .send()
        .await
        .unwrap();
    stop_with_sigterm(&mut child).await;
    let logs = reader.join().unwrap().unwrap();

    assert_eq!(submitted.status(), 200);
    assert_eq!(accessed.status(), 200);
    assert_eq!(erased.status(), 200);
    // Every level was on, and the log saw the erasure and the shutdown.
    for sign in [
        "\"level\":\"TRACE\"",
        "installation erased",
        "SIGTERM received",
    ] {
        assert!(logs.contains(sign), "the logs should show {sign}");
    }
    let id = uuid::Uuid::parse_str(&installation).unwrap();
    for form in [
        id.hyphenated().to_string(),
        id.simple().to_string(),
        id.hyphenated().to_string().to_uppercase(),
        id.simple().to_string().to_uppercase(),
    ] {
        if let Some(line) = logs.lines().find(|line| line.contains(&form)) {
            panic!("the installation id ({form}) reached the log: {line}");
        }
    }
}
