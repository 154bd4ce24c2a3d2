//! The network task's timing: the waits between attempts are the seeded backoff's delays, a
//! stable connection starts the schedule over and a short one does not, and keepalive pings find
//! a dead server but spare a live quiet one. Only the refused-attempt schedule runs under tokio's
//! paused clock (loopback refuses within the connect call, so no IO is ever in flight for the
//! clock to jump over); tests with a live socket run in real time and check causal bounds.
#![allow(clippy::unwrap_used)]

mod client_net_support;

use std::time::Duration;

use clicom::client::backoff::Backoff;
use clicom::client::net::{self, NetCmd, NetEvent, NetHandle, NetOptions};
use clicom::protocol::ClientMsg;
use client_net_support::*;
use tokio::sync::mpsc;
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

/// The backoff's base in the real-time tests: so long that only `ReconnectNow` ends a wait.
const BASE: Duration = Duration::from_secs(3600);
/// Refused attempts before the server comes up: the ceiling is then 2⁶ hours.
const REFUSALS: usize = 6;

/// A schedule with hour-long steps; `stable_after` decides what counts as a stable connection.
fn hour_backoff(seed: u64, stable_after: Duration) -> Backoff {
    Backoff::seeded(seed).with_timings(BASE, Duration::from_secs(1 << 30), stable_after)
}

/// Starts the task against a closed port, lets [`REFUSALS`] attempts in a row be refused (each
/// wait cut short with `ReconnectNow`), then brings a server up on that port and waits until the
/// task has joined it. Returns the running pieces and a mirror that has drawn the same delays.
async fn deep_in_the_schedule(
    seed: u64,
    stable_after: Duration,
) -> (NetHandle, mpsc::Receiver<NetEvent>, FakeServer, Backoff) {
    let port = closed_port().await;
    let url = format!("ws://127.0.0.1:{port}/ws");
    let opts = NetOptions {
        backoff: hour_backoff(seed, stable_after),
        idle_ping: Duration::from_secs(3600),
        ..fast_options()
    };
    let (net, mut events) = net::spawn_with(url.clone(), alice(), opts);
    let mut mirror = hour_backoff(seed, stable_after);
    let mut server = None;
    for refused in 1..=REFUSALS {
        let (reason, retry_at, _) = wait_disconnected(&mut events).await;
        assert_eq!(reason, "connection refused");
        assert!(retry_at.is_some());
        let delay = mirror.next_delay();
        // Otherwise a wait could end by itself and a stray `ReconnectNow` reach the session.
        assert!(
            delay > Duration::from_secs(60),
            "seed {seed}: delay {delay:?}"
        );
        if refused == REFUSALS {
            server = Some(FakeServer::start_on(port, Mode::Normal).await);
        }
        assert!(net.send(NetCmd::ReconnectNow));
    }
    let mut server = server.unwrap();
    let skipped = wait_connected(&mut events, &url).await;
    assert!(
        skipped
            .iter()
            .all(|e| matches!(e, NetEvent::Connecting { .. })),
        "{skipped:#?}"
    );
    server.wait_join().await;
    assert_eq!(mirror.failures(), REFUSALS as u32);
    (net, events, server, mirror)
}

/// The `retry_at` of the `Disconnected` that reports a drop.
async fn retry_at_of_drop(events: &mut mpsc::Receiver<NetEvent>) -> std::time::Instant {
    let (reason, retry_at, attempt) = wait_disconnected(events).await;
    assert_ne!(reason, "connection refused", "the drop is reported first");
    assert_eq!(
        attempt, 1,
        "after a connection that was up, attempts count from 1"
    );
    retry_at.unwrap()
}

#[tokio::test]
async fn a_connection_that_stayed_up_past_stable_after_resets_the_schedule() {
    let stable_after = Duration::from_millis(200);
    let (_net, mut events, server, mirror) = deep_in_the_schedule(5, stable_after).await;
    // What the next wait would be without the reset: far beyond the post-reset ceiling, so a
    // task that forgot to reset would fail the bound below.
    let carried_on = mirror.clone().next_delay();
    assert!(carried_on > 2 * BASE, "seed 5 draws {carried_on:?}");

    // The task's clock for the connection started before we saw `Connected`; stay up past it.
    tokio::time::sleep(2 * stable_after).await;
    server.stop_and_wait().await;
    let retry_at = retry_at_of_drop(&mut events).await;
    let received = std::time::Instant::now();
    // retry_at = (when the task saw the drop, before we received it) + (a delay ≤ the ceiling).
    assert!(
        retry_at <= received + BASE,
        "next attempt {:?} away, more than the post-reset ceiling {BASE:?}",
        retry_at.saturating_duration_since(received)
    );
}

#[tokio::test]
async fn a_short_connection_does_not_reset_the_schedule() {
    // Nothing in this test lasts a day: the connection is certainly short.
    let stable_after = Duration::from_secs(24 * 3600);
    let (_net, mut events, server, mirror) = deep_in_the_schedule(5, stable_after).await;
    let carried_on = mirror.clone().next_delay();
    let mut reset = mirror.clone();
    reset.reset();
    // A task that reset would wait at most BASE; this seed's carried-on delay is far longer.
    assert!(
        carried_on > 2 * reset.ceiling(),
        "seed 5 draws {carried_on:?}"
    );

    let before_drop = std::time::Instant::now();
    server.stop_and_wait().await;
    let retry_at = retry_at_of_drop(&mut events).await;
    // The task saw the drop after we caused it, and then waits the carried-on delay.
    assert!(
        retry_at >= before_drop + carried_on,
        "next attempt at most {:?} after the drop, the schedule carried on says {carried_on:?}",
        retry_at.saturating_duration_since(before_drop)
    );
}

#[tokio::test]
async fn a_server_that_stops_answering_is_dropped_after_ping_and_pong_timeout() {
    let server = FakeServer::start_on(0, Mode::Silent).await;
    let opts = NetOptions {
        idle_ping: Duration::from_millis(200),
        pong_timeout: Duration::from_millis(300),
        ..patient_options()
    };
    let limit = opts.idle_ping + opts.pong_timeout;
    let started = Instant::now();
    let (_net, mut events) = net::spawn_with(server.url.clone(), alice(), opts);
    wait_connected(&mut events, &server.url).await;
    let (reason, retry_at, _) = wait_disconnected(&mut events).await;
    assert_eq!(reason, "timed out: the server stopped answering");
    assert!(retry_at.is_some());
    // Silence is timed from the connection's start, which came after `started`.
    let silent_for = started.elapsed();
    assert!(
        silent_for >= limit,
        "dropped {silent_for:?} after starting, before idle_ping + pong_timeout = {limit:?}"
    );
    // The drop followed a ping (the next connection is an hour away, so this was it).
    server.wait_pings(1).await;
}

#[tokio::test]
async fn a_live_quiet_server_survives_many_keepalive_rounds() {
    let mut server = FakeServer::start().await;
    let opts = NetOptions {
        idle_ping: Duration::from_millis(20),
        pong_timeout: Duration::from_secs(5),
        ..patient_options()
    };
    let (net, mut events) = net::spawn_with(server.url.clone(), alice(), opts);
    wait_connected(&mut events, &server.url).await;
    let (conn, ..) = server.wait_join().await;
    // Nothing but keepalive goes either way meanwhile: each round is a ping and its pong.
    server.wait_pings(25).await;
    assert!(net.send(NetCmd::Send(ClientMsg::Who)));
    // Still the first connection: it was never dropped and replaced.
    assert_eq!(server.next_seen().await, Seen::Frame(conn, ClientMsg::Who));
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
