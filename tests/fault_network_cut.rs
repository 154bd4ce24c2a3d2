//! A client's network cut in the middle of a frame (its bytes stop at the header's first byte,
//! after the header, or halfway through the payload, then the socket closes): the server ends
//! that session, the room sees the leave, and the server keeps serving everyone else.
#![allow(clippy::unwrap_used)]

mod fault_support;
mod support;

use clicom::protocol::ClientMsg;
use support::{WsClient, spawn_server_binary};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_connection_cut_mid_frame_is_cleaned_up_and_the_server_serves_on() {
    let data = tempfile::tempdir().unwrap();
    let server = spawn_server_binary(&["--db", ":memory:", "--msg-rate", "0"], data.path()).await;
    let mut watcher = WsClient::join(&server.url, "Watcher").await;

    let message = ClientMsg::Message {
        text: "this line never arrives whole".repeat(4),
        name: None,
        color: None,
        cid: None,
    }
    .encode();
    let frame = fault_support::text_frame(&message);
    let header_len = 2 + 2 + 4; // 126-length form: two bytes of length, four of mask
    assert!(message.len() >= 126);
    let cuts = [
        ("inside the header", 1),
        ("after the header", header_len),
        ("mid-payload", header_len + message.len() / 2),
    ];
    for (i, (where_, cut)) in cuts.into_iter().enumerate() {
        let name = format!("Cut{i}");
        let mut stream = fault_support::raw_websocket(server.addr, "/ws").await;
        let join = ClientMsg::Join {
            name: name.clone(),
            color: None,
            room: None,
        };
        stream
            .write_all(&fault_support::text_frame(&join.encode()))
            .await
            .unwrap();
        watcher
            .recv_system(&format!("{name} joined the chat. (2 online)"))
            .await;
        stream.write_all(&frame[..cut]).await.unwrap();
        stream.flush().await.unwrap();
        drop(stream);
        watcher
            .recv_system(&format!("{name} left the chat. (1 online)"))
            .await;
        // The cut line was never delivered in any form, and the room goes on.
        watcher
            .say(&format!("still serving after a cut {where_}"))
            .await;
        let echo = watcher.recv_message().await;
        assert_eq!(echo.text, format!("still serving after a cut {where_}"));
        assert_eq!(echo.name, "Watcher");
    }

    // A newcomer can join and talk: nothing was left half-open.
    let mut later = WsClient::join(&server.url, "Later").await;
    later.say("hello").await;
    let seen = watcher.recv_message().await;
    assert_eq!((seen.name.as_str(), seen.text.as_str()), ("Later", "hello"));
    server.kill9().await;
}
