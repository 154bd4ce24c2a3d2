//! Your messages on their way out. Each stays here, drawn as pending, from the moment it is
//! typed until the server confirms it (the live echo, or the history after a reconnect); a
//! dropped connection puts unconfirmed ones back in the queue, so nothing typed is lost and
//! nothing is sent twice.
//!
//! A message is recognised by its identity, never by its words: each gets a random `cid` that
//! the server stores and echoes (and uses to recognise a resend), so the same words said twice
//! are two messages, and text the server altered (bidi controls removed) still confirms.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::protocol::ClientMsg;
use crate::text::name_key;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutgoingKind {
    Chat,
    Me,
    Dm { to: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutState {
    /// Not sent yet (offline, or waiting for the history after a reconnect).
    Pending,
    /// Sent, not yet confirmed.
    InFlight,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub kind: OutgoingKind,
    pub text: String,
    /// When it was typed (Unix ms).
    pub ts: i64,
    pub state: OutState,
    /// Its identity on the wire: unpredictable, so nobody else can claim it.
    pub cid: String,
}

impl Outgoing {
    /// The wire message that sends it.
    pub fn to_client_msg(&self) -> ClientMsg {
        match &self.kind {
            OutgoingKind::Chat => ClientMsg::Message {
                text: self.text.clone(),
                name: None,
                color: None,
                cid: Some(self.cid.clone()),
            },
            OutgoingKind::Me => ClientMsg::Me {
                text: self.text.clone(),
                cid: Some(self.cid.clone()),
            },
            OutgoingKind::Dm { to } => ClientMsg::Dm {
                to: to.clone(),
                text: self.text.clone(),
                cid: Some(self.cid.clone()),
            },
        }
    }

    /// The input line that would send it again.
    pub fn input_line(&self) -> String {
        match &self.kind {
            OutgoingKind::Chat if self.text.starts_with('/') => format!("/{}", self.text),
            OutgoingKind::Chat => self.text.clone(),
            OutgoingKind::Me => format!("/me {}", self.text),
            OutgoingKind::Dm { to } => format!("/msg {to} {}", self.text),
        }
    }

    fn is_kind(&self, kind: &OutgoingKind) -> bool {
        match (&self.kind, kind) {
            (OutgoingKind::Dm { to: a }, OutgoingKind::Dm { to: b }) => name_key(a) == name_key(b),
            (a, b) => a == b,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Outbox {
    items: VecDeque<Outgoing>,
    /// Draws the cids. A CSPRNG: a cid someone could predict, they could claim first.
    rng: StdRng,
}

impl Default for Outbox {
    fn default() -> Outbox {
        Outbox::with_rng(StdRng::from_os_rng())
    }
}

impl Outbox {
    /// An outbox drawing its cids from `rng` (seeded in tests).
    pub fn with_rng(rng: StdRng) -> Outbox {
        Outbox {
            items: VecDeque::new(),
            rng,
        }
    }

    /// Queues a message, pending; returns its cid.
    pub fn push(&mut self, kind: OutgoingKind, text: String, ts: i64) -> String {
        // 64 random bits: 16 hex digits, well within the protocol's cid rules.
        let cid = format!("{:016x}", self.rng.random::<u64>());
        self.items.push_back(Outgoing {
            kind,
            text,
            ts,
            state: OutState::Pending,
            cid: cid.clone(),
        });
        cid
    }

    pub fn iter(&self) -> impl Iterator<Item = &Outgoing> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Messages typed but not sent yet.
    pub fn pending_count(&self) -> usize {
        self.items
            .iter()
            .filter(|o| o.state == OutState::Pending)
            .count()
    }

    /// Marks every pending message in flight and returns what to send, oldest first.
    pub fn take_pending(&mut self) -> Vec<ClientMsg> {
        self.items
            .iter_mut()
            .filter(|o| o.state == OutState::Pending)
            .map(|o| {
                o.state = OutState::InFlight;
                o.to_client_msg()
            })
            .collect()
    }

    /// The connection dropped: whatever was not confirmed must be sent again.
    pub fn requeue_in_flight(&mut self) {
        for o in &mut self.items {
            o.state = OutState::Pending;
        }
    }

    /// The server has the message with this cid (its echo, its acknowledgement of a resend,
    /// or the history after a reconnect): removes it and says whether it was here.
    pub fn confirm(&mut self, cid: &str) -> bool {
        match self.items.iter().position(|o| o.cid == cid) {
            Some(i) => {
                self.items.remove(i);
                true
            }
            None => false,
        }
    }

    /// An echo of yours without a cid (a server that does not know them): the server answers
    /// in order, so it confirms the oldest message of that kind in flight. Never a pending
    /// one: the server cannot have it.
    pub fn confirm_oldest(&mut self, kind: &OutgoingKind) -> bool {
        let found = self
            .items
            .iter()
            .position(|o| o.state == OutState::InFlight && o.is_kind(kind));
        match found {
            Some(i) => {
                self.items.remove(i);
                true
            }
            None => false,
        }
    }

    /// Takes out, oldest first, the messages whose destination is gone: every one when `all`,
    /// else those for the room (chat and actions, not DMs). Used when the room or server
    /// changes before they could be sent, so they never reach an audience they were not
    /// written for.
    pub fn withdraw(&mut self, all: bool) -> Vec<Outgoing> {
        let (gone, kept): (Vec<_>, Vec<_>) = self
            .items
            .drain(..)
            .partition(|o| all || !matches!(o.kind, OutgoingKind::Dm { .. }));
        self.items = kept.into();
        gone
    }

    /// The server refused the oldest message in flight (only DMs when `dm_only`): removes and
    /// returns it.
    pub fn fail_first(&mut self, dm_only: bool) -> Option<Outgoing> {
        let i = self.items.iter().position(|o| {
            o.state == OutState::InFlight && (!dm_only || matches!(o.kind, OutgoingKind::Dm { .. }))
        })?;
        self.items.remove(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withdrawing_takes_room_messages_or_everything_in_order() {
        let mut out = Outbox::default();
        out.push(OutgoingKind::Chat, "one".into(), 1);
        out.push(OutgoingKind::Dm { to: "bob".into() }, "psst".into(), 2);
        out.push(OutgoingKind::Me, "waves".into(), 3);
        let gone: Vec<String> = out.withdraw(false).into_iter().map(|o| o.text).collect();
        assert_eq!(gone, ["one", "waves"]);
        assert_eq!(out.len(), 1, "the DM still has its addressee");
        let gone: Vec<String> = out.withdraw(true).into_iter().map(|o| o.text).collect();
        assert_eq!(gone, ["psst"]);
        assert!(out.is_empty());
    }

    #[test]
    fn pending_messages_go_out_once_in_order() {
        let mut o = Outbox::default();
        o.push(OutgoingKind::Chat, "a".into(), 0);
        o.push(OutgoingKind::Me, "b".into(), 0);
        let sent = o.take_pending();
        assert_eq!(sent.len(), 2);
        assert!(matches!(&sent[0], ClientMsg::Message { text, .. } if text == "a"));
        assert!(matches!(&sent[1], ClientMsg::Me { text, .. } if text == "b"));
        assert!(o.take_pending().is_empty(), "nothing is sent twice");
        assert_eq!(o.len(), 2, "still shown until confirmed");
    }

    #[test]
    fn echo_confirms_and_drop_requeues_the_rest() {
        let mut o = Outbox::default();
        let a = o.push(OutgoingKind::Chat, "a".into(), 0);
        o.push(OutgoingKind::Chat, "b".into(), 0);
        o.take_pending();
        assert!(o.confirm(&a));
        assert!(!o.confirm(&a));
        o.requeue_in_flight();
        assert_eq!(o.pending_count(), 1);
        let again = o.take_pending();
        assert!(matches!(&again[0], ClientMsg::Message { text, .. } if text == "b"));
    }

    #[test]
    fn the_same_words_twice_are_two_messages_each_with_its_own_cid() {
        let mut o = Outbox::with_rng(StdRng::seed_from_u64(7));
        let first = o.push(OutgoingKind::Chat, "ok".into(), 0);
        let second = o.push(OutgoingKind::Chat, "ok".into(), 0);
        assert_ne!(first, second);
        assert!(crate::protocol::is_valid_cid(&first), "{first}");
        let sent = o.take_pending();
        assert!(matches!(&sent[0], ClientMsg::Message { cid: Some(c), .. } if *c == first));
        assert!(matches!(&sent[1], ClientMsg::Message { cid: Some(c), .. } if *c == second));
        // Confirming one (found in history, say) leaves the other, even unsent.
        o.requeue_in_flight();
        assert!(o.confirm(&first));
        assert_eq!(o.len(), 1);
        assert_eq!(o.iter().next().unwrap().cid, second);
    }

    #[test]
    fn an_echo_without_cid_confirms_the_oldest_in_flight_of_its_kind() {
        let mut o = Outbox::default();
        o.push(OutgoingKind::Chat, "hi".into(), 0);
        assert!(
            !o.confirm_oldest(&OutgoingKind::Chat),
            "an unsent message cannot have come back"
        );
        o.take_pending();
        o.push(OutgoingKind::Me, "waves".into(), 0);
        o.take_pending();
        assert!(o.confirm_oldest(&OutgoingKind::Me));
        assert_eq!(o.iter().next().unwrap().text, "hi");
        assert!(o.confirm_oldest(&OutgoingKind::Chat));
        assert!(o.is_empty());
    }

    #[test]
    fn refusals_remove_the_oldest_in_flight() {
        let mut o = Outbox::default();
        o.push(OutgoingKind::Chat, "a".into(), 0);
        o.push(OutgoingKind::Dm { to: "bob".into() }, "b".into(), 0);
        o.take_pending();
        let failed = o.fail_first(true).unwrap();
        assert_eq!(failed.input_line(), "/msg bob b");
        assert_eq!(o.fail_first(false).unwrap().input_line(), "a");
        assert!(o.fail_first(false).is_none());
    }

    #[test]
    fn dm_confirmation_without_cid_matches_the_recipient_loosely() {
        let mut o = Outbox::default();
        o.push(OutgoingKind::Dm { to: "Bob".into() }, "x".into(), 0);
        o.take_pending();
        assert!(!o.confirm_oldest(&OutgoingKind::Dm { to: "carol".into() }));
        assert!(o.confirm_oldest(&OutgoingKind::Dm { to: "bob".into() }));
    }
}
