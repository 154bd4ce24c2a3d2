//! Whole screens rendered through ratatui's `TestBackend`, at several sizes, checking the text
//! and the style of specific cells.

use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyCode;
use ratatui::style::{Color, Modifier};

use super::*;
use crate::client::app::tests::{chat, ctrl, joined, key, server, started};
use crate::client::app::{App, AppInit, Msg};
use crate::client::layout::styles;
use crate::client::net::NetEvent;
use crate::protocol::ServerMsg;

mod composed_emoji;
mod snake_screen;

fn draw(app: &App) -> Buffer {
    let (w, h) = (app.area.width, app.area.height);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| render(app, f)).unwrap();
    terminal.backend().buffer().clone()
}

fn row_text(buf: &Buffer, y: u16) -> String {
    let mut s = String::new();
    let mut x = 0;
    while x < buf.area.width {
        let cell = &buf[(x, y)];
        s.push_str(cell.symbol());
        x += 1;
    }
    s
}

fn screen(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height).map(|y| row_text(buf, y)).collect()
}

/// The cell where `needle` starts on screen, by display columns.
fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    for y in 0..buf.area.height {
        let mut cols = Vec::new();
        let mut text = String::new();
        for x in 0..buf.area.width {
            let sym = buf[(x, y)].symbol();
            // The trailing half of a wide character is an empty cell: skip it.
            if x > 0 && crate::text::display_width(buf[(x - 1, y)].symbol()) == 2 {
                continue;
            }
            cols.push((text.len(), x));
            text.push_str(sym);
        }
        if let Some(i) = text.find(needle) {
            let x = cols.iter().find(|(b, _)| *b == i).map(|c| c.1)?;
            return Some((x, y));
        }
    }
    None
}

fn has(buf: &Buffer, needle: &str) -> bool {
    find(buf, needle).is_some()
}

fn with_users(app: &mut App, users: &[&str]) {
    server(
        app,
        ServerMsg::ActiveUsers {
            users: users.iter().map(|u| u.to_string()).collect(),
            room: None,
        },
    );
}

#[test]
fn wide_screen_has_status_pane_sidebar_and_input() {
    let mut app = joined((100, 24));
    with_users(&mut app, &["alice", "bob"]);
    server(&mut app, ServerMsg::Message(chat(1, "bob", "hello there")));
    let buf = draw(&app);
    let status = row_text(&buf, 0);
    for part in ["Clicom", "local", "#main", "alice", "● connected"] {
        assert!(status.contains(part), "{part:?} missing from {status:?}");
    }
    // The name in the status line is in the user's colour (2 = green).
    let (x, y) = find(&buf, "alice │").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Green);
    // The message line, with the sender's colour on the name.
    let (x, y) = find(&buf, "bob: hello there").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Magenta);
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
    assert!(row_text(&buf, y).starts_with('['), "timestamp first");
    // The sidebar lists both users, marking you.
    assert!(has(&buf, "Users (2)"));
    assert!(has(&buf, "alice (you)"));
    let (bx, by) = find(&buf, "bob").filter(|(x, _)| *x > 80).unwrap();
    assert_eq!(
        buf[(bx, by)].fg,
        Color::Magenta,
        "sidebar colour learnt from messages"
    );
    assert!(row_text(&buf, 23).starts_with("› "));
}

#[test]
fn long_names_in_the_sidebar_end_in_an_ellipsis_when_cut() {
    let mut app = joined((100, 24));
    let long_a = "W".repeat(24);
    let long_b = format!("{}X", "W".repeat(23));
    with_users(
        &mut app,
        &["alice", &long_a, &long_b, "漢字漢字漢字漢字漢字漢字"],
    );
    let buf = draw(&app);
    let rows: Vec<String> = screen(&buf)
        .iter()
        .filter_map(|r| r.split('│').nth(1).map(|s| s.trim().to_string()))
        .filter(|s| s.starts_with('W') || s.starts_with('漢'))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    for row in &rows {
        assert!(row.ends_with('…'), "{row:?} is marked as cut");
    }
    assert!(has(&buf, "alice (you)"), "a short name is shown whole");
}

#[test]
fn narrow_screen_hides_the_sidebar() {
    let mut app = joined((50, 16));
    with_users(&mut app, &["alice", "bob"]);
    let buf = draw(&app);
    assert!(!has(&buf, "Users ("));
    assert!(regions(buf.area).sidebar.is_none());
    assert_eq!(regions(buf.area).pane.width, 50);
}

#[test]
fn too_small_terminal_says_so_instead_of_drawing_garbage() {
    let app = joined((20, 5));
    let buf = draw(&app);
    let all = screen(&buf).join("\n");
    assert!(all.contains("too small"), "{all}");
    assert!(!all.contains("›"));
}

#[test]
fn status_shows_a_live_countdown_and_pending_count() {
    let mut app = joined((100, 24));
    let now = Instant::now();
    app.update(Msg::Tick(now));
    app.update(Msg::Net(NetEvent::Disconnected {
        url: "ws://x/ws".into(),
        reason: "connection refused".into(),
        retry_at: Some(now + Duration::from_millis(3900)),
        attempt: 3,
    }));
    app.update(Msg::Tick(now));
    crate::client::app::tests::type_line(&mut app, "later");
    let status = row_text(&draw(&app), 0);
    assert!(
        status.contains("reconnecting in 4s (attempt 3)"),
        "{status}"
    );
    assert!(status.contains("1 pending"), "{status}");
    app.update(Msg::Tick(now + Duration::from_millis(1000)));
    let status = row_text(&draw(&app), 0);
    assert!(
        status.contains("reconnecting in 3s (attempt 3)"),
        "{status}"
    );
    // The pending message is in the pane, in the pending style.
    let buf = draw(&app);
    let (x, y) = find(&buf, "later (pending)").unwrap();
    assert_eq!(buf[(x, y)].style().fg, styles::PENDING.fg);
    assert!(buf[(x, y)].modifier.contains(Modifier::ITALIC));
}

#[test]
fn status_drops_details_before_the_connection_state_when_narrow() {
    let mut app = started((30, 10));
    app.update(Msg::Net(NetEvent::Connected {
        url: "ws://x/ws".into(),
    }));
    let status = row_text(&draw(&app), 0);
    assert!(status.contains("joining…"), "{status}");
}

#[test]
fn a_narrow_status_line_shortens_the_countdown_before_dropping_what_matters() {
    let mut app = joined((50, 15));
    let now = Instant::now();
    app.update(Msg::Tick(now));
    app.update(Msg::Net(NetEvent::Disconnected {
        url: crate::client::app::tests::URL.into(),
        reason: "connection refused".into(),
        retry_at: Some(now + Duration::from_millis(3900)),
        attempt: 4,
    }));
    crate::client::app::tests::type_line(&mut app, "later");
    let status = row_text(&draw(&app), 0);
    for part in ["retry in 4s", "1 pending", "#main", "alice"] {
        assert!(status.contains(part), "{part:?} missing from {status:?}");
    }
    // Wide enough: the whole sentence.
    app.update(Msg::Resize(120, 15));
    let status = row_text(&draw(&app), 0);
    assert!(
        status.contains("reconnecting in 4s (attempt 4) · Ctrl-R now"),
        "{status}"
    );
}

#[test]
fn wrapping_keeps_cjk_and_emoji_whole_at_several_widths() {
    for width in [24u16, 41, 80] {
        let mut app = joined((width, 20));
        server(
            &mut app,
            ServerMsg::Message(chat(
                1,
                "bob",
                "中文字符测试中文字符测试中文字符测试 👍🏽👍🏽 end",
            )),
        );
        let buf = draw(&app);
        let all: String = screen(&buf).concat();
        let compact: String = all.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(compact.contains("end"), "width {width}");
        // Every wide character is followed by its blank trailing cell, never split.
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                if crate::text::display_width(buf[(x, y)].symbol()) == 2 {
                    assert!(x + 1 < buf.area.width, "wide char in the last column");
                }
            }
        }
        let count = all.matches('中').count();
        assert_eq!(count, 3, "width {width}: {all}");
    }
}

#[test]
fn links_are_underlined_on_every_wrapped_piece() {
    let mut app = joined((40, 20));
    app.settings.hyperlinks = false;
    server(
        &mut app,
        ServerMsg::Message(chat(
            1,
            "bob",
            "see https://example.com/one/two/three/four/five/six",
        )),
    );
    let buf = draw(&app);
    let (x, y) = find(&buf, "https://").unwrap();
    assert!(buf[(x, y)].modifier.contains(Modifier::UNDERLINED));
    assert_eq!(buf[(x, y)].fg, Color::LightBlue);
    let (x2, y2) = find(&buf, "six").unwrap();
    assert!(y2 > y, "the link wrapped");
    assert!(buf[(x2, y2)].modifier.contains(Modifier::UNDERLINED));
    let (sx, sy) = find(&buf, "see").unwrap();
    assert!(!buf[(sx, sy)].modifier.contains(Modifier::UNDERLINED));
}

#[test]
fn hyperlinks_carry_osc8_with_one_id_per_link() {
    let mut app = joined((40, 20));
    server(
        &mut app,
        ServerMsg::Message(chat(
            1,
            "bob",
            "https://example.com/one/two/three/four/five",
        )),
    );
    let buf = draw(&app);
    let cells: Vec<&str> = buf
        .content()
        .iter()
        .map(|c| c.symbol())
        .filter(|s| s.contains("\x1b]8;"))
        .collect();
    assert_eq!(
        cells.len(),
        "https://example.com/one/two/three/four/five".len()
    );
    let ids: std::collections::BTreeSet<&str> =
        cells.iter().map(|s| s.split(';').nth(1).unwrap()).collect();
    assert_eq!(ids.len(), 1, "one id for all pieces: {ids:?}");
    assert!(
        cells
            .iter()
            .all(|s| s.ends_with("\x1b]8;;\x1b\\") && s.contains("https://example.com/one"))
    );
}

#[test]
fn remote_escapes_never_reach_a_cell() {
    let mut app = joined((80, 20));
    app.settings.hyperlinks = false;
    with_users(&mut app, &["alice", "m\u{1b}[31mallory"]);
    server(
        &mut app,
        ServerMsg::Message(chat(1, "m\u{1b}]0;t\u{7}", "x\u{1b}[2Jy\u{9b}1m\u{202e}z")),
    );
    server(&mut app, ServerMsg::system("s\u{1b}c"));
    let buf = draw(&app);
    for cell in buf.content() {
        assert!(
            !cell
                .symbol()
                .chars()
                .any(|c| c.is_control() || c == '\u{202e}'),
            "{:?}",
            cell.symbol()
        );
    }
    assert!(has(&buf, "x␛[2Jy"));
}

#[test]
fn system_lines_are_dimmed_and_mentions_highlighted() {
    let mut app = joined((80, 20));
    server(&mut app, ServerMsg::system("bob joined the chat"));
    server(&mut app, ServerMsg::Message(chat(1, "bob", "thanks alice")));
    let buf = draw(&app);
    let (x, y) = find(&buf, "bob joined").unwrap();
    assert!(buf[(x, y)].modifier.contains(Modifier::DIM));
    let (x, y) = find(&buf, "thanks alice").unwrap();
    assert_eq!(buf[(x, y)].fg, styles::MENTION.fg.unwrap());
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
}

#[test]
fn actions_and_dms_look_different() {
    let mut app = joined((80, 20));
    let mut me = chat(1, "bob", "waves");
    me.action = true;
    server(&mut app, ServerMsg::Message(me));
    server(
        &mut app,
        ServerMsg::Dm(crate::protocol::DirectMessage {
            from: "bob".into(),
            to: "alice".into(),
            text: "psst".into(),
            color: "3".into(),
            ts: crate::protocol::now_ms(),
            cid: None,
        }),
    );
    let buf = draw(&app);
    let (x, y) = find(&buf, "* bob waves").unwrap();
    assert!(buf[(x + 6, y)].modifier.contains(Modifier::ITALIC));
    let (x, y) = find(&buf, "[bob → you] psst").unwrap();
    assert_eq!(buf[(x + 12, y)].fg, Color::LightMagenta);
}

#[test]
fn text_past_the_server_limit_is_shown_in_the_warning_style() {
    let mut app = joined((80, 10));
    app.max_text = Some(5);
    for c in "abcdefgh".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    let buf = draw(&app);
    let (x, y) = find(&buf, "abcdefgh").unwrap();
    assert_eq!(buf[(x + 4, y)].bg, Color::Reset);
    assert_eq!(buf[(x + 5, y)].bg, input::OVER_LIMIT.bg.unwrap());
    assert_eq!(buf[(x + 7, y)].bg, input::OVER_LIMIT.bg.unwrap());
}

#[test]
fn long_input_scrolls_horizontally_keeping_the_cursor_visible() {
    let mut app = joined((30, 10));
    let text: String = (0..60).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    for c in text.chars() {
        key(&mut app, KeyCode::Char(c));
    }
    let buf = draw(&app);
    let input = row_text(&buf, 9);
    assert!(input.starts_with("› "));
    assert!(
        input.trim_end().ends_with(&text[text.len() - 10..]),
        "{input}"
    );
    key(&mut app, KeyCode::Home);
    let input = row_text(&draw(&app), 9);
    assert!(input.starts_with("› abcdef"), "{input}");
}

#[test]
fn scrolled_up_view_shows_the_new_messages_marker() {
    let mut app = joined((60, 12));
    for i in 0..30 {
        server(
            &mut app,
            ServerMsg::Message(chat(i, "bob", &format!("m{i}"))),
        );
    }
    key(&mut app, KeyCode::PageUp);
    server(&mut app, ServerMsg::Message(chat(99, "bob", "fresh")));
    let buf = draw(&app);
    let pane = regions(buf.area).pane;
    let bottom = row_text(&buf, pane.bottom() - 1);
    assert!(bottom.contains("new message"), "{bottom}");
    assert!(row_text(&buf, 0).contains("unread"));
    key(&mut app, KeyCode::End);
    let buf = draw(&app);
    assert!(!screen(&buf).join("").contains("new message"));
    // The unread ruler sits right above the first unseen message.
    let rows = screen(&buf);
    let i = rows.iter().position(|r| r.contains("fresh")).unwrap();
    assert!(rows[i - 1].contains(" new "), "{:?}", &rows[i - 1]);
}

#[test]
fn hint_labels_are_drawn_over_the_links() {
    let mut app = joined((80, 12));
    app.settings.hyperlinks = false;
    server(
        &mut app,
        ServerMsg::Message(chat(
            1,
            "bob",
            "https://one.example and https://two.example",
        )),
    );
    ctrl(&mut app, 'o');
    let buf = draw(&app);
    let (x, y) = find(&buf, "ttps://one").unwrap();
    assert_eq!(buf[(x - 1, y)].symbol(), "a");
    assert_eq!(buf[(x - 1, y)].bg, Color::LightYellow);
    assert!(has(&buf, "ttps://two"));
    assert!(row_text(&buf, 11).contains("type its label"));
}

#[test]
fn paste_preview_offers_the_choices() {
    let mut app = joined((80, 20));
    app.update(Msg::Paste("first line\nsecond line\nthird".into()));
    let buf = draw(&app);
    assert!(has(&buf, "Paste 3 lines?"));
    assert!(has(&buf, "second line"));
    assert!(has(&buf, "L: 3 lines"));
}

#[test]
fn the_quit_question_names_the_unconfirmed_messages_and_the_choices() {
    for (w, h) in [(80, 20), (40, 12)] {
        let mut app = joined((w, h));
        for line in ["one", "two"] {
            for c in line.chars() {
                key(&mut app, KeyCode::Char(c));
            }
            key(&mut app, KeyCode::Enter);
        }
        ctrl(&mut app, 'c');
        let buf = draw(&app);
        assert!(has(&buf, "2 messages not sent yet"), "{:#?}", screen(&buf));
        assert!(has(&buf, "Q        quit anyway"), "{:#?}", screen(&buf));
        assert!(
            row_text(&buf, h - 1).contains("Quit: choose in the box above"),
            "{:#?}",
            screen(&buf)
        );
        // Waiting: the status line says so.
        key(&mut app, KeyCode::Char('w'));
        let buf = draw(&app);
        assert!(!has(&buf, "messages not sent yet"));
        let status = row_text(&buf, 0);
        assert!(status.contains("quitting"), "{status}");
        if w >= 80 {
            assert!(
                status.contains("quitting once sent · Esc stays"),
                "{status}"
            );
        }
    }
}

#[test]
fn first_run_dialog_shows_banner_and_live_preview() {
    let mut app = App::new(AppInit {
        ..crate::client::app::tests::init(None, (80, 30))
    });
    app.start();
    for c in "Neo".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('4'));
    let buf = draw(&app);
    assert!(has(&buf, "|_|\\___\\___/|_|"), "the banner");
    assert!(has(&buf, "Welcome to Clicom!"));
    let (x, y) = find(&buf, "Neo: Hello, world!").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Yellow, "preview in colour 4");
    let (x, y) = find(&buf, " 4 Yellow ").unwrap();
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn the_first_run_dialog_fits_a_narrow_terminal() {
    let mut app = App::new(AppInit {
        ..crate::client::app::tests::init(None, (40, 20))
    });
    app.start();
    let buf = draw(&app);
    for choice in [
        "1 Cyan",
        "2 Green",
        "3 Magenta",
        "4 Yellow",
        "5 Blue",
        "6 White",
    ] {
        assert!(
            has(&buf, choice),
            "{choice} is shown whole: {:#?}",
            screen(&buf)
        );
    }
    assert!(has(&buf, "Welcome to Clicom!"));
    assert!(
        !has(&buf, "Choose how others"),
        "the long title would be cut"
    );
}

#[test]
fn banner_greets_in_the_pane() {
    let app = joined((80, 30));
    let buf = draw(&app);
    assert!(has(&buf, "\\_____|_|_|\\___\\___/|_| |_| |_|"));
}
