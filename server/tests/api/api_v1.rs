//! `/api/v1`: time series over the daily tables, ingest outcomes, and the public overview's
//! k-suppression.

use serde_json::json;

use crate::helpers::{body, spawn_app_with, TestApp, ADMIN_KEY};
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
