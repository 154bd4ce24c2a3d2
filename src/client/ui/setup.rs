//! The first-run dialog's screen: the banner, the name field, the colour choices with a live
//! preview of how your messages will look, and what the keys do.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};

use crate::client::app::{App, SETUP_CUSTOM, Setup, SetupField};
use crate::client::layout::styles;
use crate::client::ui::BANNER;
use crate::protocol::Color as UserColor;

const LABEL: Style = Style::new().add_modifier(Modifier::BOLD);
const FOCUS: Style = Style::new().fg(Color::Black).bg(Color::Cyan);
const HELP: Style = Style::new().fg(Color::DarkGray);
/// Where the fields start, after their labels.
const FIELD_X: u16 = 9;

/// Writes `text` at column `x` of row `y` if that row is inside `area`; returns the next column.
fn put(buf: &mut Buffer, area: Rect, x: u16, y: u16, text: &str, style: Style) -> u16 {
    if y >= area.bottom() || x >= area.right() {
        return x;
    }
    buf.set_stringn(x, y, text, (area.right() - x) as usize, style)
        .0
}

pub fn render(setup: &Setup, app: &App, area: Rect, frame: &mut Frame) {
    let buf = frame.buffer_mut();
    let left = area.x + 1;
    let fx = left + FIELD_X;
    let mut y = area.y;
    let banner: Vec<&str> = BANNER.trim_end().lines().collect();
    // The banner only when there is room for it and the dialog.
    if area.height as usize >= banner.len() + 11 {
        for line in banner {
            put(buf, area, left, y, line, styles::BANNER);
            y += 1;
        }
        y += 1;
    }
    const WELCOME: &str = "Welcome to Clicom! Choose how others will see you.";
    let welcome = if area.width as usize > WELCOME.len() + 1 {
        WELCOME
    } else {
        "Welcome to Clicom!"
    };
    put(buf, area, left, y, welcome, LABEL);
    y += 2;

    let name_y = y;
    put(buf, area, left, y, "Name:", LABEL);
    let field_width = 26.min(area.right().saturating_sub(fx));
    let name_style = if setup.focus == SetupField::Name {
        FOCUS
    } else {
        Style::new()
    };
    if y < area.bottom() && field_width > 0 {
        buf.set_style(Rect::new(fx, y, field_width, 1), name_style);
        buf.set_stringn(
            fx,
            y,
            crate::text::display_form(setup.name.text()),
            field_width as usize,
            name_style,
        );
    }
    y += 1;

    put(buf, area, left, y, "Colour:", LABEL);
    let mut x = fx;
    for (i, c) in UserColor::NAMED.iter().enumerate() {
        let mut style = Style::new().fg(app.palette.color(*c));
        if setup.choice == i {
            style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
        }
        let choice = format!(" {} {} ", i + 1, c.label());
        // A choice that does not fit goes on the next row rather than being cut.
        if x > fx && x + choice.len() as u16 > area.right() {
            y += 1;
            x = fx;
        }
        x = put(buf, area, x, y, &choice, style);
    }
    y += 1;
    let custom = setup.choice == SETUP_CUSTOM;
    let (hex_text, mut hex_style) = if custom {
        let t = if setup.hex.is_empty() {
            "#"
        } else {
            setup.hex.text()
        };
        (
            format!(" {t} "),
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        )
    } else {
        (" or #rrggbb ".to_string(), HELP)
    };
    if custom && let Ok(c) = setup.color() {
        hex_style = hex_style.fg(app.palette.color(c));
    }
    put(buf, area, fx, y, &hex_text, hex_style);
    y += 2;

    put(buf, area, left, y, "Preview:", LABEL);
    let name = if setup.name.is_empty() {
        "you"
    } else {
        setup.name.text()
    };
    let name_style = match setup.color() {
        Ok(c) => Style::new()
            .fg(app.palette.color(c))
            .add_modifier(Modifier::BOLD),
        Err(_) => Style::new().add_modifier(Modifier::BOLD),
    };
    let x = put(buf, area, fx, y, "[12:34] ", styles::TIME);
    let x = put(buf, area, x, y, name, name_style);
    put(buf, area, x, y, ": Hello, world!", Style::new());
    y += 2;

    if let Some(err) = &setup.error {
        put(buf, area, left, y, &format!("! {err}"), styles::ERROR);
        y += 1;
    }
    let help = match setup.focus {
        SetupField::Name => "Type your name, then Enter · Esc quits",
        SetupField::Color => {
            "←/→ or 1-6 choose · # and hex digits for your own · Enter starts · Tab or Esc: name"
        }
    };
    put(buf, area, left, y, help, HELP);
    if setup.focus == SetupField::Name && name_y < area.bottom() && field_width > 0 {
        let col = (setup.name.cursor_column() as u16).min(field_width - 1);
        frame.set_cursor_position(Position::new(fx + col, name_y));
    }
}
