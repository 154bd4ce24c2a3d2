//! The status line: server, room, your name in your colour, the connection state with a live
//! reconnect countdown, pending messages, unread counts while scrolled away, and the mouse mode.
//! Items that do not fit are dropped, least important first.

use std::time::Instant;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use crate::client::app::{App, ConnState};
use crate::text::{display_form, display_width, sanitize_line, truncate_to_width};

const BASE: Style = Style::new().fg(Color::White).bg(Color::Indexed(236));
const SEP: &str = " │ ";

/// One item of the status line: its text, its style and how readily it is dropped (higher
/// priorities stay longest).
struct Item {
    text: String,
    /// A shorter way to say it, used before anything is dropped.
    short: Option<String>,
    style: Style,
    priority: u8,
}

/// The connection state in a few words for a narrow status line ("retry in 4s").
fn conn_short(conn: &ConnState, now: Instant) -> Option<String> {
    match conn {
        ConnState::Connecting { attempt } if *attempt > 1 => Some("connecting…".into()),
        ConnState::Reconnecting { retry_at, .. } => {
            let left = retry_at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            Some(if secs == 0 {
                "reconnecting…".into()
            } else {
                format!("retry in {secs}s")
            })
        }
        ConnState::Offline { .. } => Some("offline".into()),
        _ => None,
    }
}

/// The connection state in words, e.g. "reconnecting in 4s (attempt 3)".
pub fn conn_text(conn: &ConnState, now: Instant) -> (String, Style) {
    match conn {
        ConnState::Idle => ("not connected".into(), BASE.fg(Color::Gray)),
        ConnState::Connecting { attempt: 1 } => ("connecting…".into(), BASE.fg(Color::Yellow)),
        ConnState::Connecting { attempt } => (
            format!("connecting… (attempt {attempt})"),
            BASE.fg(Color::Yellow),
        ),
        ConnState::Connected { joined: false } => ("joining…".into(), BASE.fg(Color::Yellow)),
        ConnState::Connected { joined: true } => ("● connected".into(), BASE.fg(Color::LightGreen)),
        ConnState::Reconnecting {
            retry_at, attempt, ..
        } => {
            let left = retry_at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            let text = if secs == 0 {
                format!("reconnecting… (attempt {attempt})")
            } else {
                format!("reconnecting in {secs}s (attempt {attempt}) · Ctrl-R now")
            };
            (
                text,
                BASE.fg(Color::LightYellow).add_modifier(Modifier::BOLD),
            )
        }
        ConnState::Offline { reason } => (
            format!("offline: {}", sanitize_line(reason)),
            BASE.fg(Color::LightRed).add_modifier(Modifier::BOLD),
        ),
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    buf.set_style(area, BASE);
    let mut items = vec![
        Item {
            text: " Clicom".into(),
            short: None,
            style: BASE.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            priority: 2,
        },
        Item {
            text: sanitize_line(&app.server_label).into_owned(),
            short: None,
            style: BASE,
            priority: 3,
        },
        Item {
            text: format!("#{}", sanitize_line(&app.room)),
            short: None,
            style: BASE.add_modifier(Modifier::BOLD),
            priority: 6,
        },
        Item {
            text: sanitize_line(&app.name).into_owned(),
            short: None,
            style: app.palette.name_style(&app.color).bg(Color::Indexed(236)),
            priority: 5,
        },
    ];
    let (conn, conn_style) = conn_text(&app.conn, app.now);
    items.push(Item {
        text: conn,
        short: conn_short(&app.conn, app.now),
        style: conn_style,
        priority: 9,
    });
    if app.quit_when_sent {
        items.push(Item {
            text: "quitting once sent · Esc stays".into(),
            short: Some("quitting…".into()),
            style: BASE.fg(Color::LightYellow).add_modifier(Modifier::BOLD),
            priority: 8,
        });
    }
    let pending = app.outbox.pending_count();
    if pending > 0 {
        items.push(Item {
            text: format!("{pending} pending"),
            short: None,
            style: BASE.fg(Color::LightYellow),
            priority: 8,
        });
    }
    if app.unread > 0 {
        let text = if app.mentions > 0 {
            format!(
                "{} unread, {} mention{}",
                app.unread,
                app.mentions,
                plural(app.mentions)
            )
        } else {
            format!("{} unread", app.unread)
        };
        items.push(Item {
            text,
            short: None,
            style: BASE.fg(Color::LightMagenta).add_modifier(Modifier::BOLD),
            priority: 7,
        });
    }
    if !app.mouse {
        items.push(Item {
            text: "mouse off (F2)".into(),
            short: None,
            style: BASE.fg(Color::LightYellow),
            priority: 4,
        });
    }
    let width = area.width as usize;
    let total = |items: &[Item]| -> usize {
        items.iter().map(|i| display_width(&i.text)).sum::<usize>()
            + display_width(SEP) * items.len().saturating_sub(1)
    };
    if total(&items) > width {
        for item in &mut items {
            if let Some(short) = item.short.take() {
                item.text = short;
            }
        }
    }
    while total(&items) > width && items.len() > 1 {
        let lowest = items
            .iter()
            .enumerate()
            .min_by_key(|(_, i)| i.priority)
            .map(|(n, _)| n)
            .unwrap_or(0);
        items.remove(lowest);
    }
    let mut x = area.x;
    let right = area.right();
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            x = buf
                .set_stringn(
                    x,
                    area.y,
                    SEP,
                    (right - x) as usize,
                    BASE.fg(Color::DarkGray),
                )
                .0;
        }
        let text = truncate_to_width(&item.text, (right - x) as usize);
        x = buf
            .set_stringn(
                x,
                area.y,
                display_form(text),
                (right - x) as usize,
                item.style,
            )
            .0;
        if x >= right {
            break;
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
