//! The network task over real loopback sockets: join, frame forwarding, drops and reconnects,
//! switching servers, reconnect-now, keepalive and clean shutdown.
#![allow(clippy::unwrap_used)]

mod client_net_support;

use std::time::Duration;

use clicom::client::net::{self, Identity, NetCmd, NetEvent, NetOptions};
use clicom::protocol::{ChatMessage, ClientMsg, ServerMsg, Welcome};
use client_net_support::*;
use tokio_tungstenite::tungstenite::Message;

fn chat(id: u64, text: &str) -> ServerMsg {
    ServerMsg::Message(ChatMessage {
        name: "bob".into(),
        color: "2".into(),
        text: text.into(),
        id: Some(id),
        ts: Some(1_700_000_000_000 + id),
        room: Some("main".into()),
        action: false,
        cid: None,
    })
}

#[tokio::test]
async fn connects_sends_join_and_forwards_frames_in_order() {
    let mut server = FakeServer::start().await;
    let (_net, mut events) = net::spawn_with(server.url.clone(), alice(), fast_options());

    match next_event(&mut events).await {
        NetEvent::Connecting { url, attempt } => {
            assert_eq!((url.as_str(), attempt), (server.url.as_str(), 1));
        }
        other => panic!("expected Connecting, got {other:?}"),
    }
    let (_conn, name, color, room) = server.wait_join().await;
    assert_eq!(
        (name.as_str(), color.as_deref(), room.as_deref()),
        ("alice", Some("3"), Some("main"))
    );
    assert!(
        matches!(next_event(&mut events).await, NetEvent::Connected { url } if url == server.url)
    );
    assert!(matches!(
        next_event(&mut events).await,
        NetEvent::Server(ServerMsg::Welcome(Welcome { ref name, .. })) if name == "alice"
    ));

    server.send_all(&chat(1, "one"));
    server.send_raw_all(Message::text("{not json"));
    server.send_raw_all(Message::text(r#"{"type":"poll","question":"?"}"#));
    server.send_raw_all(Message::text(r#"{"type":"message","name":"no text"}"#));
    server.send_raw_all(Message::binary(vec![1, 2, 3]));
    server.send_all(&chat(2, "two"));
    server.send_all(&chat(3, "three"));

    for want in ["one", "two", "three"] {
        match next_event(&mut events).await {
            NetEvent::Server(ServerMsg::Message(m)) => assert_eq!(m.text, want),
            other => panic!("expected message {want:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn sends_go_out_in_order_while_connected() {
    let mut server = FakeServer::start().await;
    let (net, mut events) = net::spawn_with(server.url.clone(), alice(), fast_options());
    wait_connected(&mut events, &server.url).await;
    server.wait_join().await;
    for i in 0..20 {
        assert!(net.send(NetCmd::Send(ClientMsg::Message {
            text: format!("m{i}"),
            name: None,
            color: None,
            cid: None,
        })));
    }
    for i in 0..20 {
        match server.next_seen().await {
            Seen::Frame(_, ClientMsg::Message { text, .. }) => assert_eq!(text, format!("m{i}")),
            other => panic!("expected m{i}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn dropped_server_is_reported_and_rejoined_with_the_latest_welcome_identity() {
    let mut server = FakeServer::start().await;
    let url = server.url.clone();
    let (net, mut events) = net::spawn_with(url.clone(), alice(), fast_options());
    wait_connected(&mut events, &url).await;
    server.wait_join().await;

    // The server renames us (as after /nick, /color and /join): a reconnect must use this.
    server.send_all(&ServerMsg::Welcome(Welcome {
        name: "alice_2".into(),
        color: "#ff6600".into(),
        room: "rust".into(),
        max_text: None,
    }));
    wait_for(
        &mut events,
        "the new welcome",
        |e| matches!(e, NetEvent::Server(ServerMsg::Welcome(w)) if w.name == "alice_2"),
    )
    .await;

    let port = server.stop_and_wait().await;
    let (reason, retry_at, attempt) = wait_disconnected(&mut events).await;
    assert!(reason.contains("connection lost"), "{reason}");
    assert!(retry_at.is_some(), "a dropped connection is retried");
    assert_eq!(
        attempt, 1,
        "the first retry after a live connection is attempt 1"
    );

    // While offline, sends come back as NotSent rather than vanishing.
    let msg = ClientMsg::Message {
        text: "typed offline".into(),
        name: None,
        color: None,
        cid: None,
    };
    assert!(net.send(NetCmd::Send(msg.clone())));
    let (not_sent, _) = wait_for(&mut events, "NotSent", |e| {
        matches!(e, NetEvent::NotSent(_))
    })
    .await;
    assert!(matches!(not_sent, NetEvent::NotSent(m) if m == msg));

    let mut server = FakeServer::start_on(port, Mode::Normal).await;
    let skipped = wait_connected(&mut events, &url).await;
    assert!(
        skipped
            .iter()
            .any(|e| matches!(e, NetEvent::Connecting { attempt, .. } if *attempt >= 1)),
        "reconnecting announces its attempts: {skipped:#?}"
    );
    let (_conn, name, color, room) = server.wait_join().await;
    assert_eq!(
        (name.as_str(), color.as_deref(), room.as_deref()),
        ("alice_2", Some("#ff6600"), Some("rust"))
    );
}

#[tokio::test]
async fn failed_attempts_count_up_until_the_server_returns() {
    let port = closed_port().await;
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (_net, mut events) = net::spawn_with(url.clone(), alice(), fast_options());
    let mut attempts = Vec::new();
    while attempts.len() < 3 {
        if let NetEvent::Disconnected {
            retry_at, attempt, ..
        } = next_event(&mut events).await
        {
            assert!(retry_at.is_some());
            attempts.push(attempt);
        }
    }
    assert_eq!(attempts, [2, 3, 4]);
    let mut server = FakeServer::start_on(port, Mode::Normal).await;
    wait_connected(&mut events, &url).await;
    server.wait_join().await;
}

#[tokio::test]
async fn switch_server_during_a_backoff_wait_goes_to_the_other_server_at_once() {
    let mut a = FakeServer::start().await;
    let mut b = FakeServer::start().await;
    // An hour-long backoff: only the command can end the wait before the test's deadline.
    let (net, mut events) = net::spawn_with(a.url.clone(), alice(), patient_options());
    wait_connected(&mut events, &a.url).await;
    a.wait_join().await;
    a.stop();
    let (_, retry_at, _) = wait_disconnected(&mut events).await;
    assert!(retry_at.is_some());

    assert!(net.send(NetCmd::SwitchServer(b.url.clone())));
    match next_event(&mut events).await {
        NetEvent::Connecting { url, attempt } => assert_eq!((url, attempt), (b.url.clone(), 1)),
        other => panic!("expected Connecting to b, got {other:?}"),
    }
    wait_connected(&mut events, &b.url).await;
    let (_, name, _, _) = b.wait_join().await;
    assert_eq!(name, "alice");
}

#[tokio::test]
async fn switch_server_while_connected_closes_the_old_socket_with_1000() {
    let mut a = FakeServer::start().await;
    let mut b = FakeServer::start().await;
    let (net, mut events) = net::spawn_with(a.url.clone(), alice(), fast_options());
    wait_connected(&mut events, &a.url).await;
    let (conn, ..) = a.wait_join().await;

    assert!(net.send(NetCmd::SwitchServer(b.url.clone())));
    assert_eq!(a.wait_closed(conn).await, Some(1000));
    let (event, _) = wait_for(&mut events, "Disconnected", |e| {
        matches!(e, NetEvent::Disconnected { .. })
    })
    .await;
    match event {
        NetEvent::Disconnected { url, retry_at, .. } => {
            assert_eq!(url, a.url);
            assert_eq!(retry_at, None, "the old server is not retried");
        }
        _ => unreachable!(),
    }
    match next_event(&mut events).await {
        NetEvent::Connecting { url, attempt } => assert_eq!((url, attempt), (b.url.clone(), 1)),
        other => panic!("expected Connecting to b, got {other:?}"),
    }
    wait_connected(&mut events, &b.url).await;
    b.wait_join().await;
}

#[tokio::test]
async fn switch_server_during_a_hanging_connect_abandons_it() {
    // A listener that never accepts: the TCP handshake completes (backlog) but the WebSocket
    // handshake never does, so the attempt hangs until the connect timeout.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_url = format!("ws://{}/ws", hang.local_addr().unwrap());
    let mut b = FakeServer::start().await;
    let opts = NetOptions {
        connect_timeout: Duration::from_secs(3600),
        ..patient_options()
    };
    let (net, mut events) = net::spawn_with(hang_url.clone(), alice(), opts);
    assert!(matches!(
        next_event(&mut events).await,
        NetEvent::Connecting { .. }
    ));
    assert!(net.send(NetCmd::SwitchServer(b.url.clone())));
    wait_connected(&mut events, &b.url).await;
    b.wait_join().await;
}

#[tokio::test]
async fn reconnect_now_skips_the_backoff_wait() {
    let mut server = FakeServer::start().await;
    let url = server.url.clone();
    let (net, mut events) = net::spawn_with(url.clone(), alice(), patient_options());
    wait_connected(&mut events, &url).await;
    server.wait_join().await;
    let port = server.stop_and_wait().await;
    let (_, retry_at, attempt) = wait_disconnected(&mut events).await;
    assert!(retry_at.is_some());

    let mut server = FakeServer::start_on(port, Mode::Normal).await;
    assert!(net.send(NetCmd::ReconnectNow));
    match next_event(&mut events).await {
        NetEvent::Connecting { attempt: a, .. } => assert_eq!(a, attempt),
        other => panic!("expected Connecting, got {other:?}"),
    }
    wait_connected(&mut events, &url).await;
    server.wait_join().await;
}

#[tokio::test]
async fn set_identity_while_offline_is_used_for_the_next_join() {
    let port = closed_port().await;
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (net, mut events) = net::spawn_with(url.clone(), alice(), patient_options());
    wait_disconnected(&mut events).await;
    let bob = Identity {
        name: "bob".into(),
        color: "#00ff00".into(),
        room: "lobby".into(),
    };
    assert!(net.send(NetCmd::SetIdentity(bob)));
    let mut server = FakeServer::start_on(port, Mode::Normal).await;
    assert!(net.send(NetCmd::ReconnectNow));
    wait_connected(&mut events, &url).await;
    let (_, name, color, room) = server.wait_join().await;
    assert_eq!(
        (name.as_str(), color.as_deref(), room.as_deref()),
        ("bob", Some("#00ff00"), Some("lobby"))
    );
}

#[tokio::test]
async fn server_close_frame_is_reported_in_words() {
    let mut server = FakeServer::start().await;
    let (_net, mut events) = net::spawn_with(server.url.clone(), alice(), fast_options());
    wait_connected(&mut events, &server.url).await;
    server.wait_join().await;
    server.close_all(1001, "server restarting");
    let (reason, retry_at, _) = wait_disconnected(&mut events).await;
    assert_eq!(
        reason,
        "server closed the connection (1001: going away: server restarting)"
    );
    assert!(retry_at.is_some());
}

#[tokio::test]
async fn shutdown_sends_close_1000_and_ends_the_task() {
    let mut server = FakeServer::start().await;
    let (net, mut events) = net::spawn_with(server.url.clone(), alice(), fast_options());
    wait_connected(&mut events, &server.url).await;
    let (conn, ..) = server.wait_join().await;
    assert!(net.send(NetCmd::Shutdown));
    assert_eq!(server.wait_closed(conn).await, Some(1000));
    let (_, retry_at, _) = wait_disconnected(&mut events).await;
    assert_eq!(retry_at, None);
    let end = tokio::time::timeout(DEADLINE, events.recv()).await.unwrap();
    assert!(end.is_none(), "the task ends after a shutdown, got {end:?}");
    assert!(!net.is_running());
    assert!(!net.send(NetCmd::ReconnectNow));
}

#[tokio::test]
async fn dropping_every_handle_closes_cleanly() {
    let mut server = FakeServer::start().await;
    let (net, mut events) = net::spawn_with(server.url.clone(), alice(), fast_options());
    wait_connected(&mut events, &server.url).await;
    let (conn, ..) = server.wait_join().await;
    let second = net.clone();
    drop(net);
    drop(second);
    assert_eq!(server.wait_closed(conn).await, Some(1000));
}

#[tokio::test]
async fn an_oversized_frame_drops_the_connection_with_a_reason() {
    let mut server = FakeServer::start().await;
    let opts = NetOptions {
        max_message_size: 64 * 1024,
        ..fast_options()
    };
    let (_net, mut events) = net::spawn_with(server.url.clone(), alice(), opts);
    wait_connected(&mut events, &server.url).await;
    server.wait_join().await;
    server.send_all(&chat(1, &"x".repeat(200 * 1024)));
    let (reason, retry_at, _) = wait_disconnected(&mut events).await;
    assert!(reason.contains("too large"), "{reason}");
    assert!(retry_at.is_some());
}
