//! The client's side of file transfer over the server's HTTP endpoints (docs/PROTOCOL.md,
//! *File transfer*): an upload announced with its size and SHA-256, then streamed from where
//! the server says it stopped, resuming after a dropped connection; a download resumed with
//! `Range` and verified before it is given its name. Progress arrives as [`TransferEvent`]s;
//! a `watch` flag cancels. The HTTP is hyper's client over one TCP (or TLS) connection per
//! request, enough for a handful of requests per file.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::http::{HeaderMap, Method, Request, Uri, header};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use super::digest::VerifyError;
use super::extract::{ExtractError, ExtractLimits};
use super::pack::PackError;

mod download;
mod meter;
mod source;
mod upload;

pub use download::{DownloadRequest, Downloaded, download};
pub use meter::{Meter, Progress};
pub use source::{Prepared, Source, prepare};
pub use upload::{Uploaded, upload};

/// Failed attempts in a row (no byte moved between them) before a transfer gives up.
pub const MAX_ATTEMPTS: u32 = 6;

/// Where the file endpoints are, and the session token uploads are made with.
#[derive(Clone)]
pub struct Endpoint {
    host: String,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
    token: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// The server at `base`: `http://HOST:PORT`, `https://HOST[:PORT]`, or the chat's own
    /// `ws://…` / `wss://…` URL (its path is ignored). `tls` is the client configuration for
    /// `https`/`wss` (`client::tls::client_config`).
    pub fn new(
        base: &str,
        token: impl Into<String>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Endpoint, TransferError> {
        let bad = || TransferError::BadUrl(base.to_owned());
        let uri: Uri = base.parse().map_err(|_| bad())?;
        let secure = match uri.scheme_str() {
            Some("http" | "ws") => false,
            Some("https" | "wss") => true,
            _ => return Err(bad()),
        };
        let host = uri.host().ok_or_else(bad)?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let tls = match (secure, tls) {
            (false, _) => None,
            (true, Some(tls)) => Some(tls),
            (true, None) => Some(crate::client::tls::client_config(&[])),
        };
        Ok(Endpoint {
            host,
            port,
            tls,
            token: token.into(),
        })
    }

    /// Sends one request on a new connection and returns the answer's head and body.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(header::HeaderName, String)],
        body: Body,
    ) -> Result<hyper::Response<Incoming>, TransferError> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| TransferError::Network(format!("cannot connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let authority = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, authority)
            .header(
                header::USER_AGENT,
                concat!("clicom/", env!("CARGO_PKG_VERSION")),
            );
        if !self.token.is_empty() {
            req = req.header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        }
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req
            .body(body)
            .map_err(|e| TransferError::Network(e.to_string()))?;
        let net = |e: hyper::Error| TransferError::Network(e.to_string());
        match &self.tls {
            None => {
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                    .await
                    .map_err(net)?;
                tokio::spawn(conn);
                sender.send_request(req).await.map_err(net)
            }
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|_| TransferError::BadUrl(self.host.clone()))?;
                let stream = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| TransferError::Network(format!("TLS: {e}")))?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(net)?;
                tokio::spawn(conn);
                sender.send_request(req).await.map_err(net)
            }
        }
    }
}

/// A request body: empty, a few bytes, or a stream.
pub(crate) type Body = BoxBody<Bytes, io::Error>;

pub(crate) fn empty() -> Body {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed()
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn streamed(rx: mpsc::Receiver<io::Result<Bytes>>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item.map(Frame::data), rx))
    });
    BodyExt::boxed(StreamBody::new(stream))
}

/// What a transfer reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum TransferEvent {
    /// The server accepted the upload; keep the id to resume it later ([`upload`]'s `resume`).
    Started {
        upload: String,
    },
    Progress(Progress),
    /// A connection failed; the transfer goes on from where the server is after `delay`.
    Retrying {
        attempt: u32,
        delay: Duration,
        reason: String,
    },
}

/// Why a transfer stopped.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("not a server address: {0}")]
    BadUrl(String),
    /// The server said no (too large, over quota, rate limited, unknown file …).
    #[error("the server refused: {text} ({code})")]
    Refused {
        status: u16,
        code: String,
        text: String,
    },
    #[error("network: {0}")]
    Network(String),
    #[error("{0}")]
    Local(#[from] io::Error),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error("the received file is damaged: {0}")]
    Verify(#[from] VerifyError),
    #[error("the received folder was refused: {0}")]
    Extract(#[from] ExtractError),
    #[error("cancelled")]
    Cancelled,
}

impl TransferError {
    /// Worth trying again: a network fault or the server's own (5xx) trouble.
    fn is_transient(&self) -> bool {
        match self {
            TransferError::Network(_) => true,
            TransferError::Refused { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A server's refusal body.
#[derive(Debug, Deserialize)]
struct RefusalBody {
    error: String,
    text: String,
}

/// Reads a whole (small) answer body.
pub(crate) async fn read_body(res: hyper::Response<Incoming>) -> Result<Bytes, TransferError> {
    Ok(res
        .into_body()
        .collect()
        .await
        .map_err(|e| TransferError::Network(e.to_string()))?
        .to_bytes())
}

/// The refusal an error status carries.
async fn refusal(res: hyper::Response<Incoming>) -> TransferError {
    let status = res.status();
    let body = read_body(res).await.unwrap_or_default();
    match serde_json::from_slice::<RefusalBody>(&body) {
        Ok(r) => TransferError::Refused {
            status: status.as_u16(),
            code: r.error,
            text: crate::text::sanitize_line(&r.text).into_owned(),
        },
        Err(_) => TransferError::Refused {
            status: status.as_u16(),
            code: status.as_str().to_owned(),
            text: status.canonical_reason().unwrap_or("error").to_owned(),
        },
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}

/// Waits `delay` unless cancelled first (then false).
async fn pause(delay: Duration, cancel: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = cancelled(cancel) => false,
    }
}

/// Returns once the flag is set (never, if its sender is gone without setting it).
async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; it must not live across another await.
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The wait before retry `attempt` (1-based): 0.5 s, 1 s, 2 s … up to 8 s.
fn retry_delay(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.saturating_sub(1).min(4))
}

/// A handle on a spawned transfer: its events (the last one says how it ended) and a cancel.
pub struct TransferHandle<T> {
    pub events_rx: mpsc::Receiver<TransferEvent>,
    cancel_tx: watch::Sender<bool>,
    pub done: tokio::task::JoinHandle<Result<T, TransferError>>,
}

impl<T> TransferHandle<T> {
    /// Stops the transfer (an upload is also forgotten by the server).
    pub fn cancel(&self) {
        let _ = self.cancel_tx.send(true);
    }
}

/// Spawns [`upload`] on the runtime.
pub fn spawn_upload(
    endpoint: Endpoint,
    prepared: Prepared,
    resume: Option<String>,
) -> TransferHandle<Uploaded> {
    let (events_tx, events_rx) = mpsc::channel(64);
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let done =
        tokio::spawn(
            async move { upload(&endpoint, &prepared, resume, &events_tx, cancel_rx).await },
        );
    TransferHandle {
        events_rx,
        cancel_tx,
        done,
    }
}

/// Spawns [`download`] on the runtime.
pub fn spawn_download(
    endpoint: Endpoint,
    request: DownloadRequest,
    download_dir: PathBuf,
    limits: ExtractLimits,
) -> TransferHandle<Downloaded> {
    let (events_tx, events_rx) = mpsc::channel(64);
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let done = tokio::spawn(async move {
        download(
            &endpoint,
            &request,
            &download_dir,
            limits,
            &events_tx,
            cancel_rx,
        )
        .await
    });
    TransferHandle {
        events_rx,
        cancel_tx,
        done,
    }
}

/// A path for error messages.
fn shown(path: &Path) -> String {
    crate::text::sanitize_line(&path.display().to_string()).into_owned()
}

/// Reports progress now and then while `fut` runs, reading the count `done` keeps.
async fn with_progress<T>(
    fut: impl std::future::Future<Output = T>,
    done: &std::sync::atomic::AtomicU64,
    total: u64,
    meter: &mut Meter,
    events: &mpsc::Sender<TransferEvent>,
) -> T {
    tokio::pin!(fut);
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            out = &mut fut => {
                let now = done.load(std::sync::atomic::Ordering::Relaxed);
                let _ = events.try_send(TransferEvent::Progress(meter.sample(Instant::now(), now, total)));
                return out;
            }
            _ = ticks.tick() => {
                let now = done.load(std::sync::atomic::Ordering::Relaxed);
                // A full queue means the UI is behind; a later sample says the same, fresher.
                let _ = events.try_send(TransferEvent::Progress(meter.sample(Instant::now(), now, total)));
            }
        }
    }
}

#[cfg(test)]
mod tests;
