//! `clicom serve --config FILE` as a real process: the file's settings hold over real sockets,
//! flags beat it, a bad file stops the server before it binds, and SIGHUP changes limits
//! without dropping a connected client (a broken file is refused and the old limits stay).
//! The server logs with `--log-format json`, and every line it writes must parse.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use clicom::protocol::{ErrorCode, ServerMsg};
use serde_json::Value;
use support::{WAIT, WsClient, announced_address};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// The server binary with its stderr read line by line (each line must be a JSON object).
struct Server {
    child: tokio::process::Child,
    url: String,
    addr: SocketAddr,
    logs: mpsc::UnboundedReceiver<Value>,
}

fn command(args: &[&str], data: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_clicom"));
    cmd.arg("serve")
        .args(args)
        .env("CLICOM_DATA_DIR", data)
        .env_remove("PORT")
        .env_remove("CLICOM_SERVER_CONFIG")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn start(mut cmd: tokio::process::Command) -> Server {
    let mut child = cmd.spawn().expect("the clicom binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let (log_tx, logs) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            let json: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            assert!(json.is_object(), "{line}");
            if log_tx.send(json).is_err() {
                return;
            }
        }
    });
    let (url, addr) = announced_address(&mut stdout)
        .await
        .expect("the server announces its address");
    Server {
        child,
        url,
        addr,
        logs,
    }
}

impl Server {
    /// Waits for a log line whose message is `message`; returns its fields.
    async fn log(&mut self, message: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let line = tokio::time::timeout_at(deadline, self.logs.recv())
                .await
                .unwrap_or_else(|_| panic!("no log line {message:?} in time"))
                .expect("the server is still logging");
            if line["fields"]["message"] == message {
                return line["fields"].clone();
            }
        }
    }

    fn hangup(&self) {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &self.child.id().unwrap().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

fn write(path: &Path, text: &str) {
    // Replace, as an editor or a deploy tool does, so the server never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Sends `text` and returns whether it was broadcast (true) or refused as too long (false).
async fn accepted(client: &mut WsClient, text: &str) -> bool {
    client.say(text).await;
    client
        .recv_until("the echo or a refusal", |m| match m {
            ServerMsg::Message(m) if m.text == text => Some(true),
            ServerMsg::Error { code, .. } if *code == ErrorCode::TooLong => Some(false),
            _ => None,
        })
        .await
}

const BASE: &str = "bind = \"127.0.0.1\"\nport = 0\ndb = \":memory:\"\nmsg-rate = 0\n";

#[tokio::test]
async fn the_files_limits_hold_over_a_real_socket_and_flags_beat_them() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("server.toml");
    write(
        &config,
        &format!("{BASE}max-text = 10\nlog-format = \"json\"\n"),
    );

    // Named by the environment variable.
    let mut cmd = command(&[], data.path());
    cmd.env("CLICOM_SERVER_CONFIG", &config);
    let mut server = start(cmd).await;
    let listening = server.log("Clicom server listening").await;
    assert_eq!(listening["config"], config.display().to_string());
    assert!(server.addr.ip().is_loopback(), "bind came from the file");
    let mut client = WsClient::join(&server.url, "Ann").await;
    assert!(accepted(&mut client, "ten chars!").await);
    assert!(!accepted(&mut client, "eleven char").await);

    // A flag beats the file.
    let config_arg = config.to_str().unwrap();
    let server = start(command(
        &["--config", config_arg, "--max-text", "20"],
        data.path(),
    ))
    .await;
    let mut client = WsClient::join(&server.url, "Bob").await;
    assert!(accepted(&mut client, "fifteen chars!!").await);
    assert!(!accepted(&mut client, "twenty-one characters").await);
}

#[tokio::test]
async fn a_bad_file_stops_the_server_before_it_binds() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("server.toml");
    for (text, expected) in [
        (
            format!("{BASE}\nmax_text = 10\n"),
            ":6: unknown key `max_text` (did you mean `max-text`?)",
        ),
        (
            format!("{BASE}queue = 2\n"),
            ":5: `queue`: must be at least 16",
        ),
    ] {
        write(&config, &text);
        let out = command(&["--config", config.to_str().unwrap()], data.path())
            .output()
            .await
            .unwrap();
        assert!(!out.status.success());
        assert!(out.stdout.is_empty(), "it never listened");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let want = format!("clicom: {}{expected}", config.display());
        assert_eq!(stderr.trim_end(), want);
    }
}

#[tokio::test]
async fn sighup_changes_a_limit_without_dropping_a_client_and_refuses_a_broken_file() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("server.toml");
    let limits = "limit-loopback = true\nmax-per-ip = 1\n";
    write(&config, &format!("{BASE}max-text = 10\n{limits}"));
    let args = ["--config", config.to_str().unwrap(), "--log-format", "json"];
    let mut server = start(command(&args, data.path())).await;
    let mut client = WsClient::join(&server.url, "Ann").await;
    assert!(!accepted(&mut client, "fifteen chars!!").await);
    assert_eq!(refusal(&server.url).await, ErrorCode::TooManyConnections);

    let moved = BASE.replace("port = 0", "port = 1");
    let limits = "limit-loopback = true\nmax-per-ip = 2\n";
    write(&config, &format!("{moved}max-text = 20\n{limits}"));
    server.hangup();
    for (key, from, to) in [("max-per-ip", "1", "2"), ("max-text", "10", "20")] {
        let changed = server.log("setting changed").await;
        assert_eq!(
            [
                &changed["key"],
                &changed["from"],
                &changed["to"],
                &changed["takes"]
            ],
            [key, from, to, "now"]
        );
    }
    let restart = server
        .log("setting changed in the config file; it takes effect at the next start")
        .await;
    assert_eq!(restart["key"], "port");
    let reloaded = server.log("config file reloaded").await;
    assert_eq!([&reloaded["changed"], &reloaded["on_restart"]], [2, 1]);
    assert!(
        accepted(&mut client, "fifteen chars!!").await,
        "the same connection, under the new limit"
    );
    assert!(!accepted(&mut client, "twenty-one characters").await);

    write(&config, &format!("{BASE}max-text = 0\n{limits}"));
    server.hangup();
    let refused = server
        .log("config file refused; the current settings stay in force")
        .await;
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.ends_with(":5: `max-text`: must be at least 1"),
        "{error}"
    );
    assert!(
        accepted(&mut client, "fifteen chars!!").await,
        "old limits stay"
    );
    assert!(!accepted(&mut client, "twenty-one characters").await);

    // The port did not move, and a second connection from this address now fits.
    let mut other = WsClient::join(&format!("ws://{}/ws", server.addr), "Bob").await;
    assert!(accepted(&mut other, "fifteen chars!!").await);
    assert_eq!(refusal(&server.url).await, ErrorCode::TooManyConnections);
    assert!(
        accepted(&mut client, "still here").await,
        "Ann was never dropped"
    );
}

/// Connects and returns the error code the server refuses the connection with (a connection
/// it serves says nothing before a join, so this fails after the wait).
async fn refusal(url: &str) -> ErrorCode {
    let mut probe = WsClient::connect(url).await;
    match probe.next().await {
        support::Seen::Msg(ServerMsg::Error { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The HTTP status of a WebSocket handshake sent with `origin`.
async fn handshake_with_origin(url: &str, origin: &str) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("handshake failed: {e}"),
    }
}

#[tokio::test]
async fn sighup_turns_the_web_page_off_and_lets_another_origin_in() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("server.toml");
    write(&config, BASE);
    let args = ["--config", config.to_str().unwrap(), "--log-format", "json"];
    let mut server = start(command(&args, data.path())).await;
    let status = |response: String| response.split(' ').nth(1).unwrap().to_owned();
    assert_eq!(status(support::http_get(server.addr, "/").await), "200");
    let origin = "https://chat.example.com";
    assert_eq!(handshake_with_origin(&server.url, origin).await, 403);

    write(
        &config,
        &format!("{BASE}no-web = true\nallow-origin = [\"{origin}\"]\n"),
    );
    server.hangup();
    let reloaded = server.log("config file reloaded").await;
    assert_eq!(reloaded["changed"], 2, "{reloaded}");
    assert_eq!(status(support::http_get(server.addr, "/").await), "404");
    assert_eq!(
        status(support::http_get(server.addr, "/assets/main.js").await),
        "404"
    );
    assert_eq!(
        status(support::http_get(server.addr, "/health").await),
        "200"
    );
    assert_eq!(handshake_with_origin(&server.url, origin).await, 101);
    assert_eq!(
        handshake_with_origin(&server.url, "https://other.example.com").await,
        403
    );
}
