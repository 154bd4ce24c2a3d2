//! Draws a picture with half blocks: each cell is `▀` with the upper pixel as its foreground
//! and the lower pixel as its background, which any colour terminal shows (tmux included).
//! Colours go through `viewer::rgb`, so a 256-colour terminal gets the nearest it has.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Clear, Widget};

use super::{bar, keys_line, regions, rgb};
use crate::client::layout::Palette;
use crate::client::viewer::picture::PictureView;

/// The keys shown in the footer.
pub const KEYS: &[(&str, &str)] = &[
    ("q", "close"),
    ("+/-", "zoom"),
    ("arrows", "move"),
    ("0", "fit"),
];

/// Draws `view` over `area` (the whole screen); the view was resized to `ui::viewer::body`.
pub fn render(view: &PictureView, palette: Palette, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    Clear.render(area, buf);
    if area.is_empty() {
        return;
    }
    let (title, body, footer) = regions(area);
    let p = view.picture();
    let right = format!(
        "{} {}×{} · {:.0}% ",
        p.format,
        p.width,
        p.height,
        view.zoom() * 100.0
    );
    bar(title, view.title(), &right, buf);
    let ((x, y, w, h), cells) = view.cells();
    for row in 0..h {
        for col in 0..w {
            let Some(&(top, bottom)) =
                cells.get(usize::from(row) * usize::from(w) + usize::from(col))
            else {
                continue;
            };
            let (cx, cy) = (body.x + x + col, body.y + y + row);
            if cx >= body.right() || cy >= body.bottom() {
                continue;
            }
            buf[(cx, cy)]
                .set_symbol("▀")
                .set_style(Style::new().fg(rgb(palette, top)).bg(rgb(palette, bottom)));
        }
    }
    keys_line(KEYS, footer, buf);
}
