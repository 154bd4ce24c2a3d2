//! Recognising a resend. A client that lost its connection cannot know whether the server got
//! its last messages, so it sends them again with the same client-chosen id (`cid`); the hub
//! answers such a resend with what it already has instead of storing or delivering it twice.
//! Room messages are found in history (this module only decides whose they are); private
//! messages are not stored, so the DMs sent lately are remembered here, bounded.

use std::collections::{HashMap, VecDeque};

use crate::protocol::ChatMessage;
use crate::text::name_key;

/// Whether `m` is the message `speaker` (a `name_key`) sent with `cid`: a cid is the sender's
/// own, so someone else's message with the same cid is not a match.
pub(crate) fn is_resend_of(m: &ChatMessage, cid: &str, speaker: &str) -> bool {
    m.cid.as_deref() == Some(cid) && name_key(&m.name) == speaker
}

/// DMs delivered lately, by sender and cid, with the frame that delivered them.
#[derive(Debug)]
pub(crate) struct SentDms<F> {
    sent: HashMap<(String, String), F>,
    /// Keys oldest first, so the oldest are forgotten past `capacity`.
    order: VecDeque<(String, String)>,
    capacity: usize,
}

impl<F: Clone> SentDms<F> {
    pub fn new(capacity: usize) -> SentDms<F> {
        SentDms {
            sent: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// The frame that delivered `speaker`'s DM `cid`, if it is remembered.
    pub fn get(&self, speaker: &str, cid: &str) -> Option<F> {
        self.sent
            .get(&(speaker.to_owned(), cid.to_owned()))
            .cloned()
    }

    /// Remembers a delivered DM, forgetting the oldest beyond the capacity.
    pub fn remember(&mut self, speaker: &str, cid: &str, frame: F) {
        let key = (speaker.to_owned(), cid.to_owned());
        if self.sent.insert(key.clone(), frame).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.sent.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resend_is_the_same_speakers_message_with_the_same_cid() {
        let m = ChatMessage {
            name: "Alice".into(),
            color: "1".into(),
            text: "hi".into(),
            id: Some(1),
            ts: Some(1),
            room: Some("main".into()),
            action: false,
            cid: Some("c0ffee00c0ffee00".into()),
        };
        assert!(is_resend_of(&m, "c0ffee00c0ffee00", &name_key("alice")));
        assert!(!is_resend_of(&m, "c0ffee00c0ffee00", &name_key("eve")));
        assert!(!is_resend_of(&m, "0000000000000000", &name_key("alice")));
    }

    #[test]
    fn sent_dms_are_remembered_per_sender_and_bounded() {
        let mut dms = SentDms::new(2);
        dms.remember("alice", "c1c1c1c1", 1);
        dms.remember("bob", "c1c1c1c1", 2);
        assert_eq!(dms.get("alice", "c1c1c1c1"), Some(1));
        assert_eq!(dms.get("bob", "c1c1c1c1"), Some(2));
        dms.remember("alice", "c2c2c2c2", 3);
        assert_eq!(
            dms.get("alice", "c1c1c1c1"),
            None,
            "the oldest is forgotten"
        );
        assert_eq!(dms.get("alice", "c2c2c2c2"), Some(3));
        assert_eq!(dms.get("bob", "c1c1c1c1"), Some(2));
    }
}
