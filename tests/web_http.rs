//! The web page as HTTP sees it, and who may open a chat WebSocket: security and cache headers
//! on the page and every asset, ETag revalidation, the `Origin` check (a foreign page refused
//! with 403 before the upgrade; the server's own page, `--allow-origin` and clients without an
//! Origin accepted), `--no-web`, and host mode serving the page. No browser needed.
#![allow(clippy::unwrap_used)]

#[path = "support/pty.rs"]
mod pty;
mod support;

use std::net::SocketAddr;

use clicom::server::ServerOptions;
use support::{WsClient, spawn_server_binary, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// A raw GET with extra header lines; returns (status, headers lowercased, body).
async fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(support::WAIT, stream.read_to_end(&mut response))
        .await
        .expect("a response in time")
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

/// The asset names the page and its scripts load.
fn assets_named(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for marker in ["/assets/", "from './"] {
        for (i, _) in text.match_indices(marker) {
            let rest = &text[i + marker.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .unwrap();
            names.push(rest[..end].to_owned());
        }
    }
    names
}

#[tokio::test]
async fn the_page_and_its_assets_carry_csp_nosniff_and_cache_headers() {
    let server = start_server(support::options()).await;
    let (status, head, page) = get(server.addr, "/", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let mut todo = assets_named(&page);
    let mut seen = Vec::new();
    let mut checks = vec![("/".to_owned(), head)];
    while let Some(name) = todo.pop() {
        if seen.contains(&name) {
            continue;
        }
        let (status, head, body) = get(server.addr, &format!("/assets/{name}"), "").await;
        assert_eq!(status, 200, "{name}");
        let want = match name.rsplit('.').next().unwrap() {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            other => panic!("unexpected asset type {other}"),
        };
        assert_eq!(header(&head, "content-type"), Some(want), "{name}");
        todo.extend(assets_named(&body));
        checks.push((name.clone(), head));
        seen.push(name);
    }
    assert!(
        seen.len() >= 9,
        "the page loads its scripts, styles and icon: {seen:?}"
    );
    for (name, head) in &checks {
        let csp =
            header(head, "content-security-policy").unwrap_or_else(|| panic!("{name}: no CSP"));
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            &format!("connect-src 'self' ws://{0} wss://{0}", server.addr),
        ] {
            assert!(csp.contains(part), "{name}: {part} missing from {csp}");
        }
        assert!(!csp.contains("unsafe"), "{name}: {csp}");
        assert_eq!(
            header(head, "x-content-type-options"),
            Some("nosniff"),
            "{name}"
        );
        assert_eq!(header(head, "x-frame-options"), Some("deny"), "{name}");
        assert_eq!(header(head, "cache-control"), Some("no-cache"), "{name}");
        assert!(header(head, "etag").is_some(), "{name}");
    }

    // Revalidation: an unchanged file costs a 304 without a body.
    let (_, head, _) = get(server.addr, "/assets/main.js", "").await;
    let etag = header(&head, "etag").unwrap().to_owned();
    let (status, _, body) = get(
        server.addr,
        "/assets/main.js",
        &format!("If-None-Match: {etag}\r\n"),
    )
    .await;
    assert_eq!((status, body.as_str()), (304, ""));
    let (status, _, _) = get(server.addr, "/assets/../Cargo.toml", "").await;
    assert_eq!(status, 404);
    let (status, _, _) = get(server.addr, "/assets/nothing.js", "").await;
    assert_eq!(status, 404);
}

/// Opens a WebSocket to `url` sending `origin`; the HTTP status of a refusal, or 101.
async fn handshake_status(url: &str, origin: Option<&str>) -> u16 {
    let mut request = url.into_client_request().unwrap();
    if let Some(o) = origin {
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(o).unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("handshake failed: {e}"),
    }
}

#[tokio::test]
async fn a_foreign_origin_is_refused_before_the_upgrade_and_no_origin_is_accepted() {
    let server = start_server(support::options()).await;
    let own = format!("http://{}", server.addr);
    for foreign in [
        "http://evil.example",
        "null",
        &format!("http://{}.evil.example", server.addr.ip()),
        &format!("http://127.0.0.1:{}", server.addr.port() + 1),
    ] {
        assert_eq!(
            handshake_status(&server.url, Some(foreign)).await,
            403,
            "{foreign}"
        );
        assert_eq!(
            handshake_status(&server.room_url("rust"), Some(foreign)).await,
            403,
            "{foreign} on a room path"
        );
    }
    assert_eq!(handshake_status(&server.url, Some(&own)).await, 101);
    assert_eq!(handshake_status(&server.url, None).await, 101);
    // A terminal client (no Origin) chats as before.
    let mut alice = WsClient::join(&server.url, "alice").await;
    alice.say("still here").await;
    assert_eq!(alice.recv_message().await.text, "still here");
    // The refusal happened before any session: nobody joined or left.
    let health = server.health().await;
    assert_eq!(health["users"], 1, "{health}");
}

#[tokio::test]
async fn allowed_origins_are_accepted_and_the_flag_is_checked() {
    let server = start_server(ServerOptions {
        allowed_origins: vec!["https://chat.example.com".into()],
        ..support::options()
    })
    .await;
    assert_eq!(
        handshake_status(&server.url, Some("https://chat.example.com")).await,
        101
    );
    assert_eq!(
        handshake_status(&server.url, Some("https://other.example.com")).await,
        403
    );

    let dir = tempfile::tempdir().unwrap();
    let bin = spawn_server_binary(
        &[
            "--db",
            ":memory:",
            "--allow-origin",
            "https://Chat.Example.com/",
            "--allow-origin",
            "http://localhost:8080",
        ],
        dir.path(),
    )
    .await;
    for origin in ["https://chat.example.com", "http://localhost:8080"] {
        assert_eq!(
            handshake_status(&bin.url, Some(origin)).await,
            101,
            "{origin}"
        );
    }
    assert_eq!(
        handshake_status(&bin.url, Some("http://localhost:8081")).await,
        403
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clicom"))
        .args(["serve", "--allow-origin", "chat.example.com"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--allow-origin") && err.contains("https://"),
        "{err}"
    );
}

#[tokio::test]
async fn no_web_turns_the_page_off_and_health_and_chat_stay() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_binary(&["--db", ":memory:", "--no-web"], dir.path()).await;
    assert_eq!(get(server.addr, "/", "").await.0, 404);
    assert_eq!(get(server.addr, "/assets/main.js", "").await.0, 404);
    let (status, _, body) = get(server.addr, "/health", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    let mut alice = WsClient::join(&server.url, "alice").await;
    alice.say("chat goes on").await;
    assert_eq!(alice.recv_message().await.text, "chat goes on");

    let with_web = spawn_server_binary(&["--db", ":memory:"], dir.path()).await;
    let (status, head, body) = get(with_web.addr, "/", "").await;
    assert_eq!(status, 200);
    assert!(head.contains("text/html") && body.contains("/assets/main.js"));
}

#[test]
fn host_mode_serves_the_page_too() {
    let home = pty::ClientHome::new();
    let host = pty::Pty::spawn(
        &home,
        &[
            "host",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--name",
            "hosty",
        ],
        &[],
        (100, 30),
    );
    host.wait_ready("● connected");
    let screen = host.screen();
    let marker = "in a browser: http://";
    let start = screen
        .find(marker)
        .unwrap_or_else(|| panic!("the page's address is shown:\n{screen}"))
        + marker.len();
    let addr: SocketAddr = screen[start..]
        .chars()
        .take_while(|c| *c != '/')
        .collect::<String>()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (status, head, body) = rt.block_on(get(addr, "/", ""));
    assert_eq!(status, 200);
    assert!(head.contains("content-security-policy"));
    assert!(body.contains("<title>Clicom</title>"));
}
