//! The Clicom chat server: `run` serves the JSON protocol over WebSocket on a listener until
//! the shutdown future resolves, then closes every client with 1001 and flushes history.
//! Submodules: the [`hub`] (chat rules, one owner), per-connection tasks, HTTP, [`tls`],
//! limits, history, [`settings`] (flags and config file), [`reload`] (SIGHUP), the web page
//! (`web`) and [`origin`] (which pages may open a WebSocket).

use std::future::Future;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, watch};

mod admission;
mod connection;
mod echo;
pub mod history;
mod http;
pub mod hub;
pub mod limits;
pub mod origin;
pub mod presence;
pub mod reload;
mod resend;
mod room;
pub mod settings;
mod socket;
pub mod tls;
mod web;

use admission::{AdmissionPolicy, ConnectionTable};
use connection::ConnectionConfig;
pub use history::{History, HistoryError, HistoryLocation, SqliteHistory};
use hub::{Hub, HubCmd, HubConfig};
use limits::FloodPolicy;
pub use settings::{LogFormat, ServeCommand, Settings, SettingsError};
pub use tls::{TlsArgs, TlsError};

/// Every limit and knob of a server. `Default` is a sane public server with in-memory history.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Where messages are kept.
    pub db: HistoryLocation,
    /// Messages kept per room, the newest; 0 keeps everything. See [`SqliteHistory::with_keep`].
    pub history_keep: u64,
    /// The longest message text, in characters (`too_long` beyond).
    pub max_text_chars: usize,
    /// The largest WebSocket frame or message, in bytes (close 1009 beyond).
    pub max_frame_bytes: usize,
    /// Frames per second per connection; `0.0` turns rate limiting and muting off.
    pub msg_rate: f64,
    /// Frames a connection may send at once after a quiet spell.
    pub msg_burst: u32,
    /// Refused frames within 30 s that earn a mute.
    pub mute_after: u32,
    pub mute_for: Duration,
    /// Time to send a successful `join` after connecting.
    pub join_timeout: Duration,
    /// Time from TCP accept to a finished WebSocket handshake, TLS included (slowloris guard).
    pub handshake_timeout: Duration,
    /// Connections at once, all addresses together; more are dropped at accept.
    pub max_connections: usize,
    /// Connections at once from one address (IPv6: one /64).
    pub max_per_ip: usize,
    /// Apply `max_per_ip` to loopback too (by default loopback is exempt).
    pub limit_loopback: bool,
    /// Frames queued for one connection before it counts as not reading and is dropped.
    pub outbound_queue: usize,
    /// How long one batch of frames may take to write.
    pub write_timeout: Duration,
    /// Ping a connection after this much silence; `None` never pings.
    pub ping_interval: Option<Duration>,
    /// Drop a connection that sends nothing for this long after a ping.
    pub ping_timeout: Duration,
    /// How long presence changes are gathered into one announcement per room.
    pub presence_window: Duration,
    /// Messages sent in `history` after a join or room switch.
    pub history_on_join: usize,
    /// The most messages one `history` request returns.
    pub history_page_max: usize,
    /// The WebSocket read buffer per connection, in bytes.
    pub read_buffer_bytes: usize,
    /// Also serve `/echo` (WebSocket echo, for the Autobahn conformance suite).
    pub conformance_echo: bool,
    /// Serve the web page at `/` (`--no-web` turns it off).
    pub web: bool,
    /// Origins besides the server's own whose pages may open a chat WebSocket, normalised by
    /// [`origin::parse_origin`].
    pub allowed_origins: Vec<String>,
    /// Speak TLS (`wss://`) with this configuration; `None` serves plain `ws://`. The TLS
    /// handshake counts against `handshake_timeout`. See [`tls::server_config`].
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Defaults shared by [`ServerOptions::default`] and the `clicom serve` flags.
mod defaults {
    pub const PORT: u16 = 10000;
    pub const MAX_TEXT: usize = 2000;
    pub const MAX_FRAME: usize = 16 * 1024;
    pub const MSG_RATE: f64 = 5.0;
    pub const MSG_BURST: u32 = 10;
    pub const MUTE_AFTER: u32 = 10;
    pub const MUTE_SECS: u64 = 60;
    pub const JOIN_TIMEOUT_SECS: u64 = 30;
    pub const HANDSHAKE_TIMEOUT_SECS: u64 = 10;
    pub const MAX_CONNECTIONS: usize = 16_384;
    pub const MAX_PER_IP: usize = 16;
    pub const QUEUE: usize = 1024;
    pub const WRITE_TIMEOUT_SECS: u64 = 10;
    pub const PING_INTERVAL_SECS: u64 = 25;
    pub const PING_TIMEOUT_SECS: u64 = 20;
    pub const PRESENCE_MS: u64 = 40;
    pub const HISTORY: usize = 50;
    pub const HISTORY_PAGE_MAX: usize = 200;
    /// Chat frames are small; a bigger frame grows the buffer as it arrives.
    pub const READ_BUFFER: usize = 1024;
}

impl Default for ServerOptions {
    fn default() -> Self {
        use defaults::*;
        ServerOptions {
            db: HistoryLocation::Memory,
            history_keep: 0,
            max_text_chars: MAX_TEXT,
            max_frame_bytes: MAX_FRAME,
            msg_rate: MSG_RATE,
            msg_burst: MSG_BURST,
            mute_after: MUTE_AFTER,
            mute_for: Duration::from_secs(MUTE_SECS),
            join_timeout: Duration::from_secs(JOIN_TIMEOUT_SECS),
            handshake_timeout: Duration::from_secs(HANDSHAKE_TIMEOUT_SECS),
            max_connections: MAX_CONNECTIONS,
            max_per_ip: MAX_PER_IP,
            limit_loopback: false,
            outbound_queue: QUEUE,
            write_timeout: Duration::from_secs(WRITE_TIMEOUT_SECS),
            ping_interval: Some(Duration::from_secs(PING_INTERVAL_SECS)),
            ping_timeout: Duration::from_secs(PING_TIMEOUT_SECS),
            presence_window: Duration::from_millis(PRESENCE_MS),
            history_on_join: HISTORY,
            history_page_max: HISTORY_PAGE_MAX,
            read_buffer_bytes: READ_BUFFER,
            conformance_echo: false,
            web: true,
            allowed_origins: Vec::new(),
            tls: None,
        }
    }
}

impl ServerOptions {
    /// Opens the history database at `db`, pruned to `history_keep`.
    pub fn open_history(&self) -> Result<SqliteHistory, HistoryError> {
        Ok(SqliteHistory::open(&self.db)?.with_keep(self.history_keep))
    }

    /// The chat-rule part of the options.
    pub fn hub_config(&self) -> HubConfig {
        HubConfig {
            max_text_chars: self.max_text_chars,
            flood: FloodPolicy {
                rate: self.msg_rate,
                burst: self.msg_burst,
                mute_after: self.mute_after,
                strike_window: Duration::from_secs(30),
                mute_for: self.mute_for,
            },
            join_timeout: self.join_timeout,
            presence_window: self.presence_window,
            presence_full_room: presence::FULL_ROOM,
            // A room's in-memory history must not outlive the retention bound either.
            history_on_join: match self.history_keep {
                0 => self.history_on_join,
                keep => self
                    .history_on_join
                    .min(usize::try_from(keep).unwrap_or(usize::MAX)),
            },
            history_page_max: self.history_page_max.max(1),
        }
    }

    /// Who may connect.
    fn admission(&self) -> AdmissionPolicy {
        AdmissionPolicy {
            max_total: self.max_connections,
            max_per_ip: self.max_per_ip,
            limit_loopback: self.limit_loopback,
        }
    }

    /// The per-connection part of the options.
    fn connection_config(&self) -> ConnectionConfig {
        ConnectionConfig {
            queue: self.outbound_queue,
            batch: WRITE_BATCH,
            write_timeout: self.write_timeout,
            ping_interval: self.ping_interval,
            ping_timeout: self.ping_timeout,
            max_frame_bytes: self.max_frame_bytes,
        }
    }
}

/// The smallest `--max-frame`: room for a join and a short message.
const MIN_FRAME: usize = 1024;
/// The smallest `--queue`: a join alone queues its welcome, history and announcements.
const MIN_QUEUE: usize = 16;

/// A flag that takes a whole number of at least `min` (a limit that could never work, such as
/// room for no message at all, is refused where it is written, not adjusted later).
fn at_least<T>(min: u64) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
{
    move |text: &str| {
        let n: u64 = text
            .trim()
            .parse()
            .map_err(|_| format!("expected a whole number, at least {min}"))?;
        if n < min {
            return Err(format!("must be at least {min}"));
        }
        T::try_from(n).map_err(|_| format!("{n} is too large"))
    }
}

/// A rate per second: a finite number, not negative (0 turns the limit off).
fn rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        Ok(_) => Err("a rate is a number from 0 up".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// `clicom serve`: run a chat server.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub bind: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = defaults::PORT)]
    pub port: u16,
    /// History database file, or `:memory:` [default: history.db in the data dir]
    #[arg(long, value_name = "PATH")]
    pub db: Option<String>,
    /// Also write the session log as JSON lines to this file.
    #[arg(long, value_name = "FILE.jsonl")]
    pub save: Option<PathBuf>,
    /// Messages per second per connection (token bucket); 0 turns the limit off.
    #[arg(long, value_name = "N", default_value_t = defaults::MSG_RATE, value_parser = rate,
          allow_negative_numbers = true)]
    pub msg_rate: f64,
    /// Messages a connection may send at once before the rate applies.
    #[arg(long, value_name = "N", default_value_t = defaults::MSG_BURST,
          value_parser = at_least::<u32>(1))]
    pub msg_burst: u32,
    /// Refused messages (within 30 s) that earn a temporary mute; 0 never mutes.
    #[arg(long, value_name = "N", default_value_t = defaults::MUTE_AFTER)]
    pub mute_after: u32,
    /// How long a mute lasts, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = defaults::MUTE_SECS)]
    pub mute_secs: u64,
    /// Longest message text, in characters.
    #[arg(long, value_name = "CHARS", default_value_t = defaults::MAX_TEXT,
          value_parser = at_least::<usize>(1))]
    pub max_text: usize,
    /// Largest WebSocket frame, in bytes (at least 1024); larger frames close the connection
    /// with 1009.
    #[arg(long, value_name = "BYTES", default_value_t = defaults::MAX_FRAME,
          value_parser = at_least::<usize>(MIN_FRAME as u64))]
    pub max_frame: usize,
    /// Most connections at once.
    #[arg(long, value_name = "N", default_value_t = defaults::MAX_CONNECTIONS,
          value_parser = at_least::<usize>(1))]
    pub max_connections: usize,
    /// Most connections at once from one address (loopback exempt unless --limit-loopback).
    #[arg(long, value_name = "N", default_value_t = defaults::MAX_PER_IP,
          value_parser = at_least::<usize>(1))]
    pub max_per_ip: usize,
    /// Apply --max-per-ip to loopback connections too.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value_t = false)]
    pub limit_loopback: bool,
    /// Seconds a client has to finish the WebSocket handshake (TLS included).
    #[arg(long, value_name = "SECS", default_value_t = defaults::HANDSHAKE_TIMEOUT_SECS,
          value_parser = at_least::<u64>(1))]
    pub handshake_timeout: u64,
    /// Seconds a client has to join after connecting.
    #[arg(long, value_name = "SECS", default_value_t = defaults::JOIN_TIMEOUT_SECS,
          value_parser = at_least::<u64>(1))]
    pub join_timeout: u64,
    /// Ping a client after this many silent seconds; 0 turns pings off.
    #[arg(long, value_name = "SECS", default_value_t = defaults::PING_INTERVAL_SECS)]
    pub ping_interval: u64,
    /// Drop a client that stays silent this many seconds after a ping.
    #[arg(long, value_name = "SECS", default_value_t = defaults::PING_TIMEOUT_SECS,
          value_parser = at_least::<u64>(1))]
    pub ping_timeout: u64,
    /// Frames queued for one client before it counts as too slow and is disconnected (at
    /// least 16: a join alone queues several).
    #[arg(long, value_name = "FRAMES", default_value_t = defaults::QUEUE,
          value_parser = at_least::<usize>(MIN_QUEUE as u64))]
    pub queue: usize,
    /// Messages of history sent after joining a room.
    #[arg(long, value_name = "N", default_value_t = defaults::HISTORY)]
    pub history: usize,
    /// Messages kept per room in the history database, the newest; 0 keeps everything.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub history_keep: u64,
    /// Milliseconds over which joins and leaves are gathered into one announcement.
    #[arg(long, value_name = "MS", default_value_t = defaults::PRESENCE_MS)]
    pub presence_ms: u64,
    /// Also serve a WebSocket echo endpoint at /echo, with /ws's limits (for conformance tests).
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value_t = false)]
    pub conformance_echo: bool,
    /// Do not serve the web page at / (the WebSocket and /health stay).
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value_t = false)]
    pub no_web: bool,
    /// Also accept WebSockets from pages of this origin, e.g. https://chat.example.com behind
    /// a proxy that changes the Host header (repeatable). The server's own origin is always
    /// accepted, and so are clients that send no Origin (terminal clients).
    #[arg(long, value_name = "ORIGIN", value_parser = origin::parse_origin)]
    pub allow_origin: Vec<String>,
}

impl ServeArgs {
    /// The port used when neither `--port` nor `PORT` says otherwise.
    pub const DEFAULT_PORT: u16 = defaults::PORT;

    /// The options these flags describe; the history file defaults to the data dir. Every
    /// value was checked when it was parsed (by the flag's value parser, for a flag and for a
    /// config file's key alike), so none is adjusted here.
    pub fn options(&self) -> ServerOptions {
        let db = match &self.db {
            Some(db) => HistoryLocation::parse(db),
            None => HistoryLocation::default_file(),
        };
        let secs = Duration::from_secs;
        ServerOptions {
            db,
            history_keep: self.history_keep,
            max_text_chars: self.max_text,
            max_frame_bytes: self.max_frame,
            msg_rate: self.msg_rate,
            msg_burst: self.msg_burst,
            mute_after: self.mute_after,
            mute_for: secs(self.mute_secs),
            join_timeout: secs(self.join_timeout),
            handshake_timeout: secs(self.handshake_timeout),
            max_connections: self.max_connections,
            max_per_ip: self.max_per_ip,
            limit_loopback: self.limit_loopback,
            outbound_queue: self.queue,
            ping_interval: (self.ping_interval > 0).then(|| secs(self.ping_interval)),
            ping_timeout: secs(self.ping_timeout),
            presence_window: Duration::from_millis(self.presence_ms),
            history_on_join: self.history,
            conformance_echo: self.conformance_echo,
            web: !self.no_web,
            allowed_origins: self.allow_origin.clone(),
            ..ServerOptions::default()
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }
}

/// `clicom serve`: loads the TLS certificate if any, opens history, binds, prints
/// `Clicom server listening on ws://ADDR/ws` (`wss://` with TLS) on stdout, and serves until
/// SIGINT or SIGTERM. SIGHUP reloads the config file (see [`reload`]).
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let opts = ServerOptions {
        tls: settings.command.tls.server_config()?,
        ..settings.options()
    };
    let history = opts.open_history()?;
    let listener = bind(settings.command.args.addr())?;
    // Before the address is announced: from then on a SIGHUP must reload, not kill.
    #[cfg(unix)]
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot listen for SIGHUP")?;
    let local = listener.local_addr()?;
    let scheme = if opts.tls.is_some() { "wss" } else { "ws" };
    let config = settings
        .config_path()
        .map(|path| path.display().to_string());
    tracing::info!(addr = %local, db = %opts.db, scheme, config, "Clicom server listening");
    {
        // stdout may be closed; the server does not need it.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "Clicom server listening on {scheme}://{local}/ws");
        let _ = out.flush();
    }
    let (live_tx, live_rx) = watch::channel(Arc::new(opts));
    #[cfg(unix)]
    let reloads = tokio::spawn(reload::on_hangup(settings, live_tx, hangups));
    #[cfg(not(unix))]
    let _live_tx = live_tx;
    let served = run_with_settings(listener, live_rx, Box::new(history), shutdown_signal()).await;
    #[cfg(unix)]
    reloads.abort();
    served
}

/// A listener with address reuse (a restarted server gets its port back at once) and a
/// backlog for join storms.
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .context("cannot create a socket")?;
    socket
        .set_reuseaddr(true)
        .context("cannot set SO_REUSEADDR")?;
    socket
        .bind(addr)
        .with_context(|| format!("cannot listen on {addr}"))?;
    socket
        .listen(4096)
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("interrupted"),
        () = term => tracing::info!("terminated"),
    }
}

/// Serves `listener` until `shutdown` resolves. Returns after a graceful shutdown: clients got
/// a `system` line and close 1001, history is committed and closed.
pub async fn run(
    listener: TcpListener,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let history = opts.open_history()?;
    run_with_history(listener, opts, Box::new(history), shutdown).await
}

/// Commands the hub channel holds before connections wait for room.
const HUB_QUEUE: usize = 4096;
/// Frames written per socket flush at most.
const WRITE_BATCH: usize = 64;
/// How long a graceful shutdown waits for connections to finish their goodbyes.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Hands each new value of `settings` to the parts that keep their own copy: the admission
/// table and the hub. (Connections read theirs from the settings when they start.)
async fn follow(
    mut settings: watch::Receiver<Arc<ServerOptions>>,
    hub_tx: mpsc::Sender<HubCmd>,
    table: Arc<ConnectionTable>,
) {
    while settings.changed().await.is_ok() {
        let opts = Arc::clone(&settings.borrow_and_update());
        table.set_policy(opts.admission());
        let cmd = HubCmd::Reconfigure {
            config: opts.hub_config(),
            history_keep: opts.history_keep,
        };
        if hub_tx.send(cmd).await.is_err() {
            return;
        }
    }
}

/// [`run`] with a history store of the caller's choosing.
pub async fn run_with_history(
    listener: TcpListener,
    opts: ServerOptions,
    history: Box<dyn History>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (_fixed, settings) = watch::channel(Arc::new(opts));
    run_with_settings(listener, settings, history, shutdown).await
}

/// [`run_with_history`] with settings that may change while it runs: each value sent on
/// `settings` takes effect without dropping anyone (see [`reload`] for which options do, and
/// when). TLS, the address and the history location stay as they were at the start.
pub async fn run_with_settings(
    listener: TcpListener,
    settings: watch::Receiver<Arc<ServerOptions>>,
    history: Box<dyn History>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let opts = Arc::clone(&settings.borrow());
    let hub = Hub::new(opts.hub_config(), history);
    let stats = hub.stats();
    let (hub_tx, hub_rx) = mpsc::channel(HUB_QUEUE);
    let hub_task = tokio::spawn(hub::run(hub, hub_rx));
    let table = ConnectionTable::new(opts.admission());
    let follower = tokio::spawn(follow(settings.clone(), hub_tx.clone(), Arc::clone(&table)));
    let shared = Arc::new(http::Shared {
        hub_tx: hub_tx.clone(),
        stats,
        table: Arc::clone(&table),
        started: Instant::now(),
        next_conn: AtomicU64::new(1),
        settings: settings.clone(),
    });
    let router = http::router(Arc::clone(&shared));
    drop(shared);
    let tls = opts.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let (stop_tx, stop_rx) = watch::channel(false);

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match table.admit(peer.ip()) {
                    Some(slot) => http::spawn_connection(
                        stream,
                        peer,
                        slot,
                        router.clone(),
                        settings.borrow().handshake_timeout,
                        tls.as_ref(),
                        stop_rx.clone(),
                    ),
                    None => tracing::debug!(%peer, "connection dropped: over the connection limits"),
                },
                Err(e) => {
                    // Out of file descriptors or similar: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_millis(50)) => {}
                    }
                }
            },
        }
    }

    tracing::info!("shutting down");
    follower.abort();
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = hub_tx.send(HubCmd::Shutdown).await;
    drop(hub_tx);
    drop(router);
    if let Err(e) = hub_task.await {
        tracing::error!(error = %e, "the hub task failed");
    }
    if !table.wait_empty(DRAIN_LIMIT).await {
        tracing::warn!(
            left = table.total(),
            "some connections did not close in time"
        );
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[derive(Parser)]
    struct Host {
        #[command(flatten)]
        host: crate::host::HostArgs,
    }

    #[test]
    fn history_keep_defaults_to_keeping_everything() {
        let args = Serve::try_parse_from(["serve"]).unwrap().serve;
        assert_eq!(args.options().history_keep, 0);
        assert_eq!(
            args.options().hub_config().history_on_join,
            defaults::HISTORY
        );
    }

    #[test]
    fn history_keep_flag_reaches_the_options_in_serve_and_host() {
        let serve = Serve::try_parse_from(["serve", "--history-keep", "1000"]).unwrap();
        assert_eq!(serve.serve.options().history_keep, 1000);
        let host = Host::try_parse_from(["host", "--history-keep", "7"]).unwrap();
        assert_eq!(host.host.serve.options().history_keep, 7);
        assert!(Serve::try_parse_from(["serve", "--history-keep", "-1"]).is_err());
    }

    #[test]
    fn limits_that_could_never_work_are_refused_at_start() {
        for (flag, bad, good) in [
            ("--queue", "15", "16"),
            ("--max-text", "0", "1"),
            ("--max-frame", "1023", "1024"),
            ("--msg-burst", "0", "1"),
            ("--max-connections", "0", "1"),
            ("--max-per-ip", "0", "1"),
            ("--msg-rate", "-1", "0"),
            ("--msg-rate", "inf", "0.5"),
            ("--msg-rate", "NaN", "5"),
            ("--join-timeout", "0", "1"),
            ("--handshake-timeout", "0", "1"),
            ("--ping-timeout", "0", "1"),
        ] {
            let err = Serve::try_parse_from(["serve", flag, bad]).err();
            assert!(
                err.as_ref().is_some_and(|e| e.to_string().contains(flag)),
                "{flag} {bad}: {err:?}"
            );
            assert!(
                Serve::try_parse_from(["serve", flag, good]).is_ok(),
                "{flag} {good}"
            );
        }
        let opts = Serve::try_parse_from(["serve", "--queue", "16", "--max-frame", "1024"])
            .unwrap()
            .serve
            .options();
        assert_eq!((opts.outbound_queue, opts.max_frame_bytes), (16, 1024));
    }

    #[test]
    fn web_flags_reach_the_options() {
        let opts = Serve::try_parse_from(["serve"]).unwrap().serve.options();
        assert!(opts.web);
        assert!(opts.allowed_origins.is_empty());
        let opts = Serve::try_parse_from([
            "serve",
            "--no-web",
            "--allow-origin",
            "https://Chat.Example.com",
            "--allow-origin",
            "http://10.0.0.5:8080/",
        ])
        .unwrap()
        .serve
        .options();
        assert!(!opts.web);
        assert_eq!(
            opts.allowed_origins,
            ["https://chat.example.com", "http://10.0.0.5:8080"]
        );
        let err = Serve::try_parse_from(["serve", "--allow-origin", "*"]).err();
        assert!(err.is_some_and(|e| e.to_string().contains("--allow-origin")));
        let host = Host::try_parse_from(["host", "--no-web"]).unwrap();
        assert!(!host.host.serve.options().web);
    }

    #[test]
    fn join_history_never_exceeds_what_is_kept() {
        let opts = ServerOptions {
            history_keep: 3,
            history_on_join: 50,
            ..ServerOptions::default()
        };
        assert_eq!(opts.hub_config().history_on_join, 3);
        let opts = ServerOptions {
            history_keep: 500,
            history_on_join: 50,
            ..ServerOptions::default()
        };
        assert_eq!(opts.hub_config().history_on_join, 50);
    }
}
