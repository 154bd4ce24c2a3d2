//! Limits and liveness over real sockets: floods, a client that stops reading, too many
//! connections from one address, keepalive pings, join and handshake timeouts.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use clicom::protocol::{ClientMsg, ErrorCode, ServerMsg};
use clicom::server::ServerOptions;
use support::{Seen, WAIT, WsClient, options, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn flood_is_rate_limited_then_muted() {
    let server = start_server(ServerOptions {
        msg_rate: 1.0,
        msg_burst: 3,
        mute_after: 3,
        mute_for: Duration::from_secs(600),
        ..options()
    })
    .await;
    let mut flooder = WsClient::join(&server.url, "Flood").await;
    let mut bob = WsClient::join(&server.url, "Bob").await;
    for i in 0..30 {
        flooder.say(&format!("spam {i}")).await;
    }
    let (code, text) = flooder.recv_error().await;
    assert_eq!(code, ErrorCode::RateLimited, "{text}");
    let (code, _) = flooder
        .recv_until("muted", |m| match m {
            ServerMsg::Error { code, text } if *code != ErrorCode::RateLimited => {
                Some((*code, text.clone()))
            }
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::Muted);
    let line = flooder
        .recv_until("a system line about the mute", |m| match m {
            ServerMsg::System { text, .. } => Some(text.clone()),
            _ => None,
        })
        .await;
    assert!(line.contains("muted"), "{line}");

    // The room heard at most the burst, and Bob is not affected.
    bob.say("I can still talk").await;
    let mut heard = Vec::new();
    loop {
        let m = bob.recv_message().await;
        if m.name == "Bob" {
            break;
        }
        heard.push(m.text);
    }
    assert!(heard.len() <= 3, "{heard:?}");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_others_lose_nothing() {
    let server = start_server(ServerOptions {
        outbound_queue: 16,
        ..options()
    })
    .await;
    let mut watcher = WsClient::join(&server.url, "Watcher").await;
    let mut sender = WsClient::join(&server.url, "Sender").await;
    let slow = WsClient::join(&server.url, "Slow").await;
    watcher
        .recv_system("Slow joined the chat. (3 online)")
        .await;

    // Send in lockstep (each message waits for its echo) until the server gives up on Slow,
    // whose socket buffers fill because it never reads.
    let text = "y".repeat(1900);
    let mut sent = 0u64;
    let mut watcher_ids = Vec::new();
    let mut slow_gone = false;
    while !slow_gone {
        assert!(sent < 50_000, "Slow was never disconnected");
        sender.say(&text).await;
        sender.recv_message().await;
        sent += 1;
        loop {
            match watcher.recv().await {
                ServerMsg::Message(m) => {
                    watcher_ids.push(m.id.unwrap());
                    break;
                }
                ServerMsg::System { text, .. } if text.starts_with("Slow left the chat.") => {
                    slow_gone = true;
                }
                _ => {}
            }
        }
    }
    let expected: Vec<u64> = (1..=sent).collect();
    assert_eq!(
        watcher_ids, expected,
        "the watcher got every message, in order"
    );
    drop(slow);

    // The room carries on.
    sender.say("after").await;
    assert_eq!(watcher.recv_message().await.text, "after");
}

#[tokio::test]
async fn too_many_connections_from_one_address() {
    let server = start_server(ServerOptions {
        max_per_ip: 2,
        limit_loopback: true,
        ..options()
    })
    .await;
    let first = WsClient::join(&server.url, "One").await;
    let mut second = WsClient::join(&server.url, "Two").await;
    let mut third = WsClient::connect(&server.url).await;
    let (code, text) = third.recv_error().await;
    assert_eq!(code, ErrorCode::TooManyConnections);
    assert!(text.contains('2'), "{text}");
    assert!(matches!(third.recv().await, ServerMsg::System { .. }));
    assert_eq!(third.expect_close().await, 1008);

    // A freed place can be taken again.
    drop(first);
    second.recv_system("One left the chat. (1 online)").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place was never freed"
        );
        let mut again = WsClient::connect(&server.url).await;
        again
            .send(&ClientMsg::Join {
                name: "Three".into(),
                color: None,
                room: None,
            })
            .await;
        match again.recv().await {
            ServerMsg::Welcome(_) => break,
            // The old connection's task may still be finishing: try again.
            ServerMsg::Error {
                code: ErrorCode::TooManyConnections,
                ..
            } => continue,
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn loopback_is_exempt_from_the_address_limit_by_default() {
    let server = start_server(ServerOptions {
        max_per_ip: 1,
        ..options()
    })
    .await;
    let mut clients = Vec::new();
    for i in 0..4 {
        clients.push(WsClient::join(&server.url, &format!("user{i}")).await);
    }
}

fn keepalive_options() -> ServerOptions {
    ServerOptions {
        ping_interval: Some(Duration::from_millis(300)),
        ping_timeout: Duration::from_secs(3),
        ..options()
    }
}

#[tokio::test]
async fn idle_clients_are_pinged_and_stay_connected_while_they_answer() {
    let server = start_server(keepalive_options()).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let mut pings = 0;
    while pings < 3 {
        match alice.next().await {
            Seen::Ping => pings += 1, // the client library answers with a pong
            Seen::Msg(_) => {}
            other => panic!("the connection ended: {other:?}"),
        }
    }
    alice.say("still here").await;
    assert_eq!(alice.recv_message().await.text, "still here");
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_dropped() {
    let server = start_server(keepalive_options()).await;
    let mut watcher = WsClient::join(&server.url, "Watcher").await;
    // Never polled again: it cannot answer pings, like a peer behind a dead link.
    let mut silent = WsClient::join(&server.url, "Silent").await;
    watcher
        .recv_system("Silent joined the chat. (2 online)")
        .await;
    watcher
        .recv_system("Silent left the chat. (1 online)")
        .await;
    // The server hung up without a close frame: the socket just ends.
    silent.expect_end().await;
}

#[tokio::test]
async fn connections_that_never_join_are_closed() {
    let server = start_server(ServerOptions {
        join_timeout: Duration::from_millis(500),
        ..options()
    })
    .await;
    let mut lurker = WsClient::connect(&server.url).await;
    let (code, _) = lurker.recv_error().await;
    assert_eq!(code, ErrorCode::JoinTimeout);
    assert!(matches!(lurker.recv().await, ServerMsg::System { .. }));
    assert_eq!(lurker.expect_close().await, 1008);
}

#[tokio::test]
async fn slow_handshakes_are_cut_off() {
    let server = start_server(ServerOptions {
        handshake_timeout: Duration::from_millis(500),
        ..options()
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Half a request, then silence (slowloris).
    stream
        .write_all(b"GET /ws HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(WAIT, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server closed the half-open handshake");
    // Its place is freed (the health request itself is the one connection left).
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.health().await["connections"] != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place was never freed"
        );
        tokio::task::yield_now().await;
    }
}
