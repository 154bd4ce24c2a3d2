//! Drawing: `render(&App, &mut Frame)` reads the app's state and never changes it. The screen is
//! cut into regions by [`regions`], which the app also uses to hit-test the mouse, so drawing
//! and clicking share one geometry. One file per region under `ui/`.

pub mod emoji_picker;
pub mod four;
mod input;
mod messages;
mod overlay;
mod setup;
mod sidebar;
pub mod snake;
mod status;
pub mod viewer;

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{App, Mode, Screen};

pub use messages::new_messages_marker;
pub use sidebar::sidebar_user_at;

/// The seed's ASCII banner, greeting the user in the pane and in the first-run dialog.
pub const BANNER: &str = include_str!("../../assets/banner.txt");

/// Below this size the screen shows a message instead of a squashed UI.
pub const MIN_WIDTH: u16 = 24;
pub const MIN_HEIGHT: u16 = 6;
/// The sidebar shows from this terminal width on.
pub const SIDEBAR_MIN_TERMINAL_WIDTH: u16 = 60;
/// The sidebar's width, border included. Fixed, so joins and leaves never re-wrap the pane.
pub const SIDEBAR_WIDTH: u16 = 20;
/// The input bar's prompt.
pub const PROMPT: &str = "› ";

/// The keys, for `/help` (and the README).
pub const KEY_HELP: &[(&str, &str)] = &[
    ("Enter", "send the line"),
    (
        "←/→ Ctrl-B/F",
        "move by character; Alt-B/F or Ctrl-←/→ by word",
    ),
    (
        "Home/End Ctrl-A/E",
        "start/end of the line (empty line: top/bottom of the chat)",
    ),
    ("Backspace/Delete", "delete a character"),
    ("Ctrl-W Alt-D", "delete the word before/after the cursor"),
    ("Ctrl-U Ctrl-K", "delete to the start/end of the line"),
    (
        "Ctrl-Y Alt-Y",
        "paste what was deleted; Alt-Y cycles older deletions",
    ),
    ("↑/↓", "input history"),
    (
        "Tab Shift-Tab",
        "complete a nickname or command (press again to cycle)",
    ),
    (
        "PageUp/PageDown",
        "scroll the chat; Ctrl-Home/End: top/bottom",
    ),
    ("Shift-↑/↓", "scroll the chat by one line"),
    ("Mouse wheel", "scroll the chat"),
    (
        "Click",
        "open a link; click a user in the sidebar to /msg them",
    ),
    (
        "Ctrl-O",
        "link hints: type a link's label to open it (Esc leaves)",
    ),
    (
        "F2 Alt-M",
        "mouse capture on/off (off: select text; Shift-drag selects in most terminals)",
    ),
    ("Ctrl-R", "reconnect now instead of waiting"),
    ("Ctrl-L", "repaint the screen"),
    (
        "Ctrl-C Ctrl-D",
        "clear the line; on an empty line quit (asks if messages are unsent)",
    ),
];

/// Where each part of the chat screen is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regions {
    pub status: Rect,
    pub pane: Rect,
    pub sidebar: Option<Rect>,
    pub input: Rect,
    /// The terminal is too small to draw the chat: a message is shown instead.
    pub too_small: bool,
}

/// Cuts the screen: a status line on top, the input bar at the bottom, the message pane in
/// between with the sidebar at its right when the terminal is wide enough.
pub fn regions(area: Rect) -> Regions {
    let too_small = area.width < MIN_WIDTH || area.height < MIN_HEIGHT;
    let status = Rect::new(area.x, area.y, area.width, 1.min(area.height));
    let input = Rect::new(
        area.x,
        area.bottom().saturating_sub(1),
        area.width,
        1.min(area.height),
    );
    let middle_height = area.height.saturating_sub(2);
    let show_sidebar = area.width >= SIDEBAR_MIN_TERMINAL_WIDTH;
    let sidebar_width = if show_sidebar { SIDEBAR_WIDTH } else { 0 };
    let pane = Rect::new(
        area.x,
        area.y + 1.min(area.height),
        area.width - sidebar_width,
        middle_height,
    );
    let sidebar =
        show_sidebar.then(|| Rect::new(pane.right(), pane.y, sidebar_width, middle_height));
    Regions {
        status,
        pane,
        sidebar,
        input,
        too_small,
    }
}

/// Columns of the input bar left for text after the prompt.
pub fn input_text_width(input: Rect) -> u16 {
    input
        .width
        .saturating_sub(crate::text::display_width(PROMPT) as u16)
        .max(1)
}

/// Draws the whole screen from the app's state.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let r = regions(area);
    if r.too_small {
        too_small(area, frame);
        return;
    }
    match &app.screen {
        Screen::Setup(setup) => setup::render(setup, app, area, frame),
        Screen::Chat | Screen::Snake => {
            status::render(app, r.status, frame.buffer_mut());
            match app.shown_game() {
                Some(game) => snake::render(game, r.pane, frame.buffer_mut()),
                None => messages::render(app, r.pane, frame.buffer_mut()),
            }
            if let Some(sidebar) = r.sidebar {
                sidebar::render(app, sidebar, frame.buffer_mut());
            }
            match &app.mode {
                Mode::Paste { lines } => overlay::paste_preview(lines, r.pane, frame.buffer_mut()),
                Mode::ConfirmQuit => {
                    overlay::quit_confirm(app.outbox.len(), r.pane, frame.buffer_mut())
                }
                Mode::Normal | Mode::Hints { .. } => {}
            }
            input::render(app, r.input, frame);
        }
    }
}

fn too_small(area: Rect, frame: &mut Frame) {
    let text = format!(
        "Terminal too small ({}×{}). Clicom needs at least {MIN_WIDTH}×{MIN_HEIGHT}.",
        area.width, area.height
    );
    let y = area.height.saturating_sub(2) / 2;
    let rest = Rect::new(area.x, area.y + y, area.width, area.height - y);
    frame.render_widget(
        Paragraph::new(text)
            .style(
                Style::new()
                    .fg(Color::LightRed)
                    .add_modifier(Modifier::BOLD),
            )
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        rest,
    );
}

#[cfg(test)]
mod tests;
