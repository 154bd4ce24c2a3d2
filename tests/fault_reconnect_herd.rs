//! The server restarted under 200 connected client tasks (`client::net::spawn`, the client's
//! standard backoff): every task comes back, and the reconnect attempts are spread by the full
//! jitter instead of arriving as one herd. Asserts on the shape of the schedule (spread,
//! crowding, the backoff's bounds), never on how fast anything ran.
#![allow(clippy::unwrap_used)]

mod fault_support;
mod support;

use std::time::{Duration, Instant};

use clicom::client::backoff::Backoff;
use clicom::client::net::{self, Identity, NetCmd, NetEvent};
use fault_support::Launch;

const TASKS: usize = 200;

/// What one task went through around the restart.
#[derive(Debug, Default)]
struct Timeline {
    /// The first retry wait chosen after the drop (`retry_at` − when the drop was reported).
    first_delay: Option<Duration>,
    /// When that first retry was scheduled for.
    first_retry_at: Option<Instant>,
    /// When its first attempt after the drop started.
    first_attempt: Option<Instant>,
    /// When it was connected again.
    reconnected: Option<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_come_back_spread_by_jitter() {
    let data = tempfile::tempdir().unwrap();
    let args = ["--db", ":memory:"];
    let server = fault_support::start(Launch {
        port: 0,
        args: &args,
        data_dir: data.path(),
        file_size_limit_kib: None,
    })
    .await;
    let port = server.addr.port();

    // Start the tasks; each watcher waits for the first connection, reports it, then records
    // the timeline of the drop and the reconnect.
    let (up_tx, mut up_rx) = tokio::sync::mpsc::channel::<()>(TASKS);
    let mut handles = Vec::new();
    let mut watchers = Vec::new();
    for i in 0..TASKS {
        let (handle, mut events) = net::spawn(
            server.url.clone(),
            Identity {
                name: format!("herd{i}"),
                color: String::new(),
                room: String::new(),
            },
        );
        handles.push(handle);
        let up_tx = up_tx.clone();
        watchers.push(tokio::spawn(async move {
            let mut timeline = Timeline::default();
            let mut dropped = false;
            while let Some(event) = events.recv().await {
                match event {
                    NetEvent::Connected { .. } if !dropped => {
                        let _ = up_tx.send(()).await;
                    }
                    NetEvent::Disconnected {
                        retry_at: Some(at), ..
                    } if !dropped => {
                        dropped = true;
                        timeline.first_delay = Some(at.saturating_duration_since(Instant::now()));
                        timeline.first_retry_at = Some(at);
                    }
                    NetEvent::Connecting { .. } if dropped && timeline.first_attempt.is_none() => {
                        timeline.first_attempt = Some(Instant::now());
                    }
                    NetEvent::Connected { .. } if dropped => {
                        timeline.reconnected = Some(Instant::now());
                        return timeline;
                    }
                    _ => {}
                }
            }
            timeline
        }));
    }
    drop(up_tx);
    tokio::time::timeout(Duration::from_secs(120), async {
        for _ in 0..TASKS {
            up_rx
                .recv()
                .await
                .expect("a watcher reports its connection");
        }
    })
    .await
    .expect("all tasks connect in time");

    // Kill and restart on the same port at once.
    let dropped_at = Instant::now();
    server.kill9().await;
    let server = fault_support::start(Launch {
        port,
        args: &args,
        data_dir: data.path(),
        file_size_limit_kib: None,
    })
    .await;

    let mut timelines = Vec::new();
    for watcher in watchers {
        let timeline = tokio::time::timeout(Duration::from_secs(120), watcher)
            .await
            .expect("every task comes back in time")
            .unwrap();
        timelines.push(timeline);
    }
    assert!(
        timelines.iter().all(|t| t.reconnected.is_some()),
        "every task is connected again"
    );

    // The first wait of each task lies within the first backoff ceiling.
    let delays: Vec<Duration> = timelines.iter().map(|t| t.first_delay.unwrap()).collect();
    assert!(
        delays.iter().all(|d| *d <= Backoff::BASE),
        "every first wait is within [0, {:?}]",
        Backoff::BASE
    );
    // Full jitter spreads them across that range: 200 uniform draws from [0, 500 ms] span
    // nearly all of it, and fill each fifth of it. A herd (no jitter) would put all of them
    // at one point.
    let min = *delays.iter().min().unwrap();
    let max = *delays.iter().max().unwrap();
    assert!(
        max - min >= Backoff::BASE / 2,
        "first waits span only {:?}..{:?}",
        min,
        max
    );
    // Bucket the retry moments themselves (computed inside each task, so a watcher that is
    // slow to look under load cannot shift them): relative to the earliest one they spread
    // over the jitter range.
    let earliest = timelines
        .iter()
        .map(|t| t.first_retry_at.unwrap())
        .min()
        .unwrap();
    let fifth = Backoff::BASE / 5;
    let mut buckets = [0usize; 5];
    for t in &timelines {
        let offset = t.first_retry_at.unwrap().duration_since(earliest);
        let i = (offset.as_nanos() / fifth.as_nanos()).min(4) as usize;
        buckets[i] += 1;
    }
    assert!(
        buckets.iter().all(|&n| n >= 5),
        "retry moments by fifth of the jitter range: {buckets:?} (expected about 40 each)"
    );

    // The schedule as a whole: the tasks noticed the drop together, so their retry times are
    // the jitter plus a shared moment. No 10 ms window may hold a crowd (uniform: about 4).
    let mut retry_at: Vec<Instant> = timelines
        .iter()
        .map(|t| t.first_retry_at.unwrap())
        .collect();
    retry_at.sort();
    let window = Duration::from_millis(10);
    let crowd = (0..retry_at.len())
        .map(|i| {
            retry_at[i..]
                .iter()
                .take_while(|at| at.duration_since(retry_at[i]) < window)
                .count()
        })
        .max()
        .unwrap();
    assert!(
        crowd <= TASKS / 4,
        "{crowd} of {TASKS} retries were scheduled within {window:?}"
    );

    // And the reconnects that followed are spread out too, not one burst.
    let reconnects: Vec<Duration> = timelines
        .iter()
        .map(|t| t.reconnected.unwrap().saturating_duration_since(dropped_at))
        .collect();
    let first = *reconnects.iter().min().unwrap();
    let last = *reconnects.iter().max().unwrap();
    assert!(
        last - first >= Backoff::BASE / 5,
        "all reconnects within {first:?}..{last:?} after the kill"
    );
    let attempts = timelines
        .iter()
        .filter(|t| t.first_attempt.is_some())
        .count();
    assert_eq!(attempts, TASKS, "each task made its own attempt");
    eprintln!(
        "first waits {min:?}..{max:?} by fifth {buckets:?}; busiest 10 ms: {crowd} retries; \
         reconnects {first:?}..{last:?} after the kill"
    );

    for handle in &handles {
        handle.send(NetCmd::Shutdown);
    }
    server.kill9().await;
}
