//! Where every character of the message pane sits. Messages are wrapped by display width into
//! rows of styled segments that remember their source (plain text or a link), cached per message
//! and re-wrapped only when the width changes. The renderer draws these rows and mouse clicks are
//! hit-tested against the very same rows, so what is drawn and what is clicked never disagree.

pub mod pane;

use std::sync::Arc;

use ratatui::style::{Color as TermColor, Modifier, Style};
use unicode_segmentation::UnicodeSegmentation;

use crate::protocol::Color;

pub use pane::{Entry, EntryKind, Pane, View, ViewRow};

/// A link as the layout knows it: the URL to open and an id shared by all the pieces of one
/// link (so a link wrapped over several rows is one OSC 8 hyperlink and one hint).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkTarget {
    pub url: Arc<str>,
    pub id: u64,
}

/// What a piece of a row came from; decides what a click on it does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SegmentKind {
    #[default]
    Text,
    Link(LinkTarget),
}

/// Input to [`wrap`]: a run of text in one style from one source. Text may contain `\n`.
#[derive(Debug, Clone)]
pub struct Piece<'a> {
    pub text: &'a str,
    pub style: Style,
    pub kind: SegmentKind,
}

impl<'a> Piece<'a> {
    pub fn new(text: &'a str, style: Style) -> Piece<'a> {
        Piece {
            text,
            style,
            kind: SegmentKind::Text,
        }
    }
}

/// A run of cells in one row drawn in one style from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub style: Style,
    pub kind: SegmentKind,
    /// Display width in cells.
    pub width: u16,
}

/// One visual row: segments drawn left to right starting `indent` cells in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    pub indent: u16,
    pub segments: Vec<Segment>,
}

impl Row {
    pub fn width(&self) -> u16 {
        self.indent + self.segments.iter().map(|s| s.width).sum::<u16>()
    }

    /// The segment under column `x` (0 = the row's first cell), if any.
    pub fn segment_at(&self, x: u16) -> Option<&Segment> {
        let mut left = self.indent;
        for seg in &self.segments {
            if x >= left && x < left + seg.width {
                return Some(seg);
            }
            left += seg.width;
        }
        None
    }

    /// Segments with their starting column.
    pub fn positioned(&self) -> impl Iterator<Item = (u16, &Segment)> {
        self.segments.iter().scan(self.indent, |left, seg| {
            let at = *left;
            *left += seg.width;
            Some((at, seg))
        })
    }

    /// The row's text, for tests and debugging.
    pub fn text(&self) -> String {
        let mut s = " ".repeat(self.indent as usize);
        for seg in &self.segments {
            s.push_str(&seg.text);
        }
        s
    }

    fn push(&mut self, piece: usize, pieces: &[Piece<'_>], g: &str, width: u16) {
        let p = &pieces[piece];
        if let Some(last) = self.segments.last_mut()
            && last.style == p.style
            && last.kind == p.kind
        {
            last.text.push_str(g);
            last.width += width;
            return;
        }
        self.segments.push(Segment {
            text: g.to_string(),
            style: p.style,
            kind: p.kind.clone(),
            width,
        });
    }
}

/// A grapheme placed by the wrapper: which piece it came from, its text and width.
struct Glyph<'a> {
    piece: usize,
    text: &'a str,
    width: u16,
    space: bool,
    newline: bool,
}

/// Words longer than this many columns left on a row start on a new row before being broken.
const MIN_ROOM_FOR_BREAKING: u16 = 8;

/// Wraps pieces into rows at most `width` cells wide. Breaks at spaces where it can and inside a
/// word only when the word is wider than a row; never splits a grapheme, so CJK and emoji keep
/// their two cells. Continuation rows start `indent` cells in (dropped on very narrow panes);
/// spaces at a wrap point are swallowed.
pub fn wrap(pieces: &[Piece<'_>], width: u16, indent: u16) -> Vec<Row> {
    let width = width.max(1);
    let indent = if width >= indent.saturating_mul(2).max(12) {
        indent
    } else {
        0
    };
    let glyphs: Vec<Glyph<'_>> = pieces
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.text.graphemes(true).filter_map(move |g| {
                let newline = g == "\n" || g == "\r\n";
                let w = if newline {
                    0
                } else {
                    u16::try_from(crate::text::grapheme_width(g)).unwrap_or(u16::MAX)
                };
                if w == 0 && !newline {
                    return None;
                }
                Some(Glyph {
                    piece: i,
                    text: g,
                    width: w,
                    space: g.chars().all(char::is_whitespace),
                    newline,
                })
            })
        })
        .collect();

    let mut rows = vec![Row::default()];
    let mut col: u16 = 0;
    let mut i = 0;
    let new_row = |rows: &mut Vec<Row>, col: &mut u16| {
        rows.push(Row {
            indent,
            segments: Vec::new(),
        });
        *col = indent;
    };
    while i < glyphs.len() {
        let g = &glyphs[i];
        if g.newline {
            new_row(&mut rows, &mut col);
            i += 1;
            continue;
        }
        if g.space {
            if col + g.width <= width {
                let row = rows.last_mut().expect("rows always has a current row");
                row.push(g.piece, pieces, g.text, g.width);
                col += g.width;
            } else {
                // Wrap here; the space itself is swallowed, as are the ones after it.
                new_row(&mut rows, &mut col);
                while i < glyphs.len() && glyphs[i].space {
                    i += 1;
                }
                continue;
            }
            i += 1;
            continue;
        }
        // A word: the glyphs up to the next space or newline.
        let end = glyphs[i..]
            .iter()
            .position(|g| g.space || g.newline)
            .map_or(glyphs.len(), |n| i + n);
        // In u32: one word of a huge paste or message can be wider than u16 cells.
        let word_width: u32 = glyphs[i..end].iter().map(|g| u32::from(g.width)).sum();
        let row_room = u32::from(width.saturating_sub(indent));
        let starts_row = col == rows.last().map_or(0, |r| r.indent);
        if u32::from(col) + word_width > u32::from(width)
            && !starts_row
            && (word_width <= row_room
                || u32::from(width - col) < u32::from(MIN_ROOM_FOR_BREAKING).min(word_width))
        {
            drop_trailing_spaces(rows.last_mut().expect("current row"), &mut col);
            new_row(&mut rows, &mut col);
        }
        for g in &glyphs[i..end] {
            if col + g.width > width && col > rows.last().map_or(0, |r| r.indent) {
                new_row(&mut rows, &mut col);
            }
            let row = rows.last_mut().expect("rows always has a current row");
            row.push(g.piece, pieces, g.text, g.width);
            col += g.width;
        }
        i = end;
    }
    for row in &mut rows {
        let mut c = 0;
        drop_trailing_spaces(row, &mut c);
    }
    rows
}

/// Removes spaces at the end of a row (before a wrap), adjusting `col` by what was removed.
fn drop_trailing_spaces(row: &mut Row, col: &mut u16) {
    while let Some(last) = row.segments.last_mut() {
        let trimmed = last.text.trim_end_matches(' ');
        let removed = (last.text.len() - trimmed.len()) as u16;
        if removed == 0 {
            break;
        }
        last.text.truncate(trimmed.len());
        last.width -= removed;
        *col = col.saturating_sub(removed);
        if last.text.is_empty() {
            row.segments.pop();
        } else {
            break;
        }
    }
}

/// How colours reach the terminal: true colour where the terminal says it has it
/// (`COLORTERM=truecolor|24bit`), else the nearest of the 256 indexed colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub truecolor: bool,
}

impl Palette {
    pub fn from_env() -> Palette {
        let colorterm = std::env::var("COLORTERM").unwrap_or_default();
        Palette {
            truecolor: matches!(
                colorterm.to_ascii_lowercase().as_str(),
                "truecolor" | "24bit"
            ),
        }
    }

    /// The terminal colour for a user's colour: named colours map to the terminal's own
    /// palette, `#rrggbb` to true colour or its 256-colour approximation.
    pub fn color(self, color: Color) -> TermColor {
        match color {
            Color::Cyan => TermColor::Cyan,
            Color::Green => TermColor::Green,
            Color::Magenta => TermColor::Magenta,
            Color::Yellow => TermColor::Yellow,
            Color::Blue => TermColor::LightBlue,
            Color::White => TermColor::White,
            Color::Rgb(r, g, b) => {
                let (r, g, b) = readable(r, g, b);
                if self.truecolor {
                    TermColor::Rgb(r, g, b)
                } else {
                    TermColor::Indexed(ansi_colours::ansi256_from_rgb((r, g, b)))
                }
            }
        }
    }

    /// The style of a name sent with a wire colour string (unknown colours draw plain).
    pub fn name_style(self, wire_color: &str) -> Style {
        match wire_color.parse::<Color>() {
            Ok(c) => Style::new().fg(self.color(c)).add_modifier(Modifier::BOLD),
            Err(_) => Style::new().add_modifier(Modifier::BOLD),
        }
    }
}

/// The darkest a name is drawn: a colour whose brightest channel is below this is lifted to
/// it (keeping its hue), so `#000000` cannot make a name invisible on a dark terminal.
const MIN_CHANNEL: u8 = 0x70;

fn readable(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    let max = r.max(g).max(b);
    if max >= MIN_CHANNEL {
        return (r, g, b);
    }
    if max == 0 {
        return (MIN_CHANNEL, MIN_CHANNEL, MIN_CHANNEL);
    }
    let lift = |c: u8| (u16::from(c) * u16::from(MIN_CHANNEL) / u16::from(max)) as u8;
    (lift(r), lift(g), lift(b))
}

/// The pane's fixed styles, in one place so the renderer and the tests agree.
pub mod styles {
    use ratatui::style::{Color, Modifier, Style};

    pub const TIME: Style = Style::new().fg(Color::DarkGray);
    pub const SYSTEM: Style = Style::new().fg(Color::DarkGray).add_modifier(Modifier::DIM);
    pub const INFO: Style = Style::new().fg(Color::Cyan);
    pub const ERROR: Style = Style::new().fg(Color::LightRed);
    pub const SEPARATOR: Style = Style::new().fg(Color::Yellow);
    pub const GAP: Style = Style::new()
        .fg(Color::LightYellow)
        .add_modifier(Modifier::ITALIC);
    pub const DAY: Style = Style::new().fg(Color::DarkGray);
    pub const DM: Style = Style::new().fg(Color::LightMagenta);
    pub const DM_LABEL: Style = Style::new()
        .fg(Color::LightMagenta)
        .add_modifier(Modifier::BOLD);
    pub const ACTION: Style = Style::new().add_modifier(Modifier::ITALIC);
    pub const MENTION: Style = Style::new()
        .fg(Color::LightYellow)
        .add_modifier(Modifier::BOLD);
    pub const PENDING: Style = Style::new()
        .fg(Color::DarkGray)
        .add_modifier(Modifier::ITALIC);
    /// Added on top of a link's surrounding style.
    pub const LINK: Style = Style::new()
        .fg(Color::LightBlue)
        .add_modifier(Modifier::UNDERLINED);
    pub const RULER: Style = Style::new().fg(Color::LightRed);
    pub const BANNER: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| r.text().trim_end().to_string())
            .collect()
    }

    fn plain(text: &str) -> Vec<Piece<'_>> {
        vec![Piece::new(text, Style::new())]
    }

    #[test]
    fn short_text_is_one_row() {
        assert_eq!(texts(&wrap(&plain("hello world"), 20, 0)), ["hello world"]);
    }

    #[test]
    fn wraps_at_spaces_and_swallows_them() {
        assert_eq!(
            texts(&wrap(&plain("the quick brown fox jumps"), 10, 0)),
            ["the quick", "brown fox", "jumps"]
        );
    }

    #[test]
    fn continuation_rows_are_indented() {
        let rows = wrap(&plain("aaaa bbbb cccc dddd eeee ffff"), 12, 2);
        assert_eq!(texts(&rows), ["aaaa bbbb", "  cccc dddd", "  eeee ffff"]);
        assert!(rows.iter().all(|r| r.width() <= 12));
    }

    #[test]
    fn a_word_wider_than_u16_cells_wraps_without_overflow() {
        // A 10 MB paste or a hostile server's 4 MiB message is one word of millions of cells.
        let word = "x".repeat(70_000);
        let text = format!("ab {word}");
        let rows = wrap(&plain(&text), 100, 0);
        assert!(rows.iter().all(|r| r.width() <= 100));
        assert_eq!(rows.len(), 701, "full rows of 100 cells");
        assert_eq!(rows.iter().map(Row::text).collect::<String>(), text);
    }

    #[test]
    fn long_words_are_broken_and_fill_rows() {
        let rows = wrap(&plain("x abcdefghijklmnopqrstuvwxyz"), 10, 0);
        assert_eq!(texts(&rows), ["x abcdefgh", "ijklmnopqr", "stuvwxyz"]);
    }

    #[test]
    fn cjk_never_splits_and_never_overflows() {
        // Each 世 takes two cells: a width of 5 fits two per row, never two and a half.
        let rows = wrap(&plain("世界世界世界"), 5, 0);
        assert_eq!(texts(&rows), ["世界", "世界", "世界"]);
        assert!(rows.iter().all(|r| r.width() <= 5));
        let rows = wrap(&plain("ab 世界世界世界"), 7, 0);
        assert!(rows.iter().all(|r| r.width() <= 7), "{:?}", texts(&rows));
        assert_eq!(texts(&rows).concat().replace(' ', ""), "ab世界世界世界");
    }

    #[test]
    fn emoji_sequences_stay_whole() {
        let family = "👨‍👩‍👧";
        let text = format!("{family}{family}{family} 👍🏽👍🏽");
        // A family is drawn as its three people (six cells), a skin tone as hand and swatch.
        let rows = wrap(&plain(&text), 6, 0);
        assert_eq!(rows.len(), 5, "{:?}", texts(&rows));
        for row in &rows {
            assert!(row.width() <= 6);
            for seg in &row.segments {
                for g in seg.text.graphemes(true) {
                    assert!(g == family || g == "👍🏽" || g == " ", "split grapheme {g:?}");
                }
            }
        }
    }

    #[test]
    fn hard_newlines_break_rows() {
        assert_eq!(
            texts(&wrap(&plain("one\ntwo\n\nfour"), 20, 2)),
            ["one", "  two", "", "  four"]
        );
    }

    #[test]
    fn a_one_cell_pane_still_terminates() {
        let rows = wrap(&plain("世a b"), 1, 0);
        assert!(!rows.is_empty());
        assert_eq!(texts(&rows).concat().replace(' ', ""), "世ab");
    }

    #[test]
    fn segments_keep_their_source_across_rows() {
        let link = SegmentKind::Link(LinkTarget {
            url: "https://example.com/a/very/long/path".into(),
            id: 7,
        });
        let pieces = [
            Piece::new("see ", Style::new()),
            Piece {
                text: "https://example.com/a/very/long/path",
                style: styles::LINK,
                kind: link.clone(),
            },
            Piece::new(" ok", Style::new()),
        ];
        let rows = wrap(&pieces, 16, 0);
        assert_eq!(
            texts(&rows),
            ["see https://exam", "ple.com/a/very/l", "ong/path ok"]
        );
        let link_cells: u16 = rows
            .iter()
            .flat_map(|r| &r.segments)
            .filter(|s| s.kind == link)
            .map(|s| s.width)
            .sum();
        assert_eq!(
            link_cells as usize,
            "https://example.com/a/very/long/path".len()
        );
        assert_eq!(rows[0].segment_at(4).map(|s| &s.kind), Some(&link));
        assert_eq!(rows[1].segment_at(0).map(|s| &s.kind), Some(&link));
        assert_eq!(rows[2].segment_at(7).map(|s| &s.kind), Some(&link));
        assert_eq!(
            rows[2].segment_at(9).map(|s| &s.kind),
            Some(&SegmentKind::Text)
        );
        assert_eq!(rows[2].segment_at(11), None, "past the end of the row");
    }

    #[test]
    fn hex_colours_fall_back_to_256_without_truecolor() {
        let c: Color = "#ff0000".parse().unwrap();
        assert_eq!(
            Palette { truecolor: true }.color(c),
            TermColor::Rgb(255, 0, 0)
        );
        assert_eq!(
            Palette { truecolor: false }.color(c),
            TermColor::Indexed(196)
        );
        assert_eq!(
            Palette { truecolor: false }.color(Color::Green),
            TermColor::Green
        );
    }

    #[test]
    fn names_too_dark_to_read_are_lifted_keeping_their_hue() {
        let truecolor = Palette { truecolor: true };
        let color = |hex: &str| truecolor.color(hex.parse().unwrap());
        assert_eq!(color("#000000"), TermColor::Rgb(0x70, 0x70, 0x70));
        assert_eq!(
            color("#000038"),
            TermColor::Rgb(0, 0, 0x70),
            "dark blue stays blue"
        );
        assert_eq!(color("#201000"), TermColor::Rgb(0x70, 0x38, 0));
        assert_eq!(
            color("#704000"),
            TermColor::Rgb(0x70, 0x40, 0),
            "bright enough"
        );
        assert_ne!(
            Palette { truecolor: false }.color("#000000".parse().unwrap()),
            TermColor::Indexed(16),
            "not the 256-colour black either"
        );
    }
}
