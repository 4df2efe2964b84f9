//! Access and erasure for every product (`/installation/{id}?product=`): the product's own
//! key, or none for a keyless one; the rows and the registration go at once, the daily tables
//! at the next rollup.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::catalog::{CatalogFile, KILN};
use crate::helpers::{
    at_days_ago, body, date_days_ago, query_pool, spawn_app_with, TestApp, ADMIN_KEY,
};
use crate::products_ingest::wait_for_the_servers_first_rollup;

const PRINTERNIZER_KEY: &str = "pz-key";
const INDEXPILOT_KEY: &str = "ip-key";
const FRANKLIN_KEY: &str = "phc_franklin";
const KILN_KEY: &str = "kiln-key";

async fn app(catalog: Option<&CatalogFile>) -> TestApp {
    let catalog = catalog.map(|file| file.0.clone());
    spawn_app_with(|c| {
        let mut keys = vec![
            PRINTERNIZER_KEY.to_owned(),
            format!("indexpilot:{INDEXPILOT_KEY}"),
            format!("franklinwh:{FRANKLIN_KEY}"),
        ];
        if catalog.is_some() {
            keys.push(format!("kiln:{KILN_KEY}"));
        }
        c.ingest_keys = keys.iter().map(|key| key.parse().expect("a key")).collect();
        c.catalog = catalog;
        c.rate_limit_per_hour = 0;
        c.ip_rate_per_minute = 0;
        // Only the test's runs roll: the server's own would hide a mark a run lost.
        c.rollup_interval_secs = 3_600;
    })
    .await
}

fn stories_batch(user: &str, days_ago: &[i64]) -> Value {
    let events: Vec<Value> = days_ago
        .iter()
        .map(|days| json!({"event_type": "app_opened", "timestamp": at_days_ago(*days), "properties": {"language": "de"}}))
        .collect();
    json!({"user_id": user, "events": events})
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    json: Option<&Value>,
) -> reqwest::Response {
    let mut request = app.http.request(method, app.url(path));
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    if let Some(json) = json {
        request = request.json(json);
    }
    request.send().await.expect("request sent")
}

/// Sends `json` to an ingest route, which must take it.
async fn ingest(app: &TestApp, path: &str, key: Option<&str>, json: &Value) {
    let response = send(app, reqwest::Method::POST, path, key, Some(json)).await;
    assert_eq!(response.status(), 200, "{path}");
}

async fn erase(app: &TestApp, id: &str, product: &str, key: Option<&str>) -> reqwest::Response {
    let path = format!("/installation/{id}?product={product}");
    send(app, reqwest::Method::DELETE, &path, key, None).await
}

/// Rolls every product once what was just written is behind the rollup's watermark.
async fn roll(app: &TestApp) {
    let catalog = tally::domain::Catalog::load(None).expect("the built-in catalog loads");
    let catalog: &'static tally::domain::Catalog = Box::leak(Box::new(catalog));
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    tally::rollup::bring_all_up_to_date(
        &query_pool(&app.database_url),
        catalog,
        400,
        tally::rollup::Wait::Yes,
    )
    .await
    .expect("the rollup runs");
}

/// `app_opened` per day of the last two days, as `/api/v1/events` counts them.
async fn opened(app: &TestApp) -> Vec<Value> {
    let path = format!(
        "/api/v1/events?product=stories&from={}&to={}",
        date_days_ago(1),
        date_days_ago(0)
    );
    let answer = body(app.get(&path, Some(ADMIN_KEY)).await).await;
    answer["days"]
        .as_array()
        .expect("days")
        .iter()
        .map(|day| day["events"]["app_opened"]["count"].clone())
        .collect()
}

/// The number of days `product` has stored of `installation`, and whether it is registered.
async fn stored_of(app: &TestApp, product: &str, installation: &str) -> (i64, i64) {
    let db = app.db().await;
    let count = |sql: &'static str| {
        let db = &db;
        async move {
            db.query_one(sql, &[&product, &installation])
                .await
                .expect("counted")
                .get::<_, i64>(0)
        }
    };
    (
        count("SELECT count(DISTINCT day) FROM activity_rows WHERE product = $1 AND installation_id = $2")
            .await,
        count("SELECT count(*) FROM activity_installations WHERE product = $1 AND installation_id = $2")
            .await,
    )
}

#[tokio::test]
async fn a_stories_installation_erases_itself_without_a_key_and_leaves_the_daily_tables_at_the_next_rollup(
) {
    let app = app(None).await;
    for batch in [
        stories_batch("user_leaving", &[1, 0, 0]),
        stories_batch("user_staying", &[1, 0]),
    ] {
        ingest(&app, "/api/events/batch", None, &batch).await;
    }
    roll(&app).await;
    assert_eq!(opened(&app).await, [json!(2), json!(3)]);

    let response = erase(&app, "user_leaving", "stories", None).await;

    assert_eq!(response.status(), 200);
    let answer = body(response).await;
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["deleted_count"], 2, "{answer}");
    assert_eq!(
        answer["removed"],
        json!({"rows": 2, "registrations": 1, "days_to_reroll": 2})
    );
    assert_eq!(stored_of(&app, "stories", "user_leaving").await, (0, 0));
    assert_eq!(stored_of(&app, "stories", "user_staying").await, (2, 1));
    roll(&app).await;
    assert_eq!(opened(&app).await, [json!(1), json!(1)]);
}

#[tokio::test]
async fn access_shows_every_stored_day_of_a_stories_installation_and_no_one_elses() {
    let app = app(None).await;
    for batch in [
        stories_batch("user_mine_01", &[1, 0]),
        stories_batch("user_other_1", &[0]),
    ] {
        ingest(&app, "/api/events/batch", None, &batch).await;
    }

    let path = "/installation/user_mine_01?product=stories";
    let response = send(&app, reqwest::Method::GET, path, None, None).await;

    assert_eq!(response.status(), 200);
    let answer = body(response).await;
    assert_eq!(answer["installation_id"], "user_mine_01");
    assert_eq!(answer["product"], "stories");
    let days: Vec<&Value> = answer["days"]
        .as_array()
        .expect("days")
        .iter()
        .map(|day| &day["day"])
        .collect();
    assert_eq!(
        days,
        [&json!(date_days_ago(1)), &json!(date_days_ago(0))],
        "{answer}"
    );
    assert_eq!(
        answer["days"][0]["counts"]["event/app_opened"], 1.0,
        "{answer}"
    );
}

/// Today's day of `user` in two parts: one event folded by a run, two appended after it. The
/// server's own rollup folds nothing meanwhile: its first run is over, the next an hour away.
async fn one_event_folded_and_two_appended(app: &TestApp, user: &str) {
    wait_for_the_servers_first_rollup(app).await;
    ingest(app, "/api/events/batch", None, &stories_batch(user, &[0])).await;
    roll(app).await;
    ingest(
        app,
        "/api/events/batch",
        None,
        &stories_batch(user, &[0, 0]),
    )
    .await;
}

#[tokio::test]
async fn a_day_part_folded_and_part_still_appended_is_shown_summed_and_erased_whole() {
    let app = app(None).await;
    let user = "user_half_folded";
    one_event_folded_and_two_appended(&app, user).await;
    let db = app.db().await;
    let rows = |table: &'static str| {
        let db = &db;
        async move {
            db.query_one(
                &format!("SELECT count(*) FROM {table} WHERE installation_id = $1"),
                &[&user],
            )
            .await
            .expect("rows counted")
            .get::<_, i64>(0)
        }
    };
    assert_eq!(
        (
            rows("activity").await,
            rows("activity_added").await,
            rows("activity_installation_numbers").await
        ),
        (1, 1, 1)
    );

    let path = format!("/installation/{user}?product=stories");
    let access = body(send(&app, reqwest::Method::GET, &path, None, None).await).await;
    assert_eq!(access["days"].as_array().map(Vec::len), Some(1), "{access}");
    assert_eq!(
        access["days"][0]["counts"]["event/app_opened"], 3.0,
        "{access}"
    );
    assert_eq!(
        access["days"][0]["counts"]["dim/app_opened.language/de"], 3.0,
        "{access}"
    );

    let erased = body(erase(&app, user, "stories", None).await).await;
    assert_eq!(erased["deleted_count"], 1, "{erased}");
    assert_eq!(
        (
            rows("activity").await,
            rows("activity_added").await,
            rows("activity_installation_numbers").await
        ),
        (0, 0, 0)
    );
    // The next run's fold has nothing of the installation to bring back.
    roll(&app).await;
    assert_eq!(stored_of(&app, "stories", user).await, (0, 0));
    assert_eq!(rows("activity_installation_numbers").await, 0);
}

#[tokio::test]
async fn a_number_that_a_run_gave_while_the_installation_was_erased_goes_with_the_next_run() {
    let app = app(None).await;
    let user = "user_numbered_in_a_race";
    one_event_folded_and_two_appended(&app, user).await;
    erase(&app, user, "stories", None).await;
    // As a run numbering the installation's rows, read before the erasure committed, leaves it.
    let db = app.db().await;
    db.execute(
        "INSERT INTO activity_installation_numbers (product, installation_id)
         VALUES ('stories', $1)",
        &[&user],
    )
    .await
    .expect("the number is given");

    roll(&app).await;

    let numbers: i64 = db
        .query_one(
            "SELECT count(*) FROM activity_installation_numbers WHERE installation_id = $1",
            &[&user],
        )
        .await
        .expect("numbers counted")
        .get(0);
    assert_eq!(
        numbers, 0,
        "the erasure's marked days make the run look for orphans"
    );
}

#[tokio::test]
async fn a_keyed_products_erasure_takes_its_own_key_only() {
    let app = app(None).await;
    let id = "0123456789abcdef";

    let without = erase(&app, id, "indexpilot", None).await;
    let wrong = erase(&app, id, "indexpilot", Some("not-a-key")).await;
    let others = erase(&app, id, "indexpilot", Some(PRINTERNIZER_KEY)).await;
    let admin = erase(&app, id, "indexpilot", Some(ADMIN_KEY)).await;
    let own = erase(&app, id, "indexpilot", Some(INDEXPILOT_KEY)).await;

    assert_eq!(without.status(), 401);
    assert_eq!(wrong.status(), 401);
    assert_eq!(others.status(), 403);
    assert_eq!(admin.status(), 401);
    assert_eq!(own.status(), 200);
    assert_eq!(body(own).await["deleted_count"], 0);
}

async fn indexpilot_active_today(app: &TestApp) -> Value {
    let path = format!(
        "/api/v1/metrics/active_installations?product=indexpilot&from={}&to={}&window=1",
        date_days_ago(0),
        date_days_ago(0)
    );
    body(app.get(&path, Some(ADMIN_KEY)).await).await["points"][0]["value"].clone()
}

#[tokio::test]
async fn an_indexpilot_installation_is_erased_with_its_key_and_the_next_rollup_forgets_it() {
    let app = app(None).await;
    let report = |id: &str| {
        json!({
            "installation_id": id, "version": "1.0.0", "timestamp": at_days_ago(0),
            "metrics": {"indexes_created": 4}, "environment": {"os": "linux"}
        })
    };
    for id in ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"] {
        let response = send(
            &app,
            reqwest::Method::POST,
            "/api/v1/telemetry",
            Some(INDEXPILOT_KEY),
            Some(&report(id)),
        )
        .await;
        assert_eq!(response.status(), 200);
    }
    roll(&app).await;
    assert_eq!(indexpilot_active_today(&app).await, 2);

    let response = erase(&app, "aaaaaaaaaaaaaaaa", "indexpilot", Some(INDEXPILOT_KEY)).await;

    assert_eq!(response.status(), 200);
    assert_eq!(body(response).await["removed"]["registrations"], 1);
    roll(&app).await;
    assert_eq!(indexpilot_active_today(&app).await, 1);
}

#[tokio::test]
async fn a_franklinwh_installation_is_erased_with_franklinwhs_key() {
    let app = app(None).await;
    let capture = json!({
        "api_key": FRANKLIN_KEY, "event": "cli_command_executed",
        "properties": {"distinct_id": "anonymous", "command": "status", "franklin_version": "0.6.4"}
    });
    ingest(&app, "/capture/", None, &capture).await;

    let response = erase(&app, "anonymous", "franklinwh", Some(FRANKLIN_KEY)).await;

    assert_eq!(response.status(), 200);
    assert_eq!(body(response).await["deleted_count"], 1);
    assert_eq!(stored_of(&app, "franklinwh", "anonymous").await, (0, 0));
}

#[tokio::test]
async fn a_fifth_product_from_a_catalog_file_has_access_and_erasure_too() {
    let file = CatalogFile::new(KILN);
    let app = app(Some(&file)).await;
    let report = json!({
        "installation_id": "00ff00ff00ff00ff", "version": "2.0.0", "timestamp": at_days_ago(0),
        "metrics": {"firings": 7}, "environment": {"glaze": "matte"}
    });
    ingest(&app, "/api/v1/telemetry", Some(KILN_KEY), &report).await;
    let path = "/installation/00ff00ff00ff00ff?product=kiln";

    let access = send(&app, reqwest::Method::GET, path, Some(KILN_KEY), None).await;
    let erased = erase(&app, "00ff00ff00ff00ff", "kiln", Some(KILN_KEY)).await;

    assert_eq!(access.status(), 200);
    assert_eq!(
        body(access).await["days"][0]["counts"]["counter/firings"],
        7.0
    );
    assert_eq!(erased.status(), 200);
    assert_eq!(body(erased).await["deleted_count"], 1);
    assert_eq!(stored_of(&app, "kiln", "00ff00ff00ff00ff").await, (0, 0));
}

#[tokio::test]
async fn an_undeclared_product_is_404_and_an_id_its_clients_never_send_is_422() {
    let app = app(None).await;

    let undeclared = erase(&app, "user_aaaaaaaa", "nosuch", None).await;
    let short = erase(&app, "short", "stories", None).await;
    let address = erase(&app, "alice@example.com", "stories", None).await;
    let not_a_uuid = erase(
        &app,
        "user_aaaaaaaa",
        "printernizer",
        Some(PRINTERNIZER_KEY),
    )
    .await;

    assert_eq!(undeclared.status(), 404);
    assert!(body(undeclared).await["detail"]
        .as_str()
        .expect("a message")
        .contains("nosuch"));
    for refused in [short, address, not_a_uuid] {
        assert_eq!(refused.status(), 422);
        assert_eq!(
            body(refused).await["detail"][0]["loc"],
            json!(["path", "installation_id"])
        );
    }
}

/// How many installations had `app_opened` on the day `days_ago`, as the daily table says.
async fn opened_by(db: &tokio_postgres::Client, days_ago: i64) -> Option<i32> {
    let day = (Utc::now() - Duration::days(days_ago)).date_naive();
    db.query_opt(
        "SELECT installations FROM activity_daily
         WHERE product = 'stories' AND day = $1 AND key = 'event/app_opened'",
        &[&day],
    )
    .await
    .expect("the daily table is read")
    .map(|row| row.get(0))
}

async fn until_a_statement_waits(db: &tokio_postgres::Client, statement: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let pattern = format!("%{statement}%");
    loop {
        let waiting: bool = db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                                WHERE wait_event_type = 'Lock' AND query LIKE $1)",
                &[&pattern],
            )
            .await
            .expect("pg_stat_activity is read")
            .get(0);
        if waiting {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {statement} waited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_stories_erasure_while_a_run_rolls_its_day_is_rolled_by_the_next_run() {
    let app = app(None).await;
    for user in ["user_one_0001", "user_two_0002", "user_three_03"] {
        let batch = stories_batch(user, &[3]);
        ingest(&app, "/api/events/batch", None, &batch).await;
    }
    roll(&app).await;
    let db = app.db().await;
    // Received an hour ago: behind every watermark, so only a mark makes the day roll again.
    db.batch_execute("UPDATE activity SET received_at = received_at - interval '1 hour'")
        .await
        .expect("backdated");
    assert_eq!(opened_by(&db, 3).await, Some(3));
    let pool = query_pool(&app.database_url);
    let erase_in_store = |user: &'static str| {
        let pool = pool.clone();
        async move {
            let id = tally::domain::activity::ClientId::parse(user).expect("an id");
            tally::store::delete_activity_installation(&pool, "stories", &id)
                .await
                .expect("the erasure runs");
        }
    };
    // An earlier erasure marked the day; the next run reads that mark, counts the day's
    // installations into `activity_daily`, then waits to replace Stories' windows (rows locked:
    // the other products roll first and must not wait).
    erase_in_store("user_three_03").await;
    let blocker = app.db().await;
    blocker
        .batch_execute("BEGIN; SELECT 1 FROM activity_windows WHERE product = 'stories' FOR UPDATE")
        .await
        .expect("locked");
    let run = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let catalog = tally::domain::Catalog::load(None).expect("the built-in catalog");
            let catalog: &'static tally::domain::Catalog = Box::leak(Box::new(catalog));
            tally::rollup::bring_all_up_to_date(&pool, catalog, 400, tally::rollup::Wait::Yes)
                .await
                .map(|rolled| rolled.is_some())
        })
    };
    until_a_statement_waits(&db, "DELETE FROM activity_windows").await;

    // Marks the same day again while the run has already counted the installation.
    erase_in_store("user_two_0002").await;
    blocker.batch_execute("COMMIT").await.expect("unlocked");
    assert!(run.await.expect("joined").expect("the run rolls"));
    roll(&app).await;

    assert_eq!(opened_by(&db, 3).await, Some(1));
}

#[tokio::test]
async fn an_erasure_during_a_fold_waits_for_it_and_then_erases_what_it_folded() {
    let app = app(None).await;
    let user = "user_mid_fold";
    one_event_folded_and_two_appended(&app, user).await;
    let db = app.db().await;
    // The fold takes every appended row first, then waits to add them into the folded day
    // this holds: it is paused holding the installation's appended rows, as a fold is while it
    // sums a minute of them.
    let blocker = app.db().await;
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM activity WHERE installation_id = '{user}' FOR UPDATE"
        ))
        .await
        .expect("the folded day locked");
    let pool = query_pool(&app.database_url);
    let fold = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut client = pool.get().await.expect("a connection");
            tally::store::fold_added(&mut client).await
        })
    };
    until_a_statement_waits(&db, "INSERT INTO activity AS stored").await;

    let erasure = {
        let http = app.http.clone();
        let url = app.url(&format!("/installation/{user}?product=stories"));
        tokio::spawn(async move { http.delete(url).send().await.expect("request sent") })
    };
    // The erasure waits for the fold's appended rows; the fold does not wait for the erasure.
    until_a_statement_waits(&db, "DELETE FROM activity_added WHERE product").await;
    blocker.batch_execute("COMMIT").await.expect("unlocked");

    assert_eq!(fold.await.expect("joined").expect("the fold commits"), 1);
    let erased = erasure.await.expect("joined");
    assert_eq!(erased.status(), 200);
    let erased = body(erased).await;
    assert_eq!(
        erased["removed"],
        json!({"rows": 1, "registrations": 1, "days_to_reroll": 1}),
        "{erased}"
    );
    assert_eq!(stored_of(&app, "stories", user).await, (0, 0));
    roll(&app).await;
    assert_eq!(stored_of(&app, "stories", user).await, (0, 0));
}
