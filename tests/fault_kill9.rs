//! The server killed with SIGKILL while several of our clients (`client::net` tasks) send
//! without pause: after the restart, every message any client saw broadcast is in the history
//! under the same id, ids are contiguous with no duplicates, and each reconnected client's view
//! (what it saw live, then the history it gets on rejoining) has no gaps.
#![allow(clippy::unwrap_used)]

mod fault_support;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use clicom::client::net::{self, Identity, NetCmd, NetEvent};
use clicom::protocol::{ChatMessage, ClientMsg, ServerMsg};
use fault_support::Launch;
use tokio::sync::mpsc;

const CLIENTS: usize = 4;
/// The kill comes once the first client has seen this many broadcasts.
const KILL_AFTER: usize = 300;

/// What one client saw: live broadcasts before the kill, and the history after its rejoin.
#[derive(Default)]
struct Seen {
    live: Vec<ChatMessage>,
    history_after: Option<Vec<ChatMessage>>,
}

/// Waits until the task is connected and joined (its history arrived), skipping other events.
async fn joined(events: &mut mpsc::Receiver<NetEvent>) {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match events.recv().await {
                Some(NetEvent::Server(ServerMsg::History { .. })) => return,
                Some(_) => {}
                None => panic!("the network task ended"),
            }
        }
    })
    .await
    .expect("joined in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broadcast_survives_sigkill_during_continuous_sending() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("chat.db");
    let args = [
        "--db",
        db.to_str().unwrap(),
        "--msg-rate",
        "0",
        "--history",
        "5000",
    ];
    let server = fault_support::start(Launch {
        port: 0,
        args: &args,
        data_dir: data.path(),
        file_size_limit_kib: None,
    })
    .await;
    let port = server.addr.port();

    let mut handles = Vec::new();
    let mut event_rxs = Vec::new();
    for i in 0..CLIENTS {
        let (handle, mut events) = net::spawn(
            server.url.clone(),
            Identity {
                name: format!("sender{i}"),
                color: String::new(),
                room: String::new(),
            },
        );
        joined(&mut events).await;
        handles.push(handle);
        event_rxs.push(events);
    }

    // Each client sends as fast as its command queue takes it, until the kill.
    let killed = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for (i, handle) in handles.iter().enumerate() {
        let handle = handle.clone();
        let killed = Arc::clone(&killed);
        senders.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !killed.load(Ordering::SeqCst) && n < 100_000 {
                let msg = ClientMsg::Message {
                    text: format!("client {i} line {n}"),
                    name: None,
                    color: None,
                    cid: None,
                };
                if handle.send(NetCmd::Send(msg)) {
                    n += 1;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }));
    }

    // Each client's events are collected as they come, so no client falls behind: live
    // broadcasts until the connection drops, then the history sent on rejoining.
    let live_counts: Vec<Arc<AtomicUsize>> = (0..CLIENTS)
        .map(|_| Arc::new(AtomicUsize::new(0)))
        .collect();
    let mut collectors = Vec::new();
    for (mut rx, count) in event_rxs.into_iter().zip(live_counts.iter().cloned()) {
        collectors.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            loop {
                match rx.recv().await.expect("the task runs") {
                    NetEvent::Server(ServerMsg::Message(m)) => {
                        seen.live.push(m);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    NetEvent::Disconnected { .. } => break,
                    _ => {}
                }
            }
            // Sends queued after the kill come back as NotSent; skip to the rejoin's history.
            loop {
                if let NetEvent::Server(ServerMsg::History { messages, .. }) =
                    rx.recv().await.expect("the task runs")
                {
                    seen.history_after = Some(messages);
                    return seen;
                }
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while live_counts[0].load(Ordering::SeqCst) < KILL_AFTER {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the clients do not chat"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    server.kill9().await;
    killed.store(true, Ordering::SeqCst);
    for sender in senders {
        sender.await.unwrap();
    }

    // Restart on the same port and database: the clients come back on their own.
    let server = fault_support::start(Launch {
        port,
        args: &args,
        data_dir: data.path(),
        file_size_limit_kib: None,
    })
    .await;
    let mut seen = Vec::new();
    for collector in collectors {
        let s = tokio::time::timeout(Duration::from_secs(60), collector)
            .await
            .expect("each client rejoins and gets the history in time")
            .unwrap();
        seen.push(s);
    }

    let history = seen[0].history_after.clone().unwrap();
    let ids: Vec<u64> = history.iter().map(|m| m.id.unwrap()).collect();
    let expected_ids: Vec<u64> = (1..=ids.len() as u64).collect();
    assert_eq!(
        ids, expected_ids,
        "history ids are contiguous from 1, no duplicates"
    );
    assert!(
        history.len() < 5000,
        "the whole history fits in the rejoin page"
    );
    let by_id: BTreeMap<u64, &ChatMessage> = history.iter().map(|m| (m.id.unwrap(), m)).collect();

    let mut live_total = 0;
    for (k, s) in seen.iter().enumerate() {
        assert_eq!(
            s.history_after.as_ref().unwrap(),
            &history,
            "every client gets the same history"
        );
        for m in &s.live {
            let id = m.id.unwrap();
            let stored = by_id.get(&id).unwrap_or_else(|| {
                panic!("client {k} saw id {id} broadcast; it is not in the history")
            });
            assert_eq!(
                (&stored.name, &stored.text),
                (&m.name, &m.text),
                "id {id} holds what was broadcast"
            );
        }
        // The client's view: live messages, then the history merged in by id.
        let live_ids: Vec<u64> = s.live.iter().map(|m| m.id.unwrap()).collect();
        let contiguous: Vec<u64> = (1..=live_ids.len() as u64).collect();
        assert_eq!(
            live_ids, contiguous,
            "client {k} saw the broadcasts in order, no gaps"
        );
        live_total += s.live.len();
    }
    assert!(live_total >= KILL_AFTER * CLIENTS, "{live_total}");

    for handle in &handles {
        handle.send(NetCmd::Shutdown);
    }
    server.kill9().await;
}
