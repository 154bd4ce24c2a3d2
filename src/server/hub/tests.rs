//! The chat rules, driven without sockets: each test connects sessions to a hub with real
//! bounded queues, feeds it client messages at chosen instants and reads what each session got.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::*;
use crate::server::history::{HistoryError, SqliteHistory};

/// History in memory that a test can inspect and break.
#[derive(Clone, Default)]
struct MemHistory {
    stored: Arc<Mutex<Vec<ChatMessage>>>,
    broken: Arc<AtomicBool>,
}

impl History for MemHistory {
    fn append(&mut self, batch: &[ChatMessage]) -> Result<(), HistoryError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(HistoryError::Sql(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                Some("database or disk is full".into()),
            )));
        }
        self.stored.lock().unwrap().extend_from_slice(batch);
        Ok(())
    }

    fn recent(
        &mut self,
        room: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, HistoryError> {
        let stored = self.stored.lock().unwrap();
        let mut v: Vec<_> = stored
            .iter()
            .filter(|m| m.room.as_deref() == Some(room))
            .filter(|m| before.is_none_or(|b| m.id.unwrap() < b))
            .cloned()
            .collect();
        let skip = v.len().saturating_sub(limit);
        v.drain(..skip);
        Ok(v)
    }

    fn last_id(&mut self, room: &str) -> Result<u64, HistoryError> {
        let stored = self.stored.lock().unwrap();
        Ok(stored
            .iter()
            .filter(|m| m.room.as_deref() == Some(room))
            .filter_map(|m| m.id)
            .max()
            .unwrap_or(0))
    }

    fn with_cid(&mut self, room: &str, cid: &str) -> Result<Vec<ChatMessage>, HistoryError> {
        let stored = self.stored.lock().unwrap();
        Ok(stored
            .iter()
            .filter(|m| m.room.as_deref() == Some(room) && m.cid.as_deref() == Some(cid))
            .cloned()
            .collect())
    }
}

struct Endpoint {
    frames: mpsc::Receiver<Frame>,
    close: oneshot::Receiver<Close>,
}

struct Fixture {
    hub: Hub,
    history: MemHistory,
    now: Instant,
    ends: HashMap<ConnId, Endpoint>,
    queue: usize,
}

const WINDOW: Duration = Duration::from_millis(40);

fn config() -> HubConfig {
    HubConfig {
        max_text_chars: 100,
        flood: FloodPolicy {
            rate: 0.0,
            ..FloodPolicy::default()
        },
        join_timeout: Duration::from_secs(30),
        presence_window: WINDOW,
        presence_full_room: 1000,
        history_on_join: 5,
        history_page_max: 10,
    }
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(config(), MemHistory::default(), 64)
    }

    fn with(config: HubConfig, history: MemHistory, queue: usize) -> Fixture {
        Fixture {
            hub: Hub::new(config, Box::new(history.clone())),
            history,
            now: Instant::now(),
            ends: HashMap::new(),
            queue,
        }
    }

    fn connect(&mut self, conn: ConnId, path_room: Option<&str>) {
        let (tx, frames) = mpsc::channel(self.queue);
        let (close_tx, close) = oneshot::channel();
        let peer = Peer {
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            room: path_room.map(str::to_owned),
        };
        self.hub
            .connect(conn, peer, ConnectionHandle::new(tx, close_tx), self.now);
        self.ends.insert(conn, Endpoint { frames, close });
    }

    /// Sends one message and flushes, as the hub task does after a batch.
    fn send(&mut self, conn: ConnId, msg: ClientMsg) {
        self.hub.handle(conn, msg, self.now);
        self.hub.flush(self.now);
    }

    fn send_raw(&mut self, conn: ConnId, json: &str) {
        self.send(conn, ClientMsg::decode(json).unwrap());
    }

    fn join(&mut self, conn: ConnId, name: &str) {
        self.connect(conn, None);
        self.send(conn, join(name));
    }

    /// Moves time on by the presence window so that pending announcements go out.
    fn settle(&mut self) {
        self.now += WINDOW;
        self.hub.tick(self.now);
        self.hub.flush(self.now);
    }

    fn frames(&mut self, conn: ConnId) -> Vec<ServerMsg> {
        let end = self.ends.get_mut(&conn).expect("connected");
        let mut out = Vec::new();
        while let Ok(frame) = end.frames.try_recv() {
            out.push(ServerMsg::decode(&frame).unwrap().unwrap());
        }
        out
    }

    fn closed(&mut self, conn: ConnId) -> Option<Close> {
        self.ends.get_mut(&conn)?.close.try_recv().ok()
    }

    /// Joins everyone, lets presence settle and discards what they received so far.
    fn room_of(&mut self, names: &[(ConnId, &str)]) {
        for (conn, name) in names {
            self.join(*conn, name);
        }
        self.settle();
        for (conn, _) in names {
            self.frames(*conn);
        }
    }
}

fn join(name: &str) -> ClientMsg {
    ClientMsg::Join {
        name: name.into(),
        color: None,
        room: None,
    }
}

fn say(text: &str) -> ClientMsg {
    ClientMsg::Message {
        text: text.into(),
        name: None,
        color: None,
        cid: None,
    }
}

fn texts(frames: &[ServerMsg]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::System { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn messages(frames: &[ServerMsg]) -> Vec<ChatMessage> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn errors(frames: &[ServerMsg]) -> Vec<ErrorCode> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::Error { code, .. } => Some(*code),
            _ => None,
        })
        .collect()
}

fn active_users(frames: &[ServerMsg]) -> Vec<Vec<String>> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::ActiveUsers { users, .. } => Some(users.clone()),
            _ => None,
        })
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn join_gets_welcome_history_then_the_seed_announcement() {
    let mut f = Fixture::new();
    f.join(1, "Alice");
    let got = f.frames(1);
    assert!(
        matches!(&got[0], ServerMsg::Welcome(w) if w.name == "Alice" && w.room == "main" && w.max_text == Some(100))
    );
    assert!(
        matches!(&got[1], ServerMsg::History { room, messages } if room == "main" && messages.is_empty())
    );
    assert_eq!(got.len(), 2, "presence waits for its window: {got:?}");
    f.settle();
    let got = f.frames(1);
    assert_eq!(texts(&got), ["Alice joined the chat. (1 online)"]);
    assert_eq!(active_users(&got), [names(&["Alice"])]);

    f.join(2, "Bob");
    f.settle();
    let alice = f.frames(1);
    assert_eq!(texts(&alice), ["Bob joined the chat. (2 online)"]);
    assert_eq!(active_users(&alice), [names(&["Alice", "Bob"])]);
}

#[test]
fn message_reaches_the_room_including_the_sender() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    f.send_raw(
        1,
        r#"{"type":"message","name":"Alice","color":"6","text":"Hello"}"#,
    );
    for conn in [1, 2] {
        let got = messages(&f.frames(conn));
        assert_eq!(got.len(), 1);
        assert_eq!(
            (
                got[0].name.as_str(),
                got[0].color.as_str(),
                got[0].text.as_str()
            ),
            ("Alice", "6", "Hello")
        );
        assert_eq!((got[0].id, got[0].room.as_deref()), (Some(1), Some("main")));
        assert!(got[0].ts.is_some());
    }
    f.send(2, say("second"));
    assert_eq!(
        messages(&f.frames(1))[0].id,
        Some(2),
        "ids increase per room"
    );
}

#[test]
fn spoofed_name_is_replaced_by_the_session_name() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Mallory")]);
    f.send(
        2,
        ClientMsg::Message {
            text: "I am Alice".into(),
            name: Some("Alice".into()),
            color: None,
            cid: None,
        },
    );
    let got = messages(&f.frames(1));
    assert_eq!(got[0].name, "Mallory");
}

#[test]
fn taken_and_lookalike_names_are_refused_and_the_client_may_retry() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice")]);
    f.connect(2, None);
    for attempt in ["alice", "ALICE", "\u{0410}lice"] {
        f.send(2, join(attempt));
        let got = f.frames(2);
        assert_eq!(errors(&got), [ErrorCode::NameTaken], "{attempt}");
        assert_eq!(texts(&got).len(), 1, "a system line for old clients");
        assert!(f.closed(2).is_none(), "the connection stays open");
    }
    f.send(2, join("Alicia"));
    let got = f.frames(2);
    assert!(matches!(&got[0], ServerMsg::Welcome(w) if w.name == "Alicia"));
}

#[test]
fn invalid_names_are_refused_with_a_system_line() {
    let mut f = Fixture::new();
    f.connect(1, None);
    for bad in ["", "   ", "evil\u{1b}[31m", "bo\u{200B}b", &"x".repeat(25)] {
        f.send(1, join(bad));
        let got = f.frames(1);
        assert_eq!(errors(&got), [ErrorCode::InvalidName], "{bad:?}");
        let system = texts(&got);
        assert!(system[0].starts_with("Cannot join as"), "{system:?}");
        assert!(!system[0].contains('\u{1b}'), "no raw escapes echoed back");
    }
    f.send(1, join("  Alice  "));
    assert!(matches!(&f.frames(1)[0], ServerMsg::Welcome(w) if w.name == "Alice"));
}

#[test]
fn messages_before_join_are_refused() {
    let mut f = Fixture::new();
    f.connect(1, None);
    f.send(1, say("hi"));
    f.send(1, ClientMsg::Nick { name: "x".into() });
    assert_eq!(
        errors(&f.frames(1)),
        [ErrorCode::NotJoined, ErrorCode::NotJoined]
    );
    f.send(1, ClientMsg::Who);
    assert!(matches!(&f.frames(1)[0], ServerMsg::Who { users } if users.is_empty()));
}

#[test]
fn second_join_on_one_connection_is_refused() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice")]);
    f.send(1, join("Bob"));
    assert_eq!(errors(&f.frames(1)), [ErrorCode::AlreadyJoined]);
}

#[test]
fn rooms_are_isolated_and_empty_rooms_disappear() {
    let mut f = Fixture::new();
    f.join(1, "Alice");
    f.connect(2, Some("dev"));
    f.send(2, join("Bob"));
    f.connect(3, None);
    f.send(
        3,
        ClientMsg::Join {
            name: "Carol".into(),
            color: None,
            room: Some("#Dev".into()),
        },
    );
    f.settle();
    for c in 1..=3 {
        f.frames(c);
    }
    assert_eq!(f.hub.users_in("dev"), names(&["Bob", "Carol"]));
    f.send(2, say("dev only"));
    assert!(messages(&f.frames(1)).is_empty());
    assert_eq!(messages(&f.frames(3))[0].room.as_deref(), Some("dev"));

    f.send(1, ClientMsg::Rooms);
    let got = f.frames(1);
    let ServerMsg::Rooms { rooms } = &got[0] else {
        panic!("{got:?}")
    };
    let listed: Vec<_> = rooms.iter().map(|r| (r.name.as_str(), r.users)).collect();
    assert_eq!(listed, [("dev", 2), ("main", 1)]);

    f.send(1, ClientMsg::JoinRoom { room: "dev".into() });
    let got = f.frames(1);
    assert!(matches!(&got[0], ServerMsg::Welcome(w) if w.room == "dev"));
    assert!(
        matches!(&got[1], ServerMsg::History { room, messages } if room == "dev" && messages.len() == 1)
    );
    assert_eq!(
        f.hub.room_names(),
        names(&["dev"]),
        "main emptied and vanished"
    );
    f.settle();
    assert_eq!(texts(&f.frames(2)), ["Alice joined the chat. (3 online)"]);
}

#[test]
fn join_room_to_an_invalid_name_is_refused() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice")]);
    f.send(
        1,
        ClientMsg::JoinRoom {
            room: "../etc".into(),
        },
    );
    assert_eq!(errors(&f.frames(1)), [ErrorCode::InvalidRoom]);
    assert_eq!(f.hub.users_in("main"), names(&["Alice"]));
}

#[test]
fn dm_reaches_only_the_addressee_and_the_sender() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob"), (3, "Eve")]);
    f.send(
        1,
        ClientMsg::Dm {
            to: "bob".into(),
            text: "psst".into(),
            cid: None,
        },
    );
    for conn in [1, 2] {
        let got = f.frames(conn);
        assert!(
            matches!(&got[..], [ServerMsg::Dm(dm)] if dm.from == "Alice" && dm.to == "Bob" && dm.text == "psst"),
            "{conn}: {got:?}"
        );
    }
    assert!(f.frames(3).is_empty(), "a third user sees nothing");
    assert!(
        f.history.stored.lock().unwrap().is_empty(),
        "DMs are not stored"
    );

    f.send(
        1,
        ClientMsg::Dm {
            to: "Zed".into(),
            text: "hello?".into(),
            cid: None,
        },
    );
    assert_eq!(errors(&f.frames(1)), [ErrorCode::NoSuchUser]);
}

#[test]
fn me_is_a_message_with_action() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    f.send(
        1,
        ClientMsg::Me {
            text: "waves".into(),
            cid: None,
        },
    );
    let got = messages(&f.frames(2));
    assert!(got[0].action);
    assert_eq!(
        (got[0].name.as_str(), got[0].text.as_str()),
        ("Alice", "waves")
    );
}

#[test]
fn nick_change_is_welcomed_and_announced() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    f.send(
        1,
        ClientMsg::Nick {
            name: "Alicia".into(),
        },
    );
    assert!(matches!(&f.frames(1)[0], ServerMsg::Welcome(w) if w.name == "Alicia"));
    f.settle();
    f.frames(1);
    let bob = f.frames(2);
    assert_eq!(texts(&bob), ["Alice is now known as Alicia."]);
    assert_eq!(active_users(&bob), [names(&["Alicia", "Bob"])]);

    f.send(
        2,
        ClientMsg::Nick {
            name: "ALICIA".into(),
        },
    );
    assert_eq!(errors(&f.frames(2)), [ErrorCode::NameTaken]);
    // The old name is free again.
    f.join(3, "Alice");
    assert!(matches!(&f.frames(3)[0], ServerMsg::Welcome(w) if w.name == "Alice"));
    // A change of case of one's own name is allowed.
    f.send(
        1,
        ClientMsg::Nick {
            name: "alicia".into(),
        },
    );
    assert!(matches!(&f.frames(1)[0], ServerMsg::Welcome(w) if w.name == "alicia"));
}

#[test]
fn colours_are_checked_and_never_forwarded_raw() {
    let mut f = Fixture::new();
    f.connect(1, None);
    f.send(
        1,
        ClientMsg::Join {
            name: "Alice".into(),
            color: Some("#FF6600".into()),
            room: None,
        },
    );
    assert!(matches!(&f.frames(1)[0], ServerMsg::Welcome(w) if w.color == "#ff6600"));
    f.room_of(&[(2, "Bob")]);
    f.frames(1);

    f.send(
        1,
        ClientMsg::Message {
            text: "hi".into(),
            name: None,
            color: Some("red; DROP".into()),
            cid: None,
        },
    );
    let got = f.frames(1);
    assert_eq!(errors(&got), [ErrorCode::InvalidColor]);
    assert_eq!(
        messages(&got)[0].color,
        "#ff6600",
        "the session colour is used"
    );
    assert_eq!(messages(&f.frames(2))[0].color, "#ff6600");

    // The seed client sends its colour with every message: a new one updates the session.
    f.send(
        1,
        ClientMsg::Message {
            text: "now green".into(),
            name: None,
            color: Some("2".into()),
            cid: None,
        },
    );
    let got = f.frames(1);
    assert!(matches!(&got[0], ServerMsg::Welcome(w) if w.color == "2"));
    assert_eq!(messages(&got)[0].color, "2");

    f.send(1, ClientMsg::Color { color: "9".into() });
    assert_eq!(errors(&f.frames(1)), [ErrorCode::InvalidColor]);
    f.send(1, ClientMsg::Color { color: "5".into() });
    let got = f.frames(1);
    assert!(matches!(&got[0], ServerMsg::Welcome(w) if w.color == "5"));
    assert_eq!(texts(&got), ["Your colour is now Blue (5)."]);
}

#[test]
fn invalid_colour_at_join_falls_back_to_a_valid_one() {
    let mut f = Fixture::new();
    f.connect(1, None);
    f.send(
        1,
        ClientMsg::Join {
            name: "Alice".into(),
            color: Some("\u{1b}[31m".into()),
            room: None,
        },
    );
    let got = f.frames(1);
    assert_eq!(errors(&got), [ErrorCode::InvalidColor]);
    let ServerMsg::Welcome(w) = &got[1] else {
        panic!("{got:?}")
    };
    assert!(w.color.parse::<Color>().is_ok());
}

#[test]
fn text_limits_and_control_characters() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    f.send(1, say(&"x".repeat(101)));
    f.send(1, say("   "));
    assert_eq!(
        errors(&f.frames(1)),
        [ErrorCode::TooLong, ErrorCode::EmptyMessage]
    );
    assert!(f.frames(2).is_empty(), "refused messages go nowhere");
    f.send(1, say(&"é".repeat(100)));
    assert_eq!(
        messages(&f.frames(2)).len(),
        1,
        "the limit counts characters"
    );
    f.send(1, say("red\u{1b}[31m alert\u{202E}"));
    let text = &messages(&f.frames(2))[0].text;
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202E}'),
        "{text:?}"
    );
}

#[test]
fn joins_in_one_window_are_announced_once() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice")]);
    for (conn, name) in [(2, "Bob"), (3, "Carol"), (4, "Dave"), (5, "Eve")] {
        f.join(conn, name);
    }
    f.settle();
    let alice = f.frames(1);
    assert_eq!(
        texts(&alice),
        ["Bob, Carol and 2 others joined the chat. (5 online)"]
    );
    assert_eq!(
        active_users(&alice),
        [names(&["Alice", "Bob", "Carol", "Dave", "Eve"])]
    );
}

#[test]
fn join_storm_costs_frames_per_window_not_per_join() {
    let mut f = Fixture::with(config(), MemHistory::default(), 16);
    let n: u64 = 1000;
    let per_window = 100;
    let mut total = 0;
    // Raw frames: decoding a thousand lists per window would dominate the test's time.
    let mut last_list: HashMap<ConnId, Frame> = HashMap::new();
    let mut read_all = |f: &mut Fixture, upto: u64, total: &mut usize| {
        for c in 0..upto {
            let end = f.ends.get_mut(&c).expect("connected");
            while let Ok(frame) = end.frames.try_recv() {
                *total += 1;
                if frame.starts_with(r#"{"type":"active_users""#) {
                    last_list.insert(c, frame);
                }
            }
        }
    };
    for conn in 0..n {
        f.join(conn, &format!("user{conn}"));
        if (conn + 1).is_multiple_of(per_window) {
            f.settle();
        }
        // Read as clients would, so that the small queues never fill.
        if (conn + 1).is_multiple_of(10) {
            read_all(&mut f, conn + 1, &mut total);
        }
    }
    f.settle();
    read_all(&mut f, n, &mut total);
    let windows = (n / per_window) as usize;
    let n = n as usize;
    // Welcome + history per joiner, then one system line and one list per member per window.
    assert!(
        total <= 2 * n + 2 * n * windows,
        "{total} frames: presence is not coalesced"
    );
    let everyone: Vec<String> = (0..n).map(|c| format!("user{c}")).collect();
    assert_eq!(last_list.len(), n, "every member got a list");
    for frame in last_list.values() {
        let list = active_users(&[ServerMsg::decode(frame).unwrap().unwrap()]);
        assert_eq!(
            list,
            std::slice::from_ref(&everyone),
            "the full, ordered list"
        );
    }
    for conn in 0..n as u64 {
        assert!(f.closed(conn).is_none(), "{conn} was disconnected");
    }
}

#[test]
fn presence_is_announced_before_a_message_from_the_joiner() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice")]);
    f.join(2, "Bob");
    f.send(2, say("hi all"));
    let alice = f.frames(1);
    let kinds: Vec<_> = alice
        .iter()
        .map(|m| match m {
            ServerMsg::System { .. } => "system",
            ServerMsg::ActiveUsers { .. } => "active_users",
            ServerMsg::Message(_) => "message",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["system", "active_users", "message"]);
    f.settle();
    assert!(f.frames(1).is_empty(), "nothing left to announce");
}

fn kinds(frames: &[ServerMsg]) -> Vec<&'static str> {
    frames
        .iter()
        .map(|m| match m {
            ServerMsg::System { .. } => "system",
            ServerMsg::ActiveUsers { .. } => "active_users",
            ServerMsg::Message(_) => "message",
            _ => "other",
        })
        .collect()
}

#[test]
fn a_big_room_gathers_presence_longer_and_sends_its_list_once_the_window_ends() {
    // Rooms above 3 members count as big here; 6 members: a window (6/3)² = 4 times longer.
    let config = HubConfig {
        presence_full_room: 3,
        ..config()
    };
    let mut f = Fixture::with(config, MemHistory::default(), 64);
    let early: Vec<(ConnId, String)> = (1..=5).map(|c| (c, format!("user{c}"))).collect();
    for (conn, name) in &early {
        f.join(*conn, name);
    }
    f.now += WINDOW * 4;
    f.hub.tick(f.now);
    f.hub.flush(f.now);
    for (conn, _) in &early {
        f.frames(*conn);
    }

    f.join(6, "Frank");
    f.settle();
    assert!(f.frames(1).is_empty(), "not yet: the window is 4× longer");
    // A message brings the system line forward (nobody hears Frank before his arrival)…
    f.send(6, say("hello"));
    let alice = f.frames(1);
    assert_eq!(kinds(&alice), ["system", "message"], "{alice:?}");
    assert_eq!(texts(&alice), ["Frank joined the chat. (6 online)"]);
    // …and the list follows when the window ends, once.
    f.now += WINDOW * 3;
    f.hub.tick(f.now);
    f.hub.flush(f.now);
    let alice = f.frames(1);
    let everyone: Vec<String> = (1..=5)
        .map(|c| format!("user{c}"))
        .chain(["Frank".to_string()])
        .collect();
    assert_eq!(active_users(&alice), [everyone]);
    assert_eq!(kinds(&alice), ["active_users"], "no second system line");
    f.settle();
    f.settle();
    assert!(f.frames(1).is_empty(), "nothing left to announce");
}

#[test]
fn a_small_rooms_announcement_is_not_held_up_by_a_big_rooms_longer_window() {
    let config = HubConfig {
        presence_full_room: 3,
        ..config()
    };
    let mut f = Fixture::with(config, MemHistory::default(), 64);
    for conn in 1..=6 {
        f.join(conn, &format!("big{conn}"));
    }
    f.now += WINDOW * 10;
    f.hub.tick(f.now);
    f.hub.flush(f.now);
    for conn in 1..=6 {
        f.frames(conn);
    }
    // The big room becomes due first but with a long window; the small one after, short.
    f.join(7, "Late");
    f.connect(10, Some("quiet"));
    f.send(10, join("Solo"));
    f.settle();
    let solo = f.frames(10);
    assert_eq!(texts(&solo), ["Solo joined the chat. (1 online)"]);
    assert_eq!(active_users(&solo), [names(&["Solo"])]);
    assert!(f.frames(1).is_empty(), "the big room is still gathering");
}

#[test]
fn leave_announces_and_closes_normally() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    f.send(2, ClientMsg::Leave);
    assert_eq!(f.closed(2).map(|c| c.code), Some(close_code::NORMAL));
    f.settle();
    let alice = f.frames(1);
    assert_eq!(texts(&alice), ["Bob left the chat. (1 online)"]);
    assert_eq!(active_users(&alice), [names(&["Alice"])]);
    f.send(1, ClientMsg::Who);
    assert!(matches!(&f.frames(1)[0], ServerMsg::Who { users } if *users == names(&["Alice"])));
}

#[test]
fn disconnect_frees_the_name() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    f.hub.disconnect(2, f.now);
    f.join(3, "bob");
    assert!(matches!(&f.frames(3)[0], ServerMsg::Welcome(w) if w.name == "bob"));
    f.settle();
    assert_eq!(
        texts(&f.frames(1)),
        ["bob joined the chat. Bob left the chat. (2 online)"]
    );
}

#[test]
fn a_quick_reconnect_under_the_same_name_still_gets_the_user_list() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Zed")]);
    // Zed's connection drops and a new one joins as Zed within one presence window: the leave
    // and the join cancel out in the announcement, but the newcomer still needs the list.
    f.hub.disconnect(2, f.now);
    f.join(3, "Zed");
    f.settle();
    let zed = f.frames(3);
    assert!(texts(&zed).is_empty(), "nothing to announce: {zed:?}");
    assert_eq!(active_users(&zed), [names(&["Alice", "Zed"])]);
    assert!(texts(&f.frames(1)).is_empty());
}

#[test]
fn nothing_is_delivered_before_it_is_committed() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    f.hub.handle(1, say("one"), f.now);
    f.hub.handle(1, say("two"), f.now);
    assert!(
        f.frames(2).is_empty(),
        "staged until the batch is committed"
    );
    assert!(f.history.stored.lock().unwrap().is_empty());
    f.hub.flush(f.now);
    let stored: Vec<_> = f
        .history
        .stored
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.text.clone())
        .collect();
    assert_eq!(stored, ["one", "two"]);
    assert_eq!(messages(&f.frames(2)).len(), 2);
}

#[test]
fn a_joiner_gets_a_batched_message_once_in_its_history() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice")]);
    f.connect(2, None);
    // Same batch: Alice speaks, then Bob joins, then the batch is flushed.
    f.hub.handle(1, say("before Bob"), f.now);
    f.hub.handle(2, join("Bob"), f.now);
    f.hub.flush(f.now);
    let bob = f.frames(2);
    assert!(messages(&bob).is_empty(), "not live: {bob:?}");
    let history = bob.iter().find_map(|m| match m {
        ServerMsg::History { messages, .. } => Some(messages.clone()),
        _ => None,
    });
    assert_eq!(history.unwrap()[0].text, "before Bob");
}

#[test]
fn history_on_join_and_paging() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice")]);
    for i in 1..=12 {
        f.send(1, say(&format!("m{i}")));
    }
    f.join(2, "Bob");
    let got = f.frames(2);
    let ServerMsg::History { messages, .. } = &got[1] else {
        panic!("{got:?}")
    };
    let ids: Vec<_> = messages.iter().map(|m| m.id.unwrap()).collect();
    assert_eq!(
        ids,
        [8, 9, 10, 11, 12],
        "the last history_on_join, oldest first"
    );

    f.send(
        2,
        ClientMsg::History {
            room: None,
            before: Some(8),
            limit: Some(3),
        },
    );
    let got = f.frames(2);
    let ServerMsg::History { messages, room } = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(room, "main");
    let ids: Vec<_> = messages.iter().map(|m| m.id.unwrap()).collect();
    assert_eq!(ids, [5, 6, 7]);

    f.send(
        2,
        ClientMsg::History {
            room: Some("main".into()),
            before: None,
            limit: Some(1000),
        },
    );
    let ServerMsg::History { messages, .. } = &f.frames(2)[0] else {
        panic!()
    };
    assert_eq!(messages.len(), 10, "capped at history_page_max");
}

#[test]
fn ids_continue_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let now = Instant::now();
    let frames_of = |rx: &mut mpsc::Receiver<Frame>| {
        let mut v = Vec::new();
        while let Ok(f) = rx.try_recv() {
            v.push(ServerMsg::decode(&f).unwrap().unwrap());
        }
        v
    };
    for (round, expected_first_id) in [(0, 1), (1, 4)] {
        let history = SqliteHistory::open_file(&path).unwrap();
        let mut hub = Hub::new(config(), Box::new(history));
        let (tx, mut rx) = mpsc::channel(64);
        let (ctx, _crx) = oneshot::channel();
        let peer = Peer {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            room: None,
        };
        hub.connect(1, peer, ConnectionHandle::new(tx, ctx), now);
        hub.handle(1, join("Alice"), now);
        hub.flush(now);
        let got = frames_of(&mut rx);
        let ServerMsg::History { messages, .. } = &got[1] else {
            panic!("{got:?}")
        };
        assert_eq!(
            messages.len(),
            round * 3,
            "earlier rounds are in the history"
        );
        for i in 0..3 {
            hub.handle(1, say(&format!("r{round} m{i}")), now);
        }
        hub.flush(now);
        let ids: Vec<_> = messages_of(&frames_of(&mut rx));
        assert_eq!(
            ids,
            [
                expected_first_id,
                expected_first_id + 1,
                expected_first_id + 2
            ]
        );
    }

    fn messages_of(frames: &[ServerMsg]) -> Vec<u64> {
        messages(frames).iter().map(|m| m.id.unwrap()).collect()
    }
}

#[test]
fn unwritable_history_degrades_once_and_chat_goes_on() {
    let history = MemHistory::default();
    let mut f = Fixture::with(config(), history.clone(), 64);
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    history.broken.store(true, Ordering::SeqCst);
    for i in 0..3 {
        f.send(1, say(&format!("m{i}")));
    }
    let bob = f.frames(2);
    assert_eq!(messages(&bob).len(), 3, "chat continues");
    assert_eq!(
        texts(&bob),
        ["History is unavailable: new messages are not being saved."],
        "said once"
    );
    assert!(f.hub.stats().history_degraded.load(Ordering::Relaxed));

    history.broken.store(false, Ordering::SeqCst);
    f.send(1, say("back"));
    let bob = f.frames(2);
    assert_eq!(texts(&bob), ["History is being saved again."]);
    assert!(!f.hub.stats().history_degraded.load(Ordering::Relaxed));
    // Ids kept increasing through the outage.
    assert_eq!(messages(&bob)[0].id, Some(4));
}

#[test]
fn join_timeout_closes_a_silent_connection() {
    let mut f = Fixture::new();
    f.connect(1, None);
    f.room_of(&[(2, "Alice")]);
    assert_eq!(
        f.hub.next_deadline(),
        Some(f.now - WINDOW + Duration::from_secs(30))
    );
    f.now += Duration::from_secs(31);
    f.hub.tick(f.now);
    f.hub.flush(f.now);
    assert_eq!(errors(&f.frames(1)), [ErrorCode::JoinTimeout]);
    assert_eq!(f.closed(1).map(|c| c.code), Some(close_code::POLICY));
    assert!(f.closed(2).is_none(), "joined sessions are not affected");
}

#[test]
fn a_member_that_stops_reading_is_disconnected_and_the_room_goes_on() {
    let mut f = Fixture::with(config(), MemHistory::default(), 4);
    f.room_of(&[(1, "Alice"), (2, "Sloth")]);
    let mut alice = Vec::new();
    for i in 0..10 {
        f.send(1, say(&format!("m{i}")));
        alice.extend(f.frames(1)); // Alice reads; Sloth never does.
    }
    // Presence is announced before the next message once Sloth is gone.
    assert_eq!(texts(&alice), ["Sloth left the chat. (1 online)"]);
    assert_eq!(messages(&alice).len(), 10, "Alice lost nothing");
    let close = f.closed(2).expect("Sloth is closed");
    assert_eq!(close.code, close_code::POLICY);
    assert!(!close.drain);
    assert!(f.closed(1).is_none());
    assert_eq!(f.hub.users_in("main"), names(&["Alice"]));
}

#[test]
fn flooding_is_rate_limited_then_muted() {
    let config = HubConfig {
        flood: FloodPolicy {
            rate: 1.0,
            burst: 3,
            mute_after: 4,
            strike_window: Duration::from_secs(10),
            mute_for: Duration::from_secs(60),
        },
        ..config()
    };
    let mut f = Fixture::with(config, MemHistory::default(), 256);
    f.room_of(&[(1, "Flood"), (2, "Bob")]);
    // The join used one token; burst 3 leaves two.
    for i in 0..10 {
        f.send(1, say(&format!("spam {i}")));
    }
    let got = f.frames(1);
    assert_eq!(messages(&got).len(), 2);
    assert_eq!(
        errors(&got),
        [
            ErrorCode::RateLimited,
            ErrorCode::RateLimited,
            ErrorCode::RateLimited,
            ErrorCode::Muted,
            ErrorCode::RateLimited,
            ErrorCode::RateLimited,
            ErrorCode::RateLimited,
            ErrorCode::RateLimited,
        ]
    );
    assert_eq!(
        texts(&got),
        ["You are muted for 60 seconds for sending too fast."]
    );
    assert_eq!(
        messages(&f.frames(2)).len(),
        2,
        "the room saw only what passed"
    );

    // Tokens come back, but the mute holds for speaking; reading commands still work.
    f.now += Duration::from_secs(5);
    f.send(1, say("let me talk"));
    f.send(1, ClientMsg::Who);
    let got = f.frames(1);
    assert_eq!(errors(&got), [ErrorCode::Muted]);
    assert!(got.iter().any(|m| matches!(m, ServerMsg::Who { .. })));

    f.now += Duration::from_secs(60);
    f.send(1, say("sorry"));
    assert_eq!(messages(&f.frames(2))[0].text, "sorry");
}

#[test]
fn undecodable_frames_are_answered_and_count_as_frames() {
    let config = HubConfig {
        flood: FloodPolicy {
            rate: 1.0,
            burst: 2,
            ..FloodPolicy::default()
        },
        ..config()
    };
    let mut f = Fixture::with(config, MemHistory::default(), 64);
    f.connect(1, None);
    for _ in 0..3 {
        f.hub
            .refuse(1, ErrorCode::InvalidJson, "not valid JSON", f.now);
    }
    f.hub.flush(f.now);
    assert_eq!(
        errors(&f.frames(1)),
        [
            ErrorCode::InvalidJson,
            ErrorCode::InvalidJson,
            ErrorCode::RateLimited
        ]
    );
}

#[test]
fn shutdown_tells_everyone_and_closes_with_going_away() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    f.connect(3, None);
    f.hub.handle(1, say("last words"), f.now);
    f.hub.shutdown(f.now);
    assert_eq!(
        f.history.stored.lock().unwrap().len(),
        1,
        "staged messages committed"
    );
    for conn in [1, 2] {
        let got = f.frames(conn);
        assert_eq!(messages(&got).len(), 1);
        assert_eq!(texts(&got), ["Server is shutting down."]);
        assert_eq!(f.closed(conn).map(|c| c.code), Some(close_code::GOING_AWAY));
    }
    assert_eq!(f.closed(3).map(|c| c.code), Some(close_code::GOING_AWAY));
    assert!(f.hub.room_names().is_empty());
}

#[test]
fn abandoned_rooms_leave_nothing_behind_and_ids_continue_from_history() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice")]);
    for i in 0..50 {
        f.send(
            1,
            ClientMsg::JoinRoom {
                room: format!("r{i}"),
            },
        );
        if i == 0 {
            f.send(1, say("in r0"));
        }
        f.frames(1);
    }
    f.send(
        1,
        ClientMsg::JoinRoom {
            room: "main".into(),
        },
    );
    assert_eq!(f.hub.room_names(), names(&["main"]));
    assert!(f.hub.last_ids.len() <= 1, "{:?}", f.hub.last_ids.keys());
    f.send(1, ClientMsg::JoinRoom { room: "r0".into() });
    f.frames(1);
    f.send(1, say("again in r0"));
    assert_eq!(
        messages(&f.frames(1))[0].id,
        Some(2),
        "the id comes back from history"
    );
}

#[test]
fn reloaded_limits_apply_to_sessions_already_here() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    for i in 1..=8 {
        f.send(1, say(&format!("m{i}")));
    }
    f.send(1, say(&"x".repeat(150)));
    assert_eq!(errors(&f.frames(1)), [ErrorCode::TooLong]);
    f.frames(2);

    let strict = HubConfig {
        max_text_chars: 200,
        flood: FloodPolicy {
            rate: 1.0,
            burst: 1,
            mute_after: 0,
            ..FloodPolicy::default()
        },
        history_on_join: 3,
        ..config()
    };
    f.hub.reconfigure(strict, 0, f.now);
    f.send(1, say(&"x".repeat(150)));
    f.send(1, say("too soon"));
    assert_eq!(errors(&f.frames(1)), [ErrorCode::RateLimited]);
    assert_eq!(
        messages(&f.frames(2)).len(),
        1,
        "the longer text passes; the burst of one is spent"
    );

    // A joiner gets the new length of history, remembered messages included.
    f.join(3, "Carol");
    let got = f.frames(3);
    let ServerMsg::History { messages, .. } = &got[1] else {
        panic!("{got:?}")
    };
    let ids: Vec<_> = messages.iter().map(|m| m.id.unwrap()).collect();
    assert_eq!(ids, [7, 8, 9]);

    let roomy = HubConfig {
        history_on_join: 6,
        ..config()
    };
    f.hub.reconfigure(roomy, 0, f.now);
    f.join(4, "Dave");
    let got = f.frames(4);
    let ServerMsg::History { messages, .. } = &got[1] else {
        panic!("{got:?}")
    };
    let ids: Vec<_> = messages.iter().map(|m| m.id.unwrap()).collect();
    assert_eq!(
        ids,
        [4, 5, 6, 7, 8, 9],
        "a longer history is read back from storage"
    );
}

fn say_with_cid(text: &str, cid: &str) -> ClientMsg {
    ClientMsg::Message {
        text: text.into(),
        name: None,
        color: None,
        cid: Some(cid.into()),
    }
}

#[test]
fn a_resend_is_acknowledged_again_not_stored_or_delivered_twice() {
    let history = MemHistory::default();
    let mut f = Fixture::with(config(), history.clone(), 64);
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    // The server removes bidi controls: the stored text differs from what was sent.
    let sent = "bidi \u{202E}override\u{202C}";
    f.send(1, say_with_cid(sent, "c1c1c1c1c1c1c1c1"));
    let first = messages(&f.frames(1));
    assert_eq!(first[0].cid.as_deref(), Some("c1c1c1c1c1c1c1c1"));
    assert_eq!(first[0].text, "bidi override");
    let bob = messages(&f.frames(2));
    assert_eq!(
        bob[0].cid.as_deref(),
        Some("c1c1c1c1c1c1c1c1"),
        "the room sees the cid too (serialised once)"
    );
    // Right away (staged and in the room's memory), and after it left the memory (only the
    // history has it), the resend is answered with the stored message, to the sender only.
    f.send(1, say_with_cid(sent, "c1c1c1c1c1c1c1c1"));
    assert_eq!(messages(&f.frames(1)), first);
    for i in 0..6 {
        f.send(2, say(&format!("filler {i}")));
    }
    f.hub.disconnect(1, f.now);
    f.join(3, "Alice");
    f.settle();
    f.frames(3);
    f.frames(2);
    f.send(3, say_with_cid(sent, "c1c1c1c1c1c1c1c1"));
    assert_eq!(
        messages(&f.frames(3)),
        first,
        "acknowledged with its first id"
    );
    assert!(messages(&f.frames(2)).is_empty(), "nobody hears it twice");
    let stored = history.stored.lock().unwrap();
    assert_eq!(
        stored
            .iter()
            .filter(|m| m.cid.as_deref() == Some("c1c1c1c1c1c1c1c1"))
            .count(),
        1
    );
    assert_eq!(stored.len(), 7);
}

#[test]
fn a_cid_recognises_only_its_own_speakers_message() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Eve")]);
    f.send(1, say_with_cid("mine", "a1a1a1a1a1a1a1a1"));
    f.frames(1);
    f.frames(2);
    // Eve reuses Alice's cid: hers is a new message, not a resend of Alice's.
    f.send(2, say_with_cid("eve's", "a1a1a1a1a1a1a1a1"));
    let alice = messages(&f.frames(1));
    assert_eq!(alice.len(), 1);
    assert_eq!(
        (alice[0].name.as_str(), alice[0].text.as_str()),
        ("Eve", "eve's")
    );
    assert_eq!(alice[0].id, Some(2));
    // Without cids, the same words twice are two messages (old clients lose nothing).
    f.send(1, say("same"));
    f.send(1, say("same"));
    assert_eq!(messages(&f.frames(2)).len(), 3);
}

#[test]
fn a_resend_is_recognised_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let now = Instant::now();
    let mut got = Vec::new();
    for _ in 0..2 {
        let history = SqliteHistory::open_file(&path).unwrap();
        let mut hub = Hub::new(config(), Box::new(history));
        let (tx, mut rx) = mpsc::channel(64);
        let (ctx, _crx) = oneshot::channel();
        let peer = Peer {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            room: None,
        };
        hub.connect(1, peer, ConnectionHandle::new(tx, ctx), now);
        hub.handle(1, join("Alice"), now);
        // The history on join has no room for it: five newer messages follow it.
        hub.handle(1, say_with_cid("once", "b2b2b2b2b2b2b2b2"), now);
        hub.flush(now);
        for i in 0..5 {
            hub.handle(1, say(&format!("later {i}")), now);
        }
        hub.flush(now);
        while let Ok(frame) = rx.try_recv() {
            if let Some(ServerMsg::Message(m)) = ServerMsg::decode(&frame).unwrap()
                && m.cid.is_some()
            {
                got.push(m);
            }
        }
    }
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0], got[1],
        "the second server answered with the stored message"
    );
    let mut h = SqliteHistory::open_file(&path).unwrap();
    assert_eq!(h.with_cid("main", "b2b2b2b2b2b2b2b2").unwrap().len(), 1);
    assert_eq!(h.last_id("main").unwrap(), 11, "one + five, then five more");
}

#[test]
fn a_resent_dm_is_acknowledged_not_delivered_again() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    let dm = ClientMsg::Dm {
        to: "bob".into(),
        text: "psst".into(),
        cid: Some("d3d3d3d3d3d3d3d3".into()),
    };
    f.send(1, dm.clone());
    let echo = f.frames(1);
    assert!(
        matches!(&echo[..], [ServerMsg::Dm(d)] if d.cid.as_deref() == Some("d3d3d3d3d3d3d3d3"))
    );
    assert_eq!(f.frames(2).len(), 1);
    f.send(1, dm);
    assert_eq!(f.frames(1), echo, "the sender's echo again");
    assert!(f.frames(2).is_empty(), "Bob gets it once");
}

#[test]
fn a_malformed_cid_refuses_the_message_with_a_reason() {
    let mut f = Fixture::new();
    f.room_of(&[(1, "Alice"), (2, "Bob")]);
    for cid in [
        "short",
        "has spaces in it",
        "\u{1b}[2Jxxxxxxxx",
        &"x".repeat(65),
    ] {
        f.send(1, say_with_cid("hi", cid));
        f.send(
            1,
            ClientMsg::Me {
                text: "waves".into(),
                cid: Some(cid.into()),
            },
        );
        let got = f.frames(1);
        assert_eq!(
            errors(&got),
            [ErrorCode::InvalidMessage, ErrorCode::InvalidMessage],
            "{cid:?}"
        );
        assert!(messages(&got).is_empty());
    }
    assert!(
        messages(&f.frames(2)).is_empty(),
        "nothing reached the room"
    );
}
