//! Cheap reading of server frames for the load generator: it shares the CPU with the server it
//! measures, so it finds the `type` tag and its own probe text by scanning bytes instead of
//! decoding every frame with serde. Only rare frames (errors) are fully decoded.

use std::fmt::Write as _;

use memchr::memmem;

/// The `type` tag of a JSON object frame, found without parsing the rest. A `"type"` followed by
/// a colon is a key (inside a string value every quote is escaped), so the first such occurrence
/// is the tag of a flat frame, whatever the key order and spacing (Python's `json.dumps` writes
/// `"type": "message"`).
pub fn frame_type(frame: &str) -> Option<&str> {
    let bytes = frame.as_bytes();
    for at in memmem::find_iter(bytes, b"\"type\"") {
        let rest = skip_ws(&bytes[at + 6..]);
        let Some(rest) = rest.strip_prefix(b":") else {
            continue;
        };
        let rest = skip_ws(rest);
        let rest = rest.strip_prefix(b"\"")?;
        let end = memchr::memchr(b'"', rest)?;
        let start = bytes.len() - rest.len();
        return frame.get(start..start + end);
    }
    None
}

fn skip_ws(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .count();
    &bytes[n..]
}

/// Whether `frame` (an `active_users` or `who` list) names `name` exactly. Bench names are plain
/// ASCII, so they appear unescaped between quotes.
pub fn lists_name(frame: &str, name: &str) -> bool {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    quoted.push_str(name);
    quoted.push('"');
    memmem::find(frame.as_bytes(), quoted.as_bytes()).is_some()
}

/// What one measured message carries in its text: who sent it, its number in that sender's
/// sequence, and when it was sent (microseconds on this process's monotonic clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub sender: u32,
    pub seq: u64,
    pub sent_us: u64,
}

/// Writes and finds probes of one run. The run's random nonce keeps messages of earlier runs
/// (replayed as history) and other people's chat from being counted.
#[derive(Debug, Clone)]
pub struct ProbeCodec {
    /// `cb:<nonce>:` — measured messages.
    marker: String,
    /// `cw:<nonce>:` — warm-up messages, which receivers skip without parsing.
    warmup_marker: String,
    finder: memmem::Finder<'static>,
}

impl ProbeCodec {
    pub fn new(nonce: u32) -> ProbeCodec {
        let marker = format!("cb:{nonce:08x}:");
        let finder = memmem::Finder::new(marker.as_bytes()).into_owned();
        ProbeCodec {
            warmup_marker: format!("cw:{nonce:08x}:"),
            marker,
            finder,
        }
    }

    /// The message text for `probe`, padded with `x` to at least `size` bytes.
    pub fn encode(&self, probe: Probe, size: usize, warmup: bool) -> String {
        let mut text = String::with_capacity(size.max(48));
        text.push_str(if warmup {
            &self.warmup_marker
        } else {
            &self.marker
        });
        // Writing to a String cannot fail.
        let _ = write!(text, "{}:{}:{}", probe.sender, probe.seq, probe.sent_us);
        if text.len() < size {
            text.push(' ');
        }
        while text.len() < size {
            text.push('x');
        }
        text
    }

    /// The probe in a `message` frame of this run, if there is one.
    pub fn find(&self, frame: &str) -> Option<Probe> {
        let at = self.finder.find(frame.as_bytes())?;
        let rest = &frame.as_bytes()[at + self.marker.len()..];
        let (sender, rest) = parse_u64(rest)?;
        let rest = rest.strip_prefix(b":")?;
        let (seq, rest) = parse_u64(rest)?;
        let rest = rest.strip_prefix(b":")?;
        let (sent_us, _) = parse_u64(rest)?;
        Some(Probe {
            sender: u32::try_from(sender).ok()?,
            seq,
            sent_us,
        })
    }
}

fn parse_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in &bytes[..digits] {
        n = n * 10 + u64::from(b - b'0');
    }
    Some((n, &bytes[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ChatMessage, ServerMsg, Welcome};

    #[test]
    fn type_tag_is_found_in_any_key_order_and_spacing() {
        let welcome = ServerMsg::Welcome(Welcome {
            name: "a".into(),
            color: "1".into(),
            room: "main".into(),
            max_text: None,
        })
        .encode();
        assert_eq!(frame_type(&welcome), Some("welcome"));
        assert_eq!(
            frame_type(r#"{"name": "x", "type": "message", "text": "hi"}"#),
            Some("message")
        );
        assert_eq!(
            frame_type(r#"{"users":["type"],"type":"who"}"#),
            Some("who")
        );
        assert_eq!(frame_type(r#"{"text":"no tag"}"#), None);
        assert_eq!(frame_type("not json at all"), None);
    }

    #[test]
    fn type_inside_text_is_not_taken_for_the_tag() {
        let msg = ServerMsg::Message(ChatMessage {
            name: "eve".into(),
            color: "1".into(),
            text: r#"{"type":"welcome"}"#.into(),
            id: None,
            ts: None,
            room: None,
            action: false,
            cid: None,
        })
        .encode();
        assert!(msg.starts_with(r#"{"type":"message""#));
        let spoof = format!(r#"{{"text":{:?},"type":"message"}}"#, r#""type":"welcome""#);
        assert_eq!(frame_type(&spoof), Some("message"));
    }

    #[test]
    fn probe_round_trips_through_a_server_frame() {
        let codec = ProbeCodec::new(0xabcdef01);
        let probe = Probe {
            sender: 7,
            seq: 12345,
            sent_us: 987_654_321,
        };
        let text = codec.encode(probe, 64, false);
        assert_eq!(text.len(), 64);
        let frame = ServerMsg::Message(ChatMessage {
            name: "b-7".into(),
            color: "2".into(),
            text,
            id: Some(3),
            ts: Some(1),
            room: Some("main".into()),
            action: false,
            cid: None,
        })
        .encode();
        assert_eq!(codec.find(&frame), Some(probe));
    }

    #[test]
    fn warmup_and_foreign_probes_are_not_found() {
        let codec = ProbeCodec::new(1);
        let probe = Probe {
            sender: 0,
            seq: 0,
            sent_us: 5,
        };
        assert_eq!(codec.find(&codec.encode(probe, 0, true)), None);
        let other_run = ProbeCodec::new(2).encode(probe, 0, false);
        assert_eq!(codec.find(&other_run), None);
        assert_eq!(codec.find("cb:00000001:x:1:2"), None);
        assert_eq!(codec.find(&codec.encode(probe, 0, false)), Some(probe));
    }

    #[test]
    fn name_lists_match_whole_names_only() {
        let frame = r#"{"type":"active_users","users":["b-10","b-2"]}"#;
        assert!(lists_name(frame, "b-10"));
        assert!(lists_name(frame, "b-2"));
        assert!(!lists_name(frame, "b-1"));
    }
}
