//! Bringing N clients in: connect and join them all (a bounded number of handshakes at a time)
//! and time it, the figure the join-storm goal is about. Any client that fails ends the run.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use indicatif::ProgressBar;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::conn::{self, Ws};
use super::target::Target;
use super::{BenchError, Common, Percentiles, latency_histogram};

/// The joined clients, in the order of their names.
pub struct Crowd {
    pub clients: Vec<Ws>,
    /// From the first connect to the last confirmed join.
    pub elapsed: Duration,
    /// Each client's own connect + handshake + join time.
    pub per_client: Percentiles,
}

/// The name of client `i` of a run: short, plain ASCII, unique per run.
pub fn client_name(nonce: u32, i: usize) -> String {
    format!("b{nonce:08x}-{i}")
}

/// The seed's colours 1..6, spread over the clients.
pub fn client_color(i: usize) -> &'static str {
    ["1", "2", "3", "4", "5", "6"][i % 6]
}

/// The source address of client `i` when `--source-ips` spreads clients over several.
pub fn source_for(sources: &[IpAddr], i: usize) -> Option<IpAddr> {
    (!sources.is_empty()).then(|| sources[i % sources.len()])
}

/// Connects and joins every name; `bar` counts joined clients. Joined clients keep reading
/// (and discarding) until all have joined, as real clients would: a server must not be able to
/// look fast by leaving its presence updates unread in socket buffers.
pub async fn gather(
    target: &Target,
    common: &Common,
    names: &[String],
    bar: &ProgressBar,
) -> Result<Crowd, BenchError> {
    let permits = Arc::new(Semaphore::new(common.concurrency.max(1)));
    let started = Instant::now();
    let deadline = started + common.join_timeout;
    let (release_tx, release_rx) = watch::channel(false);
    let (joined_tx, mut joined_rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    for (i, name) in names.iter().enumerate() {
        let permits = Arc::clone(&permits);
        let target = target.clone();
        let name = name.clone();
        let room = common.room.clone();
        let source = source_for(&common.source_ips, i);
        let joined_tx = joined_tx.clone();
        let mut release = release_rx.clone();
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring only waits.
            let permit = permits.acquire_owned().await;
            let began = Instant::now();
            let left = deadline.saturating_duration_since(began);
            let joined = conn::connect_and_join(
                &target,
                source,
                &name,
                client_color(i),
                room.as_deref(),
                left,
            )
            .await;
            drop(permit);
            let mut ws = match joined {
                Ok(ws) => ws,
                Err(error) => {
                    let _ = joined_tx.send((i, Err(error)));
                    return None;
                }
            };
            let _ = joined_tx.send((i, Ok(began.elapsed())));
            let released = release.changed();
            tokio::pin!(released);
            loop {
                tokio::select! {
                    frame = ws.next() => if matches!(frame, None | Some(Err(_))) {
                        // Closed while waiting: the bench sees it as a disconnect later.
                        (&mut released).await.ok();
                        return Some((i, ws));
                    },
                    _ = &mut released => return Some((i, ws)),
                }
            }
        });
    }
    drop(joined_tx);
    let mut times = latency_histogram();
    let mut joined = 0;
    while joined < names.len() {
        match joined_rx.recv().await {
            Some((_, Ok(took))) => {
                times.saturating_record(took.as_micros() as u64);
                joined += 1;
                bar.inc(1);
            }
            Some((i, Err(error))) => {
                tasks.abort_all();
                return Err(BenchError::JoinFailed {
                    client: names[i].clone(),
                    joined,
                    clients: names.len(),
                    error,
                });
            }
            None => {
                tasks.abort_all();
                return Err(BenchError::Options("a client task failed".into()));
            }
        }
    }
    let elapsed = started.elapsed();
    let _ = release_tx.send(true);
    let mut slots: Vec<Option<Ws>> = names.iter().map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some((i, ws))) = done {
            slots[i] = Some(ws);
        }
    }
    Ok(Crowd {
        clients: slots.into_iter().flatten().collect(),
        elapsed,
        per_client: Percentiles::from_histogram(&times),
    })
}
