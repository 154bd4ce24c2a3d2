//! The hub: sole owner of sessions, names and rooms, with plain synchronous methods so that every
//! chat rule is testable without sockets. One task drives it (the actor in [`run`]); connections
//! talk to it through a bounded channel and it answers through each connection's bounded queue
//! with `try_send` — it never waits on a peer. Frames are serialised once and shared.
//!
//! Output is staged per batch and released by [`Hub::flush`], which commits the batch's messages
//! to history first: whatever a client saw broadcast is on disk. Room fan-out ([`Room`]),
//! presence ([`PresenceChanges`]) and storage ([`History`]) sit behind small seams so that a
//! multi-process relay can be added at `Outgoing::Room` without reworking the rules here.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::history::History;
use super::limits::{FloodGuard, FloodPolicy, Verdict};
use super::presence;
use super::resend::{SentDms, is_resend_of};
use super::room::{Member, Room};
use crate::protocol::{
    CID_LEN, ChatMessage, ClientMsg, Color, DEFAULT_ROOM, DirectMessage, ErrorCode, RoomInfo,
    ServerMsg, Welcome, is_valid_cid, now_ms,
};
use crate::text::{
    look_alike_key, name_key, sanitize_line, sanitize_text, validate_name, validate_room,
};

/// Private messages remembered by their cid, so a resend soon after a drop is recognised.
const SENT_DMS: usize = 4096;

/// Identifies one WebSocket connection for its whole life; never reused.
pub type ConnId = u64;

/// One serialised text frame, shared by every recipient (cloning is a reference count).
pub type Frame = Utf8Bytes;

/// How the hub asks a connection to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
    /// Write the frames already queued before the close frame (false for a peer that is not
    /// reading anyway).
    pub drain: bool,
}

/// Close codes the server uses (RFC 6455 §7.4.1).
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// The hub's end of one connection: its outbound queue and the switch that closes it.
#[derive(Debug)]
pub struct ConnectionHandle {
    /// Bounded: when it is full the peer is not keeping up and gets disconnected.
    frames: mpsc::Sender<Frame>,
    /// Taken when the hub closes the connection.
    close: Option<oneshot::Sender<Close>>,
}

impl ConnectionHandle {
    pub fn new(frames: mpsc::Sender<Frame>, close: oneshot::Sender<Close>) -> ConnectionHandle {
        ConnectionHandle {
            frames,
            close: Some(close),
        }
    }

    /// Queues a frame; false if the queue is full (a closed queue is not this peer's fault).
    fn push(&self, frame: &Frame) -> bool {
        !matches!(
            self.frames.try_send(frame.clone()),
            Err(mpsc::error::TrySendError::Full(_))
        )
    }

    fn close(&mut self, close: Close) {
        if let Some(tx) = self.close.take() {
            let _ = tx.send(close);
        }
    }
}

/// Where a connection comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub ip: IpAddr,
    /// The room named in the URL path (`/ws/<room>`), already validated.
    pub room: Option<String>,
}

/// The chat rules' knobs.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// The longest message text, in characters.
    pub max_text_chars: usize,
    pub flood: FloodPolicy,
    /// How long a connection may stay without a successful join.
    pub join_timeout: Duration,
    /// How long presence changes of a room are gathered before they are announced.
    pub presence_window: Duration,
    /// Rooms larger than this gather presence longer (see [`super::presence::window`]) and
    /// send their user list only when the window ends.
    pub presence_full_room: usize,
    /// Messages sent in `history` after a join or room switch.
    pub history_on_join: usize,
    /// The most messages one `history` request returns.
    pub history_page_max: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_text_chars: 2000,
            flood: FloodPolicy::default(),
            join_timeout: Duration::from_secs(30),
            presence_window: Duration::from_millis(40),
            presence_full_room: super::presence::FULL_ROOM,
            history_on_join: 50,
            history_page_max: 200,
        }
    }
}

/// Counters the HTTP side reads for `/health`; written by the hub after every batch.
#[derive(Debug, Default)]
pub struct HubStats {
    pub sessions: AtomicUsize,
    pub users: AtomicUsize,
    pub rooms: AtomicUsize,
    pub history_degraded: AtomicBool,
}

/// Who a joined session is.
#[derive(Debug, Clone)]
struct Identity {
    name: String,
    /// `name_key(name)`: the key in `Hub::names`.
    key: String,
    /// `look_alike_key(name)`: the key in `Hub::look_alikes`.
    alt_key: String,
    color: String,
    room: String,
}

#[derive(Debug)]
struct Session {
    handle: ConnectionHandle,
    peer: Peer,
    identity: Option<Identity>,
    flood: FloodGuard,
}

/// A staged delivery, released in order by [`Hub::flush`].
#[derive(Debug)]
enum Outgoing {
    To(ConnId, Frame),
    /// Every member of the room at release time. Membership changes release staged output
    /// first, so this is also the membership when the event happened.
    Room(String, Frame),
    /// Every member of every room.
    EveryRoom(Frame),
}

pub struct Hub {
    config: HubConfig,
    history: Box<dyn History>,
    sessions: HashMap<ConnId, Session>,
    /// `name_key` of each joined session's name → its connection.
    names: HashMap<String, ConnId>,
    /// `look_alike_key` of each joined session's name → its connection: look-alikes that case
    /// folding hides from `names` (a capital `I` for an `l`).
    look_alikes: HashMap<String, ConnId>,
    rooms: BTreeMap<String, Room>,
    /// The last id handed out per live room (and per emptied room while history is
    /// degraded), so ids keep increasing even when the database cannot be read.
    last_ids: HashMap<String, u64>,
    /// Connections that have not joined yet, with their deadline (in connect order).
    join_deadlines: VecDeque<(Instant, ConnId)>,
    /// Rooms with unannounced presence changes, by when to announce them (windows differ by
    /// room size, so this is ordered by time, not by arrival).
    presence_due: BTreeSet<(Instant, String)>,
    out: Vec<Outgoing>,
    /// Connections the hub has let go of: they still receive what was staged for them, then
    /// their close at the end of the flush.
    closing: Vec<(ConnId, ConnectionHandle, Close)>,
    /// Messages of this batch, committed by `flush` before any of them is delivered.
    unsaved: Vec<ChatMessage>,
    history_degraded: bool,
    /// DMs delivered lately with a cid (DMs are not stored, so resends are recognised here).
    sent_dms: SentDms<Frame>,
    stats: Arc<HubStats>,
}

impl Hub {
    pub fn new(config: HubConfig, history: Box<dyn History>) -> Hub {
        Hub {
            config,
            history,
            sessions: HashMap::new(),
            names: HashMap::new(),
            look_alikes: HashMap::new(),
            rooms: BTreeMap::new(),
            last_ids: HashMap::new(),
            join_deadlines: VecDeque::new(),
            presence_due: BTreeSet::new(),
            out: Vec::new(),
            closing: Vec::new(),
            unsaved: Vec::new(),
            history_degraded: false,
            sent_dms: SentDms::new(SENT_DMS),
            stats: Arc::new(HubStats::default()),
        }
    }

    pub fn stats(&self) -> Arc<HubStats> {
        Arc::clone(&self.stats)
    }

    /// New knobs on a running server (its settings were reloaded). Flood limits apply to every
    /// session at once, the message limit to the next message, the join timeout to later
    /// connections; each live room's remembered history takes its new length.
    pub fn reconfigure(&mut self, config: HubConfig, history_keep: u64, now: Instant) {
        self.history.set_keep(history_keep);
        if config.flood != self.config.flood {
            for session in self.sessions.values_mut() {
                session.flood.set_policy(config.flood, now);
            }
        }
        let resize = config.history_on_join != self.config.history_on_join;
        self.config = config;
        if resize {
            let capacity = self.config.history_on_join;
            let names: Vec<String> = self.rooms.keys().cloned().collect();
            for name in names {
                let stored = self.history.recent(&name, None, capacity);
                let Some(room) = self.rooms.get_mut(&name) else {
                    continue;
                };
                // Messages of this batch are not stored yet: keep them after the stored ones.
                let mut recent = stored.unwrap_or_default();
                let newest = recent.last().and_then(|m| m.id).unwrap_or(0);
                recent.extend(
                    room.recent()
                        .filter(|m| m.id.is_some_and(|id| id > newest))
                        .cloned(),
                );
                room.resize(recent, capacity);
            }
        }
    }

    /// The names in `room`, in join order (empty if there is no such room).
    pub fn users_in(&self, room: &str) -> Vec<String> {
        self.rooms
            .get(room)
            .map_or_else(Vec::new, |r| self.member_names(r))
    }

    /// Rooms that have members, by name.
    pub fn room_names(&self) -> Vec<String> {
        self.rooms.keys().cloned().collect()
    }

    /// A new connection; it must join within the join timeout.
    pub fn connect(&mut self, conn: ConnId, peer: Peer, handle: ConnectionHandle, now: Instant) {
        tracing::debug!(conn, ip = %peer.ip, "session opened");
        self.sessions.insert(
            conn,
            Session {
                handle,
                peer,
                identity: None,
                flood: FloodGuard::new(self.config.flood, now),
            },
        );
        self.join_deadlines
            .push_back((now + self.config.join_timeout, conn));
    }

    /// The connection ended (for whatever reason). Unknown connections are ignored: the hub
    /// may have closed this one already.
    pub fn disconnect(&mut self, conn: ConnId, now: Instant) {
        if !self.sessions.contains_key(&conn) {
            return;
        }
        self.release_staged_output(now);
        if let Some(session) = self.sessions.remove(&conn) {
            self.forget(conn, session.identity, now);
        }
    }

    /// A frame that could not be decoded (or a binary one): refused, but charged to the
    /// sender's rate limit like any other frame.
    pub fn refuse(&mut self, conn: ConnId, code: ErrorCode, text: &str, now: Instant) {
        if self.admit(conn, now) {
            self.error(conn, code, sanitize_line(text).into_owned());
        }
    }

    /// One decoded client frame.
    pub fn handle(&mut self, conn: ConnId, msg: ClientMsg, now: Instant) {
        if !self.admit(conn, now) {
            return;
        }
        let speaks = matches!(
            msg,
            ClientMsg::Message { .. }
                | ClientMsg::Me { .. }
                | ClientMsg::Dm { .. }
                | ClientMsg::Nick { .. }
        );
        if speaks {
            let muted = self
                .sessions
                .get(&conn)
                .and_then(|s| s.flood.muted_for(now));
            if let Some(left) = muted {
                let left = seconds(Duration::from_secs(left.as_secs_f64().ceil() as u64));
                self.error(
                    conn,
                    ErrorCode::Muted,
                    format!("You are muted for flooding; {left} left."),
                );
                return;
            }
        }
        match msg {
            ClientMsg::Join { name, color, room } => self.join(conn, &name, color, room, now),
            ClientMsg::Message {
                text, color, cid, ..
            } => self.say(conn, &text, color, false, cid),
            ClientMsg::Me { text, cid } => self.say(conn, &text, None, true, cid),
            ClientMsg::Who => self.who(conn),
            ClientMsg::Leave => self.leave(conn, now),
            ClientMsg::JoinRoom { room } => self.switch_room(conn, &room, now),
            ClientMsg::Rooms => self.list_rooms(conn),
            ClientMsg::Dm { to, text, cid } => self.dm(conn, &to, &text, cid),
            ClientMsg::Nick { name } => self.nick(conn, &name, now),
            ClientMsg::Color { color } => self.set_color(conn, &color),
            ClientMsg::History {
                room,
                before,
                limit,
            } => self.page_history(conn, room, before, limit),
        }
    }

    /// When [`Hub::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let joins = self.join_deadlines.front().map(|(t, _)| *t);
        let presence = self.presence_due.first().map(|(t, _)| *t);
        match (joins, presence) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Closes connections that did not join in time and announces presence that is due.
    pub fn tick(&mut self, now: Instant) {
        while let Some(&(due, conn)) = self.join_deadlines.front() {
            if due > now {
                break;
            }
            self.join_deadlines.pop_front();
            let pending = self
                .sessions
                .get(&conn)
                .is_some_and(|s| s.identity.is_none());
            if pending {
                let limit = seconds(self.config.join_timeout);
                self.error(
                    conn,
                    ErrorCode::JoinTimeout,
                    format!("No join within {limit}; closing."),
                );
                self.system_to(conn, format!("Disconnected: no join within {limit}."));
                self.kick(
                    conn,
                    Close {
                        code: close_code::POLICY,
                        reason: "join timeout",
                        drain: true,
                    },
                    now,
                );
            }
        }
        while let Some((due, _)) = self.presence_due.first() {
            if *due > now {
                break;
            }
            let Some((_, room)) = self.presence_due.pop_first() else {
                break;
            };
            // A room announced early (before a message) and dirtied again has a later entry.
            let ripe = self
                .rooms
                .get(&room)
                .and_then(|r| r.announce_at)
                .is_some_and(|at| at <= now);
            if ripe {
                self.announce_presence(&room, true);
            }
        }
    }

    /// Commits the batch's messages, then delivers everything staged, in order. A member whose
    /// queue is full is disconnected; nobody else waits for it.
    pub fn flush(&mut self, now: Instant) {
        self.commit();
        let out = std::mem::take(&mut self.out);
        let mut slow = Vec::new();
        for item in &out {
            match item {
                Outgoing::To(conn, frame) => {
                    let handle = match self.sessions.get(conn) {
                        Some(session) => Some(&session.handle),
                        None => self
                            .closing
                            .iter()
                            .find(|(c, _, _)| c == conn)
                            .map(|(_, handle, _)| handle),
                    };
                    if let Some(handle) = handle
                        && !handle.push(frame)
                    {
                        slow.push(*conn);
                    }
                }
                Outgoing::Room(room, frame) => {
                    if let Some(room) = self.rooms.get(room) {
                        room.broadcast(frame, &mut slow);
                    }
                }
                Outgoing::EveryRoom(frame) => {
                    for room in self.rooms.values() {
                        room.broadcast(frame, &mut slow);
                    }
                }
            }
        }
        // Keep the allocation for the next batch.
        self.out = out;
        self.out.clear();
        slow.sort_unstable();
        slow.dedup();
        for conn in slow {
            tracing::info!(conn, "disconnecting a client that is not reading");
            self.kick(
                conn,
                Close {
                    code: close_code::POLICY,
                    reason: "too slow: outbound queue full",
                    drain: false,
                },
                now,
            );
        }
        for (_, mut handle, close) in self.closing.drain(..) {
            handle.close(close);
        }
        self.publish_stats();
    }

    /// Tells everyone the server is stopping and closes every connection with 1001, after
    /// committing and delivering what was staged.
    pub fn shutdown(&mut self, now: Instant) {
        self.flush(now);
        let frame = encode(&ServerMsg::system("Server is shutting down."));
        for (_, mut session) in self.sessions.drain() {
            let _ = session.handle.push(&frame);
            session.handle.close(Close {
                code: close_code::GOING_AWAY,
                reason: "server shutting down",
                drain: true,
            });
        }
        self.names.clear();
        self.look_alikes.clear();
        self.rooms.clear();
        self.join_deadlines.clear();
        self.presence_due.clear();
        self.publish_stats();
    }

    // ----- frames -------------------------------------------------------------------------

    /// Charges one frame to the sender's flood guard; false if it is refused (and answered).
    fn admit(&mut self, conn: ConnId, now: Instant) -> bool {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return false;
        };
        match session.flood.admit(now) {
            Verdict::Allowed => true,
            Verdict::RateLimited => {
                let rate = self.config.flood.rate;
                self.error(
                    conn,
                    ErrorCode::RateLimited,
                    format!("Slow down: at most {rate} messages per second."),
                );
                false
            }
            Verdict::MutedNow(for_) => {
                let span = seconds(for_);
                tracing::info!(conn, ip = %session.peer.ip, secs = for_.as_secs(), "muted a flooding client");
                self.error(
                    conn,
                    ErrorCode::Muted,
                    format!("You are muted for {span} for flooding."),
                );
                self.system_to(
                    conn,
                    format!("You are muted for {span} for sending too fast."),
                );
                false
            }
        }
    }

    fn join(
        &mut self,
        conn: ConnId,
        raw_name: &str,
        color: Option<String>,
        room: Option<String>,
        now: Instant,
    ) {
        let Some(session) = self.sessions.get(&conn) else {
            return;
        };
        let already = session.identity.as_ref().map(|id| id.name.clone());
        let path_room = session.peer.room.clone();
        if let Some(current) = already {
            let text =
                format!("Already joined as {current}; use nick, color or join_room to change.");
            self.error(conn, ErrorCode::AlreadyJoined, text);
            return;
        }
        let name = match validate_name(raw_name) {
            Ok(name) => name,
            Err(e) => {
                let shown = shown_name(raw_name);
                self.error(conn, ErrorCode::InvalidName, format!("{e}."));
                self.system_to(
                    conn,
                    format!("Cannot join as \"{shown}\": {e}. Try another name."),
                );
                return;
            }
        };
        let key = name_key(&name);
        let alt_key = look_alike_key(&name);
        let holder = self
            .holder_of(&key, &alt_key)
            .and_then(|c| self.identity(c))
            .map(|i| i.name.clone());
        if let Some(holder) = holder {
            let text = if holder.to_lowercase() == name.to_lowercase() {
                format!("The name {name} is taken.")
            } else {
                format!("The name {name} is too close to {holder}, who is online.")
            };
            self.error(conn, ErrorCode::NameTaken, text.clone());
            self.system_to(conn, format!("{text} Choose another name."));
            return;
        }
        let room = match room.or(path_room) {
            None => DEFAULT_ROOM.to_owned(),
            Some(raw) => match validate_room(&raw) {
                Ok(room) => room,
                Err(e) => {
                    self.error(conn, ErrorCode::InvalidRoom, format!("{e}."));
                    self.system_to(conn, format!("Cannot join that room: {e}."));
                    return;
                }
            },
        };
        let color = match color.map(|c| c.parse::<Color>()) {
            None => default_color(&key),
            Some(Ok(color)) => color,
            Some(Err(e)) => {
                let fallback = default_color(&key);
                self.error(
                    conn,
                    ErrorCode::InvalidColor,
                    format!("{e}; using {} ({fallback}).", fallback.label()),
                );
                fallback
            }
        };
        self.release_staged_output(now);
        tracing::info!(conn, name, room, "joined");
        self.names.insert(key.clone(), conn);
        self.look_alikes.insert(alt_key.clone(), conn);
        if let Some(session) = self.sessions.get_mut(&conn) {
            session.identity = Some(Identity {
                name,
                key,
                alt_key,
                color: color.to_string(),
                room: room.clone(),
            });
        }
        self.enter_room(conn, &room, now);
    }

    fn say(
        &mut self,
        conn: ConnId,
        text: &str,
        color: Option<String>,
        action: bool,
        cid: Option<String>,
    ) {
        if self.require_joined(conn).is_none() || !self.cid_ok(conn, cid.as_deref()) {
            return;
        }
        if let Some(cid) = &cid
            && let Some(earlier) = self.said_before(conn, cid)
        {
            // Stored (or staged) already: the sender only needs its acknowledgement again.
            tracing::debug!(conn, id = earlier.id, "a resend, acknowledged again");
            self.send(conn, &ServerMsg::Message(earlier));
            return;
        }
        let Some(text) = self.checked_text(conn, text) else {
            return;
        };
        if let Some(raw) = color {
            self.adopt_color(conn, &raw, true);
        }
        let Some(id) = self.identity(conn).cloned() else {
            return;
        };
        let room = id.room;
        let next = self.last_ids.get(&room).copied().unwrap_or(0) + 1;
        self.last_ids.insert(room.clone(), next);
        let message = ChatMessage {
            name: id.name,
            color: id.color,
            text,
            id: Some(next),
            ts: Some(now_ms()),
            room: Some(room.clone()),
            action,
            cid,
        };
        tracing::debug!(
            conn,
            room,
            id = next,
            from = message.name,
            len = message.text.chars().count(),
            preview = %message.text.chars().take(40).collect::<String>(),
            "message"
        );
        let frame = encode(&ServerMsg::Message(message.clone()));
        if let Some(r) = self.rooms.get_mut(&room) {
            r.remember(message.clone());
        }
        self.unsaved.push(message);
        self.broadcast_to_room(&room, frame);
    }

    fn who(&mut self, conn: ConnId) {
        let Some(session) = self.sessions.get(&conn) else {
            return;
        };
        let room = match &session.identity {
            Some(id) => id.room.clone(),
            None => session
                .peer
                .room
                .clone()
                .unwrap_or_else(|| DEFAULT_ROOM.to_owned()),
        };
        let users = self.users_in(&room);
        self.send(conn, &ServerMsg::Who { users });
    }

    fn leave(&mut self, conn: ConnId, now: Instant) {
        if self.require_joined(conn).is_none() {
            return;
        }
        self.kick(
            conn,
            Close {
                code: close_code::NORMAL,
                reason: "bye",
                drain: true,
            },
            now,
        );
    }

    fn switch_room(&mut self, conn: ConnId, raw: &str, now: Instant) {
        let Some(id) = self.require_joined(conn).cloned() else {
            return;
        };
        let room = match validate_room(raw) {
            Ok(room) => room,
            Err(e) => {
                self.error(conn, ErrorCode::InvalidRoom, format!("{e}."));
                return;
            }
        };
        if room == id.room {
            self.welcome(conn);
            self.send_room_history(conn, &room);
            return;
        }
        self.release_staged_output(now);
        self.exit_room(conn, &id, now);
        if let Some(identity) = self.identity_mut(conn) {
            identity.room = room.clone();
        }
        tracing::info!(
            conn,
            name = id.name,
            from = id.room,
            to = room,
            "switched room"
        );
        self.enter_room(conn, &room, now);
    }

    fn list_rooms(&mut self, conn: ConnId) {
        let rooms = self
            .rooms
            .iter()
            .map(|(name, room)| RoomInfo {
                name: name.clone(),
                users: room.members.len(),
            })
            .collect();
        self.send(conn, &ServerMsg::Rooms { rooms });
    }

    fn dm(&mut self, conn: ConnId, to: &str, text: &str, cid: Option<String>) {
        let Some(from) = self.require_joined(conn).cloned() else {
            return;
        };
        if !self.cid_ok(conn, cid.as_deref()) {
            return;
        }
        if let Some(cid) = &cid
            && let Some(frame) = self.sent_dms.get(&from.key, cid)
        {
            tracing::debug!(conn, "a resent dm, acknowledged again");
            self.out.push(Outgoing::To(conn, frame));
            return;
        }
        let Some(text) = self.checked_text(conn, text) else {
            return;
        };
        let target = self
            .names
            .get(&name_key(to.trim()))
            .copied()
            .and_then(|c| Some((c, self.identity(c)?.name.clone())));
        let Some((target, target_name)) = target else {
            let shown = shown_name(to);
            self.error(
                conn,
                ErrorCode::NoSuchUser,
                format!("No one called \"{shown}\" is online."),
            );
            return;
        };
        tracing::debug!(
            conn,
            from = from.name,
            to = target_name,
            len = text.chars().count(),
            "dm"
        );
        let frame = encode(&ServerMsg::Dm(DirectMessage {
            from: from.name,
            to: target_name,
            text,
            color: from.color,
            ts: now_ms(),
            cid: cid.clone(),
        }));
        if let Some(cid) = &cid {
            self.sent_dms.remember(&from.key, cid, frame.clone());
        }
        self.out.push(Outgoing::To(target, frame.clone()));
        if target != conn {
            self.out.push(Outgoing::To(conn, frame));
        }
    }

    fn nick(&mut self, conn: ConnId, raw: &str, now: Instant) {
        let Some(id) = self.require_joined(conn).cloned() else {
            return;
        };
        let name = match validate_name(raw) {
            Ok(name) => name,
            Err(e) => {
                self.error(conn, ErrorCode::InvalidName, format!("{e}."));
                return;
            }
        };
        let key = name_key(&name);
        let alt_key = look_alike_key(&name);
        if let Some(holder) = self.holder_of(&key, &alt_key)
            && holder != conn
        {
            let holder_name = self
                .identity(holder)
                .map(|i| i.name.clone())
                .unwrap_or_default();
            let text = if holder_name.to_lowercase() == name.to_lowercase() {
                format!("The name {name} is taken.")
            } else {
                format!("The name {name} is too close to {holder_name}, who is online.")
            };
            self.error(conn, ErrorCode::NameTaken, text);
            return;
        }
        if name != id.name {
            tracing::info!(conn, from = id.name, to = name, "renamed");
            self.names.remove(&id.key);
            self.look_alikes.remove(&id.alt_key);
            self.names.insert(key.clone(), conn);
            self.look_alikes.insert(alt_key.clone(), conn);
            if let Some(identity) = self.identity_mut(conn) {
                identity.name = name.clone();
                identity.key = key;
                identity.alt_key = alt_key;
            }
            if let Some(room) = self.rooms.get_mut(&id.room) {
                room.changes.rename(&id.name, &name);
            }
            self.mark_dirty(&id.room, now);
        }
        self.welcome(conn);
    }

    fn set_color(&mut self, conn: ConnId, raw: &str) {
        if self.require_joined(conn).is_none() {
            return;
        }
        if self.adopt_color(conn, raw, false)
            && let Some(id) = self.identity(conn)
            && let Ok(color) = id.color.parse::<Color>()
        {
            let text = format!("Your colour is now {} ({color}).", color.label());
            self.system_to(conn, text);
        }
    }

    /// Takes a colour for the session. Returns true if it is valid (changed or not). A
    /// `message`'s colour (`quiet`) is only acknowledged with `welcome` when it changed.
    fn adopt_color(&mut self, conn: ConnId, raw: &str, quiet: bool) -> bool {
        let color = match raw.parse::<Color>() {
            Ok(color) => color.to_string(),
            Err(e) => {
                let current = self
                    .identity(conn)
                    .map(|i| i.color.clone())
                    .unwrap_or_default();
                self.error(
                    conn,
                    ErrorCode::InvalidColor,
                    format!("{e}; keeping colour {current}."),
                );
                return false;
            }
        };
        let changed = match self.identity_mut(conn) {
            Some(identity) if identity.color != color => {
                identity.color = color;
                true
            }
            _ => false,
        };
        if changed || !quiet {
            self.welcome(conn);
        }
        true
    }

    fn page_history(
        &mut self,
        conn: ConnId,
        room: Option<String>,
        before: Option<u64>,
        limit: Option<u32>,
    ) {
        let Some(id) = self.require_joined(conn).cloned() else {
            return;
        };
        let room = match room {
            None => id.room,
            Some(raw) => match validate_room(&raw) {
                Ok(room) => room,
                Err(e) => {
                    self.error(conn, ErrorCode::InvalidRoom, format!("{e}."));
                    return;
                }
            },
        };
        let limit = limit
            .map_or(self.config.history_on_join.max(1), |l| l as usize)
            .min(self.config.history_page_max);
        let messages = match self.history.recent(&room, before, limit) {
            Ok(messages) => messages,
            Err(e) => match self.rooms.get(&room) {
                // The database cannot be read: the room's recent messages are still known.
                Some(live) => {
                    tracing::warn!(room, error = %e, "history read failed; answering from memory");
                    let mut recent: Vec<_> = live
                        .recent()
                        .rev()
                        .filter(|m| before.is_none_or(|b| m.id.is_some_and(|id| id < b)))
                        .take(limit)
                        .cloned()
                        .collect();
                    recent.reverse();
                    recent
                }
                None => {
                    tracing::warn!(room, error = %e, "history read failed");
                    self.error(
                        conn,
                        ErrorCode::HistoryUnavailable,
                        "History cannot be read right now.".to_owned(),
                    );
                    return;
                }
            },
        };
        self.send(conn, &ServerMsg::History { room, messages });
    }

    // ----- rooms and presence ---------------------------------------------------------------

    /// Adds a joined session to its room (creating the room), then welcomes it with history.
    fn enter_room(&mut self, conn: ConnId, room_name: &str, now: Instant) {
        let Some(session) = self.sessions.get(&conn) else {
            return;
        };
        let Some(id) = session.identity.clone() else {
            return;
        };
        let frames = session.handle.frames.clone();
        if !self.rooms.contains_key(room_name) {
            let room = self.open_room(room_name);
            self.rooms.insert(room_name.to_owned(), room);
        }
        if let Some(room) = self.rooms.get_mut(room_name) {
            room.members.push(Member { conn, frames });
            room.changes.join(&id.name);
        }
        self.mark_dirty(room_name, now);
        self.welcome(conn);
        self.send_room_history(conn, room_name);
    }

    /// A room coming to life: its last id and recent messages from history.
    fn open_room(&mut self, name: &str) -> Room {
        let known = self.last_ids.get(name).copied().unwrap_or(0);
        let stored = self.history.last_id(name).unwrap_or_else(|e| {
            tracing::warn!(room = name, error = %e, "cannot read the last message id");
            0
        });
        self.last_ids.insert(name.to_owned(), known.max(stored));
        let recent = self
            .history
            .recent(name, None, self.config.history_on_join)
            .unwrap_or_else(|e| {
                tracing::warn!(room = name, error = %e, "cannot read room history");
                Vec::new()
            });
        Room::new(recent, self.config.history_on_join)
    }

    /// Takes a session out of its room; an empty room disappears.
    fn exit_room(&mut self, conn: ConnId, id: &Identity, now: Instant) {
        let Some(room) = self.rooms.get_mut(&id.room) else {
            return;
        };
        if !room.remove(conn) {
            return;
        }
        if room.members.is_empty() {
            self.rooms.remove(&id.room);
            // Staged messages were committed before this membership change, so the database
            // knows the room's last id; keep it in memory only while the database is failing
            // (otherwise rooms created and abandoned would pile up here forever).
            if !self.history_degraded {
                self.last_ids.remove(&id.room);
            }
            return;
        }
        room.changes.leave(&id.name);
        self.mark_dirty(&id.room, now);
    }

    /// Membership changed: the list is sent again when the window ends, even if the changes
    /// cancel out in the announcement (a quick reconnect still needs its list).
    fn mark_dirty(&mut self, room_name: &str, now: Instant) {
        if let Some(room) = self.rooms.get_mut(room_name) {
            room.list_stale = true;
        }
        if let Some(room) = self.rooms.get_mut(room_name)
            && room.dirty_since.is_none()
        {
            let at = now
                + presence::window(
                    self.config.presence_window,
                    room.members.len(),
                    self.config.presence_full_room,
                );
            room.dirty_since = Some(now);
            room.announce_at = Some(at);
            self.presence_due.insert((at, room_name.to_owned()));
        }
    }

    /// Stages the room's pending presence: one `system` line and one `active_users`. In a room
    /// larger than `presence_full_room`, `with_list: false` (an announcement brought forward by
    /// a message) stages only the `system` line; the list follows when the window ends.
    fn announce_presence(&mut self, room_name: &str, with_list: bool) {
        let full_room = self.config.presence_full_room;
        let Some(room) = self.rooms.get_mut(room_name) else {
            return;
        };
        let with_list = with_list || room.members.len() <= full_room;
        let changes = std::mem::take(&mut room.changes);
        let text = changes.announcement(room.members.len());
        if text.is_some() {
            room.list_stale = true;
        }
        let list = with_list && room.list_stale;
        if with_list {
            room.dirty_since = None;
            room.announce_at = None;
            room.list_stale = false;
        }
        if let Some(text) = text {
            let system = encode(&ServerMsg::System {
                text,
                room: Some(room_name.to_owned()),
            });
            self.out.push(Outgoing::Room(room_name.to_owned(), system));
        }
        if list {
            let users = self.member_names(&self.rooms[room_name]);
            let active = encode(&ServerMsg::ActiveUsers {
                users,
                room: Some(room_name.to_owned()),
            });
            self.out.push(Outgoing::Room(room_name.to_owned(), active));
        }
    }

    /// Stages a room event, announcing pending presence first so that nobody hears from a
    /// member before hearing that they joined.
    fn broadcast_to_room(&mut self, room_name: &str, frame: Frame) {
        if self
            .rooms
            .get(room_name)
            .is_some_and(|r| r.dirty_since.is_some())
        {
            self.announce_presence(room_name, false);
        }
        self.out.push(Outgoing::Room(room_name.to_owned(), frame));
    }

    fn member_names(&self, room: &Room) -> Vec<String> {
        room.members
            .iter()
            .filter_map(|m| self.identity(m.conn).map(|i| i.name.clone()))
            .collect()
    }

    // ----- sessions ---------------------------------------------------------------------------

    /// Forgets a session at once (its later frames are ignored) and closes its connection once
    /// what was staged for it is delivered.
    fn kick(&mut self, conn: ConnId, close: Close, now: Instant) {
        self.release_staged_output(now);
        if let Some(session) = self.sessions.remove(&conn) {
            self.forget(conn, session.identity, now);
            self.closing.push((conn, session.handle, close));
        }
    }

    /// Who holds a name with these keys (see [`name_key`] and [`look_alike_key`]), if anyone.
    fn holder_of(&self, key: &str, alt_key: &str) -> Option<ConnId> {
        self.names
            .get(key)
            .or_else(|| self.look_alikes.get(alt_key))
            .copied()
    }

    fn forget(&mut self, conn: ConnId, identity: Option<Identity>, now: Instant) {
        if let Some(id) = identity {
            tracing::info!(conn, name = id.name, room = id.room, "left");
            self.names.remove(&id.key);
            self.look_alikes.remove(&id.alt_key);
            self.exit_room(conn, &id, now);
        } else {
            tracing::debug!(conn, "session closed before joining");
        }
    }

    /// Membership is about to change: deliver what is staged (committing it first), so that a
    /// joiner neither receives an older message live nor misses it in its history.
    fn release_staged_output(&mut self, now: Instant) {
        if !self.unsaved.is_empty() {
            self.flush(now);
        }
    }

    fn commit(&mut self) {
        if self.unsaved.is_empty() {
            return;
        }
        match self.history.append(&self.unsaved) {
            Ok(()) => {
                if self.history_degraded {
                    self.history_degraded = false;
                    tracing::info!("history is being saved again");
                    let frame = encode(&ServerMsg::system("History is being saved again."));
                    self.out.push(Outgoing::EveryRoom(frame));
                }
            }
            Err(e) => {
                if !self.history_degraded {
                    self.history_degraded = true;
                    tracing::error!(error = %e, lost = self.unsaved.len(), "cannot save history; chat continues without it");
                    let frame = encode(&ServerMsg::system(
                        "History is unavailable: new messages are not being saved.",
                    ));
                    self.out.push(Outgoing::EveryRoom(frame));
                } else {
                    tracing::debug!(error = %e, lost = self.unsaved.len(), "history still unavailable");
                }
            }
        }
        self.unsaved.clear();
    }

    fn publish_stats(&self) {
        let s = &self.stats;
        s.sessions.store(self.sessions.len(), Ordering::Relaxed);
        s.users.store(self.names.len(), Ordering::Relaxed);
        s.rooms.store(self.rooms.len(), Ordering::Relaxed);
        s.history_degraded
            .store(self.history_degraded, Ordering::Relaxed);
    }

    fn identity(&self, conn: ConnId) -> Option<&Identity> {
        self.sessions.get(&conn)?.identity.as_ref()
    }

    fn identity_mut(&mut self, conn: ConnId) -> Option<&mut Identity> {
        self.sessions.get_mut(&conn)?.identity.as_mut()
    }

    /// The session's identity, or a `not_joined` error to it.
    fn require_joined(&mut self, conn: ConnId) -> Option<&Identity> {
        if self.identity(conn).is_none() {
            if self.sessions.contains_key(&conn) {
                self.error(
                    conn,
                    ErrorCode::NotJoined,
                    "Join first: {\"type\":\"join\",\"name\":\"…\"}.".to_owned(),
                );
            }
            return None;
        }
        self.identity(conn)
    }

    /// A client-chosen id is checked like any field: a bad one refuses the message, with an error.
    fn cid_ok(&mut self, conn: ConnId, cid: Option<&str>) -> bool {
        match cid {
            Some(cid) if !is_valid_cid(cid) => {
                self.error(
                    conn,
                    ErrorCode::InvalidMessage,
                    format!(
                        "Invalid cid: {} to {} letters, digits, - or _; nothing was sent.",
                        CID_LEN.start(),
                        CID_LEN.end()
                    ),
                );
                false
            }
            _ => true,
        }
    }

    /// The room message this session already said with `cid` in its room: a resend after a
    /// drop. Looked for in this batch, the room's recent messages, then the history.
    fn said_before(&mut self, conn: ConnId, cid: &str) -> Option<ChatMessage> {
        let id = self.identity(conn)?;
        let (room, speaker) = (id.room.clone(), id.key.clone());
        let is_it = |m: &ChatMessage| {
            m.room.as_deref() == Some(room.as_str()) && is_resend_of(m, cid, &speaker)
        };
        let staged = self.unsaved.iter().rev().find(|m| is_it(m));
        let recent = || self.rooms.get(&room)?.recent().rev().find(|m| is_it(m));
        if let Some(m) = staged.or_else(recent) {
            return Some(m.clone());
        }
        match self.history.with_cid(&room, cid) {
            Ok(found) => found.into_iter().find(|m| is_resend_of(m, cid, &speaker)),
            Err(e) => {
                tracing::warn!(room, error = %e, "cannot look for a resend; taking it as new");
                None
            }
        }
    }

    /// Message text as it will be sent: refused (with an error) if empty or too long, control
    /// characters made visible so that no client's terminal obeys them.
    fn checked_text(&mut self, conn: ConnId, text: &str) -> Option<String> {
        if text.trim().is_empty() {
            self.error(conn, ErrorCode::EmptyMessage, "Empty message.".to_owned());
            return None;
        }
        let chars = text.chars().count();
        let max = self.config.max_text_chars;
        if chars > max {
            self.error(
                conn,
                ErrorCode::TooLong,
                format!("Message too long: {chars} characters; the limit is {max}."),
            );
            return None;
        }
        Some(sanitize_text(text).into_owned())
    }

    fn welcome(&mut self, conn: ConnId) {
        let Some(id) = self.identity(conn) else {
            return;
        };
        let msg = ServerMsg::Welcome(Welcome {
            name: id.name.clone(),
            color: id.color.clone(),
            room: id.room.clone(),
            max_text: Some(self.config.max_text_chars),
        });
        self.send(conn, &msg);
    }

    fn send_room_history(&mut self, conn: ConnId, room_name: &str) {
        let Some(room) = self.rooms.get_mut(room_name) else {
            return;
        };
        let frame = room.history_frame(|messages| {
            encode(&ServerMsg::History {
                room: room_name.to_owned(),
                messages,
            })
        });
        self.out.push(Outgoing::To(conn, frame));
    }

    fn send(&mut self, conn: ConnId, msg: &ServerMsg) {
        self.out.push(Outgoing::To(conn, encode(msg)));
    }

    fn error(&mut self, conn: ConnId, code: ErrorCode, text: String) {
        self.send(conn, &ServerMsg::Error { code, text });
    }

    /// A `system` line to one session: the only refusal the original client shows.
    fn system_to(&mut self, conn: ConnId, text: String) {
        self.send(conn, &ServerMsg::system(text));
    }
}

/// "60 seconds", "1 second", "0.5 seconds".
fn seconds(d: Duration) -> String {
    match d.as_millis() {
        1000 => "1 second".to_owned(),
        ms if ms % 1000 == 0 => format!("{} seconds", ms / 1000),
        _ => format!("{} seconds", d.as_secs_f64()),
    }
}

fn encode(msg: &ServerMsg) -> Frame {
    Utf8Bytes::from(msg.encode())
}

/// A requested name made safe to quote back: one line, at most 32 characters.
fn shown_name(raw: &str) -> String {
    sanitize_line(raw).chars().take(32).collect()
}

/// A stable default colour for a name, so a client that sends none keeps one.
fn default_color(key: &str) -> Color {
    // FNV-1a: tiny and stable across releases (std's hasher is not).
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    Color::NAMED[(hash % Color::NAMED.len() as u64) as usize]
}

#[cfg(test)]
mod tests;

/// Commands from connections to the hub task.
#[derive(Debug)]
pub(crate) enum HubCmd {
    Connect {
        conn: ConnId,
        peer: Peer,
        handle: ConnectionHandle,
    },
    Frame {
        conn: ConnId,
        msg: ClientMsg,
    },
    /// A frame that could not be decoded, with the error to answer.
    Refused {
        conn: ConnId,
        code: ErrorCode,
        text: String,
    },
    Disconnect {
        conn: ConnId,
    },
    /// The settings were reloaded: see [`Hub::reconfigure`].
    Reconfigure {
        config: HubConfig,
        history_keep: u64,
    },
    /// Announce the shutdown, close everyone, flush history, and stop.
    Shutdown,
}

/// Commands handled per batch: enough to group-commit a burst, few enough to keep latency low.
const BATCH: usize = 256;

/// The hub task: applies commands in batches, flushing after each batch and when a presence
/// announcement or join deadline is due. Returns after [`HubCmd::Shutdown`], with history
/// committed and the database closed.
pub(crate) async fn run(mut hub: Hub, mut rx: mpsc::Receiver<HubCmd>) {
    loop {
        let cmd = match hub.next_deadline() {
            Some(deadline) => {
                tokio::select! {
                    cmd = rx.recv() => cmd,
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                        let now = tokio::time::Instant::now().into_std();
                        hub.tick(now);
                        hub.flush(now);
                        continue;
                    }
                }
            }
            None => rx.recv().await,
        };
        let Some(cmd) = cmd else {
            // Every sender is gone: nobody can reach the hub any more.
            hub.shutdown(tokio::time::Instant::now().into_std());
            return;
        };
        let now = tokio::time::Instant::now().into_std();
        let mut stop = apply(&mut hub, cmd, now);
        let mut handled = 1;
        while !stop && handled < BATCH {
            match rx.try_recv() {
                Ok(cmd) => stop = apply(&mut hub, cmd, now),
                Err(_) => break,
            }
            handled += 1;
        }
        if stop {
            hub.shutdown(now);
            // Refuse whatever is still queued; connections that were on their way in are closed.
            rx.close();
            while let Some(cmd) = rx.recv().await {
                if let HubCmd::Connect { mut handle, .. } = cmd {
                    handle.close(Close {
                        code: close_code::GOING_AWAY,
                        reason: "server shutting down",
                        drain: false,
                    });
                }
            }
            drop(hub);
            return;
        }
        hub.tick(now);
        hub.flush(now);
    }
}

/// Applies one command; true when it asks the hub to stop.
fn apply(hub: &mut Hub, cmd: HubCmd, now: Instant) -> bool {
    match cmd {
        HubCmd::Connect { conn, peer, handle } => hub.connect(conn, peer, handle, now),
        HubCmd::Frame { conn, msg } => hub.handle(conn, msg, now),
        HubCmd::Refused { conn, code, text } => hub.refuse(conn, code, &text, now),
        HubCmd::Disconnect { conn } => hub.disconnect(conn, now),
        HubCmd::Reconfigure {
            config,
            history_keep,
        } => hub.reconfigure(config, history_keep, now),
        HubCmd::Shutdown => return true,
    }
    false
}
