//! Boxes drawn over the message pane: the multi-line paste preview and the question asked when
//! quitting would lose messages.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::text::{display_form, sanitize_line};

const BOX: Style = Style::new().fg(Color::White).bg(Color::Indexed(235));

/// A box of `width` × `height` (at most the pane's) centred in the pane.
fn centred(pane: Rect, width: u16, height: u16) -> Rect {
    let (width, height) = (width.min(pane.width), height.min(pane.height));
    Rect::new(
        pane.x + (pane.width - width) / 2,
        pane.y + (pane.height - height) / 2,
        width,
        height,
    )
}

/// Quitting with `unconfirmed` messages: they would be lost, so the user chooses.
pub fn quit_confirm(unconfirmed: usize, pane: Rect, buf: &mut Buffer) {
    let it = if unconfirmed == 1 { "it" } else { "them" };
    let choice = |keys: &str, what: &str| {
        Line::from(vec![
            Span::styled(format!("{keys:<9}"), BOX.add_modifier(Modifier::BOLD)),
            Span::raw(what.to_owned()),
        ])
    };
    let text = vec![
        Line::raw(format!("The server has not confirmed {it} yet:")),
        Line::raw(format!("quitting now may lose {it}.")),
        Line::raw(""),
        choice("W Enter", "wait, then quit"),
        choice("Q", "quit anyway"),
        choice("Esc", "stay"),
    ];
    // The text, the borders and a column of margin each side.
    let width = text.iter().map(Line::width).max().unwrap_or(0) as u16 + 4;
    let area = centred(pane, width, text.len() as u16 + 2);
    Clear.render(area, buf);
    let title = match unconfirmed {
        1 => " 1 message not sent yet ".to_string(),
        n => format!(" {n} messages not sent yet "),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .style(BOX)
        .border_style(BOX.fg(Color::LightYellow));
    let inner = block.inner(area);
    block.render(area, buf);
    let inner = Rect::new(
        inner.x + 1,
        inner.y,
        inner.width.saturating_sub(2),
        inner.height,
    );
    Paragraph::new(text).style(BOX).render(inner, buf);
}

/// The paste guard: what was pasted, and the choices (one message, N lines, edit, cancel).
pub fn paste_preview(lines: &[String], pane: Rect, buf: &mut Buffer) {
    let width = pane.width.saturating_sub(4).clamp(10, 72);
    // Borders, the lines (ten at most), a blank row and the choices.
    let height = (lines.len().min(10) as u16 + 4).min(pane.height).max(3);
    let area = Rect::new(
        pane.x + (pane.width.saturating_sub(width)) / 2,
        pane.y + (pane.height.saturating_sub(height)) / 2,
        width.min(pane.width),
        height,
    );
    Clear.render(area, buf);
    let title = format!(" Paste {} lines? ", lines.len());
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .style(BOX)
        .border_style(BOX.fg(Color::LightYellow));
    let inner = block.inner(area);
    block.render(area, buf);
    let preview_rows = inner.height.saturating_sub(2) as usize;
    let mut text: Vec<Line<'_>> = lines
        .iter()
        .take(preview_rows)
        .map(|l| Line::raw(display_form(&sanitize_line(l)).into_owned()))
        .collect();
    if lines.len() > preview_rows && preview_rows > 0 {
        text.pop();
        text.push(Line::styled(
            format!("… {} more lines", lines.len() - preview_rows + 1),
            BOX.fg(Color::Gray),
        ));
    }
    while text.len() < preview_rows {
        text.push(Line::raw(""));
    }
    text.push(Line::raw(""));
    text.push(Line::styled(
        format!(
            "Enter: one message · L: {} lines · E: edit · Esc: cancel",
            lines.len()
        ),
        BOX.add_modifier(Modifier::BOLD),
    ));
    Paragraph::new(text).style(BOX).render(inner, buf);
}
