//! The monitoring profile's dashboards (`deploy/grafana/dashboards`), checked without Grafana:
//! every panel's SQL runs as the read-only role against a migrated database with data, and
//! every PromQL expression is evaluated by promtool over the series a test server exposes.

use std::process::Command;

use serde_json::Value;

use crate::activity_reads::{a_month_of_stories, roll_all};
use crate::helpers::{cluster_url, spawn_app, TestApp};
use crate::metrics::INSTALL_PROMETHEUS;
use crate::rollup::{app, id, report_ago, send};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The panels' queries of one dashboard file: (panel title, the query field's text).
fn queries(dashboard: &str, field: &str) -> Vec<(String, String)> {
    let path = format!("{REPO}/deploy/grafana/dashboards/{dashboard}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{path} is not JSON: {e}"));
    let mut found = Vec::new();
    for panel in json["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("a title").to_owned();
        for target in panel["targets"].as_array().expect("targets") {
            let query = target[field].as_str();
            found.push((title.clone(), query.expect("a query").to_owned()));
        }
    }
    assert!(!found.is_empty(), "{path} has no {field}");
    found
}

/// Grafana's macros as Grafana expands them for the last 90 days.
fn expand_macros(sql: &str) -> String {
    let range = "now() - interval '90 days' AND now()";
    let mut text = sql
        .replace("$__timeFrom()", "(now() - interval '90 days')")
        .replace("$__timeTo()", "now()");
    while let Some(at) = text.find("$__timeFilter(") {
        let open = at + "$__timeFilter(".len();
        let close = open + text[open..].find(')').expect("the macro's parenthesis");
        let column = text[open..close].to_owned();
        text.replace_range(at..=close, &format!("{column} BETWEEN {range}"));
    }
    assert!(!text.contains("$__"), "a macro left unexpanded: {text}");
    text
}

/// libpq's variables for the test cluster, for psql in a script.
fn libpq_environment(command: &mut Command, schema: &str) {
    let config: tokio_postgres::Config = cluster_url().parse().expect("the cluster's URL");
    if let Some(tokio_postgres::config::Host::Tcp(host)) = config.get_hosts().first() {
        command.env("PGHOST", host);
    }
    if let Some(port) = config.get_ports().first() {
        command.env("PGPORT", port.to_string());
    }
    if let Some(user) = config.get_user() {
        command.env("PGUSER", user);
    }
    if let Some(password) = config.get_password() {
        command.env("PGPASSWORD", String::from_utf8_lossy(password).into_owned());
    }
    if let Some(dbname) = config.get_dbname() {
        command.env("PGDATABASE", dbname);
    }
    let bin = std::env::var("TALLY_TEST_PG_BIN").unwrap_or_else(|_| "/usr/bin".to_owned());
    let path = std::env::var("PATH").unwrap_or_default();
    command
        .env("PATH", format!("{bin}:{path}"))
        .env("PGOPTIONS", format!("-csearch_path={schema}"));
}

/// Runs `deploy/grafana/grant-read-only.sh` on the app's schema; returns a client logged in
/// as the role it made.
async fn read_only_client(app: &TestApp) -> tokio_postgres::Client {
    let role = format!("grafana_{}", app.schema);
    let mut command = Command::new("sh");
    command
        .arg(format!("{REPO}/deploy/grafana/grant-read-only.sh"))
        .env("GRAFANA_DB_USER", &role)
        .env("GRAFANA_DB_PASSWORD", "dashboards");
    libpq_environment(&mut command, &app.schema);
    let output = command.output().expect("sh runs");
    assert!(output.status.success(), "{output:?}");

    let mut config: tokio_postgres::Config = cluster_url().parse().unwrap();
    config
        .user(&role)
        .password("dashboards")
        .options(format!("-csearch_path={}", app.schema));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Printernizer reports over a month, Stories' month of events, both rolled, and the ingest
/// outcomes written (the app adds its counts every 5 s).
async fn a_month_of_data(app: &TestApp) {
    for (n, days_ago) in [(1, 1), (2, 8), (3, 15), (1, 22)] {
        send(app, &report_ago(&id(n), days_ago, |_| {})).await;
    }
    a_month_of_stories(app).await;
    roll_all(app, 400).await;
    let started = std::time::Instant::now();
    while app
        .db()
        .await
        .query("SELECT 1 FROM ingest_outcomes", &[])
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            started.elapsed().as_secs() < 20,
            "no ingest outcomes written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn every_panel_of_the_products_dashboard_returns_rows_to_the_read_only_role() {
    let app = app().await;
    a_month_of_data(&app).await;
    let grafana = read_only_client(&app).await;

    for (title, sql) in queries("products.json", "rawSql") {
        let rows = grafana
            .query(&expand_macros(&sql), &[])
            .await
            .unwrap_or_else(|e| panic!("{title}: {e:?}\n{sql}"));

        assert!(!rows.is_empty(), "{title} returns no rows:\n{sql}");
    }
}

#[tokio::test]
async fn the_read_only_role_cannot_read_raw_reports_or_installation_ids() {
    let app = app().await;
    let grafana = read_only_client(&app).await;

    for table in [
        "activity",
        "activity_added",
        "activity_rows",
        "activity_installations",
    ] {
        let refused = grafana
            .query(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])
            .await
            .expect_err(table);

        let code = refused.code().map(|code| code.code().to_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{table}: {refused:?}");
    }
}

/// A promtool unit test over `series` (`name{labels} value` lines of /metrics, counters
/// rising by 1 a minute, gauges steady): each expression is an alert on its `absent()`, and
/// the test expects no alert, so it passes only when every expression returns a series.
fn promtool_test(expressions: &[(String, String)], metrics: &str) -> String {
    let mut rules = String::from("groups:\n  - name: panels\n    rules:\n");
    let mut expected = String::new();
    for (n, (title, expr)) in expressions.iter().enumerate() {
        let quoted = serde_json::to_string(&format!("absent({expr})")).unwrap();
        rules.push_str(&format!(
            "      - alert: Panel{n}\n        expr: {quoted}\n"
        ));
        rules.push_str(&format!(
            "        labels:\n          title: {}\n",
            serde_json::to_string(title).unwrap()
        ));
        expected.push_str(&format!(
            "      - eval_time: 10m\n        alertname: Panel{n}\n        exp_alerts: []\n"
        ));
    }
    let mut series = String::new();
    for line in metrics.lines().filter(|line| !line.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let metric = name.split('{').next().unwrap_or(name);
        let counter = ["_total", "_bucket", "_count", "_sum"]
            .iter()
            .any(|suffix| metric.ends_with(suffix));
        let values = if counter {
            format!("{value}+1x20")
        } else {
            format!("{value}+0x20")
        };
        series.push_str(&format!(
            "      - series: {}\n        values: '{values}'\n",
            serde_json::to_string(name).unwrap()
        ));
    }
    let dir = std::env::temp_dir().join(format!("tally-promql-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.yml"), rules).unwrap();
    std::fs::write(
        dir.join("test.yml"),
        format!(
            "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    \
             input_series:\n{series}    alert_rule_test:\n{expected}"
        ),
    )
    .unwrap();
    let output = Command::new("promtool")
        .args(["test", "rules", "test.yml"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run promtool ({error}): {INSTALL_PROMETHEUS}"));
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        output.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn every_promql_expression_of_the_operations_dashboard_returns_series_for_tallys_metrics() {
    let app = spawn_app().await;
    let (_, report) = crate::helpers::fresh_report();
    assert_eq!(app.submit(&report).await.status(), 200);
    // The rollup series appear once the start-up roll is done.
    let started = std::time::Instant::now();
    let metrics = loop {
        let text = app.get("/metrics", None).await.text().await.unwrap();
        if text.contains("\ntally_rollup_lag_seconds ") {
            break text;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "no rollup series:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };

    let passed = promtool_test(&queries("operations.json", "expr"), &metrics);

    assert!(passed.contains("SUCCESS"), "{passed}");
}

#[test]
fn promtool_fails_an_expression_that_returns_nothing() {
    let metrics = "tally_writer_queue_jobs{writer=\"reports\"} 0\n";
    let expressions = [("a typo".to_owned(), "tally_writer_queue_job".to_owned())];

    let outcome = std::panic::catch_unwind(|| promtool_test(&expressions, metrics));

    assert!(outcome.is_err(), "a series that does not exist passed");
}
