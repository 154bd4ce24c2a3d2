//! The Clicom wire protocol: JSON text frames with a `type` tag, shared by server and client.
//!
//! Wire-compatible with the original Python Clicom (seed 000): `join`, `message`, `who`, `leave`
//! from clients; `message`, `system`, `active_users`, `who` from the server. Everything else here
//! is an extension made of optional fields and new types that old peers ignore. See docs/PROTOCOL.md.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The room every session starts in unless it asks for another; nobody owns it.
pub const DEFAULT_ROOM: &str = "main";

/// Types a client may send. Unknown fields are ignored; colours arrive unchecked (the server
/// validates them against the session, so a bad colour never makes a whole message undecodable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    Join {
        name: String,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "lenient_string"
        )]
        color: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    Message {
        text: String,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "lenient_string"
        )]
        name: Option<String>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "lenient_string"
        )]
        color: Option<String>,
        /// The sender's own id for this message ([`is_valid_cid`]), so that a resend is recognised.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cid: Option<String>,
    },
    Who,
    Leave,
    JoinRoom {
        room: String,
    },
    Rooms,
    Dm {
        to: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cid: Option<String>,
    },
    Me {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cid: Option<String>,
    },
    Nick {
        name: String,
    },
    Color {
        #[serde(deserialize_with = "required_lenient_string")]
        color: String,
    },
    History {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
}

/// The `type` tags of [`ClientMsg`], used to tell an unknown type from a malformed known one.
const CLIENT_TYPES: &[&str] = &[
    "join",
    "message",
    "who",
    "leave",
    "join_room",
    "rooms",
    "dm",
    "me",
    "nick",
    "color",
    "history",
];

/// Why a client frame could not be decoded. Each maps to an `error` code on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not valid JSON: {0}")]
    InvalidJson(String),
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("malformed {kind:?} message: {reason}")]
    InvalidMessage { kind: String, reason: String },
}

impl DecodeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::InvalidJson(_) => ErrorCode::InvalidJson,
            DecodeError::UnknownType(_) => ErrorCode::UnknownType,
            DecodeError::InvalidMessage { .. } => ErrorCode::InvalidMessage,
        }
    }
}

impl ClientMsg {
    /// Decodes one text frame. The happy path parses once; only failures are re-examined to
    /// tell the sender precisely what was wrong.
    pub fn decode(frame: &str) -> Result<ClientMsg, DecodeError> {
        match serde_json::from_str::<ClientMsg>(frame) {
            Ok(msg) => Ok(msg),
            Err(err) => Err(classify_failure(frame, err, CLIENT_TYPES)),
        }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("client messages always serialise")
    }
}

/// Tells invalid JSON, an unknown `type` (not in `known`) and a malformed known type apart.
fn classify_failure(frame: &str, err: serde_json::Error, known: &[&str]) -> DecodeError {
    let value: serde_json::Value = match serde_json::from_str(frame) {
        Ok(value) => value,
        Err(json_err) => return DecodeError::InvalidJson(json_err.to_string()),
    };
    let Some(kind) = value.get("type") else {
        return DecodeError::InvalidMessage {
            kind: String::new(),
            reason: "expected an object with a \"type\" field".into(),
        };
    };
    let Some(kind) = kind.as_str() else {
        return DecodeError::InvalidMessage {
            kind: kind.to_string(),
            reason: "\"type\" must be a string".into(),
        };
    };
    if !known.contains(&kind) {
        return DecodeError::UnknownType(kind.chars().take(64).collect());
    }
    DecodeError::InvalidMessage {
        kind: kind.to_string(),
        reason: err.to_string(),
    }
}

/// Accepts a string or a number (older clients may send `"color": 6`), keeping it as a string.
fn lenient_string<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrOrNum {
        Str(String),
        Int(i64),
        Null(()),
    }
    Ok(match Option::<StrOrNum>::deserialize(de)? {
        Some(StrOrNum::Str(s)) => Some(s),
        Some(StrOrNum::Int(n)) => Some(n.to_string()),
        Some(StrOrNum::Null(())) | None => None,
    })
}

fn required_lenient_string<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    lenient_string(de)?.ok_or_else(|| serde::de::Error::custom("expected a string"))
}

/// Types the server sends. Clients must ignore types they do not know (old ones do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Message(ChatMessage),
    System {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    ActiveUsers {
        users: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    Who {
        users: Vec<String>,
    },
    Welcome(Welcome),
    Rooms {
        rooms: Vec<RoomInfo>,
    },
    Dm(DirectMessage),
    History {
        room: String,
        messages: Vec<ChatMessage>,
    },
    Error {
        code: ErrorCode,
        text: String,
    },
}

impl ServerMsg {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialise")
    }

    /// Decodes a server frame; `Ok(None)` for a well-formed frame of a type this build does not
    /// know (a newer server), which a client skips.
    pub fn decode(frame: &str) -> Result<Option<ServerMsg>, DecodeError> {
        match serde_json::from_str::<ServerMsg>(frame) {
            Ok(msg) => Ok(Some(msg)),
            Err(err) => match classify_failure(frame, err, SERVER_TYPES) {
                DecodeError::UnknownType(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    pub fn error(code: ErrorCode, text: impl Into<String>) -> ServerMsg {
        ServerMsg::Error {
            code,
            text: text.into(),
        }
    }

    pub fn system(text: impl Into<String>) -> ServerMsg {
        ServerMsg::System {
            text: text.into(),
            room: None,
        }
    }
}

const SERVER_TYPES: &[&str] = &[
    "message",
    "system",
    "active_users",
    "who",
    "welcome",
    "rooms",
    "dm",
    "history",
    "error",
];

/// A chat line in a room. `id`, `ts` and `room` are always set by this server; they are optional
/// so that frames from the original Python server decode too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub name: String,
    pub color: String,
    pub text: String,
    /// Increases per room; the key for history paging and reconnect de-duplication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Unix time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// A `/me` action: "* alice waves".
    #[serde(default, skip_serializing_if = "is_false")]
    pub action: bool,
    /// The id the sender gave this message, if it gave one: how its client recognises the
    /// message as its own after a reconnect, whatever the server did to the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The server's word on who a session is, after join, nick change or room switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub name: String,
    pub color: String,
    pub room: String,
    /// The longest message text the server accepts, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_text: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub name: String,
    pub users: usize,
}

/// A private message; delivered to the addressee and echoed to the sender only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectMessage {
    pub from: String,
    pub to: String,
    pub text: String,
    pub color: String,
    pub ts: u64,
    /// The sender's id for it, as in [`ChatMessage::cid`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

/// Machine-readable reasons for a refusal. Unknown codes from newer servers decode as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidMessage,
    UnknownType,
    NotJoined,
    AlreadyJoined,
    InvalidName,
    NameTaken,
    InvalidColor,
    InvalidRoom,
    TooLong,
    EmptyMessage,
    RateLimited,
    Muted,
    NoSuchUser,
    BinaryUnsupported,
    FrameTooLarge,
    TooManyConnections,
    JoinTimeout,
    HistoryUnavailable,
    #[serde(other)]
    Other,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::InvalidColor => "invalid_color",
            ErrorCode::InvalidRoom => "invalid_room",
            ErrorCode::TooLong => "too_long",
            ErrorCode::EmptyMessage => "empty_message",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Muted => "muted",
            ErrorCode::NoSuchUser => "no_such_user",
            ErrorCode::BinaryUnsupported => "binary_unsupported",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::JoinTimeout => "join_timeout",
            ErrorCode::HistoryUnavailable => "history_unavailable",
            ErrorCode::Other => "other",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The seed's colours: six named ones and any `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Color {
    Cyan,
    Green,
    Magenta,
    Yellow,
    Blue,
    White,
    Rgb(u8, u8, u8),
}

impl Color {
    /// The named colours in the seed's order: `1` is Cyan … `6` is White.
    pub const NAMED: [Color; 6] = [
        Color::Cyan,
        Color::Green,
        Color::Magenta,
        Color::Yellow,
        Color::Blue,
        Color::White,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Color::Cyan => "Cyan",
            Color::Green => "Green",
            Color::Magenta => "Magenta",
            Color::Yellow => "Yellow",
            Color::Blue => "Blue",
            Color::White => "White",
            Color::Rgb(..) => "Custom",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid colour {0:?}: use 1-6 (Cyan, Green, Magenta, Yellow, Blue, White) or #rrggbb")]
pub struct ColorError(pub String);

impl FromStr for Color {
    type Err = ColorError;

    fn from_str(s: &str) -> Result<Color, ColorError> {
        let t = s.trim();
        let err = || ColorError(s.chars().take(32).collect());
        if let Some(hex) = t.strip_prefix('#') {
            if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err());
            }
            let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| err());
            return Ok(Color::Rgb(byte(0)?, byte(2)?, byte(4)?));
        }
        match t {
            "1" => Ok(Color::Cyan),
            "2" => Ok(Color::Green),
            "3" => Ok(Color::Magenta),
            "4" => Ok(Color::Yellow),
            "5" => Ok(Color::Blue),
            "6" => Ok(Color::White),
            _ => Color::NAMED
                .into_iter()
                .find(|c| c.label().eq_ignore_ascii_case(t))
                .ok_or_else(err),
        }
    }
}

impl fmt::Display for Color {
    /// The wire form: `1`..`6` or lowercase `#rrggbb`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Color::Rgb(r, g, b) => write!(f, "#{r:02x}{g:02x}{b:02x}"),
            named => {
                let n = Color::NAMED
                    .iter()
                    .position(|c| c == named)
                    .expect("every non-Rgb colour is in NAMED");
                write!(f, "{}", n + 1)
            }
        }
    }
}

impl Serialize for Color {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Color {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Color, D::Error> {
        let s = required_lenient_string(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The lengths a `cid` may have: long enough that a client's random ids do not collide by
/// accident, short enough to cost little in every frame and row that carries one.
pub const CID_LEN: std::ops::RangeInclusive<usize> = 8..=64;

/// Whether `cid` is a valid client-chosen message id: [`CID_LEN`] ASCII letters, digits, `-`
/// or `_` (nothing a terminal or a log could misread).
pub fn is_valid_cid(cid: &str) -> bool {
    CID_LEN.contains(&cid.len())
        && cid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Milliseconds since the Unix epoch, as carried in `ts`.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_client_frames_decode() {
        assert_eq!(
            ClientMsg::decode(r#"{"type":"join","name":"Alice"}"#),
            Ok(ClientMsg::Join {
                name: "Alice".into(),
                color: None,
                room: None
            })
        );
        assert_eq!(
            ClientMsg::decode(r#"{"type":"message","name":"Alice","color":"6","text":"Hello"}"#),
            Ok(ClientMsg::Message {
                text: "Hello".into(),
                name: Some("Alice".into()),
                color: Some("6".into()),
                cid: None,
            })
        );
        assert_eq!(ClientMsg::decode(r#"{"type":"who"}"#), Ok(ClientMsg::Who));
        assert_eq!(
            ClientMsg::decode(r#"{"type":"leave"}"#),
            Ok(ClientMsg::Leave)
        );
    }

    #[test]
    fn cids_are_optional_both_ways() {
        let with = ClientMsg::decode(r#"{"type":"message","text":"x","cid":"0123456789abcdef"}"#);
        assert!(
            matches!(with, Ok(ClientMsg::Message { cid: Some(c), .. }) if c == "0123456789abcdef")
        );
        let me = ClientMsg::Me {
            text: "waves".into(),
            cid: None,
        };
        assert_eq!(
            me.encode(),
            r#"{"type":"me","text":"waves"}"#,
            "no cid, no field"
        );
        let echo = ServerMsg::decode(
            r#"{"type":"message","name":"a","color":"1","text":"x","id":3,"cid":"c1c2c3c4c5"}"#,
        );
        assert!(
            matches!(echo, Ok(Some(ServerMsg::Message(m))) if m.cid.as_deref() == Some("c1c2c3c4c5"))
        );
        let dm =
            ServerMsg::decode(r#"{"type":"dm","from":"a","to":"b","text":"x","color":"1","ts":1}"#);
        assert!(matches!(dm, Ok(Some(ServerMsg::Dm(d))) if d.cid.is_none()));
    }

    #[test]
    fn cids_are_short_plain_ascii() {
        for good in [
            "0123456789abcdef",
            "a1b2c3d4",
            "uuid-like_0123-4567",
            &"x".repeat(64),
        ] {
            assert!(is_valid_cid(good), "{good:?}");
        }
        for bad in [
            "",
            "short",
            &"x".repeat(65),
            "has space in it",
            "\u{1b}[31mred!!",
            "ünïcödé-cid",
            "semi;colon;x",
        ] {
            assert!(!is_valid_cid(bad), "{bad:?}");
        }
    }

    #[test]
    fn numeric_colour_and_unknown_fields_are_tolerated() {
        assert_eq!(
            ClientMsg::decode(r#"{"type":"message","color":3,"text":"x","extra":[1,2]}"#),
            Ok(ClientMsg::Message {
                text: "x".into(),
                name: None,
                color: Some("3".into()),
                cid: None,
            })
        );
    }

    #[test]
    fn decode_failures_are_classified() {
        assert!(matches!(
            ClientMsg::decode("{not json"),
            Err(DecodeError::InvalidJson(_))
        ));
        assert_eq!(
            ClientMsg::decode(r#"{"type":"teleport"}"#),
            Err(DecodeError::UnknownType("teleport".into()))
        );
        let err = ClientMsg::decode(r#"{"type":"message"}"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidMessage);
        let err = ClientMsg::decode(r#"[1,2,3]"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidMessage);
        let err = ClientMsg::decode(r#"{"type":7}"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidMessage);
    }

    #[test]
    fn deeply_nested_json_is_refused_not_overflowed() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            ClientMsg::decode(&deep).unwrap_err().code(),
            ErrorCode::InvalidJson
        );
    }

    #[test]
    fn server_message_keeps_seed_field_names() {
        let msg = ServerMsg::Message(ChatMessage {
            name: "Alice".into(),
            color: "6".into(),
            text: "Hello".into(),
            id: Some(7),
            ts: Some(1_700_000_000_000),
            room: Some("main".into()),
            action: false,
            cid: None,
        });
        let v: serde_json::Value = serde_json::from_str(&msg.encode()).unwrap();
        assert_eq!(v["type"], "message");
        assert_eq!(v["name"], "Alice");
        assert_eq!(v["color"], "6");
        assert_eq!(v["text"], "Hello");
        assert_eq!(v["id"], 7);
        assert!(v.get("action").is_none(), "action is omitted when false");
    }

    #[test]
    fn seed_server_frames_decode_without_extensions() {
        let msg = ServerMsg::decode(r#"{"type":"message","name":"Bob","color":"2","text":"hi"}"#)
            .unwrap()
            .unwrap();
        let ServerMsg::Message(m) = msg else {
            panic!("expected a message")
        };
        assert_eq!((m.id, m.ts, m.room), (None, None, None));
        assert_eq!(
            ServerMsg::decode(r#"{"type":"active_users","users":["A","B"]}"#),
            Ok(Some(ServerMsg::ActiveUsers {
                users: vec!["A".into(), "B".into()],
                room: None
            }))
        );
    }

    #[test]
    fn unknown_server_types_are_skipped_but_malformed_known_ones_are_errors() {
        assert_eq!(ServerMsg::decode(r#"{"type":"poll","q":"?"}"#), Ok(None));
        assert!(ServerMsg::decode(r#"{"type":"message","name":"x"}"#).is_err());
        assert!(ServerMsg::decode("nope").is_err());
    }

    #[test]
    fn unknown_error_codes_decode_as_other() {
        assert_eq!(
            ServerMsg::decode(r#"{"type":"error","code":"quota","text":"t"}"#),
            Ok(Some(ServerMsg::Error {
                code: ErrorCode::Other,
                text: "t".into()
            }))
        );
    }

    #[test]
    fn error_code_strings_match_serde() {
        for code in [
            ErrorCode::InvalidJson,
            ErrorCode::NameTaken,
            ErrorCode::TooManyConnections,
            ErrorCode::HistoryUnavailable,
        ] {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }

    #[test]
    fn colours_parse_and_print_in_wire_form() {
        assert_eq!("1".parse::<Color>(), Ok(Color::Cyan));
        assert_eq!("6".parse::<Color>(), Ok(Color::White));
        assert_eq!("green".parse::<Color>(), Ok(Color::Green));
        assert_eq!("#FF6600".parse::<Color>(), Ok(Color::Rgb(0xff, 0x66, 0)));
        assert_eq!(Color::Rgb(0xff, 0x66, 0).to_string(), "#ff6600");
        assert_eq!(Color::Magenta.to_string(), "3");
        for bad in [
            "0",
            "7",
            "#fff",
            "#gg0000",
            "red; DROP",
            "",
            "\u{1b}[31m",
            "#ff66001",
        ] {
            assert!(bad.parse::<Color>().is_err(), "{bad:?} must be refused");
        }
    }
}
