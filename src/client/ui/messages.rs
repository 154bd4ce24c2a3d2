//! The message pane: draws the rows the pane's view gives (the same rows the mouse is
//! hit-tested against), the unread ruler, the "N new messages" marker while scrolled up, link
//! hint labels, and — when enabled — links as OSC 8 hyperlinks.

use std::num::NonZeroU16;

use ratatui::buffer::{Buffer, CellDiffOption};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use unicode_segmentation::UnicodeSegmentation;

use crate::client::app::{App, Mode};
use crate::client::layout::{LinkTarget, Segment, SegmentKind, ViewRow, styles};
use crate::client::links::osc8_url;
use crate::text::{display_form, display_width};

const MARKER: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::LightYellow)
    .add_modifier(Modifier::BOLD);
const HINT: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::LightYellow)
    .add_modifier(Modifier::BOLD);

/// The marker shown on the pane's bottom row while scrolled up: how many messages arrived
/// unseen, or that there is more below.
pub fn new_messages_marker(app: &App) -> Option<String> {
    if app.pane.is_following() {
        return None;
    }
    if app.unread > 0 {
        let n = app.unread;
        return Some(format!(
            " ↓ {n} new message{} — End or click to jump ↓ ",
            if n == 1 { "" } else { "s" }
        ));
    }
    // Scrolled up means there are rows below (cheap to know, unlike counting them).
    Some(" ↓ more below — End or click to jump ↓ ".to_string())
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let view = app.pane.view(area.height);
    let top = area.height.saturating_sub(view.rows.len() as u16);
    let osc8 = app.settings.hyperlinks;
    for (i, row) in view.rows.iter().enumerate() {
        let y = area.y + top + i as u16;
        match row {
            ViewRow::Line { row, .. } => {
                for (x, seg) in row.positioned() {
                    if x >= area.width {
                        break;
                    }
                    let max = (area.width - x) as usize;
                    match &seg.kind {
                        SegmentKind::Link(target) if osc8 => {
                            draw_hyperlink(buf, area.x + x, y, seg, target, max)
                        }
                        _ => {
                            buf.set_stringn(area.x + x, y, display_form(&seg.text), max, seg.style);
                        }
                    }
                }
            }
            ViewRow::Ruler => {
                let label = " new ";
                let side = (area.width as usize).saturating_sub(display_width(label));
                let text = format!(
                    "{}{label}{}",
                    "─".repeat(side / 2),
                    "─".repeat(side - side / 2)
                );
                buf.set_stringn(area.x, y, text, area.width as usize, styles::RULER);
            }
        }
    }
    if let Mode::Hints { targets, typed } = &app.mode {
        for (target, x, y) in view.links(area.height) {
            let Some((label, _)) = targets.iter().find(|(_, t)| t.id == target.id) else {
                continue;
            };
            if !label.starts_with(typed.as_str()) {
                continue;
            }
            let max = (area.width - x) as usize;
            let cell_x = area.x + x;
            // The label replaces the link's first cells (a plain cell, not a hyperlink piece).
            for dx in 0..display_width(label) as u16 {
                if let Some(cell) = buf.cell_mut((cell_x + dx, area.y + y)) {
                    cell.set_diff_option(CellDiffOption::None);
                }
            }
            buf.set_stringn(cell_x, area.y + y, label, max, HINT);
        }
    }
    if let Some(marker) = new_messages_marker(app) {
        let y = area.bottom() - 1;
        buf.set_style(Rect::new(area.x, y, area.width, 1), MARKER);
        for x in area.left()..area.right() {
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.set_diff_option(CellDiffOption::None);
                cell.set_symbol(" ");
            }
        }
        let w = display_width(&marker).min(area.width as usize) as u16;
        let x = area.x + (area.width - w) / 2;
        buf.set_stringn(x, y, &marker, area.width as usize, MARKER);
    }
}

/// Draws a link segment as OSC 8 hyperlinks: every cell carries the whole escape (open, one
/// grapheme, close), marked with its width so that ratatui's diff moves the cursor by what the
/// terminal shows, not by the escape's length. A terminal without OSC 8 ignores the escapes and
/// shows the same text; all pieces of a wrapped link share the id, so hovering lights up all.
fn draw_hyperlink(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    seg: &Segment,
    target: &LinkTarget,
    max: usize,
) {
    let url = osc8_url(&target.url);
    let mut cx = x;
    let mut used = 0usize;
    // The pieces of composed emoji, each in its own cell (see `text::display_form`).
    for g in display_form(&seg.text).graphemes(true) {
        let w = display_width(g);
        if w == 0 {
            continue;
        }
        if used + w > max {
            break;
        }
        let Some(width) = NonZeroU16::new(w as u16) else {
            continue;
        };
        let symbol = format!(
            "\x1b]8;id=clicom-{};{url}\x1b\\{g}\x1b]8;;\x1b\\",
            target.id
        );
        if let Some(cell) = buf.cell_mut((cx, y)) {
            cell.set_symbol(&symbol)
                .set_style(seg.style)
                .set_diff_option(CellDiffOption::ForcedWidth(width));
        }
        for dx in 1..w as u16 {
            if let Some(cell) = buf.cell_mut((cx + dx, y)) {
                cell.reset();
            }
        }
        cx += w as u16;
        used += w;
    }
}
