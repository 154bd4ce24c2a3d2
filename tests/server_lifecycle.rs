//! Starting, stopping and crashing: history across restarts (graceful and `kill -9`), graceful
//! shutdown in-process and by signal, the `--save` session log, refusing a locked database.
#![allow(clippy::unwrap_used)]

mod support;

use clicom::protocol::{ChatMessage, ServerMsg};
use clicom::server::{HistoryLocation, ServerOptions};
use support::{WsClient, options, spawn_server_binary, start_server};

#[tokio::test]
async fn history_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ServerOptions {
        db: HistoryLocation::File(dir.path().join("history.db")),
        ..options()
    };
    let server = start_server(opts.clone()).await;
    let (mut alice, history) = WsClient::join_with_history(&server.url, "Alice", None).await;
    assert!(history.is_empty());
    let lines: Vec<String> = (1..=5).map(|i| format!("before restart {i}")).collect();
    assert_eq!(alice.say_all(&lines).await, [1, 2, 3, 4, 5]);
    server.stop().await.unwrap();
    drop(alice);

    let server = start_server(opts).await;
    let (mut bob, history) = WsClient::join_with_history(&server.url, "Bob", None).await;
    let texts: Vec<_> = history.iter().map(|m| m.text.clone()).collect();
    assert_eq!(texts, lines);
    assert_eq!(history[0].name, "Alice");
    let ids = bob.say_all(&["after restart".to_owned()]).await;
    assert_eq!(ids, [6], "ids continue where they stopped");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn broadcast_messages_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("chat.db");
    let db_arg = db.to_str().unwrap();
    let server = spawn_server_binary(&["--db", db_arg, "--msg-rate", "0"], data.path()).await;
    let (mut alice, _) = WsClient::join_with_history(&server.url, "Alice", None).await;
    let lines: Vec<String> = (1..=20).map(|i| format!("durable {i}")).collect();
    alice.say_all(&lines).await;
    server.kill9().await;
    drop(alice);

    let server = spawn_server_binary(&["--db", db_arg], data.path()).await;
    let (_bob, history) = WsClient::join_with_history(&server.url, "Bob", None).await;
    let texts: Vec<_> = history.iter().map(|m| m.text.clone()).collect();
    assert_eq!(texts, lines, "every broadcast message is in the history");
    server.kill9().await;
}

#[tokio::test]
async fn a_message_resent_after_kill_9_is_acknowledged_not_repeated() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("chat.db");
    let db_arg = db.to_str().unwrap();
    let server = spawn_server_binary(&["--db", db_arg, "--msg-rate", "0"], data.path()).await;
    let (mut alice, _) = WsClient::join_with_history(&server.url, "Alice", None).await;
    // Sent and committed, but (as far as Alice knows) maybe not: the server dies.
    let resend = r#"{"type":"message","text":"did it arrive?","cid":"5e5e5e5e5e5e5e5e"}"#;
    alice.send_text(resend).await;
    let first = alice.recv_message().await;
    assert_eq!(first.cid.as_deref(), Some("5e5e5e5e5e5e5e5e"));
    server.kill9().await;
    drop(alice);

    let server = spawn_server_binary(&["--db", db_arg], data.path()).await;
    let mut bob = WsClient::join(&server.url, "Bob").await;
    let (mut alice, history) = WsClient::join_with_history(&server.url, "Alice", None).await;
    assert_eq!(
        history,
        std::slice::from_ref(&first),
        "the history carries the cid"
    );
    alice.send_text(resend).await;
    assert_eq!(
        alice.recv_message().await,
        first,
        "acknowledged with the stored message"
    );
    alice.say("and then something new").await;
    let next = bob.recv_message().await;
    assert_eq!(
        next.text, "and then something new",
        "bob never saw the resend"
    );
    assert_eq!(next.id, Some(2));
    server.kill9().await;
}

#[tokio::test]
async fn graceful_shutdown_says_goodbye_with_1001() {
    let server = start_server(options()).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let mut bob = WsClient::join(&server.url, "Bob").await;
    let mut lurker = WsClient::connect(&server.url).await;
    alice.recv_system("Bob joined the chat. (2 online)").await;
    let stopping = tokio::spawn(server.stop());
    for client in [&mut alice, &mut bob, &mut lurker] {
        client.recv_system("Server is shutting down.").await;
        assert_eq!(client.expect_close().await, 1001);
    }
    stopping.await.unwrap().unwrap();
}

#[tokio::test]
async fn sigterm_shuts_the_binary_down_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("logs").join("session.jsonl");
    let server = spawn_server_binary(
        &["--db", ":memory:", "--save", log.to_str().unwrap()],
        data.path(),
    )
    .await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    alice.say("hello log").await;
    alice.recv_message().await;
    server.signal("TERM");
    alice.recv_system("Server is shutting down.").await;
    assert_eq!(alice.expect_close().await, 1001);
    let status = server.wait_exit().await;
    assert!(status.success(), "{status}");

    // The session log: one JSON object per line, with the join and the message in it.
    let text = std::fs::read_to_string(&log).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let has = |msg: &str, field: &str, value: &str| {
        events
            .iter()
            .any(|e| e["fields"]["message"] == msg && e["fields"][field] == value)
    };
    assert!(has("joined", "name", "Alice"), "{text}");
    assert!(has("message", "preview", "hello log"), "{text}");
    assert!(
        events
            .iter()
            .all(|e| e["timestamp"].is_string() && e["level"].is_string())
    );
}

#[tokio::test]
async fn a_second_server_on_the_same_database_refuses_to_start() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("history.db");
    let first = spawn_server_binary(&["--db", db.to_str().unwrap()], data.path()).await;
    let second = tokio::process::Command::new(env!("CARGO_BIN_EXE_clicom"))
        .args(["serve", "--bind", "127.0.0.1", "--port", "0", "--db"])
        .arg(&db)
        .env("RUST_LOG", "off")
        .output();
    let output = tokio::time::timeout(support::WAIT, second)
        .await
        .unwrap()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("in use by another Clicom server"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "no listening line");
    first.kill9().await;
}

/// A store whose disk "fills up" on demand.
struct FillingDisk {
    full: std::sync::Arc<std::sync::atomic::AtomicBool>,
    inner: clicom::server::SqliteHistory,
}

impl clicom::server::History for FillingDisk {
    fn append(&mut self, batch: &[ChatMessage]) -> Result<(), clicom::server::HistoryError> {
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(clicom::server::HistoryError::Sql(
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                    Some("database or disk is full".into()),
                ),
            ));
        }
        self.inner.append(batch)
    }

    fn recent(
        &mut self,
        room: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, clicom::server::HistoryError> {
        self.inner.recent(room, before, limit)
    }

    fn last_id(&mut self, room: &str) -> Result<u64, clicom::server::HistoryError> {
        self.inner.last_id(room)
    }

    fn with_cid(
        &mut self,
        room: &str,
        cid: &str,
    ) -> Result<Vec<ChatMessage>, clicom::server::HistoryError> {
        self.inner.with_cid(room, cid)
    }
}

#[tokio::test]
async fn a_full_disk_degrades_history_but_chat_goes_on() {
    let full = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let history = FillingDisk {
        full: full.clone(),
        inner: clicom::server::SqliteHistory::open_in_memory().unwrap(),
    };
    let server = support::start_server_with_history(options(), Box::new(history)).await;
    let mut alice = WsClient::join(&server.url, "Alice").await;
    let mut bob = WsClient::join(&server.url, "Bob").await;
    full.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut seen = Vec::new();
    let mut notices = Vec::new();
    for text in ["one", "two"] {
        alice.say(text).await;
        // Each message reaches Bob; the notice follows the first failed save only.
        loop {
            match bob.recv().await {
                ServerMsg::Message(m) => {
                    seen.push(m.text);
                    break;
                }
                ServerMsg::System { text, .. } => notices.push(text),
                _ => {}
            }
        }
    }
    alice.say("marker").await;
    loop {
        match bob.recv().await {
            ServerMsg::Message(m) if m.text == "marker" => break,
            ServerMsg::System { text, .. } => notices.push(text),
            _ => {}
        }
    }
    assert_eq!(seen, ["one", "two"], "messages still flow");
    assert_eq!(
        notices,
        ["History is unavailable: new messages are not being saved."],
        "said once"
    );
    assert_eq!(server.health().await["status"], "degraded");

    full.store(false, std::sync::atomic::Ordering::SeqCst);
    alice.say("three").await;
    bob.recv_system("History is being saved again.").await;
    let (_carol, history) = WsClient::join_with_history(&server.url, "Carol", None).await;
    let texts: Vec<_> = history.iter().map(|m| m.text.as_str()).collect();
    // The live room still remembers what could not be saved, so a newcomer misses nothing.
    assert_eq!(texts, ["one", "two", "marker", "three"]);
}
