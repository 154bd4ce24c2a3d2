//! Floods from one address, over real sockets: a connect-and-join flood meets the per-address
//! limit (loopback counted here, as a remote address would be), a join flood on one connection
//! gets one session, and a crowd of slowloris handshakes neither blocks real clients nor keeps
//! its places past the handshake timeout.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use clicom::protocol::{ClientMsg, ErrorCode, ServerMsg};
use clicom::server::ServerOptions;
use support::{Seen, WAIT, WsClient, options, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn join(name: &str) -> ClientMsg {
    ClientMsg::Join {
        name: name.into(),
        color: None,
        room: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_flood_from_one_address_is_capped_and_the_room_goes_on() {
    const LIMIT: usize = 8;
    const FLOOD: usize = 200;
    let server = start_server(ServerOptions {
        max_per_ip: LIMIT,
        limit_loopback: true,
        ..options()
    })
    .await;
    let mut alice = WsClient::join(&server.url, "Alice").await;

    // All at once; each reports its fate, and the joined ones hold their place until the end.
    let (outcome_tx, mut outcome_rx) = tokio::sync::mpsc::channel::<&str>(FLOOD);
    let (release_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut flood = Vec::new();
    for i in 0..FLOOD {
        let url = server.url.clone();
        let outcome_tx = outcome_tx.clone();
        let mut release = release_tx.subscribe();
        flood.push(tokio::spawn(async move {
            let Ok(Ok((ws, _))) =
                tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url.as_str())).await
            else {
                outcome_tx.send("dropped").await.unwrap();
                return;
            };
            let mut client = WsClient { ws };
            client.send(&join(&format!("flood{i}"))).await;
            let outcome = match client.next().await {
                Seen::Msg(ServerMsg::Welcome(_)) => "joined",
                Seen::Msg(ServerMsg::Error {
                    code: ErrorCode::TooManyConnections,
                    ..
                }) => "refused",
                Seen::Close(_) | Seen::Ended => "dropped",
                other => panic!("unexpected {other:?}"),
            };
            outcome_tx.send(outcome).await.unwrap();
            if outcome == "joined" {
                let _ = release.recv().await;
            }
        }));
    }
    drop(outcome_tx);
    // Alice keeps chatting through it.
    alice.say("during the flood").await;
    assert_eq!(alice.recv_message().await.text, "during the flood");

    let mut joined = 0;
    let mut refused = 0;
    let mut dropped = 0;
    for _ in 0..FLOOD {
        let outcome = tokio::time::timeout(WAIT, outcome_rx.recv())
            .await
            .expect("every flooder learns its fate in time")
            .unwrap();
        match outcome {
            "joined" => joined += 1,
            "refused" => refused += 1,
            _ => dropped += 1,
        }
    }
    let _ = release_tx.send(());
    for f in flood {
        f.await.unwrap();
    }
    // Over the limit a few are told why (error + close 1008); the rest are dropped at accept.
    assert!(
        refused >= 1,
        "joined {joined}, refused {refused}, dropped {dropped}"
    );
    assert!(
        joined < LIMIT,
        "{joined} flooders joined; Alice holds one of {LIMIT} places"
    );
    assert!(joined >= 1, "the limit admits up to {LIMIT}, not none");

    // The room carries on; places free up again for a fair newcomer.
    alice.say("after the flood").await;
    assert_eq!(alice.recv_message().await.text, "after the flood");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut bob = WsClient::connect(&server.url).await;
        bob.send(&join("Bob")).await;
        match bob.recv().await {
            ServerMsg::Welcome(_) => break,
            ServerMsg::Error {
                code: ErrorCode::TooManyConnections,
                ..
            } => assert!(tokio::time::Instant::now() < deadline, "places never freed"),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_join_flood_on_one_connection_gets_one_session() {
    let server = start_server(options()).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let mut flooder = WsClient::connect(&server.url).await;
    for i in 0..500 {
        flooder.send(&join(&format!("clone{i}"))).await;
    }
    flooder.send(&ClientMsg::Who).await;
    let mut welcomes = 0;
    let users = loop {
        match flooder.recv().await {
            ServerMsg::Welcome(_) => welcomes += 1,
            ServerMsg::Who { users } => break users,
            _ => {}
        }
    };
    assert_eq!(welcomes, 1, "one session per connection");
    let mut users = users;
    users.sort();
    assert_eq!(users, ["Alice", "clone0"]);
    // Alice heard of one arrival only.
    alice.say("mark").await;
    let mut arrivals = Vec::new();
    loop {
        match alice.recv().await {
            ServerMsg::System { text, .. } if text.contains("joined the chat") => {
                arrivals.push(text)
            }
            ServerMsg::Message(m) if m.text == "mark" => break,
            _ => {}
        }
    }
    assert_eq!(arrivals, ["clone0 joined the chat. (2 online)"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_slowloris_handshakes_neither_blocks_nor_lingers() {
    const CROWD: usize = 100;
    let server = start_server(ServerOptions {
        handshake_timeout: Duration::from_secs(1),
        ..options()
    })
    .await;
    // Each sends a request line and then one header byte at a time, never finishing.
    let mut crowd = Vec::new();
    for _ in 0..CROWD {
        let addr = server.addr;
        crowd.push(tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(b"GET /ws HTTP/1.1\r\nX-").await.unwrap();
            let mut buf = [0u8; 256];
            tokio::time::timeout(WAIT, async {
                loop {
                    tokio::select! {
                        read = stream.read(&mut buf) => match read {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        },
                        () = tokio::time::sleep(Duration::from_millis(100)) => {
                            if stream.write_all(b"a").await.is_err() {
                                return;
                            }
                        }
                    }
                }
            })
            .await
            .is_ok()
        }));
    }
    // Meanwhile real clients connect, join and chat.
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let mut bob = WsClient::join(&server.url, "Bob").await;
    alice.say("not blocked").await;
    assert_eq!(bob.recv_message().await.text, "not blocked");
    assert_eq!(alice.recv_message().await.text, "not blocked");

    // Every slow handshake is cut off by the server (despite its steady trickle).
    for c in crowd {
        assert!(
            c.await.unwrap(),
            "a slowloris connection outlived the handshake timeout"
        );
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let health = server.health().await;
        // Alice, Bob and the health request itself.
        if health["connections"] == 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "places still held: {health}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The chat connections were never disturbed.
    bob.say("still here").await;
    assert_eq!(alice.recv_message().await.text, "still here");
}
