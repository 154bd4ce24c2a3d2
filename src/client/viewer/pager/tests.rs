use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use super::*;
use crate::client::layout::Palette;
use crate::client::ui::viewer::{body, pager::render};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn typed(pager: &mut Pager, s: &str) {
    for c in s.chars() {
        pager.handle_key(key(KeyCode::Char(c)));
    }
}

/// A pager sized for a `w` x `h` screen, as the app would.
fn sized(mut pager: Pager, w: u16, h: u16) -> Pager {
    let b = body(ratatui::layout::Rect::new(0, 0, w, h));
    pager.resize(b.width, b.height);
    pager
}

fn draw(pager: &Pager, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| {
        let area = f.area();
        render(pager, Palette { truecolor: true }, area, f.buffer_mut())
    })
    .unwrap();
    term.backend().buffer().clone()
}

fn row_text(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
}

fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

#[test]
fn line_numbers_follow_the_scroll() {
    let mut p = sized(Pager::from_text("notes.txt", &numbered(100)), 40, 12);
    let buf = draw(&p, 40, 12);
    assert_eq!(row_text(&buf, 1).trim_end(), "  1 line 1");
    assert!(
        row_text(&buf, 0).contains("line 1 of 100"),
        "{}",
        row_text(&buf, 0)
    );
    p.handle_key(key(KeyCode::Down));
    p.handle_key(key(KeyCode::PageDown));
    let buf = draw(&p, 40, 12);
    // 10 body rows: a page moves 9, plus the line moved before.
    assert_eq!(row_text(&buf, 1).trim_end(), " 11 line 11");
    p.handle_key(key(KeyCode::Char('G')));
    let buf = draw(&p, 40, 12);
    assert_eq!(row_text(&buf, 10).trim_end(), "100 line 100");
    p.handle_key(key(KeyCode::Char('g')));
    assert_eq!(p.lines()[0].number, Some(1));
    assert_eq!(p.handle_key(key(KeyCode::Char('q'))), PagerAction::Close);
}

#[test]
fn search_finds_a_word_and_highlights_it() {
    let mut text = numbered(60);
    text.push_str("here is the Needle in the hay\n");
    text.push_str(&numbered(30));
    let mut p = sized(Pager::from_text("hay.txt", &text), 50, 12);
    p.handle_key(key(KeyCode::Char('/')));
    typed(&mut p, "needle");
    let buf = draw(&p, 50, 12);
    assert_eq!(row_text(&buf, 11).trim_end(), "/needle▏");
    p.handle_key(key(KeyCode::Enter));
    assert_eq!(
        p.search(),
        &Search::Active {
            query: "needle".into(),
            current: Some(60)
        }
    );
    let buf = draw(&p, 50, 12);
    let y = (1..11)
        .find(|&y| row_text(&buf, y).contains("Needle"))
        .expect("the match is on screen");
    let line = row_text(&buf, y);
    assert!(line.starts_with(" 61 here"), "{line}");
    let x = line.find("Needle").unwrap() as u16;
    for dx in 0..6 {
        assert_eq!(buf[(x + dx, y)].bg, Color::LightRed, "match cell {dx}");
    }
    assert_eq!(buf[(x + 6, y)].bg, Color::Reset);
    assert_eq!(buf[(x - 1, y)].bg, Color::Reset);
}

#[test]
fn n_and_shift_n_cycle_through_matches_and_go_round() {
    let text: String = (0..300)
        .map(|i| match i {
            5 | 150 | 295 => format!("{i} target\n"),
            _ => format!("{i} filler\n"),
        })
        .collect();
    let mut p = sized(Pager::from_text("t", &text), 40, 10);
    p.handle_key(key(KeyCode::Char('/')));
    typed(&mut p, "target");
    p.handle_key(key(KeyCode::Enter));
    let current = |p: &Pager| match p.search() {
        Search::Active { current, .. } => *current,
        _ => None,
    };
    assert_eq!(current(&p), Some(5));
    p.handle_key(key(KeyCode::Char('n')));
    assert_eq!(current(&p), Some(150));
    assert!(
        p.lines()
            .iter()
            .any(|l| l.current && l.text.contains("150 target"))
    );
    p.handle_key(key(KeyCode::Char('n')));
    assert_eq!(current(&p), Some(295));
    p.handle_key(key(KeyCode::Char('n')));
    assert_eq!(current(&p), Some(5));
    assert_eq!(p.message(), Some("search went round to the top"));
    p.handle_key(key(KeyCode::Char('N')));
    assert_eq!(current(&p), Some(295));
    p.handle_key(key(KeyCode::Char('N')));
    assert_eq!(current(&p), Some(150));
    p.handle_key(key(KeyCode::Char('/')));
    typed(&mut p, "absent");
    p.handle_key(key(KeyCode::Enter));
    assert_eq!(p.message(), Some("not found: absent"));
}

#[test]
fn search_is_case_blind_unless_the_query_has_capitals() {
    assert_eq!(find_all("Foo foo FOO", "foo").len(), 3);
    assert_eq!(find_all("Foo foo FOO", "Foo"), vec![0..3]);
    assert!(find_all("short", "much longer").is_empty());
}

#[test]
fn the_wrap_toggle_changes_the_rows() {
    let long = "word ".repeat(30);
    let text = format!("{long}\nafter\n");
    let mut p = sized(Pager::from_text("t", &text), 30, 10);
    assert_eq!(p.lines().len(), 2, "unwrapped: one row per line");
    assert_eq!(p.lines()[1].number, Some(2));
    p.handle_key(key(KeyCode::Char('w')));
    let width = 30 - usize::from(p.gutter());
    let expected = long.len().div_ceil(width);
    assert_eq!(p.lines().len(), expected + 1);
    assert_eq!(p.lines()[0].number, Some(1));
    assert!(p.lines()[1..expected].iter().all(|l| l.number.is_none()));
    assert_eq!(p.lines()[expected].number, Some(2));
    let buf = draw(&p, 30, 10);
    assert!(row_text(&buf, 0).contains("wrap"));
    assert_eq!(row_text(&buf, 2).trim_start().chars().next(), Some('·'));
    // Scrolling while wrapped goes a screen line at a time.
    p.resize(30, 3);
    p.handle_key(key(KeyCode::Down));
    assert_eq!(p.lines()[0].number, None);
    p.handle_key(key(KeyCode::Up));
    assert_eq!(p.lines()[0].number, Some(1));
    // Unwrapped, long lines scroll sideways.
    p.handle_key(key(KeyCode::Char('w')));
    p.handle_key(key(KeyCode::Right));
    assert!(
        p.lines()[0].text.starts_with("d word"),
        "{:?}",
        p.lines()[0].text
    );
}

#[test]
fn control_characters_are_shown_as_symbols() {
    let text = "clear\x1b[2J screen\x07 and\ttab \u{202E}rtl\r\n";
    let p = sized(Pager::from_text("t", text), 60, 5);
    assert_eq!(p.lines()[0].text, "clear␛[2J screen␇ and   tab \u{FFFD}rtl");
    let buf = draw(&p, 60, 5);
    for cell in buf.content() {
        assert!(
            !cell.symbol().chars().any(|c| c.is_control()),
            "a control reached the buffer: {:?}",
            cell.symbol()
        );
    }
}

#[test]
fn rust_source_is_coloured() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("main.rs");
    std::fs::write(&path, "fn main() {\n    let s = \"hi\";\n}\n").unwrap();
    let p = sized(Pager::open_file(&path).unwrap(), 40, 6);
    assert_eq!(p.language(), Some("Rust"));
    let buf = draw(&p, 40, 6);
    assert!(row_text(&buf, 0).contains("main.rs · Rust"));
    let gutter = p.gutter();
    let fn_cell = &buf[(gutter, 1)];
    assert_eq!(fn_cell.symbol(), "f");
    assert!(matches!(fn_cell.fg, Color::Rgb(..)), "{:?}", fn_cell.fg);
    let quote = &buf[(gutter + 12, 2)];
    assert_eq!(quote.symbol(), "\"");
    assert_ne!(fn_cell.fg, quote.fg, "keyword and string differ");
}

#[test]
fn a_200_mb_file_opens_without_being_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.log");
    std::fs::write(&path, numbered(500)).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    let mut p = sized(Pager::open_file(&path).unwrap(), 80, 24);
    assert_eq!(p.language(), None, "not coloured: too big");
    assert_eq!(p.lines()[0].text, "line 1");
    assert!(p.bytes_read() < 256 * 1024, "{} bytes read", p.bytes_read());
    let buf = draw(&p, 80, 24);
    assert!(
        row_text(&buf, 0).contains("of 22+"),
        "{}",
        row_text(&buf, 0)
    );
    // Paging on reads a little more, not the file.
    for _ in 0..10 {
        p.handle_key(key(KeyCode::PageDown));
    }
    assert_eq!(p.lines()[0].number, Some(211));
    // A few 64 KiB reads per key, whatever the file's size.
    assert!(p.bytes_read() < 4 << 20, "{} bytes read", p.bytes_read());
}

#[test]
fn going_to_the_end_of_a_large_file_works_a_slice_per_tick() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.txt");
    let text = numbered(1_500_000);
    std::fs::write(&path, &text).unwrap();
    assert!(text.len() as u64 > WORK_BUDGET / 2);
    let mut p = sized(Pager::open_file(&path).unwrap(), 60, 12);
    p.handle_key(key(KeyCode::Char('G')));
    let mut ticks = 0;
    while p.busy() {
        assert!(p.tick());
        ticks += 1;
        assert!(ticks < 100);
    }
    let last = p.lines().last().unwrap();
    assert_eq!(
        (last.number, last.text.as_str()),
        (Some(1_500_000), "line 1500000")
    );
    assert_eq!(p.position().1, 1_500_000);
    assert!(p.position().2);
}
