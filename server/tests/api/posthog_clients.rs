//! PostHog's own clients, installed from their registries into `target/posthog-clients` by
//! `scripts/posthog-clients.sh`, unchanged but for their host: posthog-python (gzip on and off,
//! batched and synchronous), posthog-node (gzip by default) and posthog-js in Chromium on a page
//! of another origin. Each count is checked exactly through `/api/v1/events`. A missing tool
//! fails the test with how to install it; it never skips.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::browser::{Browser, PATIENCE};
use crate::helpers::{body, date_days_ago, TestApp, ADMIN_KEY};
use crate::posthog::dump;
use crate::products_ingest::{app, roll_every_product, stored, FRANKLIN_KEY};

const EVENT: &str = "cli_command_executed";

/// Where the clients are installed; installed once per test run.
fn clients() -> PathBuf {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target"));
            let status = Command::new(root.join("scripts/posthog-clients.sh"))
                .env("CARGO_TARGET_DIR", &target)
                .status()
                .expect("scripts/posthog-clients.sh runs");
            assert!(
                status.success(),
                "installing PostHog's clients failed: they need python3 with pip, and npm \
                 (apt-get install -y python3-pip nodejs npm)"
            );
            target.join("posthog-clients")
        })
        .clone()
}

/// Runs a client's script; its output is shown if it fails.
fn run(mut command: Command, what: &str) {
    let output = command.output().unwrap_or_else(|error| {
        panic!("{what} does not start ({error}): apt-get install -y python3 nodejs")
    });
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Today's count of franklinwh's command events and the installations that sent them, exact
/// through `/api/v1/events` once rolled up.
async fn counted(app: &TestApp) -> Value {
    roll_every_product(app).await;
    let today = format!(
        "product=franklinwh&from={}&to={}",
        date_days_ago(0),
        date_days_ago(0)
    );
    let events = body(
        app.get(&format!("/api/v1/events?{today}"), Some(ADMIN_KEY))
            .await,
    )
    .await;
    events["days"][0]["events"][EVENT].clone()
}

/// posthog-python sends `events` command events of `installation` with a dozen properties
/// each (six of them declared by franklinwh), then asks for a flag.
const PYTHON: &str = r#"
import sys
from posthog import Posthog

host, key, installation, events, gzip, sync = sys.argv[1:7]
errors = []
client = Posthog(key, host=host, gzip=gzip == "1", sync_mode=sync == "1",
                 on_error=lambda error, batch: errors.append(repr(error)))
for n in range(int(events)):
    client.capture("cli_command_executed", distinct_id=installation, properties={
        "franklin_version": "0.6.4", "python_version": "3.11.7", "os": "Linux",
        "command": "status", "duration_ms": 120 + n, "success": True,
        "os_release": "6.1.0-18-amd64", "locale": "de_DE.UTF-8",
        "terminal": "xterm-256color with a long description of its capabilities",
        "site_name": "a home battery site with a name as long as people give them",
        "gateway_model": "aGate X-01-US firmware 2.14.7 build 20251104",
        "note": "n" * 400,
    })
assert client.feature_enabled("any-flag", installation) in (None, False)
client.flush()
client.shutdown()
if errors:
    sys.exit("errors: " + "; ".join(errors))
"#;

async fn python(events: u32, gzip: bool, sync: bool) {
    let app = app().await;
    let installation = uuid::Uuid::new_v4().to_string();
    let mut command = Command::new("python3");
    command
        .env("PYTHONPATH", clients().join("python"))
        .args(["-c", PYTHON, &app.address, FRANKLIN_KEY, &installation])
        .args([
            events.to_string(),
            u8::from(gzip).to_string(),
            u8::from(sync).to_string(),
        ]);

    tokio::task::spawn_blocking(move || run(command, "posthog-python"))
        .await
        .expect("posthog-python ran");

    assert_eq!(
        counted(&app).await,
        json!({"count": events, "installations": 1})
    );
}

#[tokio::test]
async fn posthog_python_batches_of_a_hundred_events_with_a_dozen_properties_are_stored_exact() {
    python(250, false, false).await;
}

#[tokio::test]
async fn posthog_python_with_gzip_is_stored_exact() {
    python(250, true, false).await;
}

#[tokio::test]
async fn posthog_python_in_sync_mode_with_and_without_gzip_is_stored_exact() {
    python(5, false, true).await;
    python(5, true, true).await;
}

const NODE: &str = r#"
const { PostHog } = require('posthog-node');
const [host, key, installation, events] = process.argv.slice(1);
const errors = [];
const client = new PostHog(key, { host, flushAt: 20, flushInterval: 0 });
client.on('error', (error) => errors.push(String(error)));
(async () => {
  for (let n = 0; n < Number(events); n++) {
    client.capture({ distinctId: installation, event: 'cli_command_executed', properties: {
      franklin_version: '0.6.4', python_version: '3.11.7', os: 'Linux', command: 'status',
      duration_ms: 80 + n, success: true, runtime: 'node', note: 'n'.repeat(200) } });
  }
  const flags = await client.getAllFlags(installation);
  if (Object.keys(flags).length !== 0) errors.push('flags: ' + JSON.stringify(flags));
  await client.shutdown();
  if (errors.length) { console.error(errors.join('\n')); process.exit(1); }
})();
"#;

#[tokio::test]
async fn posthog_node_with_its_default_gzip_is_stored_exact() {
    let app = app().await;
    let installation = uuid::Uuid::new_v4().to_string();
    let mut command = Command::new("node");
    command
        .env("NODE_PATH", clients().join("node/node_modules"))
        .args(["-e", NODE, &app.address, FRANKLIN_KEY, &installation, "75"]);

    tokio::task::spawn_blocking(move || run(command, "posthog-node"))
        .await
        .expect("posthog-node ran");

    assert_eq!(
        counted(&app).await,
        json!({"count": 75, "installations": 1})
    );
}

/// A page that loads posthog-js from its own origin, points it at Tally, captures three
/// commands and then identifies its user with an e-mail address.
fn page(tally: &str) -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><script src="/posthog.js"></script></head>
<body><script>
posthog.init({FRANKLIN_KEY:?}, {{
  api_host: {tally:?}, opt_out_useragent_filter: true, persistence: 'memory',
  autocapture: false, capture_pageview: false, capture_pageleave: false,
}});
for (let n = 0; n < 3; n++) {{
  posthog.capture('cli_command_executed', {{ command: 'status', os: 'Linux', franklin_version: '0.6.4' }});
}}
setTimeout(() => posthog.identify('user_12345678', {{ email: 'alice@example.com' }}), 500);
</script></body></html>"#
    )
}

/// Serves `/` (the page) and `/posthog.js` (posthog-js's full bundle) on a port of its own:
/// another origin than Tally's.
async fn serve_page(tally: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let page = page(tally);
    let bundle = clients().join("node/node_modules/posthog-js/dist/array.full.js");
    let script = std::fs::read(&bundle).expect("posthog-js is installed");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = vec![0; 8192];
            let read = socket.read(&mut request).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&request[..read]);
            let (kind, content) = if head.starts_with("GET /posthog.js") {
                ("application/javascript", script.clone())
            } else {
                ("text/html", page.clone().into_bytes())
            };
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                content.len()
            );
            let _ = socket.write_all(header.as_bytes()).await;
            let _ = socket.write_all(&content).await;
        }
    });
    origin
}

#[tokio::test]
async fn posthog_js_in_chromium_on_another_origin_is_stored_exact_and_its_identify_never() {
    let app = app().await;
    let origin = serve_page(&app.address).await;
    let browser = Browser::start().await;

    browser.client.goto(&origin).await.expect("the page opens");
    let started = Instant::now();
    while stored(&app, "franklinwh").await.is_empty() {
        assert!(started.elapsed() < PATIENCE, "posthog-js sent nothing");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The identify and anything else batched after the commands.
    tokio::time::sleep(Duration::from_secs(5)).await;

    assert_eq!(counted(&app).await, json!({"count": 3, "installations": 1}));
    // It read Tally's remote config, so what it sent was its gzip in a text/plain body.
    let compression = browser
        .client
        .execute("return window.posthog.compression", vec![])
        .await
        .expect("the script runs");
    assert_eq!(compression, json!("gzip-js"));
    let refused: Vec<Value> = browser
        .console()
        .await
        .into_iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .collect();
    assert!(refused.is_empty(), "the browser logged errors: {refused:?}");
    let dump = dump(&app).await;
    assert!(!dump.contains("alice"));
}
