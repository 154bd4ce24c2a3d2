//! Connection failures reach the UI in words a user understands, over real loopback sockets:
//! refused, HTTP status, not WebSocket, TLS problems; and `wss://` works with a trusted
//! certificate.
#![allow(clippy::unwrap_used)]

mod client_net_support;

use clicom::client::net::{self, NetCmd, NetOptions};
use clicom::protocol::ClientMsg;
use client_net_support::*;

#[tokio::test]
async fn connection_refused_is_reported_in_words() {
    let port = closed_port().await;
    let (_net, mut events) =
        net::spawn_with(format!("ws://127.0.0.1:{port}/ws"), alice(), fast_options());
    let (reason, retry_at, attempt) = wait_disconnected(&mut events).await;
    assert_eq!(reason, "connection refused");
    assert!(retry_at.is_some());
    assert_eq!(attempt, 2);
}

#[tokio::test]
async fn http_404_is_reported_with_its_status() {
    let (addr, _server) =
        raw_endpoint("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    let (_net, mut events) = net::spawn_with(format!("ws://{addr}/nope"), alice(), fast_options());
    let (reason, retry_at, _) = wait_disconnected(&mut events).await;
    assert_eq!(reason, "server answered HTTP 404 Not Found");
    assert!(retry_at.is_some());
}

#[tokio::test]
async fn a_server_that_does_not_speak_http_is_not_a_websocket_server() {
    let (addr, _server) = raw_endpoint("SSH-2.0-OpenSSH_9.6\r\n").await;
    let (_net, mut events) = net::spawn_with(format!("ws://{addr}/ws"), alice(), fast_options());
    let (reason, _, _) = wait_disconnected(&mut events).await;
    assert!(reason.starts_with("not a WebSocket server"), "{reason}");
}

#[tokio::test]
async fn wss_to_a_plain_tcp_endpoint_is_a_tls_error() {
    let (addr, _server) =
        raw_endpoint("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
    let (_net, mut events) = net::spawn_with(format!("wss://{addr}/ws"), alice(), fast_options());
    let (reason, retry_at, _) = wait_disconnected(&mut events).await;
    assert_eq!(
        reason,
        "TLS error: the server did not answer in TLS (is it a ws:// server?)"
    );
    assert!(retry_at.is_some());
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    let pki = TestPki::new();
    let (url, mut joins) = tls_server(&pki).await;
    // Default options: only the web PKI roots are trusted, so the test CA is unknown.
    let (_net, mut events) = net::spawn_with(url, alice(), fast_options());
    let (reason, _, _) = wait_disconnected(&mut events).await;
    assert_eq!(
        reason,
        "TLS error: the server's certificate is not trusted (unknown issuer)"
    );
    assert!(
        joins.try_recv().is_err(),
        "nothing was sent over an untrusted connection"
    );
}

#[tokio::test]
async fn wss_connects_and_joins_when_the_certificate_is_trusted() {
    let pki = TestPki::new();
    let (url, mut joins) = tls_server(&pki).await;
    let opts = NetOptions {
        extra_roots: vec![pki.ca_cert.clone()],
        ..fast_options()
    };
    let (_net, mut events) = net::spawn_with(url.clone(), alice(), opts);
    wait_connected(&mut events, &url).await;
    let join = tokio::time::timeout(DEADLINE, joins.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        join,
        ClientMsg::Join {
            name: "alice".into(),
            color: Some("3".into()),
            room: Some("main".into())
        }
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_tls_error() {
    let pki = TestPki::new();
    let (url, _joins) = tls_server(&pki).await;
    // Same server, reached as "localhost": the certificate only names 127.0.0.1.
    let url = url.replace("127.0.0.1", "localhost");
    let opts = NetOptions {
        extra_roots: vec![pki.ca_cert.clone()],
        ..fast_options()
    };
    let (_net, mut events) = net::spawn_with(url, alice(), opts);
    let (reason, _, _) = wait_disconnected(&mut events).await;
    // "localhost" may also resolve to ::1 where nothing listens; either way it must not connect.
    assert!(
        reason == "TLS error: the server's certificate is for a different host name"
            || reason == "connection refused",
        "{reason}"
    );
}

#[tokio::test]
async fn an_invalid_url_is_not_retried_but_switching_recovers() {
    let mut server = FakeServer::start().await;
    let (net, mut events) = net::spawn_with("ws://".into(), alice(), fast_options());
    let (reason, retry_at, _) = wait_disconnected(&mut events).await;
    assert!(reason.starts_with("invalid server address"), "{reason}");
    assert_eq!(retry_at, None);
    assert!(net.send(NetCmd::SwitchServer(server.url.clone())));
    wait_connected(&mut events, &server.url).await;
    server.wait_join().await;
}
