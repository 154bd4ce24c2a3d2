//! The idle-connections bench: open and join N connections, hold them, and read what they cost
//! the server (RSS per connection, CPU while idle) from /proc. Every connection keeps reading so
//! that the server's keepalive pings are answered, as a real idle client's would be.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::conn::Ws;
use super::crowd::{self, client_name};
use super::procstat::{self, ProcSample};
use super::{BenchError, Common, CpuUse, Machine, Percentiles, parse_duration};

#[derive(clap::Args, Debug, Clone)]
pub struct ConnsOptions {
    #[command(flatten)]
    pub common: Common,
    /// Connections to open and join.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// How long to hold them once all are joined.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub hold: Duration,
    /// Report this server process's RSS (before, joined, after the hold) and its CPU over the hold.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

impl ConnsOptions {
    /// Command-line defaults for `clients` connections, progress bar off.
    pub fn new(url: impl Into<String>, clients: usize) -> ConnsOptions {
        ConnsOptions {
            common: Common::new(url),
            clients,
            hold: Duration::from_secs(10),
            server_pid: None,
        }
    }
}

/// What a conns run measured. Field names are the JSON summary's.
#[derive(Debug, Clone, Serialize)]
pub struct ConnsReport {
    /// Always "conns".
    pub bench: &'static str,
    pub url: String,
    pub clients: usize,
    pub hold_s: f64,
    /// Time for all clients to connect and be joined.
    pub join_s: f64,
    pub join: Percentiles,
    /// Connections the server closed during the hold (keepalive failures, limits).
    pub dropped: u64,
    /// Text frames received from the end of the join to the end of the hold (presence
    /// updates; pings are not counted).
    pub frames_during_hold: u64,
    /// This process's CPU over the hold.
    pub generator: CpuUse,
    /// Cores and load average before/after: how busy the machine was.
    pub machine: Machine,
    /// Anything that makes the figures incomplete (e.g. the server process ended mid-run).
    pub warnings: Vec<String>,
    /// The server's cost, with --server-pid.
    pub server: Option<ServerCost>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServerCost {
    pub pid: u32,
    /// RSS before any bench connection was opened.
    pub rss_kib_before: u64,
    /// RSS when all were joined.
    pub rss_kib_joined: u64,
    /// RSS at the end of the hold.
    pub rss_kib_after: u64,
    /// (after − before) / clients.
    pub rss_kib_per_conn: f64,
    /// The server's CPU over the hold: idle cost of N connections.
    pub hold_cpu: CpuUse,
}

impl ConnsReport {
    pub fn human(&self) -> String {
        let mut s = format!(
            "conns {} — {} connections held {:.1} s\n",
            self.url, self.clients, self.hold_s
        );
        s += &format!(
            "  join:       all joined in {:.3} s (per client p50 {:.2} ms, p99 {:.2} ms)\n",
            self.join_s, self.join.p50_ms, self.join.p99_ms
        );
        s += &format!(
            "  hold:       {} dropped by the server, {} frames received\n",
            self.dropped, self.frames_during_hold
        );
        if let Some(server) = &self.server {
            s += &format!(
                "  server:     pid {} RSS {} → {} (joined) → {} KiB: {:.2} KiB per connection; \
                 CPU over the hold {:.2} s ({:.2}% of a core)\n",
                server.pid,
                server.rss_kib_before,
                server.rss_kib_joined,
                server.rss_kib_after,
                server.rss_kib_per_conn,
                server.hold_cpu.cpu_s,
                server.hold_cpu.core_pct
            );
        }
        s += &format!(
            "  generator:  CPU over the hold {:.2} s ({:.2}% of a core)",
            self.generator.cpu_s, self.generator.core_pct
        );
        s += "\n";
        s += &self.machine.human();
        for warning in &self.warnings {
            s += &format!("\n  warning:    {warning}");
        }
        s
    }
}

/// Reads (and so answers pings) until told to stop; returns (frames, closed by server).
async fn hold(mut ws: Ws, mut stop: watch::Receiver<bool>) -> (u64, bool, Option<Ws>) {
    let mut frames = 0;
    let stopped = stop.changed();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(_))) => frames += 1,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return (frames, true, None),
                Some(Ok(_)) => {}
            },
            _ = &mut stopped => return (frames, false, Some(ws)),
        }
    }
}

/// Runs the conns bench.
pub async fn run(opts: &ConnsOptions) -> Result<ConnsReport, BenchError> {
    let target = opts.common.prepare(opts.clients).await?;
    let machine = Machine::observe();
    let progress = opts.common.progress();
    let nonce: u32 = rand::random();
    let names: Vec<String> = (0..opts.clients).map(|i| client_name(nonce, i)).collect();
    let server_before = opts.server_pid.map(procstat::sample).transpose()?;

    let bar = progress.bar(opts.clients as u64, "joining");
    let crowd = crowd::gather(&target, &opts.common, &names, &bar).await?;
    bar.finish_and_clear();

    let (stop_tx, stop_rx) = watch::channel(false);
    let holders: Vec<_> = crowd
        .clients
        .into_iter()
        .map(|ws| tokio::spawn(hold(ws, stop_rx.clone())))
        .collect();
    // Let the join's presence traffic settle before the joined sample.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut warnings = Vec::new();
    let server_joined = procstat::sample_noted(opts.server_pid, &mut warnings);
    let cpu_before = procstat::self_cpu();
    let began = Instant::now();

    let bar = progress.bar(opts.hold.as_secs().max(1), "holding");
    let end = began + opts.hold;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(250).min(end - Instant::now())).await;
        bar.set_position(began.elapsed().as_secs());
    }
    bar.finish_and_clear();
    let wall = began.elapsed();
    let generator = CpuUse::between(procstat::self_cpu() - cpu_before, wall);
    let server_after = procstat::sample_noted(opts.server_pid, &mut warnings);

    let _ = stop_tx.send(true);
    let mut frames = 0;
    let mut dropped = 0;
    let mut open = Vec::with_capacity(holders.len());
    for task in holders {
        if let Ok((n, closed, ws)) = task.await {
            frames += n;
            dropped += u64::from(closed);
            open.extend(ws);
        }
    }
    let closing = futures_util::future::join_all(open.into_iter().map(|mut ws| async move {
        let _ = ws.close(None).await;
    }));
    let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;

    Ok(ConnsReport {
        bench: "conns",
        url: opts.common.url.clone(),
        clients: opts.clients,
        hold_s: opts.hold.as_secs_f64(),
        join_s: crowd.elapsed.as_secs_f64(),
        join: crowd.per_client,
        dropped,
        frames_during_hold: frames,
        generator,
        machine: machine.finish(),
        warnings,
        server: server_cost(
            opts.server_pid,
            opts.clients,
            [server_before, server_joined, server_after],
            wall,
        ),
    })
}

fn server_cost(
    pid: Option<u32>,
    clients: usize,
    samples: [Option<ProcSample>; 3],
    wall: Duration,
) -> Option<ServerCost> {
    let [before, joined, after] = samples;
    let (pid, before, joined, after) = (pid?, before?, joined?, after?);
    Some(ServerCost {
        pid,
        rss_kib_before: before.rss_kib,
        rss_kib_joined: joined.rss_kib,
        rss_kib_after: after.rss_kib,
        rss_kib_per_conn: (after.rss_kib as f64 - before.rss_kib as f64) / clients.max(1) as f64,
        hold_cpu: CpuUse::between(after.cpu.saturating_sub(joined.cpu), wall),
    })
}
