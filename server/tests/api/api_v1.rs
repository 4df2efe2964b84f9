//! `/api/v1`: time series over the daily tables, ingest outcomes, and the public overview's
//! k-suppression.

use serde_json::json;

use futures_util::future::join_all;

use crate::helpers::{
    body, fresh_report, spawn_app_behind_proxy, spawn_app_with, wait_for_the_public_overview,
    ProxyMode, TestApp, ADMIN_KEY,
};
use crate::rollup::{id, report_ago, roll, send};

#[tokio::test]
async fn the_public_overview_merges_cells_under_the_minimum_cohort_into_other() {
    let app = spawn_app_with(|c| {
        c.rate_limit_per_hour = 0;
        c.ip_rate_per_minute = 0;
        c.rollup_interval_secs = 1;
        c.min_cohort = 3;
    })
    .await;
    let countries = ["DE", "DE", "DE", "GB", "GB", "GB", "JP", "FR"];
    for (n, country) in countries.iter().enumerate() {
        let body = report_ago(&id(n as u8 + 1), 2, |b| {
            b["installation"]["country_code"] = (*country).into()
        });
        send(&app, &body).await;
    }
    roll(&app).await;

    let overview = public_overview_after_a_rollup(&app).await;

    // JP and FR (1 each) are too small; "other" (2) is still too small, so GB joins it.
    assert_eq!(
        overview["distributions"]["country"],
        json!({"DE": 3, "other": 5})
    );
    assert_eq!(overview["distributions"]["version"], json!({"2.41.2": 8}));
    assert_eq!(overview["active_installations_30d"], 8);
    assert!(overview["distributions"].get("feature").is_none());
    // The admin route stays exact.
    let exact = body(app.get("/stats/geography", Some(ADMIN_KEY)).await).await;
    assert_eq!(exact["countries"].as_array().unwrap().len(), 4);
}

/// The public overview once the copy has been made after the data arrived (the app's own
/// rollup task rolls and the copy follows, within seconds).
pub async fn public_overview_after_a_rollup(app: &TestApp) -> serde_json::Value {
    let started = std::time::Instant::now();
    loop {
        let response = app.get("/api/v1/public/overview", None).await;
        if response.status() == 200 {
            let overview = body(response).await;
            if !overview["active_installations_30d"].is_null() {
                return overview;
            }
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the public overview was not made after a rollup"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn printernizers_active_installations_over_one_day_count_the_reports_ending_that_day() {
    let app = crate::rollup::app().await;
    // Installation 1 reports ending 3 and 1 days ago, installation 2 ending 1 day ago.
    for (who, days_ago) in [(1, 3), (1, 1), (2, 1)] {
        send(&app, &report_ago(&id(who), days_ago, |_| {})).await;
    }
    roll(&app).await;
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Duration::days(4);

    let series = body(
        app.get(
            &format!("/api/v1/metrics/active_installations?window=1&from={from}&to={today}"),
            Some(ADMIN_KEY),
        )
        .await,
    )
    .await;

    assert_eq!(series["window_days"], 1);
    let values: Vec<i64> = series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [0, 1, 0, 2, 0]);
}

#[tokio::test]
async fn a_metric_series_has_one_point_per_day_of_the_range() {
    let app = crate::rollup::app().await;
    send(&app, &report_ago(&id(1), 3, |_| {})).await;
    roll(&app).await;
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Duration::days(9);

    let series = body(
        app.get(
            &format!("/api/v1/metrics/active_installations?window=7&from={from}&to={today}"),
            Some(ADMIN_KEY),
        )
        .await,
    )
    .await;
    let versions = body(
        app.get("/api/v1/dimensions/version?window=30", Some(ADMIN_KEY))
            .await,
    )
    .await;

    let values: Vec<i64> = series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    let last = versions["points"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["values"]["2.41.2"]["installations"], 1);
}

#[tokio::test]
async fn api_routes_refuse_an_unknown_metric_a_bad_window_and_a_missing_key() {
    let app = crate::rollup::app().await;

    assert_eq!(
        app.get("/api/v1/metrics/nope", Some(ADMIN_KEY))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get("/api/v1/metrics/jobs?window=9", Some(ADMIN_KEY))
            .await
            .status(),
        422
    );
    assert_eq!(
        app.get(
            "/api/v1/outcomes?from=2026-01-01&to=2025-01-01",
            Some(ADMIN_KEY)
        )
        .await
        .status(),
        422
    );
    assert_eq!(app.get("/api/v1/outcomes", None).await.status(), 401);
    assert_eq!(
        app.get("/api/v1/outcomes", Some(ADMIN_KEY)).await.status(),
        200
    );
}

#[tokio::test]
async fn a_flood_of_public_overview_requests_never_fails_a_submission_and_reads_no_database() {
    // One connection for the other queries and a short pool wait: were the overview to query
    // the database, the flood would hold that connection and the writer (if it shared it)
    // would answer 503.
    let (app, proxy) = spawn_app_behind_proxy(|c| {
        c.rate_limit_per_hour = 0;
        c.ip_rate_per_minute = 0;
        c.rollup_interval_secs = 1;
        c.database.db_pool_size = 1;
        c.read_pool_size = 1;
        c.database.db_timeout_ms = 200;
    })
    .await;
    wait_for_the_public_overview(&app).await;
    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flood: Vec<_> = (0..64)
        .map(|_| {
            let (http, url, flooding) = (
                reqwest::Client::new(),
                app.url("/api/v1/public/overview"),
                flooding.clone(),
            );
            tokio::spawn(async move {
                let mut server_errors = 0;
                while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                    let answer = http.get(&url).send().await.expect("an answer");
                    server_errors += usize::from(answer.status().is_server_error());
                }
                server_errors
            })
        })
        .collect();

    let reports: Vec<_> = (0..200).map(|_| fresh_report().1).collect();
    let mut submitted = Vec::new();
    for chunk in reports.chunks(8) {
        submitted.extend(join_all(chunk.iter().map(|report| app.submit(report))).await);
    }
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    let overview_errors: usize = join_all(flood).await.into_iter().map(|n| n.unwrap()).sum();

    let statuses: Vec<u16> = submitted.iter().map(|a| a.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.stored_reports().await, 200);
    assert_eq!(overview_errors, 0);
    // With the database gone, the overview still answers: it is served from its copy.
    proxy.set(ProxyMode::Cut);
    assert_eq!(app.get("/api/v1/public/overview", None).await.status(), 200);
}

#[tokio::test]
async fn the_public_overview_is_under_the_per_source_limit() {
    let app = spawn_app_with(|c| {
        c.ip_rate_per_minute = 2;
        c.rollup_interval_secs = 1;
    })
    .await;
    // Waiting spends the quota too: count the answers until the first 429.
    let started = std::time::Instant::now();
    let refused = loop {
        let answer = app.get("/api/v1/public/overview", None).await;
        if answer.status() == 429 {
            break answer;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "never limited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };

    assert!(refused.headers().contains_key("retry-after"));
    assert!(body(refused).await["detail"].is_string());
}
