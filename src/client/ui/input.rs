//! The input bar: the prompt and the visible part of the line being typed (scrolled
//! horizontally to keep the cursor in view), with the text past the server's length limit in a
//! warning style. In hint mode it says how to pick a link instead.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use unicode_segmentation::UnicodeSegmentation;

use crate::client::app::{App, Mode};
use crate::client::ui::{PROMPT, input_text_width};
use crate::text::{display_form, grapheme_width};

/// Text beyond the server's `max_text`: it would be refused, so it is shown before sending.
pub const OVER_LIMIT: Style = Style::new()
    .fg(Color::White)
    .bg(Color::Red)
    .add_modifier(Modifier::BOLD);
const PROMPT_STYLE: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
const HINT_BAR: Style = Style::new().fg(Color::Black).bg(Color::LightYellow);

pub fn render(app: &App, area: Rect, frame: &mut Frame) {
    let buf = frame.buffer_mut();
    match &app.mode {
        Mode::Hints { typed, .. } => {
            buf.set_style(area, HINT_BAR);
            let text = format!(
                " Open a link: type its label{} · Esc cancels",
                if typed.is_empty() {
                    String::new()
                } else {
                    format!(" ({typed}…)")
                }
            );
            buf.set_stringn(area.x, area.y, text, area.width as usize, HINT_BAR);
            return;
        }
        Mode::Paste { .. } | Mode::ConfirmQuit => {
            let what = if matches!(app.mode, Mode::ConfirmQuit) {
                "Quit"
            } else {
                "Paste"
            };
            buf.set_stringn(
                area.x,
                area.y,
                format!(" {what}: choose in the box above"),
                area.width as usize,
                HINT_BAR,
            );
            return;
        }
        Mode::Normal => {}
    }
    let prompt_x = buf
        .set_stringn(area.x, area.y, PROMPT, area.width as usize, PROMPT_STYLE)
        .0;
    let width = input_text_width(area) as usize;
    let editor = &app.editor;
    let text = editor.text();
    let scroll = editor.scroll();
    // Byte offset where the text passes the limit (the limit counts characters).
    let limit_at = app
        .max_text
        .and_then(|max| text.char_indices().nth(max).map(|(i, _)| i))
        .unwrap_or(text.len());
    let mut col = 0usize;
    let mut x = prompt_x;
    for (i, g) in text.grapheme_indices(true) {
        let w = grapheme_width(g);
        if w == 0 {
            continue;
        }
        let start = col;
        col += w;
        if start < scroll {
            continue;
        }
        if col > scroll + width {
            break;
        }
        let style = if i >= limit_at {
            OVER_LIMIT
        } else {
            Style::new()
        };
        x = buf.set_stringn(x, area.y, display_form(g), w, style).0;
    }
    if app.shown_game().is_some() {
        // Keys go to the game: no cursor invites typing.
        return;
    }
    let cursor = editor.cursor_column().saturating_sub(scroll).min(width);
    frame.set_cursor_position(Position::new(prompt_x + cursor as u16, area.y));
}
