//! The network task: the only owner of the WebSocket. It connects, joins, forwards every server
//! frame to the UI as a [`NetEvent`], notices drops (including silent half-open connections) and
//! reconnects on the [`Backoff`] schedule. Every wait also listens for [`NetCmd`]s, so switching
//! servers or reconnecting works at any moment. It never touches the terminal or UI state.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::client::backoff::Backoff;
use crate::client::tls;
use crate::protocol::{ClientMsg, ServerMsg};
use crate::text;

/// Who we join as. Kept in step with the server's `welcome`, so a reconnect rejoins under the
/// name, colour and room the server last confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    /// Wire form (`1`..`6` or `#rrggbb`); empty = let the server choose.
    pub color: String,
    /// Empty = the server's default room.
    pub room: String,
}

/// What the UI asks of the network task.
#[derive(Debug, Clone)]
pub enum NetCmd {
    /// Sent if connected; otherwise dropped and reported back as [`NetEvent::NotSent`].
    Send(ClientMsg),
    /// Used for the next (re)join; e.g. `/nick` while offline.
    SetIdentity(Identity),
    /// A resolved `ws://` or `wss://` URL. Closes the current connection cleanly (1000) or
    /// abandons the current attempt or wait, and connects there at once, as attempt 1.
    SwitchServer(String),
    /// Skip the backoff wait and try now. While connected: close cleanly and connect again.
    ReconnectNow,
    /// Close cleanly (1000) and end the task. Dropping every [`NetHandle`] does the same.
    Shutdown,
}

/// What the network task tells the UI, in the order it happened.
#[derive(Debug, Clone)]
pub enum NetEvent {
    /// A connection attempt starts; `attempt` 1 is the first try after a start, a switch or a
    /// connection that was up.
    Connecting { url: String, attempt: u32 },
    /// The socket is open and `join` has been sent.
    Connected { url: String },
    /// The connection ended or the attempt failed. `reason` is in plain words (sanitised, one
    /// line). `retry_at` is when the next attempt (number `attempt`) starts; `None` means no
    /// retry is scheduled for this URL: the task is shutting down, is switching servers, or
    /// the URL itself is unusable (it then waits for a command).
    Disconnected {
        url: String,
        reason: String,
        retry_at: Option<std::time::Instant>,
        attempt: u32,
    },
    /// Every decoded server frame, in order. Unknown types are skipped; malformed frames are
    /// logged, not forwarded. Remote strings inside are raw: sanitise before drawing.
    Server(ServerMsg),
    /// A [`NetCmd::Send`] that did not go out (offline, or the connection broke while writing).
    NotSent(ClientMsg),
}

/// The UI's end of the command channel. Cloneable; when the last clone is dropped, the task
/// closes the connection and ends.
#[derive(Debug, Clone)]
pub struct NetHandle {
    cmd_tx: mpsc::Sender<NetCmd>,
}

impl NetHandle {
    /// Queues a command without waiting; `false` if the task is gone or its queue is full.
    pub fn send(&self, cmd: NetCmd) -> bool {
        self.cmd_tx.try_send(cmd).is_ok()
    }

    /// `false` once the task has ended.
    pub fn is_running(&self) -> bool {
        !self.cmd_tx.is_closed()
    }
}

/// Commands queued at most; the UI's `try_send` fails beyond this instead of blocking the UI.
const CMD_CAPACITY: usize = 64;
/// Events queued at most; when the UI falls behind, the task waits (and stops reading the socket),
/// which is the back-pressure we want rather than unbounded memory.
const EVENT_CAPACITY: usize = 256;

/// Knobs of the network task. [`Default`] is what the client uses; tests shorten the timings.
#[derive(Debug, Clone)]
pub struct NetOptions {
    pub backoff: Backoff,
    /// DNS, TCP, TLS and the WebSocket handshake together.
    pub connect_timeout: Duration,
    /// After this long without hearing from the server, send a ping.
    pub idle_ping: Duration,
    /// After a ping, this long without any frame means the connection is dead (half-open).
    pub pong_timeout: Duration,
    /// A single write (a message, a ping) that takes longer means the server stopped reading.
    pub write_timeout: Duration,
    /// How long a clean close waits for the server's answering close frame.
    pub close_timeout: Duration,
    /// The largest message (and frame) accepted from the server, in bytes.
    pub max_message_size: usize,
    /// Certificates trusted as roots in addition to the built-in web PKI roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl Default for NetOptions {
    fn default() -> NetOptions {
        NetOptions {
            backoff: Backoff::new(),
            connect_timeout: Duration::from_secs(10),
            idle_ping: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(15),
            write_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(2),
            max_message_size: 4 << 20,
            extra_roots: Vec::new(),
        }
    }
}

/// Starts the network task with the standard options; it connects to `url` at once.
/// Must be called inside a tokio runtime.
pub fn spawn(url: String, identity: Identity) -> (NetHandle, mpsc::Receiver<NetEvent>) {
    spawn_with(url, identity, NetOptions::default())
}

/// [`spawn`] with explicit options (timings, a seeded backoff, extra trusted certificates).
pub fn spawn_with(
    url: String,
    identity: Identity,
    opts: NetOptions,
) -> (NetHandle, mpsc::Receiver<NetEvent>) {
    let (cmd_tx, cmd_rx) = mpsc::channel(CMD_CAPACITY);
    let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
    let task = NetTask {
        tls: tls::client_config(&opts.extra_roots),
        backoff: opts.backoff.clone(),
        opts,
        url,
        identity,
        attempt: 1,
        cmd_rx,
        events_tx,
    };
    tokio::spawn(task.run());
    (NetHandle { cmd_tx }, events_rx)
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where the task's loop goes next.
enum State {
    /// Try `url` now, as attempt number `attempt`.
    Connect,
    /// Back off until then (a command may cut the wait short).
    Wait(Instant),
    /// No retry scheduled: wait for a command.
    Parked,
    Stop,
}

/// What a command means while no connection is open.
enum Idle {
    Keep,
    /// Reconnect asked for: try now.
    Retry,
    /// The URL changed: try the new one now.
    Switched,
    Stop,
}

/// How a live connection ended.
enum SessionEnd {
    Dropped(String),
    Switch(String),
    Reconnect,
    /// Shutdown asked for, or nobody listens any more.
    Stop,
}

/// Why an attempt failed; `retry` is false when trying again cannot help (a malformed URL).
struct Failure {
    reason: String,
    retry: bool,
}

impl Failure {
    fn retry(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            retry: true,
        }
    }

    fn permanent(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            retry: false,
        }
    }
}

struct NetTask {
    opts: NetOptions,
    tls: Arc<rustls::ClientConfig>,
    backoff: Backoff,
    url: String,
    identity: Identity,
    /// The number of the next (or current) connection attempt.
    attempt: u32,
    /// Closed when every [`NetHandle`] is dropped: that is a shutdown.
    cmd_rx: mpsc::Receiver<NetCmd>,
    /// If the UI drops its receiver, sends fail and the task ends.
    events_tx: mpsc::Sender<NetEvent>,
}

impl NetTask {
    async fn run(mut self) {
        let mut state = State::Connect;
        loop {
            state = match state {
                State::Connect => self.connect().await,
                State::Wait(until) => self.wait(Some(until)).await,
                State::Parked => self.wait(None).await,
                State::Stop => break,
            };
        }
        tracing::debug!(url = %self.url, "network task ends");
    }

    async fn emit(&self, event: NetEvent) -> bool {
        self.events_tx.send(event).await.is_ok()
    }

    /// One connection attempt; on success, the whole life of that connection.
    async fn connect(&mut self) -> State {
        let url = self.url.clone();
        tracing::info!(%url, attempt = self.attempt, "connecting");
        if !self
            .emit(NetEvent::Connecting {
                url: url.clone(),
                attempt: self.attempt,
            })
            .await
        {
            return State::Stop;
        }
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(self.opts.max_message_size))
            .max_frame_size(Some(self.opts.max_message_size));
        let opening = timeout(
            self.opts.connect_timeout,
            open(&url, self.tls.clone(), ws_config),
        );
        tokio::pin!(opening);
        loop {
            tokio::select! {
                result = &mut opening => {
                    return match result {
                        Ok(Ok(ws)) => self.session(ws).await,
                        Ok(Err(failure)) => self.attempt_failed(failure).await,
                        Err(_elapsed) => self.attempt_failed(Failure::retry("timed out")).await,
                    };
                }
                cmd = self.cmd_rx.recv() => match self.idle_command(cmd).await {
                    // Already connecting: a reconnect request has nothing to skip.
                    Idle::Keep | Idle::Retry => {}
                    Idle::Switched => return State::Connect,
                    Idle::Stop => return State::Stop,
                },
            }
        }
    }

    /// Backs off until `until` (or, with `None`, until told), answering commands meanwhile.
    async fn wait(&mut self, until: Option<Instant>) -> State {
        loop {
            let sleep = async {
                match until {
                    Some(until) => sleep_until(until).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => return State::Connect,
                cmd = self.cmd_rx.recv() => match self.idle_command(cmd).await {
                    Idle::Keep => {}
                    Idle::Retry | Idle::Switched => return State::Connect,
                    Idle::Stop => return State::Stop,
                },
            }
        }
    }

    /// A command while no connection is open.
    async fn idle_command(&mut self, cmd: Option<NetCmd>) -> Idle {
        match cmd {
            None => Idle::Stop,
            Some(NetCmd::Send(msg)) => {
                if self.emit(NetEvent::NotSent(msg)).await {
                    Idle::Keep
                } else {
                    Idle::Stop
                }
            }
            Some(NetCmd::SetIdentity(identity)) => {
                self.identity = identity;
                Idle::Keep
            }
            Some(NetCmd::SwitchServer(url)) => {
                tracing::info!(from = %self.url, to = %url, "switching server");
                self.switch_to(url);
                Idle::Switched
            }
            Some(NetCmd::ReconnectNow) => Idle::Retry,
            Some(NetCmd::Shutdown) => {
                self.notify_stopped("disconnected");
                Idle::Stop
            }
        }
    }

    fn switch_to(&mut self, url: String) {
        self.url = url;
        self.attempt = 1;
        self.backoff.reset();
    }

    /// Tells the UI the task is ending, without waiting: it may no longer be reading.
    fn notify_stopped(&self, reason: &str) {
        let _ = self.events_tx.try_send(NetEvent::Disconnected {
            url: self.url.clone(),
            reason: reason.to_string(),
            retry_at: None,
            attempt: self.attempt,
        });
    }

    async fn attempt_failed(&mut self, failure: Failure) -> State {
        tracing::warn!(url = %self.url, attempt = self.attempt, reason = %failure.reason, "connection attempt failed");
        self.attempt = self.attempt.saturating_add(1);
        if failure.retry {
            let delay = self.backoff.next_delay();
            self.schedule_retry(failure.reason, delay).await
        } else {
            let event = NetEvent::Disconnected {
                url: self.url.clone(),
                reason: one_line(&failure.reason),
                retry_at: None,
                attempt: self.attempt,
            };
            if self.emit(event).await {
                State::Parked
            } else {
                State::Stop
            }
        }
    }

    /// Announces the drop and the next attempt (number `self.attempt`), then backs off `delay`.
    async fn schedule_retry(&mut self, reason: String, delay: Duration) -> State {
        let until = Instant::now() + delay;
        let event = NetEvent::Disconnected {
            url: self.url.clone(),
            reason: one_line(&reason),
            retry_at: Some(until.into_std()),
            attempt: self.attempt,
        };
        if self.emit(event).await {
            State::Wait(until)
        } else {
            State::Stop
        }
    }

    fn join_msg(&self) -> ClientMsg {
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        ClientMsg::Join {
            name: self.identity.name.clone(),
            color: non_empty(&self.identity.color),
            room: non_empty(&self.identity.room),
        }
    }

    /// A live connection, from sending `join` to its end.
    async fn session(&mut self, mut ws: Ws) -> State {
        let join = Message::text(self.join_msg().encode());
        match timeout(self.opts.write_timeout, ws.send(join)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                return self
                    .attempt_failed(Failure::retry(describe_error(&err)))
                    .await;
            }
            Err(_) => return self.attempt_failed(Failure::retry("timed out")).await,
        }
        tracing::info!(url = %self.url, "connected");
        if !self
            .emit(NetEvent::Connected {
                url: self.url.clone(),
            })
            .await
        {
            close_cleanly(&mut ws, "", self.opts.close_timeout).await;
            return State::Stop;
        }
        self.attempt = 1;
        let connected_at = Instant::now();
        let end = self.converse(&mut ws).await;
        match end {
            SessionEnd::Dropped(reason) => {
                tracing::warn!(url = %self.url, %reason, "connection lost");
                let delay = delay_after_session(&mut self.backoff, connected_at.elapsed());
                self.schedule_retry(reason, delay).await
            }
            SessionEnd::Switch(url) => {
                close_cleanly(&mut ws, "switching server", self.opts.close_timeout).await;
                tracing::info!(from = %self.url, to = %url, "switching server");
                let event = NetEvent::Disconnected {
                    url: self.url.clone(),
                    reason: format!("switched to {}", text::sanitize_line(&url)),
                    retry_at: None,
                    attempt: 1,
                };
                self.switch_to(url);
                if self.emit(event).await {
                    State::Connect
                } else {
                    State::Stop
                }
            }
            SessionEnd::Reconnect => {
                close_cleanly(&mut ws, "reconnecting", self.opts.close_timeout).await;
                let event = NetEvent::Disconnected {
                    url: self.url.clone(),
                    reason: "reconnecting".into(),
                    retry_at: Some(std::time::Instant::now()),
                    attempt: 1,
                };
                if self.emit(event).await {
                    State::Connect
                } else {
                    State::Stop
                }
            }
            SessionEnd::Stop => {
                close_cleanly(&mut ws, "", self.opts.close_timeout).await;
                self.notify_stopped("disconnected");
                State::Stop
            }
        }
    }

    /// Reads frames and commands until the connection ends. Silence is met with a ping, and a
    /// ping met with silence ends the connection: a half-open TCP connection never errors.
    async fn converse(&mut self, ws: &mut Ws) -> SessionEnd {
        let mut deadline = Instant::now() + self.opts.idle_ping;
        let mut pinged = false;
        loop {
            tokio::select! {
                frame = ws.next() => {
                    let message = match frame {
                        Some(Ok(message)) => message,
                        Some(Err(err)) => return SessionEnd::Dropped(describe_error(&err)),
                        None => return SessionEnd::Dropped("connection lost".into()),
                    };
                    deadline = Instant::now() + self.opts.idle_ping;
                    pinged = false;
                    match message {
                        Message::Text(frame) => {
                            if !self.on_frame(&frame).await {
                                return SessionEnd::Stop;
                            }
                        }
                        Message::Close(frame) => {
                            // Let tungstenite flush its answering close frame.
                            let _ = timeout(self.opts.close_timeout, ws.next()).await;
                            return SessionEnd::Dropped(close_reason(frame.as_ref()));
                        }
                        Message::Binary(bytes) => {
                            tracing::debug!(len = bytes.len(), "ignoring a binary frame from the server");
                        }
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                    }
                }
                cmd = self.cmd_rx.recv() => match cmd {
                    None | Some(NetCmd::Shutdown) => return SessionEnd::Stop,
                    Some(NetCmd::Send(msg)) => {
                        let frame = Message::text(msg.encode());
                        let failed = match timeout(self.opts.write_timeout, ws.send(frame)).await {
                            Ok(Ok(())) => None,
                            Ok(Err(err)) => Some(describe_error(&err)),
                            Err(_) => Some("timed out sending to the server".to_string()),
                        };
                        if let Some(reason) = failed {
                            if !self.emit(NetEvent::NotSent(msg)).await {
                                return SessionEnd::Stop;
                            }
                            return SessionEnd::Dropped(reason);
                        }
                    }
                    Some(NetCmd::SetIdentity(identity)) => self.identity = identity,
                    Some(NetCmd::SwitchServer(url)) => return SessionEnd::Switch(url),
                    Some(NetCmd::ReconnectNow) => return SessionEnd::Reconnect,
                },
                () = sleep_until(deadline) => {
                    if pinged {
                        return SessionEnd::Dropped("timed out: the server stopped answering".into());
                    }
                    match timeout(self.opts.write_timeout, ws.send(Message::Ping(Default::default()))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => return SessionEnd::Dropped(describe_error(&err)),
                        Err(_) => return SessionEnd::Dropped("timed out: the server stopped reading".into()),
                    }
                    pinged = true;
                    deadline = Instant::now() + self.opts.pong_timeout;
                }
            }
        }
    }

    /// Decodes and forwards one text frame; `false` if nobody listens any more.
    async fn on_frame(&mut self, frame: &str) -> bool {
        match ServerMsg::decode(frame) {
            Ok(Some(msg)) => {
                if let ServerMsg::Welcome(welcome) = &msg {
                    self.identity = Identity {
                        name: welcome.name.clone(),
                        color: welcome.color.clone(),
                        room: welcome.room.clone(),
                    };
                }
                self.emit(NetEvent::Server(msg)).await
            }
            Ok(None) => {
                tracing::debug!("skipping a frame of a type this version does not know");
                true
            }
            Err(err) => {
                tracing::warn!(%err, len = frame.len(), "skipping a malformed frame from the server");
                true
            }
        }
    }
}

/// The wait before retrying after a connection that was up for `up_for` dropped: a connection
/// that proved stable starts the schedule over, a short-lived one carries it on.
fn delay_after_session(backoff: &mut Backoff, up_for: Duration) -> Duration {
    backoff.connection_ended(up_for);
    backoff.next_delay()
}

/// Sends a close frame with code 1000 and waits (briefly) for the server's answer.
async fn close_cleanly(ws: &mut Ws, reason: &str, wait: Duration) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: reason.into(),
    };
    let _ = timeout(wait, async {
        if ws.close(Some(frame)).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

/// How long one of several addresses of a host may take to accept a TCP connection.
const PER_ADDRESS_TIMEOUT: Duration = Duration::from_secs(3);

/// DNS, TCP, TLS (for `wss://`), then the WebSocket handshake; each step's failure in words.
async fn open(
    url: &str,
    tls: Arc<rustls::ClientConfig>,
    config: WebSocketConfig,
) -> Result<Ws, Failure> {
    let mut request = url
        .into_client_request()
        .map_err(|err| Failure::permanent(format!("invalid server address: {err}")))?;
    request.headers_mut().insert(
        header::USER_AGENT,
        HeaderValue::from_static(concat!("clicom/", env!("CARGO_PKG_VERSION"))),
    );
    let uri = request.uri();
    let secure = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => {
            return Err(Failure::permanent(
                "invalid server address: use ws:// or wss://",
            ));
        }
    };
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Failure::permanent("invalid server address: no host"))?;
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });

    let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|err| {
            tracing::debug!(%err, %host, "DNS lookup failed");
            Failure::retry(format!(
                "host not found (DNS): {}",
                text::sanitize_line(&host)
            ))
        })?
        .collect();
    let mut last_err = None;
    let mut tcp = None;
    let count = addrs.len();
    for (i, addr) in addrs.into_iter().enumerate() {
        // An address that swallows packets must not use up the whole connect timeout while
        // others (say IPv4 after a broken IPv6 route) remain to be tried.
        let limit = if i + 1 < count {
            PER_ADDRESS_TIMEOUT
        } else {
            Duration::MAX
        };
        match timeout(limit, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                tcp = Some(stream);
                break;
            }
            Ok(Err(err)) => last_err = Some(err),
            Err(_) => last_err = Some(std::io::ErrorKind::TimedOut.into()),
        }
    }
    let tcp = match (tcp, last_err) {
        (Some(tcp), _) => tcp,
        (None, Some(err)) => return Err(Failure::retry(describe_io(&err))),
        (None, None) => {
            return Err(Failure::retry(format!(
                "host not found (DNS): {}",
                text::sanitize_line(&host)
            )));
        }
    };
    let _ = tcp.set_nodelay(true);

    let stream = if secure {
        let name = ServerName::try_from(host.clone())
            .map_err(|_| Failure::permanent("invalid server address: bad host name for TLS"))?;
        let tls_stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|err| Failure::retry(describe_tls(&err)))?;
        MaybeTlsStream::Rustls(tls_stream)
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    let (ws, _response) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(|err| Failure::retry(describe_handshake(&err)))?;
    Ok(ws)
}

/// A TCP-level failure in words.
fn describe_io(err: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match err.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset by the server".into(),
        TimedOut => "timed out".into(),
        HostUnreachable => "host unreachable".into(),
        NetworkUnreachable => "network unreachable".into(),
        UnexpectedEof | BrokenPipe | ConnectionAborted | NotConnected => "connection lost".into(),
        _ => format!("connection failed: {err}"),
    }
}

/// A failed TLS handshake in words.
fn describe_tls(err: &std::io::Error) -> String {
    let rustls_err = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_err {
        Some(err) => format!("TLS error: {}", describe_rustls(err)),
        None => match err.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                "TLS error: the server closed the connection during the handshake".into()
            }
            _ => format!("TLS error: {}", describe_io(err)),
        },
    }
}

fn describe_rustls(err: &rustls::Error) -> String {
    use rustls::CertificateError as Cert;
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            Cert::UnknownIssuer => {
                "the server's certificate is not trusted (unknown issuer)".into()
            }
            Cert::Expired | Cert::ExpiredContext { .. } => {
                "the server's certificate has expired".into()
            }
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (check the clock)".into()
            }
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
                "the server's certificate is for a different host name".into()
            }
            Cert::Revoked => "the server's certificate has been revoked".into(),
            other => format!("invalid certificate ({other:?})"),
        },
        rustls::Error::InvalidMessage(_) => {
            "the server did not answer in TLS (is it a ws:// server?)".into()
        }
        rustls::Error::AlertReceived(alert) => {
            format!("the server refused the handshake ({alert:?})")
        }
        other => other.to_string(),
    }
}

/// A failed WebSocket upgrade in words.
fn describe_handshake(err: &tungstenite::Error) -> String {
    use tungstenite::error::ProtocolError;
    match err {
        tungstenite::Error::Http(response) => {
            let status = response.status();
            let words = status.canonical_reason().unwrap_or("");
            format!("server answered HTTP {} {words}", status.as_u16())
                .trim_end()
                .to_string()
        }
        tungstenite::Error::Protocol(ProtocolError::HandshakeIncomplete) => {
            "the server closed the connection during the WebSocket handshake".into()
        }
        tungstenite::Error::Protocol(ProtocolError::HttparseError(_)) => {
            "not a WebSocket server (it did not answer in HTTP)".into()
        }
        tungstenite::Error::Protocol(other) => {
            format!("not a WebSocket server ({other})")
        }
        tungstenite::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the WebSocket handshake".into()
        }
        other => describe_error(other),
    }
}

/// A failure on an open connection in words.
fn describe_error(err: &tungstenite::Error) -> String {
    use tungstenite::error::{CapacityError, ProtocolError};
    match err {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            "connection closed".into()
        }
        tungstenite::Error::Io(io) => {
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                describe_tls(io)
            } else {
                describe_io(io)
            }
        }
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            "connection lost (the server went away without closing)".into()
        }
        tungstenite::Error::Protocol(other) => format!("protocol error: {other}"),
        tungstenite::Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            format!("the server sent a message too large ({size} bytes; the limit is {max_size})")
        }
        tungstenite::Error::Capacity(other) => format!("the server sent too much: {other}"),
        tungstenite::Error::Utf8(_) => "the server sent text that is not valid UTF-8".into(),
        tungstenite::Error::Tls(tls) => format!("TLS error: {tls}"),
        tungstenite::Error::Http(_) => describe_handshake(err),
        other => other.to_string(),
    }
}

/// A reason as the UI may show it: one line, no terminal controls, whatever text a library
/// or the server put into an error.
fn one_line(reason: &str) -> String {
    text::sanitize_line(reason).into_owned()
}

/// The longest part of a server's close reason we pass on.
const MAX_CLOSE_REASON_WIDTH: usize = 120;

/// A close frame from the server in words: "server closed the connection (1001: going away)".
fn close_reason(frame: Option<&CloseFrame>) -> String {
    let Some(frame) = frame else {
        return "server closed the connection".into();
    };
    let code = u16::from(frame.code);
    let meaning = match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1007 => "invalid data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "extension required",
        1011 => "server error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        3000..=4999 => "application code",
        _ => "unknown code",
    };
    let said = text::sanitize_line(&frame.reason);
    let said = text::truncate_to_width(said.trim(), MAX_CLOSE_REASON_WIDTH);
    if said.is_empty() {
        format!("server closed the connection ({code}: {meaning})")
    } else {
        format!("server closed the connection ({code}: {meaning}: {said})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(code: u16, reason: &str) -> CloseFrame {
        CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        }
    }

    #[test]
    fn close_frames_are_described_in_words() {
        assert_eq!(
            close_reason(Some(&close(1001, ""))),
            "server closed the connection (1001: going away)"
        );
        assert_eq!(
            close_reason(Some(&close(1008, "rate limited"))),
            "server closed the connection (1008: policy violation: rate limited)"
        );
        assert_eq!(close_reason(None), "server closed the connection");
    }

    #[test]
    fn a_hostile_close_reason_is_sanitised_and_bounded() {
        let hostile = format!("\u{1b}]0;owned\u{7}{}", "x".repeat(500));
        let reason = close_reason(Some(&close(4000, &hostile)));
        assert!(!reason.chars().any(char::is_control), "{reason:?}");
        assert!(reason.len() < 300, "{}", reason.len());
        assert!(reason.starts_with("server closed the connection (4000: application code: "));
    }

    #[test]
    fn io_failures_are_described_in_words() {
        use std::io::{Error, ErrorKind};
        assert_eq!(
            describe_io(&Error::from(ErrorKind::ConnectionRefused)),
            "connection refused"
        );
        assert_eq!(describe_io(&Error::from(ErrorKind::TimedOut)), "timed out");
        assert_eq!(
            describe_io(&Error::from(ErrorKind::ConnectionReset)),
            "connection reset by the server"
        );
    }

    #[test]
    fn tls_failures_are_described_in_words() {
        let wrap = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        assert_eq!(
            describe_tls(&wrap(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))),
            "TLS error: the server's certificate is not trusted (unknown issuer)"
        );
        assert_eq!(
            describe_tls(&wrap(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired
            ))),
            "TLS error: the server's certificate has expired"
        );
        assert!(
            describe_tls(&std::io::Error::from(std::io::ErrorKind::UnexpectedEof))
                .starts_with("TLS error: the server closed the connection")
        );
    }

    #[test]
    fn http_refusals_name_the_status() {
        let response = tungstenite::http::Response::builder()
            .status(404)
            .body(None)
            .unwrap();
        assert_eq!(
            describe_handshake(&tungstenite::Error::Http(Box::new(response))),
            "server answered HTTP 404 Not Found"
        );
        let response = tungstenite::http::Response::builder()
            .status(599)
            .body(None)
            .unwrap();
        assert_eq!(
            describe_handshake(&tungstenite::Error::Http(Box::new(response))),
            "server answered HTTP 599"
        );
    }

    #[test]
    fn oversize_messages_are_described_with_the_limit() {
        let err = tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size: 9_000_000,
            max_size: 4_194_304,
        });
        assert_eq!(
            describe_error(&err),
            "the server sent a message too large (9000000 bytes; the limit is 4194304)"
        );
    }

    /// A schedule four failures deep (ceiling 8 s), as after four refused attempts.
    fn four_failures_deep() -> Backoff {
        let mut backoff = Backoff::seeded(5);
        for _ in 0..4 {
            backoff.next_delay();
        }
        backoff
    }

    #[test]
    fn a_drop_after_a_short_connection_carries_the_schedule_on() {
        let mut backoff = four_failures_deep();
        let mut carried_on = backoff.clone();
        let up_for = Backoff::STABLE_AFTER - Duration::from_millis(1);
        let delay = delay_after_session(&mut backoff, up_for);
        assert_eq!(delay, carried_on.next_delay());
        assert_eq!(backoff.failures(), 5, "the failure count kept growing");
        assert_eq!(backoff.ceiling(), Duration::from_secs(16));
    }

    #[test]
    fn a_drop_after_a_stable_connection_starts_the_schedule_over() {
        let mut backoff = four_failures_deep();
        let mut started_over = backoff.clone();
        started_over.reset();
        let delay = delay_after_session(&mut backoff, Backoff::STABLE_AFTER);
        assert_eq!(delay, started_over.next_delay());
        assert!(delay <= Backoff::BASE, "{delay:?}");
        assert_eq!(backoff.failures(), 1, "counted from zero again");
        assert_eq!(backoff.ceiling(), Duration::from_secs(1));
    }

    #[test]
    fn join_carries_the_identity_and_omits_empty_fields() {
        let (cmd_tx, cmd_rx) = mpsc::channel(1);
        let (events_tx, _events_rx) = mpsc::channel(1);
        drop(cmd_tx);
        let mut task = NetTask {
            opts: NetOptions::default(),
            tls: tls::client_config(&[]),
            backoff: Backoff::seeded(1),
            url: "ws://127.0.0.1:1/ws".into(),
            identity: Identity {
                name: "alice".into(),
                color: "3".into(),
                room: "rust".into(),
            },
            attempt: 1,
            cmd_rx,
            events_tx,
        };
        assert_eq!(
            task.join_msg(),
            ClientMsg::Join {
                name: "alice".into(),
                color: Some("3".into()),
                room: Some("rust".into())
            }
        );
        task.identity.color.clear();
        task.identity.room.clear();
        assert_eq!(
            task.join_msg(),
            ClientMsg::Join {
                name: "alice".into(),
                color: None,
                room: None
            }
        );
    }
}
