//! The conformance echo endpoint (`--conformance-echo`, `/echo`): present only when asked for,
//! and bound by the same frame limit and close codes as `/ws`, since it shares their stack.
#![allow(clippy::unwrap_used)]

mod support;

use clicom::server::ServerOptions;
use futures_util::{SinkExt, StreamExt};
use support::{WAIT, options, spawn_server_binary, start_server};
use tokio_tungstenite::tungstenite::{Bytes, Message};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_data(ws: &mut Ws) -> Message {
    loop {
        let item = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("the stream is open")
            .unwrap();
        match item {
            Message::Ping(_) | Message::Pong(_) => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn echo_round_trips_text_and_binary_with_the_flag() {
    let data = tempfile::tempdir().unwrap();
    let server =
        spawn_server_binary(&["--db", ":memory:", "--conformance-echo"], data.path()).await;
    let url = format!("ws://{}/echo", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // Not JSON, not a protocol message: the echo does not look inside.
    ws.send(Message::text("héllo, not json {")).await.unwrap();
    assert_eq!(next_data(&mut ws).await, Message::text("héllo, not json {"));
    let bytes = Bytes::from_static(b"\x00\xffbinary");
    ws.send(Message::Binary(bytes.clone())).await.unwrap();
    assert_eq!(next_data(&mut ws).await, Message::Binary(bytes));
    ws.close(None).await.unwrap();
    server.kill9().await;
}

#[tokio::test]
async fn echo_is_not_served_without_the_flag() {
    let data = tempfile::tempdir().unwrap();
    let server = spawn_server_binary(&["--db", ":memory:"], data.path()).await;
    let url = format!("ws://{}/echo", server.addr);
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 404)
        }
        other => panic!("/echo must not exist without the flag: {other:?}"),
    }
    let plain = support::http_get(server.addr, "/echo").await;
    assert!(plain.starts_with("HTTP/1.1 404"), "{plain}");
    server.kill9().await;
}

#[tokio::test]
async fn echo_closes_oversize_messages_with_1009_like_ws() {
    let server = start_server(ServerOptions {
        conformance_echo: true,
        max_frame_bytes: 4096,
        ..options()
    })
    .await;
    let url = format!("ws://{}/echo", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let fits = "a".repeat(4096);
    ws.send(Message::text(fits.clone())).await.unwrap();
    assert_eq!(next_data(&mut ws).await, Message::text(fits));
    ws.send(Message::text("b".repeat(4097))).await.unwrap();
    match next_data(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1009),
        other => panic!("expected close 1009, got {other:?}"),
    }
}
