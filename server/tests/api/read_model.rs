//! The read model seen from its readers: every `/api/v1/*` route answers Printernizer with the
//! numbers `/stats/*` answers for the same reports, and the e-mailed digest renders the very
//! figures the routes serialise.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{json, Value};
use tally::domain::Catalog;
use tally::read::Source;
use tally::reports::{text, Kind, Part, Period, Report};
use tally::store::{Daily, ReadPool};

use crate::helpers::{body, query_pool, TestApp, ADMIN_KEY};
use crate::rollup::{app, id, report_ago, roll, send};

fn day(days_ago: i64) -> NaiveDate {
    Utc::now().date_naive() - Duration::days(days_ago)
}

async fn get(app: &TestApp, path: &str) -> Value {
    let response = app.get(path, Some(ADMIN_KEY)).await;
    assert_eq!(response.status(), 200, "{path}");
    body(response).await
}

/// Three installations, one report each: ending 1, 1 and 3 days ago, with 1, 2 and 4 printers
/// and 10, 20 and 30 jobs; the third in Great Britain on a newer version.
async fn three_installations(app: &TestApp) {
    for (n, days_ago, printers, jobs) in [(1, 1, 1, 10), (2, 1, 2, 20), (3, 3, 4, 30)] {
        let report = report_ago(&id(n), days_ago, |b| {
            b["printer_fleet"]["printer_count"] = json!(printers);
            b["usage_stats"]["job_count"] = json!(jobs);
            if n == 3 {
                b["installation"]["app_version"] = "2.42.0".into();
                b["installation"]["country_code"] = "GB".into();
            }
        });
        send(app, &report).await;
    }
    roll(app).await;
}

fn points(series: &Value) -> &Vec<Value> {
    series["points"].as_array().expect("points")
}

#[tokio::test]
async fn printernizers_measures_are_its_counters_per_report_and_add_up_to_the_stats_numbers() {
    let app = app().await;
    three_installations(&app).await;
    let range = format!("from={}&to={}", day(4), day(0));

    let jobs = get(&app, &format!("/api/v1/measures/job_count?{range}")).await;
    let printers = get(
        &app,
        &format!("/api/v1/measures/printer_count?product=printernizer&{range}"),
    )
    .await;
    let stats_printers = get(&app, "/stats/printers").await;
    let stats_installations = get(&app, "/stats/installations").await;

    // Oldest first: 4 days ago .. today. Two reports ended a day ago, one three days ago.
    let by_day: Vec<(i64, f64)> = points(&jobs)
        .iter()
        .map(|p| (p["count"].as_i64().unwrap(), p["sum"].as_f64().unwrap()))
        .collect();
    assert_eq!(by_day, [(0, 0.0), (1, 30.0), (0, 0.0), (2, 30.0), (0, 0.0)]);
    assert_eq!(points(&jobs)[3]["mean"], json!(15.0));
    assert_eq!(points(&jobs)[3]["p50"], Value::Null);
    assert_eq!(points(&jobs)[0]["mean"], Value::Null);
    let sum = |series: &Value, key: &str| -> f64 {
        points(series)
            .iter()
            .map(|p| p[key].as_f64().unwrap())
            .sum()
    };
    assert_eq!(
        sum(&printers, "sum"),
        stats_printers["total_printers"].as_f64().unwrap()
    );
    assert_eq!(
        sum(&printers, "count"),
        stats_installations["active_30d"].as_f64().unwrap()
    );
}

#[tokio::test]
async fn printernizers_events_are_every_day_of_the_range_without_any() {
    let app = app().await;
    three_installations(&app).await;

    let events = get(
        &app,
        &format!("/api/v1/events?from={}&to={}", day(2), day(0)),
    )
    .await;

    assert_eq!(
        events,
        json!({"product": "printernizer", "days": [
            {"date": day(2).to_string(), "events": {}},
            {"date": day(1).to_string(), "events": {}},
            {"date": day(0).to_string(), "events": {}},
        ]})
    );
}

#[tokio::test]
async fn a_measure_printernizer_does_not_declare_is_a_404_not_a_422() {
    let app = app().await;

    for path in ["nope", "feature_usage", "platform"] {
        let response = app
            .get(&format!("/api/v1/measures/{path}"), Some(ADMIN_KEY))
            .await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(body(response).await, json!({"detail": "Unknown measure"}));
    }
}

#[tokio::test]
async fn printernizers_dimensions_and_metrics_on_the_latest_day_equal_the_stats_numbers() {
    let app = app().await;
    three_installations(&app).await;
    let as_of = day(1);
    let on = format!("from={as_of}&to={as_of}");

    let countries = get(&app, &format!("/api/v1/dimensions/country?window=30&{on}")).await;
    let active_7d = get(
        &app,
        &format!("/api/v1/metrics/active_installations?window=7&{on}"),
    )
    .await;
    let jobs_30d = get(&app, &format!("/api/v1/metrics/jobs?window=30&{on}")).await;
    let geography = get(&app, "/stats/geography").await;
    let installations = get(&app, "/stats/installations").await;

    let values = &points(&countries)[0]["values"];
    for country in geography["countries"].as_array().unwrap() {
        let code = country["code"].as_str().unwrap();
        assert_eq!(values[code]["installations"], country["count"], "{code}");
    }
    assert_eq!(
        values.as_object().unwrap().len(),
        geography["countries"].as_array().unwrap().len()
    );
    assert_eq!(points(&active_7d)[0]["value"], installations["active_7d"]);
    assert_eq!(points(&jobs_30d)[0]["value"], 60);
}

#[tokio::test]
async fn the_digest_renders_the_figures_the_stats_routes_serialise() {
    let app = app().await;
    three_installations(&app).await;
    let pool = ReadPool(query_pool(&app.database_url));
    let daily = Daily::connect(&pool).await.expect("a connection");
    let now = Utc::now();
    let period = Period::ending(Kind::Weekly, now.date_naive());
    let catalog: &'static Catalog = Box::leak(Box::new(Catalog::load(None).expect("it loads")));
    let products = [Source::of(
        catalog.product("printernizer").expect("declared"),
    )];

    let report = Report::load(&daily, &products, period, None, now)
        .await
        .expect("the report loads");
    let mail = text(&report);
    let versions = get(&app, "/stats/versions").await;
    let geography = get(&app, "/stats/geography").await;
    let features = get(&app, "/stats/features").await;

    // The model the mail holds is the body the route answers, value for value.
    let Part::Reports(part) = &report.products[0] else {
        panic!("Printernizer's part is not its reports'");
    };
    assert_eq!(serde_json::to_value(&part.versions).unwrap(), versions);
    assert_eq!(serde_json::to_value(&part.geography).unwrap(), geography);
    assert_eq!(serde_json::to_value(&part.features).unwrap(), features);
    // And the mail shows each row of them.
    for v in versions["versions"].as_array().unwrap() {
        let row = format!(
            "  {}  {}  {:.1}%\n",
            v["version"].as_str().unwrap(),
            v["count"],
            v["percentage"].as_f64().unwrap()
        );
        assert!(mail.contains(&row), "{row:?} not in:\n{mail}");
    }
    for c in geography["countries"].as_array().unwrap() {
        let row = format!(
            "  {} ({})  {}  {:.1}%\n",
            c["name"].as_str().unwrap(),
            c["code"].as_str().unwrap(),
            c["count"],
            c["percentage"].as_f64().unwrap()
        );
        assert!(mail.contains(&row), "{row:?} not in:\n{mail}");
    }
    assert_eq!(part.installations.active_30d, 3);
}
