//! PostHog's capture protocol as its own service accepts it, request by request: every event
//! path, gzip however it is said, posthog-js's form body, a gzip bomb, CORS for any origin,
//! and the flags and remote config its clients ask for. (The real clients: `posthog_clients`.)

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};

use crate::helpers::{body, pg_dump, TestApp};
use crate::products_ingest::{app, franklin_event, stored, FRANKLIN_KEY};

const INSTALLATION: &str = "0c6f2a6e-8d0b-4c53-9d55-1a0f2f6a9a11";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("gzip writes");
    encoder.finish().expect("gzip finishes")
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
    bytes: Vec<u8>,
) -> reqwest::Response {
    let mut request = app.http.post(app.url(path)).body(bytes);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request sent")
}

/// What an operator's backup of the app's schema would hold.
pub(crate) async fn dump(app: &TestApp) -> String {
    let schema = app.schema.clone();
    tokio::task::spawn_blocking(move || pg_dump(&schema))
        .await
        .expect("pg_dump ran")
}

async fn commands(app: &TestApp) -> f64 {
    stored(app, "franklinwh").await[INSTALLATION]["event/cli_command_executed"]
        .as_f64()
        .expect("a count")
}

#[tokio::test]
async fn every_event_path_with_or_without_its_slash_stores_the_event() {
    let app = app().await;
    let paths = ["/capture", "/batch", "/e", "/i/v0/e", "/track"];

    for path in paths {
        for path in [path.to_owned(), format!("{path}/")] {
            let body = serde_json::to_vec(&franklin_event(INSTALLATION)).unwrap();
            let response = post_raw(&app, &path, &[], body).await;
            assert_eq!(response.status(), 200, "{path}");
        }
    }

    assert_eq!(commands(&app).await, 10.0);
}

#[tokio::test]
async fn gzip_said_by_header_by_query_or_by_magic_bytes_alone_is_read() {
    let app = app().await;
    let event = gzip(&serde_json::to_vec(&franklin_event(INSTALLATION)).unwrap());
    let text_plain = [("content-type", "text/plain")];

    let by_header = post_raw(
        &app,
        "/batch/",
        &[("content-encoding", "gzip")],
        event.clone(),
    );
    let by_query = post_raw(
        &app,
        "/e/?compression=gzip-js&ver=1.449.2",
        &text_plain,
        event.clone(),
    );
    let by_magic = post_raw(&app, "/capture/", &[], event);

    for response in [by_header.await, by_query.await, by_magic.await] {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(commands(&app).await, 3.0);
}

#[tokio::test]
async fn posthog_js_form_of_base64_is_read_and_its_token_kept_out_of_storage() {
    use base64::Engine;
    let app = app().await;
    let mut event = franklin_event(INSTALLATION);
    let key = event.as_object_mut().unwrap().remove("api_key").unwrap();
    event["properties"]["token"] = key;
    let data = base64::engine::general_purpose::STANDARD.encode(json!([event]).to_string());
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("data", &data)
        .finish();

    let response = post_raw(
        &app,
        "/e/?compression=base64",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.into_bytes(),
    )
    .await;

    assert_eq!(response.status(), 200);
    assert_eq!(commands(&app).await, 1.0);
    let dump = dump(&app).await;
    assert!(!dump.contains(FRANKLIN_KEY));
}

#[tokio::test]
async fn a_gzip_bomb_is_413_and_stores_nothing() {
    let app = app().await;
    // 40 MiB of spaces inside an event: a few tens of KiB on the wire.
    let mut inflated =
        br#"{"api_key": "phc_franklin", "event": "cli_command_executed", "x": ""#.to_vec();
    inflated.extend(std::iter::repeat_n(b' ', 40 * 1024 * 1024));
    inflated.extend(br#""}"#);
    let bomb = gzip(&inflated);
    assert!(bomb.len() < 100 * 1024);

    let response = post_raw(&app, "/batch/", &[("content-encoding", "gzip")], bomb).await;

    assert_eq!(response.status(), 413);
    // The cap named is the decompressed one (20 MiB), not the wire's.
    let detail = body(response).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("20971520"), "{detail}");
    assert!(stored(&app, "franklinwh").await.is_empty());
}

#[tokio::test]
async fn a_capture_preflight_from_any_origin_is_allowed_without_credentials() {
    let app = app().await;

    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/e/"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("preflight sent");
    let posted = app
        .http
        .post(app.url("/batch/"))
        .header("origin", "https://shop.example")
        .json(&franklin_event(INSTALLATION))
        .send()
        .await
        .expect("request sent");

    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        allowed(&preflight, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert!(allowed(&preflight, "access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_eq!(
        allowed(&preflight, "access-control-allow-headers").as_deref(),
        Some("content-type")
    );
    assert_eq!(
        allowed(&preflight, "access-control-allow-credentials"),
        None
    );
    assert_eq!(posted.status(), 200);
    assert_eq!(
        allowed(&posted, "access-control-allow-origin").as_deref(),
        Some("*")
    );
}

#[tokio::test]
async fn flags_and_decide_answer_no_flags_in_every_shape_the_clients_read() {
    let app = app().await;
    let no_flags = json!({
        "flags": {}, "featureFlags": {}, "featureFlagPayloads": {},
        "errorsWhileComputingFlags": false
    });

    for path in ["/flags/?v=2", "/flags", "/decide/?v=3", "/decide"] {
        let asked = json!({"token": FRANKLIN_KEY, "distinct_id": INSTALLATION});
        let posted = app
            .http
            .post(app.url(path))
            .json(&asked)
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 200, "{path}");
        assert_eq!(posted.headers()["access-control-allow-origin"], "*");
        assert_eq!(body(posted).await, no_flags, "{path}");
    }
    let got = app.get("/flags/?v=2", None).await;
    assert_eq!(body(got).await, no_flags);
}

#[tokio::test]
async fn posthog_js_remote_config_says_gzip_as_json_and_as_its_script() {
    let app = app().await;

    let config: Value = body(app.get("/array/phc_any/config", None).await).await;
    let script = app.get("/array/phc_any/config.js", None).await;

    assert_eq!(config["supportedCompression"], json!(["gzip", "gzip-js"]));
    assert_eq!(script.status(), 200);
    let text = script.text().await.unwrap();
    assert!(text.contains(r#"["phc_any"]"#), "{text}");
    assert!(
        text.contains(r#""supportedCompression":["gzip","gzip-js"]"#),
        "{text}"
    );
}

#[tokio::test]
async fn identify_set_and_engage_are_answered_200_and_nothing_of_them_is_stored() {
    let app = app().await;
    let identify = json!({
        "event": "$identify", "distinct_id": INSTALLATION,
        "properties": {"$set": {"email": "alice@example.com"}}
    });
    let batch = json!({"api_key": FRANKLIN_KEY, "batch": [identify, franklin_event(INSTALLATION)]});
    let engage = json!({"$token": FRANKLIN_KEY, "$distinct_id": INSTALLATION, "$set": {"email": "alice@example.com"}});

    let batched = post_raw(&app, "/batch/", &[], serde_json::to_vec(&batch).unwrap()).await;
    let engaged = post_raw(&app, "/engage/", &[], serde_json::to_vec(&engage).unwrap()).await;

    assert_eq!(batched.status(), 200);
    assert_eq!(engaged.status(), 200);
    assert_eq!(commands(&app).await, 1.0);
    let dump = dump(&app).await;
    assert!(!dump.contains("alice"));
}

#[tokio::test]
async fn a_capture_over_its_installations_quota_is_429_with_retry_after_which_the_sdks_honour() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.ingest_keys = vec![format!("franklinwh:{FRANKLIN_KEY}").parse().expect("a key")];
        c.event_rate_limit_per_hour = 1;
        c.ip_rate_per_minute = 0;
    })
    .await;
    let event = serde_json::to_vec(&franklin_event(INSTALLATION)).unwrap();

    let first = post_raw(&app, "/batch/", &[], event.clone()).await;
    let second = post_raw(&app, "/batch/", &[], event).await;

    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 429);
    let wait: u64 = second.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    assert_eq!(commands(&app).await, 1.0);
}
