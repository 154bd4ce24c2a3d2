//! The history file's disk fills up under a running server (the real binary under a file-size
//! limit, so SQLite's writes fail with EFBIG as on a full disk, even for root): the server keeps
//! chatting, says once that history is degraded, reports it in /health, and does not crash.
#![allow(clippy::unwrap_used)]

mod fault_support;
mod support;

use clicom::protocol::ServerMsg;
use fault_support::Launch;
use support::WsClient;

const DEGRADED: &str = "History is unavailable: new messages are not being saved.";

#[tokio::test]
async fn a_full_disk_degrades_history_and_chat_goes_on() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("chat.db");
    let args = ["--db", db.to_str().unwrap(), "--msg-rate", "0"];
    let mut server = fault_support::start(Launch {
        port: 0,
        args: &args,
        data_dir: data.path(),
        file_size_limit_kib: Some(96),
    })
    .await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let mut bob = WsClient::join(&server.url, "Bob").await;

    // Long lines until a save fails; every one must still reach Bob.
    let line = |i: usize| format!("{i:05} {}", "x".repeat(1500));
    let mut sent = 0;
    let mut notices = Vec::new();
    let mut delivered = Vec::new();
    while notices.is_empty() {
        assert!(sent < 500, "the file-size limit never bit");
        alice.say(&line(sent)).await;
        sent += 1;
        loop {
            match bob.recv().await {
                ServerMsg::Message(m) => {
                    delivered.push(m.text);
                    break;
                }
                ServerMsg::System { text, .. } if text == DEGRADED => notices.push(text),
                _ => {}
            }
        }
    }
    assert!(
        sent > 3,
        "some messages were saved before the disk filled ({sent})"
    );

    // Chat goes on, and the notice is not repeated for each further failure.
    for i in sent..sent + 20 {
        alice.say(&line(i)).await;
        loop {
            match bob.recv().await {
                ServerMsg::Message(m) => {
                    delivered.push(m.text);
                    break;
                }
                ServerMsg::System { text, .. } => notices.push(text),
                _ => {}
            }
        }
    }
    let expected: Vec<String> = (0..sent + 20).map(line).collect();
    assert_eq!(
        delivered, expected,
        "every message reached the room, in order"
    );
    assert_eq!(notices, [DEGRADED], "said once");

    // While saves fail, /health says so.
    let health = support::http_get(server.addr, "/health").await;
    assert!(health.contains(r#""history":"degraded""#), "{health}");

    // A newcomer can still join (history reads go on) and talk. Her short line may fit where
    // the long ones did not: then the room is told history is saved again, and /health agrees.
    let mut carol = WsClient::join(&server.url, "Carol").await;
    carol.say("hello from carol").await;
    assert_eq!(bob.recv_message().await.text, "hello from carol");
    let health = support::http_get(server.addr, "/health").await;
    if health.contains(r#""history":"ok""#) {
        bob.recv_system("History is being saved again.").await;
    } else {
        assert!(health.contains(r#""history":"degraded""#), "{health}");
    }
    assert!(server.is_running(), "the server is still up");
    let log = server.log();
    assert!(
        log.contains("cannot save history"),
        "the log says why: {log}"
    );
    server.kill9().await;
}
