//! Remote text as the client receives it: after `sanitize_text` (messages) or `sanitize_line`
//! (names, rooms, status) no control character but '\n' (messages only) and no bidi control is
//! left, so nothing can start a terminal escape; width and truncation never panic. Then the
//! client's link scan and wrapping of that text: links are http(s) ranges of the text, and
//! rows never exceed the pane (but for one grapheme wider than the pane, which is never split).
#![no_main]

use clicom::client::layout::{Piece, wrap};
use clicom::client::links;
use clicom::text::{display_width, sanitize_line, sanitize_text, truncate_to_width};
use libfuzzer_sys::fuzz_target;
use unicode_segmentation::UnicodeSegmentation;

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// C0 (but the allowed newline), DEL and C1: whatever starts or steers an escape sequence.
fn is_forbidden(c: char, newline_ok: bool) -> bool {
    (c.is_control() && !(newline_ok && c == '\n')) || is_bidi_control(c)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    let message = sanitize_text(&text);
    if let Some(bad) = message.chars().find(|&c| is_forbidden(c, true)) {
        panic!("sanitize_text let {bad:?} through: {message:?}");
    }
    assert!(!message.contains('\x1b') && !message.contains('\r'));
    // Sanitising is idempotent: a sanitised text has nothing left to change.
    assert_eq!(sanitize_text(&message), message);

    let line = sanitize_line(&text);
    if let Some(bad) = line.chars().find(|&c| is_forbidden(c, false)) {
        panic!("sanitize_line let {bad:?} through: {line:?}");
    }
    assert_eq!(sanitize_line(&line), line);

    let width = display_width(&line);
    let cut = data.first().map_or(0, |&b| usize::from(b) % 100);
    let prefix = truncate_to_width(&line, cut);
    assert!(line.starts_with(prefix));
    assert!(display_width(prefix) <= cut, "{prefix:?} is wider than {cut}");
    assert!(display_width(prefix) <= width);

    for link in links::find(&message) {
        assert!(message.get(link.start..link.end).is_some(), "{link:?} in {message:?}");
        let url = link.url.to_ascii_lowercase();
        assert!(url.starts_with("http://") || url.starts_with("https://"), "{link:?}");
        assert!(!link.url.chars().any(|c| c.is_control() || c.is_whitespace()), "{link:?}");
    }

    let pane = u16::from(data.get(1).copied().unwrap_or(40) % 120);
    let indent = u16::from(data.get(2).copied().unwrap_or(0) % 8);
    let rows = wrap(&[Piece::new(&message, ratatui::style::Style::new())], pane, indent);
    for row in &rows {
        // Only a single grapheme too wide for the pane (never split) may overflow it.
        let text = row.text();
        assert!(
            row.width() <= pane.max(1) || text.trim().graphemes(true).count() == 1,
            "{row:?} is wider than {pane}"
        );
        assert!(!row.text().chars().any(|c| is_forbidden(c, false)), "{row:?}");
    }
});
