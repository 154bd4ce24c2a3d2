//! Syntax colouring for the pager (syntect's bundled Sublime syntaxes, pure-Rust regexes).
//! The language comes from the file name's extension or, failing that, its first line
//! (`#!/bin/sh`, `<?xml`). Colouring is a running state from the top of the file, so states
//! are kept every [`STATE_EVERY`] rows and a window is coloured from the nearest one; files
//! past [`MAX_ROWS`] rows are coloured no further (the rest is plain, paging stays instant).

use std::ops::Range;
use std::sync::OnceLock;

use syntect::highlighting::{HighlightState, Highlighter, RangedHighlightIterator, Theme};
use syntect::parsing::{ParseState, ScopeStack, SyntaxReference, SyntaxSet};

/// Rows between two saved states.
pub const STATE_EVERY: u64 = 64;
/// Rows coloured at most; beyond, the text is plain.
pub const MAX_ROWS: u64 = 20_000;
/// Rows longer than this are drawn plain (a minified file's regexes would crawl).
const MAX_ROW_BYTES: usize = 2000;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn theme() -> &'static Theme {
    static THEME: OnceLock<Theme> = OnceLock::new();
    THEME.get_or_init(|| {
        let mut themes = syntect::highlighting::ThemeSet::load_defaults();
        themes
            .themes
            .remove("base16-eighties.dark")
            .or_else(|| themes.themes.into_values().next())
            .unwrap_or_default()
    })
}

/// A run of a row's text (byte range) and its colour.
pub type Span = (Range<usize>, (u8, u8, u8));

/// The colouring state of one text.
pub struct Colours {
    syntax: &'static SyntaxReference,
    /// `states[i]` is the state before row `i * STATE_EVERY`.
    states: Vec<(ParseState, HighlightState)>,
}

impl Colours {
    /// Colours for a file called `name` whose first line is `first_line`, or None for plain
    /// text (nothing recognised).
    pub fn detect(name: &str, first_line: &str) -> Option<Colours> {
        let set = syntaxes();
        let ext = std::path::Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        let by_name = std::path::Path::new(name)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| set.find_syntax_by_extension(n));
        let syntax = by_name
            .or_else(|| set.find_syntax_by_extension(ext))
            .or_else(|| set.find_syntax_by_first_line(first_line))?;
        if syntax.name == "Plain Text" {
            return None;
        }
        let highlighter = Highlighter::new(theme());
        let start = (
            ParseState::new(syntax),
            HighlightState::new(&highlighter, ScopeStack::new()),
        );
        Some(Colours {
            syntax,
            states: vec![start],
        })
    }

    /// The language's name (for the title bar).
    pub fn language(&self) -> &str {
        &self.syntax.name
    }

    /// The row colouring must start from to colour row `row`: a saved state at or before it.
    pub fn resume_row(&self, row: u64) -> u64 {
        let i = (row.min(MAX_ROWS) / STATE_EVERY).min(self.states.len() as u64 - 1);
        i * STATE_EVERY
    }

    /// Colours `rows`, the texts of consecutive rows from `first` (which must be a
    /// [`Colours::resume_row`]), saving states on the way. Rows past [`MAX_ROWS`] get no spans.
    pub fn colour(&mut self, first: u64, rows: &[&str]) -> Vec<Vec<Span>> {
        let set = syntaxes();
        let highlighter = Highlighter::new(theme());
        let idx = usize::try_from(first / STATE_EVERY).unwrap_or(usize::MAX);
        let Some((parse, high)) = self.states.get(idx).cloned() else {
            return vec![Vec::new(); rows.len()];
        };
        let (mut parse, mut high) = (parse, high);
        let mut out = Vec::with_capacity(rows.len());
        for (i, text) in rows.iter().enumerate() {
            let row = first + i as u64;
            if row >= MAX_ROWS {
                out.push(Vec::new());
                continue;
            }
            if row.is_multiple_of(STATE_EVERY) && (row / STATE_EVERY) as usize == self.states.len()
            {
                self.states.push((parse.clone(), high.clone()));
            }
            if text.len() > MAX_ROW_BYTES {
                out.push(Vec::new());
                continue;
            }
            let line = format!("{text}\n");
            let ops = parse.parse_line(&line, set).unwrap_or_default();
            let spans = RangedHighlightIterator::new(&mut high, &ops, &line, &highlighter)
                .filter(|(_, _, range)| range.start < text.len())
                .map(|(style, _, range)| {
                    let f = style.foreground;
                    (range.start..range.end.min(text.len()), (f.r, f.g, f.b))
                })
                .collect();
            out.push(spans);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_found_by_extension_and_first_line() {
        assert_eq!(Colours::detect("main.rs", "").unwrap().language(), "Rust");
        assert_eq!(Colours::detect("x.py", "").unwrap().language(), "Python");
        assert_eq!(
            Colours::detect("run", "#!/bin/bash").unwrap().language(),
            "Bourne Again Shell (bash)"
        );
        assert!(Colours::detect("notes.txt", "hello").is_none());
        assert!(Colours::detect("README", "hello").is_none());
    }

    #[test]
    fn keywords_and_strings_get_different_colours_and_windows_agree() {
        let mut c = Colours::detect("a.rs", "").unwrap();
        let rows: Vec<String> = (0..200)
            .map(|i| format!("fn f{i}() {{ let s = \"text\"; }}"))
            .collect();
        let texts: Vec<&str> = rows.iter().map(String::as_str).collect();
        let all = c.colour(0, &texts);
        let row = &all[0];
        let colour_at = |spans: &Vec<Span>, byte: usize| {
            spans
                .iter()
                .find(|(r, _)| r.contains(&byte))
                .map(|(_, c)| *c)
        };
        let keyword = colour_at(row, 0).unwrap();
        let string = colour_at(row, texts[0].find("\"text\"").unwrap() + 1).unwrap();
        assert_ne!(keyword, string);
        // Colouring a later window from a saved state gives the same spans.
        let from = c.resume_row(150);
        assert_eq!(from, 128);
        let again = c.colour(from, &texts[from as usize..]);
        assert_eq!(again[150 - 128], all[150]);
    }
}
