//! The maintainers' page for every product besides Printernizer (whose view is tested in
//! `dashboard`): data sent through each product's real ingest route and rolled, the page opened
//! at `/dashboard?product=<name>` in Chromium, and every number it draws from the product's
//! declaration compared with what `/api/v1/*` answers over the same range. The fifth product
//! comes from a catalog file.

use serde_json::{json, Map, Value};

use crate::browser::{severe, Browser};
use crate::catalog::{CatalogFile, KILN};
use crate::dashboard::admin_get;
use crate::helpers::{at_days_ago, query_pool, spawn_app_with, TestApp, ADMIN_KEY};

pub(crate) const INDEXPILOT_KEY: &str = "ip-key";
const FRANKLIN_KEY: &str = "phc_franklin";
const KILN_KEY: &str = "kiln-key";

/// A server with a key for each keyed product; only the test's own runs roll.
pub(crate) async fn app(catalog: Option<&CatalogFile>) -> TestApp {
    let file = catalog.map(|file| file.0.clone());
    spawn_app_with(|c| {
        c.ingest_keys = [
            format!("indexpilot:{INDEXPILOT_KEY}"),
            format!("franklinwh:{FRANKLIN_KEY}"),
            format!("kiln:{KILN_KEY}"),
        ]
        .iter()
        .take(if file.is_some() { 3 } else { 2 })
        .map(|key| key.parse().expect("a key"))
        .collect();
        c.catalog = file;
        c.rate_limit_per_hour = 0;
        c.ip_rate_per_minute = 0;
        c.rollup_interval_secs = 3_600;
    })
    .await
}

pub(crate) async fn post(app: &TestApp, path: &str, key: Option<&str>, body: &Value) {
    let mut request = app.http.post(app.url(path)).json(body);
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    let response = request.send().await.expect("request sent");
    assert_eq!(
        response.status(),
        200,
        "{path}: {}",
        response.text().await.unwrap()
    );
}

/// Rolls every product of the server's catalog (the built-in one and `catalog`), once what was
/// just written is behind the rollup's watermark (a second behind the clock).
pub(crate) async fn roll(app: &TestApp, catalog: Option<&str>) {
    let file = catalog.map(|text| tally::domain::CatalogFile {
        name: "catalog.toml",
        text,
    });
    let catalog = tally::domain::Catalog::load(file).expect("the catalog loads");
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    tally::rollup::bring_all_up_to_date(
        &query_pool(&app.database_url),
        &catalog,
        400,
        tally::rollup::Wait::Yes,
    )
    .await
    .expect("the rollup runs");
}

/// A Stories user's events on `days_ago`: the app opened in `language`, a recording, a
/// transcription (`success`) and a failed one, a feature used and a setting changed.
fn stories_day(days_ago: i64, language: &str, success: bool) -> Vec<Value> {
    let at = at_days_ago(days_ago);
    let event = |event_type: &str, properties: Value| json!({"event_type": event_type, "timestamp": at, "properties": properties});
    vec![
        event(
            "app_opened",
            json!({"app_version": "1.4.0", "os_version": "14.2", "language": language}),
        ),
        event(
            "recording_started",
            json!({"source": "widget", "duration": 20 + days_ago}),
        ),
        event(
            "transcription_completed",
            json!({"duration": 3 + days_ago, "success": success}),
        ),
        event(
            "transcription_failed",
            json!({"error_type": "network_error"}),
        ),
        event("feature_used", json!({"feature": "export"})),
        event("settings_changed", json!({"setting": "hotkey"})),
    ]
}

async fn seed_stories(app: &TestApp) {
    for (user, days) in [("user_aaaaaaaa", [0, 2]), ("user_bbbbbbbb", [1, 9])] {
        let events: Vec<Value> = days
            .iter()
            .flat_map(|d| stories_day(*d, if *d == 1 { "en" } else { "de" }, *d != 9))
            .collect();
        post(
            app,
            "/api/events/batch",
            None,
            &json!({"user_id": user, "events": events}),
        )
        .await;
    }
    let crash = json!({"error_message": "TypeError: x is undefined", "stack_trace": "at /home/a",
        "app_version": "1.4.0", "os_version": "14.2", "timestamp": at_days_ago(1),
        "user_id": "user_bbbbbbbb"});
    post(app, "/api/crashes", None, &crash).await;
}

/// IndexPilot's daily telemetry, or a product of its format (`environment` holds dimensions).
fn telemetry(installation: &str, days_ago: i64, metrics: Value, environment: Value) -> Value {
    json!({"installation_id": installation, "version": "1.0.0",
        "timestamp": at_days_ago(days_ago), "metrics": metrics, "environment": environment})
}

async fn seed_indexpilot(app: &TestApp) {
    for (installation, days_ago, cores, algorithms) in [
        ("aaaaaaaaaaaaaaaa", 0, 8, json!({"cert": 3, "qpg": 1})),
        ("aaaaaaaaaaaaaaaa", 1, 8, json!({"cert": 2})),
        ("bbbbbbbbbbbbbbbb", 0, 2, json!({"qpg": 5})),
        ("cccccccccccccccc", 4, 64, json!({})),
    ] {
        let metrics = json!({"features_used": ["auto_indexing"], "indexes_created": days_ago + 2,
            "queries_analyzed": 1_000, "performance_improvement_pct": 12.5 * cores as f64,
            "algorithm_usage": algorithms});
        let environment = json!({"python_version": "3.11.0", "postgresql_version": "15.0",
            "os": if cores == 2 { "darwin" } else { "linux" }, "cpu_cores": cores});
        let body = telemetry(installation, days_ago, metrics, environment);
        post(app, "/api/v1/telemetry", Some(INDEXPILOT_KEY), &body).await;
    }
}

pub(crate) async fn seed_franklinwh(app: &TestApp) {
    let event = |id: &str, days_ago: i64, command: &str, duration_ms: i64, success: bool| {
        json!({"event": "cli_command_executed", "distinct_id": id,
            "timestamp": at_days_ago(days_ago),
            "properties": {"franklin_version": "0.6.4", "python_version": "3.11.7", "os": "Linux",
                "command": command, "duration_ms": duration_ms, "success": success}})
    };
    let batch = json!({"api_key": FRANKLIN_KEY, "batch": [
        event("0c6f2a6e-8d0b-4c53-9d55-1a0f2f6a9a11", 0, "status", 120, true),
        event("0c6f2a6e-8d0b-4c53-9d55-1a0f2f6a9a11", 3, "status", 900, true),
        event("4b1d2c3e-0000-4c53-9d55-1a0f2f6a9a22", 0, "discharge", 4_000, false),
    ]});
    post(app, "/batch/", None, &batch).await;
}

pub(crate) async fn seed_kiln(app: &TestApp) {
    for (installation, days_ago, firings, glaze) in [
        ("00ff00ff00ff00ff", 0, 7, "matte"),
        ("00ff00ff00ff0001", 2, 3, "gloss"),
        ("00ff00ff00ff0001", 1, 2, "celadon"),
    ] {
        let body = telemetry(
            installation,
            days_ago,
            json!({"firings": firings}),
            json!({"glaze": glaze}),
        );
        post(app, "/api/v1/telemetry", Some(KILN_KEY), &body).await;
    }
}

/// Every number in `value` as a float, so that `3` from the browser equals `3.0` from a sum.
fn floats(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(items) => Value::Array(items.iter().map(floats).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), floats(v))).collect())
        }
        other => other.clone(),
    }
}

fn points(series: &Value) -> &Vec<Value> {
    series["points"].as_array().expect("points")
}

fn last_value(series: &Value) -> Value {
    points(series).last().expect("a point")["value"].clone()
}

/// `{value: amount}` added up over a dimension series' days.
fn amounts(series: &Value) -> Map<String, Value> {
    let mut totals: Map<String, Value> = Map::new();
    for point in points(series) {
        for (value, cell) in point["values"].as_object().expect("values") {
            let before = totals.get(value).and_then(Value::as_f64).unwrap_or(0.0);
            totals.insert(
                value.clone(),
                json!(before + cell["amount"].as_f64().unwrap()),
            );
        }
    }
    totals
}

/// What the page should draw for `product` over `[from, to]`, asked of the API the way a
/// person checking it would: each declared field by its path. The same shape as `drawn`.
async fn expected(app: &TestApp, product: &Value, from: &str, to: &str) -> Value {
    let name = product["name"].as_str().expect("a name");
    let span = format!("product={name}&from={from}&to={to}");
    let get = |path: String| async move { admin_get(app, &path).await };
    let mut fields = Map::new();
    let mut counters = Map::new();
    let mut flags = Map::new();
    let mut event_totals = Map::new();
    let mut declared: Vec<(String, Value, Option<String>)> = Vec::new();
    for (group, kind) in [
        ("dimensions", "dimension"),
        ("counters", "counter"),
        ("measures", "measure"),
        ("flags", "flag"),
        ("count_maps", "count_map"),
    ] {
        for (path, field) in product[group].as_object().expect("a group") {
            let mut field = field.clone();
            field["kind"] = json!(kind);
            declared.push((path.clone(), field, None));
        }
    }
    for (event, declaration) in product["events"].as_object().expect("events") {
        for (property, field) in declaration["properties"].as_object().expect("properties") {
            declared.push((
                format!("{event}.{property}"),
                field.clone(),
                Some(event.clone()),
            ));
        }
    }
    if !product["events"].as_object().unwrap().is_empty() {
        let events = get(format!("/api/v1/events?{span}")).await;
        for day in events["days"].as_array().unwrap() {
            for (event, cell) in day["events"].as_object().unwrap() {
                let before = event_totals
                    .get(event)
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                event_totals.insert(
                    event.clone(),
                    json!(before + cell["count"].as_f64().unwrap()),
                );
            }
        }
        fields.insert("events".into(), json!({"bars": event_totals}));
    }
    for (path, field, event) in &declared {
        let single_flag = field["kind"] == "flag" && field["max_entries"].is_null();
        match field["kind"].as_str().unwrap() {
            "counter" => {
                let series = get(format!("/api/v1/metrics/{path}?window=1&{span}")).await;
                let total: f64 = points(&series)
                    .iter()
                    .map(|p| p["value"].as_f64().unwrap())
                    .sum();
                counters.insert(path.clone(), json!(total));
            }
            "measure" => {
                let series = get(format!("/api/v1/measures/{path}?{span}")).await;
                let count: f64 = points(&series)
                    .iter()
                    .map(|p| p["count"].as_f64().unwrap())
                    .sum();
                let sum: f64 = points(&series)
                    .iter()
                    .map(|p| p["sum"].as_f64().unwrap())
                    .sum();
                let latest = points(&series).iter().rev().find(|p| p["count"] != 0);
                let quantile = |q: &str| latest.map_or(Value::Null, |p| p[q].clone());
                fields.insert(
                    path.clone(),
                    json!({"stats": {
                        "count": count,
                        "mean": if count > 0.0 { json!(sum / count) } else { Value::Null },
                        "p50": quantile("p50"),
                        "p90": quantile("p90"),
                    }}),
                );
            }
            _ if single_flag => {
                let series = get(format!("/api/v1/dimensions/{path}?window=1&{span}")).await;
                let on = amounts(&series).get("true").cloned().unwrap_or(json!(0));
                let of = event
                    .as_ref()
                    .map(|e| event_totals.get(e).cloned().unwrap_or(json!(0)));
                flags.insert(path.clone(), json!({"value": on, "of": of}));
            }
            _ => {
                let series = get(format!("/api/v1/dimensions/{path}?window=1&{span}")).await;
                fields.insert(path.clone(), json!({"bars": amounts(&series)}));
            }
        }
    }
    if !counters.is_empty() {
        fields.insert("counters".into(), json!({"bars": counters}));
    }
    if !flags.is_empty() {
        let on: Map<String, Value> = flags
            .iter()
            .map(|(k, v)| (k.clone(), v["value"].clone()))
            .collect();
        let of: Map<String, Value> = flags
            .iter()
            .filter(|(_, v)| !v["of"].is_null())
            .map(|(k, v)| (k.clone(), v["of"].clone()))
            .collect();
        fields.insert("flags".into(), json!({"bars": on, "of": of}));
    }
    let mut rates = Map::new();
    for rate in product["rates"]
        .as_object()
        .into_iter()
        .flat_map(|r| r.keys())
    {
        let series = get(format!("/api/v1/metrics/{rate}?window=7&{span}")).await;
        let latest = points(&series).iter().rev().find(|p| !p["value"].is_null());
        rates.insert(
            rate.clone(),
            json!({"latest": latest.map_or(Value::Null, |p| p["value"].clone())}),
        );
    }
    let metric = |name: &str, window: &str| format!("/api/v1/metrics/{name}?{span}{window}");
    let cards = json!({
        "active-7d": last_value(&get(metric("active_installations", "&window=7")).await),
        "active-30d": last_value(&get(metric("active_installations", "&window=30")).await),
        "total": last_value(&get(metric("known_installations", "")).await),
        "new-installations": points(&get(metric("new_installations", "")).await)
            .iter()
            .map(|p| p["value"].as_f64().unwrap())
            .sum::<f64>(),
    });
    floats(&json!({"cards": cards, "fields": fields, "rates": rates}))
}

/// What the page drew, read from its markup in the shape of `expected`.
const DRAWN: &str = r##"
    const number = (text) => (text === "" ? null : Number(text));
    const rows = (box, attribute) => Object.fromEntries([...box.querySelectorAll("[data-key]")]
        .filter((row) => row.dataset[attribute] !== undefined)
        .map((row) => [row.dataset.key, number(row.dataset[attribute])]));
    const fields = {};
    for (const card of document.querySelectorAll("#view-declared [data-field], #view-declared [data-group]")) {
        const drawn = {};
        const bars = card.querySelector(".bars");
        if (bars) drawn.bars = rows(bars, "value");
        if (card.dataset.group === "flags") drawn.of = rows(bars, "of");
        const stats = [...card.querySelectorAll("[data-stat]")];
        if (stats.length) drawn.stats = Object.fromEntries(stats.map((s) => [s.dataset.stat, number(s.dataset.value)]));
        fields[card.dataset.field || card.dataset.group] = drawn;
    }
    const rates = {};
    for (const card of document.querySelectorAll("#view-declared [data-rate]")) {
        rates[card.dataset.rate] = { latest: number(card.querySelector("[data-stat]").dataset.value) };
    }
    const cards = {};
    for (const id of ["active-7d", "active-30d", "total", "new-installations"]) {
        cards[id] = Number(document.getElementById(id).textContent.replace(/,/g, ""));
    }
    return { cards, fields, rates };
"##;

/// Opens `product`'s page, compares what it draws with the API, checks the console and keeps a
/// screenshot.
async fn page_shows_what_the_api_answers(app: &TestApp, name: &str) -> Value {
    let products = admin_get(app, "/api/v1/products").await;
    let product = products["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .expect("the product is declared")
        .clone();
    let browser = Browser::start().await;

    browser
        .sign_in_at(app, &format!("/dashboard?product={name}"), ADMIN_KEY)
        .await;
    wait_until_drawn_for(&browser, name).await;

    let (from, to) = (
        range_end(&browser, "#from").await,
        range_end(&browser, "#to").await,
    );
    let drawn = floats(&browser.script(DRAWN).await);
    let expected = expected(app, &product, &from, &to).await;
    assert_eq!(drawn, expected, "the page against the API for {name}");
    let title = browser.text("#product-title").await;
    assert!(title.to_lowercase().starts_with(name), "{title}");
    let console = browser.console().await;
    assert!(severe(&console).is_empty(), "console errors: {console:#?}");
    browser.screenshot(&format!("dashboard-{name}.png")).await;
    expected
}

async fn wait_until_drawn_for(browser: &Browser, name: &str) {
    let drawn = format!("body[data-state='ready'][data-product='{name}']");
    browser
        .wait_for(&drawn, "the page shows the product's statistics")
        .await;
}

async fn range_end(browser: &Browser, css: &str) -> String {
    browser
        .script(&format!("return document.querySelector({css:?}).value"))
        .await
        .as_str()
        .expect("a date")
        .to_owned()
}

#[tokio::test]
async fn dashboard_shows_stories_rates_measures_events_and_dimensions_as_the_api_answers() {
    let app = app(None).await;
    seed_stories(&app).await;
    roll(&app, None).await;

    let shown = page_shows_what_the_api_answers(&app, "stories").await;

    assert_eq!(shown["cards"]["total"], 2.0, "the seeded data: {shown}");
    assert_eq!(
        shown["fields"]["app_opened.language"]["bars"],
        json!({"de": 3.0, "en": 1.0})
    );
    let crashes = shown["fields"]["crash.error_type"]["bars"]
        .as_object()
        .unwrap();
    assert_eq!(
        crashes.values().filter_map(Value::as_f64).sum::<f64>(),
        1.0,
        "{shown}"
    );
    let durations = &shown["fields"]["transcription_completed.duration"]["stats"];
    assert_eq!(
        (&durations["count"], &durations["mean"]),
        (&json!(4.0), &json!(6.0))
    );
    assert!(
        shown["rates"]["transcription_success"]["latest"].is_number(),
        "{shown}"
    );
    assert!(
        shown["rates"]["crash_free"]["latest"].is_number(),
        "{shown}"
    );
}

#[tokio::test]
async fn dashboard_shows_indexpilot_counters_measures_flags_and_count_maps_as_the_api_answers() {
    let app = app(None).await;
    seed_indexpilot(&app).await;
    roll(&app, None).await;

    let shown = page_shows_what_the_api_answers(&app, "indexpilot").await;

    assert_eq!(shown["cards"]["total"], 3.0, "the seeded data: {shown}");
    assert_eq!(
        shown["fields"]["counters"]["bars"]["indexes_created"], 13.0,
        "{shown}"
    );
    assert_eq!(
        shown["fields"]["algorithm_usage"]["bars"],
        json!({"cert": 5.0, "qpg": 6.0})
    );
    assert_eq!(
        shown["fields"]["cpu_cores"]["stats"]["count"], 4.0,
        "{shown}"
    );
}

#[tokio::test]
async fn dashboard_shows_franklinwh_commands_and_duration_ms_as_the_api_answers() {
    let app = app(None).await;
    seed_franklinwh(&app).await;
    roll(&app, None).await;

    let shown = page_shows_what_the_api_answers(&app, "franklinwh").await;

    assert_eq!(shown["cards"]["total"], 2.0, "the seeded data: {shown}");
    let durations = &shown["fields"]["cli_command_executed.duration_ms"]["stats"];
    assert_eq!(durations["count"], 3.0, "{shown}");
    assert_eq!(
        shown["fields"]["flags"]["bars"]["cli_command_executed.success"], 2.0,
        "{shown}"
    );
}

#[tokio::test]
async fn dashboard_shows_a_fifth_product_from_a_catalog_file_as_the_api_answers() {
    let file = CatalogFile::new(KILN);
    let app = app(Some(&file)).await;
    seed_kiln(&app).await;
    roll(&app, Some(KILN)).await;

    let shown = page_shows_what_the_api_answers(&app, "kiln").await;

    assert_eq!(shown["cards"]["total"], 2.0, "the seeded data: {shown}");
    assert_eq!(
        shown["fields"]["glaze"]["bars"],
        json!({"matte": 1.0, "gloss": 1.0, "other": 1.0})
    );
    assert_eq!(
        shown["fields"]["counters"]["bars"]["firings"], 12.0,
        "{shown}"
    );
}

#[tokio::test]
async fn dashboard_keeps_the_product_in_the_url_and_goes_back_to_the_one_before() {
    let app = app(None).await;
    let browser = Browser::start().await;
    browser
        .sign_in_at(&app, "/dashboard?product=stories", ADMIN_KEY)
        .await;
    wait_until_drawn_for(&browser, "stories").await;

    browser
        .script(
            "const picker = document.getElementById('product');
             picker.value = 'indexpilot';
             picker.dispatchEvent(new Event('change'));",
        )
        .await;
    wait_until_drawn_for(&browser, "indexpilot").await;
    let url = browser.client.current_url().await.expect("a URL");
    assert_eq!(url.query(), Some("product=indexpilot"));
    browser.client.back().await.expect("back");
    wait_until_drawn_for(&browser, "stories").await;
    assert_eq!(
        browser
            .script("return document.getElementById('product').value")
            .await,
        json!("stories")
    );

    browser
        .client
        .goto(&app.url("/dashboard?product=nosuch"))
        .await
        .expect("the page opens");
    browser
        .wait_for(
            "body[data-state='error'] #load-message:not([hidden])",
            "the page says the product is unknown",
        )
        .await;
    let message = browser.text("#load-message").await;
    assert!(message.contains("nosuch"), "{message}");
    let console = browser.console().await;
    assert!(severe(&console).is_empty(), "console errors: {console:#?}");
}
