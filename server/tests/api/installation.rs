use chrono::{Duration, Utc};

use crate::helpers::{body, report, spawn_app, ADMIN_KEY, INGEST_KEY};

async fn submit_weeks(app: &crate::helpers::TestApp, installation: &str, weeks: i64) {
    for week in 0..weeks {
        let body = report(installation, Utc::now() - Duration::days(7 * week));
        assert_eq!(app.submit(&body).await.status(), 200);
    }
}

#[tokio::test]
async fn delete_removes_every_report_of_exactly_that_installation() {
    let app = spawn_app().await;
    let leaving = uuid::Uuid::new_v4().to_string();
    let staying = uuid::Uuid::new_v4().to_string();
    submit_weeks(&app, &leaving, 2).await;
    submit_weeks(&app, &staying, 3).await;

    let response = app
        .http
        .delete(app.url(&format!("/installation/{leaving}")))
        .header("X-API-Key", INGEST_KEY)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let answer = body(response).await;
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["deleted_count"], 2);
    assert!(answer["message"].is_string());
    let left: Vec<String> = app
        .db()
        .await
        .query("SELECT DISTINCT installation_id FROM activity", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(left, vec![staying]);
    assert_eq!(app.stored_reports().await, 3);
}

#[tokio::test]
async fn delete_answers_200_with_a_count_of_0_when_nothing_is_stored() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4();

    let response = app
        .http
        .delete(app.url(&format!("/installation/{unknown}")))
        .header("X-API-Key", INGEST_KEY)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(body(response).await["deleted_count"], 0);
}

#[tokio::test]
async fn export_returns_the_installations_reports_and_no_one_elses() {
    let app = spawn_app().await;
    let mine = uuid::Uuid::new_v4().to_string();
    submit_weeks(&app, &mine, 2).await;
    submit_weeks(&app, &uuid::Uuid::new_v4().to_string(), 1).await;

    let response = app
        .get(&format!("/installation/{mine}"), Some(INGEST_KEY))
        .await;

    assert_eq!(response.status(), 200);
    let answer = body(response).await;
    assert_eq!(answer["installation_id"], mine);
    let reports = answer["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports[0]["period_start"].as_str() < reports[1]["period_start"].as_str());
    assert_eq!(reports[0]["job_count"], 23);
    assert_eq!(reports[0]["printer_type_counts"]["bambu_lab"], 2);
    assert_eq!(reports[0]["feature_usage"]["timelapse_enabled"], true);
}

#[tokio::test]
async fn installation_routes_need_an_ingest_key_and_a_uuid() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4();

    let no_key = app.get(&format!("/installation/{id}"), None).await;
    let admin_key = app
        .get(&format!("/installation/{id}"), Some(ADMIN_KEY))
        .await;
    let not_uuid = app
        .get("/installation/me@example.com", Some(INGEST_KEY))
        .await;

    assert_eq!(no_key.status(), 401);
    assert_eq!(admin_key.status(), 401);
    assert_eq!(not_uuid.status(), 422);
    assert_eq!(body(not_uuid).await["detail"][0]["loc"][0], "path");
}
