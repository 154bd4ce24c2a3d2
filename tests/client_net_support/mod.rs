//! Loopback servers for the network task's tests: a small WebSocket server that records what
//! clients send and can be stopped and restarted on the same port, plain-TCP endpoints that
//! answer badly, and TLS endpoints with throwaway certificates. Every wait has a deadline.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clicom::client::backoff::Backoff;
use clicom::client::net::{Identity, NetEvent, NetOptions};
use clicom::protocol::{ClientMsg, ServerMsg, Welcome};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// How long any single wait in these tests may take before the test fails instead of hanging.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub fn alice() -> Identity {
    Identity {
        name: "alice".into(),
        color: "3".into(),
        room: "main".into(),
    }
}

/// Fast timings so the tests do not wait seconds for a retry; a fixed seed for the jitter.
pub fn fast_options() -> NetOptions {
    NetOptions {
        backoff: Backoff::seeded(7).with_timings(
            Duration::from_millis(20),
            Duration::from_millis(200),
            Duration::from_secs(60),
        ),
        connect_timeout: Duration::from_secs(5),
        close_timeout: Duration::from_secs(2),
        ..NetOptions::default()
    }
}

/// A backoff so long that only a command can end the wait within a test's deadline.
pub fn patient_options() -> NetOptions {
    NetOptions {
        backoff: Backoff::seeded(7).with_timings(
            Duration::from_secs(3600),
            Duration::from_secs(3600),
            Duration::from_secs(7200),
        ),
        ..fast_options()
    }
}

/// The next event from the network task; panics if none comes in time or the task ended.
pub async fn next_event(rx: &mut mpsc::Receiver<NetEvent>) -> NetEvent {
    match tokio::time::timeout(DEADLINE, rx.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the network task ended"),
        Err(_) => panic!("no network event within {DEADLINE:?}"),
    }
}

/// Skips events until one matches; returns it and everything skipped.
pub async fn wait_for(
    rx: &mut mpsc::Receiver<NetEvent>,
    what: &str,
    mut wanted: impl FnMut(&NetEvent) -> bool,
) -> (NetEvent, Vec<NetEvent>) {
    let mut skipped = Vec::new();
    let result = tokio::time::timeout(DEADLINE, async {
        while let Some(event) = rx.recv().await {
            if wanted(&event) {
                return Some(event);
            }
            skipped.push(event);
        }
        None
    })
    .await;
    match result {
        Ok(Some(event)) => (event, skipped),
        Ok(None) => panic!("the network task ended while waiting for {what}; saw {skipped:#?}"),
        Err(_) => panic!("no {what} within {DEADLINE:?}; saw {skipped:#?}"),
    }
}

pub async fn wait_connected(rx: &mut mpsc::Receiver<NetEvent>, url: &str) -> Vec<NetEvent> {
    let url = url.to_string();
    wait_for(
        rx,
        "Connected",
        |e| matches!(e, NetEvent::Connected { url: u } if *u == url),
    )
    .await
    .1
}

/// Waits for a `Disconnected`; returns (reason, retry_at, attempt).
pub async fn wait_disconnected(
    rx: &mut mpsc::Receiver<NetEvent>,
) -> (String, Option<std::time::Instant>, u32) {
    match wait_for(rx, "Disconnected", |e| {
        matches!(e, NetEvent::Disconnected { .. })
    })
    .await
    .0
    {
        NetEvent::Disconnected {
            reason,
            retry_at,
            attempt,
            ..
        } => (reason, retry_at, attempt),
        _ => unreachable!(),
    }
}

/// What the fake server saw, per connection (numbered from 1 in accept order).
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Frame(usize, ClientMsg),
    /// The client closed: `Some(code)` with a close frame, `None` if the socket just ended.
    Closed(usize, Option<u16>),
}

/// What a test can make a connection do.
#[derive(Debug)]
enum ConnCmd {
    Send(Message),
    Close(u16, String),
}

/// How the fake server treats an accepted WebSocket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Answers `join` with a `welcome` echoing the identity, records everything.
    Normal,
    /// Completes the handshake and then never answers anything (a hung or half-open server).
    /// It still reads the raw bytes the client sends, to count its pings.
    Silent,
}

/// A WebSocket server on 127.0.0.1 that records what it sees.
pub struct FakeServer {
    pub addr: SocketAddr,
    pub url: String,
    seen_rx: mpsc::UnboundedReceiver<Seen>,
    conns: Arc<Mutex<Vec<mpsc::UnboundedSender<ConnCmd>>>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept_task: Option<JoinHandle<()>>,
    pings: Arc<AtomicUsize>,
}

impl FakeServer {
    pub async fn start() -> FakeServer {
        FakeServer::start_on(0, Mode::Normal).await
    }

    /// Starts on `port` (0 = any free port). Restarting on the port of a stopped server works
    /// because tokio binds with `SO_REUSEADDR`.
    pub async fn start_on(port: u16, mode: Mode) -> FakeServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (seen_tx, seen_rx) = mpsc::unbounded_channel();
        let conns = Arc::new(Mutex::new(Vec::new()));
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let pings = Arc::new(AtomicUsize::new(0));
        let accept_task = tokio::spawn({
            let conns = conns.clone();
            let tasks = tasks.clone();
            let pings = pings.clone();
            async move {
                let mut id = 0;
                while let Ok((tcp, _)) = listener.accept().await {
                    id += 1;
                    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
                    conns.lock().unwrap().push(cmd_tx);
                    let task = tokio::spawn(serve_conn(
                        id,
                        tcp,
                        mode,
                        seen_tx.clone(),
                        cmd_rx,
                        pings.clone(),
                    ));
                    tasks.lock().unwrap().push(task);
                }
            }
        });
        FakeServer {
            addr,
            url: format!("ws://{addr}/ws"),
            seen_rx,
            conns,
            tasks,
            accept_task: Some(accept_task),
            pings,
        }
    }

    /// How many ping frames clients have sent, over all connections so far.
    pub fn pings(&self) -> usize {
        self.pings.load(Ordering::SeqCst)
    }

    /// Waits until clients have sent at least `n` pings in all.
    pub async fn wait_pings(&self, n: usize) {
        let counted = tokio::time::timeout(DEADLINE, async {
            while self.pings() < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(
            counted.is_ok(),
            "{} of {n} pings within {DEADLINE:?}",
            self.pings()
        );
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next thing the server saw.
    pub async fn next_seen(&mut self) -> Seen {
        match tokio::time::timeout(DEADLINE, self.seen_rx.recv()).await {
            Ok(Some(seen)) => seen,
            Ok(None) => panic!("fake server stopped"),
            Err(_) => panic!("fake server saw nothing within {DEADLINE:?}"),
        }
    }

    /// Waits for a `join`; returns (connection, name, color, room).
    pub async fn wait_join(&mut self) -> (usize, String, Option<String>, Option<String>) {
        loop {
            if let Seen::Frame(conn, ClientMsg::Join { name, color, room }) = self.next_seen().await
            {
                return (conn, name, color, room);
            }
        }
    }

    /// Waits until connection `conn` is closed by the client; returns the close code.
    pub async fn wait_closed(&mut self, conn: usize) -> Option<u16> {
        loop {
            if let Seen::Closed(c, code) = self.next_seen().await
                && c == conn
            {
                return code;
            }
        }
    }

    /// Sends a frame on every open connection.
    pub fn send_all(&self, msg: &ServerMsg) {
        self.send_raw_all(Message::text(msg.encode()));
    }

    pub fn send_raw_all(&self, msg: Message) {
        for conn in self.conns.lock().unwrap().iter() {
            let _ = conn.send(ConnCmd::Send(msg.clone()));
        }
    }

    /// Closes every connection with a close frame.
    pub fn close_all(&self, code: u16, reason: &str) {
        for conn in self.conns.lock().unwrap().iter() {
            let _ = conn.send(ConnCmd::Close(code, reason.to_string()));
        }
    }

    /// Kills the server like a crash: listener and every socket gone, no close frames.
    pub fn stop(&self) {
        if let Some(task) = &self.accept_task {
            task.abort();
        }
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Stops and waits until the port is free again.
    pub async fn stop_and_wait(mut self) -> u16 {
        self.stop();
        if let Some(task) = self.accept_task.take() {
            let _ = task.await;
        }
        self.port()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve_conn(
    id: usize,
    tcp: TcpStream,
    mode: Mode,
    seen_tx: mpsc::UnboundedSender<Seen>,
    mut cmd_rx: mpsc::UnboundedReceiver<ConnCmd>,
    pings: Arc<AtomicUsize>,
) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    if mode == Mode::Silent {
        // Read below the WebSocket layer, so nothing is ever answered: pings go unanswered.
        count_raw_pings(ws.get_mut(), &pings).await;
        // Then hold the socket open.
        std::future::pending::<()>().await;
    }
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let Ok(msg) = ClientMsg::decode(&text) else { continue };
                    if let ClientMsg::Join { name, color, room } = &msg {
                        let welcome = ServerMsg::Welcome(Welcome {
                            name: name.clone(),
                            color: color.clone().unwrap_or_else(|| "1".into()),
                            room: room.clone().unwrap_or_else(|| "main".into()),
                            max_text: Some(2000),
                        });
                        let _ = ws.send(Message::text(welcome.encode())).await;
                    }
                    let _ = seen_tx.send(Seen::Frame(id, msg));
                }
                Some(Ok(Message::Close(frame))) => {
                    let _ = seen_tx.send(Seen::Closed(id, frame.map(|f| u16::from(f.code))));
                    // Let tungstenite send its answering close frame.
                    let _ = tokio::time::timeout(Duration::from_secs(1), ws.next()).await;
                    return;
                }
                Some(Ok(Message::Ping(_))) => {
                    // tungstenite queues the pong itself.
                    pings.fetch_add(1, Ordering::SeqCst);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    let _ = seen_tx.send(Seen::Closed(id, None));
                    return;
                }
            },
            cmd = cmd_rx.recv() => match cmd {
                Some(ConnCmd::Send(msg)) => {
                    let _ = ws.send(msg).await;
                }
                Some(ConnCmd::Close(code, reason)) => {
                    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                    let _ = ws.close(Some(frame)).await;
                }
                None => return,
            },
        }
    }
}

/// Reads client frames off the raw socket until it ends, counting pings; answers nothing.
async fn count_raw_pings(tcp: &mut TcpStream, pings: &AtomicUsize) {
    let mut pending = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
        while let Some((opcode, len)) = frame_extent(&pending) {
            if pending.len() < len {
                break;
            }
            if opcode == 0x9 {
                pings.fetch_add(1, Ordering::SeqCst);
            }
            pending.drain(..len);
        }
    }
}

/// The opcode and whole length (header, mask, payload) of the WebSocket frame at the start of
/// `buf`, once its header is complete (RFC 6455 §5.2).
fn frame_extent(buf: &[u8]) -> Option<(u8, usize)> {
    let (&first, &second) = (buf.first()?, buf.get(1)?);
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    let (header, payload) = match second & 0x7f {
        126 => (
            4,
            usize::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
        ),
        127 => (
            10,
            usize::try_from(u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)).ok()?,
        ),
        short => (2, usize::from(short)),
    };
    Some((first & 0x0f, header + mask + payload))
}

/// A port on 127.0.0.1 where nothing listens (bound once, then released).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A plain TCP endpoint that reads what the client sends first and answers with `response`.
pub async fn raw_endpoint(response: &'static str) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf)).await;
                let _ = tcp.write_all(response.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    (addr, task)
}

/// A certificate authority made for one test, and a server certificate for 127.0.0.1.
pub struct TestPki {
    pub ca_cert: CertificateDer<'static>,
    pub server_cert: CertificateDer<'static>,
    /// PKCS#8 DER.
    pub server_key: Vec<u8>,
    /// The leaf and its key as PEM, for `clicom serve --tls-cert/--tls-key`.
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

impl TestPki {
    /// A CA and a leaf signed by it, valid for the IP address 127.0.0.1.
    pub fn new() -> TestPki {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Clicom test CA");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        TestPki {
            ca_cert: ca.der().clone(),
            server_cert: leaf.der().clone(),
            server_key: leaf_key.serialize_der(),
            server_cert_pem: leaf.pem(),
            server_key_pem: leaf_key.serialize_pem(),
        }
    }
}

/// A `wss://` server on 127.0.0.1 presenting `pki`'s certificate; each accepted WebSocket's
/// first text frame (the join) is forwarded to the returned channel.
pub async fn tls_server(pki: &TestPki) -> (String, mpsc::UnboundedReceiver<ClientMsg>) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![pki.server_cert.clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (joins_tx, joins_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let joins_tx = joins_tx.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                first_frame_to(tls, joins_tx).await;
            });
        }
    });
    (format!("wss://{addr}/ws"), joins_rx)
}

async fn first_frame_to<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    joins_tx: mpsc::UnboundedSender<ClientMsg>,
) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    while let Some(Ok(frame)) = ws.next().await {
        if let Message::Text(text) = frame
            && let Ok(msg) = ClientMsg::decode(&text)
        {
            let _ = joins_tx.send(msg);
        }
    }
}
