//! Drawing the full-screen viewers: a title bar, the body, and a footer with the keys. The
//! app gives [`body`] of its screen to the viewer's `resize`, so drawing and paging agree on
//! the size. Colours from files and pictures go through [`rgb`], which falls back to the
//! 256-colour palette when the terminal has no true colour.

pub mod pager;
pub mod picture;
pub mod video;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::client::layout::Palette;

pub(crate) const BAR_STYLE: Style = Style::new().fg(Color::Black).bg(Color::Gray);
pub(crate) const KEY_STYLE: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
pub(crate) const DIM_STYLE: Style = Style::new().fg(Color::DarkGray);

/// The title bar, body and footer of a viewer filling `area`.
pub fn regions(area: Rect) -> (Rect, Rect, Rect) {
    let title = Rect {
        height: area.height.min(1),
        ..area
    };
    let footer = Rect {
        y: area.bottom().saturating_sub(1).max(title.bottom()),
        height: area.height.saturating_sub(1).min(1),
        ..area
    };
    let body = Rect {
        y: title.bottom(),
        height: footer.y.saturating_sub(title.bottom()),
        ..area
    };
    (title, body, footer)
}

/// The area a viewer shows its content in, for `resize`.
pub fn body(area: Rect) -> Rect {
    regions(area).1
}

/// A terminal colour for an RGB colour: itself in true colour, else the nearest of 256.
pub fn rgb(palette: Palette, (r, g, b): (u8, u8, u8)) -> Color {
    if palette.truecolor {
        Color::Rgb(r, g, b)
    } else {
        Color::Indexed(ansi_colours::ansi256_from_rgb((r, g, b)))
    }
}

/// A bar: `left` text, `right` text at the right edge, in the bar style.
pub(crate) fn bar(area: Rect, left: &str, right: &str, buf: &mut Buffer) {
    buf.set_style(area, BAR_STYLE);
    let right_w = crate::text::display_width(right) as u16;
    let left_w = area.width.saturating_sub(right_w + 1);
    let left = crate::text::truncate_to_width(left, usize::from(left_w));
    Line::from(Span::styled(format!(" {left}"), BAR_STYLE)).render(area, buf);
    if right_w < area.width {
        let at = Rect {
            x: area.right() - right_w - 1,
            width: right_w,
            ..area
        };
        Line::from(Span::styled(right, BAR_STYLE)).render(at, buf);
    }
}

/// A footer of keys: `[("q", "close"), …]`.
pub(crate) fn keys_line(keys: &[(&str, &str)], area: Rect, buf: &mut Buffer) {
    let mut spans = Vec::new();
    for (i, (key, what)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled("  ", DIM_STYLE));
        }
        spans.push(Span::styled(*key, KEY_STYLE));
        spans.push(Span::styled(format!(" {what}"), DIM_STYLE));
    }
    Line::from(spans).render(area, buf);
}
