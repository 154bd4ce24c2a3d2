//! Shared helpers for integration tests: a real server on 127.0.0.1:0 (in-process or the real
//! binary) and a small WebSocket client that waits for frames with deadlines, never sleeps.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use clicom::protocol::{ChatMessage, ClientMsg, ServerMsg};
use clicom::server::ServerOptions;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// How long any expected event may take before a test fails (a guard against hanging, not a
/// speed requirement).
pub const WAIT: Duration = Duration::from_secs(15);

/// Options for tests: defaults, but no rate limit (tests send in bursts).
pub fn options() -> ServerOptions {
    ServerOptions {
        msg_rate: 0.0,
        ..ServerOptions::default()
    }
}

/// A server running in this process on an ephemeral loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    /// `ws://ADDR/ws`, or `wss://ADDR/ws` when the options carry a TLS configuration.
    pub url: String,
    scheme: &'static str,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

pub async fn start_server(opts: ServerOptions) -> TestServer {
    let history = opts.open_history().unwrap();
    start_server_with_history(opts, Box::new(history)).await
}

/// Like [`start_server`], with a history store of the test's choosing.
pub async fn start_server_with_history(
    opts: ServerOptions,
    history: Box<dyn clicom::server::History>,
) -> TestServer {
    let listener = clicom::server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if opts.tls.is_some() { "wss" } else { "ws" };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(clicom::server::run_with_history(
        listener,
        opts,
        history,
        async {
            let _ = stopped.await;
        },
    ));
    TestServer {
        addr,
        url: format!("{scheme}://{addr}/ws"),
        scheme,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestServer {
    /// The URL of a room path, `/ws/<room>`.
    pub fn room_url(&self, room: &str) -> String {
        format!("{}://{}/ws/{room}", self.scheme, self.addr)
    }

    /// Asks for a graceful shutdown and waits for `run` to return.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        tokio::time::timeout(WAIT, task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic")
    }

    pub async fn health(&self) -> serde_json::Value {
        let body = http_get(self.addr, "/health").await;
        let json = body.split("\r\n\r\n").nth(1).expect("a body");
        serde_json::from_str(json).unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A raw HTTP/1.1 GET; returns the whole response (headers and body).
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("a response in time")
        .unwrap();
    String::from_utf8(response).unwrap()
}

/// The server binary, started with `serve --bind 127.0.0.1 --port 0` and the given arguments.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
    pub url: String,
}

pub async fn spawn_server_binary(args: &[&str], data_dir: &Path) -> ServerProcess {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_clicom"))
        .args(["serve", "--bind", "127.0.0.1", "--port", "0"])
        .args(args)
        .env("CLICOM_DATA_DIR", data_dir)
        .env_remove("PORT")
        .env_remove("CLICOM_SERVER_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the clicom binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let (url, addr) = announced_address(&mut lines)
        .await
        .expect("a line on stdout");
    ServerProcess { child, addr, url }
}

/// Waits for the server binary's first stdout line, `Clicom server listening on ws://ADDR/ws`
/// (`wss://` with TLS), and returns its URL and address; `None` if the process closed stdout
/// first.
pub async fn announced_address(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Option<(String, SocketAddr)> {
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("the server prints its address in time")
        .unwrap()?;
    let url = line
        .strip_prefix("Clicom server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    let addr = url
        .strip_prefix("wss://")
        .or_else(|| url.strip_prefix("ws://"))
        .unwrap_or_else(|| panic!("not a ws:// or wss:// URL: {url:?}"))
        .trim_end_matches("/ws")
        .parse()
        .unwrap();
    Some((url, addr))
}

impl ServerProcess {
    pub fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    /// Sends a signal by name (`TERM`, `INT`) with the system's `kill`.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGKILL, then reap it.
    pub async fn kill9(mut self) {
        self.child.start_kill().unwrap();
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the killed server is reaped")
            .unwrap();
    }

    pub async fn wait_exit(mut self) -> std::process::ExitStatus {
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the server exits in time")
            .unwrap()
    }
}

/// One WebSocket client.
pub struct WsClient {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Something a client saw.
#[derive(Debug)]
pub enum Seen {
    Msg(ServerMsg),
    Ping,
    Close(Option<CloseFrame>),
    /// The connection ended without a close frame (or with an error).
    Ended,
}

impl WsClient {
    pub async fn connect(url: &str) -> WsClient {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connects in time")
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
        WsClient { ws }
    }

    /// Connects to a `wss://` URL trusting only the web PKI roots and `roots`.
    pub async fn connect_tls(url: &str, roots: &[CertificateDer<'static>]) -> WsClient {
        let connector = Connector::Rustls(clicom::client::tls::client_config(roots));
        let connecting =
            tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector));
        let (ws, _) = tokio::time::timeout(WAIT, connecting)
            .await
            .expect("connects in time")
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
        WsClient { ws }
    }

    /// Connects, joins as `name`, and waits until its own arrival is announced (so that the
    /// next join lands in a later presence announcement).
    pub async fn join(url: &str, name: &str) -> WsClient {
        WsClient::connect(url).await.joined(name).await
    }

    /// Joins as `name` on this connection, as [`WsClient::join`] does.
    pub async fn joined(self, name: &str) -> WsClient {
        let mut client = self;
        client
            .send(&ClientMsg::Join {
                name: name.into(),
                color: None,
                room: None,
            })
            .await;
        client
            .recv_until("welcome", |m| {
                matches!(m, ServerMsg::Welcome(_)).then_some(())
            })
            .await;
        client
            .recv_until("own arrival in active_users", |m| match m {
                ServerMsg::ActiveUsers { users, .. } => {
                    users.iter().any(|u| u == name).then_some(())
                }
                _ => None,
            })
            .await;
        client
    }

    /// Connects, joins `room` (the server's default for `None`) as `name`, and returns the
    /// `history` that follows the welcome.
    pub async fn join_with_history(
        url: &str,
        name: &str,
        room: Option<&str>,
    ) -> (WsClient, Vec<ChatMessage>) {
        let mut client = WsClient::connect(url).await;
        client
            .send(&ClientMsg::Join {
                name: name.into(),
                color: None,
                room: room.map(str::to_owned),
            })
            .await;
        let history = client
            .recv_until("history", |m| match m {
                ServerMsg::History { messages, .. } => Some(messages.clone()),
                _ => None,
            })
            .await;
        (client, history)
    }

    /// Sends each line and waits for its echo (once echoed, it was broadcast, hence
    /// committed); returns the ids the server gave them.
    pub async fn say_all(&mut self, lines: &[String]) -> Vec<u64> {
        let mut ids = Vec::new();
        for line in lines {
            self.say(line).await;
            let id = self
                .recv_until("the echo", |m| match m {
                    ServerMsg::Message(m) if m.text == *line => m.id,
                    _ => None,
                })
                .await;
            ids.push(id);
        }
        ids
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        self.send_text(&msg.encode()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    pub async fn say(&mut self, text: &str) {
        self.send(&ClientMsg::Message {
            text: text.into(),
            name: None,
            color: None,
            cid: None,
        })
        .await;
    }

    /// The next thing that happens on the connection (skipping pongs), within [`WAIT`].
    pub async fn next(&mut self) -> Seen {
        self.next_within(WAIT)
            .await
            .expect("something arrives in time")
    }

    /// Like [`WsClient::next`], but `None` when nothing arrives within `limit`.
    pub async fn next_within(&mut self, limit: Duration) -> Option<Seen> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let item = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            return Some(match item {
                Some(Ok(Message::Text(text))) => Seen::Msg(
                    ServerMsg::decode(&text)
                        .unwrap_or_else(|e| panic!("undecodable frame {text}: {e}"))
                        .unwrap_or_else(|| panic!("unknown frame type: {text}")),
                ),
                Some(Ok(Message::Ping(_))) => Seen::Ping,
                Some(Ok(Message::Close(frame))) => Seen::Close(frame),
                Some(Ok(Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Binary(b))) => panic!("the server sent binary: {b:?}"),
                Some(Err(_)) | None => Seen::Ended,
            });
        }
    }

    /// The next server message (pings skipped); panics on close or timeout.
    pub async fn recv(&mut self) -> ServerMsg {
        loop {
            match self.next().await {
                Seen::Msg(msg) => return msg,
                Seen::Ping => continue,
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// The next text frame as raw JSON (to check exact field names).
    pub async fn recv_json(&mut self) -> serde_json::Value {
        loop {
            let item = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time");
            match item {
                Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Skips messages until `pick` accepts one; panics on close or after [`WAIT`].
    pub async fn recv_until<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&ServerMsg) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(Seen::Msg(msg)) => {
                    if let Some(found) = pick(&msg) {
                        return found;
                    }
                }
                Some(Seen::Ping) => {}
                Some(other) => panic!("waiting for {what}, the connection ended: {other:?}"),
                None => panic!("no {what} within {WAIT:?}"),
            }
        }
    }

    pub async fn recv_system(&mut self, text: &str) {
        self.recv_until(&format!("system {text:?}"), |m| match m {
            ServerMsg::System { text: t, .. } if t == text => Some(()),
            _ => None,
        })
        .await
    }

    pub async fn recv_error(&mut self) -> (clicom::protocol::ErrorCode, String) {
        self.recv_until("an error", |m| match m {
            ServerMsg::Error { code, text } => Some((*code, text.clone())),
            _ => None,
        })
        .await
    }

    pub async fn recv_message(&mut self) -> clicom::protocol::ChatMessage {
        self.recv_until("a message", |m| match m {
            ServerMsg::Message(c) => Some(c.clone()),
            _ => None,
        })
        .await
    }

    /// Reads (skipping messages) until the server's close frame; returns its code.
    pub async fn expect_close(&mut self) -> u16 {
        loop {
            match self.next().await {
                Seen::Msg(_) | Seen::Ping => {}
                Seen::Close(Some(frame)) => return u16::from(frame.code),
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// Reads until the connection is gone, with or without a close frame.
    pub async fn expect_end(&mut self) {
        loop {
            match self.next().await {
                Seen::Close(_) | Seen::Ended => return,
                Seen::Msg(_) | Seen::Ping => {}
            }
        }
    }

    pub async fn send_binary(&mut self, bytes: &'static [u8]) {
        self.ws
            .send(Message::Binary(Bytes::from_static(bytes)))
            .await
            .unwrap();
    }
}
