//! One simulated client's connection: TCP (optionally from a chosen loopback source address),
//! the WebSocket handshake with small buffers, and the join. "Joined" means the server sent
//! `welcome`, or — for servers that predate it, like the original Python one — the first
//! `active_users` that lists our name.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::target::Target;
use super::wire;
use crate::protocol::{ClientMsg, ServerMsg};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why one client could not connect or join, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("connect to {addr}: {reason}")]
    Connect { addr: SocketAddr, reason: String },
    #[error("WebSocket handshake: {0}")]
    Handshake(String),
    #[error("join refused: {code}: {text}")]
    Refused { code: String, text: String },
    #[error("connection closed before the join was confirmed")]
    Closed,
    #[error(
        "not joined before the deadline ({:.1} s left for this client): the server is slow or \
         overloaded; --join-timeout and --concurrency change the limits",
        .0.as_secs_f64()
    )]
    Timeout(Duration),
}

/// Small buffers: thousands of idle bench connections must not cost the generator 128 KiB each.
/// The write buffer lets a sender queue a batch of frames and write them with one flush.
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(16 * 1024)
}

/// Opens the TCP connection and performs the WebSocket handshake.
pub async fn connect(target: &Target, source: Option<IpAddr>) -> Result<Ws, ClientError> {
    let addr = target.addr;
    let io_err = |e: std::io::Error| ClientError::Connect {
        addr,
        reason: describe_io(&e),
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(io_err)?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).map_err(io_err)?;
    }
    let stream = socket.connect(addr).await.map_err(io_err)?;
    stream.set_nodelay(true).map_err(io_err)?;
    let (ws, _response) = tokio_tungstenite::client_async_tls_with_config(
        target.url.as_str(),
        stream,
        Some(client_config()),
        None,
    )
    .await
    .map_err(|e| ClientError::Handshake(describe_ws(&e)))?;
    Ok(ws)
}

/// Sends `join` and waits until the server confirms it. Frames before the confirmation
/// (history, system lines) are skipped.
pub async fn join(
    ws: &mut Ws,
    name: &str,
    color: &str,
    room: Option<&str>,
    timeout: Duration,
) -> Result<(), ClientError> {
    let join = ClientMsg::Join {
        name: name.to_string(),
        color: Some(color.to_string()),
        room: room.map(str::to_string),
    };
    let wait = async {
        ws.send(Message::text(join.encode()))
            .await
            .map_err(|e| ClientError::Handshake(describe_ws(&e)))?;
        while let Some(frame) = ws.next().await {
            let text = match frame {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(_)) | Err(_) => return Err(ClientError::Closed),
                Ok(_) => continue,
            };
            match wire::frame_type(&text) {
                Some("welcome") => return Ok(()),
                Some("active_users") if wire::lists_name(&text, name) => return Ok(()),
                Some("error") => return Err(refusal(&text)),
                _ => {}
            }
        }
        Err(ClientError::Closed)
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
}

/// Connects and joins within `timeout`.
pub async fn connect_and_join(
    target: &Target,
    source: Option<IpAddr>,
    name: &str,
    color: &str,
    room: Option<&str>,
    timeout: Duration,
) -> Result<Ws, ClientError> {
    let started = tokio::time::Instant::now();
    let mut ws = tokio::time::timeout(timeout, connect(target, source))
        .await
        .map_err(|_| ClientError::Timeout(timeout))??;
    let left = timeout.saturating_sub(started.elapsed());
    join(&mut ws, name, color, room, left).await?;
    Ok(ws)
}

/// An `error` frame is rare, so it is decoded properly.
fn refusal(frame: &str) -> ClientError {
    match ServerMsg::decode(frame) {
        Ok(Some(ServerMsg::Error { code, text })) => ClientError::Refused {
            code: code.to_string(),
            text: crate::text::sanitize_line(&text).into_owned(),
        },
        _ => ClientError::Refused {
            code: "unknown".into(),
            text: crate::text::sanitize_line(&frame.chars().take(200).collect::<String>())
                .into_owned(),
        },
    }
}

fn describe_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused (is the server running?)".into(),
        ErrorKind::AddrNotAvailable => {
            "no free local address/port (add loopback source addresses with --source-ips)".into()
        }
        _ if e.raw_os_error() == Some(24) => {
            "too many open files (split the load over several processes)".into()
        }
        _ => e.to_string(),
    }
}

fn describe_ws(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Io(io) => describe_io(io),
        tungstenite::Error::Http(response) => format!(
            "HTTP {} (is the path right? Clicom serves WebSockets at /ws)",
            response.status()
        ),
        other => other.to_string(),
    }
}
