//! Upgrading a populated database in place: Printernizer's reports stored as the versions
//! before V16 stored them (typed rows of `submissions`, its own registry) migrate into
//! `activity`, and every `/stats/*`, `/api/v1/*` and access answer is the one a fresh database
//! given the same data answers. From the schema just before (V15, with an event product's
//! rows beside) and from the one before the catalog (V7).

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tally::domain::Catalog;
use tally::rollup::{self, Wait};
use tokio_postgres::NoTls;

use crate::helpers::{
    body, fresh_schema, put_days, query_pool, report, spawn_app_in_schema, spawn_app_with, TestApp,
    ADMIN_KEY,
};

mod migrations {
    refinery::embed_migrations!("../migrations");
}

/// The last migration before the catalog's tables.
const BEFORE_THE_CATALOG: i32 = 7;
/// The last migration with Printernizer's reports in `submissions`.
const BEFORE_ONE_STORE: i32 = 15;
/// The last migration with Printernizer's own `daily_totals` and `daily_dimensions` tables.
const BEFORE_ONE_SET_OF_WINDOWS: i32 = 17;
/// The last migration with a daily-report product's days rolled as sums.
const BEFORE_REPORTS_BY_CADENCE: i32 = 18;
/// The last migration with appended counts as `jsonb`.
const BEFORE_KEY_NUMBERS: i32 = 20;
/// The last migration with stored days' counts as `jsonb`.
const BEFORE_STORED_KEY_NUMBERS: i32 = 23;
/// The last migration with a report product's installations counted by their registration.
const BEFORE_COUNTING_BY_ROWS: i32 = 24;

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

const PRINTERNIZER_METRICS: [&str; 11] = [
    "active_installations",
    "printers",
    "jobs",
    "files",
    "uploads",
    "uptime_hours",
    "errors",
    "installations_with_errors",
    "reports",
    "new_installations",
    "known_installations",
];

const PRINTERNIZER_DIMENSIONS: [&str; 7] = [
    "version",
    "platform",
    "deployment_mode",
    "country",
    "printer_type",
    "feature",
    "error_type",
];

fn installation(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A year of weekly reports of twelve installations, each skipping some weeks, upgrading its
/// version every quarter and varying its platform and numbers; and one installation that sent
/// two reports ending on the same day (the later, ending later, is the one kept).
fn a_year_of_reports() -> Vec<Value> {
    let now = Utc::now();
    let mut reports = Vec::new();
    for n in 0..12u32 {
        for week in (0..52u32).rev() {
            if (week + n) % 5 == 0 {
                continue;
            }
            let end = now - Duration::days(7 * i64::from(week)) - Duration::hours(i64::from(n) + 1);
            let mut body = report(&installation(n), end);
            body["installation"]["app_version"] = Value::from(format!("2.{}.0", (51 - week) / 13));
            body["installation"]["platform"] =
                Value::from(["linux", "windows", "darwin"][(n % 3) as usize]);
            body["installation"]["country_code"] =
                Value::from(["DE", "FR", "US"][(n % 3) as usize]);
            body["usage_stats"]["job_count"] = Value::from(n * 3 + week);
            body["error_summary"] = json!({"total_errors": week % 3, "connection_lost": week % 2});
            reports.push(body);
        }
    }
    // Two reports of one installation ending on one UTC day, whatever the hour the test runs.
    let end = (now - Duration::days(2))
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .expect("noon")
        .and_utc();
    let mut earlier = report(&installation(20), end - Duration::hours(3));
    earlier["usage_stats"]["job_count"] = Value::from(7);
    reports.push(earlier);
    reports.push(report(&installation(20), end));
    reports
}

/// Stores `reports` as the versions before V16 did: a typed row of `submissions` each (in
/// monthly partitions, keyed by the period's start) and the installations' registry. The
/// summary's counts are left to V16, which recomputes them from the rows.
async fn store_as_before(client: &tokio_postgres::Client, reports: &[Value]) {
    let reports = Value::from(reports.to_vec()).to_string();
    client
        .batch_execute(
            "SELECT tally_ensure_month_partition(month::date)
             FROM generate_series(now() - interval '13 months', now(), interval '1 month') AS month",
        )
        .await
        .expect("partitions made");
    client
        .execute(
            "INSERT INTO submissions (product, installation_id, period_start, period_end,
                 received_at, app_version, python_version, platform, deployment_mode,
                 country_code, first_seen, printer_count, job_count, file_count, upload_count,
                 uptime_hours, total_errors, printer_type_counts, feature_usage, error_summary)
             SELECT 'printernizer', (r #>> '{installation,installation_id}')::uuid,
                 (r #>> '{period,start}')::timestamp AT TIME ZONE 'UTC',
                 (r #>> '{period,end}')::timestamp AT TIME ZONE 'UTC', now(),
                 r #>> '{installation,app_version}', r #>> '{installation,python_version}',
                 r #>> '{installation,platform}', r #>> '{installation,deployment_mode}',
                 r #>> '{installation,country_code}',
                 (r #>> '{installation,first_seen}')::timestamp AT TIME ZONE 'UTC',
                 (r #>> '{printer_fleet,printer_count}')::int,
                 (r #>> '{usage_stats,job_count}')::int, (r #>> '{usage_stats,file_count}')::int,
                 (r #>> '{usage_stats,upload_count}')::int,
                 (r #>> '{usage_stats,uptime_hours}')::int,
                 coalesce((r #>> '{error_summary,total_errors}')::int, 0),
                 r #> '{printer_fleet,printer_type_counts}', r #> '{usage_stats,feature_usage}',
                 r -> 'error_summary'
             FROM jsonb_array_elements($1::text::jsonb) AS r",
            &[&reports],
        )
        .await
        .expect("the reports stored");
    client
        .batch_execute(
            "INSERT INTO installations (product, installation_id)
             SELECT DISTINCT product, installation_id FROM submissions",
        )
        .await
        .expect("the installations registered");
}

/// Three Stories installations' days, as the writer stores them (see `stored_before_key_numbers`
/// and `put_days`), and their registration.
const STORIES_DAYS: &str = "
    SELECT 'stories'::text AS product, 'install-' || n AS installation_id, current_date - d AS day,
           now() AS received_at,
           jsonb_build_object('event/app_opened', n + d, 'dim/app_opened.language/en', n) AS counts
    FROM generate_series(1, 3) AS n, generate_series(0, 40, 3) AS d";

const STORIES_REGISTERED: &str = "
    INSERT INTO activity_installations (product, installation_id, first_day)
    SELECT product, installation_id, min(day) FROM activity WHERE product = 'stories'
    GROUP BY product, installation_id;";

/// SQL storing the days `select` gives (see `put_days`) as a schema before V24 stores them:
/// counts as a `jsonb` object.
fn stored_before_key_numbers(select: &str) -> String {
    format!("INSERT INTO activity (product, installation_id, day, received_at, counts) {select};")
}

/// Every answer compared, after a full roll of every product, times left out (they differ by
/// when each database received its data) and report ids too (each database numbered its own).
/// The public overview is a cache refreshed on the server's own schedule: its figures are
/// `/stats/overview`'s, compared here.
async fn answers(app: &TestApp, installations: &[String]) -> Vec<(String, Value)> {
    roll_all(app).await;
    answers_as_rolled(app, installations).await
}

/// Brings every product's daily tables up to date; what each run rolled.
async fn roll_all(app: &TestApp) -> Vec<(String, rollup::Rolled)> {
    let catalog = Catalog::load(None).expect("the built-in catalog");
    rollup::bring_all_up_to_date(&query_pool(&app.database_url), &catalog, 400, Wait::Yes)
        .await
        .expect("rollup runs")
        .expect("the lock is taken when waiting")
        .into_iter()
        .map(|(product, rolled)| (product.to_owned(), rolled))
        .collect()
}

/// Every answer, from the daily tables as they are.
async fn answers_as_rolled(app: &TestApp, installations: &[String]) -> Vec<(String, Value)> {
    let today = Utc::now().date_naive();
    let range = format!("from={}&to={today}", today - Duration::days(365));
    let mut routes: Vec<String> = STATS.iter().map(|route| (*route).to_owned()).collect();
    for window in [1, 7, 30] {
        for metric in PRINTERNIZER_METRICS {
            routes.push(format!("/api/v1/metrics/{metric}?window={window}&{range}"));
        }
        for dimension in PRINTERNIZER_DIMENSIONS {
            routes.push(format!(
                "/api/v1/dimensions/{dimension}?window={window}&{range}"
            ));
        }
        for metric in [
            "active_installations",
            "new_installations",
            "known_installations",
        ] {
            routes.push(format!(
                "/api/v1/metrics/{metric}?product=stories&window={window}&{range}"
            ));
        }
        routes.push(format!(
            "/api/v1/dimensions/app_opened.language?product=stories&window={window}&{range}"
        ));
    }
    routes.push(format!("/api/v1/events?{range}"));
    routes.push(format!("/api/v1/events?product=stories&{range}"));
    let mut answers = get_all(app, routes).await;
    for id in installations {
        let route = format!("/installation/{id}");
        let response = app.get(&route, Some(crate::helpers::INGEST_KEY)).await;
        assert_eq!(response.status(), 200, "{route}");
        answers.push((route, comparable(body(response).await)));
    }
    answers
}

/// Each route's answer with the admin key, comparable.
async fn get_all(app: &TestApp, routes: Vec<String>) -> Vec<(String, Value)> {
    let mut answers = Vec::new();
    for route in routes {
        let response = app.get(&route, Some(ADMIN_KEY)).await;
        assert_eq!(response.status(), 200, "{route}");
        answers.push((route, comparable(body(response).await)));
    }
    answers
}

fn comparable(value: Value) -> Value {
    match value {
        Value::String(text) if chrono::DateTime::parse_from_rfc3339(&text).is_ok() => {
            Value::from("<time>")
        }
        Value::Array(items) => Value::Array(items.into_iter().map(comparable).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| match key.as_str() {
                    "submission_id" | "generated_at" => (key, Value::from("<id>")),
                    _ => (key, comparable(value)),
                })
                .collect(),
        ),
        other => other,
    }
}

/// A new schema migrated up to `version`, and a connection to it.
async fn schema_at(version: i32) -> (String, tokio_postgres::Client) {
    let (schema, url) = fresh_schema();
    let (mut client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .expect("the test database answers");
    tokio::spawn(connection);
    migrations::migrations::runner()
        .set_target(refinery::Target::Version(version))
        .run_async(&mut client)
        .await
        .expect("the migrations up to the old version run");
    (schema, client)
}

/// A database at `version`, populated as that version stored `reports` (and, with `stories`,
/// an event product's days), upgraded by the current server; and a fresh server given the same
/// data through its routes. Their answers, each.
async fn upgraded_and_fresh(version: i32, reports: &[Value], stories: bool) -> (TestApp, TestApp) {
    let (schema, client) = schema_at(version).await;
    store_as_before(&client, reports).await;
    if stories {
        client
            .batch_execute(&format!(
                "{}{STORIES_REGISTERED}",
                stored_before_key_numbers(STORIES_DAYS)
            ))
            .await
            .expect("stories' days");
    }
    // The old version's rollup had run: only what the upgrade marks is rolled again.
    client
        .batch_execute(
            "INSERT INTO rollup_state (product, rolled_at, watermark)
             VALUES ('printernizer', now(), now())",
        )
        .await
        .expect("the rollup's state");

    let fresh = fresh_with(reports, stories).await;
    let upgraded = spawn_app_in_schema(schema, None, |c| c.rollup_interval_secs = 3_600).await;
    (upgraded, fresh)
}

/// A fresh server given `reports` through its routes (and, with `stories`, an event product's
/// days).
async fn fresh_with(reports: &[Value], stories: bool) -> TestApp {
    let fresh = spawn_app_with(|c| {
        c.rate_limit_per_hour = 0;
        c.ip_rate_per_minute = 0;
        c.rollup_interval_secs = 3_600;
    })
    .await;
    for report in reports {
        let response = fresh.submit(report).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    if stories {
        fresh
            .db()
            .await
            .batch_execute(&format!(
                "{}{STORIES_REGISTERED}",
                put_days(STORIES_DAYS, &[])
            ))
            .await
            .expect("stories' days");
    }
    fresh
}

/// Route by route, the upgraded database's answers are the fresh one's.
fn assert_same(upgraded: &[(String, Value)], fresh: &[(String, Value)]) {
    assert_eq!(upgraded.len(), fresh.len());
    for ((route, old), (_, new)) in upgraded.iter().zip(fresh) {
        assert_eq!(old, new, "{route}");
    }
}

async fn assert_same_answers(upgraded: &TestApp, fresh: &TestApp, installations: &[String]) {
    assert_same(
        &answers(upgraded, installations).await,
        &answers(fresh, installations).await,
    );
}

#[tokio::test]
async fn a_year_of_reports_and_an_event_products_days_upgrade_to_one_store_answering_the_same() {
    let reports = a_year_of_reports();
    let (upgraded, fresh) = upgraded_and_fresh(BEFORE_ONE_STORE, &reports, true).await;
    let installations = [installation(1), installation(20)];

    assert_same_answers(&upgraded, &fresh, &installations).await;

    let summary = body(upgraded.get("/stats/summary", Some(ADMIN_KEY)).await).await;
    // Each report once, the same day's two as one, on the days of the year rolled again.
    assert_eq!(summary["total_submissions"], reports.len() - 1, "{summary}");
    let today = Utc::now().date_naive();
    let per_day = body(
        upgraded
            .get(
                &format!(
                    "/api/v1/metrics/reports?from={}&to={today}",
                    today - Duration::days(365)
                ),
                Some(ADMIN_KEY),
            )
            .await,
    )
    .await;
    let rolled: f64 = per_day["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|point| point["value"].as_f64())
        .sum();
    assert_eq!(rolled as usize, reports.len() - 1, "{per_day}");
    assert_eq!(summary["unique_installations"], 13, "{summary}");
    let gone: Option<String> = upgraded
        .db()
        .await
        .query_one("SELECT to_regclass('submissions')::text", &[])
        .await
        .expect("lookup")
        .get(0);
    assert_eq!(gone, None, "the typed table is dropped");
    let access = body(
        upgraded
            .get(
                &format!("/installation/{}", installation(20)),
                Some(crate::helpers::INGEST_KEY),
            )
            .await,
    )
    .await;
    assert_eq!(access["reports"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        access["reports"][0]["job_count"], 23,
        "the later report is kept"
    );
}

#[tokio::test]
async fn reports_stored_before_the_catalog_upgrade_through_every_migration_answering_the_same() {
    let reports: Vec<Value> = a_year_of_reports().into_iter().step_by(3).collect();
    let (upgraded, fresh) = upgraded_and_fresh(BEFORE_THE_CATALOG, &reports, false).await;

    assert_same_answers(&upgraded, &fresh, &[installation(3)]).await;

    let summary = body(upgraded.get("/stats/summary", Some(ADMIN_KEY)).await).await;
    assert_eq!(summary["total_submissions"], reports.len(), "{summary}");
}

/// Copies every table of the schema at `url` (made by an older version) from the `from`
/// schema's tables or views of the same names, the columns the older table has. The windows of
/// each product where they were before V18: Printernizer's in its daily tables, the others' in
/// `activity_windows`.
async fn copy_into_older_schema(client: &tokio_postgres::Client, to: &str, from: &str) {
    let tables = client
        .query(
            "SELECT table_name::text,
                    string_agg(quote_ident(column_name::text), ', ' ORDER BY ordinal_position)
             FROM information_schema.columns
             WHERE table_schema = $1 AND table_name IN (
                 SELECT table_name FROM information_schema.tables
                 WHERE table_schema = $1 AND table_type = 'BASE TABLE'
                   AND table_name <> 'refinery_schema_history')
             GROUP BY table_name",
            &[&to],
        )
        .await
        .expect("the older tables listed");
    for table in tables {
        let (name, columns): (String, String) = (table.get(0), table.get(1));
        let only = match name.as_str() {
            "activity_windows" => "WHERE product <> 'printernizer'",
            "daily_totals" | "daily_dimensions" => "WHERE product = 'printernizer'",
            _ => "",
        };
        // Rows held their counts as a `jsonb` object before V21 (appended) and V24 (folded).
        let source = match name.as_str() {
            "activity_added" | "activity" => format!(
                "(SELECT *, (SELECT coalesce(jsonb_object_agg(n.name, counted.amount), '{{}}')
                             FROM unnest(keys, amounts) AS counted(id, amount)
                             JOIN {from}.activity_key_names n ON n.id = counted.id) AS counts
                  FROM {from}.{name}) AS {name}"
            ),
            _ => format!("{from}.{name}"),
        };
        client
            .batch_execute(&format!(
                "INSERT INTO {to}.{name} ({columns}) SELECT {columns} FROM {source} {only}"
            ))
            .await
            .unwrap_or_else(|error| panic!("{name} copied: {error}"));
    }
}

#[tokio::test]
async fn printernizers_daily_tables_of_a_year_become_windows_answering_the_same_before_any_roll() {
    let reports = a_year_of_reports();
    let fresh = fresh_with(&reports, true).await;
    let installations = [installation(1), installation(20)];
    let expected = answers(&fresh, &installations).await;
    // The same database as V17 kept it: its daily tables hold what the views show now.
    let (schema, client) = schema_at(BEFORE_ONE_SET_OF_WINDOWS).await;
    copy_into_older_schema(&client, &schema, &fresh.schema).await;
    // Its runs had seen every row: the rows were received an hour before its last run. (A
    // run's watermark keeps a margin behind its start, within which this test's reports were
    // received; and the upgraded server rolls once as it starts, moving the watermark back.)
    client
        .batch_execute(
            "UPDATE activity SET received_at = received_at - interval '1 hour';
             UPDATE rollup_state SET watermark = now()",
        )
        .await
        .expect("the rows received before the last run");
    let old_rows: i64 = client
        .query_one(
            "SELECT count(*) FROM daily_dimensions WHERE product = 'printernizer'",
            &[],
        )
        .await
        .expect("counted")
        .get(0);
    assert!(old_rows > 1_000, "a year of dimensions: {old_rows}");

    let upgraded = spawn_app_in_schema(schema, None, |c| c.rollup_interval_secs = 3_600).await;

    assert_same(
        &answers_as_rolled(&upgraded, &installations).await,
        &expected,
    );
    let db = upgraded.db().await;
    let rerolled: i64 = db
        .query_one(
            "SELECT count(*) FROM activity_windows
             WHERE product = 'printernizer' AND key LIKE 'counter/%' AND positive IS NOT NULL",
            &[],
        )
        .await
        .expect("counted")
        .get(0);
    assert_eq!(rerolled, 0, "the answers came from the migrated history");
    let rolled = roll_all(&upgraded).await;
    assert!(
        rolled
            .iter()
            .any(|(product, rolled)| product == "printernizer" && rolled.ranges.is_empty()),
        "nothing of Printernizer's was left to roll: {rolled:?}"
    );
    // The windows the views are made of are the ones a fresh roll writes (but for what the
    // daily tables never kept: a counter's positive installations, the Python versions).
    let windows = "SELECT format('%s %s %s %s %s', day, window_days, key, installations, amount)
                   FROM activity_windows
                   WHERE product = 'printernizer' AND key NOT LIKE 'dim/python_version/%'
                   ORDER BY 1";
    let cells = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
        rows.iter().map(|row| row.get(0)).collect()
    };
    assert_eq!(
        cells(db.query(windows, &[]).await.expect("upgraded windows")),
        cells(
            fresh
                .db()
                .await
                .query(windows, &[])
                .await
                .expect("fresh windows")
        ),
    );
}

#[tokio::test]
async fn event_batches_appended_as_jsonb_before_the_key_numbers_upgrade_and_fold_as_sent() {
    let fresh = fresh_with(&[], false).await;
    // Its first rollup run, at start, would fold the batches sent while it runs.
    crate::products_ingest::wait_for_the_servers_first_rollup(&fresh).await;
    let users = ["user_upgrade_01", "user_upgrade_02", "user_upgrade_03"];
    for (n, user) in users.iter().enumerate() {
        // A different body each (one with the same events in the same second is a resend).
        for language in ["de", "en", "fr"].into_iter().take(n + 1) {
            let mut batch = crate::products_ingest::stories_batch(user);
            batch["events"][0]["properties"]["language"] = Value::from(language);
            let response =
                crate::products_ingest::post(&fresh, "/api/events/batch", None, &batch).await;
            assert_eq!(response.status(), 200);
        }
    }
    let access: Vec<String> = users
        .iter()
        .map(|user| format!("/installation/{user}?product=stories"))
        .collect();
    let before_the_fold = get_all(&fresh, access.clone()).await;
    // The same rows as V20 appended them: each batch's counts as one `jsonb` object.
    let (schema, client) = schema_at(BEFORE_KEY_NUMBERS).await;
    let appended = client
        .execute(
            &format!(
                "INSERT INTO {schema}.activity_added (product, installation_id, day, received_at, counts)
                 SELECT product, installation_id, day, received_at, counts FROM {}.activity_rows
                 WHERE product = 'stories'",
                fresh.schema
            ),
            &[],
        )
        .await
        .expect("the appended rows copied");
    assert_eq!(appended, 6, "a row a batch, none folded yet");

    let upgraded = spawn_app_in_schema(schema, None, |c| c.rollup_interval_secs = 3_600).await;

    assert_same(&get_all(&upgraded, access.clone()).await, &before_the_fold);
    assert_same(&answers(&upgraded, &[]).await, &answers(&fresh, &[]).await);
    let folded: i64 = upgraded
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM activity WHERE product = 'stories'",
            &[],
        )
        .await
        .expect("counted")
        .get(0);
    assert_eq!(folded, 3, "each user's day, folded");
    assert_same(&get_all(&upgraded, access.clone()).await, &before_the_fold);
}

/// Four IndexPilot installations' daily reports over 60 days, as the writer stores them: one
/// row a day each, some days skipped.
const INDEXPILOT_DAYS: &str = "
    SELECT 'indexpilot'::text AS product, 'pilot-installation-' || n AS installation_id,
           current_date - d AS day, now() AS received_at,
           jsonb_build_object('dim/os/' || (ARRAY['linux', 'darwin'])[1 + n % 2], 1,
                              'counter/indexes_created', n + d % 5,
                              'counter/queries_analyzed', 100 * n,
                              'measure/cpu_cores/count', 1,
                              'measure/cpu_cores/sum', 2 * n,
                              'measure/cpu_cores/bucket/' || n, 1) AS counts
    FROM generate_series(1, 4) AS n, generate_series(0, 60) AS d
    WHERE (d + n) % 3 <> 0 AND d < 30 + 10 * n";

const INDEXPILOT_REGISTERED: &str = "
    INSERT INTO activity_installations (product, installation_id, first_day)
    SELECT product, installation_id, min(day) FROM activity WHERE product = 'indexpilot'
    GROUP BY product, installation_id;";

/// What the rollup of V18 and before made of IndexPilot's days: the days' sums, and the
/// windows of any activity.
const INDEXPILOT_AS_V18_ROLLED_IT: &str = "
    INSERT INTO activity_daily (product, day, key, amount, installations)
    SELECT a.product, a.day, c.key, sum(c.value::text::float8), count(*)
    FROM activity a CROSS JOIN LATERAL jsonb_each(a.counts) AS c
    WHERE a.product = 'indexpilot' GROUP BY a.product, a.day, c.key;
    INSERT INTO activity_windows (product, day, window_days, key, installations)
    SELECT 'indexpilot', on_day::date, w, '', count(DISTINCT a.installation_id)
    FROM generate_series(current_date - 70, current_date, interval '1 day') AS on_day
    CROSS JOIN unnest(ARRAY[1, 7, 30]) AS w
    JOIN activity a ON a.product = 'indexpilot'
                   AND a.day BETWEEN on_day::date - w + 1 AND on_day::date
    GROUP BY on_day, w;
    INSERT INTO rollup_state (product, rolled_at, watermark)
    VALUES ('indexpilot', now(), now() + interval '1 hour');";

/// IndexPilot's answers: those of a 1-day window, and with `windowed`, those of 7 and 30 days.
async fn indexpilot_answers(app: &TestApp, windowed: bool) -> Vec<(String, Value)> {
    let today = Utc::now().date_naive();
    let range = format!(
        "product=indexpilot&from={}&to={today}",
        today - Duration::days(70)
    );
    let mut routes = vec![
        format!("/api/v1/metrics/new_installations?{range}"),
        format!("/api/v1/metrics/known_installations?{range}"),
        format!("/api/v1/metrics/reports?{range}"),
        format!("/api/v1/measures/cpu_cores?{range}"),
        format!("/api/v1/events?{range}"),
    ];
    for window in [1, 7, 30] {
        routes.push(format!(
            "/api/v1/metrics/active_installations?window={window}&{range}"
        ));
        if window == 1 || windowed {
            for metric in ["indexes_created", "queries_analyzed"] {
                routes.push(format!("/api/v1/metrics/{metric}?window={window}&{range}"));
            }
            routes.push(format!("/api/v1/dimensions/os?window={window}&{range}"));
        }
    }
    get_all(app, routes).await
}

#[tokio::test]
async fn indexpilots_days_rolled_as_sums_become_reports_answering_the_same_before_and_after_the_next_roll(
) {
    let fresh = spawn_app_with(|c| c.rollup_interval_secs = 3_600).await;
    fresh
        .db()
        .await
        .batch_execute(&format!(
            "{}{INDEXPILOT_REGISTERED}",
            put_days(INDEXPILOT_DAYS, &[])
        ))
        .await
        .expect("indexpilot's days");
    roll_all(&fresh).await;
    let (schema, client) = schema_at(BEFORE_REPORTS_BY_CADENCE).await;
    client
        .batch_execute(&format!(
            "{}{INDEXPILOT_REGISTERED}{INDEXPILOT_AS_V18_ROLLED_IT}",
            stored_before_key_numbers(INDEXPILOT_DAYS)
        ))
        .await
        .expect("indexpilot's days as V18 rolled them");

    let upgraded = spawn_app_in_schema(schema, None, |c| c.rollup_interval_secs = 3_600).await;

    let db = upgraded.db().await;
    let sums: i64 = db
        .query_one(
            "SELECT count(*) FROM activity_daily WHERE product = 'indexpilot'",
            &[],
        )
        .await
        .expect("counted")
        .get(0);
    assert_eq!(sums, 0, "the days' sums are now the 1-day windows");
    assert_same(
        &indexpilot_answers(&upgraded, false).await,
        &indexpilot_answers(&fresh, false).await,
    );
    let rolled = roll_all(&upgraded).await;
    assert!(
        rolled
            .iter()
            .any(|(product, rolled)| product == "indexpilot" && rolled.days() > 60),
        "the days still stored are rolled again: {rolled:?}"
    );
    assert_same(
        &indexpilot_answers(&upgraded, true).await,
        &indexpilot_answers(&fresh, true).await,
    );
}

#[tokio::test]
async fn stored_days_held_as_jsonb_before_v24_read_the_same_in_sql_and_through_access_after_it() {
    let (schema, client) = schema_at(BEFORE_STORED_KEY_NUMBERS).await;
    // As the writer wrote them: whole amounts with one decimal, fractions as their shortest
    // text; a report product's day (with its report) and an event product's.
    client
        .batch_execute(&format!(
            "{}{STORIES_REGISTERED}
             INSERT INTO activity (product, installation_id, day, received_at, counts, report_id,
                                   period_start, period_end)
             VALUES ('printernizer', '{}', current_date - 1, now(),
                     '{{\"counter/job_count\": 23.0, \"dim/country/DE\": 1.0,
                       \"counter/uptime_hours\": 134.5}}',
                     nextval('submission_id_seq'), now() - interval '8 days',
                     now() - interval '1 day')",
            stored_before_key_numbers(
                "SELECT 'stories'::text AS product, 'install-' || n AS installation_id,
                        current_date - n AS day, now() AS received_at,
                        jsonb_build_object('event/app_opened', n + 0.0,
                                           'measure/recording_started.duration/sum', (n * 12.75)::float8,
                                           'measure/recording_started.duration/count', 1.0) AS counts
                 FROM generate_series(1, 3) AS n"
            ),
            installation(7)
        ))
        .await
        .expect("the days as V23 stored them");
    let as_sql = "SELECT product, installation_id, day, counts::text FROM activity_rows
                  ORDER BY product, installation_id, day";
    let before: Vec<(String, String, chrono::NaiveDate, String)> = client
        .query(as_sql, &[])
        .await
        .expect("read before")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    assert_eq!(before.len(), 4);

    let upgraded = spawn_app_in_schema(schema, None, |c| c.rollup_interval_secs = 3_600).await;

    let after: Vec<(String, String, chrono::NaiveDate, String)> = upgraded
        .db()
        .await
        .query(as_sql, &[])
        .await
        .expect("read after")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    assert_eq!(after, before, "activity_rows shows the same jsonb");
    let stored_as: (Vec<i32>, Vec<f64>) = upgraded
        .db()
        .await
        .query_one(
            "SELECT keys, amounts FROM activity WHERE product = 'printernizer'",
            &[],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .expect("the report's row");
    assert_eq!(stored_as.0.len(), 3, "{stored_as:?}");
    assert!(
        stored_as.0.windows(2).all(|pair| pair[0] < pair[1]),
        "{stored_as:?}"
    );
    let access = body(
        upgraded
            .get(
                &format!("/installation/{}", installation(7)),
                Some(crate::helpers::INGEST_KEY),
            )
            .await,
    )
    .await;
    assert_eq!(access["reports"][0]["job_count"], 23, "{access}");
    assert_eq!(access["reports"][0]["country_code"], "DE", "{access}");
}

#[tokio::test]
async fn installations_registered_before_v25_stay_counted_once_by_their_rows_after_it() {
    let (schema, client) = schema_at(BEFORE_COUNTING_BY_ROWS).await;
    // Two installations' reports of last week as V24's writer left them: registered, and
    // counted in the summary by their registration.
    client
        .batch_execute(&format!(
            "INSERT INTO activity_key_names (name) VALUES ('counter/job_count');
             INSERT INTO activity (product, installation_id, day, received_at, keys, amounts,
                                   report_id, period_start, period_end)
             SELECT 'printernizer', id, (now() - interval '8 days')::date, now(),
                    ARRAY(SELECT n.id FROM activity_key_names n), '{{3}}',
                    nextval('submission_id_seq'), now() - interval '15 days',
                    now() - interval '8 days'
             FROM unnest(ARRAY['{0}', '{1}']) AS id;
             INSERT INTO activity_installations (product, installation_id, first_day)
             SELECT 'printernizer', id, (now() - interval '8 days')::date
             FROM unnest(ARRAY['{0}', '{1}']) AS id;
             INSERT INTO submission_counts (product, submissions, installations)
             VALUES ('printernizer', 2, 2)",
            installation(1),
            installation(2)
        ))
        .await
        .expect("the reports as V24 stored them");

    let upgraded = spawn_app_in_schema(schema, None, |c| c.rollup_interval_secs = 3_600).await;
    let registered: i64 = upgraded
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM activity_installations WHERE product = 'printernizer'",
            &[],
        )
        .await
        .expect("the registry")
        .get(0);
    let known_again = upgraded
        .submit(&report(&installation(1), Utc::now() - Duration::hours(1)))
        .await;
    let new = upgraded
        .submit(&report(&installation(3), Utc::now() - Duration::hours(1)))
        .await;

    assert_eq!(registered, 0, "a report product's entries are gone");
    assert_eq!(known_again.status(), 200);
    assert_eq!(new.status(), 200);
    let summary = body(upgraded.get("/stats/summary", Some(ADMIN_KEY)).await).await;
    assert_eq!(summary["total_submissions"], 4, "{summary}");
    assert_eq!(summary["unique_installations"], 3, "{summary}");
    assert_eq!(upgraded.counted_over_raw_reports().await, (4, 3));
}
