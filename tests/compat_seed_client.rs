//! Interoperability with the original Python client: `tests/interop/seed_client.py` speaks only
//! the seed protocol (standard library Python, no packages) and shows only the types the original
//! shows. It must chat with our server and with our own protocol's clients in the same room.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::{WsClient, options, start_server};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

struct SeedClient {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl SeedClient {
    fn start(url: &str, name: &str, color: &str) -> SeedClient {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/seed_client.py");
        let mut child = Command::new("python3")
            .args([script, url, name, color])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs (it is on every machine this project supports)");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        SeedClient { child, lines }
    }

    async fn command(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// The next line the old client would have shown that satisfies `pick`.
    async fn shows(&mut self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + support::WAIT;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("the seed client never showed {what}"))
                .unwrap()
                .unwrap_or_else(|| panic!("the seed client exited before showing {what}"));
            let value: Value = serde_json::from_str(&line).unwrap();
            if pick(&value) {
                return value;
            }
        }
    }
}

#[tokio::test]
async fn original_python_client_chats_with_a_new_client() {
    let server = start_server(options()).await;
    let mut old = SeedClient::start(&server.url, "Grandpa", "6");
    old.shows("its own arrival", |v| {
        v["type"] == "system" && v["text"] == "Grandpa joined the chat. (1 online)"
    })
    .await;

    let mut new = WsClient::join(&server.url, "Zoe").await;
    old.shows("Zoe's arrival", |v| {
        v["type"] == "system" && v["text"] == "Zoe joined the chat. (2 online)"
    })
    .await;
    old.shows("the user list", |v| {
        v["type"] == "active_users" && v["users"] == serde_json::json!(["Grandpa", "Zoe"])
    })
    .await;

    old.command("say hello from 2019").await;
    let seen = new.recv_message().await;
    assert_eq!(
        (seen.name.as_str(), seen.text.as_str(), seen.color.as_str()),
        ("Grandpa", "hello from 2019", "6")
    );
    old.shows("the echo of its own message", |v| {
        v["type"] == "message" && v["name"] == "Grandpa" && v["text"] == "hello from 2019"
    })
    .await;

    new.say("hi, welcome back").await;
    let got = old
        .shows("Zoe's message", |v| {
            v["type"] == "message" && v["name"] == "Zoe"
        })
        .await;
    assert_eq!(got["text"], "hi, welcome back");

    old.command("who").await;
    let who = old.shows("the who answer", |v| v["type"] == "who").await;
    assert_eq!(who["users"], serde_json::json!(["Grandpa", "Zoe"]));

    old.command("leave").await;
    new.recv_system("Grandpa left the chat. (1 online)").await;
    let status = tokio::time::timeout(Duration::from_secs(10), old.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "the seed client exits cleanly: {status}");
}

#[tokio::test]
async fn a_taken_name_tells_the_old_client_why_in_a_system_line() {
    let server = start_server(options()).await;
    let _first = WsClient::join(&server.url, "Alice").await;
    let mut old = SeedClient::start(&server.url, "alice", "2");
    let line = old
        .shows("a system line about the name", |v| v["type"] == "system")
        .await;
    let text = line["text"].as_str().unwrap();
    assert!(
        text.to_lowercase().contains("name") && text.contains("alice"),
        "the refusal names the problem: {text}"
    );
}
