//! The e-mailed report of every product but Printernizer (whose part is tested in `reports`):
//! bodies sent through each product's real ingest route and rolled, then the report printed by
//! the real `tally report weekly --dry-run` or sent by it to `SmtpSink`, with
//! `TALLY_REPORT_PRODUCTS` naming the product. Each part speaks its declaration's terms, with
//! the numbers that were sent, and none of Printernizer's.

use serde_json::{json, Value};

use crate::catalog::{CatalogFile, KILN};
use crate::dashboard_products::{app, post, roll, seed_franklinwh, seed_kiln, INDEXPILOT_KEY};
use crate::helpers::{at_days_ago, tally_command, TestApp};
use crate::products_ingest::wait_for_outcome;
use crate::smtp_sink::SmtpSink;

/// `tally report weekly` with `args` and `env`, run off the test's runtime (the app's own
/// tasks run on it).
async fn report(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = tally_command();
    command
        .args(["report", "weekly"])
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .envs(env.iter().copied());
    tokio::task::spawn_blocking(move || command.output().expect("tally runs"))
        .await
        .expect("the command's thread")
}

/// What `tally report weekly --dry-run` prints for `product` (from the operator's `catalog`).
async fn dry_run(app: &TestApp, product: &str, catalog: Option<&CatalogFile>) -> String {
    let catalog = catalog.map(|file| file.0.display().to_string());
    let mut env = vec![("TALLY_REPORT_PRODUCTS", product)];
    env.extend(catalog.as_deref().map(|path| ("TALLY_CATALOG", path)));
    let output = report(app, &["--dry-run"], &env).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// The plain-text rows of a section: its heading, then each row's cells two spaces apart.
fn section(heading: &str, rows: &[&str]) -> String {
    let mut text = format!("{heading}\n");
    for row in rows {
        text.push_str(&format!("  {row}\n"));
    }
    text
}

fn assert_has(text: &str, expected: &[String]) {
    for expected in expected {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
}

fn assert_speaks_no_printernizer(text: &str) {
    for printernizer in ["Printers", "Features", "Versions:", "Countries:", "Errors"] {
        assert!(!text.contains(printernizer), "{printernizer:?} in:\n{text}");
    }
}

fn stories_event(event_type: &str, days_ago: i64, properties: Value) -> Value {
    json!({"event_type": event_type, "timestamp": at_days_ago(days_ago), "properties": properties})
}

#[tokio::test]
async fn a_stories_report_counts_its_events_rates_measures_and_languages() {
    let app = app(None).await;
    // A opens the app twice (de), transcribes twice (10 s and 40 s, one a success) and fails
    // once; B opens it once (en) and crashes.
    let a = json!({"user_id": "user_aaaaaaaa", "events": [
        stories_event("app_opened", 0, json!({"app_version": "1.4.0", "language": "de"})),
        stories_event("app_opened", 2, json!({"app_version": "1.4.0", "language": "de"})),
        stories_event("transcription_completed", 0, json!({"duration": 10, "success": true})),
        stories_event("transcription_completed", 2, json!({"duration": 40, "success": false})),
        stories_event("transcription_failed", 0, json!({"error_type": "network_error"})),
    ]});
    let b = json!({"user_id": "user_bbbbbbbb", "events": [
        stories_event("app_opened", 1, json!({"app_version": "1.3.0", "language": "en"})),
    ]});
    let crash = json!({"error_message": "TypeError: x is undefined", "app_version": "1.3.0",
        "os_version": "14.2", "timestamp": at_days_ago(1), "user_id": "user_bbbbbbbb"});
    post(&app, "/api/events/batch", None, &a).await;
    post(&app, "/api/events/batch", None, &b).await;
    post(&app, "/api/crashes", None, &crash).await;
    wait_for_outcome(&app, "stories", "accepted", 3).await;
    roll(&app, None).await;

    let printed = dry_run(&app, "stories", None).await;

    assert!(
        printed.starts_with("Subject: Stories weekly report, "),
        "{printed}"
    );
    assert_has(
        &printed,
        &[
            section(
                "Installations",
                &["Active (7 days)  2 (0 a week before, no change to compare)"],
            ),
            "  Known  2\n  New this week  2\n".to_owned(),
            // Success: 1 flag on of 2 completed + 1 failed; crash-free: 1 of 2 without a crash.
            section(
                "Rates this week",
                &["crash_free  50.0%", "transcription_success  33.3%"],
            ),
            section(
                "Events this week",
                &[
                    "app_opened  3",
                    "crash  1",
                    "feature_used  0",
                    "recording_started  0",
                    "settings_changed  0",
                    "transcription_completed  2",
                    "transcription_failed  1",
                ],
            ),
            // 10 s in the bucket up to 15, 40 s in the one up to 60.
            "  transcription_completed.duration  2 values  mean 25.0  p50 <= 15.0  p90 <= 60.0\n"
                .to_owned(),
            "  recording_started.duration  0 values  mean -  p50 <= -  p90 <= -\n".to_owned(),
            section(
                "Flags on this week",
                &["transcription_completed.success  1"],
            ),
            section("app_opened.language this week", &["de  2", "en  1"]),
            section(
                "app_opened.app_version this week",
                &["1.4.0  2", "1.3.0  1"],
            ),
            // An error type is an identifier, lower-cased.
            section("crash.error_type this week", &["typeerror  1"]),
            section(
                "transcription_failed.error_type this week",
                &["network_error  1"],
            ),
            section("Ingest outcomes this week", &["accepted  3"]),
        ],
    );
    assert_speaks_no_printernizer(&printed);
}

/// IndexPilot's daily telemetry: its dimensions are the body's `version` and `environment`,
/// its counters, measures, flags and count maps are under `metrics`.
fn telemetry(installation: &str, days_ago: i64, indexes: i64, cores: i64, os: &str) -> Value {
    json!({"installation_id": installation, "version": "1.0.0",
        "timestamp": at_days_ago(days_ago),
        "metrics": {"features_used": ["auto_indexing"], "indexes_created": indexes,
            "queries_analyzed": 1_000, "performance_improvement_pct": 20,
            "algorithm_usage": {"cert": 3, "qpg": indexes}},
        "environment": {"python_version": "3.11.0", "postgresql_version": "15.0", "os": os,
            "cpu_cores": cores}})
}

#[tokio::test]
async fn an_indexpilot_report_sums_its_counters_and_shows_its_measures_and_environment() {
    let app = app(None).await;
    for body in [
        telemetry("aaaaaaaaaaaaaaaa", 0, 4, 8, "linux"),
        telemetry("aaaaaaaaaaaaaaaa", 1, 6, 8, "linux"),
        telemetry("bbbbbbbbbbbbbbbb", 3, 5, 2, "darwin"),
    ] {
        post(&app, "/api/v1/telemetry", Some(INDEXPILOT_KEY), &body).await;
    }
    wait_for_outcome(&app, "indexpilot", "accepted", 3).await;
    roll(&app, None).await;

    let printed = dry_run(&app, "indexpilot", None).await;

    assert!(
        printed.starts_with("Subject: Indexpilot weekly report, "),
        "{printed}"
    );
    assert_has(
        &printed,
        &[
            "  Active (7 days)  2 (".to_owned(),
            "  New this week  2\n".to_owned(),
            section(
                "Counters this week",
                &["indexes_created  15", "queries_analyzed  3000"],
            ),
            // Cores 8, 8 and 2: the buckets up to 8 and up to 2.
            section(
                "Measures this week",
                &[
                    "cpu_cores  3 values  mean 6.0  p50 <= 8.0  p90 <= 8.0",
                    "performance_improvement_pct  3 values  mean 20.0  p50 <= 25.0  p90 <= 25.0",
                ],
            ),
            section("algorithm_usage this week", &["qpg  15", "cert  9"]),
            section("features_used this week", &["auto_indexing  3"]),
            section("os this week", &["linux  2", "darwin  1"]),
            section("Ingest outcomes this week", &["accepted  3"]),
        ],
    );
    // It declares neither events nor rates.
    assert!(!printed.contains("Events this week"), "{printed}");
    assert!(!printed.contains("Rates this week"), "{printed}");
    assert_speaks_no_printernizer(&printed);
}

#[tokio::test]
async fn a_franklinwh_report_sent_by_tally_report_counts_its_commands_in_html_and_text() {
    let sink = SmtpSink::start().await;
    let app = app(None).await;
    // Two installations on Linux: `status` twice (120 and 900 ms, both a success), `discharge`
    // once (4000 ms, a failure).
    seed_franklinwh(&app).await;
    roll(&app, None).await;

    let output = report(
        &app,
        &[],
        &[
            ("TALLY_REPORT_PRODUCTS", "franklinwh"),
            ("TALLY_SMTP_URL", &sink.url()),
            ("TALLY_REPORT_FROM", "tally@example.org"),
            ("TALLY_REPORT_RECIPIENTS", "maintainer@example.org"),
        ],
    )
    .await;

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].subject().starts_with("Franklinwh weekly report, "),
        "{}",
        mails[0].subject()
    );
    let (text, html) = (mails[0].text(), mails[0].html());
    assert_has(
        &text,
        &[
            "  Active (7 days)  2 (".to_owned(),
            section("Events this week", &["cli_command_executed  3"]),
            // 120, 900 and 4000 ms: the buckets up to 250, 1000 and 5000.
            section(
                "Measures this week",
                &[
                    "cli_command_executed.duration_ms  3 values  mean 1673.3  p50 <= 1000.0  p90 <= 5000.0",
                ],
            ),
            section("Flags on this week", &["cli_command_executed.success  2"]),
            // `discharge` is not on its list of commands.
            section(
                "cli_command_executed.command this week",
                &["status  2", "other  1"],
            ),
            section("cli_command_executed.os this week", &["linux  3"]),
        ],
    );
    let cell = |text: &str| format!("<td style=\"padding:2px 12px 2px 0\">{text}</td>");
    assert_has(
        &html,
        &[
            "<h2>Franklinwh ".to_owned(),
            "<h3>Events this week</h3>".to_owned(),
            format!("<tr>{}{}</tr>", cell("cli_command_executed"), cell("3")),
            "<h3>cli_command_executed.command this week</h3>".to_owned(),
            format!("<tr>{}{}</tr>", cell("status"), cell("2")),
        ],
    );
    assert_speaks_no_printernizer(&text);
    assert_speaks_no_printernizer(&html);
}

#[tokio::test]
async fn a_fifth_product_from_a_catalog_file_gets_a_part_in_its_own_terms() {
    let file = CatalogFile::new(KILN);
    let app = app(Some(&file)).await;
    // Two kilns: 7 firings in matte, then 3 in gloss and 2 in celadon.
    seed_kiln(&app).await;
    roll(&app, Some(KILN)).await;

    let printed = dry_run(&app, "kiln", Some(&file)).await;

    assert!(
        printed.starts_with("Subject: Kiln weekly report, "),
        "{printed}"
    );
    assert_has(
        &printed,
        &[
            "  Active (7 days)  2 (".to_owned(),
            section("Counters this week", &["firings  12"]),
            // `celadon` is not on its glazes' list.
            section("glaze this week", &["gloss  1", "matte  1", "other  1"]),
        ],
    );
    assert_speaks_no_printernizer(&printed);
}

#[tokio::test]
async fn a_product_no_catalog_declares_stops_the_report_naming_it() {
    let app = app(None).await;

    let output = report(
        &app,
        &["--dry-run"],
        &[("TALLY_REPORT_PRODUCTS", "stories,kiln")],
    )
    .await;

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TALLY_REPORT_PRODUCTS: \"kiln\" is not a declared product"),
        "{stderr}"
    );
}
