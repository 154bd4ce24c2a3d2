//! One WebSocket connection's task: decodes frames for the hub, writes the hub's frames in
//! batches (several frames per socket write), keeps the link alive with pings, and ends the
//! connection with the right close code. It owns the socket; it never sees other connections.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{self, Message};

use super::http::Socket;
use super::hub::{Close, ConnId, ConnectionHandle, Frame, HubCmd, Peer, close_code};
use super::socket::{MAX_FRAGMENT, fragments};
use crate::protocol::{ClientMsg, ErrorCode, ServerMsg};

/// The per-connection knobs (shared by all connections).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionConfig {
    /// Frames the hub may queue for this connection before it counts as not reading.
    pub queue: usize,
    /// Frames written per flush at most.
    pub batch: usize,
    /// How long one batch may take to write before the peer counts as gone.
    pub write_timeout: Duration,
    /// Ping after this much silence from the peer; `None` never pings.
    pub ping_interval: Option<Duration>,
    /// Drop the connection when nothing arrives this long after a ping.
    pub ping_timeout: Duration,
    /// The frame size limit, quoted in the `frame_too_large` error.
    pub max_frame_bytes: usize,
}

/// How long to wait for the peer's half of a closing handshake.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Why the read/write loop ended.
pub(super) enum End {
    /// The peer closed or vanished; nothing more to say.
    PeerGone,
    /// Asked by the hub, or by the server stopping.
    Closed(Close),
    /// A frame broke a limit or the protocol: answer (maybe) and close with this code.
    Broken {
        code: u16,
        reason: &'static str,
        error: Option<ServerMsg>,
    },
    /// The peer stopped answering pings or stopped reading our writes.
    Unresponsive(&'static str),
}

/// Runs one connection until it ends, then tells the hub.
pub(crate) async fn run(
    mut ws: Socket,
    conn: ConnId,
    peer: Peer,
    hub_tx: mpsc::Sender<HubCmd>,
    config: &ConnectionConfig,
) {
    let (frames_tx, mut frames_rx) = mpsc::channel(config.queue.max(1));
    let (close_tx, mut close_rx) = oneshot::channel();
    let ip = peer.ip;
    let registered = hub_tx
        .send(HubCmd::Connect {
            conn,
            peer,
            handle: ConnectionHandle::new(frames_tx, close_tx),
        })
        .await;
    if registered.is_err() {
        // The hub is gone: the server is stopping.
        let _ = timeout(
            CLOSE_GRACE,
            ws.send(close(close_code::GOING_AWAY, "server shutting down")),
        )
        .await;
        return;
    }
    tracing::debug!(conn, %ip, "connection open");

    let end = serve(
        &mut ws,
        conn,
        &hub_tx,
        &mut frames_rx,
        &mut close_rx,
        config,
    )
    .await;
    // Tell the hub first, so the room hears of the leave without waiting for our goodbye.
    let _ = hub_tx.send(HubCmd::Disconnect { conn }).await;
    drop(hub_tx);

    match end {
        End::PeerGone => tracing::debug!(conn, "connection closed by the peer"),
        End::Unresponsive(why) => {
            tracing::info!(conn, %ip, why, "dropping an unresponsive connection")
        }
        End::Closed(how) => {
            let mut goodbye = Vec::new();
            if how.drain {
                while let Ok(frame) = frames_rx.try_recv() {
                    goodbye.push(Message::Text(frame));
                }
            }
            goodbye.push(close(how.code, how.reason));
            finish(&mut ws, goodbye, config.write_timeout.min(CLOSE_GRACE)).await;
        }
        End::Broken {
            code,
            reason,
            error,
        } => {
            tracing::info!(conn, %ip, code, reason, "closing a connection that broke the rules");
            let mut goodbye = Vec::new();
            if let Some(error) = error {
                goodbye.push(Message::text(error.encode()));
            }
            goodbye.push(close(code, reason));
            // The socket may hold the rest of a refused frame: say goodbye, do not read on.
            let _ = timeout(CLOSE_GRACE, write_all(&mut ws, goodbye)).await;
        }
    }
}

/// The read/write loop.
async fn serve(
    ws: &mut Socket,
    conn: ConnId,
    hub_tx: &mpsc::Sender<HubCmd>,
    frames_rx: &mut mpsc::Receiver<Frame>,
    close_rx: &mut oneshot::Receiver<Close>,
    config: &ConnectionConfig,
) -> End {
    // A decoded frame waiting for room in the hub's channel; reading pauses meanwhile, which
    // pushes back on a sender that outpaces the hub, while writes carry on.
    let mut pending: Option<HubCmd> = None;
    let mut keepalive = Keepalive::new(config.ping_interval, config.ping_timeout);
    let ping_timer = sleep_until(keepalive.deadline());
    tokio::pin!(ping_timer);
    loop {
        tokio::select! {
            biased;
            how = &mut *close_rx => {
                return End::Closed(how.unwrap_or(Close {
                    code: close_code::GOING_AWAY,
                    reason: "server shutting down",
                    drain: false,
                }));
            }
            frame = frames_rx.recv() => {
                let Some(frame) = frame else {
                    return End::Closed(Close {
                        code: close_code::GOING_AWAY,
                        reason: "server shutting down",
                        drain: false,
                    });
                };
                // Boxed: only a connection that is writing holds this future's state, so an
                // idle connection's task stays small.
                let write = Box::pin(timeout(
                    config.write_timeout,
                    write_batch(ws, frame, frames_rx, config.batch),
                ));
                tokio::select! {
                    written = write => match written {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return End::PeerGone,
                        Err(_) => return End::Unresponsive("write timed out"),
                    },
                    how = &mut *close_rx => {
                        return End::Closed(how.unwrap_or(Close {
                            code: close_code::GOING_AWAY,
                            reason: "server shutting down",
                            drain: false,
                        }));
                    }
                }
            }
            permit = hub_tx.reserve(), if pending.is_some() => {
                let (Ok(permit), Some(cmd)) = (permit, pending.take()) else {
                    return End::Closed(Close {
                        code: close_code::GOING_AWAY,
                        reason: "server shutting down",
                        drain: false,
                    });
                };
                permit.send(cmd);
            }
            incoming = ws.next(), if pending.is_none() => {
                if keepalive.heard(Instant::now()) {
                    ping_timer.as_mut().reset(keepalive.deadline());
                }
                match incoming {
                    None => return End::PeerGone,
                    Some(Err(e)) => return broken(conn, e, config.max_frame_bytes),
                    Some(Ok(Message::Text(text))) => {
                        pending = Some(match ClientMsg::decode(&text) {
                            Ok(msg) => HubCmd::Frame { conn, msg },
                            Err(e) => HubCmd::Refused { conn, code: e.code(), text: e.to_string() },
                        });
                    }
                    Some(Ok(Message::Binary(_))) => {
                        pending = Some(HubCmd::Refused {
                            conn,
                            code: ErrorCode::BinaryUnsupported,
                            text: "Binary frames are not supported; send JSON text frames.".into(),
                        });
                    }
                    // Pongs are answered by the library; both only prove the peer is alive.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    // The library answers the close; the stream ends right after.
                    Some(Ok(Message::Close(_))) => {}
                    // Raw frames are never yielded by reads.
                    Some(Ok(Message::Frame(_))) => {}
                }
            }
            () = &mut ping_timer, if keepalive.enabled() => {
                match keepalive.due(Instant::now()) {
                    Due::Wait => {}
                    Due::Ping => {
                        let ping = Box::pin(timeout(
                            config.write_timeout,
                            ws.send(Message::Ping(Bytes::new())),
                        ));
                        match ping.await {
                            Ok(Ok(())) => {}
                            Ok(Err(_)) => return End::PeerGone,
                            Err(_) => return End::Unresponsive("write timed out"),
                        }
                    }
                    Due::Dead => return End::Unresponsive("no answer to ping"),
                }
                ping_timer.as_mut().reset(keepalive.deadline());
            }
        }
    }
}

/// Writes `first` and whatever else is already queued (up to `max` frames), then flushes once:
/// many frames, one socket write. The batch's buffer is freed by the flush.
async fn write_batch(
    ws: &mut Socket,
    first: Frame,
    frames_rx: &mut mpsc::Receiver<Frame>,
    max: usize,
) -> Result<(), tungstenite::Error> {
    ws.get_mut().begin_batch();
    let written = async {
        feed_frame(ws, first).await?;
        for _ in 1..max.max(1) {
            match frames_rx.try_recv() {
                Ok(frame) => feed_frame(ws, frame).await?,
                Err(_) => break,
            }
        }
        ws.flush().await
    }
    .await;
    ws.get_mut().end_batch();
    written
}

/// Queues one text frame, as fragments when it is big (see [`MAX_FRAGMENT`]).
async fn feed_frame(ws: &mut Socket, frame: Frame) -> Result<(), tungstenite::Error> {
    if frame.len() <= MAX_FRAGMENT {
        return ws.feed(Message::Text(frame)).await;
    }
    let parts = fragments(frame.as_str(), MAX_FRAGMENT);
    let last = parts.len() - 1;
    let bytes = Bytes::from(frame);
    for (i, range) in parts.into_iter().enumerate() {
        let opcode = if i == 0 { Data::Text } else { Data::Continue };
        let piece = tungstenite::protocol::frame::Frame::message(
            bytes.slice(range),
            OpCode::Data(opcode),
            i == last,
        );
        ws.feed(Message::Frame(piece)).await?;
    }
    Ok(())
}

async fn write_all(ws: &mut Socket, messages: Vec<Message>) -> Result<(), tungstenite::Error> {
    for message in messages {
        ws.feed(message).await?;
    }
    ws.flush().await
}

/// Sends the last frames and the close frame, then waits briefly for the peer's close.
async fn finish(ws: &mut Socket, goodbye: Vec<Message>, write_timeout: Duration) {
    match timeout(write_timeout, write_all(ws, goodbye)).await {
        Ok(Ok(())) => {}
        _ => return,
    }
    let _ = timeout(CLOSE_GRACE, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code: code.into(),
        reason: reason.into(),
    }))
}

/// Maps a read error to how the connection ends.
pub(super) fn broken(conn: ConnId, error: tungstenite::Error, max_frame_bytes: usize) -> End {
    match error {
        tungstenite::Error::Capacity(e) => End::Broken {
            code: close_code::TOO_BIG,
            reason: "frame too large",
            error: Some(ServerMsg::error(
                ErrorCode::FrameTooLarge,
                format!("Frame too large ({e}); the limit is {max_frame_bytes} bytes."),
            )),
        },
        tungstenite::Error::Utf8(_) => End::Broken {
            code: close_code::INVALID_PAYLOAD,
            reason: "text frame is not valid UTF-8",
            error: None,
        },
        tungstenite::Error::Protocol(e) => {
            tracing::debug!(conn, error = %e, "WebSocket protocol error");
            End::Broken {
                code: close_code::PROTOCOL_ERROR,
                reason: "protocol error",
                error: None,
            }
        }
        tungstenite::Error::WriteBufferFull(_) => End::Unresponsive("write buffer full"),
        _ => End::PeerGone,
    }
}

/// What the ping timer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    /// The peer spoke recently; check again later.
    Wait,
    /// The peer has been quiet for a ping interval: ping it.
    Ping,
    /// The peer stayed silent for the ping timeout after a ping.
    Dead,
}

/// Keepalive bookkeeping, separate from the socket so it is testable with made-up instants.
/// The timer is re-armed when it fires and when a ping is answered, never per frame.
#[derive(Debug, Clone)]
struct Keepalive {
    interval: Option<Duration>,
    timeout: Duration,
    last_heard: Instant,
    ping_sent: Option<Instant>,
    deadline: Instant,
}

impl Keepalive {
    fn new(interval: Option<Duration>, timeout: Duration) -> Keepalive {
        let now = Instant::now();
        Keepalive {
            interval,
            timeout,
            last_heard: now,
            ping_sent: None,
            // A far deadline when disabled; the timer branch is off anyway.
            deadline: now + interval.unwrap_or(Duration::from_secs(86_400)),
        }
    }

    fn enabled(&self) -> bool {
        self.interval.is_some()
    }

    fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The peer sent something. True when that answered a ping, so the timer must be re-armed
    /// for the next idle interval (otherwise it stays armed for the ping timeout).
    fn heard(&mut self, now: Instant) -> bool {
        self.last_heard = now;
        match (self.interval, self.ping_sent.take()) {
            (Some(interval), Some(_)) => {
                self.deadline = now + interval;
                true
            }
            _ => false,
        }
    }

    fn due(&mut self, now: Instant) -> Due {
        let Some(interval) = self.interval else {
            return Due::Wait;
        };
        if let Some(sent) = self.ping_sent {
            if now >= sent + self.timeout {
                return Due::Dead;
            }
            self.deadline = sent + self.timeout;
            return Due::Wait;
        }
        if now >= self.last_heard + interval {
            self.ping_sent = Some(now);
            self.deadline = now + self.timeout;
            Due::Ping
        } else {
            self.deadline = self.last_heard + interval;
            Due::Wait
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn keepalive_pings_a_quiet_peer_and_gives_up_on_a_silent_one() {
        let mut k = Keepalive::new(Some(s(30)), s(10));
        let t0 = k.last_heard;
        assert_eq!(k.deadline(), t0 + s(30));
        assert_eq!(k.due(t0 + s(30)), Due::Ping);
        assert_eq!(k.deadline(), t0 + s(40));
        assert_eq!(k.due(t0 + s(40)), Due::Dead);
    }

    #[test]
    fn keepalive_waits_while_the_peer_talks() {
        let mut k = Keepalive::new(Some(s(30)), s(10));
        let t0 = k.last_heard;
        k.heard(t0 + s(20));
        assert_eq!(k.due(t0 + s(30)), Due::Wait, "heard 10 s ago");
        assert_eq!(k.deadline(), t0 + s(50));
        assert_eq!(k.due(t0 + s(50)), Due::Ping);
        assert!(k.heard(t0 + s(51)), "the pong re-arms the timer");
        assert_eq!(k.deadline(), t0 + s(81));
        assert!(!k.heard(t0 + s(52)), "later frames do not");
        assert_eq!(k.due(t0 + s(81)), Due::Wait, "heard at 52");
        assert_eq!(k.deadline(), t0 + s(82));
        assert_eq!(k.due(t0 + s(82)), Due::Ping);
    }

    #[test]
    fn keepalive_disabled_never_pings() {
        let mut k = Keepalive::new(None, s(10));
        assert!(!k.enabled());
        assert_eq!(k.due(k.last_heard + s(1_000_000)), Due::Wait);
    }
}
