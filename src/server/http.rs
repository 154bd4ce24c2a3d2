//! The HTTP face of the server: the axum routes (`/ws`, `/ws/<room>`, `/health`, and the web
//! page at `/` with its `/assets/`) and the per-TCP-connection hyper driver (over TLS for
//! `wss://`) with its handshake timeout. WebSocket upgrades are checked here (the page's
//! `Origin`), configured (small read buffer, frame limit) and handed to the connection task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tower::Service;

use super::ServerOptions;
use super::admission::{ConnectionTable, Slot};
use super::connection;
use super::hub::{HubCmd, HubStats, Peer};
use super::socket::BatchingIo;
use crate::protocol::{ErrorCode, ServerMsg};
use crate::text::validate_room;

/// What every request handler can reach.
pub(crate) struct Shared {
    pub hub_tx: mpsc::Sender<HubCmd>,
    pub stats: Arc<HubStats>,
    pub table: Arc<ConnectionTable>,
    pub started: Instant,
    pub next_conn: AtomicU64,
    /// The settings in force, replaced when they are reloaded: each new connection reads its
    /// limits here.
    pub settings: watch::Receiver<Arc<ServerOptions>>,
}

/// A server WebSocket as the connection task holds it.
pub(crate) type Socket = WebSocketStream<BatchingIo<TokioIo<hyper::upgrade::Upgraded>>>;

/// Per-TCP-connection facts, attached to each of its requests.
#[derive(Clone)]
struct ConnMeta {
    peer: SocketAddr,
    /// Held by the WebSocket task after an upgrade, so the place stays taken.
    slot: Arc<Slot>,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let router = Router::new()
        .route("/", get(page))
        .route("/assets/{file}", get(asset))
        .route("/health", get(health))
        .route("/ws", get(ws_default))
        .route("/ws/{room}", get(ws_room));
    let echo = shared.settings.borrow().conformance_echo;
    let router = if echo {
        router.route("/echo", get(ws_echo))
    } else {
        router
    };
    router.with_state(shared)
}

/// The web page, unless `--no-web` (read live, so a reload can turn it on or off).
async fn page(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !shared.settings.borrow().web {
        return StatusCode::NOT_FOUND.into_response();
    }
    super::web::page(&headers)
}

async fn asset(
    State(shared): State<Arc<Shared>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !shared.settings.borrow().web {
        return StatusCode::NOT_FOUND.into_response();
    }
    super::web::asset(&file, &headers)
}

async fn health(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let stats = &shared.stats;
    let degraded = stats.history_degraded.load(Ordering::Relaxed);
    axum::Json(serde_json::json!({
        "status": if degraded { "degraded" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": shared.started.elapsed().as_secs(),
        "connections": shared.table.total(),
        "users": stats.users.load(Ordering::Relaxed),
        "rooms": stats.rooms.load(Ordering::Relaxed),
        "history": if degraded { "degraded" } else { "ok" },
    }))
}

async fn ws_default(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    upgrade(req, shared, Endpoint::Chat(None))
}

async fn ws_echo(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    upgrade(req, shared, Endpoint::Echo)
}

async fn ws_room(
    Path(room): Path<String>,
    State(shared): State<Arc<Shared>>,
    req: Request,
) -> Response {
    match validate_room(&room) {
        Ok(room) => upgrade(req, shared, Endpoint::Chat(Some(room))),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            format!("Invalid room name: {e}.\n"),
        )
            .into_response(),
    }
}

/// What an upgraded connection talks to.
enum Endpoint {
    /// The chat hub, starting in this room (or the one the join names).
    Chat(Option<String>),
    /// The conformance echo: every message straight back.
    Echo,
}

/// Whether header `name` lists `token` (comma-separated, case-insensitive).
fn header_has_token(req: &Request, name: header::HeaderName, token: &str) -> bool {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn bad_request(why: &'static str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response()
}

/// Answers a WebSocket handshake (RFC 6455 §4.2) and starts the connection task on the
/// upgraded stream. Done here rather than by axum's extractor so that the connection owns a
/// tokio-tungstenite stream over [`BatchingIo`], whose write memory it can give back.
fn upgrade(mut req: Request, shared: Arc<Shared>, endpoint: Endpoint) -> Response {
    let foreign = matches!(endpoint, Endpoint::Chat(_))
        && !super::origin::allowed(&shared.settings.borrow().allowed_origins, req.headers());
    if foreign {
        tracing::info!(
            origin = ?req.headers().get(header::ORIGIN),
            host = ?req.headers().get(header::HOST),
            "WebSocket from a foreign page refused"
        );
        return (
            StatusCode::FORBIDDEN,
            "This server does not accept chat connections from pages of other sites \
             (its operator can allow one with --allow-origin).\n",
        )
            .into_response();
    }
    if !header_has_token(&req, header::CONNECTION, "upgrade")
        || !header_has_token(&req, header::UPGRADE, "websocket")
    {
        return bad_request("This is a WebSocket endpoint: connect with a WebSocket client.");
    }
    if req
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return (
            StatusCode::UPGRADE_REQUIRED,
            [(header::SEC_WEBSOCKET_VERSION, "13")],
            "Unsupported WebSocket version; this server speaks version 13.\n",
        )
            .into_response();
    }
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return bad_request("The WebSocket handshake lacks Sec-WebSocket-Key.");
    };
    let accept = derive_accept_key(key.as_bytes());
    let Some(meta) = req.extensions().get::<ConnMeta>().cloned() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no connection data\n").into_response();
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<OnUpgrade>() else {
        return (
            StatusCode::UPGRADE_REQUIRED,
            "This connection cannot be upgraded to a WebSocket.\n",
        )
            .into_response();
    };
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let settings = Arc::clone(&shared.settings.borrow());
    let config = WebSocketConfig::default()
        .read_buffer_size(settings.read_buffer_bytes)
        // Every frame goes straight to `BatchingIo`, which does the batching.
        .write_buffer_size(0)
        .max_frame_size(Some(settings.max_frame_bytes))
        .max_message_size(Some(settings.max_frame_bytes));
    let connection = settings.connection_config();
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(conn, error = %e, "WebSocket upgrade failed");
                return;
            }
        };
        let io = BatchingIo::new(TokioIo::new(upgraded));
        let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        let ConnMeta { peer, slot } = meta;
        match endpoint {
            _ if slot.is_refusal() => refuse(socket, settings.max_per_ip).await,
            Endpoint::Echo => super::echo::run(socket, conn, &connection).await,
            Endpoint::Chat(room) => {
                let peer = Peer {
                    ip: peer.ip(),
                    room,
                };
                connection::run(socket, conn, peer, shared.hub_tx.clone(), &connection).await;
            }
        }
        drop(slot);
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, "upgrade"),
            (header::UPGRADE, "websocket"),
        ],
        [(header::SEC_WEBSOCKET_ACCEPT, accept)],
    )
        .into_response()
}

/// Tells a connection over its address's limit why it is closed, in words old clients show.
async fn refuse(mut socket: Socket, limit: usize) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    let text = format!("Too many connections from your address (the limit is {limit}).");
    let frames = [
        ServerMsg::error(ErrorCode::TooManyConnections, text.clone()),
        ServerMsg::system(text),
    ];
    let goodbye = async {
        for frame in frames {
            socket.feed(Message::text(frame.encode())).await?;
        }
        socket
            .feed(Message::Close(Some(CloseFrame {
                code: super::hub::close_code::POLICY.into(),
                reason: "too many connections".into(),
            })))
            .await?;
        socket.flush().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), goodbye).await;
}

/// Serves one accepted TCP connection: the TLS handshake when `tls` is given, then HTTP/1.1
/// until it upgrades to a WebSocket (which then lives in its own task) or the handshake time,
/// one deadline for TLS and HTTP together, runs out. Everything happens in a new task, so a
/// slow handshake never holds up the accept loop.
pub(crate) fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    router: Router,
    handshake_timeout: Duration,
    tls: Option<&TlsAcceptor>,
    stopping: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let meta = ConnMeta {
        peer,
        slot: Arc::new(slot),
    };
    match tls {
        None => {
            tokio::spawn(serve_http(
                std::future::ready(Ok(stream)),
                meta,
                router,
                handshake_timeout,
                stopping,
            ));
        }
        Some(acceptor) => {
            tokio::spawn(serve_http(
                acceptor.accept(stream),
                meta,
                router,
                handshake_timeout,
                stopping,
            ));
        }
    }
}

/// Drives hyper over the stream `io` yields: the TCP stream itself for `ws://`, or the TLS
/// handshake's result for `wss://`. Generic so that plain connections pay nothing for TLS.
async fn serve_http<I>(
    io: impl Future<Output = std::io::Result<I>>,
    meta: ConnMeta,
    router: Router,
    handshake_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let peer = meta.peer;
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(meta.clone());
        router.clone().call(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(handshake_timeout)
        .max_buf_size(16 * 1024);
    let handshake = async {
        let io = match io.await {
            Ok(io) => io,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
        };
        let http = builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        if let Err(e) = http.await {
            tracing::debug!(%peer, error = %e, "HTTP connection error");
        }
    };
    tokio::select! {
        served = tokio::time::timeout(handshake_timeout, handshake) => {
            if served.is_err() {
                tracing::debug!(%peer, "handshake timed out");
            }
        }
        _ = stopping.wait_for(|stop| *stop) => {}
    }
}
