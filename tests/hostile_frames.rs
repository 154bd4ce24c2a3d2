//! Hostile WebSocket frames written byte by byte on raw sockets: invalid UTF-8 (whole or split
//! across fragments), a header announcing exabytes, a fragmented message growing past the limit,
//! an unmasked client frame. Each closes only the offender with the right code; the room goes on.
#![allow(clippy::unwrap_used)]

mod fault_support;
mod support;

use clicom::protocol::ClientMsg;
use fault_support::{frame_header, masked, raw_websocket, text_frame};
use support::{WAIT, WsClient, options, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MASK: [u8; 4] = [0xA1, 0xB2, 0xC3, 0xD4];

/// A raw client joined as `name`, announced to `watcher`.
async fn raw_member(server: &support::TestServer, watcher: &mut WsClient, name: &str) -> TcpStream {
    let mut stream = raw_websocket(server.addr, "/ws").await;
    let join = ClientMsg::Join {
        name: name.into(),
        color: None,
        room: None,
    };
    stream.write_all(&text_frame(&join.encode())).await.unwrap();
    watcher
        .recv_system(&format!("{name} joined the chat. (2 online)"))
        .await;
    stream
}

/// Reads server frames until a close frame; returns its code. Skips text frames.
async fn close_code(stream: &mut TcpStream) -> u16 {
    tokio::time::timeout(WAIT, async {
        loop {
            let mut head = [0u8; 2];
            stream
                .read_exact(&mut head)
                .await
                .expect("a frame before the end");
            let len = match head[1] & 0x7F {
                126 => u64::from(stream.read_u16().await.unwrap()),
                127 => stream.read_u64().await.unwrap(),
                n => u64::from(n),
            };
            assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
            let mut payload = vec![0u8; usize::try_from(len).unwrap()];
            stream.read_exact(&mut payload).await.unwrap();
            if head[0] & 0x0F == 0x8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    })
    .await
    .expect("a close frame in time")
}

/// `payload` as one masked frame with the given first byte (FIN and opcode).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = frame_header(first & 0x0F, payload.len() as u64, MASK);
    f[0] = first;
    f.extend(masked(payload, MASK));
    f
}

async fn room_goes_on(watcher: &mut WsClient, name: &str) {
    watcher
        .recv_system(&format!("{name} left the chat. (1 online)"))
        .await;
    watcher.say("the room goes on").await;
    let echo = watcher.recv_message().await;
    assert_eq!(
        (echo.name.as_str(), echo.text.as_str()),
        ("Watcher", "the room goes on")
    );
}

#[tokio::test]
async fn invalid_utf8_text_closes_with_1007_whole_or_fragmented() {
    let server = start_server(options()).await;
    let mut watcher = WsClient::join(&server.url, "Watcher").await;

    let mut whole = raw_member(&server, &mut watcher, "Whole").await;
    let bad = b"{\"type\":\"message\",\"text\":\"\xC0\xAF overlong slash\"}";
    whole.write_all(&frame(0x81, bad)).await.unwrap();
    assert_eq!(close_code(&mut whole).await, 1007);
    room_goes_on(&mut watcher, "Whole").await;

    // A valid start, then a continuation that ends inside a four-byte sequence.
    let mut split = raw_member(&server, &mut watcher, "Split").await;
    split
        .write_all(&frame(0x01, b"{\"type\":\"message\",\"text\":\"ok "))
        .await
        .unwrap();
    split
        .write_all(&frame(0x80, b"\xF0\x9F\x98\"}"))
        .await
        .unwrap();
    assert_eq!(close_code(&mut split).await, 1007);
    room_goes_on(&mut watcher, "Split").await;
}

#[tokio::test]
async fn a_header_announcing_exabytes_is_refused_before_any_payload() {
    let server = start_server(options()).await;
    let mut watcher = WsClient::join(&server.url, "Watcher").await;
    let mut liar = raw_member(&server, &mut watcher, "Liar").await;
    // 2^62 bytes announced; none sent. The server must not wait for (or allocate) them.
    liar.write_all(&frame_header(0x1, 1 << 62, MASK))
        .await
        .unwrap();
    assert_eq!(close_code(&mut liar).await, 1009);
    room_goes_on(&mut watcher, "Liar").await;
}

#[tokio::test]
async fn fragments_adding_up_past_the_limit_close_with_1009() {
    let server = start_server(options()).await;
    let mut watcher = WsClient::join(&server.url, "Watcher").await;
    let mut trickle = raw_member(&server, &mut watcher, "Trickle").await;
    // 1 KiB fragments, each small, never finished: the message as a whole passes 16 KiB.
    let chunk = vec![b'a'; 1024];
    let mut frames = frame(0x01, &chunk);
    for _ in 0..20 {
        frames.extend(frame(0x00, &chunk));
    }
    // The server may close before everything is written.
    let _ = trickle.write_all(&frames).await;
    assert_eq!(close_code(&mut trickle).await, 1009);
    room_goes_on(&mut watcher, "Trickle").await;
}

#[tokio::test]
async fn an_unmasked_client_frame_is_a_protocol_error() {
    let server = start_server(options()).await;
    let mut watcher = WsClient::join(&server.url, "Watcher").await;
    let mut bare = raw_member(&server, &mut watcher, "Bare").await;
    let text = br#"{"type":"message","text":"unmasked"}"#;
    let mut unmasked = vec![0x81, text.len() as u8];
    unmasked.extend_from_slice(text);
    bare.write_all(&unmasked).await.unwrap();
    assert_eq!(close_code(&mut bare).await, 1002);
    room_goes_on(&mut watcher, "Bare").await;
}

#[tokio::test]
async fn a_10_mb_paste_sent_as_one_message_closes_with_1009_and_nothing_is_relayed() {
    let server = start_server(options()).await;
    let mut watcher = WsClient::join(&server.url, "Watcher").await;
    let mut paster = WsClient::join(&server.url, "Paster").await;
    watcher
        .recv_system("Paster joined the chat. (2 online)")
        .await;
    let paste = "0123456789abcdef\n".repeat(10 * 1024 * 1024 / 17);
    let frame = ClientMsg::Message {
        text: paste,
        name: None,
        color: None,
        cid: None,
    }
    .encode();
    assert!(frame.len() >= 10_000_000);
    // The server may hang up before the whole paste is written; that is the point.
    let _ = futures_util::SinkExt::send(
        &mut paster.ws,
        tokio_tungstenite::tungstenite::Message::text(frame),
    )
    .await;
    assert_eq!(paster.expect_close().await, 1009);
    watcher
        .recv_system("Paster left the chat. (1 online)")
        .await;
    watcher.say("after the paste").await;
    // Nothing of the paste reached the room: the next message is the watcher's own.
    assert_eq!(watcher.recv_message().await.text, "after the paste");
}
