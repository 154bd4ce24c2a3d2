//! The server speaking `wss://` itself, over real loopback sockets with a throwaway CA: chat
//! through TLS with the project's own network task and a plain WebSocket client, `/health`
//! over TLS, plain clients and stalled handshakes on the TLS port, and `clicom serve
//! --tls-cert/--tls-key` as a real process.
#![allow(clippy::unwrap_used)]

mod client_net_support;
mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clicom::client::net::{self, Identity, NetCmd, NetEvent, NetOptions};
use clicom::protocol::{ClientMsg, ServerMsg};
use clicom::server::ServerOptions;
use client_net_support::{TestPki, fast_options, wait_connected, wait_for};
use rustls::pki_types::ServerName;
use support::{WAIT, WsClient, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The test PKI's leaf and key written as PEM files, as an operator would have them.
fn pem_files(pki: &TestPki, dir: &tempfile::TempDir) -> (PathBuf, PathBuf) {
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, &pki.server_cert_pem).unwrap();
    std::fs::write(&key, &pki.server_key_pem).unwrap();
    (cert, key)
}

/// Test options serving TLS with `pki`'s leaf for 127.0.0.1, loaded the way `serve` loads it.
fn tls_options(pki: &TestPki) -> ServerOptions {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = pem_files(pki, &dir);
    ServerOptions {
        tls: Some(clicom::server::tls::server_config(&cert, &key).unwrap()),
        ..support::options()
    }
}

/// A raw TLS connection to `addr` trusting `pki`'s CA, as an HTTPS client makes it.
async fn tls_connect(
    pki: &TestPki,
    addr: std::net::SocketAddr,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let config = clicom::client::tls::client_config(std::slice::from_ref(&pki.ca_cert));
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::IpAddress(addr.ip().into());
    tokio::time::timeout(WAIT, connector.connect(name, tcp))
        .await
        .expect("the TLS handshake finishes in time")
        .unwrap()
}

/// An HTTPS GET; returns the whole response.
async fn https_get(pki: &TestPki, addr: std::net::SocketAddr, path: &str) -> String {
    let mut tls = tls_connect(pki, addr).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // The server may end without close_notify; what arrived before counts.
    let _ = tokio::time::timeout(WAIT, tls.read_to_end(&mut response))
        .await
        .expect("a response in time");
    String::from_utf8(response).unwrap()
}

/// Reads until the server ends the connection (EOF or reset); false if it is still open after
/// [`WAIT`].
async fn closed_by_server<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn bob() -> Identity {
    Identity {
        name: "bob".into(),
        color: "4".into(),
        room: "main".into(),
    }
}

#[tokio::test]
async fn two_clients_chat_over_wss() {
    let pki = TestPki::new();
    let server = start_server(tls_options(&pki)).await;
    assert!(server.url.starts_with("wss://127.0.0.1:"), "{}", server.url);

    let roots = vec![pki.ca_cert.clone()];
    let mut alice = WsClient::connect_tls(&server.url, &roots)
        .await
        .joined("alice")
        .await;

    // The project's own network task, trusting the CA the way `--ca-file` makes it.
    let opts = NetOptions {
        extra_roots: roots.clone(),
        ..fast_options()
    };
    let (net, mut events) = net::spawn_with(server.url.clone(), bob(), opts);
    wait_connected(&mut events, &server.url).await;
    wait_for(
        &mut events,
        "bob's welcome",
        |e| matches!(e, NetEvent::Server(ServerMsg::Welcome(w)) if w.name == "bob"),
    )
    .await;
    alice
        .recv_until("bob in active_users", |m| match m {
            ServerMsg::ActiveUsers { users, .. } => users.iter().any(|u| u == "bob").then_some(()),
            _ => None,
        })
        .await;

    alice.say("hello over tls").await;
    let echo = alice
        .recv_until("the echo", |m| match m {
            ServerMsg::Message(m) if m.text == "hello over tls" => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(echo.name, "alice");
    assert!(echo.id.is_some(), "{echo:?}");
    wait_for(&mut events, "alice's message at bob", |e| {
        matches!(e, NetEvent::Server(ServerMsg::Message(m))
            if m.name == "alice" && m.text == "hello over tls" && m.id == echo.id)
    })
    .await;

    assert!(net.send(NetCmd::Send(ClientMsg::Message {
        text: "hi alice".into(),
        name: None,
        color: None,
        cid: None,
    })));
    let heard = alice
        .recv_until("bob's message", |m| match m {
            ServerMsg::Message(m) if m.name == "bob" => Some(m.text.clone()),
            _ => None,
        })
        .await;
    assert_eq!(heard, "hi alice");
    assert!(net.send(NetCmd::Shutdown));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn health_and_index_answer_over_tls() {
    let pki = TestPki::new();
    let server = start_server(tls_options(&pki)).await;
    let health = https_get(&pki, server.addr, "/health").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let body = health.split("\r\n\r\n").nth(1).expect("a body");
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["status"], "ok");
    let index = https_get(&pki, server.addr, "/").await;
    assert!(
        index.contains("<title>Clicom</title>"),
        "the web page: {index}"
    );
    assert!(
        index
            .to_ascii_lowercase()
            .contains("content-security-policy"),
        "{index}"
    );
}

#[tokio::test]
async fn tls_negotiates_http1_by_alpn() {
    let pki = TestPki::new();
    let server = start_server(tls_options(&pki)).await;
    let mut config =
        (*clicom::client::tls::client_config(std::slice::from_ref(&pki.ca_cert))).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let tls = tokio::time::timeout(
        WAIT,
        connector.connect(ServerName::IpAddress(server.addr.ip().into()), tcp),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn plain_and_stalled_clients_on_the_tls_port_do_not_disturb_others() {
    let pki = TestPki::new();
    // A long handshake time: the stalled client stays while the others are served.
    let server = start_server(ServerOptions {
        handshake_timeout: Duration::from_secs(120),
        ..tls_options(&pki)
    })
    .await;

    // Half a TLS record header, then nothing: this connection's task waits in the handshake.
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled.write_all(&[0x16, 0x03]).await.unwrap();

    // A plain ws:// client on the TLS port fails, without hanging.
    let plain_url = format!("ws://{}/ws", server.addr);
    let plain = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(&plain_url))
        .await
        .expect("the plain handshake ends in time");
    assert!(plain.is_err(), "a plain client must not get a WebSocket");

    // A client that is not a TLS client at all: garbage gets the connection closed.
    let mut garbage = TcpStream::connect(server.addr).await.unwrap();
    garbage
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(closed_by_server(&mut garbage).await);

    // Meanwhile the server keeps accepting and serving TLS clients.
    let roots = vec![pki.ca_cert.clone()];
    let mut carol = WsClient::connect_tls(&server.url, &roots)
        .await
        .joined("carol")
        .await;
    let mut dave = WsClient::connect_tls(&server.url, &roots)
        .await
        .joined("dave")
        .await;
    carol.say("still here").await;
    let heard = dave.recv_message().await;
    assert_eq!(
        (heard.name.as_str(), heard.text.as_str()),
        ("carol", "still here")
    );
    drop(stalled);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_silent_in_the_tls_handshake_is_dropped_after_the_handshake_timeout() {
    let pki = TestPki::new();
    let server = start_server(ServerOptions {
        handshake_timeout: Duration::from_secs(1),
        ..tls_options(&pki)
    })
    .await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut half_hello = TcpStream::connect(server.addr).await.unwrap();
    half_hello.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    assert!(closed_by_server(&mut silent).await, "silent client kept");
    assert!(
        closed_by_server(&mut half_hello).await,
        "stalled client kept"
    );
}

#[tokio::test]
async fn a_client_silent_after_the_tls_handshake_is_dropped_too() {
    let pki = TestPki::new();
    let server = start_server(ServerOptions {
        handshake_timeout: Duration::from_secs(1),
        ..tls_options(&pki)
    })
    .await;
    let mut tls = tls_connect(&pki, server.addr).await;
    assert!(
        closed_by_server(&mut tls).await,
        "TLS client without a request kept"
    );
}

#[tokio::test]
async fn the_binary_serves_wss_with_a_certificate_and_key() {
    let pki = TestPki::new();
    let files = tempfile::tempdir().unwrap();
    let (cert, key) = pem_files(&pki, &files);
    let data = tempfile::tempdir().unwrap();
    let server = support::spawn_server_binary(
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--db",
            ":memory:",
        ],
        data.path(),
    )
    .await;
    assert_eq!(server.url, format!("wss://{}/ws", server.addr));
    let roots = vec![pki.ca_cert.clone()];
    let mut erin = WsClient::connect_tls(&server.url, &roots)
        .await
        .joined("erin")
        .await;
    erin.say("through the binary").await;
    let echo = erin.recv_message().await;
    assert_eq!(echo.text, "through the binary");
    assert!(echo.id.is_some());
    server.kill9().await;
}

/// Runs `clicom serve` with `args` to its end; returns (success, stdout, stderr).
async fn serve_output(args: &[&str]) -> (bool, String, String) {
    let data = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_clicom"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            ":memory:",
        ])
        .args(args)
        .env("CLICOM_DATA_DIR", data.path())
        .env_remove("PORT")
        .env_remove("CLICOM_SERVER_CONFIG")
        .env("RUST_LOG", "off")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(WAIT, run)
        .await
        .expect("the server gives up in time")
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_binary_refuses_to_start_with_a_missing_key_or_a_lone_flag() {
    let pki = TestPki::new();
    let files = tempfile::tempdir().unwrap();
    let (cert, _) = pem_files(&pki, &files);
    let missing = files.path().join("missing.key");
    let (ok, stdout, stderr) = serve_output(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        missing.to_str().unwrap(),
    ])
    .await;
    assert!(!ok);
    assert!(stdout.is_empty(), "no listening line: {stdout}");
    assert!(
        stderr.contains("TLS key file") && stderr.contains(missing.to_str().unwrap()),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let (ok, stdout, stderr) = serve_output(&["--tls-cert", cert.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
}
