//! End to end in tmux 3.3, which draws composed emoji differently from grapheme-aware terminals
//! (a skin tone as a second emoji, a flag as two one-cell letters, VS16 ignored): the real
//! client against a real server, with flags, skin tones, keycaps, ZWJ families and VS16 in a
//! message, in the user's name (status line and sidebar) and in the input bar. What tmux holds
//! in its grid must be exactly what the client laid out: text after each emoji in its column,
//! the sidebar border intact on every row, no stray half of an emoji after editing.

#![allow(clippy::unwrap_used)]

#[path = "support/pty.rs"]
mod pty;
#[path = "support/tmux.rs"]
mod tmux;

use clicom::client::ui::regions;
use clicom::text::display_width;
use pty::Serve;
use ratatui::layout::Rect;
use tmux::Tmux;

const FAMILY: &str = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
const FLAG: &str = "\u{1F1F5}\u{1F1F1}";
const THUMB: &str = "\u{1F44D}\u{1F3FD}";
const KEYCAP: &str = "1\u{FE0F}\u{20E3}";
const HEART: &str = "\u{2764}\u{FE0F}";
const SIZE: (u16, u16) = (96, 14);

/// A row as tmux shows it once the client drew `s` in it: the display form, without the
/// zero-width breaks (which never reach the terminal).
fn drawn(s: &str) -> String {
    clicom::text::display_form(s).replace('\u{200B}', "")
}

/// The display column where `needle` starts in a captured row.
fn column(row: &str, needle: &str) -> Option<usize> {
    row.find(needle).map(|i| display_width(&row[..i]))
}

#[test]
fn composed_emoji_keep_the_layout_in_tmux() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(0, &dir.path().join("history.db"), dir.path());
    let home = tempfile::tempdir().unwrap();
    let name = format!("Zo{FLAG}{THUMB}{KEYCAP}");
    let t = Tmux::start(
        home.path(),
        &[&serve.url, "--name", &name, "--color", "2"],
        SIZE,
    );
    t.wait_for("● connected");
    let r = regions(Rect::new(0, 0, SIZE.0, SIZE.1));
    let border = usize::from(r.sidebar.expect("wide enough for the sidebar").x);

    let message = format!("A{FAMILY}B{FLAG}C{THUMB}D{KEYCAP}E{HEART}F世G end");
    t.type_text(&message);
    t.key("Enter");
    let screen = t.wait_until("the message and the user list", |s| {
        s.iter().any(|r| r.contains("G end")) && s.iter().any(|r| r.contains("(you)"))
    });

    // The message row: every letter after an emoji exactly where the layout put it.
    let row = screen.iter().find(|r| r.contains("G end")).unwrap();
    let a = column(row, "A").unwrap();
    assert!(
        row.contains(&drawn(&message)),
        "tmux holds exactly the drawn form: {row:?}"
    );
    for (letter, dx) in [
        ("B", 7),
        ("C", 10),
        ("D", 15),
        ("E", 17),
        ("F", 19),
        ("G", 22),
    ] {
        assert_eq!(column(row, letter), Some(a + dx), "{letter} in {row:?}");
    }
    // The sidebar border in its column on every row between the status line and the input.
    for (y, row) in screen
        .iter()
        .enumerate()
        .take(usize::from(SIZE.1) - 1)
        .skip(1)
    {
        assert_eq!(column(row, "│"), Some(border), "row {y}: {row:?}");
    }
    // The name, in the sidebar and the status line, drawn whole and in place.
    let mine = screen
        .iter()
        .find(|r| r.contains("(you)"))
        .unwrap_or_else(|| panic!("the sidebar lists me:\n{}", screen.join("\n")));
    assert_eq!(column(mine, "Zo"), Some(border + 2), "{mine:?}");
    assert!(
        mine.contains(&format!("{} (you)", drawn(&name))),
        "{mine:?}"
    );
    assert!(screen[0].contains(&drawn(&name)), "status: {:?}", screen[0]);

    // The input bar: type, move by grapheme, delete the flag; no stray half is left behind.
    let input = usize::from(SIZE.1) - 1;
    let typed = format!("x{FAMILY}{FLAG}{THUMB}y");
    t.type_text(&typed);
    let screen = t.wait_until("the typed line", |s| s[input].contains('y'));
    assert_eq!(screen[input].trim_end(), format!("› {}", drawn(&typed)));
    let prompt = 2;
    assert_eq!(
        t.cursor(),
        (prompt + 1 + 6 + 2 + 4 + 1, SIZE.1 - 1),
        "the cursor after the last letter"
    );
    t.key("Left");
    t.key("Left");
    t.key("BSpace");
    let after = format!("x{FAMILY}{THUMB}y");
    let screen = t.wait_until("the flag deleted", |s| {
        s[input].trim_end() == format!("› {}", drawn(&after))
    });
    assert!(
        !screen[input].contains('\u{1F1F5}') && !screen[input].contains('\u{1F1F1}'),
        "no stray half of the flag: {:?}",
        screen[input]
    );
    assert_eq!(t.cursor(), (prompt + 1 + 6, SIZE.1 - 1));
    // The border survived the edits on every row.
    let screen = t.screen();
    for (y, row) in screen.iter().enumerate().take(input).skip(1) {
        assert_eq!(column(row, "│"), Some(border), "row {y}: {row:?}");
    }
}
