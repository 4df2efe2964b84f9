use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::helpers::{fresh_report, spawn_app_behind_proxy, spawn_app_with, ProxyMode};

#[tokio::test]
async fn concurrent_requests_for_the_same_installation_and_period_end_as_one_row() {
    let app = spawn_app_with(|config| config.rate_limit_per_hour = 0).await;
    let (_, report) = fresh_report();

    let answers = join_all((0..24).map(|_| app.submit(&report))).await;

    let mut ids = Vec::new();
    for answer in answers {
        assert_eq!(answer.status(), 200);
        ids.push(
            crate::helpers::body(answer).await["submission_id"]
                .as_i64()
                .unwrap(),
        );
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one submission_id for every copy: {ids:?}");
    assert_eq!(app.stored_reports().await, 1);
}

#[tokio::test]
async fn many_concurrent_reports_are_all_stored_and_acknowledged() {
    let app = spawn_app_with(|config| {
        config.batch_max = 8;
        config.ip_rate_per_minute = 0;
    })
    .await;
    let reports: Vec<_> = (0..64).map(|_| fresh_report().1).collect();

    let answers = join_all(reports.iter().map(|report| app.submit(report))).await;

    assert!(answers.iter().all(|answer| answer.status() == 200));
    assert_eq!(app.stored_reports().await, 64);
}

#[tokio::test]
async fn a_batch_the_database_never_answers_fails_every_waiter_within_the_batch_timeout() {
    let (app, proxy) = spawn_app_behind_proxy(|config| config.database.db_timeout_ms = 400).await;
    let (_, warm) = fresh_report();
    assert_eq!(app.submit(&warm).await.status(), 200);

    proxy.set(ProxyMode::Stalled);
    let reports: Vec<_> = (0..6).map(|_| fresh_report().1).collect();
    let started = Instant::now();
    let answers = join_all(reports.iter().map(|report| app.submit(report))).await;
    let waited = started.elapsed();

    for answer in &answers {
        assert_eq!(answer.status(), 503, "a stalled commit is never a 200");
        assert!(answer.headers().contains_key("retry-after"));
    }
    // The batch timeout is twice the database timeout (0.8 s); allow for scheduling.
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");

    proxy.set(ProxyMode::Cut);
    proxy.set(ProxyMode::Open);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stored = app.stored_reports().await;
    assert!((1..=7).contains(&stored), "{stored}");
}

#[tokio::test]
async fn a_batch_cut_off_mid_commit_answers_every_waiter_with_an_error() {
    let (app, proxy) = spawn_app_behind_proxy(|config| config.database.db_timeout_ms = 2_000).await;
    let (_, warm) = fresh_report();
    assert_eq!(app.submit(&warm).await.status(), 200);

    proxy.set(ProxyMode::Stalled);
    let reports: Vec<_> = (0..6).map(|_| fresh_report().1).collect();
    let cut = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.set(ProxyMode::Cut);
    };
    let (answers, ()) = tokio::join!(
        join_all(reports.iter().map(|report| app.submit(report))),
        cut
    );

    for answer in &answers {
        assert_eq!(answer.status(), 503);
    }
    proxy.set(ProxyMode::Open);
    assert_eq!(
        app.stored_reports().await,
        1,
        "nothing of the cut batch was committed"
    );
}

#[tokio::test]
async fn the_same_event_batch_sent_many_times_at_once_in_batches_of_its_own_counts_once() {
    // One request a batch, several batches at once: the copies meet in the database, not in
    // the writer.
    let app = spawn_app_with(|config| {
        config.event_rate_limit_per_hour = 0;
        config.batch_max = 1;
        config.concurrent_batches = 8;
    })
    .await;
    let user = "user_at_once_01";
    let batch = crate::products_ingest::stories_batch(user);

    let answers = join_all(
        (0..24).map(|_| crate::products_ingest::post(&app, "/api/events/batch", None, &batch)),
    )
    .await;

    for answer in answers {
        assert_eq!(answer.status(), 200);
    }
    let stored = crate::products_ingest::stored(&app, "stories").await;
    assert_eq!(
        stored[user]["event/app_opened"].as_f64(),
        Some(1.0),
        "{stored:?}"
    );
}
