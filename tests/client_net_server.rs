//! The network task against the real Clicom server: join, chat both ways, a nick change, then a
//! graceful server restart that the task rides out by itself, rejoining under its new name; and
//! the real binary killed with SIGKILL mid-chat, after which the task reconnects on its own and
//! the history replay shows what was said before the crash.
#![allow(clippy::unwrap_used)]

mod client_net_support;
mod support;

use std::net::SocketAddr;

use clicom::client::net::{self, NetCmd, NetEvent};
use clicom::protocol::{ClientMsg, ServerMsg};
use client_net_support::{alice, fast_options, wait_connected, wait_disconnected, wait_for};
use tokio::sync::oneshot;

/// Runs `clicom::server::run` on `addr`; the returned sender stops it gracefully.
fn run_server(addr: SocketAddr) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = clicom::server::bind(addr).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        clicom::server::run(listener, support::options(), async {
            let _ = stop_rx.await;
        })
        .await
        .unwrap();
    });
    (addr, stop_tx, task)
}

/// `clicom serve` on a given loopback port (the support helper always asks for port 0); returns
/// once it printed its address. Killed when dropped.
async fn serve_binary_on(port: &str, data_dir: &std::path::Path) -> tokio::process::Child {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_clicom"))
        .args(["serve", "--bind", "127.0.0.1", "--port", port])
        .env("CLICOM_DATA_DIR", data_dir)
        .env_remove("PORT")
        .env_remove("CLICOM_SERVER_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(support::WAIT, lines.next_line())
        .await
        .expect("the server prints its address in time")
        .unwrap()
        .expect("a line on stdout");
    assert!(line.ends_with(&format!(":{port}/ws")), "{line}");
    child
}

#[tokio::test]
async fn rides_out_a_real_server_restart_and_rejoins_under_the_confirmed_name() {
    let (addr, stop, server_task) = run_server("127.0.0.1:0".parse().unwrap());
    let url = format!("ws://{addr}/ws");
    let (net, mut events) = net::spawn_with(url.clone(), alice(), fast_options());
    wait_connected(&mut events, &url).await;
    wait_for(&mut events, "welcome", |e| {
        matches!(e, NetEvent::Server(ServerMsg::Welcome(w)) if w.name == "alice" && w.room == "main")
    })
    .await;
    wait_for(&mut events, "history", |e| {
        matches!(e, NetEvent::Server(ServerMsg::History { .. }))
    })
    .await;

    // Chat both ways with an ordinary client.
    let mut bob = support::WsClient::join(&url, "bob").await;
    bob.say("hello alice").await;
    wait_for(&mut events, "bob's message", |e| {
        matches!(e, NetEvent::Server(ServerMsg::Message(m)) if m.name == "bob" && m.text == "hello alice")
    })
    .await;
    assert!(net.send(NetCmd::Send(ClientMsg::Message {
        text: "hi bob".into(),
        name: None,
        color: None,
        cid: None,
    })));
    let heard = bob
        .recv_until("alice's message", |m| match m {
            ServerMsg::Message(m) if m.name == "alice" => Some(m.text.clone()),
            _ => None,
        })
        .await;
    assert_eq!(heard, "hi bob");

    // A nick change: the server's welcome is what a reconnect must use.
    assert!(net.send(NetCmd::Send(ClientMsg::Nick {
        name: "alice2".into()
    })));
    wait_for(
        &mut events,
        "welcome as alice2",
        |e| matches!(e, NetEvent::Server(ServerMsg::Welcome(w)) if w.name == "alice2"),
    )
    .await;

    // Graceful restart on the same address.
    drop(bob);
    stop.send(()).unwrap();
    server_task.await.unwrap();
    let (reason, retry_at, _) = wait_disconnected(&mut events).await;
    assert!(
        reason.starts_with("server closed the connection (1001: going away"),
        "{reason}"
    );
    assert!(retry_at.is_some());
    let (_addr, _stop, _task) = run_server(addr);
    wait_connected(&mut events, &url).await;
    wait_for(
        &mut events,
        "welcome after the restart",
        |e| matches!(e, NetEvent::Server(ServerMsg::Welcome(w)) if w.name == "alice2"),
    )
    .await;
}

#[tokio::test]
async fn survives_the_server_binary_being_killed_mid_chat_and_sees_the_history_after() {
    let data = tempfile::tempdir().unwrap();
    let server = support::spawn_server_binary(&[], data.path()).await;
    let url = server.url.clone();
    let port = server.addr.port().to_string();
    let (net, mut events) = net::spawn_with(url.clone(), alice(), fast_options());
    wait_connected(&mut events, &url).await;
    wait_for(&mut events, "welcome", |e| {
        matches!(e, NetEvent::Server(ServerMsg::Welcome(_)))
    })
    .await;
    assert!(net.send(NetCmd::Send(ClientMsg::Message {
        text: "said before the crash".into(),
        name: None,
        color: None,
        cid: None,
    })));
    // The echo means the server committed it to its history.
    wait_for(&mut events, "the echo", |e| {
        matches!(e, NetEvent::Server(ServerMsg::Message(m)) if m.text == "said before the crash")
    })
    .await;

    server.kill9().await;
    let (reason, retry_at, _) = wait_disconnected(&mut events).await;
    assert!(reason.starts_with("connection"), "{reason}");
    assert!(retry_at.is_some());

    let _server = serve_binary_on(&port, data.path()).await;
    wait_connected(&mut events, &url).await;
    let (history, _) = wait_for(&mut events, "history after the restart", |e| {
        matches!(e, NetEvent::Server(ServerMsg::History { .. }))
    })
    .await;
    let NetEvent::Server(ServerMsg::History { messages, .. }) = history else {
        unreachable!()
    };
    assert!(
        messages.iter().any(|m| m.text == "said before the crash"),
        "{messages:#?}"
    );
}
