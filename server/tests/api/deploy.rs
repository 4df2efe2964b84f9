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

/// A copy of `make run`'s script in a clone of its own, inside a directory closed to everyone
/// but us; the clone's `target/release/tally` is this build's binary. Dropping it stops what
/// the script left running and removes the clone and its cluster.
struct DevClone {
    closed: std::path::PathBuf,
    clone: std::path::PathBuf,
    run: Option<std::process::Child>,
}

impl DevClone {
    fn new() -> Self {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let closed = std::env::temp_dir().join(format!("tally-closed-{}", uuid::Uuid::new_v4()));
        let clone = closed.join("clone");
        std::fs::create_dir_all(clone.join("scripts")).unwrap();
        std::fs::create_dir_all(clone.join("target/release")).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&clone, std::fs::Permissions::from_mode(0o755)).unwrap();
        for script in ["dev-run.sh", "pg.sh"] {
            std::fs::copy(
                format!("{REPO}/scripts/{script}"),
                clone.join("scripts").join(script),
            )
            .unwrap();
        }
        symlink(
            env!("CARGO_BIN_EXE_tally"),
            clone.join("target/release/tally"),
        )
        .unwrap();
        Self {
            closed,
            clone,
            run: None,
        }
    }

    /// Where `scripts/pg.sh devdir` puts this clone's cluster.
    fn cluster_dir(&self) -> std::path::PathBuf {
        let output = std::process::Command::new(self.clone.join("scripts/pg.sh"))
            .arg("devdir")
            .arg(&self.clone)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().into()
    }

    /// Starts `scripts/dev-run.sh` in a process group of its own, as a terminal would; its
    /// output arrives line by line on the returned channel.
    fn start(&mut self, bind: &str, pg_port: u16) -> std::sync::mpsc::Receiver<String> {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new(self.clone.join("scripts/dev-run.sh"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TALLY_BIND", bind)
            .env("TALLY_DEV_PG_PORT", pg_port.to_string())
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = lines.send(line);
            }
        });
        self.run = Some(child);
        received
    }

    /// Ctrl-C in the terminal: the whole group gets SIGINT.
    fn interrupt(&mut self) -> std::process::ExitStatus {
        let mut child = self.run.take().expect("started");
        signal_group(&child, "-INT");
        child.wait().unwrap()
    }
}

fn signal_group(child: &std::process::Child, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([signal, "--", &format!("-{}", child.id())])
        .status();
}

impl Drop for DevClone {
    fn drop(&mut self) {
        if let Some(mut child) = self.run.take() {
            signal_group(&child, "-KILL");
            let _ = child.wait();
        }
        let cluster = self.cluster_dir();
        let _ = std::process::Command::new(self.clone.join("scripts/pg.sh"))
            .arg("stop")
            .arg(&cluster)
            .status();
        if !cluster.starts_with(&self.clone) {
            let _ = std::fs::remove_dir_all(cluster.parent().unwrap());
        }
        let _ = std::fs::remove_dir_all(&self.closed);
    }
}

#[tokio::test]
async fn make_run_starts_its_cluster_where_postgres_can_reach_it_from_a_closed_clone() {
    let mut dev = DevClone::new();
    let port = free_port();
    let as_root =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0;
    let expected = dev.cluster_dir();
    if as_root {
        // `postgres` runs the cluster and cannot enter the clone.
        assert!(
            expected
                .to_string_lossy()
                .starts_with("/var/tmp/tally-dev-clone-"),
            "{expected:?}"
        );
    } else {
        assert_eq!(expected, dev.clone.join(".tally-dev/pg"));
    }

    let output = dev.start(&format!("127.0.0.1:{port}"), free_port());
    wait_for_health(port).await;

    let printed: Vec<String> = output.try_iter().collect();
    let announced = format!("(private cluster in {})", expected.display());
    assert!(
        printed.iter().any(|line| line.ends_with(&announced)),
        "{printed:?}"
    );
    assert!(expected.join("PG_VERSION").is_file());
    assert!(dev.clone.join(".tally-dev/keys.env").is_file());
    assert!(dev.interrupt().success());
    assert!(
        !expected.join("postmaster.pid").exists(),
        "the script stopped the cluster it started"
    );
}

/// The names under `environment:` of one service of docker-compose.yml.
fn compose_environment(service: &str) -> Vec<String> {
    let compose = read("docker-compose.yml");
    let mut lines = compose
        .lines()
        .skip_while(|line| *line != format!("  {service}:"))
        .skip(1)
        .take_while(|line| line.is_empty() || line.starts_with("    ") || line.starts_with('#'));
    let mut names = Vec::new();
    if lines.by_ref().any(|line| line == "    environment:") {
        for line in lines.take_while(|line| line.starts_with("      ")) {
            let (name, _) = line.trim().split_once(':').expect("NAME: value");
            names.push(name.to_owned());
        }
    }
    names
}

#[test]
fn every_variable_compose_gives_the_tally_service_is_one_tally_reads() {
    let help = tally_command().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let mut names = compose_environment("tally");
    assert!(names.contains(&"DATABASE_URL".to_owned()), "{names:?}");
    names.extend(
        env_file("deploy/tally.env")
            .into_iter()
            .map(|(name, _)| name),
    );

    for name in names {
        // RUST_LOG is tracing's, read by every command.
        assert!(
            name == "RUST_LOG" || help.contains(&format!("env: {name}")),
            "compose gives the tally service {name}, which `tally serve` does not read"
        );
    }
}

#[test]
fn every_file_compose_mounts_exists() {
    let compose = read("docker-compose.yml");
    let mounts: Vec<&str> = compose
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- ./"))
        .map(|mount| mount.split(':').next().unwrap_or(mount))
        .collect();

    assert!(mounts.len() >= 4, "{mounts:?}");
    for mount in mounts {
        assert!(
            std::path::Path::new(&format!("{REPO}/{mount}")).exists(),
            "compose mounts ./{mount}, which does not exist"
        );
    }
}

#[test]
fn docker_compose_accepts_the_file_with_the_monitoring_profile() {
    let output = std::process::Command::new("docker-compose")
        .args(["-f", "docker-compose.yml", "--profile", "monitoring", "config"])
        .current_dir(REPO)
        .env("POSTGRES_PASSWORD", "secret")
        .env("TALLY_INGEST_KEYS", "key")
        .env("GRAFANA_DB_PASSWORD", "secret")
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run docker-compose ({error}): install with: apt-get install -y docker-compose")
        });

    let config = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for service in ["db:", "tally:", "prometheus:", "grafana:", "grafana-role:"] {
        assert!(
            config.contains(&format!("\n  {service}")),
            "{service}\n{config}"
        );
    }
}
