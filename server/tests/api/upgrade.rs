//! Upgrading a database that holds Printernizer's data under the migrations before the catalog
//! (V7): nothing is lost, and `/stats/*` answer what a fresh database given the same reports
//! answers.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use serde_json::Value;
use tally::domain::adapters::printernizer;
use tally::domain::{Catalog, Rules};
use tally::rollup::{self, Wait};
use tally::store::{PreparedReport, Purpose, Writer, WriterConfig};
use tokio_postgres::NoTls;

use crate::helpers::{
    body, fresh_schema, query_pool, report, serve_config, spawn_app_in_schema, spawn_app_with,
    TestApp, ADMIN_KEY,
};

mod before_the_catalog {
    refinery::embed_migrations!("../migrations");
}

/// The last migration before the catalog's tables.
const BEFORE_THE_CATALOG: i32 = 7;

const STATS: [&str; 11] = [
    "/stats/summary",
    "/stats/overview",
    "/stats/installations",
    "/stats/deployment-modes",
    "/stats/versions",
    "/stats/geography",
    "/stats/printers",
    "/stats/features",
    "/stats/version-migration",
    "/stats/feature-trends",
    "/stats/errors",
];

/// Twenty installations, some reporting twice, with versions, platforms and modes that vary.
fn reports() -> Vec<Value> {
    let now = Utc::now();
    let mut reports = Vec::new();
    for n in 0..20u32 {
        let installation = format!("00000000-0000-4000-8000-{n:012}");
        for week in 0..=(n % 2) {
            let end =
                now - Duration::days(i64::from(n % 5) + 7 * i64::from(week)) - Duration::hours(1);
            let mut body = report(&installation, end);
            body["installation"]["app_version"] = Value::from(format!("2.{}.0", n % 3));
            body["installation"]["platform"] =
                Value::from(["linux", "windows", "darwin"][(n % 3) as usize]);
            body["usage_stats"]["job_count"] = Value::from(n * 3);
            reports.push(body);
        }
    }
    reports
}

/// Stores `reports` as the server of V7 stored them: through the report writer (see the caller
/// for the counts).
async fn store_through_the_writer(database_url: &str, reports: &[Value]) {
    static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    let catalog = CATALOG.get_or_init(|| Catalog::load(None).expect("the built-in catalog"));
    let rules = Rules {
        raw_retention: Duration::days(400),
        report: catalog.printernizer(),
    };
    let pool = tally::store::pool(
        &serve_config(database_url).database,
        Purpose::Writer { connections: 1 },
    )
    .expect("the writer's pool");
    let (writer, _) = Writer::start(
        pool,
        WriterConfig {
            batch_max: 64,
            queue_capacity: 64,
            concurrent_batches: 1,
            batch_timeout: StdDuration::from_secs(30),
        },
    );
    for report in reports {
        let bytes = serde_json::to_vec(report).expect("JSON");
        let folded = printernizer::fold(&bytes, &rules, Utc::now()).expect("a valid report");
        let report = PreparedReport::of(folded).expect("one report");
        writer.store(report).await.expect("stored");
    }
}

/// The answers of every `/stats` route after a full roll, times left out (they differ by when
/// each database received its reports).
async fn stats(app: &TestApp) -> Vec<Value> {
    rollup::bring_up_to_date(&query_pool(&app.database_url), "printernizer", Wait::Yes)
        .await
        .expect("rollup runs");
    let mut answers = Vec::new();
    for route in STATS {
        let response = app.get(route, Some(ADMIN_KEY)).await;
        assert_eq!(response.status(), 200, "{route}");
        answers.push(without_times(body(response).await));
    }
    answers
}

fn without_times(value: Value) -> Value {
    match value {
        Value::String(text) if chrono::DateTime::parse_from_rfc3339(&text).is_ok() => {
            Value::from("<time>")
        }
        Value::Array(items) => Value::Array(items.into_iter().map(without_times).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, without_times(value)))
                .collect(),
        ),
        other => other,
    }
}

#[tokio::test]
async fn a_database_with_printernizer_data_from_before_the_catalog_upgrades_with_nothing_lost() {
    let reports = reports();
    let (schema, url) = fresh_schema();
    let (mut client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .expect("the test database answers");
    tokio::spawn(connection);
    before_the_catalog::migrations::runner()
        .set_target(refinery::Target::Version(BEFORE_THE_CATALOG))
        .run_async(&mut client)
        .await
        .expect("the migrations up to V7 run");
    client
        .batch_execute(
            "SELECT tally_ensure_month_partition(month::date)
             FROM generate_series(now() - interval '2 months', now(), interval '1 month') AS month",
        )
        .await
        .expect("partitions made");
    // Today's writer adds a row of counts per batch, where V7's added to rows keyed by shard:
    // the key is lifted while it writes, and its rows are then folded into shard 0, the sum
    // V7's writer would have left.
    client
        .batch_execute(
            "ALTER TABLE submission_counts
                 ALTER COLUMN shard SET DEFAULT 0, DROP CONSTRAINT submission_counts_pkey",
        )
        .await
        .expect("the counts' key lifted");
    store_through_the_writer(&url, &reports).await;
    client
        .batch_execute(
            "WITH folded AS (DELETE FROM submission_counts RETURNING *)
             INSERT INTO submission_counts
             SELECT product, 0, sum(submissions), sum(installations), max(latest_received_at)
             FROM folded GROUP BY product;
             ALTER TABLE submission_counts
                 ALTER COLUMN shard DROP DEFAULT, ADD PRIMARY KEY (product, shard)",
        )
        .await
        .expect("the counts folded as V7 kept them");
    let stored_before: i64 = client
        .query_one("SELECT count(*) FROM submissions", &[])
        .await
        .expect("count")
        .get(0);
    let fresh = spawn_app_with(|c| {
        c.rate_limit_per_hour = 0;
        c.rollup_interval_secs = 3_600;
    })
    .await;
    for report in &reports {
        assert_eq!(fresh.submit(report).await.status(), 200);
    }

    let upgraded = spawn_app_in_schema(schema, None, |c| c.rollup_interval_secs = 3_600).await;

    let stored_after: i64 = client
        .query_one("SELECT count(*) FROM submissions", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored_before, 30);
    assert_eq!(stored_after, stored_before);
    let activity_exists: bool = client
        .query_one("SELECT to_regclass('activity') IS NOT NULL", &[])
        .await
        .expect("lookup")
        .get(0);
    assert!(activity_exists, "the catalog's migration ran");
    let (old, new) = (stats(&upgraded).await, stats(&fresh).await);
    for ((route, old), new) in STATS.iter().zip(&old).zip(&new) {
        assert_eq!(old, new, "{route}");
    }
    assert_eq!(old[0]["unique_installations"], 20, "{}", old[0]);
    assert_eq!(old[0]["total_submissions"], 30, "{}", old[0]);
}
