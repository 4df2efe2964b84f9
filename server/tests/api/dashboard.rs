//! The maintainers' page with Printernizer's reports, in a real headless Chromium (`browser`): it
//! shows the numbers the API answers for the same data, logs no error, loads nothing from another
//! host, and asks again for a refused key. The other products' views: `dashboard_products`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::browser::{severe, Browser, PATIENCE};
use crate::helpers::{body, spawn_app, TestApp, ADMIN_KEY, INGEST_KEY};
use crate::rollup::{app, id, report_ago, roll, send};

pub(crate) async fn admin_get(app: &TestApp, path: &str) -> Value {
    let response = app.get(path, Some(ADMIN_KEY)).await;
    assert_eq!(response.status(), 200, "{path}");
    body(response).await
}

fn number(text: &str) -> i64 {
    text.replace(',', "")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{text:?} is a number"))
}

fn edit(version: &str, country: &str, mode: &str) -> impl FnOnce(&mut Value) {
    let (version, country, mode) = (version.to_owned(), country.to_owned(), mode.to_owned());
    move |body| {
        body["installation"]["app_version"] = version.into();
        body["installation"]["country_code"] = country.into();
        body["installation"]["deployment_mode"] = mode.into();
    }
}

/// Five installations: two active within 7 days, four within 30, one older.
async fn seed(app: &TestApp) {
    send(
        app,
        &report_ago(&id(1), 10, edit("2.41.0", "DE", "homeassistant")),
    )
    .await;
    send(
        app,
        &report_ago(&id(1), 1, edit("2.41.2", "DE", "homeassistant")),
    )
    .await;
    send(app, &report_ago(&id(2), 3, edit("2.41.2", "GB", "docker"))).await;
    send(app, &report_ago(&id(3), 12, edit("2.41.0", "US", "docker"))).await;
    send(app, &report_ago(&id(4), 20, edit("2.40.0", "DE", "pi"))).await;
    send(
        app,
        &report_ago(&id(5), 45, edit("2.30.0", "FR", "standalone")),
    )
    .await;
    roll(app).await;
    wait_for_outcomes(app, 6).await;
}

/// The server adds its outcome counts to the database every few seconds.
async fn wait_for_outcomes(app: &TestApp, accepted: i64) {
    let started = Instant::now();
    while admin_get(app, "/api/v1/outcomes").await["totals"]["accepted"] != accepted {
        assert!(
            started.elapsed() < PATIENCE,
            "the outcome counts were not written"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn dashboard_shows_the_numbers_the_api_answers() {
    let app = app().await;
    seed(&app).await;
    let browser = Browser::start().await;

    browser.sign_in(&app, ADMIN_KEY).await;
    browser.wait_until_drawn().await;

    let overview = admin_get(&app, "/stats/overview").await;
    let installations = &overview["installations"];
    assert_eq!(
        (
            &installations["active_7d"],
            &installations["active_30d"],
            &installations["total"]
        ),
        (&json!(2), &json!(4), &json!(5)),
        "the seeded data"
    );
    assert_eq!(
        number(&browser.text("#active-7d").await),
        installations["active_7d"]
    );
    assert_eq!(
        number(&browser.text("#active-30d").await),
        installations["active_30d"]
    );
    assert_eq!(
        number(&browser.text("#total").await),
        installations["total"]
    );

    let new = admin_get(&app, "/api/v1/metrics/new_installations").await;
    let new_in_range: i64 = new["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_i64().unwrap())
        .sum();
    assert_eq!(new_in_range, 4, "the seeded data");
    assert_eq!(
        number(&browser.text("#new-installations").await),
        new_in_range
    );

    let versions = admin_get(&app, "/stats/versions").await;
    let latest = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == "2.41.2")
        .expect("2.41.2 is listed")
        .clone();
    assert_eq!(latest["count"], 2, "the seeded data");
    let shown = browser
        .attr("#bars-version [data-key='2.41.2']", "data-value")
        .await;
    assert_eq!(shown.as_deref().map(number), latest["count"].as_i64());
    let germany = admin_get(&app, "/stats/geography").await["countries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "DE")
        .expect("DE is listed")["count"]
        .clone();
    let shown = browser
        .attr("#bars-country [data-key='DE']", "data-value")
        .await;
    assert_eq!(shown.as_deref().map(number), germany.as_i64());
    let accepted = admin_get(&app, "/api/v1/outcomes").await["totals"]["accepted"].clone();
    let shown = browser
        .attr("#bars-outcomes [data-key='accepted']", "data-value")
        .await;
    assert_eq!(shown.as_deref().map(number), accepted.as_i64());
    assert_eq!(
        browser
            .attr("#freshness", "data-last-updated")
            .await
            .as_deref(),
        overview["last_updated"].as_str()
    );

    let elsewhere = browser
        .script(
            "return performance.getEntriesByType('resource')
                .concat(performance.getEntriesByType('navigation'))
                .map(e => e.name)
                .filter(name => new URL(name).origin !== location.origin)",
        )
        .await;
    assert_eq!(elsewhere, json!([]), "the page contacted another host");
    let requests = browser
        .script("return performance.getEntriesByType('resource').length")
        .await;
    assert!(
        requests.as_u64() > Some(10),
        "the page read the API: {requests}"
    );
    let console = browser.console().await;
    assert!(severe(&console).is_empty(), "console errors: {console:#?}");
    browser.screenshot("dashboard.png").await;
}

#[tokio::test]
async fn dashboard_asks_again_when_the_key_is_refused() {
    let app = app().await;
    let browser = Browser::start().await;

    browser.sign_in(&app, "not-a-key").await;
    browser.enter_key_after_refusal("401").await;
    browser.enter_key(INGEST_KEY).await;
    browser.enter_key_after_refusal("403").await;
    browser.screenshot("dashboard-key-refused.png").await;
    browser.enter_key(ADMIN_KEY).await;
    browser.wait_until_drawn().await;

    let stored = browser
        .script("return sessionStorage.getItem('tally.adminKey')")
        .await;
    assert_eq!(stored, json!(ADMIN_KEY));
    let console = browser.console().await;
    let unexpected: Vec<_> = severe(&console)
        .into_iter()
        .filter(|e| {
            let message = e["message"].as_str().unwrap_or("");
            !(message.contains("status of 401") || message.contains("status of 403"))
        })
        .collect();
    assert!(unexpected.is_empty(), "console errors: {unexpected:#?}");
}

impl Browser {
    /// After a refused key: the page says so with the API's status and asks again.
    async fn enter_key_after_refusal(&self, status: &str) {
        self.wait_for(
            "body[data-state='key'] #key-message:not([hidden])",
            "the page says the key was refused",
        )
        .await;
        let message = self.text("#key-message").await;
        assert!(message.contains(status), "{message:?} names {status}");
        let stored = self
            .script("return sessionStorage.getItem('tally.adminKey')")
            .await;
        assert_eq!(stored, Value::Null, "a refused key is not kept");
    }
}

#[tokio::test]
async fn dashboard_shows_an_empty_database_without_errors() {
    let app = app().await;
    roll(&app).await;
    let browser = Browser::start().await;

    browser.sign_in(&app, ADMIN_KEY).await;
    browser.wait_until_drawn().await;

    assert_eq!(browser.text("#active-7d").await, "0");
    assert_eq!(browser.text("#total").await, "0");
    assert!(browser.text("#freshness").await.starts_with("Last rollup"));
    let empty = browser.text("#empty-message").await;
    assert!(
        empty.contains("No installation has reported yet"),
        "{empty}"
    );
    let bars = browser.text("#bars-version").await;
    assert_eq!(bars, "No data for this range.");
    let console = browser.console().await;
    assert!(severe(&console).is_empty(), "console errors: {console:#?}");
    browser.screenshot("dashboard-empty.png").await;
}

#[tokio::test]
async fn dashboard_files_are_served_with_a_strict_policy_and_revalidated() {
    let app = spawn_app().await;

    for (path, content_type) in [
        ("/dashboard", "text/html; charset=utf-8"),
        ("/dashboard/app.js", "text/javascript; charset=utf-8"),
        ("/dashboard/charts.js", "text/javascript; charset=utf-8"),
        ("/dashboard/report.js", "text/javascript; charset=utf-8"),
        ("/dashboard/declared.js", "text/javascript; charset=utf-8"),
        ("/dashboard/app.css", "text/css; charset=utf-8"),
        ("/dashboard/icon.svg", "image/svg+xml"),
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.starts_with("default-src 'self';"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let again = app
            .http
            .get(app.url(path))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    let unknown = app.get("/dashboard/secrets.js", None).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(body(unknown).await, json!({"detail": "Not found"}));
    let followed = app.get("/dashboard/", None).await;
    assert_eq!(followed.url().path(), "/dashboard");
    assert_eq!(followed.status(), 200);
    let page = app.get("/dashboard", None).await.text().await.unwrap();
    assert!(!page.contains("http://") && !page.contains("https://"));
}
