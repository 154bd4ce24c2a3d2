//! The real client in a pseudo-terminal against a hostile server (a stand-in written here, so
//! nothing is sanitised on the way): terminal escapes (CSI, OSC 0/8/52, DCS, C1, bidi
//! overrides) in every remote string the client shows — names, message and action text,
//! system lines, the user list, DMs, errors, the room name, history — never reach the terminal:
//! the bytes the client writes hold none of them, the title and the screen stay the client's.
//! And a 10 MB paste leaves the client responsive without sending anything oversized.
#![allow(clippy::unwrap_used)]

#[path = "support/pty.rs"]
mod pty;

use std::net::SocketAddr;

use clicom::protocol::{ChatMessage, DirectMessage, ErrorCode, ServerMsg, Welcome};
use futures_util::{SinkExt, StreamExt};
use pty::{ClientHome, Key, Pty, Serve};
use tokio_tungstenite::tungstenite::Message;

const WIDE: (u16, u16) = (120, 40);

/// Escapes that would act on a terminal if written raw.
const HOSTILE: &[(&str, &str)] = &[
    ("CSI clear", "\u{1b}[2J\u{1b}[H"),
    ("OSC 0 title", "\u{1b}]0;OWNED-TITLE\u{7}"),
    ("OSC 8 link", "\u{1b}]8;;https://evil.example/\u{1b}\\"),
    ("OSC 52 clipboard", "\u{1b}]52;c;cm0gLXJmIH4=\u{7}"),
    ("DCS", "\u{1b}P+q544e\u{1b}\\"),
    ("C1 CSI", "\u{9b}2J"),
    ("C1 OSC", "\u{9d}0;OWNED-C1\u{9c}"),
    ("bidi override", "\u{202e}"),
    ("bidi isolate", "\u{2066}"),
];

/// Byte sequences that must never appear in what the client writes to its terminal.
const FORBIDDEN_OUTPUT: &[(&str, &[u8])] = &[
    ("OSC 0", b"\x1b]0;OWNED"),
    ("OSC 8 with the hostile URL", b"\x1b]8;;https://evil"),
    ("OSC 52", b"\x1b]52"),
    ("DCS", b"\x1bP"),
    ("C1 CSI", "\u{9b}".as_bytes()),
    ("C1 OSC", "\u{9d}".as_bytes()),
    ("C1 ST", "\u{9c}".as_bytes()),
    ("RLO", "\u{202e}".as_bytes()),
    ("LRI", "\u{2066}".as_bytes()),
];

fn all_hostile(tag: &str) -> String {
    HOSTILE
        .iter()
        .map(|(what, seq)| format!("[{tag} {what}:{seq}]"))
        .collect()
}

fn chat(id: u64, name: &str, text: &str, action: bool) -> ServerMsg {
    ServerMsg::Message(ChatMessage {
        name: name.into(),
        color: "3".into(),
        text: text.into(),
        id: Some(id),
        ts: Some(clicom::protocol::now_ms()),
        room: Some("main".into()),
        action,
        cid: None,
    })
}

/// A one-connection WebSocket server that answers the join with hostile frames, then a
/// marker message, then keeps the connection open.
fn hostile_server() -> SocketAddr {
    pty::serve_on_thread(|listener| async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        // The join.
        let _ = ws.next().await;
        let hostile_name = format!("eve{}", HOSTILE.iter().map(|h| h.1).collect::<String>());
        let frames = vec![
            ServerMsg::Welcome(Welcome {
                name: "alice".into(),
                color: "2".into(),
                room: "main".into(),
                max_text: Some(2000),
            }),
            ServerMsg::History {
                room: "main".into(),
                messages: vec![
                    match chat(1, &hostile_name, &all_hostile("history"), false) {
                        ServerMsg::Message(m) => m,
                        _ => unreachable!(),
                    },
                ],
            },
            ServerMsg::ActiveUsers {
                users: vec!["alice".into(), hostile_name.clone()],
                room: None,
            },
            chat(2, "BEFORE-CLEAR", "this line must stay on screen", false),
            chat(3, &hostile_name, &all_hostile("message"), false),
            chat(4, &hostile_name, &all_hostile("action"), true),
            ServerMsg::System {
                text: all_hostile("system"),
                room: None,
            },
            ServerMsg::Dm(DirectMessage {
                from: hostile_name.clone(),
                to: "alice".into(),
                text: all_hostile("dm"),
                color: "4".into(),
                ts: clicom::protocol::now_ms(),
                cid: None,
            }),
            ServerMsg::Error {
                code: ErrorCode::Other,
                text: all_hostile("error"),
            },
            ServerMsg::Who {
                users: vec![hostile_name.clone()],
            },
            chat(5, "marker", "END-OF-HOSTILE-FRAMES", false),
        ];
        for frame in frames {
            ws.send(Message::text(frame.encode())).await.unwrap();
        }
        // Stay connected (and answer pings) until the client goes.
        while let Some(Ok(_)) = ws.next().await {}
    })
}

#[test]
fn terminal_escapes_from_a_hostile_server_never_reach_the_terminal() {
    let addr = hostile_server();
    let home = ClientHome::new();
    let url = format!("ws://{addr}/ws");
    let pty = Pty::spawn(&home, &[&url, "--name", "alice", "--color", "2"], &[], WIDE);
    // The marker comes last: once it is drawn, every hostile frame has been handled.
    pty.wait_for("END-OF-HOSTILE-FRAMES");
    let raw = pty.raw();
    let mut found = Vec::new();
    for (what, bytes) in FORBIDDEN_OUTPUT {
        if raw.windows(bytes.len()).any(|w| w == *bytes) {
            found.push(*what);
        }
    }
    assert!(
        found.is_empty(),
        "the client wrote {found:?} to its terminal"
    );
    // Escapes are shown as visible pictures instead.
    let screen = pty.screen();
    assert!(screen.contains('␛'), "{screen}");
    assert!(!pty.title().contains("OWNED"), "title: {:?}", pty.title());
    assert!(
        screen.contains("this line must stay on screen"),
        "the screen was not cleared by a remote CSI:\n{screen}"
    );
}

#[test]
fn a_10_mb_paste_leaves_the_client_responsive_and_sends_nothing_oversized() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(0, &dir.path().join("history.db"), dir.path());
    let addr = format!("127.0.0.1:{}", serve.port);
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let mut alice = Pty::spawn(&ha, &[&addr, "--name", "alice", "--color", "2"], &[], WIDE);
    alice.wait_ready("● connected");
    let bob = Pty::spawn(&hb, &[&addr, "--name", "bob", "--color", "3"], &[], WIDE);
    bob.wait_ready("● connected");

    // One line of 10 MB, as a terminal would deliver a bracketed paste.
    let paste = "0123456789abcdef".repeat(10 * 1024 * 1024 / 16);
    alice.paste(&paste);
    alice.key(Key::Enter);
    // Refused by the client itself (the server would close the connection over a frame that
    // size), and kept in the input line: Ctrl-U clears it.
    alice.wait_for("Message too long: 10485760 characters");
    alice.send(b"\x15");
    alice.line("typed after the paste");
    bob.wait_for("alice: typed after the paste");
    assert!(
        alice.screen().contains("● connected"),
        "the client is still connected (it never sent an oversize frame):\n{}",
        alice.screen()
    );
    assert!(
        !bob.screen().contains(
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        ),
        "no screenful of the paste reached bob as one message:\n{}",
        bob.screen()
    );
    drop(serve);
}
