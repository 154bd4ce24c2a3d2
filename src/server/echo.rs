//! The conformance echo (`clicom serve --conformance-echo`, path `/echo`): sends every text and
//! binary message straight back, so the Autobahn suite can drive our WebSocket stack. It runs
//! on the same accept loop, admission, upgrade settings (read buffer, frame and message limits)
//! and close-code mapping as `/ws`; only the hub is left out. Off unless asked for.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::connection::{self, ConnectionConfig, End};
use super::http::Socket;
use super::hub::ConnId;

/// Silence after which an echo connection is dropped when pings are off.
const IDLE_WITHOUT_PINGS: Duration = Duration::from_secs(60);

/// Echoes until the peer closes, breaks a rule (answered with the same close codes as `/ws`:
/// 1009 too big, 1007 invalid UTF-8, 1002 protocol error), or stays silent too long.
pub(super) async fn run(mut ws: Socket, conn: ConnId, config: &ConnectionConfig) {
    let idle = config
        .ping_interval
        .map_or(IDLE_WITHOUT_PINGS, |every| every + config.ping_timeout);
    tracing::debug!(conn, "echo connection open");
    loop {
        let incoming = match timeout(idle, ws.next()).await {
            Ok(incoming) => incoming,
            Err(_) => {
                tracing::debug!(conn, "echo connection idle, dropped");
                return;
            }
        };
        let reply = match incoming {
            None => return,
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message,
            // Pings are answered and closes completed by the library; the stream ends after a close.
            Some(Ok(
                Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_),
            )) => {
                continue;
            }
            Some(Err(e)) => {
                if let End::Broken { code, reason, .. } =
                    connection::broken(conn, e, config.max_frame_bytes)
                {
                    let close = Message::Close(Some(CloseFrame {
                        code: code.into(),
                        reason: reason.into(),
                    }));
                    let _ = timeout(config.write_timeout, ws.send(close)).await;
                }
                return;
            }
        };
        match timeout(config.write_timeout, ws.send(reply)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}
