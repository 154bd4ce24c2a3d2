//! The fan-out bench: N clients in one room, S of them sending R messages/s in total. Every
//! message carries (sender, sequence number, send time), so each receiver measures latency and
//! finds lost, duplicated and reordered deliveries without decoding frames with serde.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use super::conn::Ws;
use super::crowd::{self, client_name};
use super::procstat::{self, ProcSample};
use super::wire::{self, Probe, ProbeCodec};
use super::{BenchError, Common, CpuUse, Percentiles, latency_histogram, parse_duration};

#[derive(clap::Args, Debug, Clone)]
pub struct FanoutOptions {
    #[command(flatten)]
    pub common: Common,
    /// Clients that connect, join the room and receive.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// How many of the clients also send.
    #[arg(long, default_value_t = 1)]
    pub senders: usize,
    /// Messages per second, all senders together.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long the measured sending lasts.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Send at the same rate for this long first, without measuring.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub warmup: Duration,
    /// Message text size in bytes (at least the ~30-byte probe).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// After sending stops, wait at most this long for the last deliveries.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub drain: Duration,
    /// …but stop waiting once no delivery has arrived for this long (some are lost).
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub quiet: Duration,
    /// Also report this server process's RSS and CPU over the measured phase.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// This many clients (never senders) stop reading when the measured phase starts: a slow
    /// consumer test. They are left out of the expected deliveries; the report says whether
    /// the server closed them.
    #[arg(long, default_value_t = 0)]
    pub stall: usize,
}

impl FanoutOptions {
    /// Command-line defaults for `clients` clients, progress bar off.
    pub fn new(url: impl Into<String>, clients: usize) -> FanoutOptions {
        FanoutOptions {
            common: Common::new(url),
            clients,
            senders: 1,
            rate: 100.0,
            duration: Duration::from_secs(10),
            warmup: Duration::ZERO,
            size: 64,
            drain: Duration::from_secs(10),
            quiet: Duration::from_secs(2),
            server_pid: None,
            stall: 0,
        }
    }

    fn check(&self) -> Result<(), BenchError> {
        let bad = |m: &str| Err(BenchError::Options(m.into()));
        if self.senders == 0 || self.senders > self.clients {
            return bad("--senders must be between 1 and --clients");
        }
        if self.stall > self.clients - self.senders {
            return bad(
                "--stall must leave the senders reading (at most --clients minus --senders)",
            );
        }
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 10_000_000.0) {
            return bad("--rate must be a number of messages per second above 0");
        }
        if self.duration.is_zero() {
            return bad("--duration must be above 0");
        }
        if self.size > 1 << 20 {
            return bad("--size must be at most 1 MiB");
        }
        Ok(())
    }
}

/// What a fan-out run measured. Field names are the JSON summary's.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutReport {
    /// Always "fanout".
    pub bench: &'static str,
    pub url: String,
    pub clients: usize,
    pub senders: usize,
    /// Target messages per second (all senders).
    pub rate: f64,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub size: usize,
    /// Time for all clients to connect and be joined.
    pub join_s: f64,
    /// Each client's connect + join time.
    pub join: Percentiles,
    /// Measured messages sent (warm-up excluded).
    pub sent: u64,
    /// Messages per second the senders achieved.
    pub send_rate: f64,
    /// sent × (clients − stalled): every reading client, the sender included, should get every
    /// message.
    pub expected: u64,
    /// Distinct measured messages received, summed over clients.
    pub received: u64,
    /// expected − received.
    pub lost: u64,
    pub duplicates: u64,
    /// Deliveries that arrived after a later message of the same sender.
    pub reordered: u64,
    /// received / (first send → last delivery).
    pub deliveries_per_s: f64,
    /// Send-to-receive latency of every delivery.
    pub latency: Percentiles,
    /// `error` frames received during the run (e.g. rate_limited), and the first one.
    pub server_errors: u64,
    pub first_server_error: Option<String>,
    /// Reading clients whose connection closed during the run.
    pub disconnected: u64,
    /// Clients that stopped reading (--stall), and how many of them the server closed by the
    /// end of the run.
    pub stalled: usize,
    pub stalled_closed: u64,
    /// This process's CPU over the measured phase (send + drain).
    pub generator: CpuUse,
    /// The server's RSS and CPU over the measured phase, with --server-pid.
    pub server: Option<ServerUse>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServerUse {
    pub pid: u32,
    pub rss_kib_before: u64,
    pub rss_kib_after: u64,
    pub cpu: CpuUse,
}

impl FanoutReport {
    pub fn human(&self) -> String {
        let mut s = format!(
            "fanout {} — {} clients, {} sender(s), {} msg/s for {:.1} s, {} B text\n",
            self.url, self.clients, self.senders, self.rate, self.duration_s, self.size
        );
        s += &format!(
            "  join:       all {} joined in {:.3} s (per client p50 {:.2} ms, p99 {:.2} ms)\n",
            self.clients, self.join_s, self.join.p50_ms, self.join.p99_ms
        );
        s += &format!(
            "  sent:       {} messages ({:.0} msg/s)\n",
            self.sent, self.send_rate
        );
        s += &format!(
            "  deliveries: {} of {} expected, {:.0}/s; lost {}, duplicates {}, reordered {}\n",
            self.received,
            self.expected,
            self.deliveries_per_s,
            self.lost,
            self.duplicates,
            self.reordered
        );
        s += &format!("  latency:    {}\n", self.latency.human());
        if self.stalled > 0 {
            s += &format!(
                "  stalled:    {} client(s) stopped reading; the server closed {} of them\n",
                self.stalled, self.stalled_closed
            );
        }
        if self.server_errors > 0 || self.disconnected > 0 {
            s += &format!(
                "  problems:   {} server error frame(s){}, {} client(s) disconnected\n",
                self.server_errors,
                self.first_server_error
                    .as_deref()
                    .map(|e| format!(" (first: {e})"))
                    .unwrap_or_default(),
                self.disconnected
            );
            if self
                .first_server_error
                .as_deref()
                .is_some_and(|e| e.contains("rate_limited"))
            {
                s += "  hint:       the server rate-limits senders; run it with --msg-rate 0 for load tests\n";
            }
        }
        if let Some(server) = &self.server {
            s += &format!(
                "  server:     pid {} CPU {:.2} s ({:.0}% of a core), RSS {} → {} KiB\n",
                server.pid,
                server.cpu.cpu_s,
                server.cpu.core_pct,
                server.rss_kib_before,
                server.rss_kib_after
            );
        }
        s += &format!(
            "  generator:  CPU {:.2} s ({:.0}% of a core) — shares the machine with the server",
            self.generator.cpu_s, self.generator.core_pct
        );
        s
    }
}

/// State every receiver shares: the run's probe codec and, in shards so that receivers on
/// different threads rarely meet on a lock, the latency histogram and the delivery count (the
/// count tells when all deliveries are in).
struct Shared {
    codec: ProbeCodec,
    epoch: std::time::Instant,
    shards: Vec<Mutex<Shard>>,
    senders: usize,
    /// Measured messages handed to the WebSocket, all senders.
    sent: AtomicU64,
}

struct Shard {
    latency: Histogram<u64>,
    received: u64,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn shard(&self, i: usize) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn received(&self) -> u64 {
        (0..self.shards.len()).map(|i| self.shard(i).received).sum()
    }
}

/// Per (receiver, sender): the next sequence number due and the ones skipped so far.
#[derive(Debug, Default, Clone)]
struct SenderTrack {
    next: u64,
    missing: BTreeSet<u64>,
}

/// One receiver's counts, merged at the end.
#[derive(Debug, Default)]
struct Tally {
    received: u64,
    duplicates: u64,
    reordered: u64,
    errors: u64,
    first_error: Option<String>,
    last_us: u64,
    disconnected: bool,
    tracks: Vec<SenderTrack>,
}

impl Tally {
    fn on_frame(&mut self, frame: &str, shared: &Shared, shard: usize) {
        match wire::frame_type(frame) {
            Some("message") => {
                if let Some(probe) = shared.codec.find(frame) {
                    self.on_probe(probe, shared, shard);
                }
            }
            Some("error") => {
                self.errors += 1;
                if self.first_error.is_none() {
                    let line: String = frame.chars().take(200).collect();
                    self.first_error = Some(crate::text::sanitize_line(&line).into_owned());
                }
            }
            _ => {}
        }
    }

    fn on_probe(&mut self, probe: Probe, shared: &Shared, shard: usize) {
        let Some(track) = self.tracks.get_mut(probe.sender as usize) else {
            return;
        };
        if probe.seq == track.next {
            track.next += 1;
        } else if probe.seq > track.next {
            track.missing.extend(track.next..probe.seq);
            track.next = probe.seq + 1;
        } else if track.missing.remove(&probe.seq) {
            self.reordered += 1;
        } else {
            self.duplicates += 1;
            return;
        }
        let now = shared.now_us();
        self.received += 1;
        self.last_us = self.last_us.max(now);
        let mut shard = shared.shard(shard);
        shard.received += 1;
        shard
            .latency
            .saturating_record(now.saturating_sub(probe.sent_us).max(1));
    }
}

/// How long a stalled client reads through what is buffered for it, after the run, to learn
/// whether the server closed it.
const STALL_CHECK: Duration = Duration::from_secs(5);

async fn receive(
    mut stream: SplitStream<Ws>,
    shared: Arc<Shared>,
    shard: usize,
    mut stop: watch::Receiver<bool>,
    stall: Option<Instant>,
) -> Tally {
    let mut tally = Tally {
        tracks: vec![SenderTrack::default(); shared.senders],
        ..Tally::default()
    };
    if let Some(from) = stall {
        // Read (and ignore) until the measured phase starts, then stop reading until the end.
        let reading = async { while let Some(Ok(_)) = stream.next().await {} };
        let _ = tokio::time::timeout_at(from, reading).await;
        let _ = stop.changed().await;
        let closed = tokio::time::timeout(STALL_CHECK, async {
            loop {
                match stream.next().await {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await;
        tally.disconnected = closed.is_ok();
        return tally;
    }
    loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => tally.on_frame(&text, &shared, shard),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    tally.disconnected = true;
                    break;
                }
                Some(Ok(_)) => {}
            },
            _ = stop.changed() => break,
        }
    }
    tally
}

/// One sender's schedule: `rate` messages/s from `start` for `length`, the first one offset by
/// `phase` (a fraction of a message) so senders do not all fire in the same millisecond.
struct Schedule {
    start: Instant,
    length: Duration,
    rate: f64,
    phase: f64,
}

impl Schedule {
    fn due_by(&self, elapsed: Duration) -> u64 {
        (elapsed.min(self.length).as_secs_f64() * self.rate + self.phase).floor() as u64
    }

    fn total(&self) -> u64 {
        self.due_by(self.length)
    }
}

/// Sends on schedule, several frames per flush when more than one is due. Returns how many
/// were sent; stops early if the connection fails.
async fn send(
    sink: &mut SplitSink<Ws, Message>,
    shared: &Shared,
    sender: u32,
    schedule: &Schedule,
    size: usize,
    warmup: bool,
) -> u64 {
    let total = schedule.total();
    let tick = Duration::from_secs_f64((1.0 / schedule.rate).max(0.001));
    let mut ticks = tokio::time::interval_at(schedule.start, tick);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut sent = 0;
    while sent < total {
        ticks.tick().await;
        let due = schedule.due_by(schedule.start.elapsed()).min(total);
        while sent < due {
            let probe = Probe {
                sender,
                seq: sent,
                sent_us: shared.now_us(),
            };
            let text = shared.codec.encode(probe, size, warmup);
            // The probe text is plain ASCII without quotes or backslashes: no escaping needed.
            let frame = format!(r#"{{"type":"message","text":"{text}"}}"#);
            if sink.feed(Message::text(frame)).await.is_err() {
                return sent;
            }
            sent += 1;
            if !warmup {
                shared.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        if sink.flush().await.is_err() {
            return sent;
        }
        if schedule.start.elapsed() >= schedule.length + tick {
            break;
        }
    }
    sent
}

/// Runs the fan-out bench.
pub async fn run(opts: &FanoutOptions) -> Result<FanoutReport, BenchError> {
    opts.check()?;
    let target = opts.common.prepare(opts.clients).await?;
    let progress = opts.common.progress();
    let nonce: u32 = rand::random();
    let names: Vec<String> = (0..opts.clients).map(|i| client_name(nonce, i)).collect();

    let bar = progress.bar(opts.clients as u64, "joining");
    let crowd = crowd::gather(&target, &opts.common, &names, &bar).await?;
    bar.finish_and_clear();

    let shard_count = opts.clients.clamp(1, 16);
    let shared = Arc::new(Shared {
        codec: ProbeCodec::new(nonce),
        epoch: std::time::Instant::now(),
        shards: (0..shard_count)
            .map(|_| {
                Mutex::new(Shard {
                    latency: latency_histogram(),
                    received: 0,
                })
            })
            .collect(),
        senders: opts.senders,
        sent: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut receivers = Vec::with_capacity(opts.clients);
    let mut sinks = Vec::with_capacity(opts.clients);
    let warmup_start = Instant::now() + Duration::from_millis(20);
    let measure_start = warmup_start + opts.warmup;
    // The last clients stall: senders are the first ones.
    let first_stalled = opts.clients - opts.stall;
    for (i, ws) in crowd.clients.into_iter().enumerate() {
        let (sink, stream) = ws.split();
        sinks.push(sink);
        receivers.push(tokio::spawn(receive(
            stream,
            Arc::clone(&shared),
            i % shard_count,
            stop_rx.clone(),
            (i >= first_stalled).then_some(measure_start),
        )));
    }
    let mut idle_sinks = sinks.split_off(opts.senders);

    let per_sender = opts.rate / opts.senders as f64;
    let mut senders = Vec::with_capacity(opts.senders);
    for (k, mut sink) in sinks.into_iter().enumerate() {
        let shared = Arc::clone(&shared);
        let phase = k as f64 / opts.senders as f64;
        let (warmup, duration, size) = (opts.warmup, opts.duration, opts.size);
        senders.push(tokio::spawn(async move {
            if !warmup.is_zero() {
                let schedule = Schedule {
                    start: warmup_start,
                    length: warmup,
                    rate: per_sender,
                    phase,
                };
                send(&mut sink, &shared, k as u32, &schedule, size, true).await;
            }
            let schedule = Schedule {
                start: measure_start,
                length: duration,
                rate: per_sender,
                phase,
            };
            send(&mut sink, &shared, k as u32, &schedule, size, false).await;
            sink
        }));
    }

    tokio::time::sleep_until(measure_start).await;
    let server_before = opts.server_pid.map(procstat::sample).transpose()?;
    let cpu_before = procstat::self_cpu();
    let measure_began = Instant::now();
    let first_send_us = shared.now_us();

    let bar = progress.bar(opts.duration.as_secs().max(1), "sending");
    let sending_deadline = measure_start + opts.duration + opts.drain;
    let mut sender_sinks = Vec::with_capacity(senders.len());
    for mut task in senders {
        let left = sending_deadline.saturating_duration_since(Instant::now());
        let waited = tokio::time::timeout(left, async {
            loop {
                tokio::select! {
                    done = &mut task => return done.ok(),
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {
                        bar.set_position(measure_began.elapsed().as_secs());
                        bar.set_message(format!("{} deliveries", shared.received()));
                    }
                }
            }
        })
        .await;
        match waited {
            Ok(Some(sink)) => sender_sinks.push(sink),
            Ok(None) => {}
            // Stuck writing to a server that stopped reading: what it sent is counted already.
            Err(_) => task.abort(),
        }
    }
    bar.finish_and_clear();
    let sent = shared.sent.load(Ordering::Relaxed);
    let send_elapsed = measure_began.elapsed();

    let expected = sent * (opts.clients - opts.stall) as u64;
    let drain_deadline = Instant::now() + opts.drain;
    let (mut seen, mut last_change) = (shared.received(), Instant::now());
    while seen < expected && Instant::now() < drain_deadline && last_change.elapsed() < opts.quiet {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now_seen = shared.received();
        if now_seen != seen {
            (seen, last_change) = (now_seen, Instant::now());
        }
    }
    let measured_wall = measure_began.elapsed();
    let generator = CpuUse::between(procstat::self_cpu() - cpu_before, measured_wall);
    let server_after = opts.server_pid.map(procstat::sample).transpose()?;

    let _ = stop_tx.send(true);
    let mut total = Tally::default();
    let (mut disconnected, mut stalled_closed) = (0, 0);
    for (i, task) in receivers.into_iter().enumerate() {
        if i >= first_stalled {
            if let Ok(t) = task.await {
                stalled_closed += u64::from(t.disconnected);
            }
            continue;
        }
        if let Ok(t) = task.await {
            total.received += t.received;
            total.duplicates += t.duplicates;
            total.reordered += t.reordered;
            total.errors += t.errors;
            total.first_error = total.first_error.or(t.first_error);
            total.last_us = total.last_us.max(t.last_us);
            disconnected += u64::from(t.disconnected);
        }
    }

    let mut latency = latency_histogram();
    for i in 0..shared.shards.len() {
        // Same bounds, so adding cannot fail.
        let _ = latency.add(&shared.shard(i).latency);
    }
    sender_sinks.append(&mut idle_sinks);
    close_all(sender_sinks).await;

    let delivery_window = Duration::from_micros(total.last_us.saturating_sub(first_send_us));
    let per_s = |n: u64, d: Duration| {
        if d.is_zero() {
            0.0
        } else {
            n as f64 / d.as_secs_f64()
        }
    };
    Ok(FanoutReport {
        bench: "fanout",
        url: opts.common.url.clone(),
        clients: opts.clients,
        senders: opts.senders,
        rate: opts.rate,
        duration_s: opts.duration.as_secs_f64(),
        warmup_s: opts.warmup.as_secs_f64(),
        size: opts.size,
        join_s: crowd.elapsed.as_secs_f64(),
        join: crowd.per_client,
        sent,
        send_rate: per_s(sent, send_elapsed.max(opts.duration)),
        expected,
        received: total.received,
        lost: expected.saturating_sub(total.received),
        duplicates: total.duplicates,
        reordered: total.reordered,
        deliveries_per_s: per_s(total.received, delivery_window),
        latency: Percentiles::from_histogram(&latency),
        server_errors: total.errors,
        first_server_error: total.first_error,
        disconnected,
        stalled: opts.stall,
        stalled_closed,
        generator,
        server: server_use(opts.server_pid, server_before, server_after, measured_wall),
    })
}

fn server_use(
    pid: Option<u32>,
    before: Option<ProcSample>,
    after: Option<ProcSample>,
    wall: Duration,
) -> Option<ServerUse> {
    let (pid, before, after) = (pid?, before?, after?);
    Some(ServerUse {
        pid,
        rss_kib_before: before.rss_kib,
        rss_kib_after: after.rss_kib,
        cpu: CpuUse::between(after.cpu.saturating_sub(before.cpu), wall),
    })
}

/// Sends a close frame on every connection, a bounded time in all.
async fn close_all(sinks: Vec<SplitSink<Ws, Message>>) {
    let closing = futures_util::future::join_all(sinks.into_iter().map(|mut sink| async move {
        let _ = sink.close().await;
    }));
    let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;
}
