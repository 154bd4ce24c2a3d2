//! The client's handling of server messages, end to end without a terminal: arbitrary server
//! frames (chat lines, actions, system lines, DMs, user lists, errors, history) and pastes go
//! through `App::update`, then the whole screen is wrapped, link-scanned and drawn into
//! ratatui's `TestBackend` at an arbitrary size. No cell may hold anything a terminal would
//! obey, except the client's own OSC 8 hyperlink around one visible grapheme with a
//! percent-encoded http(s) URL.
#![no_main]

use arbitrary::Arbitrary;
use clicom::client::app::{App, AppInit, Msg};
use clicom::client::layout::Palette;
use clicom::client::net::NetEvent;
use clicom::client::stats::Stats;
use clicom::config::Settings;
use clicom::protocol::{ChatMessage, DirectMessage, ErrorCode, RoomInfo, ServerMsg, Welcome};
use libfuzzer_sys::fuzz_target;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[derive(Debug, Arbitrary)]
struct Line {
    name: String,
    color: String,
    text: String,
    action: bool,
}

#[derive(Debug, Arbitrary)]
enum Event {
    Chat(Line),
    System(String),
    Dm { from: String, text: String },
    Users(Vec<String>),
    Who(Vec<String>),
    Rooms(Vec<String>),
    Error(String),
    History(Vec<Line>),
    Welcome { name: String, color: String, room: String },
    Paste(String),
    Resize(u8, u8),
}

#[derive(Debug, Arbitrary)]
struct Input {
    width: u8,
    height: u8,
    hyperlinks: bool,
    timestamps: bool,
    events: Vec<Event>,
}

fn chat(id: u64, line: Line) -> ChatMessage {
    ChatMessage {
        name: line.name,
        color: line.color,
        text: line.text,
        id: Some(id),
        ts: Some(1_700_000_000_000 + id * 1000),
        room: Some("main".into()),
        action: line.action,
        cid: None,
    }
}

fn is_obeyable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A cell is plain text, or exactly our hyperlink: OSC 8 with an id, a URL of printable ASCII
/// without ';', one plain grapheme, and the closing OSC 8.
fn check_cell(symbol: &str) {
    if !symbol.chars().any(is_obeyable) {
        return;
    }
    let rest = symbol
        .strip_prefix("\x1b]8;id=clicom-")
        .unwrap_or_else(|| panic!("a cell holds an escape: {symbol:?}"));
    let (id, rest) = rest.split_once(';').expect("an OSC 8 id");
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{symbol:?}");
    let (url, rest) = rest.split_once("\x1b\\").expect("the OSC 8 opener ends");
    assert!(
        url.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b';'),
        "{symbol:?}"
    );
    let lower = url.to_ascii_lowercase();
    assert!(
        lower.starts_with("http://") || lower.starts_with("https://"),
        "only http(s) links: {symbol:?}"
    );
    let shown = rest
        .strip_suffix("\x1b]8;;\x1b\\")
        .unwrap_or_else(|| panic!("the hyperlink is closed: {symbol:?}"));
    assert!(!shown.chars().any(is_obeyable), "{symbol:?}");
}

fuzz_target!(|input: Input| {
    let size = |w: u8, h: u8| (u16::from(w % 160).max(1), u16::from(h % 60).max(1));
    let (w, h) = size(input.width, input.height);
    let settings = Settings {
        hyperlinks: input.hyperlinks,
        timestamps: input.timestamps,
        ..Settings::default()
    };
    let mut app = App::new(AppInit {
        settings,
        server_label: "local".into(),
        server_url: "ws://127.0.0.1:10000/ws".into(),
        name: Some("fuzzer".into()),
        color: Some("2".into()),
        room: "main".into(),
        stats: Stats::default(),
        palette: Palette { truecolor: true },
        size: (w, h),
        notices: Vec::new(),
    });
    app.start();
    let net = |app: &mut App, msg: ServerMsg| {
        app.update(Msg::Net(NetEvent::Server(msg)));
    };
    app.update(Msg::Net(NetEvent::Connected {
        url: "ws://127.0.0.1:10000/ws".into(),
    }));
    net(
        &mut app,
        ServerMsg::Welcome(Welcome {
            name: "fuzzer".into(),
            color: "2".into(),
            room: "main".into(),
            max_text: Some(2000),
        }),
    );
    net(
        &mut app,
        ServerMsg::History {
            room: "main".into(),
            messages: Vec::new(),
        },
    );

    let mut size_now = (w, h);
    let mut id = 0;
    for event in input.events.into_iter().take(24) {
        match event {
            Event::Chat(line) => {
                id += 1;
                net(&mut app, ServerMsg::Message(chat(id, line)));
            }
            Event::System(text) => net(&mut app, ServerMsg::System { text, room: None }),
            Event::Dm { from, text } => net(
                &mut app,
                ServerMsg::Dm(DirectMessage {
                    from,
                    to: "fuzzer".into(),
                    text,
                    color: "3".into(),
                    ts: 1_700_000_000_000,
                    cid: None,
                }),
            ),
            Event::Users(users) => net(&mut app, ServerMsg::ActiveUsers { users, room: None }),
            Event::Who(users) => net(&mut app, ServerMsg::Who { users }),
            Event::Rooms(names) => net(
                &mut app,
                ServerMsg::Rooms {
                    rooms: names
                        .into_iter()
                        .map(|name| RoomInfo { name, users: 1 })
                        .collect(),
                },
            ),
            Event::Error(text) => net(
                &mut app,
                ServerMsg::Error {
                    code: ErrorCode::Other,
                    text,
                },
            ),
            Event::History(lines) => {
                let messages = lines
                    .into_iter()
                    .map(|line| {
                        id += 1;
                        chat(id, line)
                    })
                    .collect();
                net(
                    &mut app,
                    ServerMsg::History {
                        room: "main".into(),
                        messages,
                    },
                );
            }
            Event::Welcome { name, color, room } => net(
                &mut app,
                ServerMsg::Welcome(Welcome {
                    name,
                    color,
                    room,
                    max_text: Some(2000),
                }),
            ),
            Event::Paste(text) => {
                app.update(Msg::Paste(text));
            }
            Event::Resize(w, h) => {
                size_now = size(w, h);
                app.update(Msg::Resize(size_now.0, size_now.1));
            }
        }
    }

    let (w, h) = size_now;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    terminal
        .draw(|frame| clicom::client::ui::render(&app, frame))
        .expect("drawing into a test backend");
    for cell in terminal.backend().buffer().content() {
        check_cell(cell.symbol());
    }
});
