//! One chat room as the hub sees it: its members' outbound queues in join order, the presence
//! changes not yet announced, and its last messages (served to joiners without touching the
//! database). Fan-out lives here: one shared frame, `try_send` to each member, never a wait.

use std::collections::VecDeque;
use std::time::Instant;

use tokio::sync::mpsc;

use super::hub::{ConnId, Frame};
use super::presence::PresenceChanges;
use crate::protocol::ChatMessage;

/// A member's place in a room: who, and where its frames go.
#[derive(Debug)]
pub(crate) struct Member {
    pub conn: ConnId,
    pub frames: mpsc::Sender<Frame>,
}

#[derive(Debug)]
pub(crate) struct Room {
    /// In join order, which is also the order of `active_users`.
    pub members: Vec<Member>,
    /// Joins, leaves and renames since the last announcement.
    pub changes: PresenceChanges,
    /// When the room first had unannounced changes; `None` when it has none.
    pub dirty_since: Option<Instant>,
    /// When the pending changes are due to be announced; `None` when none are pending.
    pub announce_at: Option<Instant>,
    /// The members changed since the last `active_users` (its `system` line may already be out).
    pub list_stale: bool,
    /// The newest messages, oldest first, at most `capacity`.
    recent: VecDeque<ChatMessage>,
    capacity: usize,
    /// `recent` serialised as a `history` frame, kept until the next message: a join storm
    /// serialises the room's history once, not once per joiner.
    history_frame: Option<Frame>,
}

impl Room {
    pub fn new(recent: Vec<ChatMessage>, capacity: usize) -> Room {
        let mut recent = VecDeque::from(recent);
        while recent.len() > capacity {
            recent.pop_front();
        }
        Room {
            members: Vec::new(),
            changes: PresenceChanges::default(),
            dirty_since: None,
            announce_at: None,
            list_stale: false,
            recent,
            capacity,
            history_frame: None,
        }
    }

    pub fn remove(&mut self, conn: ConnId) -> bool {
        match self.members.iter().position(|m| m.conn == conn) {
            Some(i) => {
                self.members.remove(i);
                true
            }
            None => false,
        }
    }

    /// Queues `frame` for every member; returns the members whose queue was full.
    pub fn broadcast(&self, frame: &Frame, slow: &mut Vec<ConnId>) {
        for member in &self.members {
            if let Err(mpsc::error::TrySendError::Full(_)) = member.frames.try_send(frame.clone()) {
                slow.push(member.conn);
            }
            // A closed queue means the connection is already ending; its disconnect follows.
        }
    }

    pub fn remember(&mut self, message: ChatMessage) {
        if self.capacity == 0 {
            return;
        }
        if self.recent.len() == self.capacity {
            self.recent.pop_front();
        }
        self.recent.push_back(message);
        self.history_frame = None;
    }

    /// A new length for the remembered history (settings reloaded), with the messages to
    /// remember now, oldest first; the oldest beyond `capacity` are dropped.
    pub fn resize(&mut self, recent: Vec<ChatMessage>, capacity: usize) {
        let skip = recent.len().saturating_sub(capacity);
        self.recent = recent.into_iter().skip(skip).collect();
        self.capacity = capacity;
        self.history_frame = None;
    }

    pub fn recent(&self) -> impl DoubleEndedIterator<Item = &ChatMessage> {
        self.recent.iter()
    }

    pub fn history_frame(&mut self, make: impl FnOnce(Vec<ChatMessage>) -> Frame) -> Frame {
        self.history_frame
            .get_or_insert_with(|| make(self.recent.iter().cloned().collect()))
            .clone()
    }
}
