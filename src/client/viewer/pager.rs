//! The text pager: a file or a long message, paged (never loaded whole), with line numbers,
//! search (`/`, `n`, `N`), wrapping and syntax colours. Pure state: keys and ticks change it,
//! `ui::viewer::pager` draws the screen lines it prepared. What it shows is made safe with
//! `text::sanitize_verbatim`: controls appear as pictures and are never sent to the terminal.
//! Work that can take long on a huge file (going to the end, searching) is done a budget at a
//! time: the rest waits for the next [`Pager::tick`], so the UI never freezes.

use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use unicode_segmentation::UnicodeSegmentation;

use super::highlight::{Colours, Span};
use super::lines::{ByteSource, CHECKPOINT_ROWS, FileSource, LineIndex, MemorySource, Row, Scan};
use crate::text::{display_width, sanitize_verbatim};

/// Bytes read at most per key press or tick for long work (going to the end, searching).
pub const WORK_BUDGET: u64 = 32 << 20;
/// Columns per tab stop.
const TAB: usize = 4;
/// Files larger than this are not syntax-coloured.
const COLOUR_MAX_BYTES: u64 = 4 << 20;
/// Columns a horizontal step moves.
const SIDE_STEP: usize = 8;

/// What the app should do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PagerAction {
    None,
    /// Redraw: something changed.
    Redraw,
    Close,
}

/// One line of the screen as prepared for drawing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScreenLine {
    /// The line number, on the first screen line of a line only.
    pub number: Option<u64>,
    /// Safe text (no controls).
    pub text: String,
    /// Syntax colours over `text`'s bytes.
    pub spans: Vec<Span>,
    /// Search matches over `text`'s bytes.
    pub matches: Vec<Range<usize>>,
    /// The line holds the current match.
    pub current: bool,
}

/// The search prompt and the query in force.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Search {
    #[default]
    Off,
    /// `/` pressed: the query being typed.
    Typing(String),
    Active {
        query: String,
        /// The row of the current match.
        current: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// Index to the end, then show it.
    End,
    /// Look for the query from this row on, forwards or backwards; `wrapped` once it went
    /// round the end.
    Search {
        from: u64,
        forward: bool,
        wrapped: bool,
    },
}

pub struct Pager {
    title: String,
    index: LineIndex,
    colours: Option<Colours>,
    wrap: bool,
    /// The first row shown, and (wrapping) the screen line within it.
    top: u64,
    top_sub: usize,
    /// Columns scrolled sideways (not wrapping).
    left: usize,
    /// The text area, gutter included.
    width: u16,
    height: u16,
    lines: Vec<ScreenLine>,
    search: Search,
    work: Option<Work>,
    message: Option<String>,
}

impl Pager {
    /// A pager over the file at `path` (opens it; reads only what is shown).
    pub fn open_file(path: &Path) -> io::Result<Pager> {
        let title = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let src = FileSource::open(path)?;
        let colour = src.len() <= COLOUR_MAX_BYTES;
        Ok(Pager::new(title, Box::new(src), colour))
    }

    /// A pager over text in memory (a long chat message).
    pub fn from_text(title: &str, text: &str) -> Pager {
        let mut pager = Pager::new(
            title.to_owned(),
            Box::new(MemorySource(Arc::from(text))),
            false,
        );
        // Already in memory: counting its lines costs little and the title can say how many.
        let _ = pager.index.index_to(u64::MAX, u64::MAX);
        pager
    }

    /// A pager over any source; `colour` allows syntax colouring (by `title`'s extension or the
    /// first line).
    pub fn new(title: String, src: Box<dyn ByteSource>, colour: bool) -> Pager {
        let mut index = LineIndex::new(src);
        let colours = if colour {
            let first = index.rows(0, 1).ok().and_then(|r| r.into_iter().next());
            Colours::detect(&title, first.as_ref().map_or("", |r| r.text.as_str()))
        } else {
            None
        };
        Pager {
            title: crate::text::sanitize_line(&title).into_owned(),
            index,
            colours,
            wrap: false,
            top: 0,
            top_sub: 0,
            left: 0,
            width: 0,
            height: 0,
            lines: Vec::new(),
            search: Search::Off,
            work: None,
            message: None,
        }
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn language(&self) -> Option<&str> {
        self.colours.as_ref().map(Colours::language)
    }

    pub fn lines(&self) -> &[ScreenLine] {
        &self.lines
    }

    pub fn search(&self) -> &Search {
        &self.search
    }

    pub fn wrap(&self) -> bool {
        self.wrap
    }

    /// A line for the status bar: a search result, progress, or an error.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Whether long work is waiting for ticks.
    pub fn busy(&self) -> bool {
        self.work.is_some()
    }

    /// The first line number shown, the last line known, and whether that is the last.
    pub fn position(&self) -> (u64, u64, bool) {
        let first = self.lines.iter().find_map(|l| l.number).unwrap_or(0);
        (first, self.index.last_line_known(), self.index.complete())
    }

    /// Bytes read from the source so far.
    pub fn bytes_read(&self) -> u64 {
        self.index.bytes_read()
    }

    /// Columns the line numbers take (digits and a space).
    pub fn gutter(&self) -> u16 {
        let widest = self
            .index
            .last_line_known()
            .max(self.top + u64::from(self.height));
        let digits = widest.max(1).ilog10() + 1;
        u16::try_from(digits.max(3) + 1).unwrap_or(u16::MAX)
    }

    fn text_width(&self) -> usize {
        usize::from(self.width.saturating_sub(self.gutter())).max(1)
    }

    /// The text area (gutter included) is `width` x `height` cells.
    pub fn resize(&mut self, width: u16, height: u16) {
        if (width, height) != (self.width, self.height) {
            self.width = width;
            self.height = height;
            self.top_sub = 0;
            self.refresh();
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> PagerAction {
        if key.kind == KeyEventKind::Release {
            return PagerAction::None;
        }
        if let Search::Typing(query) = &mut self.search {
            match key.code {
                KeyCode::Esc => self.search = Search::Off,
                KeyCode::Enter => {
                    let query = std::mem::take(query);
                    if query.is_empty() {
                        self.search = Search::Off;
                    } else {
                        self.search = Search::Active {
                            query,
                            current: None,
                        };
                        self.start_search(self.top, true);
                    }
                }
                KeyCode::Backspace => {
                    if query.pop().is_none() {
                        self.search = Search::Off;
                    }
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    query.push(c);
                }
                _ => return PagerAction::None,
            }
            self.refresh();
            return PagerAction::Redraw;
        }
        let page = usize::from(self.height.max(2) - 1);
        self.message = None;
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return PagerAction::Close,
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Enter => self.down(1),
            KeyCode::Up | KeyCode::Char('k') => self.up(1),
            KeyCode::PageDown | KeyCode::Char(' ') | KeyCode::Char('f') => self.down(page),
            KeyCode::PageUp | KeyCode::Char('b') => self.up(page),
            KeyCode::Char('d') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.down(page / 2)
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.up(page / 2)
            }
            KeyCode::Home | KeyCode::Char('g') => {
                self.work = None;
                self.top = 0;
                self.top_sub = 0;
            }
            KeyCode::End | KeyCode::Char('G') => {
                self.work = Some(Work::End);
                self.do_work();
            }
            KeyCode::Left | KeyCode::Char('h') if !self.wrap => {
                self.left = self.left.saturating_sub(SIDE_STEP)
            }
            KeyCode::Right | KeyCode::Char('l') if !self.wrap => self.left += SIDE_STEP,
            KeyCode::Char('w') => {
                self.wrap = !self.wrap;
                self.top_sub = 0;
                self.left = 0;
            }
            KeyCode::Char('/') => self.search = Search::Typing(String::new()),
            KeyCode::Char('n') => self.next_match(true),
            KeyCode::Char('N') => self.next_match(false),
            _ => return PagerAction::None,
        }
        self.refresh();
        PagerAction::Redraw
    }

    /// Goes on with long work (a budget's worth). Returns whether the screen changed.
    pub fn tick(&mut self) -> bool {
        if self.work.is_none() {
            return false;
        }
        self.do_work();
        self.refresh();
        true
    }

    fn next_match(&mut self, forward: bool) {
        let Search::Active { current, .. } = &self.search else {
            self.message = Some("no search yet: / to search".to_owned());
            return;
        };
        let from = match (current, forward) {
            (Some(row), true) => row + 1,
            (Some(row), false) => match row.checked_sub(1) {
                Some(r) => r,
                None => {
                    self.start_search_wrapped_back();
                    return;
                }
            },
            (None, _) => self.top,
        };
        self.start_search(from, forward);
    }

    fn start_search(&mut self, from: u64, forward: bool) {
        self.work = Some(Work::Search {
            from,
            forward,
            wrapped: false,
        });
        self.do_work();
    }

    fn start_search_wrapped_back(&mut self) {
        self.work = Some(Work::End);
        self.do_work();
        let last = self.index.rows_known().saturating_sub(1);
        self.work = Some(Work::Search {
            from: last,
            forward: false,
            wrapped: true,
        });
        self.message = Some("search went round to the end".to_owned());
        self.do_work();
    }

    fn set_error(&mut self, e: &io::Error) {
        self.work = None;
        self.message = Some(format!("cannot read: {e}"));
    }

    /// One budget of the pending work.
    fn do_work(&mut self) {
        let Some(work) = self.work else {
            return;
        };
        match work {
            Work::End => match self.index.index_to(u64::MAX, WORK_BUDGET) {
                Ok(true) => {
                    self.work = None;
                    self.show_end();
                }
                Ok(false) => {
                    let pct = self.index.indexed_bytes() * 100 / self.index.len().max(1);
                    self.message = Some(format!("going to the end… {pct}%"));
                }
                Err(e) => self.set_error(&e),
            },
            Work::Search {
                from,
                forward,
                wrapped,
            } => {
                let Search::Active { query, .. } = &self.search else {
                    self.work = None;
                    return;
                };
                let query = query.clone();
                let found = if forward {
                    self.index.scan(from, WORK_BUDGET, |_, row| {
                        !find_all(&display(row), &query).is_empty()
                    })
                } else {
                    self.scan_back(from, &query)
                };
                match found {
                    Ok(Scan::Found(row)) => {
                        self.work = None;
                        if let Search::Active { current, .. } = &mut self.search {
                            *current = Some(row);
                        }
                        self.show_row(row);
                    }
                    Ok(Scan::Paused(row)) => {
                        self.work = Some(Work::Search {
                            from: row,
                            forward,
                            wrapped,
                        });
                        let pct = self.index.indexed_bytes() * 100 / self.index.len().max(1);
                        self.message = Some(format!("searching… {pct}%"));
                    }
                    Ok(Scan::End) if !wrapped => {
                        self.message = Some(if forward {
                            "search went round to the top".to_owned()
                        } else {
                            "search went round to the end".to_owned()
                        });
                        if forward {
                            self.work = Some(Work::Search {
                                from: 0,
                                forward,
                                wrapped: true,
                            });
                            self.do_work();
                        } else {
                            self.start_search_wrapped_back();
                        }
                    }
                    Ok(Scan::End) => {
                        self.work = None;
                        self.message =
                            Some(format!("not found: {}", crate::text::sanitize_line(&query)));
                    }
                    Err(e) => self.set_error(&e),
                }
            }
        }
    }

    /// The last match at or before row `from`, a checkpoint block at a time, within the budget.
    fn scan_back(&mut self, from: u64, query: &str) -> io::Result<Scan> {
        let first_read = self.index.bytes_read();
        let mut block = from / CHECKPOINT_ROWS * CHECKPOINT_ROWS;
        loop {
            let mut last = None;
            self.index.scan(block, u64::MAX, |row, r| {
                if row > from {
                    return true;
                }
                if !find_all(&display(r), query).is_empty() {
                    last = Some(row);
                }
                row == from
            })?;
            if let Some(row) = last {
                return Ok(Scan::Found(row));
            }
            let Some(prev) = block.checked_sub(CHECKPOINT_ROWS) else {
                return Ok(Scan::End);
            };
            if self.index.bytes_read() - first_read >= WORK_BUDGET {
                return Ok(Scan::Paused(block - 1));
            }
            block = prev;
        }
    }

    /// Puts `row` on screen (a third of the way down when it was not).
    fn show_row(&mut self, row: u64) {
        let height = u64::from(self.height.max(1));
        let in_view = row >= self.top && row < self.top + height && self.top_sub == 0;
        if !in_view {
            self.top = row.saturating_sub(height / 3);
            self.top_sub = 0;
        }
    }

    /// The last screenful (the whole text is indexed).
    fn show_end(&mut self) {
        let total = self.index.rows_known();
        let height = usize::from(self.height.max(1));
        if !self.wrap {
            self.top = total.saturating_sub(height as u64);
            self.top_sub = 0;
            return;
        }
        // Walk back from the last row until the screen is full.
        let from = total.saturating_sub(height as u64);
        let rows = self.index.rows(from, height).unwrap_or_default();
        let width = self.text_width();
        let mut used = 0;
        for (i, row) in rows.iter().enumerate().rev() {
            let n = wrap_ranges(&display(row), width).len();
            if used + n > height {
                self.top = from + i as u64;
                self.top_sub = used + n - height;
                return;
            }
            used += n;
        }
        self.top = from;
        self.top_sub = 0;
    }

    fn down(&mut self, n: usize) {
        self.work = None;
        let height = usize::from(self.height.max(1));
        if !self.wrap {
            let _ = self
                .index
                .index_to(self.top + (n + height) as u64, u64::MAX);
            let last_top = self.index.rows_known().saturating_sub(height as u64);
            self.top = (self.top + n as u64).min(last_top.max(self.top));
            return;
        }
        let width = self.text_width();
        let base = self.top;
        let rows = self.index.rows(base, n + height + 1).unwrap_or_default();
        let wraps: Vec<usize> = rows
            .iter()
            .map(|r| wrap_ranges(&display(r), width).len())
            .collect();
        // Screen lines below the top, to keep the last screen full.
        let mut below: usize = wraps.iter().sum::<usize>() - self.top_sub;
        for _ in 0..n {
            if below <= height {
                break;
            }
            let i = usize::try_from(self.top - base).unwrap_or(0);
            if self.top_sub + 1 < wraps.get(i).copied().unwrap_or(1) {
                self.top_sub += 1;
            } else {
                self.top += 1;
                self.top_sub = 0;
            }
            below -= 1;
        }
    }

    fn up(&mut self, n: usize) {
        self.work = None;
        if !self.wrap {
            self.top = self.top.saturating_sub(n as u64);
            return;
        }
        let width = self.text_width();
        let from = self.top.saturating_sub(n as u64);
        let rows = self
            .index
            .rows(from, usize::try_from(self.top - from).unwrap_or(0))
            .unwrap_or_default();
        for _ in 0..n {
            if self.top_sub > 0 {
                self.top_sub -= 1;
            } else if self.top > from {
                self.top -= 1;
                let i = usize::try_from(self.top - from).unwrap_or(0);
                let wraps = rows
                    .get(i)
                    .map_or(1, |r| wrap_ranges(&display(r), width).len());
                self.top_sub = wraps - 1;
            } else {
                break;
            }
        }
    }

    /// Prepares the screen lines for the current position.
    fn refresh(&mut self) {
        let height = usize::from(self.height);
        let width = self.text_width();
        let start = self
            .colours
            .as_ref()
            .map_or(self.top, |c| c.resume_row(self.top));
        let ahead = usize::try_from(self.top - start).unwrap_or(0);
        let rows = match self.index.rows(start, ahead + height) {
            Ok(rows) => rows,
            Err(e) => {
                self.set_error(&e);
                Vec::new()
            }
        };
        let texts: Vec<String> = rows.iter().map(display).collect();
        let mut colours = match &mut self.colours {
            Some(c) => {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                c.colour(start, &refs)
            }
            None => vec![Vec::new(); texts.len()],
        };
        let (query, current) = match &self.search {
            Search::Active { query, current } => (Some(query.as_str()), *current),
            _ => (None, None),
        };
        self.lines.clear();
        for (i, (row, text)) in rows.iter().zip(&texts).enumerate().skip(ahead) {
            let row_no = start + i as u64;
            let spans = std::mem::take(&mut colours[i]);
            let matches = query.map(|q| find_all(text, q)).unwrap_or_default();
            let pieces = if self.wrap {
                wrap_ranges(text, width)
            } else {
                vec![column_range(text, self.left, width)]
            };
            let skip = if row_no == self.top { self.top_sub } else { 0 };
            for (j, piece) in pieces.into_iter().enumerate().skip(skip) {
                if self.lines.len() >= height {
                    return;
                }
                self.lines.push(ScreenLine {
                    number: (j == 0 && !row.continued).then_some(row.line),
                    text: text[piece.clone()].to_owned(),
                    spans: clip(&spans, &piece),
                    matches: clip_ranges(&matches, &piece),
                    current: current == Some(row_no),
                });
            }
        }
    }
}

/// A row as drawn: no trailing CR, tabs expanded, controls as pictures.
fn display(row: &Row) -> String {
    let text = row.text.strip_suffix('\r').unwrap_or(&row.text);
    sanitize_verbatim(text, TAB).into_owned()
}

/// Byte ranges of every occurrence of `query` in `text`; ASCII case is ignored unless the
/// query has a capital letter (as in `less -i`/vim's smartcase).
pub fn find_all(text: &str, query: &str) -> Vec<Range<usize>> {
    if query.is_empty() || query.len() > text.len() {
        return Vec::new();
    }
    let fold = !query.chars().any(|c| c.is_uppercase());
    let (hay, needle) = if fold {
        (text.to_ascii_lowercase(), query.to_ascii_lowercase())
    } else {
        (text.to_owned(), query.to_owned())
    };
    hay.match_indices(&needle)
        .map(|(i, m)| i..i + m.len())
        .collect()
}

/// Byte ranges of `text` cut into pieces at most `width` cells wide (by grapheme).
pub fn wrap_ranges(text: &str, width: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, g) in text.grapheme_indices(true) {
        let w = display_width(g);
        if used + w > width && used > 0 {
            out.push(start..i);
            start = i;
            used = 0;
        }
        used += w;
    }
    out.push(start..text.len());
    out
}

/// The byte range of `text` showing columns `left .. left + width`.
fn column_range(text: &str, left: usize, width: usize) -> Range<usize> {
    let (mut col, mut start, mut end) = (0, None, text.len());
    for (i, g) in text.grapheme_indices(true) {
        if col >= left && start.is_none() {
            start = Some(i);
        }
        let w = display_width(g);
        if col + w > left + width {
            end = i;
            break;
        }
        col += w;
    }
    let start = start.unwrap_or(text.len());
    start..end.max(start)
}

/// Spans within `piece`, shifted to start at its start.
fn clip(spans: &[Span], piece: &Range<usize>) -> Vec<Span> {
    spans
        .iter()
        .filter_map(|(r, c)| {
            let s = r.start.max(piece.start);
            let e = r.end.min(piece.end);
            (s < e).then(|| (s - piece.start..e - piece.start, *c))
        })
        .collect()
}

fn clip_ranges(ranges: &[Range<usize>], piece: &Range<usize>) -> Vec<Range<usize>> {
    ranges
        .iter()
        .filter_map(|r| {
            let s = r.start.max(piece.start);
            let e = r.end.min(piece.end);
            (s < e).then(|| s - piece.start..e - piece.start)
        })
        .collect()
}

#[cfg(test)]
mod tests;
