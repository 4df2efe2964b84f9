//! The group-commit writer on a real database: what it writes when a row is refused, when a
//! sender stops waiting, and which time a report is stamped with.
//!
//! These drive `Writer` directly. It runs on a thread of its own, so a test whose jobs must
//! share one batch holds the writer's batch before them on a lock (`in_one_batch`): the
//! batches are known, not timed.

use std::future::Future;
use std::process::Stdio;
use std::task::Poll;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use tally::domain::activity::Folded;
use tally::domain::adapters::printernizer;
use tally::domain::{Catalog, Rules};
use tally::store::{Counted, Purpose, WriteError, Writer, WriterConfig};

use crate::helpers::{
    body, free_port, fresh_report, fresh_schema, psql, query_pool, report, serve_config, spawn_app,
    stop_with_sigterm, tally_command, wait_for_health, TestApp, ADMIN_KEY, INGEST_KEY,
};
use crate::products_ingest::{stored, stories_batch};

fn catalog() -> &'static Catalog {
    static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    CATALOG.get_or_init(|| Catalog::load(None).expect("the built-in catalog"))
}

fn rules() -> Rules {
    Rules {
        raw_retention: chrono::Duration::days(400),
        report: catalog().printernizer(),
    }
}

fn parsed(body: &serde_json::Value) -> Folded {
    let bytes = serde_json::to_vec(body).expect("JSON");
    printernizer::fold(&bytes, &rules(), Utc::now()).expect("a valid report")
}

/// A Stories batch as its route folds it.
fn events(batch: &serde_json::Value) -> Folded {
    let stories = catalog()
        .product("stories")
        .expect("Stories in the catalog");
    let bytes = serde_json::to_vec(batch).expect("JSON");
    tally::domain::adapters::events::fold_batch(&bytes, stories, Utc::now()).expect("a valid batch")
}

/// A writer on the app's schema, one batch at a time.
fn writer(app: &TestApp) -> Writer {
    let pool = tally::store::pool(
        &serve_config(&app.database_url).database,
        Purpose::Writer { connections: 1 },
    )
    .expect("the writer's pool");
    Writer::start(
        pool,
        WriterConfig {
            batch_max: 64,
            queue_capacity: 64,
            concurrent_batches: 1,
            batch_timeout: Duration::from_secs(30),
        },
    )
    .expect("the writer starts")
    .0
}

/// Refuses every row of `installation` in `table` (for the test): the database's error, not ours.
async fn refuse_rows_of(app: &TestApp, table: &str, installation: &str) {
    app.db()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.installation_id = '{installation}' THEN
                 RAISE EXCEPTION 'refused by the test';
               END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER refuse_one BEFORE INSERT OR UPDATE ON {table}
               FOR EACH ROW EXECUTE FUNCTION refuse_one();"
        ))
        .await
        .expect("trigger created");
}

#[tokio::test]
async fn a_row_the_database_refuses_fails_alone_and_the_rest_of_its_batch_is_stored() {
    let app = spawn_app().await;
    let reports: Vec<(String, serde_json::Value)> = (0..8).map(|_| fresh_report()).collect();
    refuse_rows_of(&app, "activity", &reports[5].0).await;
    let writer = writer(&app);

    let answers = in_one_batch(&app, &writer, reports.iter().map(|(_, b)| parsed(b))).await;

    for (n, answer) in answers.iter().enumerate() {
        match (n, answer) {
            (5, Err(WriteError::Refused(_))) => {}
            (5, other) => panic!("the refused row answered {other:?}"),
            (_, Ok(stored)) => assert!(stored.report.expect("a report's outcome").inserted),
            (_, Err(error)) => panic!("report {n} failed with its neighbour: {error:?}"),
        }
    }
    assert_eq!(app.stored_reports().await, 7);
    let (reports, installations) = app.counted_over_raw_reports().await;
    let summary = body(app.get("/stats/summary", Some(ADMIN_KEY)).await).await;
    assert_eq!(summary["total_submissions"], reports);
    assert_eq!(reports, installations);
}

#[tokio::test]
async fn a_refused_report_answers_500_with_no_internals_and_its_cause_is_logged_whole() {
    let (schema, url) = fresh_schema();
    let port = free_port();
    let mut child = tally_command()
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("TALLY_BIND", format!("127.0.0.1:{port}"))
        .env("TALLY_INGEST_KEYS", INGEST_KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tally starts");
    wait_for_health(port).await;
    let (installation, body_of) = fresh_report();
    assert!(psql(&format!(
        "SET search_path = {schema};
         CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
         CREATE TRIGGER refuse_one BEFORE INSERT ON activity
           FOR EACH ROW EXECUTE FUNCTION refuse_one();"
    ))
    .success());

    let answer = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/submit"))
        .header("X-API-Key", INGEST_KEY)
        .json(&body_of)
        .send()
        .await
        .expect("an answer");

    assert_eq!(answer.status(), 500);
    let detail = body(answer).await;
    assert_eq!(
        detail,
        serde_json::json!({"detail": "Internal server error"})
    );
    stop_with_sigterm(&mut child).await;
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut logs)
        .expect("the logs");
    let answered: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("answering 500"))
        .collect();
    assert_eq!(answered.len(), 1, "one log line per 500:\n{logs}");
    // The whole chain, outermost first, down to the database's own words and SQLSTATE.
    assert!(
        answered[0].contains(
            "Internal server error: the database refused the report: \
             the database refused the statement: refused by the test (SQLSTATE P0001)"
        ),
        "{}",
        answered[0]
    );
    assert!(
        answered[0].contains("\"route\":\"/submit\""),
        "{}",
        answered[0]
    );
    assert!(
        !logs.contains(&installation),
        "the installation id reached the log"
    );
}

#[tokio::test]
async fn a_batch_resent_within_one_batch_of_events_and_reports_counts_once_beside_them() {
    let app = spawn_app().await;
    let writer = writer(&app);
    let (ada, bo) = ("user_ada_0001", "user_bo_00002");
    let sent = stories_batch(ada);
    let (_, report) = fresh_report();
    let jobs = [
        events(&sent),
        events(&sent),
        events(&stories_batch(bo)),
        parsed(&report),
    ];

    let answers = in_one_batch(&app, &writer, jobs).await;

    let answers: Vec<_> = answers
        .into_iter()
        .map(|answer| answer.expect("stored"))
        .collect();
    let counted: Vec<bool> = answers.iter().map(|answer| answer.counted).collect();
    assert_eq!(counted, [true, false, true, true]);
    assert!(answers[3].report.expect("the report's outcome").inserted);
    let days = stored(&app, "stories").await;
    assert_eq!(days[ada]["event/app_opened"], 1.0);
    assert_eq!(days[bo]["event/app_opened"], 1.0);
    assert_eq!(app.stored_reports().await, 1);
    // The fingerprint outlives its batch: the same batch later is not counted again.
    let again = writer.store(events(&sent)).await.expect("stored");
    assert!(!again.counted);
    assert_eq!(stored(&app, "stories").await[ada]["event/app_opened"], 1.0);
}

#[tokio::test]
async fn an_event_batch_the_database_refuses_keeps_no_fingerprint_and_counts_when_resent() {
    let app = spawn_app().await;
    let (refused, kept) = ("user_refused1", "user_kept_001");
    refuse_rows_of(&app, "activity_added", refused).await;
    let writer = writer(&app);
    let sent = stories_batch(refused);

    let jobs = [events(&sent), events(&stories_batch(kept))];
    let answers = in_one_batch(&app, &writer, jobs).await;

    assert!(
        matches!(answers[0], Err(WriteError::Refused(_))),
        "{:?}",
        answers[0]
    );
    assert!(answers[1].as_ref().expect("the other batch stored").counted);
    app.db()
        .await
        .batch_execute("DROP TRIGGER refuse_one ON activity_added")
        .await
        .expect("trigger dropped");
    let resent = writer.store(events(&sent)).await.expect("stored");
    assert!(resent.counted, "the refused batch's fingerprint was kept");
    let days = stored(&app, "stories").await;
    assert_eq!(days[refused]["event/app_opened"], 1.0);
    assert_eq!(days[kept]["event/app_opened"], 1.0);
}

/// Stores `jobs` as one batch, and answers each. A batch of events is held on a lock the test
/// takes while the jobs queue behind it; once it commits, the writer takes every job queued
/// into its next batch.
async fn in_one_batch(
    app: &TestApp,
    writer: &Writer,
    jobs: impl IntoIterator<Item = Folded>,
) -> Vec<Result<Counted, WriteError>> {
    let held = HeldBatch::on(
        app,
        writer,
        "batch_fingerprints",
        events(&stories_batch("user_held_001")),
    )
    .await;
    let mut all = std::pin::pin!(join_all(jobs.into_iter().map(|job| writer.store(job))));
    // One poll queues every job: `store` sends its job before it first waits.
    std::future::poll_fn(|cx| {
        assert!(all.as_mut().poll(cx).is_pending(), "answered while held");
        Poll::Ready(())
    })
    .await;
    held.release().await.expect("the held batch stored");
    all.await
}

/// A batch of one job waiting on a table the test holds locked: every batch after it queues
/// until `release`.
struct HeldBatch {
    db: tokio_postgres::Client,
    stored: tokio::task::JoinHandle<Result<Counted, WriteError>>,
}

impl HeldBatch {
    async fn on(app: &TestApp, writer: &Writer, table: &str, job: Folded) -> Self {
        let db = app.db().await;
        db.batch_execute(&format!("BEGIN; LOCK TABLE {table} IN EXCLUSIVE MODE"))
            .await
            .expect("locked");
        let stored = tokio::spawn({
            let writer = writer.clone();
            async move { writer.store(job).await }
        });
        until_a_session_waits_on(app, table).await;
        Self { db, stored }
    }

    /// Unlocks the table; the held job's answer.
    async fn release(self) -> Result<Counted, WriteError> {
        self.db.batch_execute("COMMIT").await.expect("unlocked");
        self.stored.await.expect("the held batch's task")
    }
}

/// Waits until a session of the test's schema waits for a lock on `table`.
async fn until_a_session_waits_on(app: &TestApp, table: &str) {
    let db = app.db().await;
    let started = std::time::Instant::now();
    loop {
        let waiting: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                 WHERE NOT l.granted AND c.relname = $1
                   AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $2)",
                &[&table, &app.schema],
            )
            .await
            .expect("pg_locks")
            .get(0);
        if waiting > 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no session waits"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn reports_whose_senders_stopped_waiting_are_not_written() {
    let app = spawn_app().await;
    let writer = writer(&app);
    // The first batch waits on a lock the test holds; five more reports queue behind it.
    let first = HeldBatch::on(
        &app,
        &writer,
        "submission_counts",
        parsed(&fresh_report().1),
    )
    .await;

    // Their senders give up (as a handler does at its deadline, or a client that hangs up).
    let queued: Vec<_> = (0..5).map(|_| fresh_report().1).collect();
    let gave_up =
        join_all(queued.iter().map(|body| {
            tokio::time::timeout(Duration::from_millis(50), writer.store(parsed(body)))
        }))
        .await;
    assert!(gave_up.iter().all(Result::is_err));
    assert!(first.release().await.is_ok());
    let (_, last) = fresh_report();
    assert!(writer.store(parsed(&last)).await.is_ok());

    assert_eq!(app.stored_reports().await, 2);
}

#[tokio::test]
async fn a_report_sent_through_an_instance_whose_clock_is_behind_is_registered_and_rolled() {
    const FAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
    assert!(
        std::path::Path::new(FAKETIME).exists(),
        "{FAKETIME} is missing: install with: apt-get install -y faketime"
    );
    let (schema, url) = fresh_schema();
    let port = free_port();
    // The instance's clock runs five minutes behind the database's.
    let mut child = tally_command()
        .arg("serve")
        .env("LD_PRELOAD", FAKETIME)
        .env("FAKETIME", "-5m")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("DATABASE_URL", &url)
        .env("TALLY_BIND", format!("127.0.0.1:{port}"))
        .env("TALLY_INGEST_KEYS", INGEST_KEY)
        .env("TALLY_ADMIN_KEYS", ADMIN_KEY)
        .env("TALLY_ROLLUP_INTERVAL_SECS", "3600")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tally starts");
    wait_for_health(port).await;
    let pool = query_pool(&url);
    // The instance's first rollup run has taken its watermark (the database's time).
    let started = std::time::Instant::now();
    while !psql(&format!(
        "DO $$ BEGIN PERFORM 1 FROM {schema}.rollup_state;
           IF NOT FOUND THEN RAISE EXCEPTION 'not yet'; END IF; END $$"
    ))
    .success()
    {
        assert!(started.elapsed() < Duration::from_secs(20), "no first run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let installation = uuid::Uuid::new_v4().to_string();
    let http = reqwest::Client::new();
    let sent = http
        .post(format!("http://127.0.0.1:{port}/submit"))
        .header("X-API-Key", INGEST_KEY)
        .json(&report(
            &installation,
            Utc::now() - chrono::Duration::days(1),
        ))
        .send()
        .await
        .expect("an answer");
    assert_eq!(sent.status(), 200);

    tally::rollup::bring_up_to_date(
        &pool,
        crate::rollup::printernizer(),
        400,
        tally::rollup::Wait::Yes,
    )
    .await
    .expect("a run");

    let summary: serde_json::Value = http
        .get(format!("http://127.0.0.1:{port}/stats/summary"))
        .header("X-API-Key", ADMIN_KEY)
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(summary["unique_installations"], 1, "{summary}");
    let client = pool.get().await.expect("a connection");
    let active: i64 = client
        .query_one(
            "SELECT installations::bigint FROM daily_totals
             WHERE window_days = 7 AND day = (now() AT TIME ZONE 'UTC')::date - 1",
            &[],
        )
        .await
        .expect("the report's day was rolled")
        .get(0);
    assert_eq!(active, 1);
}
