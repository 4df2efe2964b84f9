//! `/api/v1` for the products besides Printernizer: controlled histories written straight into
//! `activity` and `activity_installations` (as the writer leaves them), rolled, and read back
//! with exact numbers.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{json, Value};
use tally::domain::activity::key;
use tally::domain::Catalog;
use tally::rollup::{self, Wait};

use crate::helpers::{body, put_days, spawn_app_with, TestApp, ADMIN_KEY};
use crate::rollup::{app, pool};

const STORIES: &str = "stories";

fn day(days_ago: i64) -> NaiveDate {
    Utc::now().date_naive() - Duration::days(days_ago)
}

/// One installation's day of Stories, as the writer stores it.
async fn put(app: &TestApp, installation: &str, days_ago: i64, counts: &[(String, f64)]) {
    put_of(app, STORIES, installation, days_ago, counts).await;
}

/// One installation's day of `product`, as the writer stores it.
async fn put_of(
    app: &TestApp,
    product: &str,
    installation: &str,
    days_ago: i64,
    counts: &[(String, f64)],
) {
    let counts: serde_json::Map<String, Value> = counts
        .iter()
        .map(|(key, n)| (key.clone(), json!(n)))
        .collect();
    app.db()
        .await
        .batch_execute(&put_days(
            &format!(
                "SELECT '{product}'::text AS product, '{installation}'::text AS installation_id,
                        '{}'::date AS day, now() AS received_at, '{}'::jsonb AS counts",
                day(days_ago),
                Value::Object(counts)
            ),
            &[],
        ))
        .await
        .expect("the row is stored");
    app.db()
        .await
        .execute(
            "INSERT INTO activity_installations (product, installation_id, first_day)
             VALUES ($1, $2, $3)
             ON CONFLICT (product, installation_id)
             DO UPDATE SET first_day = least(activity_installations.first_day, $3)",
            &[&product, &installation, &day(days_ago)],
        )
        .await
        .expect("the installation is stored");
}

fn opened(language: &str, times: f64) -> Vec<(String, f64)> {
    vec![
        (key::event("app_opened"), times),
        (key::dimension("app_opened.language", language), times),
    ]
}

/// A: 10 and 3 days ago; B: 3 days ago (a failed transcription and a crash); C: today;
/// D: 30 days ago only.
pub async fn a_month_of_stories(app: &TestApp) {
    put(app, "install-d", 30, &opened("en", 1.0)).await;
    put(app, "install-a", 10, &opened("en", 2.0)).await;
    let duration = "transcription_completed.duration";
    let mut a = opened("en", 1.0);
    a.extend([
        (key::event("transcription_completed"), 3.0),
        (key::flag("transcription_completed.success"), 2.0),
        (key::measure_count(duration), 3.0),
        (key::measure_sum(duration), 42.0),
        (key::measure_bucket(duration, 1), 2.0),
        (key::measure_bucket(duration, 3), 1.0),
    ]);
    put(app, "install-a", 3, &a).await;
    let mut b = opened("de", 1.0);
    b.extend([
        (key::event("transcription_failed"), 1.0),
        (key::event("crash"), 1.0),
    ]);
    put(app, "install-b", 3, &b).await;
    let mut c = opened("en", 1.0);
    c.extend([
        (key::event("transcription_completed"), 1.0),
        (key::flag("transcription_completed.success"), 1.0),
    ]);
    put(app, "install-c", 0, &c).await;
}

pub async fn roll_all(app: &TestApp, raw_retention_days: u32) {
    let catalog = Catalog::load(None).expect("the built-in catalog loads");
    rollup::bring_all_up_to_date(&pool(app), &catalog, raw_retention_days, Wait::Yes)
        .await
        .expect("rollup runs")
        .expect("the lock is taken when waiting");
}

async fn get(app: &TestApp, path: &str) -> Value {
    let response = app.get(path, Some(ADMIN_KEY)).await;
    assert_eq!(response.status(), 200, "{path}");
    body(response).await
}

/// `{date: value}` of a metric series.
async fn series(app: &TestApp, metric: &str, params: &str) -> Vec<(String, Value)> {
    let from = day(10);
    let to = day(0);
    let body = get(
        app,
        &format!("/api/v1/metrics/{metric}?product=stories&from={from}&to={to}{params}"),
    )
    .await;
    body["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|point| {
            (
                point["date"].as_str().unwrap().to_owned(),
                point["value"].clone(),
            )
        })
        .collect()
}

fn on(points: &[(String, Value)], days_ago: i64) -> Value {
    let date = day(days_ago).to_string();
    points
        .iter()
        .find(|(d, _)| *d == date)
        .map(|(_, v)| v.clone())
        .expect("the day is in the series")
}

#[tokio::test]
async fn active_installations_are_counted_per_window_of_one_seven_and_thirty_days() {
    let app = app().await;
    a_month_of_stories(&app).await;
    roll_all(&app, 400).await;

    let one = series(&app, "active_installations", "&window=1").await;
    let seven = series(&app, "active_installations", "&window=7").await;
    let thirty = series(&app, "active_installations", "&window=30").await;

    assert_eq!(
        [on(&one, 10), on(&one, 3), on(&one, 2), on(&one, 0)],
        [1, 2, 0, 1].map(|n| json!(n))
    );
    assert_eq!(
        [on(&seven, 10), on(&seven, 3), on(&seven, 0)],
        [1, 2, 3].map(|n| json!(n))
    );
    // D (30 days ago) is in the 30 days ending 3 days ago, not in those ending today.
    assert_eq!(
        [on(&thirty, 10), on(&thirty, 3), on(&thirty, 0)],
        [2, 3, 3].map(|n| json!(n))
    );
}

#[tokio::test]
async fn new_and_known_installations_follow_each_installations_first_day() {
    let app = app().await;
    a_month_of_stories(&app).await;
    roll_all(&app, 400).await;

    let new = series(&app, "new_installations", "").await;
    let known = series(&app, "known_installations", "").await;

    assert_eq!(
        [on(&new, 10), on(&new, 9), on(&new, 3), on(&new, 0)],
        [1, 0, 1, 1].map(|n| json!(n))
    );
    assert_eq!(
        [on(&known, 10), on(&known, 9), on(&known, 3), on(&known, 0)],
        [2, 2, 3, 4].map(|n| json!(n))
    );
}

#[tokio::test]
async fn events_are_counted_per_day_and_type_with_the_installations_that_sent_them() {
    let app = app().await;
    a_month_of_stories(&app).await;
    roll_all(&app, 400).await;

    let events = get(
        &app,
        &format!(
            "/api/v1/events?product=stories&from={}&to={}",
            day(3),
            day(2)
        ),
    )
    .await;

    assert_eq!(
        events,
        json!({"product": "stories", "days": [
            {"date": day(3).to_string(), "events": {
                "app_opened": {"count": 2, "installations": 2},
                "crash": {"count": 1, "installations": 1},
                "transcription_completed": {"count": 3, "installations": 1},
                "transcription_failed": {"count": 1, "installations": 1},
            }},
            {"date": day(2).to_string(), "events": {}},
        ]})
    );
}

#[tokio::test]
async fn a_dimension_and_a_measure_are_answered_per_day_from_the_daily_tables() {
    let app = app().await;
    a_month_of_stories(&app).await;
    roll_all(&app, 400).await;
    let range = format!("product=stories&from={}&to={}", day(3), day(3));

    let language = get(
        &app,
        &format!("/api/v1/dimensions/app_opened.language?{range}"),
    )
    .await;
    let duration = get(
        &app,
        &format!("/api/v1/measures/transcription_completed.duration?{range}"),
    )
    .await;

    assert_eq!(
        language["points"][0]["values"],
        json!({"de": {"installations": 1, "amount": 1}, "en": {"installations": 1, "amount": 1}})
    );
    assert_eq!(language["window_days"], 1);
    // Two values <= 5 and one in (15, 30]: the median is in the second bucket, p90 in the fourth.
    assert_eq!(
        duration["points"][0],
        json!({"date": day(3).to_string(), "count": 3, "sum": 42.0, "mean": 14.0, "p50": 5.0, "p90": 30.0})
    );
}

#[tokio::test]
async fn both_stories_rates_are_answered_with_null_where_the_denominator_is_zero() {
    let app = app().await;
    a_month_of_stories(&app).await;
    roll_all(&app, 400).await;

    let success = series(&app, "transcription_success", "").await;
    let crash_free_day = series(&app, "crash_free", "&window=1").await;
    let crash_free_week = series(&app, "crash_free", "&window=7").await;

    // 2 successes of 3 completed + 1 failed; today 1 of 1; nothing 10 days ago.
    assert_eq!(
        [on(&success, 3), on(&success, 0), on(&success, 10)],
        [json!(0.5), json!(1.0), Value::Null]
    );
    // B crashed 3 days ago: 1 of the 2 active that day, 1 of the 3 active in the week to today.
    assert_eq!(on(&crash_free_day, 3), json!(0.5));
    assert_eq!(on(&crash_free_day, 2), Value::Null);
    assert_eq!(on(&crash_free_week, 0), json!(2.0 / 3.0));
}

#[tokio::test]
async fn printernizer_stays_the_default_product_and_an_undeclared_one_is_a_404_naming_it() {
    let app = app().await;
    let range = format!("from={}&to={}", day(3), day(0));

    let default = get(
        &app,
        &format!("/api/v1/metrics/active_installations?{range}"),
    )
    .await;
    let named = get(
        &app,
        &format!("/api/v1/metrics/active_installations?product=printernizer&{range}"),
    )
    .await;
    let unknown = app
        .get(
            "/api/v1/metrics/active_installations?product=nope",
            Some(ADMIN_KEY),
        )
        .await;
    let no_events = app.get("/api/v1/events", Some(ADMIN_KEY)).await;

    assert_eq!(default, named);
    assert_eq!(default["window_days"], 7);
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        body(unknown).await,
        json!({"detail": "No product `nope` is declared"})
    );
    // Printernizer sends reports, not events: every day of its range is empty.
    assert_eq!(no_events.status(), 200);
    let days = body(no_events).await["days"].clone();
    assert!(days
        .as_array()
        .is_some_and(|days| !days.is_empty() && days.iter().all(|d| d["events"] == json!({}))));
}

#[tokio::test]
async fn a_day_whose_raw_rows_retention_deleted_is_still_answered_from_the_daily_tables() {
    let app = app().await;
    // The server's own run must not be the one that rolls the month (it did, or did not, by
    // timing): the month is rolled here, under a retention that keeps it.
    crate::products_ingest::wait_for_the_servers_first_rollup(&app).await;
    a_month_of_stories(&app).await;
    roll_all(&app, 400).await;
    let catalog = Catalog::load(None).expect("the built-in catalog loads");

    let deleted = rollup::prune(&pool(&app), &catalog, 5, Utc::now().date_naive())
        .await
        .expect("retention runs");
    put(&app, "install-e", 0, &opened("fr", 1.0)).await;
    roll_all(&app, 5).await;

    assert_eq!(deleted, 2, "the rows of 10 and 30 days ago");
    let events = get(
        &app,
        &format!(
            "/api/v1/events?product=stories&from={}&to={}",
            day(10),
            day(10)
        ),
    )
    .await;
    assert_eq!(
        events["days"][0]["events"],
        json!({"app_opened": {"count": 2, "installations": 1}})
    );
    let today = series(&app, "active_installations", "&window=1").await;
    assert_eq!(on(&today, 0), 2);
}

#[tokio::test]
async fn a_run_with_no_connection_to_spare_reads_its_days_on_its_own_and_rolls_them_alike() {
    let app = app().await;
    crate::products_ingest::wait_for_the_servers_first_rollup(&app).await;
    a_month_of_stories(&app).await;
    let catalog = Catalog::load(None).expect("the built-in catalog loads");
    let one_connection = tally::store::pool(
        &crate::helpers::serve_config(&app.database_url).database,
        tally::store::Purpose::Queries { connections: 1 },
    )
    .expect("the pool builds");
    let rolled = |pool: deadpool_postgres::Pool| {
        let (app, catalog) = (&app, &catalog);
        async move {
            rollup::recompute_all(&pool, catalog, 400, day(40), day(0))
                .await
                .expect("recompute runs");
            (stories_days(app).await, stories_windows(app).await)
        }
    };

    let alone = rolled(one_connection).await;
    let beside = rolled(pool(&app)).await;

    assert_eq!(alone, beside);
    assert_eq!(
        alone.0.len(),
        2 + 2 + 11 + 4,
        "the keys of the days 30, 10, 3 and 0 ago"
    );
    assert!(alone.1.len() > 30, "a window of each day of the month");
}

#[tokio::test]
async fn retention_deletes_the_day_sets_of_the_days_whose_rows_it_deletes() {
    let app = app().await;
    crate::products_ingest::wait_for_the_servers_first_rollup(&app).await;
    a_month_of_stories(&app).await;
    roll_all(&app, 400).await;
    let db = app.db().await;
    let sets_before = |cutoff: NaiveDate| {
        let db = &db;
        async move {
            db.query_one(
                "SELECT count(*) FROM activity_day_sets WHERE product = $1 AND day < $2",
                &[&STORIES, &cutoff],
            )
            .await
            .expect("sets counted")
            .get::<_, i64>(0)
        }
    };
    assert!(sets_before(day(5)).await > 0, "the month's sets are built");
    let catalog = Catalog::load(None).expect("the built-in catalog loads");

    rollup::prune(&pool(&app), &catalog, 5, Utc::now().date_naive())
        .await
        .expect("retention runs");

    assert_eq!(sets_before(day(5)).await, 0);
    assert!(sets_before(day(0)).await > 0, "the kept days' sets stay");
}

#[tokio::test]
async fn the_public_overview_of_a_product_suppresses_cells_under_the_minimum_cohort() {
    let app = spawn_app_with(|c| {
        c.rollup_interval_secs = 1;
        c.min_cohort = 3;
    })
    .await;
    let languages = ["en", "en", "en", "de", "de", "de", "fr"];
    for (n, language) in languages.iter().enumerate() {
        put(&app, &format!("install-{n}"), 0, &opened(language, 1.0)).await;
    }

    let overview = public_overview_of(&app, STORIES, "active_installations_7d", 7).await;

    // fr (1) is too small; `other` (1) still is, so en (3, after de by value) joins it.
    assert_eq!(
        overview["distributions"]["app_opened.language"],
        json!({"de": 3, "other": 4})
    );
    assert_eq!(overview["active_installations_7d"], 7);
    assert_eq!(overview["as_of"], day(0).to_string());
}

/// `product`'s public overview once the app's own rollup task rolled its installations: once
/// its `active` figure is `n`.
async fn public_overview_of(app: &TestApp, product: &str, active: &str, n: i64) -> Value {
    let started = std::time::Instant::now();
    loop {
        let response = app
            .get(&format!("/api/v1/public/overview?product={product}"), None)
            .await;
        if response.status() == 200 {
            let overview = body(response).await;
            if overview[active] == n {
                return overview;
            }
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no public overview of {product}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_report_products_public_overview_counts_each_installation_by_its_latest_report_in_thirty_days(
) {
    let app = spawn_app_with(|c| {
        c.rollup_interval_secs = 1;
        c.min_cohort = 1;
    })
    .await;
    let os = |name: &str| vec![(key::dimension("os", name), 1.0)];
    put_of(&app, "indexpilot", "pilot-installation-a", 20, &os("linux")).await;
    put_of(&app, "indexpilot", "pilot-installation-a", 5, &os("darwin")).await;
    put_of(&app, "indexpilot", "pilot-installation-b", 12, &os("linux")).await;
    put_of(&app, "indexpilot", "pilot-installation-c", 0, &os("linux")).await;

    let overview = public_overview_of(&app, "indexpilot", "active_installations_30d", 3).await;

    // A by its report of 5 days ago; not the latest day's reports alone (C's).
    assert_eq!(
        overview["distributions"]["os"],
        json!({"darwin": 1, "linux": 2})
    );
    assert_eq!(overview["active_installations_7d"], 2);
    assert_eq!(overview["as_of"], day(0).to_string());
}

/// Stories' ranges of one run.
async fn roll_stories(app: &TestApp) -> Vec<(NaiveDate, NaiveDate)> {
    rolled_stories(app).await.ranges
}

/// What one run did for Stories.
async fn rolled_stories(app: &TestApp) -> rollup::Rolled {
    let catalog = Catalog::load(None).expect("the built-in catalog loads");
    rollup::bring_all_up_to_date(&pool(app), &catalog, 400, Wait::Yes)
        .await
        .expect("rollup runs")
        .expect("the lock is taken when waiting")
        .into_iter()
        .find(|(product, _)| *product == STORIES)
        .expect("stories is rolled")
        .1
}

/// Stories' windows, one line each.
async fn stories_windows(app: &TestApp) -> Vec<String> {
    stories_lines(
        app,
        "SELECT format('%s %s %s %s', day, window_days, key, installations)
         FROM activity_windows WHERE product = $1 ORDER BY 1",
    )
    .await
}

/// Stories' daily sums, one line each.
async fn stories_days(app: &TestApp) -> Vec<String> {
    stories_lines(
        app,
        "SELECT format('%s %s %s %s', day, key, amount, installations)
         FROM activity_daily WHERE product = $1 ORDER BY 1",
    )
    .await
}

/// The lines `select` reads of Stories (`$1`).
async fn stories_lines(app: &TestApp, select: &str) -> Vec<String> {
    app.db()
        .await
        .query(select, &[&STORIES])
        .await
        .expect("the lines are read")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// A month of Stories rolled, then its rows moved a minute back, past the watermark's second
/// of margin (which re-rolls rows received in the second before a run): the next run finds
/// nothing new. Written once the server's own first run is over, so that the test's run is
/// the one that sees them.
async fn a_month_of_stories_rolled() -> TestApp {
    let app = app().await;
    crate::products_ingest::wait_for_the_servers_first_rollup(&app).await;
    a_month_of_stories(&app).await;
    roll_all(&app, 400).await;
    app.db()
        .await
        .execute(
            "UPDATE activity SET received_at = received_at - interval '1 minute'",
            &[],
        )
        .await
        .expect("the rows are backdated");
    app
}

#[tokio::test]
async fn the_keys_of_a_row_are_read_for_the_day_sets_and_sums_by_their_numbers() {
    let app = app().await;
    let keys: Vec<String> = (0..70).map(|n| key::event(&format!("e{n}"))).collect();
    let has = [0, 1, 62, 63, 64, 69];
    put(
        &app,
        "install-wide",
        0,
        &has.map(|n| (keys[n].clone(), 1.0)),
    )
    .await;
    let db = pool(&app).get().await.expect("a connection");
    tally::store::number_registered_since(&db, STORIES, day(0))
        .await
        .expect("numbered");

    let mut installations = std::collections::HashSet::new();
    tally::store::for_each_installation_number(&db, STORIES, |installation, _| {
        installations.insert(installation.to_owned());
    })
    .await
    .expect("the numbers read");
    let mut read = Vec::new();
    tally::store::for_each_day_row(
        &db,
        STORIES,
        &[day(0)],
        |installation, _, row_keys, amounts| {
            read.push((
                installations.contains(installation),
                row_keys.iter().collect::<Vec<i32>>(),
                amounts.iter().collect::<Vec<f64>>(),
            ));
        },
    )
    .await
    .expect("read");

    let numbers = tally::store::key_numbers(&db, &keys)
        .await
        .expect("numbers");
    assert_eq!(read.len(), 1);
    assert!(read[0].0, "the installation has its number");
    let found: Vec<usize> = (0..keys.len())
        .filter(|k| {
            numbers
                .get(&keys[*k])
                .is_some_and(|number| read[0].1.contains(number))
        })
        .collect();
    assert_eq!(found, has);
    assert_eq!(read[0].2, vec![1.0; has.len()], "an amount for each key");
}

#[tokio::test]
async fn a_run_after_new_rows_of_today_reads_only_todays_rows_and_counts_what_a_recompute_counts() {
    let app = a_month_of_stories_rolled().await;
    put(&app, "install-e", 0, &opened("fr", 1.0)).await;
    put(&app, "install-b", 0, &opened("de", 1.0)).await;

    let rolled = rolled_stories(&app).await;

    assert_eq!(
        rolled.rows, 3,
        "today's rows: install-b, install-c and install-e"
    );
    let incremental = stories_windows(&app).await;
    let catalog = Catalog::load(None).expect("the built-in catalog loads");
    rollup::recompute_all(&pool(&app), &catalog, 400, day(60), day(0))
        .await
        .expect("recompute runs");
    assert_eq!(incremental, stories_windows(&app).await);
    let seven = series(&app, "active_installations", "&window=7").await;
    assert_eq!(on(&seven, 0), json!(4), "a, b, c and e");
}

#[tokio::test]
async fn the_days_without_sets_of_an_upgraded_database_are_built_by_the_first_run_that_needs_them()
{
    let app = a_month_of_stories_rolled().await;
    let rolled_before = stories_windows(&app).await;
    // As V23 leaves a database whose windows an earlier version rolled: no sets, no numbers.
    app.db()
        .await
        .batch_execute("DELETE FROM activity_day_sets; DELETE FROM activity_installation_numbers")
        .await
        .expect("the sets and numbers deleted");
    // Registered 30 days ago, so not numbered by the registry: its rows are numbered instead.
    put(&app, "install-d", 0, &opened("en", 1.0)).await;

    let rolled = rolled_stories(&app).await;

    assert_eq!(
        rolled.rows, 10,
        "the rows of today's 30 days (a twice, b, c, d), read again once d was numbered"
    );
    let windows = stories_windows(&app).await;
    let today = day(0).to_string();
    let unchanged = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|line| !line.starts_with(&today))
            .cloned()
            .collect()
    };
    assert_eq!(unchanged(&windows), unchanged(&rolled_before));
    let seven = series(&app, "active_installations", "&window=7").await;
    assert_eq!(on(&seven, 0), json!(4), "a, b, c and d");
}

#[tokio::test]
async fn a_run_with_nothing_new_leaves_todays_windows_and_one_after_a_new_row_rolls_them() {
    let app = a_month_of_stories_rolled().await;
    let today = day(0);

    assert_eq!(roll_stories(&app).await, []);

    // As on the first run of a new day: no windows of today yet.
    app.db()
        .await
        .execute(
            "DELETE FROM activity_windows WHERE product = $1 AND day = $2",
            &[&STORIES, &today],
        )
        .await
        .expect("today's windows deleted");
    assert_eq!(roll_stories(&app).await, [(today, today)]);
    assert_eq!(
        on(&series(&app, "active_installations", "&window=7").await, 0),
        json!(3)
    );

    put(&app, "install-e", 0, &opened("fr", 1.0)).await;
    assert_eq!(roll_stories(&app).await, [(today, today)]);
    let one = series(&app, "active_installations", "&window=1").await;
    let seven = series(&app, "active_installations", "&window=7").await;
    assert_eq!([on(&one, 0), on(&seven, 0)], [json!(2), json!(4)]);
}

#[tokio::test]
async fn recomputing_a_range_past_today_rolls_an_event_product_up_to_today_only() {
    let app = app().await;
    a_month_of_stories(&app).await;
    let catalog = Catalog::load(None).expect("the built-in catalog loads");

    rollup::recompute_all(&pool(&app), &catalog, 400, day(40), day(-5))
        .await
        .expect("recompute runs");

    let db = app.db().await;
    let last: Option<NaiveDate> = db
        .query_one(
            "SELECT max(day) FROM activity_windows WHERE product = $1",
            &[&STORIES],
        )
        .await
        .expect("the windows are read")
        .get(0);
    assert_eq!(last, Some(day(0)));
}

#[tokio::test]
async fn a_roll_that_rewrites_more_than_a_month_analyses_the_activity_tables_and_a_short_one_does_not(
) {
    let app = app().await;
    a_month_of_stories(&app).await;
    // Waits out the server's own first run (the lock); it then sleeps for the test.
    roll_all(&app, 400).await;
    let db = app.db().await;
    let analyses = || async {
        db.query_one(
            "SELECT coalesce(sum(analyze_count), 0)::bigint FROM pg_stat_user_tables
             WHERE schemaname = current_schema()
               AND relname IN ('activity_daily', 'activity_windows')",
            &[],
        )
        .await
        .expect("the statistics are read")
        .get::<_, i64>(0)
    };
    let catalog = Catalog::load(None).expect("the built-in catalog loads");
    let before = analyses().await;

    rollup::recompute_all(&pool(&app), &catalog, 400, day(3), day(0))
        .await
        .expect("recompute runs");
    let after_short = analyses().await;
    rollup::recompute_all(&pool(&app), &catalog, 400, day(40), day(0))
        .await
        .expect("recompute runs");
    let after_long = analyses().await;

    assert_eq!(after_short, before);
    // Both tables, once for each of the built-in catalog's four products.
    assert_eq!(after_long, before + 8);
}
