//! Which address the per-source limit counts: the peer's, or, from a trusted proxy, the one
//! it forwards. Every request here is a fresh, valid report, so a 200 means the source was
//! within its quota and a 429 that it was not.

use crate::helpers::{fresh_report, spawn_app_with, TestApp, INGEST_KEY};

/// Two requests a minute per source, proxies trusted as `trusted`, listening on `bind`.
async fn spawn_limited_app(bind: &str, trusted: &str) -> TestApp {
    spawn_app_with(|config| {
        config.bind = bind.parse().unwrap();
        config.ip_rate_per_minute = 2;
        config.trusted_proxies = vec![trusted.to_owned()];
    })
    .await
}

async fn submit_forwarded_for(app: &TestApp, forwarded: &str) -> u16 {
    let (_, report) = fresh_report();
    app.http
        .post(app.url("/submit"))
        .header("X-API-Key", INGEST_KEY)
        .header("X-Forwarded-For", forwarded)
        .json(&report)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_trusted_proxy_seen_as_an_ipv4_mapped_address_has_each_forwarded_client_limited_apart() {
    // Listening on every IPv6 address, dual-stack: the test's IPv4 connection arrives from
    // ::ffff:127.0.0.1, which must still match the trusted 127.0.0.0/8.
    let app = spawn_limited_app("[::]:0", "127.0.0.0/8").await;

    let first_client = [
        submit_forwarded_for(&app, "198.51.100.1").await,
        submit_forwarded_for(&app, "198.51.100.1").await,
    ];
    let second_client = [
        submit_forwarded_for(&app, "198.51.100.2").await,
        submit_forwarded_for(&app, "198.51.100.2").await,
    ];
    let first_client_again = submit_forwarded_for(&app, "198.51.100.1").await;

    assert_eq!(first_client, [200, 200]);
    assert_eq!(second_client, [200, 200], "its own quota, not the proxy's");
    assert_eq!(first_client_again, 429);
}

#[tokio::test]
async fn an_untrusted_peer_shares_one_quota_whatever_it_forwards() {
    let app = spawn_limited_app("[::]:0", "10.0.0.0/8").await;

    let statuses = [
        submit_forwarded_for(&app, "198.51.100.1").await,
        submit_forwarded_for(&app, "198.51.100.2").await,
        submit_forwarded_for(&app, "198.51.100.3").await,
    ];

    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test]
async fn a_forwarded_address_counts_as_one_source_whether_written_mapped_or_plain() {
    let app = spawn_limited_app("127.0.0.1:0", "127.0.0.1").await;

    let statuses = [
        submit_forwarded_for(&app, "198.51.100.7").await,
        submit_forwarded_for(&app, "::ffff:198.51.100.7").await,
        submit_forwarded_for(&app, "198.51.100.7").await,
    ];

    assert_eq!(statuses, [200, 200, 429]);
}
