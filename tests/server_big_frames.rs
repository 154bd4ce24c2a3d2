//! Big server frames (a long history, a big room's user list) leave as WebSocket fragments of a
//! few KiB, so that no connection's write buffer grows to the size of the biggest frame it ever
//! sent. Read here byte by byte over a raw socket, as a client would receive them.
#![allow(clippy::unwrap_used)]

mod support;

use clicom::protocol::{ClientMsg, ServerMsg};
use support::{WAIT, WsClient, options, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One frame as it came off the wire.
struct RawFrame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

async fn read_frame(stream: &mut TcpStream) -> RawFrame {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            stream.read_exact(&mut b).await.unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            stream.read_exact(&mut b).await.unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.unwrap();
    RawFrame {
        fin: head[0] & 0x80 != 0,
        opcode: head[0] & 0x0f,
        payload,
    }
}

/// A masked client text frame.
fn client_frame(text: &str) -> Vec<u8> {
    let mask = [0x11u8, 0x22, 0x33, 0x44];
    let mut out = vec![0x81];
    let len = text.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Connects over raw TCP and completes the WebSocket handshake.
async fn raw_connect(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await.unwrap();
        response.push(b[0]);
    }
    let response = String::from_utf8(response).unwrap();
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    // RFC 6455 §1.3's worked example.
    assert!(
        response
            .to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{response}"
    );
    stream
}

/// Reads whole messages (reassembling fragments) until one of type `kind`; returns its JSON
/// and the frames it came in.
async fn read_message_of(stream: &mut TcpStream, kind: &str) -> (String, Vec<RawFrame>) {
    tokio::time::timeout(WAIT, async {
        loop {
            let mut frames = vec![read_frame(stream).await];
            while !frames.last().unwrap().fin {
                let next = read_frame(stream).await;
                if next.opcode >= 8 {
                    continue; // control frames may come between fragments
                }
                frames.push(next);
            }
            let text: Vec<u8> = frames.iter().flat_map(|f| f.payload.clone()).collect();
            let text = String::from_utf8(text).unwrap();
            if text.contains(&format!("\"type\":\"{kind}\"")) {
                return (text, frames);
            }
        }
    })
    .await
    .expect("the message arrives in time")
}

#[tokio::test]
async fn a_long_history_arrives_in_fragments_that_make_the_whole_message() {
    let server = start_server(options()).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let texts: Vec<String> = (0..12)
        .map(|i| format!("{i}: {}", "é long line ✓ ".repeat(100)))
        .collect();
    for text in &texts {
        alice.say(text).await;
    }
    // The last one echoed means all are stored and in the room's history.
    alice
        .recv_until("own last message", |m| match m {
            ServerMsg::Message(c) if c.text == texts[11] => Some(()),
            _ => None,
        })
        .await;

    let mut raw = raw_connect(server.addr).await;
    let join = ClientMsg::Join {
        name: "Bob".into(),
        color: None,
        room: None,
    };
    raw.write_all(&client_frame(&join.encode())).await.unwrap();
    let (json, frames) = read_message_of(&mut raw, "history").await;

    assert!(
        frames.len() > 1,
        "a {} byte frame is fragmented",
        json.len()
    );
    assert_eq!(frames[0].opcode, 1, "the first fragment is a text frame");
    assert!(
        frames[1..].iter().all(|f| f.opcode == 0),
        "then continuations"
    );
    assert!(frames.iter().all(|f| f.payload.len() <= 1024));
    assert!(
        frames
            .iter()
            .all(|f| std::str::from_utf8(&f.payload).is_ok()),
        "each fragment ends on a character boundary"
    );
    match ServerMsg::decode(&json).unwrap() {
        Some(ServerMsg::History { messages, .. }) => {
            let got: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
            assert_eq!(got, texts.iter().map(String::as_str).collect::<Vec<_>>());
        }
        other => panic!("expected history, got {other:?}"),
    }
    // A WebSocket library client reads the same big frame as one message.
    let mut carol = WsClient::connect(&server.url).await;
    carol
        .send(&ClientMsg::Join {
            name: "Carol".into(),
            color: None,
            room: None,
        })
        .await;
    let history = carol
        .recv_until("history", |m| match m {
            ServerMsg::History { messages, .. } => Some(messages.clone()),
            _ => None,
        })
        .await;
    assert_eq!(history.len(), 12);
    assert_eq!(history[11].text, texts[11]);
}

#[tokio::test]
async fn small_frames_are_not_fragmented() {
    let server = start_server(options()).await;
    let mut raw = raw_connect(server.addr).await;
    let join = ClientMsg::Join {
        name: "Dora".into(),
        color: None,
        room: None,
    };
    raw.write_all(&client_frame(&join.encode())).await.unwrap();
    let (json, frames) = read_message_of(&mut raw, "welcome").await;
    assert_eq!(frames.len(), 1, "{json}");
    assert!(frames[0].fin);
}
