//! The reconnect-storm bench: N clients connect and stay, reconnecting the way the chat client
//! does (its own full-jitter [`Backoff`]). The caller restarts the server; we report how long until all N
//! are back and joined, and how their reconnect attempts spread over time (no thundering herd).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::conn;
use super::crowd::{client_color, client_name, source_for};
use super::target::Target;
use super::{
    BenchError, Common, CpuUse, Machine, Percentiles, latency_histogram, parse_duration, procstat,
};
use crate::client::backoff::Backoff;

#[derive(clap::Args, Debug, Clone)]
pub struct StormOptions {
    #[command(flatten)]
    pub common: Common,
    /// Clients that stay connected and reconnect.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// After all have joined, wait at most this long for the server to go away and for every
    /// client to be back.
    #[arg(long, value_parser = parse_duration, default_value = "120s")]
    pub timeout: Duration,
    /// Seed of the clients' backoff jitter (client i uses seed + i).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl StormOptions {
    /// Command-line defaults for `clients` clients, progress bar off.
    pub fn new(url: impl Into<String>, clients: usize) -> StormOptions {
        StormOptions {
            common: Common::new(url),
            clients,
            timeout: Duration::from_secs(120),
            seed: 1,
        }
    }
}

/// What a storm run measured. Times are seconds from the outage: the first lost connection.
#[derive(Debug, Clone, Serialize)]
pub struct StormReport {
    /// Always "storm".
    pub bench: &'static str,
    pub url: String,
    pub clients: usize,
    /// Time for all clients to connect and join before the outage.
    pub initial_join_s: f64,
    /// Whether any connection was lost within the timeout.
    pub outage_seen: bool,
    /// Clients that lost their connection.
    pub lost: usize,
    /// Clients back and joined after losing it.
    pub back: usize,
    /// The outage happened and every client was connected and joined again before the timeout.
    pub all_back: bool,
    /// The first client back (about when the server was reachable again).
    pub first_back_s: Option<f64>,
    /// The last client back: the storm's length.
    pub all_back_s: Option<f64>,
    /// Each client's time back, as a distribution (ms from the outage).
    pub back_times: Percentiles,
    /// Reconnect attempts after the outage, all clients.
    pub attempts: u64,
    /// The most attempts one client made.
    pub max_attempts_per_client: u32,
    /// When the attempts happened (ms from the outage).
    pub attempt_times: Percentiles,
    /// The most attempts started within any 100 ms window: the herd's peak.
    pub peak_attempts_per_100ms: u64,
    /// Attempts started in each second after the outage.
    pub attempts_per_second: Vec<u64>,
    pub generator: CpuUse,
    /// Cores and load average before/after: how busy the machine was.
    pub machine: Machine,
}

impl StormReport {
    pub fn human(&self) -> String {
        let mut s = format!("storm {} — {} clients\n", self.url, self.clients);
        s += &format!("  initial join: {:.3} s\n", self.initial_join_s);
        if !self.outage_seen {
            s += "  no connection was lost before the timeout: restart the server while the \
                  storm bench runs\n";
        } else {
            s += &format!(
                "  back:         {} of {} that lost their connection{}\n",
                self.back,
                self.lost,
                if self.all_back { "" } else { " (timed out)" }
            );
            if let (Some(first), Some(all)) = (self.first_back_s, self.all_back_s) {
                s += &format!(
                    "  after outage: first back at {first:.3} s, all back at {all:.3} s \
                     (spread {:.3} s)\n",
                    all - first
                );
            }
            s += &format!(
                "  attempts:     {} (max {} per client); at p50 {:.0} ms, p90 {:.0} ms, \
                 p99 {:.0} ms, max {:.0} ms; peak {} per 100 ms\n",
                self.attempts,
                self.max_attempts_per_client,
                self.attempt_times.p50_ms,
                self.attempt_times.p90_ms,
                self.attempt_times.p99_ms,
                self.attempt_times.max_ms,
                self.peak_attempts_per_100ms
            );
            s += &format!("  per second:   {:?}\n", self.attempts_per_second);
        }
        s += &format!(
            "  generator:    CPU {:.2} s ({:.1}% of a core)",
            self.generator.cpu_s, self.generator.core_pct
        );
        s += "\n";
        s += &self.machine.human();
        s
    }
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Attempt { client: usize, at: Instant },
    Joined { client: usize, at: Instant },
    Lost { client: usize, at: Instant },
}

struct ClientPlan {
    index: usize,
    name: String,
    target: Target,
    common: Common,
    seed: u64,
}

/// One client's life: connect, join, read until the connection ends, back off, again.
/// The first connect waits for a permit so the initial join is not itself a storm.
async fn client(
    plan: ClientPlan,
    permits: Arc<Semaphore>,
    events: mpsc::UnboundedSender<Event>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::seeded(plan.seed.wrapping_add(plan.index as u64));
    let source = source_for(&plan.common.source_ips, plan.index);
    let attempt_timeout = Duration::from_secs(10);
    let mut first = Some(permits);
    loop {
        let permit = match first.take() {
            Some(p) => Some(p.acquire_owned().await),
            None => None,
        };
        let _ = events.send(Event::Attempt {
            client: plan.index,
            at: Instant::now(),
        });
        let joined = tokio::select! {
            joined = conn::connect_and_join(
                &plan.target,
                source,
                &plan.name,
                client_color(plan.index),
                plan.common.room.as_deref(),
                attempt_timeout,
            ) => joined,
            _ = stop.changed() => return,
        };
        drop(permit);
        if let Ok(mut ws) = joined {
            let joined_at = Instant::now();
            let _ = events.send(Event::Joined {
                client: plan.index,
                at: joined_at,
            });
            loop {
                tokio::select! {
                    frame = ws.next() => match frame {
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                        Some(Ok(_)) => {}
                    },
                    _ = stop.changed() => {
                        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                        return;
                    }
                }
            }
            let _ = events.send(Event::Lost {
                client: plan.index,
                at: Instant::now(),
            });
            // As in the chat client: only a connection that stayed up a while resets the schedule.
            backoff.connection_ended(joined_at.elapsed());
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Runs the storm bench: returns once every client is back, or at the timeout.
pub async fn run(opts: &StormOptions) -> Result<StormReport, BenchError> {
    let target = opts.common.prepare(opts.clients).await?;
    let machine = Machine::observe();
    let progress = opts.common.progress();
    let nonce: u32 = rand::random();
    let n = opts.clients;
    let permits = Arc::new(Semaphore::new(opts.common.concurrency.max(1)));
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|index| {
            let plan = ClientPlan {
                index,
                name: client_name(nonce, index),
                target: target.clone(),
                common: opts.common.clone(),
                seed: opts.seed,
            };
            tokio::spawn(client(
                plan,
                Arc::clone(&permits),
                events_tx.clone(),
                stop_rx.clone(),
            ))
        })
        .collect();
    drop(events_tx);

    let outcome = observe(opts, n, started, &mut events, &progress).await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        futures_util::future::join_all(tasks),
    )
    .await;
    outcome.map(|report| StormReport {
        machine: machine.finish(),
        ..report
    })
}

/// What the events have told so far, per client.
struct Tracker {
    /// Connected and joined right now.
    up: Vec<bool>,
    up_count: usize,
    /// Joined at least once.
    ever: Vec<bool>,
    ever_count: usize,
    /// The first lost connection: the outage, from which all times count.
    outage: Option<Instant>,
    lost: Vec<bool>,
    /// When a client that lost its connection was joined again (None while it is away).
    back_at: Vec<Option<Instant>>,
    attempts_at: Vec<Instant>,
    per_client_attempts: Vec<u32>,
}

impl Tracker {
    fn new(n: usize) -> Tracker {
        Tracker {
            up: vec![false; n],
            up_count: 0,
            ever: vec![false; n],
            ever_count: 0,
            outage: None,
            lost: vec![false; n],
            back_at: vec![None; n],
            attempts_at: Vec::new(),
            per_client_attempts: vec![0; n],
        }
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Joined { client, at } => {
                if !std::mem::replace(&mut self.up[client], true) {
                    self.up_count += 1;
                }
                if !std::mem::replace(&mut self.ever[client], true) {
                    self.ever_count += 1;
                }
                if self.lost[client] && self.back_at[client].is_none() {
                    self.back_at[client] = Some(at);
                }
            }
            Event::Lost { client, at } => {
                if std::mem::replace(&mut self.up[client], false) {
                    self.up_count -= 1;
                }
                self.outage.get_or_insert(at);
                self.lost[client] = true;
                self.back_at[client] = None;
            }
            Event::Attempt { client, at } => {
                if self.outage.is_some() {
                    self.attempts_at.push(at);
                    self.per_client_attempts[client] += 1;
                }
            }
        }
    }

    /// The outage happened and every client is connected and joined again.
    fn all_back(&self) -> bool {
        self.outage.is_some() && self.up_count == self.up.len()
    }
}

async fn observe(
    opts: &StormOptions,
    n: usize,
    started: Instant,
    events: &mut mpsc::UnboundedReceiver<Event>,
    progress: &super::Progress,
) -> Result<StormReport, BenchError> {
    let mut tracker = Tracker::new(n);
    // Phase 1: everyone joins once.
    let bar = progress.bar(n as u64, "joining");
    let join_deadline = started + opts.common.join_timeout;
    while tracker.ever_count < n {
        let Ok(Some(event)) = tokio::time::timeout_at(join_deadline, events.recv()).await else {
            return Err(BenchError::Options(format!(
                "only {} of {n} clients joined within {:?} (is the server up?)",
                tracker.ever_count, opts.common.join_timeout
            )));
        };
        tracker.apply(event);
        bar.set_position(tracker.ever_count as u64);
    }
    bar.finish_and_clear();
    let initial_join = started.elapsed();

    // Phase 2: wait for the outage, then for every client to be connected and joined again.
    let cpu_before = procstat::self_cpu();
    let wall_began = Instant::now();
    let deadline = Instant::now() + opts.timeout;
    let bar = progress.bar(n as u64, "back");
    bar.set_message(format!(
        "all {n} joined: restart the server now (waiting up to {:?})",
        opts.timeout
    ));
    while !tracker.all_back() {
        let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await else {
            break;
        };
        tracker.apply(event);
        if tracker.outage.is_some() {
            bar.set_message("reconnecting");
            bar.set_position(tracker.up_count as u64);
        }
    }
    bar.finish_and_clear();
    let wall = wall_began.elapsed();
    let generator = CpuUse::between(procstat::self_cpu() - cpu_before, wall);
    Ok(summarise(opts, initial_join, &tracker, generator))
}

fn summarise(
    opts: &StormOptions,
    initial_join: Duration,
    tracker: &Tracker,
    generator: CpuUse,
) -> StormReport {
    let outage = tracker.outage;
    let all_back = tracker.all_back();
    let since = |at: Instant| outage.map(|o| at.saturating_duration_since(o));
    let lost_count = tracker.lost.iter().filter(|l| **l).count();
    let back: Vec<Duration> = tracker
        .back_at
        .iter()
        .flatten()
        .filter_map(|&at| since(at))
        .collect();
    let mut back_hist = latency_histogram();
    for d in &back {
        back_hist.saturating_record(d.as_micros() as u64);
    }
    let offsets: Vec<Duration> = tracker
        .attempts_at
        .iter()
        .filter_map(|&at| since(at))
        .collect();
    let mut attempt_hist = latency_histogram();
    let mut per_second: Vec<u64> = Vec::new();
    for d in &offsets {
        attempt_hist.saturating_record(d.as_micros() as u64);
        let second = d.as_secs() as usize;
        if per_second.len() <= second {
            per_second.resize(second + 1, 0);
        }
        per_second[second] += 1;
    }
    StormReport {
        bench: "storm",
        url: opts.common.url.clone(),
        clients: opts.clients,
        initial_join_s: initial_join.as_secs_f64(),
        outage_seen: outage.is_some(),
        lost: lost_count,
        back: back.len(),
        all_back,
        first_back_s: back.iter().min().map(Duration::as_secs_f64),
        all_back_s: all_back
            .then(|| back.iter().max().map(Duration::as_secs_f64))
            .flatten(),
        back_times: Percentiles::from_histogram(&back_hist),
        attempts: offsets.len() as u64,
        max_attempts_per_client: tracker
            .per_client_attempts
            .iter()
            .copied()
            .max()
            .unwrap_or(0),
        attempt_times: Percentiles::from_histogram(&attempt_hist),
        peak_attempts_per_100ms: peak_in_window(&offsets, Duration::from_millis(100)),
        attempts_per_second: per_second,
        generator,
        machine: Machine::default(),
    }
}

/// The most offsets that fall within any window of length `window`.
fn peak_in_window(offsets: &[Duration], window: Duration) -> u64 {
    let mut sorted = offsets.to_vec();
    sorted.sort_unstable();
    let mut peak = 0;
    let mut lo = 0;
    for hi in 0..sorted.len() {
        while sorted[hi] - sorted[lo] >= window {
            lo += 1;
        }
        peak = peak.max(hi - lo + 1);
    }
    peak as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyone_is_back_only_when_every_client_is_joined_after_the_outage() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut t = Tracker::new(3);
        for client in 0..3 {
            t.apply(Event::Joined { client, at: at(0) });
        }
        assert_eq!((t.ever_count, t.up_count), (3, 3));
        assert!(!t.all_back(), "no outage yet");
        t.apply(Event::Attempt {
            client: 0,
            at: at(5),
        });
        assert!(
            t.attempts_at.is_empty(),
            "attempts before the outage do not count"
        );
        t.apply(Event::Lost {
            client: 0,
            at: at(10),
        });
        t.apply(Event::Lost {
            client: 1,
            at: at(12),
        });
        assert_eq!(t.outage, Some(at(10)));
        t.apply(Event::Attempt {
            client: 0,
            at: at(20),
        });
        t.apply(Event::Joined {
            client: 0,
            at: at(30),
        });
        assert!(!t.all_back());
        // Client 1 comes back, then loses the server again: not back until it rejoins.
        t.apply(Event::Joined {
            client: 1,
            at: at(40),
        });
        t.apply(Event::Lost {
            client: 1,
            at: at(50),
        });
        assert!(!t.all_back());
        t.apply(Event::Attempt {
            client: 1,
            at: at(60),
        });
        t.apply(Event::Attempt {
            client: 1,
            at: at(70),
        });
        t.apply(Event::Joined {
            client: 1,
            at: at(80),
        });
        assert!(t.all_back(), "client 2 never lost its connection");
        assert_eq!(t.back_at, vec![Some(at(30)), Some(at(80)), None]);
        assert_eq!(t.per_client_attempts, vec![1, 2, 0]);

        let report = summarise(
            &StormOptions::new("ws://127.0.0.1:1/ws", 3),
            Duration::ZERO,
            &t,
            CpuUse::default(),
        );
        assert!(report.all_back);
        assert_eq!((report.lost, report.back), (2, 2));
        assert_eq!(report.attempts, 3);
        assert_eq!(report.max_attempts_per_client, 2);
        assert_eq!(report.all_back_s, Some(0.07));
        assert_eq!(report.first_back_s, Some(0.02));
        assert_eq!(report.attempts_per_second, vec![3]);
    }

    #[test]
    fn peak_window_counts_the_densest_stretch() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert_eq!(peak_in_window(&ms(&[]), Duration::from_millis(100)), 0);
        assert_eq!(
            peak_in_window(&ms(&[0, 50, 99, 100, 500]), Duration::from_millis(100)),
            3
        );
        assert_eq!(
            peak_in_window(&ms(&[900, 10, 950, 20, 960]), Duration::from_millis(100)),
            3
        );
    }
}
