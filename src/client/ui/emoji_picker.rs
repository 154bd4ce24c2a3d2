//! Draws the emoji picker (a box over the bottom of the message pane: search line, group tabs, a
//! grid of emoji, the selected one's name and shortcode) and the shortcode completion popup over
//! the input bar. Reads `client::emoji` state only; the geometry functions here are the ones the
//! app uses to map arrows and clicks, so drawing and navigation agree.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Widget};

use crate::client::emoji::{Candidate, Picker, Tab};
use crate::text::{display_form, display_width, truncate_to_width};

/// Terminal columns per grid cell: an emoji (two) and a gap.
pub const CELL_WIDTH: u16 = 3;
/// The picker's largest size; it shrinks to fit small panes.
const MAX_SIZE: (u16, u16) = (47, 14);
/// Rows inside the box that are not the grid: search, tabs, and the selected emoji's name.
const CHROME_ROWS: u16 = 3;

const BOX: Style = Style::new().fg(Color::Gray);
const TITLE: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
const DIM: Style = Style::new().fg(Color::DarkGray);
const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const KEY: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);

/// Where the picker's parts sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PickerGeometry {
    /// The bordered box.
    pub frame: Rect,
    /// The grid of emoji inside it.
    pub grid: Rect,
}

impl PickerGeometry {
    /// The picker over the bottom-left of `pane`; `None` when the pane cannot hold a usable one
    /// (a box with at least one row of three emoji).
    pub fn for_pane(pane: Rect) -> Option<PickerGeometry> {
        let width = pane.width.min(MAX_SIZE.0);
        let height = pane.height.min(MAX_SIZE.1);
        if width < 2 + 3 * CELL_WIDTH || height < 2 + CHROME_ROWS + 1 {
            return None;
        }
        let frame = Rect::new(pane.x, pane.bottom() - height, width, height);
        let grid = Rect::new(
            frame.x + 1,
            frame.y + 3,
            frame.width - 2,
            frame.height - 2 - CHROME_ROWS,
        );
        Some(PickerGeometry { frame, grid })
    }

    /// Emoji per grid row (what [`Picker::handle`] needs for Up and Down).
    pub fn columns(&self) -> usize {
        usize::from(self.grid.width / CELL_WIDTH)
    }

    /// The first result row shown, so that the selected one is visible.
    pub fn first_row(&self, selected: usize) -> usize {
        let row = selected / self.columns().max(1);
        row.saturating_sub(usize::from(self.grid.height).saturating_sub(1))
    }

    /// The terminal cell where result `index` is drawn, if it is on screen.
    pub fn cell_of(&self, index: usize, selected: usize) -> Option<(u16, u16)> {
        let cols = self.columns().max(1);
        let row = (index / cols).checked_sub(self.first_row(selected))?;
        let row = u16::try_from(row).ok().filter(|&r| r < self.grid.height)?;
        let col = u16::try_from(index % cols).ok()?;
        Some((self.grid.x + col * CELL_WIDTH, self.grid.y + row))
    }
}

/// Draws `picker` over `pane`. Everything outside the picker's box is left alone.
pub fn render(picker: &Picker, pane: Rect, buf: &mut Buffer) {
    let pane = pane.intersection(buf.area);
    let Some(g) = PickerGeometry::for_pane(pane) else {
        return;
    };
    Clear.render(g.frame, buf);
    let hint = [
        " Enter insert · Tab group · Esc close ",
        " Enter · Tab · Esc ",
        "",
    ]
    .into_iter()
    .find(|h| display_width(h) + 2 <= usize::from(g.frame.width))
    .unwrap_or_default();
    let block = Block::bordered()
        .border_style(BOX)
        .title_top(Line::styled(" Emoji ", TITLE))
        .title_bottom(Line::styled(hint, DIM).right_aligned());
    let inner = block.inner(g.frame);
    block.render(g.frame, buf);
    let width = usize::from(inner.width);

    // The search line.
    let query = picker.query();
    let search = if query.is_empty() {
        Line::from(vec![
            Span::styled("search: ", DIM),
            Span::styled("type a name", DIM),
        ])
    } else {
        Line::from(vec![
            Span::styled("search: ", DIM),
            Span::raw(display_form(query).into_owned()),
            Span::styled("▏", KEY),
        ])
    };
    buf.set_line(inner.x, inner.y, &search, inner.width);

    // The tabs, or what the results are.
    if query.is_empty() {
        render_tabs(picker.tab(), inner.x, inner.y + 1, width, buf);
    } else {
        let n = picker.results().len();
        let text = match n {
            0 => "no emoji found".to_string(),
            1 => "1 emoji".to_string(),
            n => format!("{n} emoji"),
        };
        buf.set_stringn(inner.x, inner.y + 1, text, width, DIM);
    }

    // The grid.
    let selected = picker.selected_index();
    for (i, emoji) in picker.results().iter().enumerate() {
        let Some((x, y)) = g.cell_of(i, selected) else {
            continue;
        };
        let style = if i == selected {
            SELECTED
        } else {
            Style::new()
        };
        draw_in_cell(emoji.as_str(), x, y, style, buf);
    }
    if picker.results().is_empty() && query.is_empty() {
        let text = if picker.tab() == Tab::Recent {
            "nothing used yet: Tab for the groups"
        } else {
            ""
        };
        buf.set_stringn(g.grid.x, g.grid.y, text, width, DIM);
    }

    // The selected emoji, whole, with its name and shortcode.
    if let Some(emoji) = picker.selected() {
        let code = emoji
            .shortcode()
            .map(|c| format!("  :{c}:"))
            .unwrap_or_default();
        let line = Line::from(vec![
            Span::raw(format!("{} ", display_form(emoji.as_str()))),
            Span::styled(
                emoji.name().to_string(),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::styled(code, DIM),
        ]);
        buf.set_line(inner.x, inner.bottom() - 1, &line, inner.width);
    }
}

/// One emoji in a grid cell of [`CELL_WIDTH`] columns. One that is drawn wider than two cells
/// (a ZWJ sequence or a skin tone shown as its pieces) shows its first piece and a `+`; the
/// line under the grid shows it whole.
fn draw_in_cell(emoji: &str, x: u16, y: u16, style: Style, buf: &mut Buffer) {
    let drawn = display_form(emoji);
    if display_width(emoji) <= 2 {
        buf.set_stringn(x, y, &drawn, 2, style);
        if display_width(emoji) == 1 {
            buf.set_stringn(x + 1, y, " ", 1, style);
        }
    } else {
        let first = drawn.split('\u{200B}').next().unwrap_or_default();
        let first_width = display_width(first).min(2);
        buf.set_stringn(x, y, first, 2, style);
        buf.set_stringn(x + first_width as u16, y, "+", 1, style.patch(DIM));
    }
}

/// The tab bar: labels separated by spaces, the current one reversed; scrolled so that the
/// current one is always visible.
fn render_tabs(current: Tab, x: u16, y: u16, width: usize, buf: &mut Buffer) {
    let tabs: Vec<Tab> = Tab::all().collect();
    let at = tabs.iter().position(|&t| t == current).unwrap_or(0);
    let span =
        |range: &[Tab]| -> usize { range.iter().map(|t| t.label().len() + 1).sum::<usize>() };
    let mut start = 0;
    while start < at && span(&tabs[start..=at]) > width {
        start += 1;
    }
    let mut cx = x;
    let right = x + u16::try_from(width).unwrap_or(u16::MAX);
    if start > 0 {
        cx = buf.set_stringn(cx, y, "‹", 1, DIM).0;
    }
    for &tab in &tabs[start..] {
        if cx >= right {
            break;
        }
        let style = if tab == current { SELECTED } else { DIM };
        let room = usize::from(right - cx);
        cx = buf.set_stringn(cx, y, tab.label(), room, style).0;
        if cx < right {
            cx += 1;
        }
    }
}

/// Where the completion popup for a `:name` typed at terminal column `anchor_x` goes: just above
/// the input bar `input`, starting under the colon, moved left to fit `screen`.
pub fn completions_rect(
    candidates: &[Candidate],
    anchor_x: u16,
    input: Rect,
    screen: Rect,
) -> Rect {
    let widest = candidates
        .iter()
        .map(|c| completion_text(c).1)
        .max()
        .unwrap_or(0);
    let width = u16::try_from(widest + 4)
        .unwrap_or(u16::MAX)
        .min(screen.width);
    let height = u16::try_from(candidates.len() + 2)
        .unwrap_or(u16::MAX)
        .min(input.y.saturating_sub(screen.y));
    let x = anchor_x
        .min(screen.right().saturating_sub(width))
        .max(screen.x);
    Rect::new(x, input.y.saturating_sub(height), width, height)
}

/// A completion's line (`😄 :smile:`) and its width.
fn completion_text(c: &Candidate) -> (String, usize) {
    let text = format!("{} :{}:", display_form(c.emoji.as_str()), c.shortcode);
    let width = display_width(&text);
    (text, width)
}

/// Draws the completion popup: one candidate per row, the selected one reversed.
pub fn render_completions(
    candidates: &[Candidate],
    selected: usize,
    anchor_x: u16,
    input: Rect,
    buf: &mut Buffer,
) {
    if candidates.is_empty() {
        return;
    }
    let rect = completions_rect(candidates, anchor_x, input, buf.area);
    if rect.height < 3 || rect.width < 6 {
        return;
    }
    Clear.render(rect, buf);
    let block = Block::bordered().border_style(BOX);
    let inner = block.inner(rect);
    block.render(rect, buf);
    for (i, c) in candidates
        .iter()
        .enumerate()
        .take(usize::from(inner.height))
    {
        let y = inner.y + i as u16;
        let style = if i == selected {
            SELECTED
        } else {
            Style::new()
        };
        buf.set_style(Rect::new(inner.x, y, inner.width, 1), style);
        let (text, _) = completion_text(c);
        let text = truncate_to_width(&text, usize::from(inner.width.saturating_sub(1)));
        buf.set_stringn(inner.x + 1, y, text, usize::from(inner.width), style);
    }
}

#[cfg(test)]
mod tests;
