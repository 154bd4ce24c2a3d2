//! Runs the real `clicom` binary inside tmux, a terminal with its own idea of how wide each
//! character is, and reads back what tmux has in its grid (`capture-pane`) and where its cursor
//! is. Each instance has a private tmux server (its own `-L` socket), killed on drop; waits poll
//! with a deadline. Tests call [`available`] first: see docs/TESTING.md.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a test waits for something it expects on screen before failing.
pub const WAIT: Duration = Duration::from_secs(20);

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Whether tmux runs here; without it a test is skipped, or fails when `CLICOM_REQUIRE_TOOLS`
/// is set (CI sets it after installing tmux).
pub fn available() -> bool {
    let found = Command::new("tmux").arg("-V").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CLICOM_REQUIRE_TOOLS").is_none(),
            "tmux is required (CLICOM_REQUIRE_TOOLS is set) but not installed"
        );
        eprintln!("tmux is not installed: test skipped");
    }
    found
}

/// One tmux server with one window running `clicom`.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `clicom ARGS` in a `cols`×`rows` tmux window, with `CLICOM_CONFIG` and
    /// `CLICOM_DATA_DIR` in `home`.
    pub fn start(home: &Path, args: &[&str], size: (u16, u16)) -> Tmux {
        let socket = format!(
            "clicom-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let tmux = Tmux { socket };
        let (cols, rows) = (size.0.to_string(), size.1.to_string());
        let config = format!("CLICOM_CONFIG={}", home.join("config.toml").display());
        let data = format!("CLICOM_DATA_DIR={}", home.join("data").display());
        let mut cmd = vec![
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &cols,
            "-y",
            &rows,
            "-e",
            &config,
            "-e",
            &data,
            "-e",
            "RUST_LOG=",
            env!("CARGO_BIN_EXE_clicom"),
        ];
        cmd.extend_from_slice(args);
        tmux.run(&cmd);
        tmux.run(&["set-option", "-t", "t", "status", "off"]);
        tmux.run(&["set-option", "-t", "t", "remain-on-exit", "on"]);
        tmux.run(&["resize-window", "-t", "t", "-x", &cols, "-y", &rows]);
        tmux
    }

    fn command(&self, args: &[&str]) -> Output {
        // -u: UTF-8 whatever the locale of the machine running the tests says.
        Command::new("tmux")
            .args(["-u", "-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run tmux ({e}); install it: apt-get install -y tmux")
            })
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command(args);
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The window's rows as tmux holds them (trailing spaces trimmed; a wide character appears
    /// once although it covers two cells).
    pub fn screen(&self) -> Vec<String> {
        self.run(&["capture-pane", "-p", "-t", "t"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// tmux's cursor, (column, row), 0-based.
    pub fn cursor(&self) -> (u16, u16) {
        let out = self.run(&[
            "display-message",
            "-p",
            "-t",
            "t",
            "#{cursor_x} #{cursor_y}",
        ]);
        let mut it = out.split_whitespace().map(|n| n.parse().expect("a number"));
        (it.next().expect("cursor_x"), it.next().expect("cursor_y"))
    }

    /// Types `text` literally (as UTF-8, like a terminal sends it).
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
    }

    /// A named key: `Enter`, `Left`, `BSpace`, `Home`…
    pub fn key(&self, name: &str) {
        self.run(&["send-keys", "-t", "t", name]);
    }

    /// Waits until `ok` holds for the screen; panics with the screen after [`WAIT`].
    pub fn wait_until(&self, what: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; screen:\n{}",
                    screen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    pub fn wait_for(&self, text: &str) -> Vec<String> {
        self.wait_until(text, |s| s.iter().any(|r| r.contains(text)))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command(&["kill-server"]);
    }
}
