//! The hub's fan-out without sockets: one chat message from one member of a 1000-member room,
//! through `handle` and `flush` into every member's bounded queue, and the queues drained as the
//! connection tasks would. This is the server's per-message CPU cost apart from socket writes.
//! Then the cost of a client id (`cid`): a message into a real SQLite history of 100 000
//! messages, with and without a cid (with one, the hub first looks for an earlier message with
//! that cid, to recognise a resend).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use clicom::protocol::{ChatMessage, ClientMsg};
use clicom::server::hub::{ConnectionHandle, Frame, Hub, HubConfig, Peer};
use clicom::server::limits::FloodPolicy;
use clicom::server::{History, HistoryError, SqliteHistory};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::sync::{mpsc, oneshot};

/// History that keeps nothing: the bench measures fan-out, not SQLite.
struct NoHistory;

impl History for NoHistory {
    fn append(&mut self, _: &[ChatMessage]) -> Result<(), HistoryError> {
        Ok(())
    }
    fn recent(
        &mut self,
        _: &str,
        _: Option<u64>,
        _: usize,
    ) -> Result<Vec<ChatMessage>, HistoryError> {
        Ok(Vec::new())
    }
    fn last_id(&mut self, _: &str) -> Result<u64, HistoryError> {
        Ok(0)
    }
    fn with_cid(&mut self, _: &str, _: &str) -> Result<Vec<ChatMessage>, HistoryError> {
        Ok(Vec::new())
    }
}

struct Room {
    hub: Hub,
    now: Instant,
    queues: Vec<mpsc::Receiver<Frame>>,
    /// Kept open so that the hub's close switches stay connected.
    _closes: Vec<oneshot::Receiver<clicom::server::hub::Close>>,
}

impl Room {
    fn drain(&mut self) -> usize {
        let mut n = 0;
        for q in &mut self.queues {
            while let Ok(frame) = q.try_recv() {
                black_box(frame);
                n += 1;
            }
        }
        n
    }
}

/// A hub with `members` joined sessions in room `main`, presence announced and queues empty.
fn room(members: u64) -> Room {
    room_with(members, Box::new(NoHistory))
}

fn room_with(members: u64, history: Box<dyn History>) -> Room {
    let config = HubConfig {
        flood: FloodPolicy {
            rate: 0.0,
            ..FloodPolicy::default()
        },
        ..HubConfig::default()
    };
    let mut hub = Hub::new(config, history);
    let mut now = Instant::now();
    let mut queues = Vec::new();
    let mut closes = Vec::new();
    for conn in 1..=members {
        let (tx, rx) = mpsc::channel(1024);
        let (close_tx, close_rx) = oneshot::channel();
        let peer = Peer {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            room: None,
        };
        hub.connect(conn, peer, ConnectionHandle::new(tx, close_tx), now);
        let join = ClientMsg::Join {
            name: format!("user-{conn:05}"),
            color: None,
            room: None,
        };
        hub.handle(conn, join, now);
        hub.flush(now);
        queues.push(rx);
        closes.push(close_rx);
    }
    now += Duration::from_secs(1);
    hub.tick(now);
    hub.flush(now);
    let mut room = Room {
        hub,
        now,
        queues,
        _closes: closes,
    };
    room.drain();
    room
}

fn fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("hub");
    const MEMBERS: u64 = 1000;
    let mut r = room(MEMBERS);
    assert_eq!(r.hub.users_in("main").len(), MEMBERS as usize);
    g.throughput(Throughput::Elements(MEMBERS));
    g.bench_function("fanout_one_message_to_1000", |b| {
        b.iter(|| {
            let msg = ClientMsg::Message {
                text: "hello everyone, this is a fairly ordinary chat line".into(),
                name: None,
                color: None,
                cid: None,
            };
            r.hub.handle(1, msg, r.now);
            r.hub.flush(r.now);
            let delivered = r.drain();
            assert_eq!(delivered, MEMBERS as usize, "everyone gets the message");
        })
    });
    g.finish();
}

/// A history file of `stored` messages in `main`, every one with a cid.
fn stored_history(dir: &std::path::Path, stored: u64) -> SqliteHistory {
    let mut history = SqliteHistory::open_file(&dir.join("history.db")).expect("a history file");
    for first in (1..=stored).step_by(1000) {
        let batch: Vec<ChatMessage> = (first..first + 1000)
            .map(|id| ChatMessage {
                name: "someone".into(),
                color: "2".into(),
                text: "an earlier line".into(),
                id: Some(id),
                ts: Some(1_700_000_000_000 + id),
                room: Some("main".into()),
                action: false,
                cid: Some(format!("{:016x}", id.wrapping_mul(0x9e37_79b9_7f4a_7c15))),
            })
            .collect();
        history.append(&batch).expect("stored");
    }
    history
}

fn cid_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("hub_history");
    for with_cid in [false, true] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut r = room_with(10, Box::new(stored_history(dir.path(), 100_000)));
        let mut n: u64 = 0;
        let name = if with_cid {
            "say_with_cid_100k_stored"
        } else {
            "say_without_cid_100k_stored"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                let msg = ClientMsg::Message {
                    text: "hello everyone, this is a fairly ordinary chat line".into(),
                    name: None,
                    color: None,
                    cid: with_cid.then(|| format!("b{n:015x}")),
                };
                r.hub.handle(1, msg, r.now);
                r.hub.flush(r.now);
                assert_eq!(r.drain(), 10);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, fanout, cid_lookup);
criterion_main!(benches);
