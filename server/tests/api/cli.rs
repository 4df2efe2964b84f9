//! The one-shot commands as a person runs them: the answer on stdout, and at the default log
//! level nothing else on the terminal.

use crate::helpers::{spawn_app, tally_command};

/// Runs the real binary off the test's runtime (the app's own tasks run on it).
async fn run_tally(
    args: &[&str],
    database_url: &str,
    rust_log: Option<&str>,
) -> std::process::Output {
    let mut command = tally_command();
    command.args(args).env("DATABASE_URL", database_url);
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    tokio::task::spawn_blocking(move || command.output().expect("tally runs"))
        .await
        .expect("the command's thread")
}

#[tokio::test]
async fn tally_report_dry_run_prints_the_report_and_nothing_else_at_the_default_log_level() {
    let app = spawn_app().await;

    let output = run_tally(&["report", "weekly", "--dry-run"], &app.database_url, None).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.starts_with("Subject: "), "{printed}");
    assert_eq!(stderr, "", "stderr at the default level");
}

#[tokio::test]
async fn the_one_shot_commands_log_nothing_at_the_default_level() {
    let app = spawn_app().await;

    for args in [&["migrate"][..], &["rollup"], &["prune"]] {
        let output = run_tally(args, &app.database_url, None).await;

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}: stderr at the default level");
    }
}

#[tokio::test]
async fn rust_log_still_opens_the_info_lines_and_postgresql_notices_are_not_among_them() {
    let app = spawn_app().await;

    // The schema is migrated already: refinery's `CREATE TABLE IF NOT EXISTS` draws a NOTICE.
    let output = run_tally(&["migrate"], &app.database_url, Some("info")).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("migrations applied"), "{stderr}");
    assert!(!stderr.contains("NOTICE"), "{stderr}");
}
