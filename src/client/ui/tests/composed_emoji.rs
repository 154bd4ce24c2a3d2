//! Composed emoji (flags, skin tones, keycaps, ZWJ families, VS16) on the whole screen: each is
//! drawn as pieces every terminal gives the same width, so the text after it, the sidebar border
//! and the input cursor sit where the layout put them.

use super::*;

const FAMILY: &str = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
const FLAG: &str = "\u{1F1F5}\u{1F1F1}";
const THUMB: &str = "\u{1F44D}\u{1F3FD}";
const KEYCAP: &str = "1\u{FE0F}\u{20E3}";
const HEART: &str = "\u{2764}\u{FE0F}";

/// No cell holds a composed emoji: every symbol is already in the form the terminal gets.
fn assert_all_cells_drawable(buf: &Buffer) {
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let sym = buf[(x, y)].symbol();
            assert_eq!(
                crate::text::display_form(sym),
                sym,
                "cell ({x},{y}) holds a composed emoji"
            );
        }
    }
}

/// The column where `needle` is drawn in row `y` (symbols concatenated, skipped cells
/// counted as the columns they are).
fn column_of(buf: &Buffer, y: u16, needle: &str) -> Option<u16> {
    (0..buf.area.width).find(|&x| buf[(x, y)].symbol() == needle)
}

#[test]
fn text_after_composed_emoji_lands_where_the_layout_says() {
    let mut app = joined((90, 12));
    let text = format!("A{FAMILY}B{FLAG}C{THUMB}D{KEYCAP}E{HEART}F世G");
    server(&mut app, ServerMsg::Message(chat(1, "bob", &text)));
    let buf = draw(&app);
    assert_all_cells_drawable(&buf);
    let (_, y) = find(&buf, "bob: A").expect("the message is drawn");
    let a = column_of(&buf, y, "A").expect("A");
    // Family 6, flag 2, hand and swatch 4, keycap 1, heart 1, 世 2.
    let expect = [
        ("B", 1 + 6),
        ("C", 1 + 6 + 1 + 2),
        ("D", 10 + 1 + 4),
        ("E", 15 + 1 + 1),
    ];
    for (letter, dx) in expect {
        assert_eq!(
            column_of(&buf, y, letter),
            Some(a + dx),
            "{letter} in {:?}",
            row_text(&buf, y)
        );
    }
    assert_eq!(column_of(&buf, y, "F"), Some(a + 17 + 1 + 1));
    assert_eq!(column_of(&buf, y, "G"), Some(a + 19 + 1 + 2));
    // The family is its three people side by side, the flag its two letters.
    assert_eq!(buf[(a + 1, y)].symbol(), "\u{1F468}");
    assert_eq!(buf[(a + 3, y)].symbol(), "\u{1F469}");
    assert_eq!(buf[(a + 5, y)].symbol(), "\u{1F467}");
    assert_eq!(buf[(a + 8, y)].symbol(), "\u{1F1F5}");
    assert_eq!(buf[(a + 9, y)].symbol(), "\u{1F1F1}");
}

#[test]
fn the_sidebar_border_survives_composed_names() {
    for width in [60u16, 90] {
        let mut app = joined((width, 12));
        let names = [
            "alice".to_string(),
            format!("{FAMILY} fam"),
            format!("{FLAG}{FLAG}{FLAG}{FLAG}{FLAG}{FLAG}{FLAG}{FLAG}"),
            format!("{THUMB}{THUMB}{THUMB}{THUMB}{THUMB}{THUMB}{THUMB}"),
            format!("k{KEYCAP}{HEART}"),
        ];
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        with_users(&mut app, &refs);
        server(
            &mut app,
            ServerMsg::Message(chat(1, &names[1], &format!("hi {FAMILY}{FAMILY}{FAMILY}"))),
        );
        let buf = draw(&app);
        assert_all_cells_drawable(&buf);
        let r = regions(buf.area);
        let sidebar = r.sidebar.expect("a sidebar at this width");
        for y in sidebar.top()..sidebar.bottom() {
            assert_eq!(
                buf[(sidebar.x, y)].symbol(),
                "│",
                "row {y} at width {width}"
            );
        }
        assert!(has(&buf, "fam"), "{:?}", screen(&buf));
    }
}

#[test]
fn the_input_cursor_counts_composed_emoji_as_drawn() {
    let mut app = joined((60, 10));
    for c in format!("x{FAMILY}{FLAG}{THUMB}y").chars() {
        key(&mut app, KeyCode::Char(c));
    }
    let mut terminal = Terminal::new(TestBackend::new(60, 10)).expect("test backend");
    terminal.draw(|f| render(&app, f)).expect("draw");
    let buf = terminal.backend().buffer().clone();
    assert_all_cells_drawable(&buf);
    let input = 9;
    let x = column_of(&buf, input, "x").expect("x");
    assert_eq!(column_of(&buf, input, "y"), Some(x + 1 + 6 + 2 + 4));
    let cursor = terminal.get_cursor_position().expect("cursor");
    assert_eq!((cursor.x, cursor.y), (x + 14, input), "just after the y");
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    terminal.draw(|f| render(&app, f)).expect("draw");
    let cursor = terminal.get_cursor_position().expect("cursor");
    assert_eq!(
        cursor.x,
        x + 1 + 6 + 2,
        "before the hand: a grapheme per step"
    );
}
