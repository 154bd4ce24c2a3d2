//! A half-open connection found by keepalive, on the real binary with short `--ping-interval`
//! and `--ping-timeout`: a raw client that joined and then went silent (it never reads, so it
//! never answers a ping, like a peer whose network vanished) is dropped and its leave
//! announced, while a client that answers pings stays through the same period.
#![allow(clippy::unwrap_used)]

mod fault_support;
mod support;

use clicom::protocol::{ClientMsg, ServerMsg};
use support::{Seen, WsClient, spawn_server_binary};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_silent_peer_is_dropped_by_keepalive_and_a_live_one_stays() {
    let data = tempfile::tempdir().unwrap();
    let server = spawn_server_binary(
        &[
            "--db",
            ":memory:",
            "--ping-interval",
            "1",
            "--ping-timeout",
            "1",
        ],
        data.path(),
    )
    .await;
    let mut live = WsClient::join(&server.url, "Live").await;

    let mut silent = fault_support::raw_websocket(server.addr, "/ws").await;
    let join = ClientMsg::Join {
        name: "Silent".into(),
        color: None,
        room: None,
    };
    silent
        .write_all(&fault_support::text_frame(&join.encode()))
        .await
        .unwrap();
    // From here on the silent peer neither reads nor writes.

    // The live client reads (its library answers pings) until the silent one is gone.
    let mut pings = 0;
    let mut joined = false;
    loop {
        match live.next().await {
            Seen::Ping => pings += 1,
            Seen::Msg(ServerMsg::System { text, .. }) => {
                if text == "Silent joined the chat. (2 online)" {
                    joined = true;
                }
                if text == "Silent left the chat. (1 online)" {
                    break;
                }
            }
            Seen::Msg(_) => {}
            other => panic!("the live client was dropped: {other:?}"),
        }
    }
    assert!(joined, "the silent peer had joined");
    assert!(
        pings >= 1,
        "the live client was pinged meanwhile and answered"
    );

    // The live client is still in, and still heard.
    live.say("still here").await;
    assert_eq!(live.recv_message().await.text, "still here");
    live.send(&ClientMsg::Who).await;
    let users = live
        .recv_until("who", |m| match m {
            ServerMsg::Who { users } => Some(users.clone()),
            _ => None,
        })
        .await;
    assert_eq!(users, ["Live"]);
    drop(silent);
    server.kill9().await;
}
