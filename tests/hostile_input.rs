//! Hostile content inside well-formed frames, over real sockets: huge and deep JSON that fits
//! the frame limit, terminal escape sequences in every string a peer can make others see, and
//! invisible, padded or look-alike names. Nothing reaches another client unneutralised, every
//! refusal is an error on the sender's connection, and the connection stays usable.
#![allow(clippy::unwrap_used)]

mod support;

use clicom::protocol::{ClientMsg, ErrorCode, ServerMsg};
use support::{WsClient, options, start_server};

fn join(name: &str) -> ClientMsg {
    ClientMsg::Join {
        name: name.into(),
        color: None,
        room: None,
    }
}

/// Everything a terminal could obey: C0 (but newline), DEL, C1, bidi controls.
fn obeyable(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[tokio::test]
async fn huge_and_deep_json_within_the_frame_limit_is_refused_cleanly() {
    let server = start_server(options()).await;
    let mut eve = WsClient::join(&server.url, "Eve").await;
    let mut bob = WsClient::join(&server.url, "Bob").await;
    let many_keys = format!(
        r#"{{"type":"message","text":"keys",{}"z":0}}"#,
        (0..1200)
            .map(|i| format!(r#""k{i}":{i},"#))
            .collect::<String>()
    );
    let cases: Vec<(String, ErrorCode)> = vec![
        // 8000 levels deep, just under 16 KiB: refused without overflowing the stack.
        (
            format!("{}{}", "[".repeat(8000), "]".repeat(8000)),
            ErrorCode::InvalidJson,
        ),
        (
            format!(
                r#"{{"type":"message","text":{}"x"{}}}"#,
                "{\"a\":".repeat(2500),
                "}".repeat(2500)
            ),
            ErrorCode::InvalidJson,
        ),
        (
            format!(
                r#"{{"type":"message","text":"{}"}}"#,
                r"\u0041".repeat(2500)
            ),
            ErrorCode::TooLong,
        ),
        (
            r#"{"type":"history","limit":1e400}"#.into(),
            ErrorCode::InvalidJson,
        ),
        (
            r#"{"type":"history","limit":99999999999999999999}"#.into(),
            ErrorCode::InvalidMessage,
        ),
        (
            r#"{"type":"join","name":"\ud800"}"#.into(),
            ErrorCode::InvalidJson,
        ),
        ("\u{feff}{}".into(), ErrorCode::InvalidJson),
    ];
    for (frame, code) in &cases {
        assert!(frame.len() <= 16 * 1024, "{} bytes", frame.len());
        eve.send_text(frame).await;
        let (got, text) = eve.recv_error().await;
        assert_eq!(got, *code, "{frame:.60}: {text}");
    }
    // Unknown fields by the thousand are ignored, as for old clients: the message goes through.
    eve.send_text(&many_keys).await;
    assert_eq!(eve.recv_message().await.text, "keys");
    // Bob saw only that one message, nothing of the refused frames.
    eve.say("end").await;
    assert_eq!(bob.recv_message().await.text, "keys");
    assert_eq!(bob.recv_message().await.text, "end");
}

#[tokio::test]
async fn escape_sequences_never_reach_another_client() {
    let server = start_server(options()).await;
    let mut eve = WsClient::join(&server.url, "Eve").await;
    let mut bob = WsClient::join(&server.url, "Bob").await;
    let payloads = [
        "\u{1b}[2J\u{1b}[H cleared",                                      // CSI
        "\u{1b}]0;owned title\u{7}",                                      // OSC 0 (window title)
        "\u{1b}]8;;https://evil.example/\u{1b}\\click\u{1b}]8;;\u{1b}\\", // OSC 8 link
        "\u{1b}]52;c;cm0gLXJmIH4=\u{7}",                                  // OSC 52 clipboard
        "\u{1b}P+q544e\u{1b}\\",                                          // DCS
        "\u{9b}31m C1 CSI \u{9d}0;t\u{9c}",                               // C1 controls
        "abc\u{202e}txt.exe\u{2066}\u{2069}", // bidi override and isolates
        "bell\u{7} backspace\u{8} del\u{7f} cr\roverwrite",
    ];
    for text in payloads {
        eve.say(text).await;
        let m = bob.recv_message().await;
        assert!(
            !m.text.chars().any(obeyable),
            "{text:?} arrived as {:?}",
            m.text
        );
        assert!(m.text.chars().count() > 0);

        eve.send(&ClientMsg::Me {
            text: text.into(),
            cid: None,
        })
        .await;
        let m = bob.recv_message().await;
        assert!(m.action && !m.text.chars().any(obeyable), "{:?}", m.text);

        eve.send(&ClientMsg::Dm {
            to: "Bob".into(),
            text: text.into(),
            cid: None,
        })
        .await;
        let dm = bob
            .recv_until("a dm", |m| match m {
                ServerMsg::Dm(dm) => Some(dm.clone()),
                _ => None,
            })
            .await;
        assert!(!dm.text.chars().any(obeyable), "{:?}", dm.text);

        // As a name, a nick or a room: refused, and quoted back harmlessly if at all.
        eve.send(&ClientMsg::Nick {
            name: format!("n{text}"),
        })
        .await;
        let (code, why) = eve.recv_error().await;
        assert_eq!(code, ErrorCode::InvalidName, "{text:?}");
        assert!(!why.chars().any(obeyable), "{why:?}");
        eve.send(&ClientMsg::JoinRoom {
            room: format!("r{text}"),
        })
        .await;
        let (code, why) = eve.recv_error().await;
        assert_eq!(code, ErrorCode::InvalidRoom, "{text:?}");
        assert!(!why.chars().any(obeyable), "{why:?}");
    }
    // Bob's view of who is here is unchanged by any of it.
    bob.send(&ClientMsg::Who).await;
    let users = bob
        .recv_until("who", |m| match m {
            ServerMsg::Who { users } => Some(users.clone()),
            _ => None,
        })
        .await;
    let mut users = users;
    users.sort();
    assert_eq!(users, ["Bob", "Eve"]);
}

#[tokio::test]
async fn invisible_padded_and_lookalike_names_are_refused() {
    let server = start_server(options()).await;
    let _alice = WsClient::join(&server.url, "Alice").await;
    let mut other = WsClient::connect(&server.url).await;
    let cases = [
        ("\u{200b}", ErrorCode::InvalidName), // zero-width space only
        ("\u{3164}\u{3164}", ErrorCode::InvalidName), // Hangul fillers: blank but "letters"
        ("\u{2800}", ErrorCode::InvalidName), // braille blank
        ("Al\u{200d}ice", ErrorCode::InvalidName), // zero-width joiner inside
        ("Alice\u{200e}", ErrorCode::InvalidName), // trailing direction mark
        ("\u{202e}ecilA", ErrorCode::InvalidName), // right-to-left override
        ("   ", ErrorCode::InvalidName),      // whitespace only
        ("Alice\u{0}", ErrorCode::InvalidName), // NUL
        ("  Alice  ", ErrorCode::NameTaken),  // padding trimmed: Alice
        ("ALICE", ErrorCode::NameTaken),      // case
        ("\u{410}lice", ErrorCode::NameTaken), // Cyrillic A
        ("A\u{217c}ice", ErrorCode::NameTaken), // ROMAN NUMERAL FIFTY for l
        ("\u{13aa}lice", ErrorCode::NameTaken), // Cherokee A
        ("A1ice", ErrorCode::NameTaken),      // digit one for l
        ("AIice", ErrorCode::NameTaken),      // capital i for l
        (
            "\u{1d00}\u{29f}\u{26a}\u{1d04}\u{1d07}",
            ErrorCode::NameTaken,
        ), // small capitals
    ];
    let mut wrong = Vec::new();
    for (name, want) in cases {
        other.send(&join(name)).await;
        let (got, _) = other.recv_error().await;
        if got != want {
            wrong.push(format!("{name:?}: {got:?}, expected {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The connection is still usable: a fair name is welcomed.
    other.send(&join("Alicia")).await;
    other
        .recv_until("welcome", |m| {
            matches!(m, ServerMsg::Welcome(w) if w.name == "Alicia").then_some(())
        })
        .await;
    // A nick change is held to the same rules.
    other
        .send(&ClientMsg::Nick {
            name: "AIice".into(),
        })
        .await;
    assert_eq!(other.recv_error().await.0, ErrorCode::NameTaken);
}
