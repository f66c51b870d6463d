//! Headless Chromium driven through chromedriver's WebDriver HTTP API on loopback: open a page, run
//! a script, read the browser's console log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser can run here. Under `CI` a missing browser is a failure, not a skip.
pub fn available_or_skip(test: &str) -> bool {
    if Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(
        !ci,
        "{test}: {CHROMIUM} or {CHROMEDRIVER} is missing and CI is set (apt-get install chromium chromium-driver)"
    );
    eprintln!(
        "\n*** SKIPPED {test}: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium \
         chromium-driver); under CI=true this fails ***\n"
    );
    false
}

/// A chromedriver process and one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
    pub driver_log: PathBuf,
}

impl Browser {
    pub async fn start(log_dir: &Path) -> Browser {
        let port = super::free_port();
        let driver_log = log_dir.join("chromedriver.log");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", driver_log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut browser =
            Browser { driver, base, session: String::new(), client, _profile: profile, driver_log: driver_log.clone() };
        let mut ready = false;
        for _ in 0..200 {
            if let Ok(r) = browser.client.get(format!("{}/status", browser.base)).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            ready,
            "chromedriver never became ready; its log:\n{}",
            std::fs::read_to_string(&driver_log).unwrap_or_default()
        );
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
        }}});
        let answer = browser.call(reqwest::Method::POST, "/session", Some(capabilities)).await;
        browser.session = answer["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {answer}")).to_owned();
        browser
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        let status = response.status();
        let value: Value = response.json().await.unwrap_or_else(|e| panic!("WebDriver {path}: not JSON: {e}"));
        assert!(status.is_success(), "WebDriver {path} answered {status}: {value}");
        value["value"].clone()
    }

    pub async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, &format!("/session/{}/url", self.session), Some(json!({"url": url}))).await;
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub async fn execute(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.call(reqwest::Method::POST, &format!("/session/{}/execute/sync", self.session), Some(body)).await
    }

    /// The browser console entries since the last read: `{level, message, timestamp}` each.
    pub async fn console(&self) -> Vec<Value> {
        let body = json!({"type": "browser"});
        let value = self.call(reqwest::Method::POST, &format!("/session/{}/se/log", self.session), Some(body)).await;
        value.as_array().cloned().unwrap_or_default()
    }

    pub async fn quit(mut self) {
        let path = format!("/session/{}", self.session);
        let _ = self.client.delete(format!("{}{path}", self.base)).send().await;
        self.session.clear();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test still ends its browser: chromedriver closes Chromium on a session's DELETE,
        // and a killed chromedriver would leave it behind.
        if !self.session.is_empty()
            && let Some(addr) = self.base.strip_prefix("http://")
            && let Ok(mut stream) = std::net::TcpStream::connect(addr)
        {
            use std::io::{Read, Write};
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request =
                format!("DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n", self.session);
            let _ = stream.write_all(request.as_bytes());
            let _ = stream.read_to_end(&mut Vec::new());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
