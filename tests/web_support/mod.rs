//! A real Chromium, driven over WebDriver (Debian's `chromium` and `chromium-driver`, through
//! `fantoccini`), for the web page's tests. One browser serves a whole test file: the file's
//! harness (libtest-mimic) runs its tests one after another on it and closes it at the end.
//! Waits poll a condition in the page with a deadline; nothing sleeps a fixed time.
//!
//! Without chromium or chromedriver the tests are skipped with a loud message — unless
//! `CLICOM_REQUIRE_BROWSER` is set (CI sets it), in which case they fail.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};

/// How long an expected change in the page may take (a guard against hanging, not a speed
/// requirement).
pub const WAIT: Duration = Duration::from_secs(20);

pub struct Browser {
    pub client: Client,
    driver: Child,
    driver_port: u16,
    _profile: tempfile::TempDir,
}

/// A browser test: gets the shared browser, panics on failure.
pub type TestFn = for<'a> fn(&'a Browser) -> futures_util::future::BoxFuture<'a, ()>;

/// Runs `tests` on one shared browser with libtest's command line (filters, `--list`, …), one
/// at a time, and exits with the result.
pub fn main(tests: &[(&'static str, TestFn)]) -> std::process::ExitCode {
    let mut args = Arguments::from_args();
    // One browser window: the tests take turns.
    args.test_threads = Some(1);
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime"),
    );
    let wanted = tests
        .iter()
        .any(|(name, _)| args.filter.as_deref().is_none_or(|f| name.contains(f)));
    let browser = if args.list || !wanted {
        Err("not needed".to_owned())
    } else {
        rt.block_on(Browser::start())
    };
    let browser = match browser {
        Ok(b) => Ok(Arc::new(b)),
        Err(why) => {
            if !args.list && wanted {
                eprintln!(
                    "\n{bar}\n!! BROWSER TESTS NOT RUN: {why}\n!! Install Debian's `chromium` and `chromium-driver` \
                     (CI does; there CLICOM_REQUIRE_BROWSER=1 makes this a failure).\n{bar}\n",
                    bar = "!".repeat(78)
                );
            }
            Err(why)
        }
    };
    let required = std::env::var_os("CLICOM_REQUIRE_BROWSER").is_some_and(|v| v != "0");
    let trials = tests
        .iter()
        .map(|&(name, test)| {
            let rt = Arc::clone(&rt);
            let browser = browser.clone();
            Trial::ignorable_test(name, move || match browser {
                Ok(b) => {
                    rt.block_on(async {
                        b.reset().await;
                        test(&b).await;
                    });
                    Ok(libtest_mimic::Completion::Completed)
                }
                Err(why) if required => Err(Failed::from(format!(
                    "CLICOM_REQUIRE_BROWSER is set but the browser is unavailable: {why}"
                ))),
                Err(why) => Ok(libtest_mimic::Completion::ignored_with(why)),
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    if let Ok(b) = browser
        && let Ok(b) = Arc::try_unwrap(b)
    {
        rt.block_on(b.close());
    }
    conclusion.exit_code()
}

/// A program from `$VAR`, else the first of `names` on `PATH`.
fn program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session (sized like a desktop window).
    pub async fn start() -> Result<Browser, String> {
        let chromium = program("CLICOM_CHROMIUM", &["chromium", "chromium-browser"])
            .ok_or("chromium is not installed")?;
        let chromedriver = program("CLICOM_CHROMEDRIVER", &["chromedriver"])
            .ok_or("chromedriver is not installed")?;
        let mut driver = Command::new(&chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromedriver.display()))?;
        let stdout = driver.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line
                    .split("started successfully on port ")
                    .nth(1)
                    .and_then(|p| p.trim_end_matches('.').trim().parse::<u16>().ok())
                {
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx
            .recv_timeout(WAIT)
            .map_err(|_| "chromedriver did not say which port it listens on".to_owned())?;
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-default-apps", "--disable-sync", "--disable-extensions",
                    "--no-first-run", "--no-default-browser-check", "--metrics-recording-only",
                    "--mute-audio", "--window-size=1280,800", "--force-color-profile=srgb",
                    "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        // An alert must stay open so that a test can see it happened.
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        // The console, where CSP violations are reported.
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| format!("no browser session: {e}"))?;
        Ok(Browser {
            client,
            driver,
            driver_port: port,
            _profile: profile,
        })
    }

    async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    /// Between tests: one window, no alert left open, desktop-sized, on a blank page.
    async fn reset(&self) {
        if let Ok(windows) = self.client.windows().await {
            for extra in windows.iter().skip(1) {
                let _ = self.client.switch_to_window(extra.clone()).await;
                let _ = self.client.close_window().await;
            }
            if let Some(first) = windows.into_iter().next() {
                let _ = self.client.switch_to_window(first).await;
            }
        }
        let _ = self.client.dismiss_alert().await;
        let _ = self.client.set_window_size(1280, 800).await;
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
        self.cdp("Emulation.setEmulatedMedia", json!({ "features": [] }))
            .await;
        let _ = self.client.goto("about:blank").await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
    }

    /// Opens the page of the server at `http_base` (`http://127.0.0.1:PORT`) as `name` with
    /// `color`, skipping the first-run dialog, and waits until it has joined.
    pub async fn open_as(&self, http_base: &str, name: &str, color: &str) {
        self.goto(&format!("{http_base}/")).await;
        self.js(
            "localStorage.setItem('clicom.name', arguments[0]); \
             localStorage.setItem('clicom.color', arguments[1]); location.reload();",
            vec![json!(name), json!(color)],
        )
        .await;
        self.wait_connected().await;
    }

    pub async fn wait_connected(&self) {
        self.wait_js(
            "connected",
            "return document.getElementById('status').textContent.startsWith('● Connected')",
        )
        .await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        match self.client.execute(script, args).await {
            Ok(v) => v,
            Err(e) => panic!("script failed: {e}\n{script}"),
        }
    }

    /// Polls `script` until it returns something truthy; returns that.
    pub async fn wait_js(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(script, vec![]).await;
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let log = self.log_text().await;
                panic!("timed out waiting for {what}; the page shows:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the message list shows `text`.
    pub async fn wait_for_text(&self, text: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.log_text().await.contains(text) {
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {text:?}; the page shows:\n{}",
                    self.log_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The status line, the message list and the user list, as text.
    pub async fn log_text(&self) -> String {
        self.client
            .execute(
                "return ['status', 'log', 'users'].map((id) => document.getElementById(id).innerText).join('\\n---\\n')",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Types into the message box and presses Enter.
    pub async fn say(&self, line: &str) {
        let input = self.client.find(Locator::Id("input")).await.unwrap();
        input.send_keys(line).await.unwrap();
        input.send_keys(&fantoccini::key::Key::Enter).await.unwrap();
    }

    /// Presses and releases each key in turn, as a person at the keyboard would: they go to
    /// whatever has the focus (`Key` values for special keys).
    pub async fn keys(&self, keys: &str) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut actions = KeyActions::new("keyboard".into());
        for value in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.client.perform_actions(actions).await.unwrap();
    }

    /// Whether an alert (or confirm, or prompt) is open.
    pub async fn alert_open(&self) -> bool {
        match self.client.get_alert_text().await {
            Ok(_) => true,
            Err(e) if e.is_no_such_alert() => false,
            Err(e) => panic!("cannot ask for an alert: {e}"),
        }
    }

    /// Makes the page's viewport exactly `width`×`height` CSS pixels, as a phone's when
    /// `mobile` (the window's own size includes the browser's frame).
    pub async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
    }

    /// A Chrome DevTools Protocol command, through chromedriver's own endpoint for them.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.driver_post("goog/cdp/execute", json!({ "cmd": cmd, "params": params }))
            .await
    }

    /// The browser's console messages since the last call (chromedriver's log endpoint):
    /// `(level, message)`. CSP violations are reported here.
    pub async fn console(&self) -> Vec<(String, String)> {
        let entries = self
            .driver_post("se/log", json!({ "type": "browser" }))
            .await;
        entries
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                (s("level"), s("message"))
            })
            .collect()
    }

    /// POSTs `body` to chromedriver's `/session/<id>/<path>` and returns its `value`.
    async fn driver_post(&self, path: &str, body: Value) -> Value {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let session = self.client.session_id().await.unwrap().unwrap();
        let body = body.to_string();
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.driver_port))
            .await
            .unwrap();
        let request = format!(
            "POST /session/{session}/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        // Read the head, then exactly the body its Content-Length announces.
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        let body = loop {
            let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
                .await
                .expect("chromedriver answers in time")
                .unwrap();
            raw.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&raw).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(usize::MAX);
                if body.len() >= len || n == 0 {
                    break body.to_owned();
                }
            }
            assert!(n > 0, "chromedriver closed early: {text}");
        };
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        v["value"].clone()
    }

    /// Calls `fn(module)` in the page on the exported functions of `/assets/<module>` and
    /// returns what it returns (for tests of the page's pure modules).
    pub async fn module(&self, module: &str, body: &str) -> Value {
        let script = format!(
            "const done = arguments[arguments.length - 1]; \
             import('/assets/{module}').then((m) => done({{ ok: (({body}))(m) }})).catch((e) => done({{ err: String(e && e.stack || e) }}));"
        );
        let v = self
            .client
            .execute_async(&script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}"));
        if let Some(err) = v.get("err") {
            panic!("in the page: {err}");
        }
        v["ok"].clone()
    }
}
