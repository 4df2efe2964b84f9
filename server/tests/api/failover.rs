//! Primary failover as deploy/README.md describes it: a primary and its synchronous standby
//! (two local clusters), `tally serve` on libpq's multi-host DATABASE_URL with
//! `target_session_attrs=read-write`, the primary killed under full ingest and the standby
//! promoted. Every acknowledged report is on the new primary, and ingest resumes without a
//! restart of Tally.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::{free_port, fresh_report, tally_command, wait_for_health};
use crate::helpers::{ADMIN_KEY, INGEST_KEY};

const PG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh");

/// A primary and its standby under one temporary directory; both stopped and removed when
/// dropped, also when the test fails.
struct Pair {
    dir: PathBuf,
    primary: u16,
    standby: u16,
}

impl Pair {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("tally-failover-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let pair = Self {
            dir,
            primary: free_port(),
            standby: free_port(),
        };
        // Every commit waits until the standby has flushed it: what "0 lost" rests on.
        pg(&[
            "start",
            &pair.path("primary"),
            &pair.primary.to_string(),
            "synchronous_standby_names=*",
            "synchronous_commit=on",
        ]);
        pg(&[
            "standby",
            &pair.path("standby"),
            &pair.standby.to_string(),
            &pair.primary.to_string(),
        ]);
        pair
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// libpq's multi-host form: the first host that takes writes.
    fn url(&self) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
            self.primary, self.standby
        )
    }

    async fn client(port: u16) -> tokio_postgres::Client {
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }

    /// Until the primary reports its standby streaming and synchronous.
    async fn wait_for_the_synchronous_standby(&self) {
        let primary = Self::client(self.primary).await;
        let started = Instant::now();
        loop {
            let rows = primary
                .query(
                    "SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'",
                    &[],
                )
                .await
                .unwrap();
            if !rows.is_empty() {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no sync standby"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for cluster in ["standby", "primary"] {
            let _ = std::process::Command::new(PG)
                .args(["stop", &self.path(cluster), "immediate"])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pg(args: &[&str]) {
    let status = std::process::Command::new(PG)
        .args(args)
        .status()
        .expect("scripts/pg.sh runs");
    assert!(status.success(), "scripts/pg.sh {args:?}");
}

/// What the clients saw: the installations answered 200, and when each 200 came.
#[derive(Default)]
struct Acknowledged {
    installations: Vec<String>,
    times: Vec<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synchronous_standby_promoted_under_full_ingest_loses_no_acknowledged_report() {
    let pair = Pair::start();
    pair.wait_for_the_synchronous_standby().await;
    let port = free_port();
    let mut tally = tally_command()
        .arg("serve")
        .env("DATABASE_URL", pair.url())
        .env("TALLY_INGEST_KEYS", INGEST_KEY)
        .env("TALLY_ADMIN_KEYS", ADMIN_KEY)
        .env("TALLY_BIND", format!("127.0.0.1:{port}"))
        .env("TALLY_RATE_LIMIT_PER_HOUR", "0")
        .env("TALLY_IP_RATE_PER_MINUTE", "0")
        .env("TALLY_DB_TIMEOUT_MS", "500")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_health(port).await;

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let http = reqwest::Client::new();
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (stop, acknowledged, http) = (stop.clone(), acknowledged.clone(), http.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let (installation, report) = fresh_report();
                    let answer = http
                        .post(format!("http://127.0.0.1:{port}/submit"))
                        .header("X-API-Key", INGEST_KEY)
                        .json(&report)
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status() == 200 => {
                            let mut seen = acknowledged.lock().unwrap();
                            seen.installations.push(installation);
                            seen.times.push(Instant::now());
                        }
                        // 503 while no primary takes writes: back off a little, as a client would.
                        _ => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_the_crash = acknowledged.lock().unwrap().installations.len();
    // The primary dies as in a crash; the standby is promoted at once.
    pg(&["stop", &pair.path("primary"), "immediate"]);
    pg(&["promote", &pair.path("standby")]);
    let promoted = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    let seen = std::mem::take(&mut *acknowledged.lock().unwrap());
    let back = seen.times.iter().find(|time| **time > promoted);
    let back = back.map(|time| time.duration_since(promoted));
    eprintln!(
        "failover: {before_the_crash} acknowledged before the crash, {} in all; \
         the first 200 {back:?} after the promotion",
        seen.installations.len()
    );
    assert!(before_the_crash > 0, "no ingest before the crash");
    assert!(
        back.is_some_and(|back| back < Duration::from_secs(3)),
        "ingest did not resume within 3 s of the promotion: {back:?}"
    );
    let new_primary = Pair::client(pair.standby).await;
    let stored: i64 = new_primary
        .query_one(
            "SELECT count(*) FROM activity WHERE installation_id = ANY($1)",
            &[&seen.installations],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stored,
        seen.installations.len() as i64,
        "acknowledged reports lost"
    );
    assert!(tally.try_wait().unwrap().is_none(), "tally exited");
    tally.kill().unwrap();
    tally.wait().unwrap();
}
