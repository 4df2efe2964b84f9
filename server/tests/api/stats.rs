use chrono::{DateTime, Duration, Utc};

use crate::helpers::{
    body, fresh_report, report, spawn_app, spawn_app_with, ADMIN_KEY, INGEST_KEY,
};

#[tokio::test]
async fn summary_is_live_and_exact_and_counts_a_retry_once() {
    let app = spawn_app().await;
    let installation = uuid::Uuid::new_v4().to_string();
    let this_week = report(&installation, Utc::now() - Duration::hours(1));
    let last_week = report(&installation, Utc::now() - Duration::days(7));
    for body in [&this_week, &last_week, &this_week] {
        assert_eq!(app.submit(body).await.status(), 200);
    }
    let (_, other) = fresh_report();
    assert_eq!(app.submit(&other).await.status(), 200);

    let response = app.get("/stats/summary", Some(ADMIN_KEY)).await;

    assert_eq!(response.status(), 200);
    let summary = body(response).await;
    assert_eq!(summary["total_submissions"], 3);
    assert_eq!(summary["unique_installations"], 2);
    let latest = summary["latest_submission_at"].as_str().unwrap();
    assert!(latest.ends_with('Z'), "{latest}");
    let latest: DateTime<Utc> = latest.parse().unwrap();
    assert!(Utc::now() - latest < Duration::minutes(1));
    assert!(summary["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn summary_stays_exact_through_concurrent_retries_and_erasures() {
    let app = spawn_app_with(|config| config.ip_rate_per_minute = 0).await;
    let installations: Vec<String> = (0..12).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let reports: Vec<_> = installations
        .iter()
        .flat_map(|id| (0..3).map(move |week| report(id, Utc::now() - Duration::days(7 * week))))
        .collect();
    // Every report twice, all at once: retries land in the same batch and in later ones.
    let sent = futures_util::future::join_all(
        reports
            .iter()
            .chain(reports.iter())
            .map(|report| app.submit(report)),
    )
    .await;
    assert!(sent.iter().all(|response| response.status() == 200));
    for erased in &installations[..2] {
        let response = app
            .http
            .delete(app.url(&format!("/installation/{erased}")))
            .header("X-API-Key", INGEST_KEY)
            .send()
            .await
            .unwrap();
        let answer = body(response).await;
        assert_eq!(answer["deleted_count"], 3, "{answer}");
    }

    let summary = body(app.get("/stats/summary", Some(ADMIN_KEY)).await).await;

    assert_eq!(summary["total_submissions"], 30);
    assert_eq!(summary["unique_installations"], 10);
    let (reports, installations) = app.counted_over_raw_reports().await;
    assert_eq!((reports, installations), (30, 10));
}

#[tokio::test]
async fn summary_answers_zeros_and_null_on_an_empty_database() {
    let app = spawn_app().await;

    let summary = body(app.get("/stats/summary", Some(ADMIN_KEY)).await).await;

    assert_eq!(summary["total_submissions"], 0);
    assert_eq!(summary["unique_installations"], 0);
    assert!(summary["latest_submission_at"].is_null());
}

#[tokio::test]
async fn admin_routes_answer_403_to_an_ingest_key_and_401_to_none() {
    let app = spawn_app().await;

    let ingest = app.get("/stats/summary", Some(INGEST_KEY)).await;
    let none = app.get("/stats/summary", None).await;
    let wrong = app.get("/stats/summary", Some("guess")).await;
    let bearer = app
        .http
        .get(app.url("/stats/summary"))
        .header("Authorization", format!("Bearer {ADMIN_KEY}"))
        .send()
        .await
        .unwrap();

    assert_eq!(ingest.status(), 403);
    assert!(body(ingest).await["detail"].is_string());
    assert_eq!(none.status(), 401);
    assert_eq!(wrong.status(), 401);
    assert_eq!(bearer.status(), 200);
}

#[tokio::test]
async fn wrong_admin_keys_count_against_the_source_quota_and_a_right_key_is_never_limited() {
    let app = spawn_app_with(|config| config.ip_rate_per_minute = 2).await;

    let guesses = [
        app.get("/stats/summary", Some("guess-1")).await.status(),
        app.get("/stats/summary", Some("guess-2")).await.status(),
        app.get("/stats/summary", Some("guess-3")).await.status(),
    ];
    let rights = [
        app.get("/stats/summary", Some(ADMIN_KEY)).await.status(),
        app.get("/stats/summary", Some(ADMIN_KEY)).await.status(),
        app.get("/stats/summary", Some(ADMIN_KEY)).await.status(),
    ];

    assert_eq!(guesses, [401, 401, 429]);
    assert_eq!(rights, [200, 200, 200]);
}

#[tokio::test]
async fn a_retry_that_waited_on_its_installations_erasure_counts_the_installation_again() {
    let app = spawn_app().await;
    let installation = uuid::Uuid::new_v4();
    let sent = report(&installation.to_string(), Utc::now() - Duration::hours(1));
    assert_eq!(app.submit(&sent).await.status(), 200);
    // An erasure that has taken the reports, not yet the registration (the order of the
    // erasure's statement is the database's choice).
    let (erasure, erasing) = a_transaction_left_open(
        &app,
        &format!("DELETE FROM activity WHERE installation_id = '{installation}'"),
    )
    .await;
    let finish_the_erasure = async {
        until_a_batch_waits_on(&app, erasing).await;
        erasure
            .batch_execute(&format!(
                "DELETE FROM activity_installations WHERE installation_id = '{installation}';
                 INSERT INTO submission_counts (product, submissions, installations)
                 VALUES ('printernizer', -1, -1);
                 COMMIT"
            ))
            .await
            .unwrap();
    };

    let (retry, ()) = tokio::join!(app.submit(&sent), finish_the_erasure);

    assert_eq!(retry.status(), 200);
    assert_summary_and_stored_reports_agree_on(&app, (1, 1)).await;
}

#[tokio::test]
async fn a_first_report_meeting_another_instances_first_report_of_its_installation_counts_it_once()
{
    let app = spawn_app().await;
    let installation = uuid::Uuid::new_v4().to_string();
    // Another instance's batch, not yet committed: the installation's report of an earlier
    // week, new to both.
    let other = a_transaction_left_open(
        &app,
        &another_batch_writing(&app, &installation, 8, 1).await,
    )
    .await;
    let commit_the_other_batch = commit_once_something_waits_on(&app, other);

    let this_week = report(&installation, Utc::now() - Duration::hours(1));
    let (response, ()) = tokio::join!(app.submit(&this_week), commit_the_other_batch);

    assert_eq!(response.status(), 200);
    assert_summary_and_stored_reports_agree_on(&app, (2, 1)).await;
}

#[tokio::test]
async fn an_erasure_meeting_a_batch_that_writes_its_installation_erases_that_report_too() {
    let app = spawn_app().await;
    let installation = uuid::Uuid::new_v4().to_string();
    let last_week = report(&installation, Utc::now() - Duration::days(8));
    assert_eq!(app.submit(&last_week).await.status(), 200);
    // Another instance's batch, not yet committed: this week's report of a known installation.
    let other = a_transaction_left_open(
        &app,
        &another_batch_writing(&app, &installation, 0, 0).await,
    )
    .await;
    let commit_the_other_batch = commit_once_something_waits_on(&app, other);
    let erase = app
        .http
        .delete(app.url(&format!("/installation/{installation}")))
        .header("X-API-Key", INGEST_KEY)
        .send();

    let (erased, ()) = tokio::join!(erase, commit_the_other_batch);

    let erased = body(erased.unwrap()).await;
    assert_eq!(erased["deleted_count"], 2, "{erased}");
    assert_summary_and_stored_reports_agree_on(&app, (0, 0)).await;
}

#[tokio::test]
async fn a_prune_meeting_a_report_of_an_installation_it_would_leave_without_rows_keeps_it_counted()
{
    // The server's own daily prune (at start) keeps everything: only the test's prune deletes.
    let app = spawn_app_with(|config| config.retention.raw_retention_days = 10_000).await;
    let installation = uuid::Uuid::new_v4().to_string();
    // A report from long before retention, counted as the writer counted it then.
    let long_ago = another_batch_writing(&app, &installation, 500, 1).await;
    app.db().await.batch_execute(&long_ago).await.unwrap();
    // Another instance's batch, not yet committed: this week's report of the installation,
    // known by its old one.
    let other = a_transaction_left_open(
        &app,
        &another_batch_writing(&app, &installation, 0, 0).await,
    )
    .await;
    let commit_the_other_batch = commit_once_something_waits_on(&app, other);
    let pool = crate::helpers::query_pool(&app.database_url);
    let catalog = tally::domain::Catalog::load(None).expect("the built-in catalog");
    let prune = tally::rollup::prune(&pool, &catalog, 400, Utc::now().date_naive());

    let (pruned, ()) = tokio::join!(prune, commit_the_other_batch);

    assert_eq!(pruned.expect("prune runs"), 1);
    assert_summary_and_stored_reports_agree_on(&app, (1, 1)).await;
}

/// What another instance's batch does for a report of `installation` ending `days_ago`: it
/// holds the installation's lock (`store::installation_lock`), stores the report and adds it
/// to the summary's counts, with `new` installations. Its key is numbered first, committed, as
/// the writer numbers names outside its batch's transaction.
async fn another_batch_writing(
    app: &crate::helpers::TestApp,
    installation: &str,
    days_ago: i64,
    new: i64,
) -> String {
    app.db()
        .await
        .batch_execute(
            "INSERT INTO activity_key_names (name) VALUES ('counter/job_count')
             ON CONFLICT DO NOTHING",
        )
        .await
        .unwrap();
    format!(
        "SELECT pg_advisory_xact_lock(hashtextextended('printernizer/{installation}',
                                                       hashtext(current_schema())));
         INSERT INTO activity (product, installation_id, day, received_at, keys, amounts,
             report_id, period_start, period_end)
         VALUES ('printernizer', '{installation}',
             ((now() - interval '{days_ago} days') AT TIME ZONE 'UTC')::date, now(),
             ARRAY(SELECT id FROM activity_key_names WHERE name = 'counter/job_count'),
             '{{1}}', nextval('submission_id_seq'),
             now() - interval '{days_ago} days' - interval '7 days',
             now() - interval '{days_ago} days');
         INSERT INTO submission_counts (product, submissions, installations)
         VALUES ('printernizer', 1, {new})"
    )
}

#[tokio::test]
async fn the_counts_each_batch_adds_are_folded_into_one_row_and_the_summary_stays_the_same() {
    let app = spawn_app().await;
    for _ in 0..3 {
        let (_, sent) = fresh_report();
        assert_eq!(app.submit(&sent).await.status(), 200);
    }
    let before = body(app.get("/stats/summary", Some(ADMIN_KEY)).await).await;

    // The upkeep folds every few seconds.
    let db = app.db().await;
    let mut rows = 0;
    for _ in 0..60 {
        rows = db
            .query_one("SELECT count(*) FROM submission_counts", &[])
            .await
            .unwrap()
            .get::<_, i64>(0);
        if rows == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }

    assert_eq!(rows, 1, "the batches' rows were not folded");
    let after = body(app.get("/stats/summary", Some(ADMIN_KEY)).await).await;
    for field in [
        "total_submissions",
        "unique_installations",
        "latest_submission_at",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(after["total_submissions"], 3, "{after}");
    assert_eq!(after["unique_installations"], 3, "{after}");
}

/// The summary and the stored rows both count `(reports, installations)`.
async fn assert_summary_and_stored_reports_agree_on(
    app: &crate::helpers::TestApp,
    counts: (i64, i64),
) {
    let summary = body(app.get("/stats/summary", Some(ADMIN_KEY)).await).await;
    assert_eq!(app.counted_over_raw_reports().await, counts);
    assert_eq!(summary["total_submissions"], counts.0, "{summary}");
    assert_eq!(summary["unique_installations"], counts.1, "{summary}");
}

/// A connection whose transaction has run `statements` and stays open, and its backend's pid.
async fn a_transaction_left_open(
    app: &crate::helpers::TestApp,
    statements: &str,
) -> (tokio_postgres::Client, i32) {
    let db = app.db().await;
    db.batch_execute(&format!("BEGIN; {statements}"))
        .await
        .unwrap();
    let pid = db
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    (db, pid)
}

/// Commits `other` (a transaction left open and its backend) once a backend waits on it.
async fn commit_once_something_waits_on(
    app: &crate::helpers::TestApp,
    (other, blocker): (tokio_postgres::Client, i32),
) {
    until_a_batch_waits_on(app, blocker).await;
    other.batch_execute("COMMIT").await.unwrap();
}

/// Waits until a backend waits on the transaction of the backend `blocker`.
async fn until_a_batch_waits_on(app: &crate::helpers::TestApp, blocker: i32) {
    let db = app.db().await;
    for _ in 0..200 {
        let waiting: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                &[&blocker],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("nothing waited on the transaction left open");
}
