//! docker compose cannot run here, so the settings it hands the binary are checked against the
//! real binary instead.

use std::process::Stdio;

use crate::helpers::{free_port, fresh_schema, tally_command, wait_for_health, INGEST_KEY};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{REPO}/{path}")).expect("the file exists")
}

/// `NAME=value` lines of an env file.
fn env_file(path: &str) -> Vec<(String, String)> {
    read(path)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, value) = line.split_once('=').expect("NAME=value");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// Words that look like our setting names (`TALLY_...`, `DATABASE_URL`).
fn setting_names(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .filter(|word| word.starts_with("TALLY_") || *word == "DATABASE_URL")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_setting_the_compose_files_name_is_one_tally_serve_takes() {
    let help = tally_command().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let mut names = setting_names(&read("docker-compose.yml"));
    names.extend(setting_names(&read("deploy/tally.env")));
    names.extend(setting_names(&read("deploy/Dockerfile")));
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        assert!(
            help.contains(&format!("env: {name}")),
            "`tally serve` does not take {name}"
        );
    }
    assert!(read("docker-compose.yml").contains(r#"command: ["serve"]"#));
    assert!(read("deploy/Dockerfile").contains(r#"ENTRYPOINT ["tally"]"#));
}

#[tokio::test]
async fn the_compose_settings_start_the_real_binary() {
    let (_, url) = fresh_schema();
    let port = free_port();
    let mut command = tally_command();
    command.arg("serve");
    for (name, value) in env_file("deploy/tally.env") {
        command.env(name, value);
    }
    // What compose sets besides the file; the test binds loopback only.
    let mut child = command
        .env("DATABASE_URL", url)
        .env("TALLY_INGEST_KEYS", INGEST_KEY)
        .env("TALLY_ADMIN_KEYS", "")
        .env("TALLY_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    wait_for_health(port).await;

    child.kill().unwrap();
    child.wait().unwrap();
}
