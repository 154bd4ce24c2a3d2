//! End to end, nothing said is lost or doubled: the real `clicom` client in a pseudo-terminal
//! against real `clicom serve` processes that are killed and restarted, as in an outage. Offline
//! messages are confirmed by their id (not their words), quitting with unsent messages asks
//! first, a long outage is caught up without gaps, and Ctrl-L repaints without dying.

#![allow(clippy::unwrap_used)]

#[path = "support/pty.rs"]
mod pty;
mod support;

use pty::{ClientHome, Key, Pty, Serve};

const WIDE: (u16, u16) = (100, 30);

/// A server with its history in its own temporary directory, restartable on the same port.
struct Site {
    dir: tempfile::TempDir,
    serve: Option<Serve>,
    port: u16,
}

impl Site {
    fn start() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let serve = Serve::start(0, &dir.path().join("history.db"), dir.path());
        let port = serve.port;
        Site {
            dir,
            serve: Some(serve),
            port,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as in a crash.
    fn kill(&mut self) {
        self.serve.take().unwrap().kill();
    }

    /// Starts again on the same port with the same history.
    fn restart(&mut self) {
        self.serve = Some(self.on_port(self.port));
    }

    /// The same history served on another port (while the usual one stays dead).
    fn on_port(&self, port: u16) -> Serve {
        Serve::start(port, &self.dir.path().join("history.db"), self.dir.path())
    }
}

/// A client joined as `name` to `addr`.
fn client(home: &ClientHome, addr: &str, name: &str, size: (u16, u16)) -> Pty {
    let pty = spawn(home, addr, name, size);
    pty.wait_ready("● connected");
    pty
}

fn spawn(home: &ClientHome, addr: &str, name: &str, size: (u16, u16)) -> Pty {
    Pty::spawn(home, &[addr, "--name", name, "--color", "2"], &[], size)
}

/// Rows of the message pane that end with `text` (a chat line is `[HH:MM] name: text`; the
/// sidebar, right of its `│` border, is left out).
fn rows_ending_with(screen: &str, text: &str) -> usize {
    screen
        .lines()
        .filter(|l| l.split('│').next().unwrap_or("").trim_end().ends_with(text))
        .count()
}

/// Joins `url` as `name` with a plain WebSocket client and says each line, waiting for each
/// echo (so each is committed).
fn post(url: &str, name: &str, lines: &[String]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut ws = support::WsClient::join(url, name).await;
        ws.say_all(lines).await;
    });
}

#[test]
fn words_said_before_are_still_sent_when_typed_again_offline() {
    let mut site = Site::start();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &site.addr(), "alice", WIDE);
    let bob = client(&hb, &site.addr(), "bob", WIDE);
    alice.line("ok");
    bob.wait_for("alice: ok");
    alice.line("/exit");
    assert!(alice.wait_exit());

    // A fresh process, the server down: the same words again, and another line.
    site.kill();
    let mut alice = spawn(&ha, &site.addr(), "alice", WIDE);
    alice.wait_for("reconnecting in");
    alice.line("ok");
    alice.line("second line");
    alice.wait_for("second line (pending)");
    site.restart();

    bob.wait_for("alice: second line");
    alice.wait_gone("(pending)");
    let screen = bob.settled_screen();
    assert_eq!(
        rows_ending_with(&screen, "alice: ok"),
        2,
        "the second ok reached the room:\n{screen}"
    );
    let screen = alice.settled_screen();
    assert_eq!(
        rows_ending_with(&screen, "alice: ok"),
        2,
        "and alice's pane shows both:\n{screen}"
    );
}

#[test]
fn text_the_server_changes_is_confirmed_once_and_never_sent_again() {
    let site = Site::start();
    let (ha, hb, hc) = (ClientHome::new(), ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &site.addr(), "alice", WIDE);
    let bob = client(&hb, &site.addr(), "bob", WIDE);
    // The server removes bidi controls, so its echo never equals what was sent.
    alice.line("bidi \u{202E}override\u{202C} here");
    alice.line("שלום\u{200F} 123");
    bob.wait_for("alice: bidi override here");
    bob.wait_for("123");
    alice.wait_gone("(pending)");
    for i in 0..3 {
        alice.key(Key::Ctrl('r'));
        // Sent once the client is back; anything resent would go out before it.
        alice.line(&format!("after reconnect {i}"));
        bob.wait_for(&format!("alice: after reconnect {i}"));
    }
    let carol = client(&hc, &site.addr(), "carol", WIDE);
    carol.wait_for("alice: after reconnect 2");
    for screen in [
        bob.settled_screen(),
        carol.settled_screen(),
        alice.settled_screen(),
    ] {
        assert_eq!(
            screen.matches("bidi override here").count(),
            1,
            "one copy in the room and in its history:\n{screen}"
        );
        assert_eq!(screen.matches("123").count(), 1, "{screen}");
    }
}

#[test]
fn quitting_with_unsent_messages_asks_and_can_wait_for_them() {
    let mut site = Site::start();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &site.addr(), "alice", WIDE);
    let bob = client(&hb, &site.addr(), "bob", WIDE);
    site.kill();
    alice.wait_for("reconnecting in");
    alice.line("not lost");
    alice.wait_for("not lost (pending)");

    // Ctrl-C on an empty line asks instead of quitting; Esc stays.
    alice.key(Key::Ctrl('c'));
    alice.wait_for("1 message not sent yet");
    alice.key(Key::Esc);
    alice.wait_gone("1 message not sent yet");
    // /exit asks too; W waits for the message and then quits by itself.
    alice.line("/exit");
    alice.wait_for("1 message not sent yet");
    alice.type_text("w");
    alice.wait_for("Quitting once");
    site.restart();
    bob.wait_for("alice: not lost");
    assert!(
        alice.wait_exit(),
        "a clean exit once the message was confirmed"
    );
    let raw = String::from_utf8_lossy(&alice.raw()).into_owned();
    assert!(raw.contains("\x1b[?1049l"), "left the alternate screen");
}

#[test]
fn quitting_anyway_is_an_explicit_choice() {
    let home = ClientHome::new();
    // Nothing listens there: the message stays pending.
    let mut alice = spawn(&home, "127.0.0.1:9", "alice", WIDE);
    alice.wait_for("reconnecting in");
    alice.line("first");
    alice.line("second");
    alice.wait_for("second (pending)");
    alice.key(Key::Ctrl('d'));
    alice.wait_for("2 messages not sent yet");
    alice.key(Key::Enter);
    alice.wait_for("Quitting once");
    // Q quits even from the wait.
    alice.key(Key::Ctrl('c'));
    alice.wait_for("2 messages not sent yet");
    alice.type_text("q");
    assert!(alice.wait_exit(), "quit anyway exits cleanly");
}

#[test]
fn a_long_outage_is_caught_up_without_gaps_or_duplicates() {
    let mut site = Site::start();
    let (ha, hb, hd) = (ClientHome::new(), ClientHome::new(), ClientHome::new());
    // Tall enough to show everything at once.
    let tall = (100, 150);
    let alice = client(&ha, &site.addr(), "alice", tall);
    // Dave keeps only 100 entries: he cannot hold all that is missed.
    hd.write_config("scrollback = 100\n");
    let dave = client(&hd, &site.addr(), "dave", tall);
    let mut bob = client(&hb, &site.addr(), "bob", WIDE);
    bob.line("before the outage");
    alice.wait_for("bob: before the outage");
    dave.wait_for("bob: before the outage");

    // The server goes down; meanwhile 120 messages are said on the same history elsewhere.
    site.kill();
    alice.wait_for("reconnecting in");
    drop(bob);
    let elsewhere = site.on_port(0);
    let lines: Vec<String> = (1..=120).map(|i| format!("missed {i:03}")).collect();
    post(&elsewhere.url, "carol", &lines);
    elsewhere.kill();
    site.restart();

    let mut alice = alice;
    let mut dave = dave;
    alice.key(Key::Ctrl('r'));
    dave.key(Key::Ctrl('r'));
    alice.wait_for("carol: missed 120");
    let screen = alice.settled_screen();
    let mut at = 0;
    for line in &lines {
        assert_eq!(
            screen.matches(line.as_str()).count(),
            1,
            "{line} once:\n{screen}"
        );
        let found = screen.find(line.as_str()).unwrap();
        assert!(found > at, "{line} in order:\n{screen}");
        at = found;
    }
    assert_eq!(screen.matches("bob: before the outage").count(), 1);
    assert!(!screen.contains("not shown"), "{screen}");

    dave.wait_for("carol: missed 120");
    let screen = dave.settled_screen();
    let marker = screen
        .lines()
        .find(|l| l.contains("messages not shown"))
        .unwrap_or_else(|| panic!("a marker at the gap:\n{screen}"));
    let missing: usize = marker
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap();
    let shown: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| screen.contains(l.as_str()))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(missing + shown.len(), 120, "{screen}");
    assert_eq!(
        shown,
        (missing + 1..=120).collect::<Vec<_>>(),
        "the newest are shown, below the marker:\n{screen}"
    );
    assert!(
        screen.find("messages not shown").unwrap() < screen.find(lines[missing].as_str()).unwrap()
    );
}

#[test]
fn ctrl_l_repaints_and_the_client_stays() {
    let site = Site::start();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &site.addr(), "alice", WIDE);
    let bob = client(&hb, &site.addr(), "bob", WIDE);
    let before = alice.raw().len();
    alice.key(Key::Ctrl('l'));
    // Typed after Ctrl-L, it must still be read and sent.
    alice.line("still here");
    bob.wait_for("alice: still here");
    alice.wait_for("alice: still here");
    let raw = alice.raw();
    let after = String::from_utf8_lossy(&raw[before.min(raw.len())..]).into_owned();
    assert!(
        after.contains("\x1b[2J"),
        "the screen was cleared and drawn again"
    );
    assert!(alice.settled_screen().contains("● connected"));
}
