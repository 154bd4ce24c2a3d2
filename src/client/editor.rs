//! The input bar's line editor: one line of text, a cursor on grapheme boundaries, readline-style
//! kills and yanks with a kill ring, input history, Tab completion with cycling and horizontal
//! scrolling. Pure state and no terminal IO, so every binding is unit-tested; `app.rs` maps keys.

use std::collections::VecDeque;

use unicode_segmentation::UnicodeSegmentation;

use crate::text::display_width;

/// Entries kept in the kill ring (oldest dropped first).
const KILL_RING_LEN: usize = 16;
/// Lines kept in the input history.
const HISTORY_LEN: usize = 500;

/// What kind of word Tab is completing; decides the candidates and what follows a completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    /// The first word, starting with `/`: a command name.
    Command,
    /// A nickname at the start of the line ("alice: ").
    NickAtStart,
    /// A nickname elsewhere, or after a command ("/msg alice ").
    Nick,
}

/// An active Tab completion: where the completed word starts and which candidate is shown.
#[derive(Debug, Clone)]
struct Completion {
    start: usize,
    kind: CompletionKind,
    candidates: Vec<String>,
    index: usize,
    /// The buffer right after the last completion; any other edit ends the cycle.
    after: String,
}

/// Which kill command ran last, so consecutive kills append to one ring entry (as in readline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LastAction {
    Other,
    KillForward,
    KillBackward,
    Yank { start: usize, end: usize },
}

#[derive(Debug, Clone)]
pub struct LineEditor {
    buf: String,
    /// Byte offset into `buf`, always on a grapheme boundary.
    cursor: usize,
    kill_ring: VecDeque<String>,
    /// Index into `kill_ring` of the text last yanked (for Alt-Y rotation).
    yank_index: usize,
    last: LastAction,
    history: Vec<String>,
    /// `Some(i)` while browsing history entry `i`; `draft` keeps what was typed before.
    history_pos: Option<usize>,
    draft: String,
    completion: Option<Completion>,
    /// First display column shown when the text is wider than the bar.
    scroll: usize,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    pub fn new() -> LineEditor {
        LineEditor {
            buf: String::new(),
            cursor: 0,
            kill_ring: VecDeque::new(),
            yank_index: 0,
            last: LastAction::Other,
            history: Vec::new(),
            history_pos: None,
            draft: String::new(),
            completion: None,
            scroll: 0,
        }
    }

    pub fn text(&self) -> &str {
        &self.buf
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The cursor as a byte offset into [`text`](Self::text).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The cursor's display column from the start of the text.
    pub fn cursor_column(&self) -> usize {
        display_width(&self.buf[..self.cursor])
    }

    /// The first visible display column (horizontal scrolling).
    pub fn scroll(&self) -> usize {
        self.scroll
    }

    /// Replaces the whole text and puts the cursor at its end.
    pub fn set_text(&mut self, text: &str) {
        self.buf = text.to_string();
        self.cursor = self.buf.len();
        self.edited();
    }

    /// Takes the text out (for sending), recording it in the history.
    pub fn submit(&mut self) -> String {
        let text = std::mem::take(&mut self.buf);
        self.cursor = 0;
        self.scroll = 0;
        self.push_history(&text);
        self.history_pos = None;
        self.draft.clear();
        self.edited();
        text
    }

    /// Records a line in the history without touching the buffer (e.g. a message the server
    /// refused, so Up brings it back).
    pub fn push_history(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        if self.history.last().map(String::as_str) != Some(text) {
            self.history.push(text.to_string());
            if self.history.len() > HISTORY_LEN {
                self.history.remove(0);
            }
        }
    }

    pub fn history(&self) -> &[String] {
        &self.history
    }

    fn edited(&mut self) {
        self.completion = None;
        self.last = LastAction::Other;
    }

    pub fn insert_str(&mut self, s: &str) {
        self.buf.insert_str(self.cursor, s);
        self.cursor += s.len();
        self.edited();
    }

    pub fn insert_char(&mut self, c: char) {
        self.buf.insert(self.cursor, c);
        self.cursor += c.len_utf8();
        self.edited();
    }

    fn prev_boundary(&self, from: usize) -> usize {
        self.buf[..from]
            .grapheme_indices(true)
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn next_boundary(&self, from: usize) -> usize {
        self.buf[from..]
            .graphemes(true)
            .next()
            .map_or(from, |g| from + g.len())
    }

    /// Start of the word before `from` (skipping whitespace first), as Ctrl-W and Alt-B see it.
    fn word_start_before(&self, from: usize) -> usize {
        let mut pos = from;
        let before = &self.buf[..from];
        let mut seen_word = false;
        for (i, g) in before.grapheme_indices(true).rev() {
            let space = g.chars().all(char::is_whitespace);
            if space && seen_word {
                break;
            }
            if !space {
                seen_word = true;
            }
            pos = i;
        }
        pos
    }

    /// End of the word after `from` (skipping whitespace first), as Alt-F and Alt-D see it.
    fn word_end_after(&self, from: usize) -> usize {
        let mut pos = from;
        let mut seen_word = false;
        for g in self.buf[from..].graphemes(true) {
            let space = g.chars().all(char::is_whitespace);
            if space && seen_word {
                break;
            }
            if !space {
                seen_word = true;
            }
            pos += g.len();
        }
        pos
    }

    pub fn move_left(&mut self) {
        self.cursor = self.prev_boundary(self.cursor);
        self.edited();
    }

    pub fn move_right(&mut self) {
        self.cursor = self.next_boundary(self.cursor);
        self.edited();
    }

    pub fn move_home(&mut self) {
        self.cursor = 0;
        self.edited();
    }

    pub fn move_end(&mut self) {
        self.cursor = self.buf.len();
        self.edited();
    }

    pub fn move_word_left(&mut self) {
        self.cursor = self.word_start_before(self.cursor);
        self.edited();
    }

    pub fn move_word_right(&mut self) {
        self.cursor = self.word_end_after(self.cursor);
        self.edited();
    }

    /// Backspace: deletes the grapheme before the cursor.
    pub fn backspace(&mut self) {
        let start = self.prev_boundary(self.cursor);
        self.buf.replace_range(start..self.cursor, "");
        self.cursor = start;
        self.edited();
    }

    /// Delete: deletes the grapheme under the cursor.
    pub fn delete(&mut self) {
        let end = self.next_boundary(self.cursor);
        self.buf.replace_range(self.cursor..end, "");
        self.edited();
    }

    /// Removes `start..end`, putting it on the kill ring (appending to the previous kill when
    /// kills follow each other).
    fn kill(&mut self, start: usize, end: usize, backward: bool) {
        if start == end {
            self.completion = None;
            return;
        }
        let killed: String = self.buf[start..end].to_string();
        self.buf.replace_range(start..end, "");
        self.cursor = start;
        let continuing = matches!(
            self.last,
            LastAction::KillForward | LastAction::KillBackward
        );
        match self.kill_ring.front_mut() {
            Some(top) if continuing => {
                if backward {
                    top.insert_str(0, &killed);
                } else {
                    top.push_str(&killed);
                }
            }
            _ => {
                self.kill_ring.push_front(killed);
                self.kill_ring.truncate(KILL_RING_LEN);
            }
        }
        self.completion = None;
        self.last = if backward {
            LastAction::KillBackward
        } else {
            LastAction::KillForward
        };
    }

    /// Ctrl-W (and Alt-Backspace): kills the word before the cursor.
    pub fn kill_word_back(&mut self) {
        let start = self.word_start_before(self.cursor);
        self.kill(start, self.cursor, true);
    }

    /// Alt-D: kills the word after the cursor.
    pub fn kill_word_forward(&mut self) {
        let end = self.word_end_after(self.cursor);
        self.kill(self.cursor, end, false);
    }

    /// Ctrl-U: kills from the start of the line to the cursor.
    pub fn kill_to_start(&mut self) {
        self.kill(0, self.cursor, true);
    }

    /// Ctrl-K: kills from the cursor to the end of the line.
    pub fn kill_to_end(&mut self) {
        self.kill(self.cursor, self.buf.len(), false);
    }

    /// Ctrl-Y: inserts the most recent kill.
    pub fn yank(&mut self) {
        let Some(text) = self.kill_ring.front().cloned() else {
            return;
        };
        let start = self.cursor;
        self.insert_str(&text);
        self.yank_index = 0;
        self.last = LastAction::Yank {
            start,
            end: self.cursor,
        };
    }

    /// Alt-Y right after a yank: replaces the yanked text with the previous kill.
    pub fn yank_pop(&mut self) {
        let LastAction::Yank { start, end } = self.last else {
            return;
        };
        if self.kill_ring.len() < 2 {
            return;
        }
        self.yank_index = (self.yank_index + 1) % self.kill_ring.len();
        let text = self.kill_ring[self.yank_index].clone();
        self.buf.replace_range(start..end, &text);
        self.cursor = start + text.len();
        self.completion = None;
        self.last = LastAction::Yank {
            start,
            end: self.cursor,
        };
    }

    /// Up: the previous history entry (the current text is kept as a draft).
    pub fn history_prev(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let next = match self.history_pos {
            None => {
                self.draft = self.buf.clone();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(i) => i - 1,
        };
        self.history_pos = Some(next);
        self.buf = self.history[next].clone();
        self.cursor = self.buf.len();
        self.edited();
    }

    /// Down: the next history entry, and past the newest the draft typed before browsing.
    pub fn history_next(&mut self) {
        let Some(i) = self.history_pos else {
            return;
        };
        if i + 1 < self.history.len() {
            self.history_pos = Some(i + 1);
            self.buf = self.history[i + 1].clone();
        } else {
            self.history_pos = None;
            self.buf = std::mem::take(&mut self.draft);
        }
        self.cursor = self.buf.len();
        self.edited();
    }

    /// The word Tab would complete: its start offset, its text up to the cursor, and its kind.
    pub fn completion_target(&self) -> (usize, &str, CompletionKind) {
        let before = &self.buf[..self.cursor];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        let kind = if start == 0 && word.starts_with('/') {
            CompletionKind::Command
        } else if start == 0 {
            CompletionKind::NickAtStart
        } else {
            CompletionKind::Nick
        };
        (start, word, kind)
    }

    /// Tab (or Shift-Tab with `backwards`): completes the word before the cursor from the
    /// candidates `lookup` returns for it, or cycles to the next candidate when pressed again.
    /// Returns false when nothing matched.
    pub fn complete(
        &mut self,
        backwards: bool,
        lookup: impl FnOnce(CompletionKind, &str) -> Vec<String>,
    ) -> bool {
        if let Some(mut c) = self.completion.take()
            && c.after == self.buf
            && !c.candidates.is_empty()
        {
            let n = c.candidates.len();
            c.index = if backwards {
                (c.index + n - 1) % n
            } else {
                (c.index + 1) % n
            };
            self.apply_completion(&mut c);
            self.completion = Some(c);
            return true;
        }
        let (start, word, kind) = self.completion_target();
        let prefix = word.strip_prefix('@').unwrap_or(word).to_string();
        let candidates = lookup(kind, &prefix);
        if candidates.is_empty() {
            return false;
        }
        let mut c = Completion {
            start,
            kind,
            index: if backwards { candidates.len() - 1 } else { 0 },
            candidates,
            after: String::new(),
        };
        self.apply_completion(&mut c);
        self.completion = Some(c);
        true
    }

    fn apply_completion(&mut self, c: &mut Completion) {
        let suffix = match c.kind {
            CompletionKind::NickAtStart => ": ",
            CompletionKind::Command | CompletionKind::Nick => " ",
        };
        let replacement = format!("{}{suffix}", c.candidates[c.index]);
        self.buf.replace_range(c.start..self.cursor, &replacement);
        self.cursor = c.start + replacement.len();
        c.after = self.buf.clone();
        self.last = LastAction::Other;
    }

    /// Keeps the cursor inside a bar `width` columns wide, scrolling horizontally as little as
    /// possible (with a few columns of context when the text continues to the left).
    pub fn fit(&mut self, width: usize) {
        let width = width.max(1);
        let col = self.cursor_column();
        let total = display_width(&self.buf);
        let context = (width / 4).min(8);
        if self.scroll > 0 && col < self.scroll + context {
            self.scroll = col.saturating_sub(context);
        } else if col >= self.scroll + width {
            self.scroll = col + 1 - width;
        }
        // Don't leave empty space at the right when the text would fill it.
        if total < width {
            self.scroll = 0;
        } else if self.scroll > total + 1 - width {
            self.scroll = total + 1 - width;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editor(text: &str) -> LineEditor {
        let mut e = LineEditor::new();
        e.insert_str(text);
        e
    }

    #[test]
    fn typing_and_cursor_moves_respect_graphemes() {
        let mut e = editor("aé世👍🏽b");
        e.move_left();
        assert_eq!(&e.text()[e.cursor()..], "b");
        e.move_left();
        assert_eq!(
            &e.text()[e.cursor()..],
            "👍🏽b",
            "emoji with modifier is one step"
        );
        e.backspace();
        assert_eq!(e.text(), "aé👍🏽b");
        e.move_home();
        e.delete();
        assert_eq!(e.text(), "é👍🏽b");
        e.move_end();
        e.insert_char('!');
        assert_eq!(e.text(), "é👍🏽b!");
        // The skin-toned hand is drawn as the hand and a swatch: four cells.
        assert_eq!(e.cursor_column(), 1 + 4 + 1 + 1);
    }

    #[test]
    fn word_motions() {
        let mut e = editor("hello big  world");
        e.move_word_left();
        assert_eq!(&e.text()[e.cursor()..], "world");
        e.move_word_left();
        assert_eq!(&e.text()[e.cursor()..], "big  world");
        e.move_word_right();
        assert_eq!(&e.text()[..e.cursor()], "hello big");
        e.move_home();
        e.move_word_right();
        assert_eq!(e.cursor(), 5);
    }

    #[test]
    fn ctrl_w_kills_previous_word_and_ctrl_y_yanks_it() {
        let mut e = editor("one two three");
        e.kill_word_back();
        assert_eq!(e.text(), "one two ");
        e.move_home();
        e.yank();
        assert_eq!(e.text(), "threeone two ");
        assert_eq!(e.cursor(), 5);
    }

    #[test]
    fn consecutive_kills_join_in_one_ring_entry() {
        let mut e = editor("one two three");
        e.kill_word_back();
        e.kill_word_back();
        assert_eq!(e.text(), "one ");
        e.yank();
        assert_eq!(e.text(), "one two three");
    }

    #[test]
    fn ctrl_u_and_ctrl_k_split_the_line() {
        let mut e = editor("left|right");
        for _ in 0.."right".len() {
            e.move_left();
        }
        e.kill_to_end();
        assert_eq!(e.text(), "left|");
        // A motion in between makes the next kill a ring entry of its own.
        e.move_left();
        e.move_end();
        e.kill_to_start();
        assert_eq!(e.text(), "");
        e.yank();
        assert_eq!(e.text(), "left|");
        e.yank_pop();
        assert_eq!(e.text(), "right", "Alt-Y rotates to the older kill");
    }

    #[test]
    fn kill_word_forward_with_alt_d() {
        let mut e = editor("alpha beta gamma");
        e.move_home();
        e.move_word_right();
        e.kill_word_forward();
        assert_eq!(e.text(), "alpha gamma");
    }

    #[test]
    fn history_walks_back_and_restores_the_draft() {
        let mut e = LineEditor::new();
        e.insert_str("first");
        assert_eq!(e.submit(), "first");
        e.insert_str("second");
        e.submit();
        e.insert_str("draft");
        e.history_prev();
        assert_eq!(e.text(), "second");
        e.history_prev();
        assert_eq!(e.text(), "first");
        e.history_prev();
        assert_eq!(e.text(), "first", "stays at the oldest");
        e.history_next();
        assert_eq!(e.text(), "second");
        e.history_next();
        assert_eq!(e.text(), "draft");
        e.history_next();
        assert_eq!(e.text(), "draft");
    }

    #[test]
    fn history_skips_blank_and_repeated_lines() {
        let mut e = LineEditor::new();
        for line in ["a", "a", "  ", "b"] {
            e.insert_str(line);
            e.submit();
        }
        assert_eq!(e.history(), ["a", "b"]);
    }

    fn nicks(_: CompletionKind, prefix: &str) -> Vec<String> {
        ["alice", "alicia", "bob"]
            .iter()
            .filter(|n| n.starts_with(&prefix.to_lowercase()))
            .map(|n| n.to_string())
            .collect()
    }

    #[test]
    fn tab_completes_a_nick_at_line_start_with_colon_and_cycles() {
        let mut e = editor("ali");
        assert!(e.complete(false, nicks));
        assert_eq!(e.text(), "alice: ");
        assert!(e.complete(false, nicks));
        assert_eq!(e.text(), "alicia: ");
        assert!(e.complete(false, nicks));
        assert_eq!(e.text(), "alice: ", "cycling wraps around");
        assert!(e.complete(true, nicks));
        assert_eq!(e.text(), "alicia: ", "Shift-Tab cycles back");
    }

    #[test]
    fn tab_completes_mid_line_nick_with_a_space_and_keeps_the_rest() {
        let mut e = editor("hi @bo and more");
        for _ in 0.." and more".len() {
            e.move_left();
        }
        assert!(e.complete(false, nicks));
        assert_eq!(e.text(), "hi bob  and more");
        assert!(!editor("zz").complete(false, nicks));
    }

    #[test]
    fn completion_kind_depends_on_position() {
        assert_eq!(editor("/he").completion_target().2, CompletionKind::Command);
        assert_eq!(
            editor("/msg al").completion_target().2,
            CompletionKind::Nick
        );
        assert_eq!(
            editor("al").completion_target().2,
            CompletionKind::NickAtStart
        );
    }

    #[test]
    fn typing_after_a_completion_starts_a_new_one() {
        let mut e = editor("ali");
        e.complete(false, nicks);
        e.insert_str("b");
        assert!(e.complete(false, nicks));
        assert_eq!(e.text(), "alice: bob ");
    }

    #[test]
    fn horizontal_scroll_keeps_the_cursor_visible() {
        let mut e = editor(&"x".repeat(30));
        e.fit(10);
        assert_eq!(
            e.scroll(),
            21,
            "cursor after the text sits in the last column"
        );
        e.move_home();
        e.fit(10);
        assert_eq!(e.scroll(), 0);
        e.move_end();
        e.fit(40);
        assert_eq!(e.scroll(), 0, "short text never scrolls");
    }

    #[test]
    fn horizontal_scroll_counts_wide_characters() {
        let mut e = editor(&"世".repeat(10));
        e.fit(10);
        assert!(e.cursor_column() - e.scroll() < 10);
        assert_eq!(e.cursor_column(), 20);
    }
}
