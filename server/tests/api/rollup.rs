//! The daily tables and the statistics read from them, on controlled histories with exact
//! expected numbers. Reports are sent through the API with chosen period ends, then rolled.

use std::sync::LazyLock;

use chrono::{Duration, NaiveDate, Utc};
use serde_json::Value;
use tally::domain::activity::ClientId;
use tally::domain::{Catalog, InstallationId, Product};
use tally::rollup::{self, Wait};

use crate::helpers::{
    body, naive, query_pool, report, spawn_app_with, TestApp, ADMIN_KEY, INGEST_KEY,
};

const PRODUCT: &str = "printernizer";

/// Printernizer as the built-in catalog declares it.
pub fn printernizer() -> &'static Product {
    static CATALOG: LazyLock<Catalog> =
        LazyLock::new(|| Catalog::load(None).expect("the built-in catalog loads"));
    CATALOG.product(PRODUCT).expect("Printernizer is declared")
}

pub async fn app() -> TestApp {
    spawn_app_with(|c| {
        c.rate_limit_per_hour = 0;
        c.ip_rate_per_minute = 0;
        c.rollup_interval_secs = 3_600;
    })
    .await
}

pub fn pool(app: &TestApp) -> deadpool_postgres::Pool {
    query_pool(&app.database_url)
}

/// The server's default retention, within which the tests' reports lie.
pub const RETENTION_DAYS: u32 = 400;

/// The first day `RETENTION_DAYS` keeps.
fn kept_from() -> NaiveDate {
    Utc::now().date_naive() - Duration::days(i64::from(RETENTION_DAYS))
}

pub async fn roll(app: &TestApp) {
    rollup::bring_up_to_date(&pool(app), printernizer(), RETENTION_DAYS, Wait::Yes)
        .await
        .expect("rollup runs")
        .expect("the lock is taken when waiting");
}

/// A report ending `days_ago` days before now, adjusted by `edit`.
pub fn report_ago(installation: &str, days_ago: i64, edit: impl FnOnce(&mut Value)) -> Value {
    let mut body = report(installation, Utc::now() - Duration::days(days_ago));
    edit(&mut body);
    body
}

fn version(v: &str) -> impl FnOnce(&mut Value) + '_ {
    move |body| body["installation"]["app_version"] = v.into()
}

pub async fn send(app: &TestApp, body: &Value) {
    let response = app.submit(body).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn stats(app: &TestApp, path: &str) -> Value {
    let response = app.get(path, Some(ADMIN_KEY)).await;
    assert_eq!(response.status(), 200, "{path}");
    body(response).await
}

pub fn id(n: u8) -> String {
    format!("00000000-0000-4000-8000-0000000000{n:02}")
}

#[tokio::test]
async fn overview_counts_an_installation_once_by_its_latest_report() {
    let app = app().await;
    // A upgrades over four weeks and retries its last report; B reported 20 days ago, C 40.
    for (days_ago, v) in [(21, "2.40.0"), (14, "2.40.0"), (7, "2.41.0"), (0, "2.41.2")] {
        send(&app, &report_ago(&id(1), days_ago, version(v))).await;
    }
    send(&app, &report_ago(&id(1), 0, version("2.41.2"))).await;
    send(
        &app,
        &report_ago(&id(2), 20, |b| {
            b["installation"]["app_version"] = "2.40.0".into();
            b["installation"]["deployment_mode"] = "docker".into();
            b["installation"]["country_code"] = "GB".into();
            b["error_summary"]["total_errors"] = 0.into();
            b["usage_stats"]["feature_usage"]["library_enabled"] = false.into();
        }),
    )
    .await;
    send(&app, &report_ago(&id(3), 40, version("2.30.0"))).await;
    roll(&app).await;

    let overview = stats(&app, "/stats/overview").await;

    let installations = &overview["installations"];
    assert_eq!(installations["total"], 3);
    assert_eq!(installations["active_7d"], 1);
    assert_eq!(installations["active_30d"], 2);
    assert_eq!(installations["trend"].as_array().unwrap().len(), 30);
    let versions = &overview["versions"];
    assert_eq!(versions["total_versions"], 2);
    assert_eq!(versions["latest_version"], "2.41.2");
    assert_eq!(versions["adoption_rate_latest"], 50.0);
    assert_eq!(
        overview["deployment_modes"]["breakdown"]["homeassistant"],
        1
    );
    assert_eq!(overview["deployment_modes"]["breakdown"]["docker"], 1);
    assert_eq!(overview["deployment_modes"]["total"], 2);
    let countries = overview["geography"]["countries"].as_array().unwrap();
    assert_eq!(countries.len(), 2);
    assert_eq!(overview["geography"]["total_countries"], 2);
    assert_eq!(overview["printers"]["total_printers"], 6);
    assert_eq!(overview["printers"]["types"]["bambu_lab"], 4);
    assert_eq!(overview["printers"]["average_per_installation"], 3.0);
    let library = overview["features"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "library_enabled")
        .unwrap()
        .clone();
    assert_eq!(library["enabled"], 1);
    assert_eq!(library["disabled"], 1);
    assert_eq!(library["enabled_percent"], 50.0);
    assert!(overview["last_updated"].as_str().unwrap().ends_with('Z'));
    assert!(overview["anomalies"]["checks_performed"].is_array());

    let errors = stats(&app, "/stats/errors").await;
    assert_eq!(errors["total_errors"], 2);
    assert_eq!(errors["installations_with_errors"], 1);
    assert_eq!(errors["this_week_errors"], 2);
}

#[tokio::test]
async fn the_trend_counts_an_installation_active_for_seven_days_after_its_report() {
    let app = app().await;
    send(&app, &report_ago(&id(1), 10, |_| {})).await;
    send(&app, &report_ago(&id(2), 2, |_| {})).await;
    roll(&app).await;

    let installations = stats(&app, "/stats/installations?days=12").await;

    let trend: Vec<(i64, i64)> = installations["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["total"].as_i64().unwrap(), d["active"].as_i64().unwrap()))
        .collect();
    // Days 11 ago .. today: none, then A (10 ago, for 7 days), then B from 2 days ago.
    assert_eq!(
        trend,
        [
            (0, 0),
            (1, 1),
            (1, 1),
            (1, 1),
            (1, 1),
            (1, 1),
            (1, 1),
            (1, 1),
            (1, 0),
            (2, 1),
            (2, 1),
            (2, 1)
        ]
    );
}

#[tokio::test]
async fn deleting_an_installation_removes_its_contribution_from_the_daily_tables() {
    let app = app().await;
    for days_ago in [14, 7, 0] {
        send(&app, &report_ago(&id(1), days_ago, version("2.41.2"))).await;
    }
    send(&app, &report_ago(&id(2), 3, version("2.40.0"))).await;
    roll(&app).await;
    assert_eq!(stats(&app, "/stats/versions").await["total_versions"], 2);

    let deleted = app
        .http
        .delete(app.url(&format!("/installation/{}", id(1))))
        .header("X-API-Key", INGEST_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    roll(&app).await;

    let versions = stats(&app, "/stats/versions").await;
    assert_eq!(versions["total_versions"], 1);
    assert_eq!(versions["versions"][0]["version"], "2.40.0");
    let installations = stats(&app, "/stats/installations").await;
    assert_eq!(installations["total"], 1);
    assert_eq!(installations["active_30d"], 1);
    let left: i64 = app
        .db()
        .await
        .query_one(
            "SELECT coalesce(sum(installations), 0)::bigint FROM daily_dimensions
             WHERE dimension = 'version' AND value = '2.41.2'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

/// Every row of the daily tables, in a comparable form.
async fn dump(app: &TestApp) -> Vec<String> {
    let db = app.db().await;
    let mut rows = Vec::new();
    for query in [
        "SELECT format('%s %s %s', day, reports, new_installations) FROM daily_reports
         WHERE reports > 0 OR new_installations > 0",
        "SELECT format('%s %s %s %s %s %s', day, window_days, installations, printers, jobs, errors)
         FROM daily_totals WHERE installations > 0",
        "SELECT format('%s %s %s %s %s %s', day, window_days, dimension, value, installations, amount)
         FROM daily_dimensions",
        "SELECT format('%s %s %s %s %s %s', day, window_days, key, installations, positive, amount)
         FROM activity_windows WHERE installations > 0",
    ] {
        for row in db.query(query, &[]).await.unwrap() {
            rows.push(row.get::<_, String>(0));
        }
    }
    rows.sort();
    rows
}

#[tokio::test]
async fn rolling_day_by_day_equals_rolling_the_range_at_once_equals_a_fresh_recompute() {
    let app = app().await;
    // Irregular histories: gaps, a stop, version changes, two reports ending the same day.
    let histories: [(u8, &[i64]); 4] = [
        (1, &[60, 53, 46, 39, 10, 3]),
        (2, &[45, 44, 30]),
        (3, &[25, 18, 11, 4, 4]),
        (4, &[1]),
    ];
    for (n, ends) in histories {
        for (i, days_ago) in ends.iter().enumerate() {
            let v = format!("2.{}.0", 30 + i);
            send(
                &app,
                &report_ago(&id(n), *days_ago, |b| {
                    b["installation"]["app_version"] = v.clone().into();
                    b["usage_stats"]["job_count"] = (i as i64 * 3 + i64::from(n)).into();
                    // Two reports ending the same day differ in their start.
                    if i == 4 {
                        b["usage_stats"]["uptime_hours"] = 24.into();
                        b["period"]["start"] =
                            crate::helpers::naive(Utc::now() - Duration::days(days_ago + 2)).into();
                    }
                }),
            )
            .await;
        }
    }
    let pool = pool(&app);
    let today = Utc::now().date_naive();
    let first = today - Duration::days(61);

    rollup::recompute(&pool, printernizer(), first, today, kept_from())
        .await
        .unwrap();
    let whole = dump(&app).await;
    let mut day = first;
    while day <= today {
        rollup::recompute(&pool, printernizer(), day, day, kept_from())
            .await
            .unwrap();
        day += Duration::days(1);
    }
    let day_by_day = dump(&app).await;
    app.db()
        .await
        .batch_execute("TRUNCATE daily_reports, activity_windows, rollup_state")
        .await
        .unwrap();
    roll(&app).await;
    let fresh = dump(&app).await;

    assert!(whole.len() > 100, "{}", whole.len());
    assert_eq!(day_by_day, whole);
    assert_eq!(fresh, whole);
}

#[tokio::test]
async fn days_and_limit_outside_their_bounds_are_a_422_naming_the_parameter() {
    let app = app().await;

    for path in [
        "/stats/installations?days=0",
        "/stats/version-migration?days=366",
        "/stats/feature-trends?days=abc",
        "/stats/versions?limit=101",
        "/stats/geography?limit=0",
    ] {
        let response = app.get(path, Some(ADMIN_KEY)).await;
        assert_eq!(response.status(), 422, "{path}");
        let detail = &body(response).await["detail"][0];
        assert_eq!(detail["loc"][0], "query", "{path}");
    }
}

#[tokio::test]
async fn every_stats_route_answers_on_an_empty_database_with_its_keys() {
    let app = app().await;
    let expected: [(&str, &[&str]); 12] = [
        (
            "/stats/overview",
            &[
                "installations",
                "deployment_modes",
                "versions",
                "geography",
                "printers",
                "features",
                "anomalies",
                "last_updated",
            ],
        ),
        (
            "/stats/export",
            &["installations", "versions", "anomalies", "exported_at"],
        ),
        (
            "/stats/installations",
            &[
                "total",
                "active_7d",
                "active_30d",
                "growth_7d_percent",
                "trend",
            ],
        ),
        (
            "/stats/deployment-modes",
            &["total", "breakdown", "percentages", "display_names"],
        ),
        (
            "/stats/versions",
            &[
                "versions",
                "latest_version",
                "adoption_rate_latest",
                "total_versions",
            ],
        ),
        ("/stats/geography", &["countries", "total_countries"]),
        (
            "/stats/printers",
            &[
                "total_printers",
                "total_installations",
                "average_per_installation",
                "types",
            ],
        ),
        ("/stats/features", &["features", "total_installations"]),
        ("/stats/version-migration", &["migration", "all_versions"]),
        ("/stats/feature-trends", &["trends", "all_features"]),
        (
            "/stats/errors",
            &[
                "total_errors",
                "installations_with_errors",
                "error_types",
                "this_week_errors",
                "last_week_errors",
                "error_change_percent",
                "has_spike",
            ],
        ),
        (
            "/stats/anomalies",
            &["anomalies", "checked_at", "checks_performed"],
        ),
    ];
    for (path, keys) in expected {
        let body = stats(&app, path).await;
        for key in keys {
            assert!(body.get(key).is_some(), "{path} lacks {key}: {body}");
        }
    }
}

#[tokio::test]
async fn the_tally_rollup_command_brings_the_daily_tables_up_to_date_and_exits_0() {
    let app = app().await;
    send(&app, &report_ago(&id(1), 1, |_| {})).await;

    // Blocking wait off the test's runtime: the app's own roller runs on it.
    let url = app.database_url.clone();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(["rollup", "--log-format", "pretty"])
            .env("DATABASE_URL", url)
            .status()
    })
    .await
    .unwrap()
    .unwrap();

    assert!(status.success());
    assert_eq!(stats(&app, "/stats/installations").await["active_7d"], 1);
}

#[tokio::test]
async fn a_browser_preflight_from_an_allowed_origin_is_answered_and_others_get_no_cors() {
    let app = spawn_app_with(|c| c.cors_origins = vec!["https://dash.example".into()]).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/stats/overview"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "x-api-key")
            .send()
    };

    let allowed = preflight("https://dash.example").await.unwrap();
    let other = preflight("https://evil.example").await.unwrap();
    let get = app
        .http
        .get(app.url("/stats/overview"))
        .header("Origin", "https://dash.example")
        .header("X-API-Key", ADMIN_KEY)
        .send()
        .await
        .unwrap();

    assert_eq!(allowed.status(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://dash.example"
    );
    assert!(allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-api-key"));
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert_eq!(get.status(), 200);
    assert_eq!(
        get.headers()["access-control-allow-origin"],
        "https://dash.example"
    );
}

#[tokio::test]
async fn an_installation_is_new_only_on_the_day_of_its_first_report_even_when_a_later_range_is_rolled(
) {
    let app = app().await;
    send(&app, &report_ago(&id(1), 20, |_| {})).await;
    send(&app, &report_ago(&id(1), 3, |_| {})).await;
    send(&app, &report_ago(&id(2), 3, |_| {})).await;
    roll(&app).await;
    let today = Utc::now().date_naive();

    // Only the last days: installation 1's first report lies before the range.
    rollup::recompute(
        &pool(&app),
        printernizer(),
        today - Duration::days(5),
        today,
        kept_from(),
    )
    .await
    .expect("recompute runs");

    let new: Vec<(String, i32)> = app
        .db()
        .await
        .query(
            "SELECT day::text, new_installations FROM daily_reports
             WHERE product = $1 AND new_installations > 0 ORDER BY day",
            &[&PRODUCT],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let day = |ago: i64| (Utc::now() - Duration::days(ago)).date_naive().to_string();
    assert_eq!(new, vec![(day(20), 1), (day(3), 1)]);
    let installations = stats(&app, "/stats/installations?days=5").await;
    assert_eq!(installations["total"], 2);
}

#[tokio::test]
async fn prune_deletes_the_reports_past_retention_and_their_lone_installations_and_keeps_the_daily_tables(
) {
    let app = app().await;
    send(&app, &report_ago(&id(1), 3, |_| {})).await;
    send(&app, &report_ago(&id(2), 10, |_| {})).await;
    roll(&app).await;
    let db = app.db().await;
    // Two reports from long ago, as retention will find them: one of an installation that
    // reported since, one of an installation that did not. Counted, as the writer counted them
    // when they were recent.
    db.batch_execute(&format!(
        "INSERT INTO activity (product, installation_id, day, received_at, keys, amounts,
                               report_id, period_start, period_end)
         SELECT product, installation_id, '2024-01-17', received_at, keys, amounts,
                nextval('submission_id_seq'), '2024-01-10', '2024-01-17'
         FROM activity WHERE installation_id = '{}';
         INSERT INTO activity (product, installation_id, day, received_at, keys, amounts,
                               report_id, period_start, period_end)
         SELECT product, '{}', '2024-01-17', received_at, keys, amounts,
                nextval('submission_id_seq'), '2024-01-10', '2024-01-17'
         FROM activity WHERE installation_id = '{}' AND day > '2024-01-17';
         INSERT INTO activity_installations VALUES ('printernizer', '{}', '2024-01-17');
         INSERT INTO submission_counts (product, submissions, installations)
         VALUES ('printernizer', 2, 1);",
        id(1),
        id(9),
        id(1),
        id(9)
    ))
    .await
    .unwrap();
    let daily_before = daily_rows(&db).await;
    assert_eq!(stats(&app, "/stats/summary").await["total_submissions"], 4);

    rollup::prune(
        &pool(&app),
        &catalog(),
        RETENTION_DAYS,
        Utc::now().date_naive(),
    )
    .await
    .expect("prune runs");

    assert_eq!(app.stored_reports().await, 2, "the recent reports stay");
    let summary = stats(&app, "/stats/summary").await;
    assert_eq!(summary["total_submissions"], 2);
    assert_eq!(summary["unique_installations"], 2);
    assert_eq!(app.counted_over_raw_reports().await, (2, 2));
    assert!(daily_before > 0);
    assert_eq!(daily_rows(&db).await, daily_before, "the daily tables stay");
}

fn catalog() -> tally::domain::Catalog {
    tally::domain::Catalog::load(None).expect("the built-in catalog")
}

#[tokio::test]
async fn summary_counts_an_installation_once_across_its_reports_and_its_erasure() {
    let app = app().await;
    for (who, days_ago) in [(1, 1), (1, 8), (2, 1)] {
        send(&app, &report_ago(&id(who), days_ago, |_| {})).await;
    }
    // One known installation and one new.
    send(&app, &report_ago(&id(1), 15, |_| {})).await;
    send(&app, &report_ago(&id(3), 1, |_| {})).await;

    let before_erasure = stats(&app, "/stats/summary").await;
    let response = app
        .http
        .delete(app.url(&format!("/installation/{}", id(2))))
        .header("X-API-Key", INGEST_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let after_erasure = stats(&app, "/stats/summary").await;
    roll(&app).await;
    let rolled_again = stats(&app, "/stats/summary").await;

    assert_eq!(before_erasure["total_submissions"], 5);
    assert_eq!(before_erasure["unique_installations"], 3);
    for summary in [&after_erasure, &rolled_again] {
        assert_eq!(summary["total_submissions"], 4);
        assert_eq!(summary["unique_installations"], 2);
    }
    assert_eq!(app.counted_over_raw_reports().await, (4, 2));
}

#[tokio::test]
async fn prune_keeps_a_report_that_ended_within_retention_whenever_its_period_started() {
    let app = app().await;
    let today = Utc::now().date_naive();
    // Ends 395 days ago, inside retention, and started 30 days before that.
    let end = Utc::now() - Duration::days(395);
    let mut old = report(&id(1), end);
    old["period"]["start"] = naive(end - Duration::days(30)).into();
    let response = app.submit(&old).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

    rollup::prune(&pool(&app), &catalog(), RETENTION_DAYS, today)
        .await
        .expect("prune runs");

    assert_eq!(app.stored_reports().await, 1);
}

/// Printernizer's rows of the daily tables. Not every product's: the server's own first run
/// rolls every product's today, at a moment the test does not choose, and IndexPilot's today
/// is three rows (its 1-, 7- and 30-day windows) even with no data: three rows once appeared
/// between a test's two counts.
async fn daily_rows(db: &tokio_postgres::Client) -> i64 {
    db.query_one(
        "SELECT count(*) FROM daily_totals WHERE product = 'printernizer'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn statistics_are_read_from_the_replica_when_one_is_configured() {
    // The "replica" is another schema, migrated and empty: what the routes show comes from it.
    let (_, replica_url) = crate::helpers::fresh_schema();
    let replica = query_pool(&replica_url);
    tally::store::migrate(&replica).await.unwrap();
    let app = spawn_app_with(|c| {
        c.rate_limit_per_hour = 0;
        c.rollup_interval_secs = 3_600;
        c.read_database_url = Some(replica_url.parse().unwrap());
    })
    .await;
    send(&app, &report_ago(&id(1), 1, |_| {})).await;
    roll(&app).await;

    let from_replica = stats(&app, "/stats/installations").await;

    assert_eq!(from_replica["total"], 0);
    assert_eq!(from_replica["active_7d"], 0);
    let primary = daily_rows(&app.db().await).await;
    assert!(
        primary > 0,
        "the primary's daily tables hold the rolled day"
    );
}

#[tokio::test]
async fn an_erasure_while_a_run_rolls_its_day_is_rolled_by_the_next_run() {
    let app = app().await;
    let end = Utc::now() - Duration::days(3);
    let day = end.date_naive();
    for n in 1..=3 {
        send(&app, &report(&id(n), end)).await;
    }
    roll(&app).await;
    let db = app.db().await;
    // Received an hour ago: behind every watermark, so only a mark makes the day roll again.
    db.batch_execute("UPDATE activity SET received_at = received_at - interval '1 hour'")
        .await
        .unwrap();
    assert_eq!(counts_on(&db, day).await, (3, vec![3, 3, 3], 3));
    // An earlier erasure marked the day; the next run reads that mark and the reports, then
    // waits to replace the days.
    erase(&app, 3).await;
    let blocker = app.db().await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE daily_reports IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let pool = pool(&app);
    let run = tokio::spawn(async move {
        rollup::bring_up_to_date(&pool, printernizer(), RETENTION_DAYS, Wait::Yes).await
    });
    until_waiting_for(&db, "daily_reports").await;

    // Marks the same day again while the run still counts the installation.
    erase(&app, 2).await;
    blocker.batch_execute("COMMIT").await.unwrap();
    run.await
        .unwrap()
        .expect("the run rolls")
        .expect("it holds the lock");
    roll(&app).await;

    assert_eq!(counts_on(&db, day).await, (1, vec![1, 1, 1], 1));
}

/// Erases through the store, not the route: the route also wakes the server's own rollup, which
/// could roll the day again by itself and hide a lost mark.
async fn erase(app: &TestApp, n: u8) {
    let installation = ClientId::from(InstallationId::parse(&id(n)).unwrap());
    tally::store::delete_activity_installation(&pool(app), PRODUCT, &installation)
        .await
        .expect("the erasure runs");
}

/// On `day`: reports ending on it, active installations in the 7- and 30-day windows, and those
/// counted by version in the 7-day window.
async fn counts_on(db: &tokio_postgres::Client, day: NaiveDate) -> (i32, Vec<i32>, i64) {
    let row = db
        .query_one(
            "SELECT (SELECT reports FROM daily_reports WHERE day = $1),
                    (SELECT array_agg(installations ORDER BY window_days)
                     FROM daily_totals WHERE day = $1),
                    (SELECT sum(installations)::bigint FROM daily_dimensions
                     WHERE day = $1 AND window_days = 7 AND dimension = 'version')",
            &[&day],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// Returns once a statement waits for a lock on `table`.
async fn until_waiting_for(db: &tokio_postgres::Client, table: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let waiting: bool = db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_locks
                                WHERE relation = $1::text::regclass AND NOT granted)",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        if waiting {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing waited for {table}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

mod before_v5 {
    refinery::embed_migrations!("../migrations");
}

#[tokio::test]
async fn days_marked_before_v5_stay_marked_until_the_next_run() {
    let (_, url) = crate::helpers::fresh_schema();
    let pool = query_pool(&url);
    let mut client = pool.get().await.unwrap();
    before_v5::migrations::runner()
        .set_target(refinery::Target::Version(4))
        .run_async(&mut **client)
        .await
        .unwrap();
    client
        .batch_execute(
            "INSERT INTO rollup_dirty_days (product, day)
             VALUES ('printernizer', current_date - 3), ('printernizer', current_date - 2)",
        )
        .await
        .unwrap();

    tally::store::migrate(&pool).await.unwrap();

    let marked = tally::store::marked_days(&client, PRODUCT).await.unwrap();
    let mut days = marked.days.clone();
    days.sort();
    let today = Utc::now().date_naive();
    assert_eq!(
        days,
        [today - Duration::days(3), today - Duration::days(2)],
        "the marks survive the migration"
    );
    rollup::bring_up_to_date(&pool, printernizer(), RETENTION_DAYS, Wait::Yes)
        .await
        .unwrap()
        .unwrap();
    let left = tally::store::marked_days(&client, PRODUCT).await.unwrap();
    assert!(left.days.is_empty(), "{left:?}");
}

/// The ranges one run rolls.
async fn ranges(app: &TestApp) -> Vec<(NaiveDate, NaiveDate)> {
    rollup::bring_up_to_date(&pool(app), printernizer(), RETENTION_DAYS, Wait::Yes)
        .await
        .expect("rollup runs")
        .expect("the lock is taken when waiting")
        .ranges
}

#[tokio::test]
async fn a_run_with_nothing_new_rolls_nothing_and_the_first_of_a_day_rolls_today() {
    let app = app().await;
    send(&app, &report_ago(&id(1), 3, |_| {})).await;
    // Received a minute ago: past the watermark's second of margin.
    let db = app.db().await;
    db.execute(
        "UPDATE activity SET received_at = received_at - interval '1 minute'",
        &[],
    )
    .await
    .expect("the report is backdated");
    roll(&app).await;
    let today = Utc::now().date_naive();

    assert_eq!(ranges(&app).await, []);

    // As on the first run of a new day: no windows of today yet.
    db.execute("DELETE FROM activity_windows WHERE day = $1", &[&today])
        .await
        .expect("today's totals deleted");
    assert_eq!(ranges(&app).await, [(today, today)]);
    let overview = stats(&app, "/stats/overview").await;
    assert_eq!(overview["installations"]["active_7d"], 1);
}
