//! The message pane's contents and scroll position. Entries are kept (up to the scrollback cap)
//! with their wrapped rows cached for the current width; the view is found by walking up from a
//! scroll anchor, so the cost of drawing depends on the pane's height, not on the history length.

use std::borrow::Cow;
use std::collections::VecDeque;

use chrono::{DateTime, Local, NaiveDate};
use ratatui::style::Style;

use super::{LinkTarget, Palette, Piece, Row, Segment, SegmentKind, styles, wrap};
use crate::client::links;
use crate::text::display_width;

/// What a pane entry says. Every string here is already sanitised (see `text::sanitize_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A room message (or a `/me` action when `action`).
    Chat {
        name: String,
        color: String,
        text: String,
        action: bool,
        /// The text names you: highlighted.
        mention: bool,
    },
    /// A private message, sent (`outgoing`) or received.
    Dm {
        from: String,
        to: String,
        color: String,
        text: String,
        outgoing: bool,
    },
    /// A line from the server (joins, leaves…): dimmed.
    System(String),
    /// A local notice (help, stats, connection state).
    Info(String),
    /// A local error (unknown command, refused message…).
    Error(String),
    /// A boundary: server switch, room switch.
    Separator(String),
    /// Where messages of the room are missing from the pane: more were missed during an
    /// outage than the scrollback holds, or the server no longer has them.
    Gap { missed: u64 },
    /// The greeting drawn as is: no timestamp, no indent.
    Banner(String),
    /// Your own message not yet confirmed by the server.
    Pending {
        name: String,
        color: String,
        text: String,
        /// "" for a room message, "me" for an action, else "→ NAME" for a DM.
        label: String,
    },
}

impl EntryKind {
    /// The free text of the entry, where links are looked for.
    fn body(&self) -> &str {
        match self {
            EntryKind::Chat { text, .. }
            | EntryKind::Dm { text, .. }
            | EntryKind::Pending { text, .. }
            | EntryKind::System(text)
            | EntryKind::Info(text)
            | EntryKind::Error(text) => text,
            EntryKind::Separator(_) | EntryKind::Gap { .. } | EntryKind::Banner(_) => "",
        }
    }

    /// Whether this entry counts as a message for unread counts.
    pub fn is_message(&self) -> bool {
        matches!(self, EntryKind::Chat { .. } | EntryKind::Dm { .. })
    }
}

/// A link found in an entry's body: its byte range there and its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryLink {
    pub start: usize,
    pub end: usize,
    pub target: LinkTarget,
}

#[derive(Debug, Clone, Default)]
struct WrapCache {
    width: u16,
    generation: u32,
    rows: Vec<Row>,
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// Position in the pane; consecutive, never reused.
    pub seq: u64,
    /// When it was said (Unix ms): the server's `ts`, else the time it arrived.
    pub ts: i64,
    pub kind: EntryKind,
    pub links: Vec<EntryLink>,
    /// The day this entry opens, when it is the first one of a new day.
    pub day: Option<NaiveDate>,
    cache: WrapCache,
}

/// How entries are turned into rows; a change re-wraps everything lazily.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutOptions {
    pub timestamps: bool,
    pub palette: Palette,
}

/// Where the view is when scrolled up: the bottom visible row is `hidden` rows above the
/// last row of entry `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Anchor {
    seq: u64,
    hidden: usize,
}

/// One row of the visible pane, top to bottom.
#[derive(Debug, Clone)]
pub enum ViewRow<'a> {
    Line {
        row: Cow<'a, Row>,
        seq: u64,
    },
    /// The unread ruler: new messages begin below it.
    Ruler,
}

/// The rows to draw, top to bottom; fewer than the height when the history is short (the
/// renderer aligns them to the bottom of the pane, and the hit-tester does the same).
#[derive(Debug, Clone, Default)]
pub struct View<'a> {
    pub rows: Vec<ViewRow<'a>>,
}

impl View<'_> {
    /// The row drawn at `y` (0 = the pane's top row) of a pane `height` rows tall.
    pub fn row_at(&self, y: u16, height: u16) -> Option<&ViewRow<'_>> {
        let top = height.saturating_sub(self.rows.len() as u16);
        let i = y.checked_sub(top)? as usize;
        self.rows.get(i)
    }

    /// The link under pane-relative cell (x, y), if any.
    pub fn link_at(&self, x: u16, y: u16, height: u16) -> Option<&LinkTarget> {
        match self.row_at(y, height)? {
            ViewRow::Line { row, .. } => match &row.segment_at(x)?.kind {
                SegmentKind::Link(target) => Some(target),
                SegmentKind::Text => None,
            },
            ViewRow::Ruler => None,
        }
    }

    /// Each link visible, once, top to bottom, with the pane-relative cell where it first shows.
    pub fn links(&self, height: u16) -> Vec<(LinkTarget, u16, u16)> {
        let top = height.saturating_sub(self.rows.len() as u16);
        let mut seen = Vec::<(LinkTarget, u16, u16)>::new();
        for (i, row) in self.rows.iter().enumerate() {
            let ViewRow::Line { row, .. } = row else {
                continue;
            };
            for (x, seg) in row.positioned() {
                if let SegmentKind::Link(t) = &seg.kind
                    && !seen.iter().any(|(s, _, _)| s.id == t.id)
                {
                    seen.push((t.clone(), x, top + i as u16));
                }
            }
        }
        seen
    }
}

#[derive(Debug, Clone)]
pub struct Pane {
    entries: VecDeque<Entry>,
    /// Your unconfirmed messages, always drawn below the entries.
    pending: Vec<Entry>,
    next_seq: u64,
    next_link: u64,
    cap: usize,
    width: u16,
    options: LayoutOptions,
    generation: u32,
    /// `None` follows the newest row.
    anchor: Option<Anchor>,
    /// The first entry that arrived unseen: the unread ruler is drawn above it.
    ruler: Option<u64>,
    last_day: Option<NaiveDate>,
}

/// Local wall-clock time of a Unix-ms timestamp.
pub fn local_time(ts: i64) -> DateTime<Local> {
    DateTime::from_timestamp_millis(ts)
        .unwrap_or_default()
        .with_timezone(&Local)
}

impl Pane {
    pub fn new(cap: usize, options: LayoutOptions) -> Pane {
        Pane {
            entries: VecDeque::new(),
            pending: Vec::new(),
            next_seq: 1,
            next_link: 1,
            cap: cap.max(1),
            width: 80,
            options,
            generation: 0,
            anchor: None,
            ruler: None,
            last_day: None,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn pending(&self) -> &[Entry] {
        &self.pending
    }

    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn options(&self) -> LayoutOptions {
        self.options
    }

    pub fn set_width(&mut self, width: u16) {
        self.width = width.max(1);
    }

    pub fn set_options(&mut self, options: LayoutOptions) {
        if options != self.options {
            self.options = options;
            self.generation = self.generation.wrapping_add(1);
        }
    }

    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap.max(1);
        while self.entries.len() > self.cap {
            self.evict_front();
        }
    }

    fn make_entry(&mut self, seq: u64, ts: i64, kind: EntryKind) -> Entry {
        let links = links::find(kind.body())
            .into_iter()
            .map(|l| {
                let id = self.next_link;
                self.next_link += 1;
                EntryLink {
                    start: l.start,
                    end: l.end,
                    target: LinkTarget {
                        url: l.url.into(),
                        id,
                    },
                }
            })
            .collect();
        Entry {
            seq,
            ts,
            kind,
            links,
            day: None,
            cache: WrapCache::default(),
        }
    }

    /// Adds an entry at the bottom; returns its seq. The oldest entry goes when over the cap.
    pub fn push(&mut self, ts: i64, kind: EntryKind) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut entry = self.make_entry(seq, ts, kind);
        if !matches!(
            entry.kind,
            EntryKind::Separator(_) | EntryKind::Gap { .. } | EntryKind::Banner(_)
        ) {
            let day = local_time(ts).date_naive();
            if self.last_day != Some(day) {
                entry.day = Some(day);
                self.last_day = Some(day);
            }
        }
        self.entries.push_back(entry);
        while self.entries.len() > self.cap {
            self.evict_front();
        }
        seq
    }

    fn evict_front(&mut self) {
        let Some(gone) = self.entries.pop_front() else {
            return;
        };
        if self.ruler == Some(gone.seq) {
            self.ruler = self.entries.front().map(|e| e.seq);
        }
        if let Some(a) = self.anchor
            && a.seq <= gone.seq
        {
            match self.entries.front() {
                Some(front) => {
                    self.anchor = Some(Anchor {
                        seq: front.seq,
                        hidden: 0,
                    })
                }
                None => self.anchor = None,
            }
        }
    }

    /// Replaces the pending (unconfirmed) entries drawn under the history.
    pub fn set_pending(&mut self, items: Vec<(i64, EntryKind)>) {
        let same = items.len() == self.pending.len()
            && items
                .iter()
                .zip(&self.pending)
                .all(|((ts, k), e)| *ts == e.ts && *k == e.kind);
        if same {
            return;
        }
        self.pending = items
            .into_iter()
            .enumerate()
            .map(|(i, (ts, kind))| self.make_entry(u64::MAX - i as u64, ts, kind))
            .collect();
    }

    /// Empties the pane (`/clear`).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.anchor = None;
        self.ruler = None;
        self.last_day = None;
    }

    pub fn ruler(&self) -> Option<u64> {
        self.ruler
    }

    pub fn set_ruler(&mut self, seq: Option<u64>) {
        self.ruler = seq;
    }

    /// True when the view follows the newest row.
    pub fn is_following(&self) -> bool {
        self.anchor.is_none()
    }

    fn index_of(&self, seq: u64) -> Option<usize> {
        let front = self.entries.front()?.seq;
        let i = seq.checked_sub(front)? as usize;
        (i < self.entries.len()).then_some(i)
    }

    fn is_fresh(&self, cache: &WrapCache) -> bool {
        cache.width == self.width && cache.generation == self.generation && !cache.rows.is_empty()
    }

    fn ensure(&mut self, i: usize) -> usize {
        let fresh = self.is_fresh(&self.entries[i].cache);
        if !fresh {
            let rows = layout_entry(&self.entries[i], self.width, self.options);
            self.entries[i].cache = WrapCache {
                width: self.width,
                generation: self.generation,
                rows,
            };
        }
        self.entries[i].cache.rows.len()
    }

    fn rows_of<'a>(&self, e: &'a Entry) -> Cow<'a, [Row]> {
        if self.is_fresh(&e.cache) {
            Cow::Borrowed(&e.cache.rows)
        } else {
            Cow::Owned(layout_entry(e, self.width, self.options))
        }
    }

    /// Wraps what the view of a pane `height` rows tall will show, so that drawing finds every
    /// row in the cache. Called after every change, before drawing.
    pub fn prepare(&mut self, height: u16) {
        for i in 0..self.pending.len() {
            if !self.is_fresh(&self.pending[i].cache) {
                let rows = layout_entry(&self.pending[i], self.width, self.options);
                self.pending[i].cache = WrapCache {
                    width: self.width,
                    generation: self.generation,
                    rows,
                };
            }
        }
        if self.entries.is_empty() {
            return;
        }
        let (mut i, mut hidden) = match self.anchor {
            Some(a) => match self.index_of(a.seq) {
                Some(i) => (i, a.hidden),
                None => (self.entries.len() - 1, 0),
            },
            None => (self.entries.len() - 1, 0),
        };
        // Keep the anchor inside its entry after a re-wrap made it shorter.
        let n = self.ensure(i);
        if hidden >= n {
            hidden = n - 1;
            if let Some(a) = &mut self.anchor {
                a.hidden = hidden;
            }
        }
        let mut shown = n - hidden;
        while shown < height as usize && i > 0 {
            i -= 1;
            shown += self.ensure(i);
        }
    }

    /// The rows a pane `height` rows tall shows now.
    pub fn view(&self, height: u16) -> View<'_> {
        let height = height as usize;
        let mut out: Vec<ViewRow<'_>> = Vec::with_capacity(height);
        let (start, mut skip) = match self.anchor {
            None => {
                for e in self.pending.iter().rev() {
                    let rows = self.rows_of(e);
                    push_rows_rev(&mut out, rows, e.seq, 0, height);
                    if out.len() >= height {
                        break;
                    }
                }
                (self.entries.len(), 0)
            }
            Some(a) => match self.index_of(a.seq) {
                Some(i) => (i + 1, a.hidden),
                None => (self.entries.len(), 0),
            },
        };
        for e in self.entries.range(..start).rev() {
            if out.len() >= height {
                break;
            }
            let rows = self.rows_of(e);
            let n = rows.len();
            push_rows_rev(&mut out, rows, e.seq, skip, height);
            skip = skip.saturating_sub(n);
            if self.ruler == Some(e.seq) && out.len() < height && skip == 0 {
                out.push(ViewRow::Ruler);
            }
        }
        out.reverse();
        View { rows: out }
    }

    /// Scrolls towards older rows by `n` rows; stops with the oldest row at the top.
    pub fn scroll_up(&mut self, n: usize, height: u16) {
        if self.entries.is_empty() {
            return;
        }
        let (mut i, mut hidden, mut left) = match self
            .anchor
            .and_then(|a| Some((self.index_of(a.seq)?, a.hidden)))
        {
            Some((i, hidden)) => (i, hidden, n),
            None => {
                // From the newest row: first climb over the pending rows.
                let pending: usize = self.pending.iter().map(|e| e.cache.rows.len()).sum();
                (self.entries.len() - 1, 0, n.saturating_sub(pending))
            }
        };
        loop {
            let rows = self.ensure(i);
            if hidden + left < rows {
                hidden += left;
                break;
            }
            if i == 0 {
                hidden = rows - 1;
                break;
            }
            left -= rows - hidden;
            i -= 1;
            hidden = 0;
        }
        self.anchor = Some(Anchor {
            seq: self.entries[i].seq,
            hidden,
        });
        self.clamp_top(height);
    }

    /// Scrolls towards newer rows by `n` rows; reaching the newest row follows again.
    pub fn scroll_down(&mut self, n: usize, _height: u16) {
        let Some(a) = self.anchor else {
            return;
        };
        let Some(mut i) = self.index_of(a.seq) else {
            self.anchor = None;
            return;
        };
        let mut hidden = a.hidden;
        let mut left = n;
        loop {
            if left <= hidden {
                hidden -= left;
                break;
            }
            left -= hidden + 1;
            i += 1;
            if i >= self.entries.len() {
                self.anchor = None;
                return;
            }
            let rows = self.ensure(i);
            hidden = rows - 1;
        }
        if i == self.entries.len() - 1 && hidden == 0 {
            self.anchor = None;
        } else {
            self.anchor = Some(Anchor {
                seq: self.entries[i].seq,
                hidden,
            });
        }
    }

    /// Home: the oldest rows.
    pub fn scroll_to_top(&mut self, height: u16) {
        if self.entries.is_empty() {
            return;
        }
        let rows = self.ensure(0);
        self.anchor = Some(Anchor {
            seq: self.entries[0].seq,
            hidden: rows - 1,
        });
        self.clamp_top(height);
    }

    /// End: follow the newest rows again.
    pub fn scroll_to_bottom(&mut self) {
        self.anchor = None;
    }

    /// When the view would show blank space above the oldest row, moves the anchor down so
    /// that the oldest row is at the top; follows when everything fits.
    fn clamp_top(&mut self, height: u16) {
        let Some(a) = self.anchor else {
            return;
        };
        let Some(i) = self.index_of(a.seq) else {
            return;
        };
        let height = height.max(1) as usize;
        let mut shown = self.ensure(i) - a.hidden;
        let mut j = i;
        while j > 0 && shown < height {
            j -= 1;
            shown += self.ensure(j);
        }
        if shown >= height {
            return;
        }
        // Everything above the anchor fits: put the first `height` rows on screen.
        let mut need = height;
        for k in 0..self.entries.len() {
            let rows = self.ensure(k);
            if rows >= need {
                self.anchor = Some(Anchor {
                    seq: self.entries[k].seq,
                    hidden: rows - need,
                });
                if k == self.entries.len() - 1 && rows == need {
                    self.anchor = None;
                }
                return;
            }
            need -= rows;
        }
        self.anchor = None;
    }

    /// Seq of the entry whose row is at the bottom of the view (the newest one seen).
    pub fn bottom_seq(&self) -> Option<u64> {
        match self.anchor {
            Some(a) => Some(a.seq),
            None => self.entries.back().map(|e| e.seq),
        }
    }

    /// Entries newer than the bottom of the view that are messages ("N new messages").
    pub fn messages_below(&self) -> usize {
        let Some(a) = self.anchor else {
            return 0;
        };
        let Some(i) = self.index_of(a.seq) else {
            return 0;
        };
        self.entries
            .range(i + 1..)
            .filter(|e| e.kind.is_message())
            .count()
    }

    /// Links from the newest backwards (for `/open N`).
    pub fn links_newest_first(&self) -> impl Iterator<Item = &LinkTarget> {
        self.entries
            .iter()
            .rev()
            .flat_map(|e| e.links.iter().rev().map(|l| &l.target))
    }
}

fn push_rows_rev<'a>(
    out: &mut Vec<ViewRow<'a>>,
    rows: Cow<'a, [Row]>,
    seq: u64,
    skip: usize,
    height: usize,
) {
    let n = rows.len();
    if skip >= n {
        return;
    }
    match rows {
        Cow::Borrowed(rows) => {
            for row in rows[..n - skip].iter().rev() {
                if out.len() >= height {
                    return;
                }
                out.push(ViewRow::Line {
                    row: Cow::Borrowed(row),
                    seq,
                });
            }
        }
        Cow::Owned(rows) => {
            for row in rows.into_iter().take(n - skip).rev() {
                if out.len() >= height {
                    return;
                }
                out.push(ViewRow::Line {
                    row: Cow::Owned(row),
                    seq,
                });
            }
        }
    }
}

/// Columns continuation rows are indented by (under the text after the timestamp).
fn continuation_indent(options: LayoutOptions) -> u16 {
    if options.timestamps { 8 } else { 2 }
}

/// Splits `body` into pieces in `style`, with link ranges as link pieces.
fn body_pieces<'a>(body: &'a str, links: &[EntryLink], style: Style, out: &mut Vec<Piece<'a>>) {
    let mut at = 0;
    for l in links {
        if l.start > at {
            out.push(Piece::new(&body[at..l.start], style));
        }
        out.push(Piece {
            text: &body[l.start..l.end],
            style: style.patch(styles::LINK),
            kind: SegmentKind::Link(l.target.clone()),
        });
        at = l.end;
    }
    if at < body.len() {
        out.push(Piece::new(&body[at..], style));
    }
}

/// Wraps one entry into rows: the day separator first when it opens a day, then the text.
pub fn layout_entry(entry: &Entry, width: u16, options: LayoutOptions) -> Vec<Row> {
    let palette = options.palette;
    let time;
    let mut pieces: Vec<Piece<'_>> = Vec::with_capacity(8);
    if let EntryKind::Banner(text) = &entry.kind {
        return text
            .lines()
            .map(|line| {
                let line = crate::text::truncate_to_width(line, width as usize);
                Row {
                    indent: 0,
                    segments: vec![Segment {
                        text: line.to_string(),
                        style: styles::BANNER,
                        kind: SegmentKind::Text,
                        width: display_width(line) as u16,
                    }],
                }
            })
            .collect();
    }
    if options.timestamps && !matches!(entry.kind, EntryKind::Separator(_) | EntryKind::Gap { .. })
    {
        time = local_time(entry.ts).format("[%H:%M] ").to_string();
        pieces.push(Piece::new(&time, styles::TIME));
    }
    let pending_label;
    match &entry.kind {
        EntryKind::Chat {
            name,
            color,
            text,
            action,
            mention,
        } => {
            let name_style = palette.name_style(color);
            let mut body_style = if *mention {
                styles::MENTION
            } else {
                Style::new()
            };
            if *action {
                body_style = body_style.patch(styles::ACTION);
                pieces.push(Piece::new("* ", name_style));
                pieces.push(Piece::new(name, name_style));
                pieces.push(Piece::new(" ", body_style));
            } else {
                pieces.push(Piece::new(name, name_style));
                pieces.push(Piece::new(": ", Style::new()));
            }
            body_pieces(text, &entry.links, body_style, &mut pieces);
        }
        EntryKind::Dm {
            from,
            to,
            color,
            text,
            outgoing,
        } => {
            pieces.push(Piece::new("[", styles::DM_LABEL));
            if *outgoing {
                pieces.push(Piece::new("you → ", styles::DM_LABEL));
                pieces.push(Piece::new(to, styles::DM_LABEL));
            } else {
                pieces.push(Piece::new(from, palette.name_style(color)));
                pieces.push(Piece::new(" → you", styles::DM_LABEL));
            }
            pieces.push(Piece::new("] ", styles::DM_LABEL));
            body_pieces(text, &entry.links, styles::DM, &mut pieces);
        }
        EntryKind::System(text) => {
            pieces.push(Piece::new("-- ", styles::SYSTEM));
            body_pieces(text, &entry.links, styles::SYSTEM, &mut pieces);
        }
        EntryKind::Info(text) if text.contains('\n') => {
            let mut rows = Vec::new();
            if let Some(day) = entry.day {
                rows.push(day_row(day, width));
            }
            rows.extend(table_rows(
                pieces,
                text,
                &entry.links,
                width,
                continuation_indent(options),
            ));
            return rows;
        }
        EntryKind::Info(text) => body_pieces(text, &entry.links, styles::INFO, &mut pieces),
        EntryKind::Error(text) => {
            pieces.push(Piece::new("! ", styles::ERROR));
            body_pieces(text, &entry.links, styles::ERROR, &mut pieces);
        }
        EntryKind::Separator(text) => {
            return vec![centered(text, width, styles::SEPARATOR)];
        }
        EntryKind::Gap { missed } => {
            let text = match missed {
                1 => "1 message not shown".to_string(),
                n => format!("{n} messages not shown"),
            };
            return vec![centered(&text, width, styles::GAP)];
        }
        // Drawn line by line above.
        EntryKind::Banner(_) => {}
        EntryKind::Pending {
            name,
            color,
            text,
            label,
        } => {
            let name_style = palette.name_style(color);
            if label == "me" {
                pieces.push(Piece::new("* ", name_style));
                pieces.push(Piece::new(name, name_style));
                pieces.push(Piece::new(" ", styles::PENDING));
            } else if label.is_empty() {
                pieces.push(Piece::new(name, name_style));
                pieces.push(Piece::new(": ", styles::PENDING));
            } else {
                pending_label = format!("[you {label}] ");
                pieces.push(Piece::new(&pending_label, styles::DM_LABEL));
            }
            body_pieces(text, &entry.links, styles::PENDING, &mut pieces);
            pieces.push(Piece::new(" (pending)", styles::PENDING));
        }
    }
    let mut rows = Vec::new();
    if let Some(day) = entry.day {
        rows.push(day_row(day, width));
    }
    rows.extend(wrap(&pieces, width, continuation_indent(options)));
    rows
}

fn day_row(day: NaiveDate, width: u16) -> Row {
    let label = day.format("%A, %-d %B %Y").to_string();
    centered(&label, width, styles::DAY)
}

/// The client's own multi-line text (`/help`, `/stats`), after `prefix` (the timestamp): each
/// line wrapped by itself, and a line laid out in two columns (`  /join ROOM    switch …`)
/// continues under its second column rather than at the left edge.
fn table_rows(
    prefix: Vec<Piece<'_>>,
    text: &str,
    links: &[EntryLink],
    width: u16,
    indent: u16,
) -> Vec<Row> {
    let prefix_width: usize = prefix.iter().map(|p| display_width(p.text)).sum();
    // Hard lines after the first start at the continuation indent, as they would in `wrap`.
    let pad = " ".repeat(usize::from(indent));
    let mut rows = Vec::new();
    let mut pieces = prefix;
    let mut start = 0;
    for line in text.split('\n') {
        let end = start + line.len();
        let text_column = if start == 0 {
            u16::try_from(prefix_width).unwrap_or(u16::MAX)
        } else {
            pieces.push(Piece::new(&pad, Style::new()));
            indent
        };
        let line_links: Vec<EntryLink> = links
            .iter()
            .filter(|l| l.start >= start && l.end <= end)
            .map(|l| EntryLink {
                start: l.start - start,
                end: l.end - start,
                target: l.target.clone(),
            })
            .collect();
        body_pieces(line, &line_links, styles::INFO, &mut pieces);
        let hang = second_column(line)
            .map(|col| text_column.saturating_add(col))
            .filter(|&col| col <= width / 2)
            .unwrap_or(indent);
        rows.extend(wrap(&pieces, width, hang));
        pieces.clear();
        start = end + 1;
    }
    rows
}

/// The display column where a line's second column starts: after its leading spaces, the first
/// run of two or more spaces ends there. `None` for a line that is not laid out in columns.
fn second_column(line: &str) -> Option<u16> {
    let body = line.trim_start_matches(' ');
    let lead = line.len() - body.len();
    let gap = body.find("  ")?;
    let after = body[gap..].trim_start_matches(' ');
    if after.is_empty() {
        return None;
    }
    let col = lead + gap + (body.len() - gap - after.len());
    u16::try_from(display_width(&line[..col])).ok()
}

/// A one-row rule with `label` in the middle: `──── label ────`.
fn centered(label: &str, width: u16, style: Style) -> Row {
    let label = crate::text::truncate_to_width(label, (width as usize).saturating_sub(2));
    let inner = display_width(label) + 2;
    let total = width as usize;
    let left = total.saturating_sub(inner) / 2;
    let right = total.saturating_sub(inner + left);
    let text = format!("{} {label} {}", "─".repeat(left), "─".repeat(right));
    let text = crate::text::truncate_to_width(&text, total).to_string();
    Row {
        indent: 0,
        segments: vec![Segment {
            width: display_width(&text) as u16,
            text,
            style,
            kind: SegmentKind::Text,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: LayoutOptions = LayoutOptions {
        timestamps: false,
        palette: Palette { truecolor: true },
    };

    fn chat(name: &str, text: &str) -> EntryKind {
        EntryKind::Chat {
            name: name.into(),
            color: "2".into(),
            text: text.into(),
            action: false,
            mention: false,
        }
    }

    /// A pane of `n` one-row messages (all on one day, so only the first has a day row).
    fn pane_with(n: usize, width: u16) -> Pane {
        let mut p = Pane::new(10_000, OPTS);
        p.set_width(width);
        for i in 0..n {
            p.push(1_700_000_000_000, chat("a", &format!("m{i}")));
        }
        p
    }

    fn view_texts(p: &Pane, height: u16) -> Vec<String> {
        p.view(height)
            .rows
            .iter()
            .map(|r| match r {
                ViewRow::Line { row, .. } => {
                    let t = row.text();
                    if t.trim().is_empty() {
                        String::new()
                    } else {
                        t.trim_end().to_string()
                    }
                }
                ViewRow::Ruler => "RULER".into(),
            })
            .collect()
    }

    #[test]
    fn multi_line_info_in_two_columns_wraps_under_its_second_column() {
        let opts = LayoutOptions {
            timestamps: true,
            ..OPTS
        };
        let text = "Commands:\n  /join ROOM    switch to another room, created on demand when \
                    nobody is in it\nplain words that run on past the edge of the pane, twice";
        let mut p = Pane::new(100, opts);
        p.set_width(50);
        p.push(1_700_000_000_000, EntryKind::Info(text.into()));
        let rows: Vec<String> = view_texts(&p, 10)
            .into_iter()
            .filter(|r| !r.starts_with('─'))
            .collect();
        assert!(rows[0].ends_with("] Commands:"), "{rows:?}");
        assert_eq!(
            rows[1..].to_vec(),
            [
                "          /join ROOM    switch to another room,",
                "                        created on demand when",
                "                        nobody is in it",
                "        plain words that run on past the edge of",
                "        the pane, twice",
            ],
            "the description hangs under itself; other lines under the text"
        );
        for row in &rows {
            assert!(display_width(row) <= 50, "{row:?} fits the pane");
        }
        // Too narrow for the second column to hang: under the text, as any wrapped line.
        p.set_width(40);
        let rows = view_texts(&p, 20);
        let at = rows.iter().position(|r| r.contains("/join")).unwrap();
        assert!(rows[at + 1].starts_with("        ") && !rows[at + 1].starts_with("         "));
    }

    #[test]
    fn a_gap_is_a_centred_row_without_time_or_day() {
        let opts = LayoutOptions {
            timestamps: true,
            ..OPTS
        };
        let mut p = Pane::new(100, opts);
        p.set_width(40);
        p.push(1_700_000_000_000, EntryKind::Gap { missed: 45 });
        p.push(1_700_000_000_000, EntryKind::Gap { missed: 1 });
        p.prepare(10);
        let rows = view_texts(&p, 10);
        assert_eq!(
            rows,
            [
                "──────── 45 messages not shown ─────────",
                "───────── 1 message not shown ──────────",
            ]
        );
        let view = p.view(10);
        let ViewRow::Line { row, .. } = &view.rows[0] else {
            panic!()
        };
        assert_eq!(row.segments[0].style, styles::GAP);
    }

    #[test]
    fn second_columns_are_found_only_after_a_double_space() {
        assert_eq!(second_column("  /who        list"), Some(14));
        assert_eq!(second_column("  Ctrl-W Alt-D  delete"), Some(16));
        assert_eq!(second_column("Commands:"), None);
        assert_eq!(second_column("one two three"), None);
        assert_eq!(second_column("  trailing   "), None);
        assert_eq!(
            second_column("  日本  語"),
            Some(8),
            "display columns, not bytes"
        );
    }

    #[test]
    fn view_shows_the_newest_rows_when_following() {
        let mut p = pane_with(10, 20);
        p.prepare(3);
        assert_eq!(view_texts(&p, 3), ["a: m7", "a: m8", "a: m9"]);
    }

    #[test]
    fn short_history_shows_the_day_row_and_everything() {
        let mut p = pane_with(2, 40);
        p.prepare(10);
        let texts = view_texts(&p, 10);
        assert_eq!(texts.len(), 3);
        assert!(
            texts[0].starts_with('─') && texts[0].contains("2023"),
            "{texts:?}"
        );
    }

    #[test]
    fn scrolling_moves_by_rows_and_back_to_following() {
        let mut p = pane_with(10, 20);
        p.prepare(3);
        p.scroll_up(2, 3);
        assert_eq!(view_texts(&p, 3), ["a: m5", "a: m6", "a: m7"]);
        assert!(!p.is_following());
        assert_eq!(p.messages_below(), 2);
        p.scroll_down(1, 3);
        assert_eq!(view_texts(&p, 3), ["a: m6", "a: m7", "a: m8"]);
        p.scroll_down(5, 3);
        assert!(p.is_following());
        assert_eq!(view_texts(&p, 3), ["a: m7", "a: m8", "a: m9"]);
    }

    #[test]
    fn scrolling_up_stops_at_the_oldest_row() {
        let mut p = pane_with(10, 40);
        p.scroll_up(1000, 4);
        let texts = view_texts(&p, 4);
        assert_eq!(texts.len(), 4);
        assert!(
            texts[0].starts_with('─'),
            "the day row is the top: {texts:?}"
        );
        assert_eq!(texts[1], "a: m0");
        p.scroll_to_bottom();
        p.scroll_to_top(4);
        assert_eq!(view_texts(&p, 4), texts);
    }

    #[test]
    fn new_messages_do_not_move_a_scrolled_view() {
        let mut p = pane_with(10, 20);
        p.scroll_up(3, 3);
        let before = view_texts(&p, 3);
        p.push(1_700_000_000_000, chat("b", "new"));
        assert_eq!(view_texts(&p, 3), before);
        assert_eq!(p.messages_below(), 4);
    }

    #[test]
    fn wrapped_entries_scroll_row_by_row() {
        let mut p = Pane::new(100, OPTS);
        p.set_width(12);
        p.push(0, chat("a", "one two three four five"));
        p.push(0, chat("a", "last"));
        p.prepare(2);
        assert_eq!(view_texts(&p, 2), ["  five", "a: last"]);
        p.scroll_up(1, 2);
        assert_eq!(view_texts(&p, 2), ["  three four", "  five"]);
        p.scroll_up(1, 2);
        assert_eq!(view_texts(&p, 2), ["a: one two", "  three four"]);
        p.scroll_down(2, 2);
        assert!(p.is_following());
    }

    #[test]
    fn width_change_rewraps_lazily_and_consistently() {
        let mut p = Pane::new(100, OPTS);
        p.set_width(40);
        p.push(0, chat("a", "one two three four five"));
        p.prepare(5);
        assert_eq!(view_texts(&p, 5)[1], "a: one two three four five");
        p.set_width(12);
        // Without prepare the view still wraps correctly (computed on the fly) …
        let unprepared = view_texts(&p, 5);
        p.prepare(5);
        // … and after prepare it reads the cache.
        assert_eq!(view_texts(&p, 5), unprepared);
        assert_eq!(&unprepared[1..], ["a: one two", "  three four", "  five"]);
    }

    #[test]
    fn the_cap_evicts_the_oldest_entries() {
        let mut p = Pane::new(3, OPTS);
        for i in 0..5 {
            p.push(0, chat("a", &format!("m{i}")));
        }
        assert_eq!(p.len(), 3);
        let names: Vec<_> = p.entries().map(|e| e.kind.body().to_string()).collect();
        assert_eq!(names, ["m2", "m3", "m4"]);
    }

    #[test]
    fn the_ruler_sits_above_the_first_unread_entry() {
        let mut p = pane_with(3, 20);
        let seq = p.push(1_700_000_000_000, chat("b", "unread"));
        p.set_ruler(Some(seq));
        p.prepare(10);
        let texts = view_texts(&p, 10);
        let i = texts.iter().position(|t| t == "RULER").unwrap();
        assert_eq!(texts[i + 1], "b: unread");
    }

    #[test]
    fn pending_rows_are_drawn_below_everything() {
        let mut p = pane_with(3, 40);
        p.set_pending(vec![(
            0,
            EntryKind::Pending {
                name: "me".into(),
                color: "1".into(),
                text: "later".into(),
                label: String::new(),
            },
        )]);
        p.prepare(2);
        assert_eq!(view_texts(&p, 2), ["a: m2", "me: later (pending)"]);
    }

    #[test]
    fn links_get_ids_and_are_hit_on_every_wrapped_row() {
        let mut p = Pane::new(100, OPTS);
        p.set_width(14);
        p.push(
            1_700_000_000_000,
            chat("a", "go https://example.com/some/long/path now"),
        );
        p.prepare(10);
        let view = p.view(10);
        let rows = view.rows.len() as u16;
        let top = 10 - rows;
        let mut hits = 0;
        for y in top..10 {
            for x in 0..14 {
                if let Some(t) = view.link_at(x, y, 10) {
                    assert_eq!(&*t.url, "https://example.com/some/long/path");
                    hits += 1;
                }
            }
        }
        assert_eq!(hits, "https://example.com/some/long/path".len());
        assert_eq!(view.links(10).len(), 1);
        assert_eq!(
            p.links_newest_first().next().map(|t| &*t.url),
            Some("https://example.com/some/long/path")
        );
    }
}
