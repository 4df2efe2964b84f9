use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use clap::Parser;
use serde_json::{json, Value};
use tally::cli::{Cli, Command};
use tally::config::ServeConfig;
use tally::startup::Application;
use tokio::sync::oneshot;
use tokio_postgres::NoTls;

pub const INGEST_KEY: &str = "test-ingest-key";
pub const ADMIN_KEY: &str = "test-admin-key";

/// The cluster `make test` started for this run.
pub fn cluster_url() -> String {
    std::env::var("TALLY_TEST_DATABASE_URL").expect(
        "TALLY_TEST_DATABASE_URL is not set: run the tests with `make test`, \
         or point it at a PostgreSQL you may create schemas in",
    )
}

/// `serve` settings as the command line would give them, for a test to adjust.
pub fn serve_config(database_url: &str) -> ServeConfig {
    let cli = Cli::try_parse_from([
        "tally",
        "serve",
        "--database-url",
        database_url,
        "--bind",
        "127.0.0.1:0",
        "--ingest-keys",
        INGEST_KEY,
        "--admin-keys",
        ADMIN_KEY,
        "--workers",
        "2",
        "--db-pool-size",
        "4",
    ])
    .expect("test command line parses");
    match cli.command {
        Command::Serve(config) => *config,
        other => panic!("expected serve, got {other:?}"),
    }
}

/// A pool for queries on `database_url`, as the app builds them.
pub fn query_pool(database_url: &str) -> deadpool_postgres::Pool {
    tally::store::pool(
        &serve_config(database_url).database,
        tally::store::Purpose::Queries { connections: 2 },
    )
    .expect("the pool builds")
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub schema: String,
    /// The app's database URL: the cluster, with this test's schema first on the search path.
    pub database_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
    spawn_app_in_schema(schema, None, adjust).await
}

/// A new empty schema, and the database URL that puts it first on the search path.
pub fn fresh_schema() -> (String, String) {
    let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
    assert!(psql(&format!("CREATE SCHEMA {schema}")).success());
    let url = format!("{}?options=-csearch_path%3D{schema}", cluster_url());
    (schema, url)
}

/// Runs SQL on the test cluster with psql.
pub fn psql(sql: &str) -> std::process::ExitStatus {
    let bin = std::env::var("TALLY_TEST_PG_BIN").unwrap_or_else(|_| "/usr/bin".to_owned());
    std::process::Command::new(format!("{bin}/psql"))
        .args([
            "--dbname",
            &cluster_url(),
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            sql,
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("psql runs")
}

/// The real `tally` binary with an environment of PATH only.
pub fn tally_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tally"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().expect("its address").port()
}

/// Waits until the app's public overview copy exists (made by its background task).
pub async fn wait_for_the_public_overview(app: &TestApp) {
    let started = std::time::Instant::now();
    while app.get("/api/v1/public/overview", None).await.status() != 200 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no public overview copy"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Sends SIGTERM to a `tally` process and waits for it to exit 0; returns how long it took.
/// A process still running 15 s later is killed and the test fails.
pub async fn stop_with_sigterm(child: &mut std::process::Child) -> std::time::Duration {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(15) {
            let _ = child.kill();
            panic!("no exit 15 s after SIGTERM");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    started.elapsed()
}

/// Waits until a server on `port` answers `GET /health` with 200.
pub async fn wait_for_health(port: u16) {
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    loop {
        let health = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await;
        if health.is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the server did not come up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An app on `schema`, made if it does not exist (an existing one is migrated).
pub async fn spawn_app_in_schema(
    schema: String,
    proxy: Option<&DbProxy>,
    adjust: impl FnOnce(&mut ServeConfig),
) -> TestApp {
    init_logs();
    let (admin, connection) = tokio_postgres::connect(&cluster_url(), NoTls)
        .await
        .expect("the test cluster answers");
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .await
        .expect("schema created");
    let database_url = format!("{}?options=-csearch_path%3D{schema}", cluster_url());
    let app_url = proxy.map_or_else(|| database_url.clone(), |proxy| proxy.url(&schema));
    let mut config = serve_config(&app_url);
    adjust(&mut config);
    let app = Application::build(config)
        .await
        .unwrap_or_else(|error| panic!("the app does not build: {error:#}"));
    let address = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        http: reqwest::Client::new(),
        schema,
        database_url,
        stop: Some(stop),
        task: Some(task),
    }
}

fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var("TEST_LOG").is_ok() {
            tally::telemetry::init_logs(
                &tally::config::TelemetryConfig {
                    log_format: Some(tally::config::LogFormat::Pretty),
                },
                tally::telemetry::Reader::Collector,
            );
        }
    });
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn submit(&self, body: &Value) -> reqwest::Response {
        self.submit_with_key(body, INGEST_KEY).await
    }

    pub async fn submit_with_key(&self, body: &Value, key: &str) -> reqwest::Response {
        self.http
            .post(self.url("/submit"))
            .header("X-API-Key", key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(self.url(path));
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        request.send().await.expect("request sent")
    }

    /// A client on this test's schema.
    pub async fn db(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.database_url, NoTls)
            .await
            .expect("the test database answers");
        tokio::spawn(connection);
        client
    }

    /// (reports, distinct installations) counted over the stored rows themselves.
    pub async fn counted_over_raw_reports(&self) -> (i64, i64) {
        let row = self
            .db()
            .await
            .query_one(
                "SELECT count(*), count(DISTINCT installation_id) FROM activity
                 WHERE report_id IS NOT NULL",
                &[],
            )
            .await
            .expect("count");
        (row.get(0), row.get(1))
    }

    /// An installation's stored reports, as its right of access shows them.
    pub async fn stored_reports_of(&self, installation: &str) -> Vec<Value> {
        let response = self
            .get(&format!("/installation/{installation}"), Some(INGEST_KEY))
            .await;
        assert_eq!(response.status(), 200);
        let answer = body(response).await;
        answer["reports"].as_array().cloned().expect("reports")
    }

    pub async fn stored_reports(&self) -> i64 {
        self.db()
            .await
            .query_one(
                "SELECT count(*) FROM activity WHERE report_id IS NOT NULL",
                &[],
            )
            .await
            .expect("count")
            .get(0)
    }
}

impl TestApp {
    /// Stops the server as SIGTERM does and waits until everything has finished.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("the app task ends")
                .expect("the app stops cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Printernizer's datetime form: a space and microseconds, no zone.
pub fn naive(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// The body of CONTRACT.md, for `installation` and a period ending at `end`.
pub fn report(installation: &str, end: DateTime<Utc>) -> Value {
    let start = end - Duration::days(7);
    json!({
        "schema_version": "1.0",
        "submission_timestamp": naive(end),
        "installation": {
            "installation_id": installation,
            "first_seen": "2025-12-01 10:00:00.500000",
            "app_version": "2.41.2",
            "python_version": "3.12.3",
            "platform": "linux",
            "deployment_mode": "homeassistant",
            "country_code": "DE"
        },
        "period": {"start": naive(start), "end": naive(end), "duration_days": 7},
        "printer_fleet": {
            "printer_count": 3,
            "printer_types": ["bambu_lab", "prusa_core"],
            "printer_type_counts": {"bambu_lab": 2, "prusa_core": 1}
        },
        "usage_stats": {
            "job_count": 23, "file_count": 18, "upload_count": 5, "uptime_hours": 134,
            "feature_usage": {
                "library_enabled": true, "timelapse_enabled": true,
                "auto_job_creation_enabled": true, "german_compliance_enabled": true,
                "watch_folders_enabled": true
            }
        },
        "error_summary": {"total_errors": 2}
    })
}

/// A fresh installation's report for the week ending now.
pub fn fresh_report() -> (String, Value) {
    let installation = uuid::Uuid::new_v4().to_string();
    let body = report(&installation, Utc::now() - Duration::minutes(5));
    (installation, body)
}

pub async fn body(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// A TCP proxy between the app and PostgreSQL that a test can stall or cut, to play a database
/// that hangs or goes away, and then restore.
pub struct DbProxy {
    pub port: u16,
    mode: tokio::sync::watch::Sender<ProxyMode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    Open,
    /// Connections stay up but nothing passes: a database that does not answer.
    Stalled,
    /// Every connection is closed and new ones are dropped: a database that is gone.
    Cut,
}

impl DbProxy {
    pub async fn start() -> Self {
        let upstream = tokio_postgres::Config::from_str(&cluster_url()).expect("cluster URL");
        let upstream_port = upstream.get_ports().first().copied().unwrap_or(5432);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let port = listener.local_addr().expect("proxy address").port();
        let (mode, watch) = tokio::sync::watch::channel(ProxyMode::Open);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *watch.borrow() == ProxyMode::Cut {
                    continue;
                }
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream_port)).await
                else {
                    continue;
                };
                tokio::spawn(relay(client, server, watch.clone()));
            }
        });
        Self { port, mode }
    }

    /// The cluster URL through this proxy, with `schema` first on the search path.
    pub fn url(&self, schema: &str) -> String {
        let direct = cluster_url();
        let (scheme_user, rest) = direct.split_once('@').expect("URL has a user");
        let (_, database) = rest.split_once('/').expect("URL has a database");
        format!(
            "{scheme_user}@127.0.0.1:{}/{database}?options=-csearch_path%3D{schema}",
            self.port
        )
    }

    pub fn set(&self, mode: ProxyMode) {
        self.mode.send_replace(mode);
    }
}

use std::str::FromStr;

async fn relay(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    watch: tokio::sync::watch::Receiver<ProxyMode>,
) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        () = pipe(client_read, server_write, watch.clone()) => {},
        () = pipe(server_read, client_write, watch) => {},
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut watch: tokio::sync::watch::Receiver<ProxyMode>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let mode = *watch.borrow_and_update();
        match mode {
            ProxyMode::Cut => return,
            ProxyMode::Stalled => {
                if watch.changed().await.is_err() {
                    return;
                }
                continue;
            }
            ProxyMode::Open => {}
        }
        tokio::select! {
            read = from.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    // Hold what was read while stalled; drop it if cut.
                    loop {
                        let mode = *watch.borrow_and_update();
                        match mode {
                            ProxyMode::Open => break,
                            ProxyMode::Cut => return,
                            ProxyMode::Stalled => {
                                if watch.changed().await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    if to.write_all(&buffer[..n]).await.is_err() {
                        return;
                    }
                }
            },
            changed = watch.changed() => if changed.is_err() { return },
        }
    }
}

/// An app whose database connections all pass through a `DbProxy`.
pub async fn spawn_app_behind_proxy(adjust: impl FnOnce(&mut ServeConfig)) -> (TestApp, DbProxy) {
    let proxy = DbProxy::start().await;
    let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
    let app = spawn_app_in_schema(schema, Some(&proxy), adjust).await;
    (app, proxy)
}

/// A plain-SQL dump of `schema`: what an operator's backup would hold.
pub fn pg_dump(schema: &str) -> String {
    let bin = std::env::var("TALLY_TEST_PG_BIN").unwrap_or_else(|_| "/usr/bin".to_owned());
    let output = std::process::Command::new(format!("{bin}/pg_dump"))
        .arg("--dbname")
        .arg(crate::helpers::cluster_url())
        .arg("--schema")
        .arg(schema)
        .output()
        .expect("pg_dump runs");
    assert!(
        output.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("a UTF-8 dump")
}

/// A minute before `days_ago` days before now, as RFC 3339: an event time on that UTC day
/// (today's is never in the future).
pub fn at_days_ago(days_ago: i64) -> String {
    (Utc::now() - Duration::days(days_ago) - Duration::minutes(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The UTC date `days_ago` days before today, as `YYYY-MM-DD`.
pub fn date_days_ago(days_ago: i64) -> String {
    (Utc::now() - Duration::days(days_ago))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

/// SQL storing the days that `select` gives as the writer stores them, counts by key number
/// (V24). `select`'s columns are `product`, `installation_id`, `day`, `received_at`, `counts`
/// (a `jsonb` object of names and amounts), then those of `activity` named in `more`.
pub fn put_days(select: &str, more: &[&str]) -> String {
    let more: String = more.iter().map(|column| format!(", {column}")).collect();
    format!(
        "CREATE TEMP TABLE put_days AS {select};
         INSERT INTO activity_key_names (name)
         SELECT DISTINCT jsonb_object_keys(counts) FROM put_days ORDER BY 1
         ON CONFLICT (name) DO NOTHING;
         INSERT INTO activity (product, installation_id, day, received_at, keys, amounts{more})
         SELECT product, installation_id, day, received_at, numbered.keys, numbered.amounts{more}
         FROM put_days, LATERAL (
             SELECT coalesce(array_agg(n.id ORDER BY n.id), '{{}}') AS keys,
                    coalesce(array_agg(e.value::float8 ORDER BY n.id), '{{}}') AS amounts
             FROM jsonb_each_text(counts) AS e JOIN activity_key_names n ON n.name = e.key
         ) AS numbered;
         DROP TABLE put_days;"
    )
}
