//! franklinwh-cloud 0.6.4 itself, installed from PyPI, pointed at a real server by its URL
//! alone: its CLI run as a user runs it (telemetry on in `franklinwh.ini`, no `uuid`, so its
//! fallback installation id `anonymous`), and its dispatcher with its document's example
//! command `tou --set`. Counted exactly; a command outside the CLI's own list is `other`.

use serde_json::{json, Value};

use crate::helpers::{body, date_days_ago, TestApp, ADMIN_KEY};
use crate::products_ingest::{app, roll_every_product, stored, FRANKLIN_KEY};
use crate::pyclients;

const CLIENT: &str = "franklinwh-cloud==0.6.4";

/// The CLI's `main` with `sys.argv` as a user types it; the posting thread is waited for
/// (the CLI exits right after, having no credentials to log in with).
const RUN_CLI: &str = r#"
import os, sys, threading
url, ini, *args = sys.argv[1:]
for name in ("FRANKLIN_USERNAME", "FRANKLIN_PASSWORD"):
    os.environ.pop(name, None)
from franklinwh_cloud import cli, telemetry
telemetry.POSTHOG_URL = url
sys.argv = ["franklinwh-cli", "--config", ini, *args]
try:
    cli.main()
except SystemExit:
    pass
for thread in threading.enumerate():
    if thread is not threading.main_thread():
        thread.join(10)
"#;

/// The dispatcher as the CLI calls it, with a command of the caller's choosing.
const DISPATCH: &str = r#"
import sys, threading
url, command, installation, key = sys.argv[1:]
from franklinwh_cloud import telemetry
telemetry.POSTHOG_URL = url
telemetry.dispatch_cli_event(command, True, installation, key)
for thread in threading.enumerate():
    if thread is not threading.main_thread():
        thread.join(10)
"#;

fn capture_url(app: &TestApp) -> String {
    app.url("/capture/")
}

async fn admin_get(app: &TestApp, path: &str) -> Value {
    body(app.get(path, Some(ADMIN_KEY)).await).await
}

#[tokio::test]
async fn franklinwh_clis_own_dispatcher_is_counted_exactly_with_typed_commands_outside_its_list_as_other(
) {
    let client = pyclients::installed(CLIENT);
    let app = app().await;
    let ini = std::env::temp_dir().join(format!("franklinwh-{}.ini", uuid::Uuid::new_v4()));
    std::fs::write(
        &ini,
        format!("[telemetry]\nenabled = true\napi_key = {FRANKLIN_KEY}\n"),
    )
    .expect("franklinwh.ini written");
    let installation = "5d0c6a4e-1b2f-4c3d-8e9f-0a1b2c3d4e5f";

    let cli = pyclients::run(
        &client,
        RUN_CLI,
        vec![
            capture_url(&app),
            ini.display().to_string(),
            "tou".into(),
            "--set".into(),
            "SELF".into(),
        ],
    )
    .await;
    let typed = pyclients::run(
        &client,
        DISPATCH,
        vec![
            capture_url(&app),
            "tou --set".into(),
            installation.into(),
            FRANKLIN_KEY.into(),
        ],
    )
    .await;
    std::fs::remove_file(&ini).ok();

    for output in [&cli, &typed] {
        let logged = String::from_utf8_lossy(&output.stderr);
        assert!(
            !logged.contains("Telemetry"),
            "the client reports a failed dispatch: {logged}"
        );
    }
    let days = stored(&app, "franklinwh").await;
    assert_eq!(
        days.keys().collect::<Vec<_>>(),
        ["5d0c6a4e-1b2f-4c3d-8e9f-0a1b2c3d4e5f", "anonymous"]
    );
    assert_eq!(
        days["anonymous"]["dim/cli_command_executed.command/tou"],
        1.0
    );
    assert_eq!(
        days[installation]["dim/cli_command_executed.command/other"],
        1.0
    );
    roll_every_product(&app).await;
    let today = format!(
        "product=franklinwh&from={}&to={}",
        date_days_ago(0),
        date_days_ago(0)
    );
    assert_eq!(
        admin_get(&app, &format!("/api/v1/events?{today}")).await,
        json!({"product": "franklinwh", "days": [{"date": date_days_ago(0), "events": {
            "cli_command_executed": {"count": 2, "installations": 2}
        }}]})
    );
    let commands = admin_get(
        &app,
        &format!("/api/v1/dimensions/cli_command_executed.command?{today}"),
    )
    .await;
    assert_eq!(
        commands["points"][0]["values"],
        json!({
            "tou": {"installations": 1, "amount": 1},
            "other": {"installations": 1, "amount": 1}
        }),
        "{commands}"
    );
}
