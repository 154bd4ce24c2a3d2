//! Runs the real `clicom` binary in a pseudo-terminal and reads its screen as a person would:
//! keys, pastes and SGR mouse clicks go in as bytes; a vt100 parser keeps the screen; tests wait
//! for text with a deadline (never a fixed sleep). Also a small blocking starter for
//! `clicom serve` on a chosen port, so a test can kill a server and restart it on the same port.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};

/// How long a test waits for something it expects on screen before failing (a guard against
/// hanging, not a speed requirement).
pub const WAIT: Duration = Duration::from_secs(20);

/// Records the window title the app sets.
#[derive(Default)]
pub struct Callbacks {
    pub title: String,
}

impl vt100::Callbacks for Callbacks {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.title = String::from_utf8_lossy(title).into_owned();
    }
}

type Parser = vt100::Parser<Callbacks>;

/// A key that is not plain text.
#[derive(Debug, Clone, Copy)]
pub enum Key {
    Enter,
    Esc,
    Tab,
    Backspace,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    F2,
    /// Ctrl + a letter.
    Ctrl(char),
}

impl Key {
    fn bytes(self) -> Vec<u8> {
        match self {
            Key::Enter => b"\r".to_vec(),
            Key::Esc => b"\x1b".to_vec(),
            Key::Tab => b"\t".to_vec(),
            Key::Backspace => b"\x7f".to_vec(),
            Key::Up => b"\x1b[A".to_vec(),
            Key::Down => b"\x1b[B".to_vec(),
            Key::Right => b"\x1b[C".to_vec(),
            Key::Left => b"\x1b[D".to_vec(),
            Key::Home => b"\x1b[1~".to_vec(),
            Key::End => b"\x1b[4~".to_vec(),
            Key::PageUp => b"\x1b[5~".to_vec(),
            Key::PageDown => b"\x1b[6~".to_vec(),
            Key::F2 => b"\x1bOQ".to_vec(),
            Key::Ctrl(c) => vec![(c.to_ascii_lowercase() as u8) & 0x1f],
        }
    }
}

/// The files one client uses: its config file and data dir, in a temporary directory.
pub struct ClientHome {
    pub dir: tempfile::TempDir,
}

impl ClientHome {
    pub fn new() -> ClientHome {
        ClientHome {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn write_config(&self, toml: &str) {
        std::fs::write(self.config(), toml).expect("config written");
    }

    pub fn read_config(&self) -> String {
        std::fs::read_to_string(self.config()).unwrap_or_default()
    }
}

/// The `clicom` client running in a pseudo-terminal.
pub struct Pty {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    parser: Arc<Mutex<Parser>>,
    /// Everything the app wrote, for failure messages.
    raw: Arc<Mutex<Vec<u8>>>,
    /// How many bytes the app wrote in all (`raw` keeps only the recent ones).
    written: Arc<std::sync::atomic::AtomicU64>,
    pub size: (u16, u16),
}

impl Pty {
    /// Starts `clicom ARGS` in a `cols`×`rows` terminal with `CLICOM_CONFIG` and
    /// `CLICOM_DATA_DIR` pointing into `home`, plus `env`.
    pub fn spawn(home: &ClientHome, args: &[&str], env: &[(&str, &str)], size: (u16, u16)) -> Pty {
        let (cols, rows) = size;
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_clicom"));
        for a in args {
            cmd.arg(a);
        }
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("COLORTERM");
        cmd.env_remove("RUST_LOG");
        cmd.env("CLICOM_CONFIG", home.config());
        cmd.env("CLICOM_DATA_DIR", home.data());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.cwd(home.dir.path());
        let child = pair.slave.spawn_command(cmd).expect("clicom starts");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let nz = |n: u16| std::num::NonZeroU16::new(n).expect("a terminal is never 0 wide");
        let parser = Arc::new(Mutex::new(vt100::Parser::new_with_callbacks(
            nz(rows),
            nz(cols),
            0,
            Callbacks::default(),
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
        {
            let parser = parser.clone();
            let raw = raw.clone();
            let written = written.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            parser.lock().unwrap().process(&buf[..n]);
                            let mut raw = raw.lock().unwrap();
                            raw.extend_from_slice(&buf[..n]);
                            written.fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
                            // Keep only the recent output.
                            if raw.len() > 1 << 20 {
                                let cut = raw.len() - (1 << 19);
                                raw.drain(..cut);
                            }
                        }
                    }
                }
            });
        }
        Pty {
            master: pair.master,
            writer,
            child,
            parser,
            raw,
            written,
            size,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    /// Types text (no Enter).
    pub fn type_text(&mut self, text: &str) {
        self.send(text.as_bytes());
    }

    pub fn key(&mut self, key: Key) {
        self.send(&key.bytes());
    }

    /// Types a line and presses Enter.
    pub fn line(&mut self, text: &str) {
        self.type_text(text);
        self.key(Key::Enter);
    }

    /// A bracketed paste, as terminals deliver one (line feeds become carriage returns).
    pub fn paste(&mut self, text: &str) {
        let mut bytes = b"\x1b[200~".to_vec();
        bytes.extend(text.replace('\n', "\r").as_bytes());
        bytes.extend(b"\x1b[201~");
        self.send(&bytes);
    }

    /// A left click on the 0-based cell (`col`, `row`): SGR 1006 press and release.
    pub fn click(&mut self, col: u16, row: u16) {
        let (c, r) = (col + 1, row + 1);
        self.send(format!("\x1b[<0;{c};{r}M").as_bytes());
        self.send(format!("\x1b[<0;{c};{r}m").as_bytes());
    }

    /// The mouse wheel, up or down, over the 0-based cell (`col`, `row`).
    pub fn wheel(&mut self, up: bool, col: u16, row: u16) {
        let button = if up { 64 } else { 65 };
        self.send(format!("\x1b[<{button};{};{}M", col + 1, row + 1).as_bytes());
    }

    /// The screen's text, rows joined by newlines.
    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// One row of the screen.
    pub fn row(&self, row: u16) -> String {
        let parser = self.parser.lock().unwrap();
        let (_, cols) = parser.screen().size();
        parser
            .screen()
            .rows(0, cols.get())
            .nth(row as usize)
            .unwrap_or_default()
    }

    pub fn title(&self) -> String {
        self.parser.lock().unwrap().callbacks().title.clone()
    }

    pub fn mouse_enabled(&self) -> bool {
        self.parser.lock().unwrap().screen().mouse_protocol_mode() != vt100::MouseProtocolMode::None
    }

    /// Where `needle` starts on screen, as a 0-based (col, row) cell, counting wide characters
    /// as the two cells they take.
    pub fn find(&self, needle: &str) -> Option<(u16, u16)> {
        let parser = self.parser.lock().unwrap();
        let screen = parser.screen();
        let (rows, cols) = screen.size();
        for row in 0..rows.get() {
            let mut text = String::new();
            let mut starts = Vec::new();
            for col in 0..cols.get() {
                let cell = screen.cell(row, col)?;
                if cell.is_wide_continuation() {
                    continue;
                }
                starts.push((text.len(), col));
                let c = cell.contents();
                text.push_str(if c.is_empty() { " " } else { c });
            }
            if let Some(i) = text.find(needle) {
                return starts.iter().find(|(b, _)| *b == i).map(|(_, c)| (*c, row));
            }
        }
        None
    }

    /// Whether the cell is underlined.
    pub fn underlined(&self, col: u16, row: u16) -> bool {
        let parser = self.parser.lock().unwrap();
        parser
            .screen()
            .cell(row, col)
            .is_some_and(|c| c.underline())
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after the deadline.
    pub fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The screen once the app has stopped writing for a moment: a frame larger than one write
    /// arrives in pieces, and a screen read between them shows half of each frame.
    pub fn settled_screen(&self) -> String {
        let count = || self.written.load(std::sync::atomic::Ordering::SeqCst);
        let deadline = Instant::now() + WAIT;
        let mut before = count();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = count();
            if now == before {
                return self.screen();
            }
            assert!(
                Instant::now() < deadline,
                "the app never stopped writing; the screen:\n{}",
                self.screen()
            );
            before = now;
        }
    }

    /// Waits until `text` is on screen.
    pub fn wait_for(&self, text: &str) {
        self.wait_until(&format!("{text:?}"), |s| s.contains(text));
    }

    /// Waits until `text` is gone from the screen.
    pub fn wait_gone(&self, text: &str) {
        self.wait_until(&format!("{text:?} to disappear"), |s| !s.contains(text));
    }

    /// Waits for the app to have drawn its first screen with the mouse enabled.
    pub fn wait_ready(&self, text: &str) {
        self.wait_for(text);
        let deadline = Instant::now() + WAIT;
        while !self.mouse_enabled() {
            assert!(Instant::now() < deadline, "mouse capture never enabled");
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits for the process to exit; returns whether it succeeded.
    pub fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "clicom did not exit; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// The raw bytes the app wrote lately (escape sequences included).
    pub fn raw(&self) -> Vec<u8> {
        self.raw.lock().unwrap().clone()
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize the pty");
        let nz = |n: u16| std::num::NonZeroU16::new(n).expect("a terminal is never 0 wide");
        self.parser
            .lock()
            .unwrap()
            .screen_mut()
            .set_size(nz(rows), nz(cols));
        self.size = (cols, rows);
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `clicom serve` process on 127.0.0.1, started and stopped synchronously.
pub struct Serve {
    child: Child,
    pub port: u16,
    pub url: String,
}

impl Serve {
    /// Starts `clicom serve` on `port` (0 = any free port) with its history in `db`.
    pub fn start(port: u16, db: &Path, data_dir: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_clicom"))
            .args(["serve", "--bind", "127.0.0.1", "--port", &port.to_string()])
            .arg("--db")
            .arg(db)
            .args(["--msg-rate", "0"])
            .env("CLICOM_DATA_DIR", data_dir)
            .env_remove("PORT")
            .env_remove("CLICOM_SERVER_CONFIG")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("clicom serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep reading so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(WAIT)
            .expect("the server prints its address in time");
        let url = line
            .strip_prefix("Clicom server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        let port = url
            .trim_start_matches("wss://")
            .trim_start_matches("ws://")
            .trim_end_matches("/ws")
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the address");
        Serve { child, port, url }
    }

    /// SIGKILL: the server dies without a goodbye, as in a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `serve` with a listener on a free loopback port, on a thread of its own with a
/// one-thread tokio runtime (the PTY tests themselves are synchronous), until the test process
/// ends; returns the listener's address.
pub fn serve_on_thread<F, Fut>(serve: F) -> std::net::SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    listener.set_nonblocking(true).expect("non-blocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            serve(listener).await;
        });
    });
    addr
}

/// Writes an executable script that appends each of its arguments on its own line to `out`:
/// the `open_command` for tests.
pub fn recording_opener(dir: &Path, out: &Path) -> PathBuf {
    let script = dir.join("record-open.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done\n",
            out.display()
        ),
    )
    .expect("opener written");
    let mut perm = std::fs::metadata(&script)
        .expect("opener exists")
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).expect("opener executable");
    script
}

/// Waits until `path` has content satisfying `ok`; returns the content.
pub fn wait_for_file(path: &Path, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if ok(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never got the expected content: {text:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}
