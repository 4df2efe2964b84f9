//! A database that stalls (accepts connections, never answers): every route answers within its
//! bound, and the server still stops in time.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::helpers::{
    body, fresh_report, spawn_app_behind_proxy, stop_with_sigterm, tally_command, wait_for_health,
    wait_for_the_public_overview, DbProxy, ProxyMode, ADMIN_KEY, INGEST_KEY,
};

async fn timed(request: reqwest::RequestBuilder) -> (reqwest::Response, Duration) {
    let started = Instant::now();
    let response = request.send().await.expect("an answer, not a hang");
    (response, started.elapsed())
}

#[tokio::test]
async fn with_a_stalled_database_every_route_answers_within_its_bound() {
    let (app, proxy) = spawn_app_behind_proxy(|config| {
        config.database.db_timeout_ms = 500;
        config.database.db_statement_timeout_ms = 1_000;
        config.rollup_interval_secs = 1;
        config.ip_rate_per_minute = 0;
    })
    .await;
    let (installation, report) = fresh_report();
    assert_eq!(app.submit(&report).await.status(), 200);
    wait_for_the_public_overview(&app).await;
    // Every pool holds a live connection when the database stalls.
    assert_eq!(
        app.get("/stats/summary", Some(ADMIN_KEY)).await.status(),
        200
    );
    assert_eq!(
        app.get("/stats/overview", Some(ADMIN_KEY)).await.status(),
        200
    );

    proxy.set(ProxyMode::Stalled);
    tokio::time::sleep(Duration::from_millis(1_100)).await; // the health probe's cache expires

    let (health, waited) = timed(app.http.get(app.url("/health"))).await;
    assert_eq!(health.status(), 200);
    assert!(waited <= Duration::from_secs(2), "/health took {waited:?}");
    assert_eq!(body(health).await["database"], "unavailable");

    let installation_path = format!("/installation/{installation}");
    let refused = [
        app.http.get(app.url("/ready")),
        app.http
            .get(app.url("/stats/summary"))
            .header("X-API-Key", ADMIN_KEY),
        app.http
            .get(app.url("/stats/overview"))
            .header("X-API-Key", ADMIN_KEY),
        app.http
            .get(app.url("/stats/versions"))
            .header("X-API-Key", ADMIN_KEY),
        app.http
            .get(app.url("/api/v1/metrics/active_installations"))
            .header("X-API-Key", ADMIN_KEY),
        app.http
            .get(app.url(&installation_path))
            .header("X-API-Key", INGEST_KEY),
        app.http
            .delete(app.url(&installation_path))
            .header("X-API-Key", INGEST_KEY),
        app.http
            .post(app.url("/submit"))
            .header("X-API-Key", INGEST_KEY)
            .json(&fresh_report().1),
    ];
    for request in refused {
        let described = format!("{request:?}");
        let (response, waited) = timed(request).await;
        assert_eq!(response.status(), 503, "{described}");
        assert!(
            response.headers().contains_key("retry-after"),
            "{described}"
        );
        assert!(body(response).await["detail"].is_string(), "{described}");
        // The statement deadline (1 s) plus a pool wait or two (0.5 s each) and scheduling.
        assert!(
            waited <= Duration::from_secs(3),
            "{described} took {waited:?}"
        );
    }
    // The only route without a key answers from its copy, without the database.
    let (public, waited) = timed(app.http.get(app.url("/api/v1/public/overview"))).await;
    assert_eq!(public.status(), 200);
    assert!(waited <= Duration::from_millis(500), "took {waited:?}");
}

#[tokio::test]
async fn the_app_stops_within_its_grace_period_while_the_database_is_stalled() {
    let (mut app, proxy) = spawn_app_behind_proxy(|config| {
        config.database.db_timeout_ms = 500;
        config.rollup_interval_secs = 1;
    })
    .await;
    let (_, report) = fresh_report();
    assert_eq!(app.submit(&report).await.status(), 200);
    proxy.set(ProxyMode::Stalled);
    // A rollup run and an outcome flush are now waiting on the database.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let started = Instant::now();
    let stopped = tokio::time::timeout(Duration::from_secs(15), app.stop()).await;

    assert!(stopped.is_ok(), "still stopping after 15 s");
    let took = started.elapsed();
    assert!(took <= Duration::from_secs(12), "{took:?}");
}

#[tokio::test]
async fn serve_exits_in_time_on_sigterm_while_the_database_is_stalled() {
    let proxy = DbProxy::start().await;
    let (schema, _) = crate::helpers::fresh_schema();
    let port = crate::helpers::free_port();
    let mut child = tally_command()
        .arg("serve")
        .env("DATABASE_URL", proxy.url(&schema))
        .env("TALLY_BIND", format!("127.0.0.1:{port}"))
        .env("TALLY_INGEST_KEYS", INGEST_KEY)
        .env("TALLY_DB_TIMEOUT_MS", "500")
        .env("TALLY_ROLLUP_INTERVAL_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tally starts");
    wait_for_health(port).await;
    let submitted = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/submit"))
        .header("X-API-Key", INGEST_KEY)
        .json(&fresh_report().1)
        .send()
        .await
        .expect("an answer");
    assert_eq!(submitted.status(), 200);
    proxy.set(ProxyMode::Stalled);
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let took = stop_with_sigterm(&mut child).await;

    assert!(took <= Duration::from_secs(12), "{took:?}");
}
