//! `/metrics` as an operator's Prometheus reads it: valid exposition text, real histograms, one
//! series for every unknown path. The recorder is process-wide and the tests share it, so
//! assertions look for presence and increase, never exact totals.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{free_port, fresh_report, spawn_app, spawn_app_with, TestApp, ADMIN_KEY};

pub const INSTALL_PROMETHEUS: &str = "install with: apt-get install -y prometheus";

#[tokio::test]
async fn metrics_pass_promtool_and_count_an_unknown_path_under_one_label() {
    let app = spawn_app().await;
    let unknown = send_traffic(&app).await;
    let text = wait_for_metrics(&app, "tally_rollup_lag_seconds").await;

    let checked = promtool_check(&text);

    assert!(checked.status.success(), "promtool: {checked:?}\n{text}");
    assert!(!text.contains(&unknown), "{text}");
    let unmatched = sample(
        &text,
        "tally_http_requests_total",
        &[r#"route="unmatched""#, r#"method="GET""#, r#"status="404""#],
    );
    assert!(unmatched.is_some_and(|n| n >= 1.0), "{text}");
    let submits = sample(
        &text,
        "tally_http_request_duration_seconds_bucket",
        &[r#"route="/submit""#, r#"status="200""#, r#"le="+Inf""#],
    );
    assert!(submits.is_some_and(|n| n >= 2.0), "{text}");
    assert!(
        text.contains("# TYPE tally_http_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE tally_batch_reports histogram"),
        "{text}"
    );
    assert!(
        text.contains("tally_ingest_outcomes_total{product=\"printernizer\",outcome=\"accepted\"}"),
        "{text}"
    );
    for pool in ["writer", "queries", "reads"] {
        let label = format!(r#"pool="{pool}""#);
        assert!(
            sample(&text, "tally_db_pool_max_connections", &[&label]).is_some_and(|n| n >= 1.0),
            "{text}"
        );
        assert!(
            sample(&text, "tally_db_pool_waiters", &[&label]).is_some(),
            "{text}"
        );
    }
    assert!(
        sample(&text, "tally_writer_queue_jobs", &[r#"writer="activity""#]).is_some(),
        "{text}"
    );
    for gauge in [
        "tally_rollup_last_success_timestamp_seconds",
        "tally_process_open_fds",
    ] {
        assert!(sample(&text, gauge, &[]).is_some(), "{gauge}: {text}");
    }
    let rss = sample(&text, "tally_process_resident_memory_bytes", &[]);
    assert!(rss.is_some_and(|bytes| bytes > 1_000_000.0), "{text}");
}

#[tokio::test]
async fn ingest_outcomes_are_counted_per_product_on_every_ingest_route() {
    let app = spawn_app().await;
    // The recorder is the process's: other tests count too, so only growth is checked.
    let stories = |text: &str, outcome: &str| {
        let outcome = format!(r#"outcome="{outcome}""#);
        sample(
            text,
            "tally_ingest_outcomes_total",
            &[r#"product="stories""#, &outcome],
        )
        .unwrap_or(0.0)
    };
    let before = render(&app).await;
    let at = crate::helpers::at_days_ago(0);
    let batch = serde_json::json!({"user_id": "user_metrics_1", "events": [
        {"event_type": "app_opened", "timestamp": at, "properties": {"language": "de"}}
    ]});
    let sent = app
        .http
        .post(app.url("/api/events/batch"))
        .json(&batch)
        .send()
        .await
        .expect("sent");
    assert_eq!(sent.status(), 200);
    let unreadable = app
        .http
        .post(app.url("/api/events/batch"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(unreadable.status(), 400);

    let after = render(&app).await;

    for outcome in ["accepted", "rejected_malformed"] {
        assert!(
            stories(&after, outcome) >= stories(&before, outcome) + 1.0,
            "{outcome}: {after}"
        );
    }
}

#[tokio::test]
async fn a_refused_report_is_counted_under_its_limiter() {
    let app = spawn_app_with(|config| config.rate_limit_per_hour = 1).await;
    let installation = r#"limiter="installation""#;
    let before = sample(
        &render(&app).await,
        "tally_rate_limited_total",
        &[installation],
    );
    let (_, report) = fresh_report();
    assert_eq!(app.submit(&report).await.status(), 200);

    let refused = app.submit(&report).await;

    assert_eq!(refused.status(), 429);
    let after = sample(
        &render(&app).await,
        "tally_rate_limited_total",
        &[installation],
    );
    assert!(after >= before.map(|n| n + 1.0), "{before:?} -> {after:?}");
}

#[tokio::test]
async fn a_real_prometheus_scrapes_tally_and_answers_a_quantile_of_request_durations() {
    let app = spawn_app().await;
    send_traffic(&app).await;
    let prometheus = Prometheus::start(&app);
    let query = "histogram_quantile(0.99, sum by (le) \
                 (rate(tally_http_request_duration_seconds_bucket[1m])))";

    // Traffic between scrapes, so that the rate over the window is not zero.
    let deadline = Instant::now() + Duration::from_secs(90);
    let answer = loop {
        assert_eq!(app.get("/health", None).await.status(), 200);
        let answer = prometheus.query(query).await;
        if answer.is_some_and(|seconds| seconds.is_finite()) {
            break answer;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus gave no quantile in time (last answer {answer:?}); its log:\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    assert!(answer.is_some_and(|seconds| seconds > 0.0), "{answer:?}");
}

/// Two reports, a statistics read and a 404 on a random path, which it returns.
async fn send_traffic(app: &TestApp) -> String {
    for _ in 0..2 {
        let (_, report) = fresh_report();
        assert_eq!(app.submit(&report).await.status(), 200);
    }
    assert_eq!(
        app.get("/stats/summary", Some(ADMIN_KEY)).await.status(),
        200
    );
    let unknown = format!("scanner-{}", uuid::Uuid::new_v4().simple());
    let missing = app.get(&format!("/{unknown}/wp-login.php"), None).await;
    assert_eq!(missing.status(), 404);
    unknown
}

async fn render(app: &TestApp) -> String {
    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), 200);
    response.text().await.expect("a text body")
}

/// `/metrics` once `series` is in it (the rollup runs once at start-up, in the background).
async fn wait_for_metrics(app: &TestApp, series: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = render(app).await;
        if sample(&text, series, &[]).is_some() {
            return text;
        }
        assert!(Instant::now() < deadline, "no {series} in time:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of the first sample of `name` whose labels include each of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))?
        .rsplit(' ')
        .next()?
        .parse()
        .ok()
}

fn promtool_check(text: &str) -> std::process::Output {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run promtool ({error}): {INSTALL_PROMETHEUS}"));
    promtool
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(text.as_bytes())
        .expect("promtool reads the metrics");
    promtool.wait_with_output().expect("promtool ends")
}

/// A Prometheus server scraping one app every second, with its own data directory; killed
/// and removed when dropped.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    address: String,
    http: reqwest::Client,
}

impl Prometheus {
    fn start(app: &TestApp) -> Self {
        let dir = std::env::temp_dir().join(format!("tally-prometheus-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("data")).expect("a data directory");
        let target = app.address.trim_start_matches("http://");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: tally\n    static_configs:\n      \
             - targets: ['{target}']\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).expect("the config is written");
        let log = std::fs::File::create(dir.join("log")).expect("a log file");
        let address = format!("127.0.0.1:{}", free_port());
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot run prometheus ({error}): {INSTALL_PROMETHEUS}")
            });
        Self {
            child,
            dir,
            address,
            http: reqwest::Client::new(),
        }
    }

    /// The value of an instant query with one result, or `None` while there is none yet.
    async fn query(&self, query: &str) -> Option<f64> {
        let response = self
            .http
            .get(format!("http://{}/api/v1/query", self.address))
            .query(&[("query", query)])
            .send()
            .await
            .ok()?;
        let answer: Value = response.json().await.ok()?;
        answer["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
