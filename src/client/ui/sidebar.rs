//! The sidebar: who is in the room, in their colours, you marked, following `active_users`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use crate::client::app::{App, ConnState};
use crate::text::{display_form, display_width, name_key, truncate_to_width};

const BORDER: Style = Style::new().fg(Color::DarkGray);

/// The user drawn on sidebar row `row` (0 = the header), as the renderer lays it out.
pub fn sidebar_user_at(app: &App, row: usize) -> Option<&str> {
    let height = crate::client::ui::regions(app.area).sidebar?.height as usize;
    let shown = shown_users(app.users.len(), height);
    let i = row.checked_sub(1)?;
    (i < shown).then(|| app.users[i].as_str())
}

/// How many names fit under the header, leaving a "+N more" row when some do not.
fn shown_users(total: usize, height: usize) -> usize {
    let rows = height.saturating_sub(1);
    if total <= rows {
        total
    } else {
        rows.saturating_sub(1)
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    for y in area.top()..area.bottom() {
        buf.set_string(area.x, y, "│", BORDER);
    }
    let inner = Rect::new(
        area.x + 2,
        area.y,
        area.width.saturating_sub(2),
        area.height,
    );
    let width = inner.width as usize;
    let online = matches!(app.conn, ConnState::Connected { .. });
    let header = if online {
        format!("Users ({})", app.users.len())
    } else {
        "Users (offline)".to_string()
    };
    buf.set_stringn(
        inner.x,
        inner.y,
        &header,
        width,
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    );
    let shown = shown_users(app.users.len(), area.height as usize);
    let me = name_key(&app.name);
    for (i, user) in app.users.iter().take(shown).enumerate() {
        let y = inner.y + 1 + i as u16;
        let mine = name_key(user) == me;
        let color = if mine {
            app.color.as_str()
        } else {
            app.user_color(user).unwrap_or("")
        };
        let mut style = app.palette.name_style(color);
        if !online {
            style = style.add_modifier(Modifier::DIM);
        }
        if mine {
            const YOU: &str = " (you)";
            let name = fit_name(user, width.saturating_sub(display_width(YOU)));
            let x = buf
                .set_stringn(inner.x, y, display_form(&name), width, style)
                .0;
            buf.set_stringn(
                x,
                y,
                YOU,
                width.saturating_sub((x - inner.x) as usize),
                BORDER,
            );
        } else {
            let name = fit_name(user, width);
            buf.set_stringn(inner.x, y, display_form(&name), width, style);
        }
    }
    if shown < app.users.len() {
        let y = inner.y + 1 + shown as u16;
        buf.set_stringn(
            inner.x,
            y,
            format!("+{} more", app.users.len() - shown),
            width,
            BORDER,
        );
    }
}

/// A name cut to `width` cells, ending in `…` when cut, so names that share a long prefix are
/// not shown as the same.
fn fit_name(name: &str, width: usize) -> std::borrow::Cow<'_, str> {
    if display_width(name) <= width {
        return name.into();
    }
    let cut = truncate_to_width(name, width.saturating_sub(1));
    format!("{cut}…").into()
}
