//! The reconnect schedule as the network task applies it, under tokio's paused clock: the waits
//! between attempts are the seeded backoff's delays, independent of the machine's speed.
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
