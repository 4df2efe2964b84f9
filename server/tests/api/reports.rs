//! `/reports/*` and the report schedule, against a real SMTP conversation with `SmtpSink`.

use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};
use tally::config::ReportsConfig;
use tally::reports::schedule::step;
use tally::reports::{ReportError, Reporting};
use tally::store::ReadPool;

use crate::helpers::{
    body, free_port, query_pool, serve_config, spawn_app_with, tally_command, TestApp, ADMIN_KEY,
    INGEST_KEY,
};
use crate::rollup::{id, report_ago, roll, send};
use crate::smtp_sink::SmtpSink;

const MAINTAINER: &str = "maintainer@example.org";

/// An app whose reports go through `smtp_url`, with no configured recipients: the schedule
/// stays off, and each request names its recipients.
async fn app_mailing_to(smtp_url: &str) -> TestApp {
    let smtp_url = smtp_url.to_owned();
    spawn_app_with(move |c| {
        c.rate_limit_per_hour = 0;
        c.ip_rate_per_minute = 0;
        c.rollup_interval_secs = 3_600;
        c.reports.smtp_url = Some(smtp_url.parse().unwrap());
        c.reports.report_from = Some("Tally <tally@example.org>".to_owned());
        c.reports.public_url = Some("https://tally.example.org/".to_owned());
    })
    .await
}

async fn post(
    app: &TestApp,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = app.http.post(app.url(path));
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request sent")
}

async fn stats(app: &TestApp, path: &str) -> Value {
    body(app.get(path, Some(ADMIN_KEY)).await).await
}

fn to_maintainer() -> Option<Value> {
    Some(json!({ "recipients": [MAINTAINER] }))
}

/// Three installations active this week (one of them new), one 20 days ago, one 40 days ago.
async fn seed(app: &TestApp) {
    for (n, days_ago, version, country) in [
        (1, 0, "2.41.2", "DE"),
        (2, 3, "2.41.2", "GB"),
        (3, 5, "2.40.0", "FR"),
        (4, 20, "2.40.0", "DE"),
        (5, 40, "2.30.0", "DE"),
    ] {
        if n <= 3 {
            // Installations 1-3 have reported before: they are not new this week.
            send(app, &report_ago(&id(n), days_ago + 14, |_| {})).await;
        }
        send(
            app,
            &report_ago(&id(n), days_ago, |b| {
                b["installation"]["app_version"] = version.into();
                b["installation"]["country_code"] = country.into();
            }),
        )
        .await;
    }
    send(app, &report_ago(&id(6), 1, |_| {})).await;
    roll(app).await;
}

#[tokio::test]
async fn the_weekly_report_arrives_with_the_numbers_stats_answers() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink.url()).await;
    seed(&app).await;

    let response = post(&app, "/reports/weekly", to_maintainer(), Some(ADMIN_KEY)).await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        body(response).await,
        json!({"status": "success", "message": "Weekly report sent successfully",
               "recipients": [MAINTAINER]})
    );
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, [MAINTAINER]);
    assert!(mails[0]
        .subject()
        .starts_with("Printernizer weekly report, "));
    let text = mails[0].text();
    let overview = stats(&app, "/stats/overview").await;
    let errors = stats(&app, "/stats/errors").await;
    let i = &overview["installations"];
    let v = &overview["versions"];
    let p = &overview["printers"];
    for expected in [
        format!("Active (7 days)  {} (", i["active_7d"]),
        format!("Active (30 days)  {}\n", i["active_30d"]),
        format!("Known  {}\n", i["total"]),
        "New this week  1\n".to_owned(),
        format!(
            "Versions: {} in use, latest {} on {:.1}%",
            v["total_versions"],
            v["latest_version"].as_str().unwrap(),
            v["adoption_rate_latest"].as_f64().unwrap()
        ),
        format!("Countries: {}\n", overview["geography"]["total_countries"]),
        format!(
            "Printers: {} in all, {:.1} per installation",
            p["total_printers"],
            p["average_per_installation"].as_f64().unwrap()
        ),
        format!(
            "Last 30 days  {} in {} installations",
            errors["total_errors"], errors["installations_with_errors"]
        ),
        format!("Last 7 days  {} (", errors["this_week_errors"]),
        "Dashboard: https://tally.example.org/dashboard".to_owned(),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in:\n{text}");
    }
    // And the controlled data set itself: 4 active this week (1, 2, 3 and the new 6).
    assert!(text.contains("Active (7 days)  4 ("), "{text}");
    assert!(text.contains("Active (30 days)  5\n"), "{text}");
    assert!(
        text.contains("Versions: 2 in use, latest 2.41.2 on 60.0%"),
        "{text}"
    );
}

#[tokio::test]
async fn the_monthly_report_counts_the_new_installations_of_thirty_days() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink.url()).await;
    seed(&app).await;

    let response = post(&app, "/reports/monthly", to_maintainer(), Some(ADMIN_KEY)).await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        body(response).await["message"],
        "Monthly report sent successfully"
    );
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0]
        .subject()
        .starts_with("Printernizer monthly report, "));
    // 1-3 first reported 14-19 days ago, 4 twenty days ago, 6 yesterday; 5 is older.
    assert!(
        mails[0].text().contains("New this month  5\n"),
        "{}",
        mails[0].text()
    );
    assert!(mails[0].data.contains("Content-Type: text/html"));
}

#[tokio::test]
async fn the_email_status_has_printernizers_keys_and_never_the_password() {
    let app = spawn_app_with(|c| {
        c.reports.report_from = Some("tally@example.org".to_owned());
        c.reports.report_recipients = vec!["a@example.org".into(), "b@example.org".into()];
        // No scheduled send may reach the network in a test: the first would be due at once.
        c.reports.smtp_url = Some(
            "smtp://bot:hunter2@127.0.0.1:1?tls=required"
                .parse()
                .unwrap(),
        );
    })
    .await;

    let response = app.get("/reports/email-status", Some(ADMIN_KEY)).await;

    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains("hunter2"));
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"enabled": true, "configured": true, "host": "127.0.0.1",
               "from_email": "tally@example.org", "recipients_count": 2,
               "use_tls": true, "use_ssl": false})
    );
}

#[tokio::test]
async fn reports_answer_503_with_a_detail_when_email_is_not_configured() {
    let app = spawn_app_with(|_| {}).await;

    let status = body(app.get("/reports/email-status", Some(ADMIN_KEY)).await).await;
    let response = post(&app, "/reports/weekly", to_maintainer(), Some(ADMIN_KEY)).await;

    assert_eq!(status["enabled"], false);
    assert_eq!(status["configured"], false);
    assert_eq!(status["host"], Value::Null);
    assert_eq!(response.status(), 503);
    assert_eq!(
        body(response).await["detail"],
        "E-mail is not configured: TALLY_SMTP_URL is not set"
    );
}

#[tokio::test]
async fn reports_need_an_admin_key() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink.url()).await;

    let without = post(&app, "/reports/test-email", to_maintainer(), None).await;
    let ingest = post(
        &app,
        "/reports/test-email",
        to_maintainer(),
        Some(INGEST_KEY),
    )
    .await;
    let status = app.get("/reports/email-status", None).await;

    assert_eq!(without.status(), 401);
    assert_eq!(ingest.status(), 403);
    assert_eq!(status.status(), 401);
    assert!(sink.mails().is_empty());
}

#[tokio::test]
async fn a_test_email_goes_to_the_named_recipients_and_a_bad_one_is_422() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink.url()).await;

    let sent = post(
        &app,
        "/reports/test-email",
        to_maintainer(),
        Some(ADMIN_KEY),
    )
    .await;
    let bad = post(
        &app,
        "/reports/test-email",
        Some(json!({"recipients": ["not an address"]})),
        Some(ADMIN_KEY),
    )
    .await;
    let none = post(&app, "/reports/test-email", None, Some(ADMIN_KEY)).await;

    assert_eq!(sent.status(), 200);
    assert_eq!(body(sent).await["recipients"], json!([MAINTAINER]));
    assert_eq!(bad.status(), 422);
    assert!(body(bad).await["detail"]
        .as_str()
        .unwrap()
        .contains("not an address"));
    // No body and no configured recipients: nobody to send to.
    assert_eq!(none.status(), 503);
    assert!(body(none).await["detail"]
        .as_str()
        .unwrap()
        .contains("TALLY_REPORT_RECIPIENTS"));
    assert_eq!(sink.mails().len(), 1);
}

#[tokio::test]
async fn a_dead_smtp_server_answers_502_with_a_clear_detail() {
    let closed = free_port();
    let app = app_mailing_to(&format!("smtp://127.0.0.1:{closed}?tls=none")).await;

    let response = post(&app, "/reports/weekly", to_maintainer(), Some(ADMIN_KEY)).await;

    assert_eq!(response.status(), 502);
    let detail = body(response).await["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.starts_with(&format!(
            "the SMTP server 127.0.0.1:{closed} did not take the message"
        )),
        "{detail}"
    );
}

#[tokio::test]
async fn a_bad_smtp_url_stops_start_up_without_showing_the_password() {
    let (_schema, url) = crate::helpers::fresh_schema();
    let mut config = serve_config(&url);
    config.reports.smtp_url = Some(
        "smtp://bot:hunter2@mail.example.org?tls=maybe"
            .parse()
            .unwrap(),
    );

    let error = match tally::startup::Application::build(config).await {
        Ok(_) => panic!("a bad TALLY_SMTP_URL was accepted"),
        Err(error) => format!("{error:#}"),
    };

    assert!(error.starts_with("TALLY_SMTP_URL: "), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

/// Report settings for a scheduler step, sending through `smtp_url` to the maintainer.
fn reporting(smtp_url: &str) -> Reporting {
    let mut config: ReportsConfig = serve_config("postgres://unused").reports;
    config.smtp_url = Some(smtp_url.parse().unwrap());
    config.report_from = Some("tally@example.org".to_owned());
    config.report_recipients = vec![MAINTAINER.to_owned()];
    let catalog = tally::domain::Catalog::load(None).expect("the built-in catalog loads");
    Reporting::new(&config, Box::leak(Box::new(catalog))).expect("valid settings")
}

async fn sent_rows(app: &TestApp) -> i64 {
    app.db()
        .await
        .query_one("SELECT count(*) FROM sent_reports", &[])
        .await
        .unwrap()
        .get(0)
}

const DEADLINE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_failed_scheduled_send_is_retried_later_and_then_sent_once() {
    let app = spawn_app_with(|_| {}).await;
    seed(&app).await;
    let (pool, read) = (
        query_pool(&app.database_url),
        ReadPool(query_pool(&app.database_url)),
    );
    let dead = reporting(&format!("smtp://127.0.0.1:{}?tls=none", free_port()));
    let sink = SmtpSink::start().await;
    let live = reporting(&sink.url());
    let now = Utc::now();

    let failed = step(&pool, &read, &dead, DEADLINE, now).await;
    let rows_after_failure = sent_rows(&app).await;
    let retried = step(&pool, &read, &live, DEADLINE, now).await.unwrap();
    let again = step(&pool, &read, &live, DEADLINE, now).await.unwrap();

    assert!(matches!(failed, Err(ReportError::Mail(_))), "{failed:?}");
    assert_eq!(rows_after_failure, 0);
    // The latest weekly and monthly periods, each once.
    assert_eq!(retried.len(), 2);
    assert!(again.is_empty());
    assert_eq!(sent_rows(&app).await, 2);
    let subjects: Vec<String> = sink
        .mails()
        .iter()
        .map(|m| m.subject().to_owned())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects[0].contains("weekly"));
    assert!(subjects[1].contains("monthly"));
}

#[tokio::test]
async fn two_instances_stepping_at_once_send_each_report_once() {
    let app = spawn_app_with(|_| {}).await;
    seed(&app).await;
    let sink = SmtpSink::start().await;
    let instance = || {
        (
            query_pool(&app.database_url),
            ReadPool(query_pool(&app.database_url)),
            reporting(&sink.url()),
        )
    };
    let (a, b) = (instance(), instance());
    let now = Utc::now();

    let (sent_a, sent_b) = tokio::join!(
        step(&a.0, &a.1, &a.2, DEADLINE, now),
        step(&b.0, &b.1, &b.2, DEADLINE, now),
    );

    let sent = sent_a.unwrap().len() + sent_b.unwrap().len();
    assert_eq!(sent, 2);
    let mut subjects: Vec<String> = sink
        .mails()
        .iter()
        .map(|m| m.subject().to_owned())
        .collect();
    subjects.sort();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects[0].contains("monthly") && subjects[1].contains("weekly"));
    assert_eq!(sent_rows(&app).await, 2);
}

#[tokio::test]
async fn tally_report_dry_run_prints_the_report_and_sends_nothing() {
    let app = spawn_app_with(|c| {
        c.rate_limit_per_hour = 0;
        c.ip_rate_per_minute = 0;
    })
    .await;
    seed(&app).await;
    let sink = SmtpSink::start().await;

    let output = tally_command()
        .args([
            "report",
            "weekly",
            "--dry-run",
            "--database-url",
            &app.database_url,
        ])
        .env("TALLY_SMTP_URL", sink.url())
        .env("TALLY_REPORT_FROM", "tally@example.org")
        .env("TALLY_REPORT_RECIPIENTS", MAINTAINER)
        .output()
        .expect("tally runs");

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(
        printed.starts_with("Subject: Printernizer weekly report, "),
        "{printed}"
    );
    assert!(printed.contains("Active (7 days)  4 ("), "{printed}");
    assert!(sink.mails().is_empty());
}
