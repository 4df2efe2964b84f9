//! TLS to PostgreSQL with libpq's `sslmode` and `sslrootcert`: a cluster of its own per test that
//! refuses plain connections, with a certificate made here for `localhost` only: signed by a
//! certificate authority, or self-signed as PostgreSQL's documentation makes it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

use crate::helpers::{free_port, serve_config, tally_command};

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts");

/// A cluster with `ssl=on` whose pg_hba.conf accepts TLS connections only; stopped and removed
/// when dropped, also when the test fails.
struct TlsCluster {
    dir: PathBuf,
    port: u16,
}

/// The certificate the cluster presents (in `server.crt`).
#[derive(Debug, Clone, Copy)]
enum ServerCertificate {
    /// For `localhost` in subjectAltName, signed by the test CA (`ca.pem`).
    SignedByTheCa,
    /// What `openssl req -x509 -subj /CN=localhost` makes: self-signed, CA:TRUE, the host in
    /// the CN only.
    SelfSigned,
}

impl TlsCluster {
    fn start() -> Self {
        Self::start_with(ServerCertificate::SignedByTheCa)
    }

    fn start_with(certificate: ServerCertificate) -> Self {
        let dir = std::env::temp_dir().join(format!("tally-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).unwrap();
        // The cluster runs as `postgres` when we are root: it must reach its files.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cluster = Self {
            dir,
            port: free_port(),
        };
        let ca = authority("Tally test CA");
        let other = authority("Another CA");
        let key = KeyPair::generate().unwrap();
        let server = match certificate {
            ServerCertificate::SignedByTheCa => {
                let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                params.signed_by(&key, &ca).unwrap()
            }
            ServerCertificate::SelfSigned => {
                let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params
                    .distinguished_name
                    .push(DnType::CommonName, "localhost");
                params.self_signed(&key).unwrap()
            }
        };
        cluster.write("ca.pem", &ca.pem(), 0o644);
        cluster.write("other-ca.pem", &other.pem(), 0o644);
        cluster.write("server.crt", &server.pem(), 0o644);
        cluster.write("server.key", &key.serialize_pem(), 0o600);
        cluster.write(
            "pg_hba.conf",
            "hostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n",
            0o644,
        );
        if running_as_root() {
            // PostgreSQL reads its key only when the cluster's owner owns it.
            let status = std::process::Command::new("chown")
                .arg("postgres:")
                .arg(cluster.path("server.key"))
                .status()
                .unwrap();
            assert!(status.success());
        }
        let status = std::process::Command::new(format!("{SCRIPTS}/pg.sh"))
            .arg("start")
            .arg(cluster.path("data"))
            .arg(cluster.port.to_string())
            .arg("ssl=on")
            .arg(format!(
                "ssl_cert_file={}",
                cluster.path("server.crt").display()
            ))
            .arg(format!(
                "ssl_key_file={}",
                cluster.path("server.key").display()
            ))
            .arg(format!(
                "hba_file={}",
                cluster.path("pg_hba.conf").display()
            ))
            .status()
            .expect("scripts/pg.sh runs");
        assert!(status.success(), "the TLS cluster did not start");
        cluster
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write(&self, name: &str, text: &str, mode: u32) {
        std::fs::write(self.path(name), text).unwrap();
        std::fs::set_permissions(self.path(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A URL to this cluster at `host` with the given query.
    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }

    fn root(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(format!("{SCRIPTS}/pg.sh"))
            .arg("stop")
            .arg(self.path("data"))
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// Whether our own backend's connection is encrypted, through `tally::store::pool`; or the
/// error as the server would log it.
async fn connection_is_encrypted(url: &str) -> Result<bool, String> {
    let pool = tally::store::pool(
        &serve_config(url).database,
        tally::store::Purpose::Queries { connections: 1 },
    )
    .map_err(|e| format!("{e:#}"))?;
    let logged = |e: tally::store::StoreError| tally::telemetry::Chain(&e).to_string();
    tally::store::ping(&pool).await.map_err(logged)?;
    let client = pool.get().await.map_err(|e| e.to_string())?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[tokio::test]
async fn require_encrypts_the_connection_without_a_root_to_check_against() {
    let cluster = TlsCluster::start();

    let encrypted = connection_is_encrypted(&cluster.url("127.0.0.1", "sslmode=require")).await;

    assert_eq!(encrypted, Ok(true));
}

#[tokio::test]
async fn verify_full_connects_when_the_chain_leads_to_sslrootcert_and_the_name_matches() {
    let cluster = TlsCluster::start();
    let query = format!("sslmode=verify-full&sslrootcert={}", cluster.root("ca.pem"));

    let encrypted = connection_is_encrypted(&cluster.url("localhost", &query)).await;

    assert_eq!(encrypted, Ok(true));
}

#[tokio::test]
async fn verify_full_refuses_a_server_whose_chain_leads_to_another_root() {
    for certificate in [
        ServerCertificate::SignedByTheCa,
        ServerCertificate::SelfSigned,
    ] {
        let cluster = TlsCluster::start_with(certificate);
        let query = format!(
            "sslmode=verify-full&sslrootcert={}",
            cluster.root("other-ca.pem")
        );

        let error = connection_is_encrypted(&cluster.url("localhost", &query))
            .await
            .unwrap_err();

        assert!(
            error.contains(
                "DATABASE_URL: sslmode=verify-full needs a certificate the server's chain leads to"
            ),
            "{certificate:?}: {error}"
        );
        assert!(error.contains("other-ca.pem"), "{certificate:?}: {error}");
    }
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_made_for_another_host_name() {
    // Both certificates name localhost only: in subjectAltName, or (self-signed) in the CN.
    for (certificate, root) in [
        (ServerCertificate::SignedByTheCa, "ca.pem"),
        (ServerCertificate::SelfSigned, "server.crt"),
    ] {
        let cluster = TlsCluster::start_with(certificate);
        let query = format!("sslmode=verify-full&sslrootcert={}", cluster.root(root));

        let error = connection_is_encrypted(&cluster.url("127.0.0.1", &query))
            .await
            .unwrap_err();

        assert!(
            error.contains(
                "DATABASE_URL: sslmode=verify-full needs a certificate for the host 127.0.0.1"
            ),
            "{certificate:?}: {error}"
        );
    }
}

#[tokio::test]
async fn verify_ca_checks_the_chain_but_not_the_host_name() {
    let cluster = TlsCluster::start();
    let query = format!("sslmode=verify-ca&sslrootcert={}", cluster.root("ca.pem"));

    let encrypted = connection_is_encrypted(&cluster.url("127.0.0.1", &query)).await;

    assert_eq!(encrypted, Ok(true));
}

#[tokio::test]
async fn require_with_sslrootcert_checks_the_chain_as_libpq_does() {
    let cluster = TlsCluster::start();
    let query = format!(
        "sslmode=require&sslrootcert={}",
        cluster.root("other-ca.pem")
    );

    let error = connection_is_encrypted(&cluster.url("127.0.0.1", &query))
        .await
        .unwrap_err();

    assert!(
        error.contains("sslmode=require needs a certificate the server's chain leads to"),
        "{error}"
    );
}

#[tokio::test]
async fn a_self_signed_certificate_given_as_its_own_root_is_accepted_in_every_mode_as_libpq_does() {
    let cluster = TlsCluster::start_with(ServerCertificate::SelfSigned);

    for (mode, host) in [
        ("prefer", "127.0.0.1"),
        ("require", "127.0.0.1"),
        ("verify-ca", "127.0.0.1"),
        ("verify-full", "localhost"),
    ] {
        let query = format!("sslmode={mode}&sslrootcert={}", cluster.root("server.crt"));

        let encrypted = connection_is_encrypted(&cluster.url(host, &query)).await;

        assert_eq!(encrypted, Ok(true), "sslmode={mode}");
    }
}

#[tokio::test]
async fn disable_is_refused_by_a_server_that_demands_tls() {
    let cluster = TlsCluster::start();

    let error = connection_is_encrypted(&cluster.url("127.0.0.1", "sslmode=disable"))
        .await
        .unwrap_err();

    assert!(error.contains("no encryption"), "{error}");
}

#[test]
fn tally_migrate_runs_over_tls() {
    let cluster = TlsCluster::start();

    let output = tally_command()
        .args(["migrate", "--database-url"])
        .arg(cluster.url("127.0.0.1", "sslmode=require"))
        .output()
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_missing_sslrootcert_stops_tally_with_the_file_named() {
    let url = "postgres://postgres:hunter2@localhost:1/postgres\
               ?sslmode=verify-full&sslrootcert=/nonexistent/tally-ca.pem";

    let output = tally_command()
        .args(["migrate", "--database-url", url])
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("DATABASE_URL: cannot read the sslrootcert file /nonexistent/tally-ca.pem"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
