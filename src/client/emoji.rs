//! Emoji by name, with GitHub's (gemoji) shortcodes from the `emojis` crate: `:tada:` becomes 🎉 in
//! text being sent, a `:partial` name before the cursor gets completions, and the picker's state
//! (search, groups, selection). Recently used emoji rank first everywhere; the list is a plain
//! `Vec<String>` for the caller to persist. Pure: no IO, no drawing (`ui::emoji_picker` draws).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::ops::Range;

use emojis::{Emoji, Group};
use linkify::{LinkFinder, LinkKind};

/// The longest shortcode looked for (gemoji's longest is 36 characters).
const MAX_SHORTCODE: usize = 48;
/// Letters typed after `:` before completions are offered (`:s` would match half the table).
pub const MIN_QUERY: usize = 2;
/// Completions offered at most.
pub const MAX_COMPLETIONS: usize = 8;
/// Recently used emoji remembered.
pub const MAX_RECENTS: usize = 32;

/// A character a shortcode may contain (`+1`, `-1`, `t-rex`, `e-mail`, `100`).
fn is_shortcode_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '+' | '-')
}

/// Whether a `:` at byte `i` may open a shortcode: at the start, or after something that is not
/// a letter or digit (so `12:30:45` and `a:b:c` stay as they are).
fn opens(text: &str, i: usize) -> bool {
    text[..i]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric())
}

/// Whether a shortcode may close at the `:` ending at byte `end`: nothing, or not a letter or
/// digit, follows.
fn closes(text: &str, end: usize) -> bool {
    text[end..]
        .chars()
        .next()
        .is_none_or(|c| !c.is_alphanumeric())
}

/// Byte ranges where shortcodes are never replaced: links (`https://host/:x:`) and `code`.
fn protected(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    if text.contains(':') || text.contains('.') {
        let mut finder = LinkFinder::new();
        finder.kinds(&[LinkKind::Url]).url_must_have_scheme(false);
        out.extend(finder.links(text).map(|l| l.start()..l.end()));
    }
    let mut ticks = text.match_indices('`').map(|(i, _)| i);
    while let (Some(a), Some(b)) = (ticks.next(), ticks.next()) {
        out.push(a..b + 1);
    }
    out
}

/// Every complete, known `:shortcode:` in `text`: its byte range (colons included) and emoji.
pub fn shortcodes_in(text: &str) -> Vec<(Range<usize>, &'static Emoji)> {
    let mut found = Vec::new();
    if !text.contains(':') {
        return found;
    }
    let skip = protected(text);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b':' || !opens(text, i) {
            i += 1;
            continue;
        }
        let name_len = text[i + 1..]
            .find(|c: char| !is_shortcode_char(c))
            .unwrap_or(text.len() - i - 1);
        let close = i + 1 + name_len;
        if name_len == 0 || name_len > MAX_SHORTCODE || bytes.get(close) != Some(&b':') {
            i += 1;
            continue;
        }
        let range = i..close + 1;
        let known = emojis::get_by_shortcode(&text[i + 1..close]);
        match known {
            Some(emoji)
                if closes(text, close + 1)
                    && !skip
                        .iter()
                        .any(|r| r.start < range.end && range.start < r.end) =>
            {
                found.push((range, emoji));
                i = close + 1;
            }
            // The closing colon may open the next one (`:x::tada:`).
            _ => i = close,
        }
    }
    found
}

/// `text` with every complete, known `:shortcode:` replaced by its emoji; unknown names,
/// times (`12:30:45`), links and `code` are left alone.
pub fn replace_shortcodes(text: &str) -> Cow<'_, str> {
    let found = shortcodes_in(text);
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, emoji) in found {
        out.push_str(&text[at..range.start]);
        out.push_str(emoji.as_str());
        at = range.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// A `:name` being typed just before the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial<'a> {
    /// Bytes from the `:` to the cursor: what a completion replaces.
    pub range: Range<usize>,
    /// The name typed so far, lowercased (without the colon).
    pub query: Cow<'a, str>,
}

/// The shortcode being typed before byte `cursor` of `text`, if there is one of at least
/// [`MIN_QUERY`] characters that opens where a shortcode may.
pub fn partial_at(text: &str, cursor: usize) -> Option<Partial<'_>> {
    let before = text.get(..cursor)?;
    let (colon, c) = before
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_shortcode_char(c.to_ascii_lowercase()))?;
    if c != ':' || !opens(text, colon) {
        return None;
    }
    let name = &before[colon + 1..];
    if name.len() < MIN_QUERY || name.len() > MAX_SHORTCODE {
        return None;
    }
    let query = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    };
    Some(Partial {
        range: colon..cursor,
        query,
    })
}

/// One completion: the emoji and the shortcode that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub emoji: &'static Emoji,
    pub shortcode: &'static str,
}

/// How well a name matches a query; lower is better.
fn match_rank(name: &str, query: &str) -> Option<u8> {
    if name == query {
        Some(0)
    } else if name.starts_with(query) {
        Some(1)
    } else if name
        .match_indices(query)
        .any(|(i, _)| name[..i].ends_with(['_', ' ', '-']))
    {
        // The start of a later word: `:face` finds `:smiling_face:`.
        Some(2)
    } else {
        None
    }
}

/// Completions for `query` (a partial shortcode): exact match first, then names starting with
/// it, then names with a later word starting with it; within each, recently used emoji first,
/// then shorter names. At most `limit`.
pub fn complete(query: &str, recents: &Recents, limit: usize) -> Vec<Candidate> {
    let query = query.to_ascii_lowercase();
    // (match rank, how recently used, name length, name) orders the candidates.
    type Key = (u8, usize, usize, &'static str);
    let mut scored: Vec<(Key, Candidate)> = Vec::new();
    for emoji in emojis::iter() {
        let best = emoji
            .shortcodes()
            .filter_map(|code| match_rank(code, &query).map(|r| (r, code)))
            .min_by_key(|&(r, code)| (r, code.len()));
        if let Some((rank, shortcode)) = best {
            let recent = recents.position(emoji.as_str()).unwrap_or(usize::MAX);
            scored.push((
                (rank, recent, shortcode.len(), shortcode),
                Candidate { emoji, shortcode },
            ));
        }
    }
    scored.sort_by(|a, b| a.0.cmp(&b.0));
    scored.into_iter().take(limit).map(|(_, c)| c).collect()
}

/// Replaces the partial `:name` in `text` with `emoji`; returns the new text and the cursor
/// (a byte index) just after the emoji.
pub fn apply_completion(text: &str, partial: &Partial<'_>, emoji: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len() + emoji.len());
    out.push_str(&text[..partial.range.start]);
    out.push_str(emoji);
    let cursor = out.len();
    out.push_str(&text[partial.range.end..]);
    (out, cursor)
}

/// Recently used emoji, most recent first, at most [`MAX_RECENTS`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recents {
    list: VecDeque<String>,
}

impl Recents {
    /// From a saved list: unknown strings and repeats are dropped, the rest kept in order.
    pub fn from_saved(saved: &[String]) -> Recents {
        let mut recents = Recents::default();
        for s in saved.iter().rev() {
            if emojis::get(s).is_some() {
                recents.push(s);
            }
        }
        recents
    }

    /// Notes that `emoji` was just used.
    pub fn push(&mut self, emoji: &str) {
        self.list.retain(|e| e != emoji);
        self.list.push_front(emoji.to_string());
        self.list.truncate(MAX_RECENTS);
    }

    /// How recently `emoji` was used (0 = last), if it is in the list.
    pub fn position(&self, emoji: &str) -> Option<usize> {
        self.list.iter().position(|e| e == emoji)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The list to save, most recent first.
    pub fn to_saved(&self) -> Vec<String> {
        self.list.iter().cloned().collect()
    }
}

/// A tab of the picker: the recent emoji or one of Unicode's groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Recent,
    Group(Group),
}

impl Tab {
    /// Every tab, in order.
    pub fn all() -> impl Iterator<Item = Tab> {
        std::iter::once(Tab::Recent).chain(Group::iter().map(Tab::Group))
    }

    /// A short label for the tab bar.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Recent => "Recent",
            Tab::Group(g) => match g {
                Group::SmileysAndEmotion => "Smileys",
                Group::PeopleAndBody => "People",
                Group::AnimalsAndNature => "Nature",
                Group::FoodAndDrink => "Food",
                Group::TravelAndPlaces => "Travel",
                Group::Activities => "Activities",
                Group::Objects => "Objects",
                Group::Symbols => "Symbols",
                Group::Flags => "Flags",
            },
        }
    }
}

/// What a key did to the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum PickerResponse {
    Unchanged,
    Changed,
    /// Insert this emoji (it is already noted in the recents).
    Chosen(&'static str),
    /// Close the picker without choosing.
    Closed,
}

/// What the picker understands (the app maps keys to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerInput {
    Char(char),
    Backspace,
    Left,
    Right,
    Up,
    Down,
    NextTab,
    PrevTab,
    Choose,
    Close,
}

/// The emoji picker: a search box over tabs of emoji, one of them selected.
#[derive(Debug, Clone)]
pub struct Picker {
    query: String,
    tab: Tab,
    /// What the search or the tab shows, in order.
    results: Vec<&'static Emoji>,
    selected: usize,
    recents: Recents,
}

impl Picker {
    /// Opens on the recent emoji, or on the smileys when nothing was used yet.
    pub fn new(recents: Recents) -> Picker {
        let tab = if recents.is_empty() {
            Tab::Group(Group::SmileysAndEmotion)
        } else {
            Tab::Recent
        };
        let mut picker = Picker {
            query: String::new(),
            tab,
            results: Vec::new(),
            selected: 0,
            recents,
        };
        picker.refresh();
        picker
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn tab(&self) -> Tab {
        self.tab
    }

    pub fn results(&self) -> &[&'static Emoji] {
        &self.results
    }

    pub fn selected(&self) -> Option<&'static Emoji> {
        self.results.get(self.selected).copied()
    }

    pub fn selected_index(&self) -> usize {
        self.selected
    }

    /// The recents, updated by choices made in the picker (for the caller to keep and save).
    pub fn recents(&self) -> &Recents {
        &self.recents
    }

    /// Handles one input. `columns` is how many emoji the picker shows per row (from its
    /// drawing geometry), for Up and Down.
    pub fn handle(&mut self, input: PickerInput, columns: usize) -> PickerResponse {
        let columns = columns.max(1);
        let last = self.results.len().saturating_sub(1);
        let before = self.selected;
        match input {
            PickerInput::Char(c) if !c.is_control() => {
                self.query.push(c);
                self.refresh();
                return PickerResponse::Changed;
            }
            PickerInput::Char(_) => return PickerResponse::Unchanged,
            PickerInput::Backspace => {
                if self.query.pop().is_none() {
                    return PickerResponse::Unchanged;
                }
                self.refresh();
                return PickerResponse::Changed;
            }
            PickerInput::Left => self.selected = self.selected.saturating_sub(1),
            PickerInput::Right => self.selected = (self.selected + 1).min(last),
            PickerInput::Up => self.selected = self.selected.saturating_sub(columns),
            PickerInput::Down => {
                if self.selected + columns <= last {
                    self.selected += columns;
                }
            }
            PickerInput::NextTab | PickerInput::PrevTab => {
                let tabs: Vec<Tab> = Tab::all().collect();
                let i = tabs.iter().position(|&t| t == self.tab).unwrap_or(0);
                let n = tabs.len();
                let next = if input == PickerInput::NextTab {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.tab = tabs[next];
                self.query.clear();
                self.refresh();
                return PickerResponse::Changed;
            }
            PickerInput::Choose => {
                let Some(emoji) = self.selected() else {
                    return PickerResponse::Unchanged;
                };
                self.recents.push(emoji.as_str());
                return PickerResponse::Chosen(emoji.as_str());
            }
            PickerInput::Close => return PickerResponse::Closed,
        }
        if self.selected == before {
            PickerResponse::Unchanged
        } else {
            PickerResponse::Changed
        }
    }

    /// Recomputes the results after the query or the tab changed; the selection goes back to
    /// the first.
    fn refresh(&mut self) {
        self.selected = 0;
        self.results = if self.query.trim().is_empty() {
            match self.tab {
                Tab::Recent => self.recents.iter().filter_map(emojis::get).collect(),
                Tab::Group(g) => g.emojis().collect(),
            }
        } else {
            search(&self.query, &self.recents)
        };
    }
}

/// Emoji whose shortcode or name matches every word of `query`, best first: a shortcode equal to
/// the query, then starting with it, then a word of the name or a shortcode starting with it;
/// recently used ones first within each.
pub fn search(query: &str, recents: &Recents) -> Vec<&'static Emoji> {
    let query = query.trim().to_lowercase();
    let words: Vec<&str> = query.split_whitespace().collect();
    let joined = words.join("_");
    let mut scored: Vec<((u8, usize, usize), &'static Emoji)> = emojis::iter()
        .filter_map(|emoji| {
            let name = emoji.name().to_lowercase();
            let by_code = emoji
                .shortcodes()
                .filter_map(|c| match_rank(c, &joined))
                .min();
            let by_name = words
                .iter()
                .all(|w| match_rank(&name, w).is_some())
                .then_some(2);
            let rank = by_code.into_iter().chain(by_name).min()?;
            let recent = recents.position(emoji.as_str()).unwrap_or(usize::MAX);
            Some(((rank, recent, name.len()), emoji))
        })
        .collect();
    scored.sort_by_key(|&(key, _)| key);
    scored.into_iter().map(|(_, e)| e).collect()
}

#[cfg(test)]
mod tests;
