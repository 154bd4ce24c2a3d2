//! The protocol over real sockets: the original Clicom exchange frame by frame, then every
//! extension and every refusal, against a real server on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod support;

use clicom::protocol::{ClientMsg, ErrorCode, ServerMsg};
use serde_json::json;
use support::{WsClient, options, start_server};

fn join(name: &str, room: Option<&str>) -> ClientMsg {
    ClientMsg::Join {
        name: name.into(),
        color: None,
        room: room.map(str::to_owned),
    }
}

#[tokio::test]
async fn seed_protocol_frame_by_frame() {
    let server = start_server(options()).await;
    let mut alice = WsClient::connect(&server.url).await;
    alice.send_text(r#"{"type":"join","name":"Alice"}"#).await;
    let welcome = alice.recv_json().await;
    assert_eq!(
        (&welcome["type"], &welcome["name"], &welcome["room"]),
        (&json!("welcome"), &json!("Alice"), &json!("main"))
    );
    assert_eq!(welcome["max_text"], 2000);
    let history = alice.recv_json().await;
    assert_eq!(history["type"], "history");
    assert_eq!(history["messages"], json!([]));
    let system = alice.recv_json().await;
    assert_eq!(system["type"], "system");
    assert_eq!(system["text"], "Alice joined the chat. (1 online)");
    let users = alice.recv_json().await;
    assert_eq!(users["type"], "active_users");
    assert_eq!(users["users"], json!(["Alice"]));

    let mut bob = WsClient::connect(&server.url).await;
    bob.send_text(r#"{"type":"join","name":"Bob"}"#).await;
    assert_eq!(bob.recv_json().await["type"], "welcome");
    assert_eq!(bob.recv_json().await["type"], "history");
    for client in [&mut alice, &mut bob] {
        let system = client.recv_json().await;
        assert_eq!(system["text"], "Bob joined the chat. (2 online)");
        let users = client.recv_json().await;
        assert_eq!(users["users"], json!(["Alice", "Bob"]));
    }

    alice
        .send_text(r#"{"type":"message","name":"Alice","color":"6","text":"Hello"}"#)
        .await;
    // The sender hears its own message too (Alice also gets a welcome for the new colour).
    for client in [&mut alice, &mut bob] {
        let msg = loop {
            let frame = client.recv_json().await;
            if frame["type"] == "message" {
                break frame;
            }
            assert_eq!(frame["type"], "welcome");
        };
        assert_eq!(msg["name"], "Alice");
        assert_eq!(msg["color"], "6");
        assert_eq!(msg["text"], "Hello");
        assert_eq!(msg["id"], 1);
        assert_eq!(msg["room"], "main");
        assert!(msg["ts"].as_u64().unwrap() > 1_600_000_000_000);
    }

    bob.send_text(r#"{"type":"who"}"#).await;
    assert_eq!(
        bob.recv_json().await,
        json!({"type": "who", "users": ["Alice", "Bob"]})
    );

    bob.send_text(r#"{"type":"leave"}"#).await;
    assert_eq!(bob.expect_close().await, 1000);
    alice.recv_system("Bob left the chat. (1 online)").await;
    assert_eq!(alice.recv_json().await["users"], json!(["Alice"]));
}

#[tokio::test]
async fn rooms_are_isolated() {
    let server = start_server(options()).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let mut bob = WsClient::join(&server.room_url("dev"), "Bob").await;
    let mut carol = WsClient::connect(&server.url).await;
    carol.send(&join("Carol", Some("#Dev"))).await;
    let room = carol
        .recv_until("welcome", |m| match m {
            ServerMsg::Welcome(w) => Some(w.room.clone()),
            _ => None,
        })
        .await;
    assert_eq!(room, "dev");

    bob.say("dev only").await;
    let seen = carol.recv_message().await;
    assert_eq!(
        (seen.text.as_str(), seen.room.as_deref()),
        ("dev only", Some("dev"))
    );
    // Alice's own echo comes after anything sent to her earlier: Bob's line must not be there.
    alice.say("main only").await;
    let first = alice.recv_message().await;
    assert_eq!(first.text, "main only");
    let in_dev = bob.recv_message().await;
    assert_eq!(in_dev.text, "dev only", "Bob hears nothing from main");
}

#[tokio::test]
async fn rooms_list_switching_and_empty_rooms_disappearing() {
    let server = start_server(options()).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let mut bob = WsClient::join(&server.room_url("dev"), "Bob").await;
    bob.say("earlier in dev").await;
    bob.recv_message().await;

    alice.send(&ClientMsg::Rooms).await;
    let rooms = alice
        .recv_until("rooms", |m| match m {
            ServerMsg::Rooms { rooms } => Some(rooms.clone()),
            _ => None,
        })
        .await;
    let listed: Vec<_> = rooms.iter().map(|r| (r.name.as_str(), r.users)).collect();
    assert_eq!(listed, [("dev", 1), ("main", 1)]);

    alice
        .send(&ClientMsg::JoinRoom { room: "dev".into() })
        .await;
    let welcome = alice
        .recv_until("welcome", |m| match m {
            ServerMsg::Welcome(w) => Some(w.clone()),
            _ => None,
        })
        .await;
    assert_eq!(welcome.room, "dev");
    let history = alice
        .recv_until("history", |m| match m {
            ServerMsg::History { room, messages } => Some((room.clone(), messages.clone())),
            _ => None,
        })
        .await;
    assert_eq!(history.0, "dev");
    assert_eq!(history.1[0].text, "earlier in dev");
    bob.recv_system("Alice joined the chat. (2 online)").await;

    bob.send(&ClientMsg::Rooms).await;
    let rooms = bob
        .recv_until("rooms", |m| match m {
            ServerMsg::Rooms { rooms } => Some(rooms.clone()),
            _ => None,
        })
        .await;
    let listed: Vec<_> = rooms.iter().map(|r| (r.name.as_str(), r.users)).collect();
    assert_eq!(listed, [("dev", 2)], "main emptied and disappeared");
}

#[tokio::test]
async fn dm_reaches_only_addressee_and_sender() {
    let server = start_server(options()).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let mut bob = WsClient::join(&server.url, "Bob").await;
    let mut eve = WsClient::join(&server.url, "Eve").await;

    alice
        .send(&ClientMsg::Dm {
            to: "bob".into(),
            text: "just between us".into(),
            cid: None,
        })
        .await;
    for client in [&mut bob, &mut alice] {
        let dm = client
            .recv_until("dm", |m| match m {
                ServerMsg::Dm(dm) => Some(dm.clone()),
                _ => None,
            })
            .await;
        assert_eq!(
            (dm.from.as_str(), dm.to.as_str(), dm.text.as_str()),
            ("Alice", "Bob", "just between us")
        );
    }
    // Eve's own echo arrives after anything sent to her before it: no dm among them.
    eve.say("anyone?").await;
    let frames = eve_frames_until_echo(&mut eve, "anyone?").await;
    assert!(
        !frames.iter().any(|m| matches!(m, ServerMsg::Dm(_))),
        "{frames:?}"
    );

    alice
        .send(&ClientMsg::Dm {
            to: "Nobody".into(),
            text: "hello?".into(),
            cid: None,
        })
        .await;
    assert_eq!(alice.recv_error().await.0, ErrorCode::NoSuchUser);
}

async fn eve_frames_until_echo(client: &mut WsClient, text: &str) -> Vec<ServerMsg> {
    let mut seen = Vec::new();
    loop {
        let msg = client.recv().await;
        let done = matches!(&msg, ServerMsg::Message(m) if m.text == text);
        seen.push(msg);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn me_is_an_action_message() {
    let server = start_server(options()).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    alice.send_text(r#"{"type":"me","text":"waves"}"#).await;
    let raw = loop {
        let frame = alice.recv_json().await;
        if frame["type"] == "message" {
            break frame;
        }
    };
    assert_eq!(raw["action"], true);
    assert_eq!(raw["text"], "waves");
    assert_eq!(raw["name"], "Alice");
}

#[tokio::test]
async fn nick_and_colour_changes() {
    let server = start_server(options()).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let mut bob = WsClient::join(&server.url, "Bob").await;
    alice.recv_system("Bob joined the chat. (2 online)").await;

    alice
        .send(&ClientMsg::Nick {
            name: "Alicia".into(),
        })
        .await;
    let welcome = alice
        .recv_until("welcome", |m| match m {
            ServerMsg::Welcome(w) => Some(w.clone()),
            _ => None,
        })
        .await;
    assert_eq!(welcome.name, "Alicia");
    bob.recv_system("Alice is now known as Alicia.").await;
    let users = bob
        .recv_until("active_users", |m| match m {
            ServerMsg::ActiveUsers { users, .. } => Some(users.clone()),
            _ => None,
        })
        .await;
    assert_eq!(users, ["Alicia", "Bob"]);

    bob.send(&ClientMsg::Nick {
        name: "ALICIA".into(),
    })
    .await;
    assert_eq!(bob.recv_error().await.0, ErrorCode::NameTaken);

    alice
        .send(&ClientMsg::Color {
            color: "#00FF00".into(),
        })
        .await;
    let welcome = alice
        .recv_until("welcome", |m| match m {
            ServerMsg::Welcome(w) => Some(w.clone()),
            _ => None,
        })
        .await;
    assert_eq!(welcome.color, "#00ff00");
    alice.say("green now").await;
    assert_eq!(bob.recv_message().await.color, "#00ff00");

    alice
        .send(&ClientMsg::Color {
            color: "chartreuse".into(),
        })
        .await;
    assert_eq!(alice.recv_error().await.0, ErrorCode::InvalidColor);
}

#[tokio::test]
async fn spoofed_names_and_invalid_colours_never_reach_others() {
    let server = start_server(options()).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let mut mallory = WsClient::join(&server.url, "Mallory").await;
    mallory
        .send_text(r#"{"type":"message","name":"Alice","color":"\u001b[31m","text":"trust me"}"#)
        .await;
    assert_eq!(mallory.recv_error().await.0, ErrorCode::InvalidColor);
    let seen = alice.recv_message().await;
    assert_eq!(seen.name, "Mallory");
    assert_eq!(seen.text, "trust me");
    assert!(
        seen.color.parse::<clicom::protocol::Color>().is_ok(),
        "{}",
        seen.color
    );
}

#[tokio::test]
async fn history_is_sent_after_welcome_and_can_be_paged() {
    let server = start_server(options()).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    for i in 1..=60 {
        alice.say(&format!("line {i}")).await;
    }
    for _ in 1..=60 {
        alice.recv_message().await;
    }
    let mut bob = WsClient::connect(&server.url).await;
    bob.send(&join("Bob", None)).await;
    assert!(matches!(bob.recv().await, ServerMsg::Welcome(_)));
    let ServerMsg::History { room, messages } = bob.recv().await else {
        panic!("history right after welcome")
    };
    assert_eq!(room, "main");
    let ids: Vec<_> = messages.iter().map(|m| m.id.unwrap()).collect();
    assert_eq!(
        ids,
        (11..=60).collect::<Vec<_>>(),
        "the last 50, oldest first"
    );

    bob.send(&ClientMsg::History {
        room: None,
        before: Some(11),
        limit: Some(4),
    })
    .await;
    let page = bob
        .recv_until("a history page", |m| match m {
            ServerMsg::History { messages, .. } => Some(messages.clone()),
            _ => None,
        })
        .await;
    let texts: Vec<_> = page.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["line 7", "line 8", "line 9", "line 10"]);
}

#[tokio::test]
async fn taken_name_at_join_can_be_retried_on_the_same_connection() {
    let server = start_server(options()).await;
    let _alice = WsClient::join(&server.url, "Alice").await;
    let mut other = WsClient::connect(&server.url).await;
    other.send(&join("ALICE", None)).await;
    assert_eq!(other.recv_error().await.0, ErrorCode::NameTaken);
    let ServerMsg::System { text, .. } = other.recv().await else {
        panic!("a system line for old clients")
    };
    assert!(text.contains("taken"), "{text}");
    other.send(&join("\u{0410}lice", None)).await;
    assert_eq!(
        other.recv_error().await.0,
        ErrorCode::NameTaken,
        "a Cyrillic look-alike is the same name"
    );
    other.send(&join("Bob", None)).await;
    other
        .recv_until("welcome", |m| {
            matches!(m, ServerMsg::Welcome(w) if w.name == "Bob").then_some(())
        })
        .await;
}

#[tokio::test]
async fn bad_frames_get_errors_and_the_connection_stays_open() {
    let server = start_server(options()).await;
    let mut client = WsClient::join(&server.url, "Alice").await;
    let cases = [
        ("{not json", ErrorCode::InvalidJson),
        (r#"{"type":"teleport","to":"mars"}"#, ErrorCode::UnknownType),
        (r#"{"type":"message"}"#, ErrorCode::InvalidMessage),
        (r#"[1,2,3]"#, ErrorCode::InvalidMessage),
        (
            &format!("{}{}", "[".repeat(4000), "]".repeat(4000)),
            ErrorCode::InvalidJson,
        ),
    ];
    for (frame, code) in cases {
        client.send_text(frame).await;
        assert_eq!(client.recv_error().await.0, code, "{frame:.40}");
    }
    client.send_binary(b"\x00\x01binary").await;
    assert_eq!(client.recv_error().await.0, ErrorCode::BinaryUnsupported);
    client.say(&"x".repeat(2001)).await;
    assert_eq!(client.recv_error().await.0, ErrorCode::TooLong);
    client.say(" \n ").await;
    assert_eq!(client.recv_error().await.0, ErrorCode::EmptyMessage);
    client.say("still here").await;
    assert_eq!(client.recv_message().await.text, "still here");
}

#[tokio::test]
async fn oversize_frame_closes_only_that_connection_with_1009() {
    let server = start_server(options()).await;
    let mut big = WsClient::join(&server.url, "Big").await;
    let mut other = WsClient::join(&server.url, "Other").await;
    let frame = format!(r#"{{"type":"message","text":"{}"}}"#, "x".repeat(17 * 1024));
    big.send_text(&frame).await;
    let (code, text) = big.recv_error().await;
    assert_eq!(code, ErrorCode::FrameTooLarge);
    assert!(text.contains("16384"), "{text}");
    assert_eq!(big.expect_close().await, 1009);

    other.recv_system("Big left the chat. (1 online)").await;
    other.say("unaffected").await;
    assert_eq!(other.recv_message().await.text, "unaffected");
}

#[tokio::test]
async fn health_and_index_answer_over_http() {
    let server = start_server(options()).await;
    let _alice = WsClient::join(&server.url, "Alice").await;
    let mut bob = WsClient::join(&server.room_url("dev"), "Bob").await;
    // The hub publishes its counters after each batch; an answer to a later request proves
    // the joins' batch is done.
    bob.send(&ClientMsg::Who).await;
    bob.recv_until("who", |m| matches!(m, ServerMsg::Who { .. }).then_some(()))
        .await;
    let health = server.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["users"], 2);
    assert_eq!(health["rooms"], 2);
    assert!(health["connections"].as_u64().unwrap() >= 2);
    assert!(health["uptime_secs"].is_u64());

    // `/` is the web page (its headers are checked in tests/web_http.rs).
    let index = support::http_get(server.addr, "/").await;
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");
    assert!(index.contains("text/html") && index.contains("<title>Clicom</title>"));

    match tokio_tungstenite::connect_async(server.room_url("..%2Fetc")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400)
        }
        other => panic!("an invalid room in the path must be refused: {other:?}"),
    }
    let missing = support::http_get(server.addr, "/nope").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}

#[tokio::test]
async fn invalid_utf8_text_frame_closes_with_1007() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::{Bytes, Message};

    let server = start_server(options()).await;
    let mut bad = WsClient::join(&server.url, "Bad").await;
    let mut other = WsClient::join(&server.url, "Other").await;
    let frame = Frame::message(
        Bytes::from_static(b"{\"type\":\"message\",\"text\":\"\xff\xfe\"}"),
        OpCode::Data(Data::Text),
        true,
    );
    bad.ws.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(bad.expect_close().await, 1007);
    other.recv_system("Bad left the chat. (1 online)").await;
}
