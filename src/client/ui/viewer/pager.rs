//! Draws the text pager from the screen lines it prepared: line numbers in a gutter, syntax
//! colours, search matches (the current match's line stronger), and the search prompt.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use super::{DIM_STYLE, KEY_STYLE, bar, keys_line, regions, rgb};
use crate::client::layout::Palette;
use crate::client::viewer::pager::{Pager, ScreenLine, Search};

const MATCH_STYLE: Style = Style::new().fg(Color::Black).bg(Color::Yellow);
const CURRENT_STYLE: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::LightRed)
    .add_modifier(Modifier::BOLD);
const GUTTER_STYLE: Style = Style::new().fg(Color::DarkGray);

/// The keys shown in the footer.
pub const KEYS: &[(&str, &str)] = &[
    ("q", "close"),
    ("/", "search"),
    ("n/N", "next/previous"),
    ("w", "wrap"),
    ("g/G", "top/end"),
    ("space", "page"),
];

/// Draws `pager` over `area` (the whole screen), which the app's `resize` used via
/// `ui::viewer::body`.
pub fn render(pager: &Pager, palette: Palette, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    Clear.render(area, buf);
    if area.is_empty() {
        return;
    }
    let (title, body, footer) = regions(area);
    let (first, last, complete) = pager.position();
    let mut right = if complete {
        format!("line {first} of {last}")
    } else {
        format!("line {first} of {last}+")
    };
    if pager.wrap() {
        right.push_str(" · wrap");
    }
    let left = match pager.language() {
        Some(lang) => format!("{} · {lang}", pager.title()),
        None => pager.title().to_owned(),
    };
    bar(title, &left, &format!("{right} "), buf);
    let gutter = pager.gutter();
    for (i, line) in pager.lines().iter().enumerate() {
        let y = body.y + i as u16;
        if y >= body.bottom() {
            break;
        }
        let row = Rect {
            y,
            height: 1,
            ..body
        };
        let number = match line.number {
            Some(n) => format!("{n:>w$} ", w = usize::from(gutter.saturating_sub(1))),
            None => format!("{:>w$} ", "·", w = usize::from(gutter.saturating_sub(1))),
        };
        let mut spans = vec![Span::styled(number, GUTTER_STYLE)];
        spans.extend(styled(line, palette));
        Line::from(spans).render(row, buf);
    }
    match pager.search() {
        Search::Typing(query) => {
            let q = crate::text::sanitize_line(query);
            Line::from(vec![
                Span::styled("/", KEY_STYLE),
                Span::raw(q.into_owned()),
                Span::styled("▏", DIM_STYLE),
            ])
            .render(footer, buf);
        }
        _ => match pager.message() {
            Some(msg) => Line::from(Span::styled(msg.to_owned(), KEY_STYLE)).render(footer, buf),
            None => keys_line(KEYS, footer, buf),
        },
    }
}

/// A screen line cut into spans where its syntax colour or match state changes.
fn styled(line: &ScreenLine, palette: Palette) -> Vec<Span<'static>> {
    let text = &line.text;
    let mut cuts: Vec<usize> = vec![0, text.len()];
    for (r, _) in &line.spans {
        cuts.extend([r.start, r.end]);
    }
    for r in &line.matches {
        cuts.extend([r.start, r.end]);
    }
    cuts.retain(|&c| c <= text.len() && text.is_char_boundary(c));
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        let (s, e) = (w[0], w[1]);
        if s == e {
            continue;
        }
        let in_match = line.matches.iter().any(|r| r.start <= s && e <= r.end);
        let style = if in_match {
            if line.current {
                CURRENT_STYLE
            } else {
                MATCH_STYLE
            }
        } else {
            match line.spans.iter().find(|(r, _)| r.start <= s && e <= r.end) {
                Some((_, c)) => Style::new().fg(rgb(palette, *c)),
                None => Style::new(),
            }
        };
        out.push(Span::styled(text[s..e].to_owned(), style));
    }
    out
}
