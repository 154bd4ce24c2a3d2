//! Your messages on their way out. Each stays here, drawn as pending, from the moment it is
//! typed until the server confirms it (the live echo, or the history after a reconnect); a
//! dropped connection puts unconfirmed ones back in the queue, so nothing typed is lost and
//! nothing is sent twice.

use std::collections::VecDeque;

use crate::protocol::ClientMsg;
use crate::text::name_key;

/// How far the server's clock may lag ours when matching a pending message found in history.
const CLOCK_SLACK_MS: i64 = 120_000;

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
}

impl Outgoing {
    /// The wire message that sends it.
    pub fn to_client_msg(&self) -> ClientMsg {
        match &self.kind {
            OutgoingKind::Chat => ClientMsg::Message {
                text: self.text.clone(),
                name: None,
                color: None,
                cid: None,
            },
            OutgoingKind::Me => ClientMsg::Me {
                text: self.text.clone(),
                cid: None,
            },
            OutgoingKind::Dm { to } => ClientMsg::Dm {
                to: to.clone(),
                text: self.text.clone(),
                cid: None,
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

    fn matches(&self, kind: &OutgoingKind, text: &str) -> bool {
        let same_kind = match (&self.kind, kind) {
            (OutgoingKind::Dm { to: a }, OutgoingKind::Dm { to: b }) => name_key(a) == name_key(b),
            (a, b) => a == b,
        };
        same_kind && self.text.trim() == text.trim()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Outbox {
    items: VecDeque<Outgoing>,
}

impl Outbox {
    pub fn push(&mut self, kind: OutgoingKind, text: String, ts: i64) {
        self.items.push_back(Outgoing {
            kind,
            text,
            ts,
            state: OutState::Pending,
        });
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

    /// A message of yours came back from the server: removes the oldest matching entry and
    /// says whether there was one. A live echo confirms only a message in flight; a history
    /// entry (`live` false, with the server's `ts`) confirms a pending one too, if it is not
    /// older than the message was typed.
    pub fn confirm(
        &mut self,
        kind: &OutgoingKind,
        text: &str,
        ts: Option<i64>,
        live: bool,
    ) -> bool {
        let found = self.items.iter().position(|o| {
            o.matches(kind, text)
                && if live {
                    o.state == OutState::InFlight
                } else {
                    ts.is_some_and(|ts| ts >= o.ts - CLOCK_SLACK_MS)
                }
        });
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
        o.push(OutgoingKind::Chat, "a".into(), 0);
        o.push(OutgoingKind::Chat, "b".into(), 0);
        o.take_pending();
        assert!(o.confirm(&OutgoingKind::Chat, "a", Some(10), true));
        assert!(!o.confirm(&OutgoingKind::Chat, "a", Some(10), true));
        o.requeue_in_flight();
        assert_eq!(o.pending_count(), 1);
        let again = o.take_pending();
        assert!(matches!(&again[0], ClientMsg::Message { text, .. } if text == "b"));
    }

    #[test]
    fn history_confirms_pending_messages_not_older_ones() {
        let mut o = Outbox::default();
        o.push(OutgoingKind::Chat, "hi".into(), 1_000_000);
        // The same words said an hour earlier are a different message.
        assert!(!o.confirm(
            &OutgoingKind::Chat,
            "hi",
            Some(1_000_000 - 3_600_000),
            false
        ));
        assert!(o.confirm(&OutgoingKind::Chat, "hi", Some(1_000_500), false));
        assert!(o.is_empty());
    }

    #[test]
    fn live_echo_does_not_confirm_an_unsent_message() {
        let mut o = Outbox::default();
        o.push(OutgoingKind::Chat, "hi".into(), 0);
        assert!(!o.confirm(&OutgoingKind::Chat, "hi", None, true));
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
    fn dm_confirmation_matches_the_recipient_loosely() {
        let mut o = Outbox::default();
        o.push(OutgoingKind::Dm { to: "Bob".into() }, "x".into(), 0);
        o.take_pending();
        assert!(o.confirm(&OutgoingKind::Dm { to: "bob".into() }, "x", None, true));
    }
}
