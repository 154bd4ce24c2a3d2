//! Draws the Connect Four screen over the message pane; it reads the `FourScreen` and never
//! changes it. Discs are block characters in the 16 basic colours (red and yellow), and each
//! player's disc also has its own shape (solid and shaded) so colour is never the only
//! difference; the last disc is marked `>…<` and a winning line `[…]`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use crate::client::four::{FourScreen, Phase, Tally, Tone};
use crate::game::four::{COLS, Cell, Player, ROWS};

/// A board size: terminal columns and rows per board cell, and the disc's width inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellSize {
    pub width: u16,
    pub height: u16,
    disc: u16,
}

/// Two columns by one row looks about square; the large board doubles it.
const SMALL: CellSize = CellSize {
    width: 4,
    height: 1,
    disc: 2,
};
const LARGE: CellSize = CellSize {
    width: 6,
    height: 2,
    disc: 4,
};

/// Rows around the board: the border (2), the column numbers and the cursor row (2), and the
/// status line under the frame (1).
const CHROME_ROWS: u16 = 5;

/// The whole screen's size in terminal cells for a board of cell size `cell`.
pub const fn screen_size(cell: CellSize) -> (u16, u16) {
    (
        cell.width * COLS as u16 + 2,
        cell.height * ROWS as u16 + CHROME_ROWS,
    )
}

/// The smallest pane the game can be played in.
pub const MIN_SIZE: (u16, u16) = screen_size(SMALL);

/// The board size that fits `area`, if any.
pub fn cell_size_for(area: Rect) -> Option<CellSize> {
    [LARGE, SMALL].into_iter().find(|&c| {
        let (w, h) = screen_size(c);
        w <= area.width && h <= area.height
    })
}

const FIRST: Style = Style::new().fg(Color::Red);
const SECOND: Style = Style::new().fg(Color::Yellow);
const BORDER: Style = Style::new().fg(Color::Blue);
const DIM: Style = Style::new().fg(Color::DarkGray);
const KEY: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
/// The brackets around a winning line's discs.
const WIN_MARK: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Green)
    .add_modifier(Modifier::BOLD);
const LAST_MARK: Style = Style::new().fg(Color::White).add_modifier(Modifier::BOLD);

/// A disc's colour and shape.
pub fn disc_style(player: Player) -> Style {
    match player {
        Player::First => FIRST,
        Player::Second => SECOND,
    }
}

/// The character a disc is drawn with (repeated to its width).
pub fn disc_char(player: Player) -> char {
    match player {
        Player::First => '█',
        Player::Second => '▒',
    }
}

fn disc(player: Player, width: u16) -> String {
    std::iter::repeat_n(disc_char(player), usize::from(width)).collect()
}

/// Draws `screen` into `area` (the message pane). Everything outside `area` is left alone.
pub fn render(screen: &FourScreen, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    Clear.render(area, buf);
    if area.is_empty() {
        return;
    }
    let Some(geometry) = Geometry::for_area(area) else {
        render_too_small(area, buf);
        return;
    };
    let inner = render_frame(screen, geometry.frame, buf);
    render_labels(screen, geometry.cell, inner, buf);
    render_discs(screen, geometry.cell, geometry.board, buf);
    // The status line may run past the frame to the pane's edge.
    let status = Rect::new(
        geometry.frame.x,
        geometry.frame.bottom(),
        area.right() - geometry.frame.x,
        1,
    );
    render_status(screen, status, buf);
}

/// Where the parts of the screen sit in a pane; the same numbers serve drawing and (later)
/// telling which column a click is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub cell: CellSize,
    /// The bordered frame (the status line is the row under it).
    pub frame: Rect,
    /// The 7×6 cells, inside the frame under the column numbers.
    pub board: Rect,
}

impl Geometry {
    /// The largest board that fits `area`, centred; `None` when even the small one does not.
    pub fn for_area(area: Rect) -> Option<Geometry> {
        let cell = cell_size_for(area)?;
        let (width, height) = screen_size(cell);
        let frame = Rect::new(
            area.x + (area.width - width) / 2,
            area.y + (area.height - height) / 2,
            width,
            height - 1,
        );
        let board = Rect::new(
            frame.x + 1,
            frame.y + 3,
            cell.width * u16::from(COLS),
            cell.height * u16::from(ROWS),
        );
        Some(Geometry { cell, frame, board })
    }

    /// The board column under terminal column `x`, if any.
    pub fn column_at(&self, x: u16) -> Option<u8> {
        let dx = x.checked_sub(self.board.x)?;
        u8::try_from(dx / self.cell.width)
            .ok()
            .filter(|&c| c < COLS)
    }
}

/// The terminal cell where board cell `c` starts (its top-left), inside `board`.
pub fn cell_origin(cell: CellSize, board: Rect, c: Cell) -> (u16, u16) {
    (
        board.x + u16::from(c.col) * cell.width,
        board.y + u16::from(ROWS - 1 - c.row) * cell.height,
    )
}

/// The board's frame with the title on top and the keys below; returns the inside.
fn render_frame(screen: &FourScreen, frame: Rect, buf: &mut Buffer) -> Rect {
    let room = usize::from(frame.width.saturating_sub(2));
    let them = screen.opponent_name();
    let tally = screen.tally();
    let versus = if tally == Tally::default() {
        format!("you vs {them}")
    } else {
        format!("you {}:{} {them}", tally.won, tally.lost)
    };
    let title = [
        format!(" Connect Four · {versus} "),
        format!(" {versus} "),
        " Connect Four ".to_string(),
        " Four ".to_string(),
    ]
    .into_iter()
    .find(|t| crate::text::display_width(t) <= room)
    .unwrap_or_default();
    let hints = screen.hints();
    let hint = (1..=hints.len())
        .rev()
        .map(|n| {
            let keys: Vec<String> = hints[..n].iter().map(|(k, a)| format!("{k} {a}")).collect();
            format!(" {} ", keys.join(" · "))
        })
        .find(|t| crate::text::display_width(t) <= room)
        .unwrap_or_default();
    let border = match screen.phase() {
        Phase::Over | Phase::Ended(_) => Style::new().fg(Color::Gray),
        _ => BORDER,
    };
    let block = Block::bordered()
        .border_style(border)
        .title_top(Line::styled(
            title,
            Style::new().add_modifier(Modifier::BOLD),
        ))
        .title_bottom(Line::styled(hint, DIM).centered());
    let inner = block.inner(frame);
    block.render(frame, buf);
    inner
}

/// The column numbers, and under the cursor's column the disc about to drop (on your turn).
fn render_labels(screen: &FourScreen, cell: CellSize, inner: Rect, buf: &mut Buffer) {
    let pad = (cell.width - 1) / 2;
    for col in 0..COLS {
        let x = inner.x + u16::from(col) * cell.width;
        let style = if col == screen.cursor() {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            DIM
        };
        buf.set_string(x + pad, inner.y, (col + 1).to_string(), style);
    }
    let x = inner.x + u16::from(screen.cursor()) * cell.width + (cell.width - cell.disc) / 2;
    let me = screen.me();
    if screen.my_turn() {
        buf.set_string(x, inner.y + 1, disc(me, cell.disc), disc_style(me));
    } else if screen.phase() == Phase::Playing {
        buf.set_string(x, inner.y + 1, "·".repeat(usize::from(cell.disc)), DIM);
    }
}

fn render_discs(screen: &FourScreen, cell: CellSize, board: Rect, buf: &mut Buffer) {
    let b = screen.game().board();
    let last = screen.last_move();
    let winning = screen.winning_cells();
    let margin = (cell.width - cell.disc) / 2;
    for col in 0..COLS {
        for row in 0..ROWS {
            let c = Cell::new(col, row);
            let (x, y) = cell_origin(cell, board, c);
            let Some(player) = b.disc_at(c) else {
                // An empty hole: a dot in the middle, so the columns are easy to count.
                let dot_y = y + (cell.height - 1) / 2;
                buf.set_string(x + cell.width / 2 - 1, dot_y, "·", DIM);
                continue;
            };
            let (marks, mark_style) = if winning.contains(&c) {
                (("[", "]"), WIN_MARK)
            } else if last == Some(c) {
                ((">", "<"), LAST_MARK)
            } else {
                ((" ", " "), Style::new())
            };
            let style = disc_style(player);
            let style = if last == Some(c) {
                style.add_modifier(Modifier::BOLD)
            } else {
                style
            };
            for dy in 0..cell.height {
                buf.set_string(x + margin - 1, y + dy, marks.0, mark_style);
                buf.set_string(x + margin, y + dy, disc(player, cell.disc), style);
                buf.set_string(x + margin + cell.disc, y + dy, marks.1, mark_style);
            }
        }
    }
}

/// The line under the board: what is happening, coloured by how it is for you.
fn render_status(screen: &FourScreen, area: Rect, buf: &mut Buffer) {
    let status = screen.status();
    let style = match status.tone {
        Tone::YourTurn => Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        Tone::Waiting => Style::new().fg(Color::Gray),
        Tone::Won => Style::new()
            .fg(Color::LightGreen)
            .add_modifier(Modifier::BOLD),
        Tone::Lost => Style::new()
            .fg(Color::LightRed)
            .add_modifier(Modifier::BOLD),
        Tone::Warning => Style::new().fg(Color::Yellow),
    };
    let me = screen.me();
    let legend = Span::styled(format!("{} ", disc(me, 2)), disc_style(me));
    let line = Line::from(vec![legend, Span::styled(status.text, style)]);
    buf.set_line(area.x, area.y, &line, area.width);
}

/// Shown instead of the board while the pane is too small to play.
fn render_too_small(area: Rect, buf: &mut Buffer) {
    let (need_width, need_height) = MIN_SIZE;
    let lines = vec![
        Line::styled(
            "Connect Four needs a bigger window",
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::from(format!(
            "this pane is {}x{}, it needs {need_width}x{need_height}",
            area.width, area.height
        )),
        Line::from(vec![Span::styled("q", KEY), Span::raw(" back to chat")]),
    ];
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(usize::from(area.width)).max(1))
        .sum();
    let rows = u16::try_from(rows).unwrap_or(u16::MAX).min(area.height);
    let top = area.y + (area.height - rows) / 2;
    let text = Rect {
        y: top,
        height: area.bottom() - top,
        ..area
    };
    Paragraph::new(lines)
        .centered()
        .wrap(Wrap { trim: true })
        .render(text, buf);
}

#[cfg(test)]
mod tests;
