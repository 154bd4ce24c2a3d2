//! `clicom bench`: a load generator that measures a Clicom server over real WebSockets (fan-out
//! throughput and latency, idle-connection cost, reconnect storms). It refuses targets off this
//! machine unless told otherwise, every run ends by itself, and it reports what it cost itself.
//! Each run prints a human summary on stderr and one JSON line on stdout.

pub mod conn;
pub mod conns;
pub mod crowd;
pub mod fanout;
pub mod procstat;
pub mod storm;
pub mod target;
pub mod wire;

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

pub use conn::ClientError;

/// `clicom bench …`
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum BenchCommand {
    /// N clients join one room; S of them send R messages/s in total; measure deliveries/s,
    /// loss and latency.
    Fanout(fanout::FanoutOptions),
    /// Open and join N idle connections and hold them; with --server-pid, report the server's
    /// memory per connection and its idle CPU.
    Conns(conns::ConnsOptions),
    /// N clients stay connected while you restart the server; measure how long until all are
    /// back and how their reconnect attempts spread out.
    Storm(storm::StormOptions),
}

/// Options every bench shares: where, how, and the safety limits.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// The server's WebSocket URL, e.g. ws://127.0.0.1:10000/ws
    #[arg(long)]
    pub url: String,
    /// Allow a target that does not resolve to loopback (127.0.0.0/8, ::1). Only load servers
    /// you run yourself.
    #[arg(long)]
    pub allow_remote: bool,
    /// Room to join (sent in `join`); omitted = the server's default room.
    #[arg(long)]
    pub room: Option<String>,
    /// Bind client sockets to these local addresses in turn (e.g. 127.0.0.2,127.0.0.3), for
    /// more connections than one source address has ephemeral ports (~28 000).
    #[arg(long, value_delimiter = ',')]
    pub source_ips: Vec<IpAddr>,
    /// How many connect+join handshakes may be in flight at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Give up if the clients are not all connected and joined within this time.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub join_timeout: Duration,
    /// Do not draw a progress bar on stderr.
    #[arg(long)]
    pub no_progress: bool,
}

pub const DEFAULT_CONCURRENCY: usize = 500;

impl Common {
    /// Defaults as on the command line, with the progress bar off (for library callers).
    pub fn new(url: impl Into<String>) -> Common {
        Common {
            url: url.into(),
            allow_remote: false,
            room: None,
            source_ips: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
            join_timeout: Duration::from_secs(60),
            no_progress: true,
        }
    }

    /// Resolves the URL (refusing remote targets) and checks that `clients` connections fit
    /// this process's open-file limit and the source addresses' ephemeral ports.
    pub async fn prepare(&self, clients: usize) -> Result<target::Target, BenchError> {
        if clients == 0 {
            return Err(BenchError::Options("--clients must be at least 1".into()));
        }
        let target = target::Target::resolve(&self.url, self.allow_remote).await?;
        if !self.allow_remote
            && let Some(ip) = self.source_ips.iter().find(|ip| !target::is_loopback(**ip))
        {
            return Err(BenchError::Options(format!(
                "--source-ips: {ip} is not a loopback address"
            )));
        }
        let files = procstat::raise_open_file_limit();
        let needed = clients as u64 + 64;
        if needed > files {
            return Err(BenchError::Options(format!(
                "{clients} connections need about {needed} open files but this process may open \
                 {files}: run several bench processes with fewer --clients each"
            )));
        }
        let ports = ephemeral_ports();
        let sources = self.source_ips.len().max(1) as u64;
        if clients as u64 > ports * sources {
            return Err(BenchError::Options(format!(
                "{clients} connections from {sources} source address(es) exceed their {ports} \
                 ephemeral ports each: add loopback addresses with --source-ips 127.0.0.2,127.0.0.3"
            )));
        }
        Ok(target)
    }

    pub(crate) fn progress(&self) -> Progress {
        Progress {
            visible: !self.no_progress,
        }
    }
}

/// The size of the kernel's ephemeral port range (one source address can hold this many
/// connections to one server address).
fn ephemeral_ports() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<u64>().ok());
            let (lo, hi) = (it.next()??, it.next()??);
            hi.checked_sub(lo).map(|d| d + 1)
        })
        .unwrap_or(28_232)
}

/// Why a bench could not run (as opposed to what it measured).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error(
        "refusing to load {host} ({addr}): without --allow-remote only loopback targets \
         (127.0.0.0/8, ::1) are measured"
    )]
    Remote { host: String, addr: IpAddr },
    #[error("{0}")]
    Options(String),
    #[error(
        "client {client} could not connect and join ({joined} of {clients} had joined): {error}"
    )]
    JoinFailed {
        client: String,
        joined: usize,
        clients: usize,
        error: ClientError,
    },
    #[error(transparent)]
    Proc(#[from] procstat::ProcError),
}

/// The result of any bench: a human summary and one JSON object.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Report {
    Fanout(fanout::FanoutReport),
    Conns(conns::ConnsReport),
    Storm(storm::StormReport),
}

impl Report {
    pub fn human(&self) -> String {
        match self {
            Report::Fanout(r) => r.human(),
            Report::Conns(r) => r.human(),
            Report::Storm(r) => r.human(),
        }
    }

    /// One line of JSON, for scripts.
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Whether the run measured what it set out to (a storm whose clients did not all come back
    /// in time did not).
    pub fn complete(&self) -> bool {
        match self {
            Report::Fanout(_) | Report::Conns(_) => true,
            Report::Storm(r) => r.all_back,
        }
    }
}

/// Runs the chosen bench.
pub async fn run(args: &BenchArgs) -> Result<Report, BenchError> {
    Ok(match &args.command {
        BenchCommand::Fanout(opts) => Report::Fanout(fanout::run(opts).await?),
        BenchCommand::Conns(opts) => Report::Conns(conns::run(opts).await?),
        BenchCommand::Storm(opts) => Report::Storm(storm::run(opts).await?),
    })
}

/// The `clicom bench` command: runs, prints the summary (stderr) and the JSON line (stdout).
/// Exit codes: 0 done, 1 could not run, 2 ran but incomplete (storm clients not all back).
pub fn main(args: BenchArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clicom bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(report) => {
            eprintln!("{}", report.human());
            println!("{}", report.json_line());
            if report.complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("clicom bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parses `500ms`, `10s`, `2m` or a bare number of seconds (`1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (try 500ms, 10s, 2m)"))?;
    if !value.is_finite() || value < 0.0 || value * scale > 86_400.0 {
        return Err(format!("{s:?} is out of range (0 to 24 h)"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// From a histogram of microseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }

    fn human(&self) -> String {
        format!(
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms
        )
    }
}

/// A histogram of microseconds from 1 µs to 10 minutes, 3 significant figures.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("the bounds are valid constants")
}

/// Progress bars on stderr, or none.
pub(crate) struct Progress {
    visible: bool,
}

impl Progress {
    pub(crate) fn bar(&self, len: u64, what: &str) -> ProgressBar {
        if !self.visible {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}

/// The machine the run shared: its cores and how busy it was (load average before and after),
/// so that figures from a busy machine can be told apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
}

impl Machine {
    /// Starts observing: records the cores and the load average now.
    pub fn observe() -> Machine {
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            load_before: procstat::load_average(),
            load_after: None,
        }
    }

    /// Records the load average at the end.
    pub fn finish(mut self) -> Machine {
        self.load_after = procstat::load_average();
        self
    }

    pub fn human(&self) -> String {
        let show = |l: Option<f64>| l.map_or("?".to_string(), |l| format!("{l:.2}"));
        let busy = [self.load_before, self.load_after]
            .into_iter()
            .flatten()
            .any(|l| l > self.cores as f64);
        format!(
            "  machine:    {} cores, load average {} → {}{}",
            self.cores,
            show(self.load_before),
            show(self.load_after),
            if busy {
                " — busy: other work competed for the CPU, figures are noisy"
            } else {
                ""
            }
        )
    }
}

/// CPU use of this process over a stretch of wall time, as seconds and percent of one core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CpuUse {
    pub cpu_s: f64,
    pub core_pct: f64,
}

impl CpuUse {
    pub fn between(cpu: Duration, wall: Duration) -> CpuUse {
        let wall = wall.as_secs_f64();
        CpuUse {
            cpu_s: cpu.as_secs_f64(),
            core_pct: if wall > 0.0 {
                100.0 * cpu.as_secs_f64() / wall
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("2d").is_err());
    }

    #[test]
    fn percentiles_come_from_microseconds() {
        let mut h = latency_histogram();
        for us in 1..=1000 {
            h.record(us * 10).unwrap();
        }
        let p = Percentiles::from_histogram(&h);
        assert_eq!(p.count, 1000);
        assert!((p.p50_ms - 5.0).abs() < 0.01, "{p:?}");
        assert!((p.max_ms - 10.0).abs() < 0.01, "{p:?}");
        assert_eq!(Percentiles::from_histogram(&latency_histogram()).count, 0);
    }

    #[tokio::test]
    async fn too_many_clients_for_the_file_limit_is_refused_up_front() {
        let err = Common::new("ws://127.0.0.1:9/ws")
            .prepare(10_000_000)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("open files"), "{err}");
        let err = Common::new("ws://127.0.0.1:9/ws")
            .prepare(0)
            .await
            .unwrap_err();
        assert!(matches!(err, BenchError::Options(_)));
    }
}
