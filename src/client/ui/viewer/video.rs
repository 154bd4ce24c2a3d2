//! Draws the video viewer: the latest frame in half blocks with the position, or — without
//! ffmpeg, or over the pixel limit — what is known of the file and the key to open it with
//! the system's player.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::{KEY_STYLE, bar, keys_line, regions, rgb};
use crate::client::layout::Palette;
use crate::client::viewer::video::{Playback, VideoView};

const PLAY_KEYS: &[(&str, &str)] = &[
    ("q", "close"),
    ("space", "play/pause"),
    ("←/→", "∓5 s"),
    ("o", "open in a player"),
];
const INFO_KEYS: &[(&str, &str)] = &[("q", "close"), ("o", "open in the system's player")];

fn clock(d: std::time::Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

/// Draws `view` over `area` (the whole screen); the view was resized to `ui::viewer::body`.
pub fn render(view: &VideoView, palette: Palette, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    Clear.render(area, buf);
    if area.is_empty() {
        return;
    }
    let (title, body, footer) = regions(area);
    let total = view.probe().and_then(|p| p.duration).map(clock);
    let state = match view.playback() {
        Playback::Playing => "▶",
        Playback::Paused => "⏸",
        Playback::Ended => "■",
        Playback::Unavailable | Playback::TooLarge => "",
    };
    let right = match total {
        Some(t) => format!("{state} {} / {t} ", clock(view.position())),
        None => format!("{state} {} ", clock(view.position())),
    };
    bar(title, view.title(), &right, buf);
    match view.playback() {
        Playback::Unavailable | Playback::TooLarge => {
            let mut lines = vec![Line::from(Span::styled(
                if view.playback() == Playback::TooLarge {
                    "This video is larger than the picture limit; it is not played here."
                } else {
                    "ffmpeg is not installed, so this video cannot play here."
                },
                KEY_STYLE,
            ))];
            lines.push(Line::from(format!("size: {} bytes", view.bytes())));
            if let Some(p) = view.probe() {
                lines.push(Line::from(format!(
                    "video: {}×{} {}",
                    p.width, p.height, p.codec
                )));
                if let Some(d) = p.duration {
                    lines.push(Line::from(format!("duration: {}", clock(d))));
                }
            }
            lines.push(Line::from("Press o to open it with the system's player."));
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .render(body, buf);
            keys_line(INFO_KEYS, footer, buf);
        }
        _ => {
            if let Some((w, h, cells)) = view.frame() {
                let x0 = body.x + body.width.saturating_sub(*w) / 2;
                let y0 = body.y + body.height.saturating_sub(*h) / 2;
                for (i, &(top, bottom)) in cells.iter().enumerate() {
                    let (x, y) = (
                        x0 + (i % usize::from(*w)) as u16,
                        y0 + (i / usize::from(*w)) as u16,
                    );
                    if x < body.right() && y < body.bottom() {
                        buf[(x, y)]
                            .set_symbol("▀")
                            .set_style(Style::new().fg(rgb(palette, top)).bg(rgb(palette, bottom)));
                    }
                }
            }
            match view.error() {
                Some(e) => Line::from(Span::styled(e.to_owned(), KEY_STYLE)).render(footer, buf),
                None => keys_line(PLAY_KEYS, footer, buf),
            }
        }
    }
}
