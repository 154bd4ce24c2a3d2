//! The network task's timing under tokio's paused clock, with the real default timings: the waits
//! between attempts are the seeded backoff's delays, and keepalive pings find a dead server but
//! spare a live quiet one, independent of the machine's speed.
//! (A refused connection on loopback is reported at once, so no IO wait lets the paused clock
//! jump ahead; a clock jump would show up as a "timed out" reason and fail loudly.)
#![allow(clippy::unwrap_used)]

mod client_net_support;

use std::time::Duration;

use clicom::client::backoff::Backoff;
use clicom::client::net::{self, NetEvent, NetOptions};
use client_net_support::*;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn retries_follow_the_seeded_backoff_schedule() {
    let port = closed_port().await;
    let opts = NetOptions {
        backoff: Backoff::seeded(99),
        ..NetOptions::default()
    };
    let (_net, mut events) = net::spawn_with(format!("ws://127.0.0.1:{port}/ws"), alice(), opts);
    let mut expected = Backoff::seeded(99);
    // (when the failure was reported, the delay the schedule gives, the attempt announced)
    let mut pending: Option<(Instant, Duration, u32)> = None;
    let mut checked = 0;
    while checked < 10 {
        match events.recv().await.unwrap() {
            NetEvent::Connecting { attempt, .. } => {
                if let Some((failed_at, delay, announced)) = pending.take() {
                    let waited = Instant::now() - failed_at;
                    // tokio's timers have millisecond resolution and round up.
                    assert!(
                        delay <= waited && waited <= delay + Duration::from_millis(1),
                        "attempt {attempt}: waited {waited:?}, schedule says {delay:?}"
                    );
                    assert_eq!(attempt, announced);
                    checked += 1;
                }
            }
            NetEvent::Disconnected {
                reason,
                attempt,
                retry_at,
                ..
            } => {
                assert_eq!(reason, "connection refused");
                assert!(retry_at.is_some());
                pending = Some((Instant::now(), expected.next_delay(), attempt));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        expected.ceiling(),
        Backoff::CAP,
        "the schedule reached its cap"
    );
}

/// Waits for the next `Connecting` and returns how long after `since` it came.
async fn next_attempt_after(
    events: &mut tokio::sync::mpsc::Receiver<NetEvent>,
    since: Instant,
) -> Duration {
    loop {
        match events.recv().await.unwrap() {
            NetEvent::Connecting { .. } => return Instant::now() - since,
            NetEvent::Server(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[track_caller]
fn assert_waited(waited: Duration, delay: Duration) {
    assert!(
        delay <= waited && waited <= delay + Duration::from_millis(1),
        "waited {waited:?}, schedule says {delay:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_minute_long_connection_resets_the_schedule_and_a_short_one_does_not() {
    let port = closed_port().await;
    let url = format!("ws://127.0.0.1:{port}/ws");
    let hour = Duration::from_secs(3600);
    let opts = NetOptions {
        backoff: Backoff::seeded(5),
        idle_ping: hour,
        ..NetOptions::default()
    };
    let (_net, mut events) = net::spawn_with(url.clone(), alice(), opts);
    let mut expected = Backoff::seeded(5);

    // Four refused attempts push the ceiling up to 8 s.
    for _ in 0..4 {
        let (reason, _, _) = wait_disconnected(&mut events).await;
        assert_eq!(reason, "connection refused");
        let delay = expected.next_delay();
        assert_waited(next_attempt_after(&mut events, Instant::now()).await, delay);
    }
    let (reason, _, _) = wait_disconnected(&mut events).await;
    assert_eq!(reason, "connection refused");
    expected.next_delay();
    assert_eq!(expected.ceiling(), Duration::from_secs(16));

    // The server comes back; the connection stays up for a minute, then the server dies.
    let mut server = FakeServer::start_on(port, Mode::Normal).await;
    wait_connected(&mut events, &url).await;
    server.wait_join().await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    let port = server.stop_and_wait().await;
    wait_disconnected(&mut events).await;
    let dropped_at = Instant::now();
    expected.connection_ended(Duration::from_secs(61));
    assert_eq!(expected.ceiling(), Backoff::BASE, "a stable minute resets");
    let delay = expected.next_delay();
    assert_waited(next_attempt_after(&mut events, dropped_at).await, delay);
    // That attempt finds the server still down.
    let (reason, _, _) = wait_disconnected(&mut events).await;
    assert_eq!(reason, "connection refused");
    expected.next_delay();

    // Up again, but only for ten seconds: the schedule carries on from where it was.
    let mut server = FakeServer::start_on(port, Mode::Normal).await;
    wait_connected(&mut events, &url).await;
    server.wait_join().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    server.stop_and_wait().await;
    wait_disconnected(&mut events).await;
    let dropped_at = Instant::now();
    expected.connection_ended(Duration::from_secs(10));
    assert_eq!(
        expected.ceiling(),
        Duration::from_secs(2),
        "a short connection does not reset"
    );
    let delay = expected.next_delay();
    assert_waited(next_attempt_after(&mut events, dropped_at).await, delay);
}

#[tokio::test(start_paused = true)]
async fn a_server_that_stops_answering_is_dropped_after_ping_and_pong_timeout() {
    let server = FakeServer::start_on(0, Mode::Silent).await;
    let defaults = NetOptions::default();
    let (_net, mut events) = net::spawn_with(server.url.clone(), alice(), NetOptions::default());
    wait_connected(&mut events, &server.url).await;
    let connected_at = Instant::now();
    // The paused clock makes the ten-second DEADLINE of the helpers virtual: wait an hour here.
    let event = tokio::time::timeout(Duration::from_secs(3600), events.recv())
        .await
        .expect("dropped within an hour")
        .unwrap();
    let NetEvent::Disconnected {
        reason, retry_at, ..
    } = event
    else {
        panic!("expected Disconnected, got {event:?}")
    };
    assert_eq!(reason, "timed out: the server stopped answering");
    assert!(retry_at.is_some());
    let silent_for = Instant::now() - connected_at;
    let limit = defaults.idle_ping + defaults.pong_timeout;
    assert!(
        limit <= silent_for && silent_for <= limit + Duration::from_millis(2),
        "dropped after {silent_for:?} of silence, expected {limit:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_live_quiet_server_survives_many_keepalive_rounds() {
    let mut server = FakeServer::start().await;
    let (net, mut events) = net::spawn_with(server.url.clone(), alice(), NetOptions::default());
    wait_connected(&mut events, &server.url).await;
    let (conn, ..) = server.wait_join().await;
    // Ten minutes of silence: twenty ping rounds, each answered by the server's pong.
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert!(net.send(clicom::client::net::NetCmd::Send(
        clicom::protocol::ClientMsg::Who
    )));
    assert_eq!(
        server.next_seen().await,
        Seen::Frame(conn, clicom::protocol::ClientMsg::Who)
    );
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(
                event,
                NetEvent::Disconnected { .. } | NetEvent::Connecting { .. }
            ),
            "keepalive dropped a live connection: {event:?}"
        );
    }
}
