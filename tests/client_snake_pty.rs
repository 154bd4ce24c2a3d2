//! End to end: the hidden snake game in the real client, in a pseudo-terminal, against a real
//! `clicom serve` — opened with `/snake` and with the Konami code, steered with the arrows,
//! and left with `q` while the chat went on underneath.

#![allow(clippy::unwrap_used)]

#[path = "support/pty.rs"]
mod pty;

use pty::{ClientHome, Key, Pty, Serve, WAIT};

const SIZE: (u16, u16) = (100, 30);
/// The board's title while a fresh game waits.
const TITLE: &str = "Snake · score 0 · best 0";
/// The snake's head, facing up, left and down.
const FACE_UP: &str = "''";
const FACE_LEFT: &str = ": ";
const FACE_DOWN: &str = "..";

fn server() -> (tempfile::TempDir, Serve) {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(0, &dir.path().join("history.db"), dir.path());
    (dir, serve)
}

fn client(home: &ClientHome, serve: &Serve, name: &str) -> Pty {
    let addr = format!("127.0.0.1:{}", serve.port);
    let pty = Pty::spawn(home, &[&addr, "--name", name, "--color", "2"], &[], SIZE);
    pty.wait_ready("● connected");
    pty
}

/// Waits until `needle` shows on a row of the board, which `ok` must accept; returns where.
fn wait_at(pty: &Pty, needle: &str, ok: impl Fn(u16) -> bool) -> (u16, u16) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        // The head is never on the status line (row 0) or the input bar (the last row).
        if let Some((x, y)) = pty.find(needle).filter(|&(_, y)| y > 0 && ok(y)) {
            return (x, y);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {needle:?}; the screen:\n{}",
            pty.screen()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn slash_snake_plays_in_the_pane_while_the_chat_counts_unread_and_q_returns() {
    let (_dir, serve) = server();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &serve, "alice");
    let mut bob = client(&hb, &serve, "bob");
    alice.line("hello before the game");
    bob.wait_for("alice: hello before the game");

    alice.line("/snake");
    alice.wait_for(TITLE);
    alice.wait_for("Ready?");
    assert!(
        !alice.screen().contains("hello before the game"),
        "the game covers the chat"
    );
    assert!(
        alice.row(0).contains("● connected"),
        "the status line stays"
    );
    assert!(
        alice.row(SIZE.1 - 1).starts_with("›"),
        "the input bar stays"
    );
    assert!(alice.screen().contains("Users (2)"), "the sidebar stays");

    // Steer: up (which starts it), then left, then down; the head turns and moves each time.
    alice.key(Key::Up);
    alice.wait_gone("Ready?");
    let (_, start_row) = wait_at(&alice, FACE_UP, |_| true);
    wait_at(&alice, FACE_UP, |y| y < start_row);
    alice.key(Key::Left);
    let (left_x, _) = wait_at(&alice, FACE_LEFT, |_| true);
    alice.wait_until("the head moving left", |_| {
        alice.find(FACE_LEFT).is_some_and(|(x, _)| x < left_x)
    });
    alice.key(Key::Down);
    wait_at(&alice, FACE_DOWN, |_| true);
    alice.type_text("p");
    alice.wait_for("Paused");

    // The chat goes on underneath and the status line counts it.
    bob.line("alice, are you there?");
    alice.wait_until("an unread mention in the status line", |_| {
        alice.row(0).contains("1 unread, 1 mention")
    });
    assert!(!alice.screen().contains("are you there"));

    // A smaller terminal: the board re-fits the narrower pane (70 columns less the sidebar).
    let (wide_corner, _) = alice.find("┐").unwrap();
    alice.resize(70, 24);
    alice.wait_until("the board to fit the new pane", |s| {
        s.contains("Paused") && alice.find("┐").is_some_and(|(x, _)| x < 50)
    });
    assert!(wide_corner >= 50, "the board filled the wide pane before");
    assert!(
        alice.row(23).starts_with("›"),
        "the input bar at the new bottom"
    );

    alice.type_text("q");
    alice.wait_for("bob: alice, are you there?");
    alice.wait_gone(TITLE.split(" · ").next().unwrap());
    assert!(alice.screen().contains("alice: hello before the game"));
    assert!(
        !alice.row(0).contains("unread"),
        "seen now: {}",
        alice.row(0)
    );

    // Back in the chat, typing is chat again.
    alice.line("back from the game");
    bob.wait_for("alice: back from the game");
    // And /snake picks the paused game up where it was.
    alice.line("/snake");
    alice.wait_for("Paused");
    alice.key(Key::Esc);
    alice.wait_gone("Paused");
    alice.wait_for("alice: back from the game");
}

#[test]
fn the_konami_code_opens_the_game_and_leaves_the_input_bar_as_it_was() {
    let (_dir, serve) = server();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &serve, "alice");
    let bob = client(&hb, &serve, "bob");
    alice.line("an old line");
    bob.wait_for("alice: an old line");
    alice.type_text("my draft");
    alice.wait_for("› my draft");

    for key in [
        Key::Up,
        Key::Up,
        Key::Down,
        Key::Down,
        Key::Left,
        Key::Right,
        Key::Left,
        Key::Right,
    ] {
        alice.key(key);
    }
    alice.type_text("ba");
    alice.wait_for(TITLE);
    let input = alice.row(SIZE.1 - 1);
    assert_eq!(
        input.trim_end(),
        "› my draft",
        "the input bar as before the code"
    );

    alice.type_text("q");
    alice.wait_for("alice: an old line");
    // The line is intact: Enter sends exactly the draft.
    alice.key(Key::Enter);
    bob.wait_for("alice: my draft");
    assert!(!bob.screen().contains("my draftba"));
}
