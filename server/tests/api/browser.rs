//! A real headless Chromium driven through chromedriver, for the maintainers' page's tests. A
//! missing browser fails a test; it never skips it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::helpers::{body, free_port, TestApp};

const INSTALL: &str = "install with: apt-get install -y chromium chromium-driver";
/// How long a step may take: three browsers and the rest of the suite share two cores.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// chromedriver on a free port, the Chromium session it drives, and a throw-away profile.
pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    driver_url: String,
    session: String,
    profile: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

impl Browser {
    pub(crate) async fn start() -> Self {
        let chromium =
            on_path("chromium").unwrap_or_else(|| panic!("chromium is missing: {INSTALL}"));
        let chromedriver =
            on_path("chromedriver").unwrap_or_else(|| panic!("chromedriver is missing: {INSTALL}"));
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver_url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&driver_url).await;
        let profile = std::env::temp_dir().join(format!("tally-chromium-{}", uuid::Uuid::new_v4()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                    "--window-size=1280,1000",
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver_url)
            .await
            .expect("chromedriver opens a Chromium session");
        let session = client
            .session_id()
            .await
            .expect("a session")
            .expect("a session id");
        Self {
            client,
            driver,
            driver_url,
            session,
            profile,
        }
    }

    /// Opens the page and types `key` into its key form.
    pub(crate) async fn sign_in(&self, app: &TestApp, key: &str) {
        self.sign_in_at(app, "/dashboard", key).await;
    }

    /// Opens `path` (the page, with a query) and types `key` into its key form.
    pub(crate) async fn sign_in_at(&self, app: &TestApp, path: &str, key: &str) {
        self.client
            .goto(&app.url(path))
            .await
            .expect("the page opens");
        self.enter_key(key).await;
    }

    pub(crate) async fn enter_key(&self, key: &str) {
        let input = self
            .wait_for("body[data-state='key'] #key", "the page asks for a key")
            .await;
        input.send_keys(key).await.expect("the key is typed");
        self.click("#key-form button[type='submit']").await;
    }

    pub(crate) async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .expect("the button is there")
            .click()
            .await
            .expect("the button is clicked");
    }

    /// Waits until the page has drawn everything it loaded.
    pub(crate) async fn wait_until_drawn(&self) {
        self.wait_for("body[data-state='ready']", "the page shows the statistics")
            .await;
    }

    /// Waits until an element matches `css`; `what` says what that means when it never does.
    pub(crate) async fn wait_for(&self, css: &str, what: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{what}: no {css} within {PATIENCE:?}"))
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{css} is on the page"))
            .text()
            .await
            .expect("its text")
    }

    pub(crate) async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{css} is on the page"))
            .attr(name)
            .await
            .expect("its attribute")
    }

    pub(crate) async fn script(&self, source: &str) -> Value {
        self.client
            .execute(source, vec![])
            .await
            .expect("the script runs")
    }

    /// The browser's console and network log since the last call (chromedriver's log endpoint).
    pub(crate) async fn console(&self) -> Vec<Value> {
        let response = reqwest::Client::new()
            .post(format!(
                "{}/session/{}/se/log",
                self.driver_url, self.session
            ))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .expect("chromedriver answers");
        body(response).await["value"]
            .as_array()
            .expect("a list of log entries")
            .clone()
    }

    /// The whole page as a PNG under target/test-artefacts/, for a person to look at.
    pub(crate) async fn screenshot(&self, name: &str) {
        // The window is the page plus whatever the browser keeps around it.
        let height = self
            .script(
                "return document.documentElement.scrollHeight
                    + window.outerHeight - window.innerHeight",
            )
            .await
            .as_u64()
            .expect("a height");
        self.client
            .set_window_size(1280, u32::try_from(height).unwrap_or(4000).clamp(600, 4000))
            .await
            .expect("the window resizes");
        let png = self.client.screenshot().await.expect("a screenshot");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
        let dir = target.join("test-artefacts");
        std::fs::create_dir_all(&dir).expect("the artefacts directory");
        let path = dir.join(name);
        std::fs::write(&path, png).expect("the screenshot is written");
        println!("screenshot: {}", path.display());
    }
}

/// The console entries of level SEVERE: errors.
pub(crate) fn severe(entries: &[Value]) -> Vec<&Value> {
    entries.iter().filter(|e| e["level"] == "SEVERE").collect()
}

async fn wait_until_ready(driver_url: &str) {
    let started = Instant::now();
    loop {
        let status = reqwest::get(format!("{driver_url}/status")).await;
        if let Ok(status) = status {
            if body(status).await["value"]["ready"] == true {
                return;
            }
        }
        assert!(started.elapsed() < PATIENCE, "chromedriver did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for Browser {
    /// Ends the session (chromedriver then stops Chromium) even when a test failed, and then
    /// chromedriver. Drop cannot await, so the DELETE goes out on a plain socket.
    fn drop(&mut self) {
        let address = self.driver_url.trim_start_matches("http://");
        if let Ok(mut socket) = TcpStream::connect(address) {
            let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n",
                self.session
            );
            if socket.write_all(request.as_bytes()).is_ok() {
                let _ = socket.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
