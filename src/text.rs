//! Remote text made safe and measurable: neutralising control and bidi characters, display width,
//! and the rules for names and room names. Shared by the server (which refuses bad names) and the
//! client (which never lets remote text reach the terminal raw, whatever the server let through).

use std::borrow::Cow;

use unicode_segmentation::UnicodeSegmentation;

/// The longest name, in user-perceived characters (grapheme clusters).
pub const MAX_NAME_CHARS: usize = 24;
/// The longest room name, in characters.
pub const MAX_ROOM_CHARS: usize = 32;

/// Characters that reorder text (bidi embeddings, overrides and isolates): they can make a line
/// display differently from what it says, so they never reach the screen.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that take no room and show nothing (or nearly): fine inside prose, but a name made
/// of them, or padded with them, impersonates another.
pub fn is_invisible(c: char) -> bool {
    is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// C0, DEL and C1: the bytes that start terminal escape sequences or move the cursor.
fn is_terminal_control(c: char) -> bool {
    c.is_control()
}

/// A visible stand-in for a control character, so that what was sent stays legible:
/// C0 become Unicode control pictures (ESC shows as `␛`), DEL `␡`, C1 `�`.
fn control_picture(c: char) -> char {
    match c {
        '\0'..='\u{1F}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}'),
        '\u{7F}' => '\u{2421}',
        _ => '\u{FFFD}',
    }
}

/// Makes a single-line remote string (a name, a room, a status) safe to draw: every control
/// character becomes a visible picture, tabs and newlines become spaces, bidi controls vanish.
pub fn sanitize_line(s: &str) -> Cow<'_, str> {
    if !s
        .chars()
        .any(|c| is_terminal_control(c) || is_bidi_control(c))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' | '\n' | '\r' => out.push(' '),
            c if is_bidi_control(c) => {}
            c if is_terminal_control(c) => out.push(control_picture(c)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Makes message text safe to draw while keeping its line breaks: `\r\n` and lone `\r` become
/// `\n`, a tab becomes four spaces, other controls become pictures, bidi controls vanish.
pub fn sanitize_text(s: &str) -> Cow<'_, str> {
    if !s
        .chars()
        .any(|c| (is_terminal_control(c) && c != '\n') || is_bidi_control(c))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\n' => out.push('\n'),
            '\t' => out.push_str("    "),
            c if is_bidi_control(c) => {}
            c if is_terminal_control(c) => out.push(control_picture(c)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Makes one line of a file safe to draw while showing exactly what it holds: a tab becomes
/// spaces to the next multiple of `tab` columns, every other control a visible picture (as in
/// [`sanitize_line`]), and a bidi control `\u{FFFD}` — visible, so a line cannot be reordered to
/// hide what it says (a "Trojan Source" line shows its overrides).
pub fn sanitize_verbatim(s: &str, tab: usize) -> Cow<'_, str> {
    if !s
        .chars()
        .any(|c| is_terminal_control(c) || is_bidi_control(c))
    {
        return Cow::Borrowed(s);
    }
    let tab = tab.max(1);
    let mut out = String::with_capacity(s.len() + 8);
    let mut col = 0;
    for c in s.chars() {
        let shown = match c {
            '\t' => {
                let n = tab - col % tab;
                out.extend(std::iter::repeat_n(' ', n));
                col += n;
                continue;
            }
            c if is_bidi_control(c) => '\u{FFFD}',
            c if is_terminal_control(c) => control_picture(c),
            c => c,
        };
        out.push(shown);
        col += unicode_width::UnicodeWidthChar::width(shown).unwrap_or(0);
    }
    Cow::Owned(out)
}

/// Text as a chat pane shows it: no blank lines at the start or end, and a run of blank lines
/// inside shown as one, so a message of a thousand newlines cannot push the room's history
/// off everyone's screen.
pub fn tidy_lines(s: &str) -> Cow<'_, str> {
    let trimmed = s.trim_matches(|c: char| c == '\n' || c == '\r');
    let has_blank_run = trimmed
        .split('\n')
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| w[0].trim().is_empty() && w[1].trim().is_empty());
    if !has_blank_run && trimmed.len() == s.len() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(trimmed.len());
    let mut blank_before = false;
    for (i, line) in trimmed.split('\n').enumerate() {
        let blank = line.trim().is_empty();
        if blank && blank_before {
            continue;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
        blank_before = blank;
    }
    Cow::Owned(out)
}

/// Terminal cells a string takes as the client draws it (CJK and most emoji take two): the sum
/// of [`grapheme_width`] over its graphemes. Everything that lays text out on screen measures
/// with this, so wrapping, cursors and borders agree with what is drawn.
pub fn display_width(s: &str) -> usize {
    if s.is_ascii() {
        // One cell per printable character; control characters are not drawn.
        return s.bytes().filter(|b| !b.is_ascii_control()).count();
    }
    s.graphemes(true).map(grapheme_width).sum()
}

/// The longest prefix of `s` that fits in `width` cells, never splitting a grapheme.
pub fn truncate_to_width(s: &str, width: usize) -> &str {
    let mut used = 0;
    for (idx, g) in s.grapheme_indices(true) {
        let w = grapheme_width(g);
        if used + w > width {
            return &s[..idx];
        }
        used += w;
    }
    s
}

/// Separates the pieces of a composed emoji in [`display_form`]. It has no width, so ratatui
/// never sends it to the terminal; it only ends one grapheme and starts the next.
const PIECE_BREAK: char = '\u{200B}';
const ZWJ: char = '\u{200D}';
const VS16: char = '\u{FE0F}';

fn is_regional_indicator(c: char) -> bool {
    matches!(c, '\u{1F1E6}'..='\u{1F1FF}')
}

fn is_skin_tone(c: char) -> bool {
    matches!(c, '\u{1F3FB}'..='\u{1F3FF}')
}

/// Whether `g` is an emoji sequence whose width terminals disagree on: a flag (two regional
/// indicators), a skin tone, a ZWJ sequence or a VS16 presentation (keycaps included). See
/// docs/EMOJI.md for what tmux, per-code-point terminals and grapheme-aware terminals draw.
fn is_composed_emoji(g: &str) -> bool {
    g.chars().nth(1).is_some() && g.chars().any(composes_emoji)
}

/// The code points that make a grapheme of two or more code points a composed emoji.
fn composes_emoji(c: char) -> bool {
    c == ZWJ || c == VS16 || is_skin_tone(c) || is_regional_indicator(c)
}

/// Appends the pieces of the composed emoji `g`, [`PIECE_BREAK`] between them: each code point
/// that takes room starts a piece (with the zero-width marks after it, such as a keycap's
/// U+20E3); joiners and VS16 are dropped. 👨‍👩‍👧 becomes 👨 👩 👧, 👍🏽 becomes 👍 🏽, 🇵🇱
/// becomes 🇵 🇱, ❤️ becomes ❤ and 1️⃣ becomes 1⃣.
fn push_pieces(g: &str, out: &mut String) {
    let mut started = false;
    for c in g.chars() {
        if c == ZWJ || c == VS16 {
            continue;
        }
        if started && unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) > 0 {
            out.push(PIECE_BREAK);
        }
        out.push(c);
        started = true;
    }
}

/// Cells ratatui gives one grapheme (the measure that decides where it draws the next one).
fn cell_width(g: &str) -> usize {
    use ratatui::buffer::CellWidth;
    if g.chars().any(char::is_control) {
        // ratatui skips graphemes holding control characters.
        return 0;
    }
    usize::from(g.cell_width())
}

/// Terminal cells one grapheme takes as the client draws it. A composed emoji is drawn as its
/// pieces (see [`display_form`]) and takes what they take; anything else what ratatui measures.
pub fn grapheme_width(g: &str) -> usize {
    if !is_composed_emoji(g) {
        return cell_width(g);
    }
    let mut pieces = String::with_capacity(g.len() + 8);
    push_pieces(g, &mut pieces);
    pieces.split(PIECE_BREAK).map(cell_width).sum()
}

/// `s` as the client hands it to the terminal: every composed emoji whose width terminals
/// disagree on is split into pieces that every terminal draws the same way (a family becomes
/// its people side by side, a skin tone a swatch after the hand, a flag its two letters' cells,
/// VS16 is dropped). Its graphemes have exactly the widths [`display_width`] counts, so text
/// after an emoji, the cursor and borders land where the layout put them, whatever the
/// terminal. Only for drawing: what is sent and stored stays as typed.
pub fn display_form(s: &str) -> Cow<'_, str> {
    // Cheap checks first: this runs for every segment drawn in every frame.
    if s.is_ascii() || !s.chars().any(composes_emoji) {
        return Cow::Borrowed(s);
    }
    if !s.graphemes(true).any(is_composed_emoji) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut graphemes = s.graphemes(true).peekable();
    while let Some(g) = graphemes.next() {
        if !is_composed_emoji(g) {
            out.push_str(g);
            continue;
        }
        push_pieces(g, &mut out);
        // Two flags in a row: without a break the second flag's first letter would pair with
        // the first flag's last one.
        if out.ends_with(is_regional_indicator)
            && graphemes
                .peek()
                .is_some_and(|next| next.starts_with(is_regional_indicator))
        {
            out.push(PIECE_BREAK);
        }
    }
    Cow::Owned(out)
}

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name needs at least one visible character")]
    Empty,
    #[error("a name is at most {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("a name cannot contain control or invisible characters")]
    Invisible,
    #[error("a name may stack at most {MAX_MARKS} accents on one letter")]
    StackedMarks,
}

/// Combining marks allowed on one letter of a name: enough for any language's accents, too
/// few for "zalgo" text that spills over neighbouring lines in some terminals.
const MAX_MARKS: usize = 3;

/// Checks and normalises a requested name: trimmed, inner whitespace runs collapsed to one
/// space, 1–24 grapheme clusters, no control, bidi or invisible characters.
pub fn validate_name(raw: &str) -> Result<String, NameError> {
    if raw
        .chars()
        .any(|c| is_terminal_control(c) || is_invisible(c))
    {
        return Err(NameError::Invisible);
    }
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.graphemes(true).count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    if name.graphemes(true).any(|g| {
        g.chars()
            .filter(|&c| unicode_normalization::char::is_combining_mark(c))
            .count()
            > MAX_MARKS
    }) {
        return Err(NameError::StackedMarks);
    }
    if display_width(&name) == 0 {
        return Err(NameError::Invisible);
    }
    Ok(name)
}

/// The identity under which names collide: case-folded, then reduced to the Unicode confusable
/// skeleton (UTS #39), so `Alice`, `ALICE` and `Аlice` with a Cyrillic A are one name.
pub fn name_key(name: &str) -> String {
    let folded: String = name.chars().flat_map(fold_case).collect();
    let skeleton: String = unicode_security::skeleton(&folded).collect();
    skeleton.to_lowercase()
}

/// A second identity for the look-alikes that case folding hides: the confusable skeleton taken
/// before lowercasing, so a capital `I` still reads as `l` (`CarI` is `Carl`). Names collide
/// when either this or [`name_key`] matches (the two are needed together: `ALICE` is `alice` only
/// by `name_key`).
pub fn look_alike_key(name: &str) -> String {
    let folded: String = name
        .chars()
        .map(|c| small_capital_letter(c).unwrap_or(c))
        .collect();
    let skeleton: String = unicode_security::skeleton(&folded).collect();
    skeleton.to_lowercase()
}

/// Lowercase, except Cherokee, which folds to its capitals: those are the letters that look
/// Latin (`Ꭺ` like `A`), while its small letters look like small capitals and would escape the
/// skeleton. Latin small capitals (`ᴀʟɪᴄᴇ`), which the skeleton leaves alone, fold to their
/// letters.
fn fold_case(c: char) -> Vec<char> {
    if let Some(letter) = small_capital_letter(c) {
        vec![letter]
    } else if is_cherokee(c) {
        c.to_uppercase().collect()
    } else {
        c.to_lowercase().collect()
    }
}

/// The Latin letter a small capital stands for (the IPA and phonetic-extension small capitals
/// that read as a whole alphabet in fancy-text generators).
fn small_capital_letter(c: char) -> Option<char> {
    Some(match c {
        '\u{1D00}' => 'a',
        '\u{0299}' => 'b',
        '\u{1D04}' => 'c',
        '\u{1D05}' => 'd',
        '\u{1D07}' => 'e',
        '\u{A730}' => 'f',
        '\u{0262}' => 'g',
        '\u{029C}' => 'h',
        '\u{026A}' => 'i',
        '\u{1D0A}' => 'j',
        '\u{1D0B}' => 'k',
        '\u{029F}' => 'l',
        '\u{1D0D}' => 'm',
        '\u{0274}' => 'n',
        '\u{1D0F}' => 'o',
        '\u{1D18}' => 'p',
        '\u{A7AF}' => 'q',
        '\u{0280}' => 'r',
        '\u{A731}' => 's',
        '\u{1D1B}' => 't',
        '\u{1D1C}' => 'u',
        '\u{1D20}' => 'v',
        '\u{1D21}' => 'w',
        '\u{028F}' => 'y',
        '\u{1D22}' => 'z',
        _ => return None,
    })
}

fn is_cherokee(c: char) -> bool {
    matches!(c, '\u{13A0}'..='\u{13FF}' | '\u{AB70}'..='\u{ABBF}')
}

/// Why a room name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error("a room name needs at least one character")]
    Empty,
    #[error("a room name is at most {MAX_ROOM_CHARS} characters")]
    TooLong,
    #[error("a room name may use letters, digits, '-', '_' and '.' only")]
    BadChar,
}

/// Checks and normalises a room name: an optional leading `#` dropped, lowercased, 1–32
/// letters, digits, `-`, `_` or `.`.
pub fn validate_room(raw: &str) -> Result<String, RoomError> {
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_prefix('#').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(RoomError::Empty);
    }
    if trimmed.chars().count() > MAX_ROOM_CHARS {
        return Err(RoomError::TooLong);
    }
    if !trimmed
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(RoomError::BadChar);
    }
    Ok(trimmed.to_lowercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn verbatim_lines_show_every_control_and_align_tabs() {
        use super::sanitize_verbatim;
        assert_eq!(sanitize_verbatim("plain", 4), "plain");
        assert_eq!(sanitize_verbatim("a\tb", 4), "a   b");
        assert_eq!(sanitize_verbatim("abcd\tb", 4), "abcd    b");
        assert_eq!(
            sanitize_verbatim("\x1b[2J\r\x07", 4),
            "\u{241B}[2J\u{240D}\u{2407}"
        );
        assert_eq!(sanitize_verbatim("if a\u{202E} {", 4), "if a\u{FFFD} {");
        assert_eq!(sanitize_verbatim("\u{9b}1m", 4), "\u{FFFD}1m");
        // Wide characters count two columns towards the next tab stop.
        assert_eq!(sanitize_verbatim("日\tx", 4), "日  x");
    }

    use super::*;

    #[test]
    fn escape_sequences_are_neutralised_in_lines() {
        let hostile = "evil\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m";
        let safe = sanitize_line(hostile);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert!(
            safe.contains('\u{241B}'),
            "ESC is shown as a picture: {safe:?}"
        );
        assert!(safe.contains("pwned"), "the visible text is kept");
    }

    #[test]
    fn bidi_overrides_vanish() {
        assert_eq!(sanitize_line("abc\u{202E}fed"), "abcfed");
        assert_eq!(sanitize_text("x\u{2066}y\u{2069}"), "xy");
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(sanitize_line("hello, 世界 👋"), Cow::Borrowed(_)));
        assert!(matches!(sanitize_text("two\nlines"), Cow::Borrowed(_)));
    }

    #[test]
    fn message_text_keeps_line_breaks_only() {
        assert_eq!(sanitize_text("a\r\nb\rc\td"), "a\nb\nc    d");
        assert_eq!(sanitize_text("a\u{1b}[1mb"), "a\u{241B}[1mb");
        assert_eq!(sanitize_line("a\nb"), "a b");
    }

    #[test]
    fn widths_count_cells() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("世界"), 4);
        assert_eq!(truncate_to_width("世界abc", 3), "世");
        assert_eq!(truncate_to_width("ab", 10), "ab");
    }

    /// The sequences that terminals draw differently (see docs/EMOJI.md), with the width the
    /// client gives them and the pieces it draws them as.
    const COMPOSED: &[(&str, usize, &str)] = &[
        ("\u{1F1F5}\u{1F1F1}", 2, "\u{1F1F5}\u{200B}\u{1F1F1}"), // flag: 🇵 🇱
        ("\u{1F44D}\u{1F3FD}", 4, "\u{1F44D}\u{200B}\u{1F3FD}"), // 👍🏽: hand, swatch
        ("1\u{FE0F}\u{20E3}", 1, "1\u{20E3}"),                   // keycap 1️⃣
        (
            "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}",
            6,
            "\u{1F468}\u{200B}\u{1F469}\u{200B}\u{1F467}",
        ), // family 👨‍👩‍👧
        ("\u{2764}\u{FE0F}", 1, "\u{2764}"),                     // ❤️ (VS16)
        ("\u{270C}\u{1F3FD}", 3, "\u{270C}\u{200B}\u{1F3FD}"),   // ✌🏽
        (
            "\u{1F469}\u{1F3FD}\u{200D}\u{1F4BB}",
            6,
            "\u{1F469}\u{200B}\u{1F3FD}\u{200B}\u{1F4BB}",
        ), // 👩🏽‍💻
        (
            "\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}",
            3,
            "\u{1F3F3}\u{200B}\u{1F308}",
        ), // 🏳️‍🌈
        ("a\u{1F3FD}", 3, "a\u{200B}\u{1F3FD}"),                 // a stray skin tone after a letter
    ];

    #[test]
    fn composed_emoji_are_measured_and_drawn_as_their_pieces() {
        for &(g, width, pieces) in COMPOSED {
            assert_eq!(g.graphemes(true).count(), 1, "{g:?} is one grapheme");
            assert_eq!(grapheme_width(g), width, "{g:?}");
            assert_eq!(display_width(g), width, "{g:?}");
            assert_eq!(display_form(g), pieces, "{g:?}");
        }
    }

    #[test]
    fn plain_text_cjk_and_single_emoji_keep_their_width_and_form() {
        for (s, width) in [
            ("abc", 3),
            ("世界", 4),
            ("\u{1F600}", 2), // 😀
            ("\u{1F44D}", 2), // 👍
            ("\u{2764}", 1),  // ❤ without VS16
            ("e\u{301}", 1),  // é decomposed
            (
                "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
                2,
            ), // 🏴 Scotland
            ("", 0),
        ] {
            assert_eq!(display_width(s), width, "{s:?}");
            assert!(matches!(display_form(s), Cow::Borrowed(_)), "{s:?}");
        }
        assert_eq!(display_width("a\tb"), 2, "a control character is not drawn");
    }

    #[test]
    fn the_display_form_has_exactly_the_measured_width_for_ratatui() {
        use ratatui::buffer::CellWidth;
        let mut samples: Vec<String> = COMPOSED.iter().map(|c| c.0.to_string()).collect();
        samples.push(COMPOSED.iter().map(|c| c.0).collect::<Vec<_>>().join(" x "));
        samples.push("Zo\u{EB} \u{1F1F5}\u{1F1F1}\u{1F1E9}\u{1F1EA} 世界 ok".to_string());
        for s in &samples {
            let drawn = display_form(s);
            // What ratatui's buffer will take for the drawn form, grapheme by grapheme.
            let ratatui: usize = drawn
                .graphemes(true)
                .map(|g| usize::from(g.cell_width()))
                .sum();
            assert_eq!(ratatui, display_width(s), "{s:?}");
            assert_eq!(display_width(&drawn), display_width(s), "{s:?}");
            assert_eq!(
                display_form(&drawn),
                drawn,
                "{s:?}: drawing it again changes nothing"
            );
        }
        // Truncation never cuts a composed emoji.
        let family = COMPOSED[3].0;
        assert_eq!(truncate_to_width(&format!("ab{family}"), 7), format!("ab"));
        assert_eq!(
            truncate_to_width(&format!("ab{family}"), 8),
            format!("ab{family}")
        );
    }

    #[test]
    fn names_are_normalised_and_checked() {
        assert_eq!(validate_name("  Alice   Smith "), Ok("Alice Smith".into()));
        assert_eq!(validate_name("   "), Err(NameError::Empty));
        assert_eq!(validate_name(&"x".repeat(25)), Err(NameError::TooLong));
        assert_eq!(validate_name(&"é".repeat(24)), Ok("é".repeat(24)));
        assert_eq!(validate_name("bob\u{1b}[31m"), Err(NameError::Invisible));
        assert_eq!(validate_name("bo\u{200B}b"), Err(NameError::Invisible));
        assert_eq!(validate_name("\u{3164}"), Err(NameError::Invisible));
        assert_eq!(validate_name("a\u{202E}b"), Err(NameError::Invisible));
        assert!(validate_name("猫").is_ok());
    }

    #[test]
    fn lookalike_names_share_a_key() {
        assert_eq!(name_key("Alice"), name_key("ALICE"));
        assert_eq!(name_key("alice"), name_key("\u{0430}lice"), "Cyrillic a");
        assert_ne!(name_key("alice"), name_key("alicia"));
    }

    #[test]
    fn cherokee_lookalikes_share_a_key_in_either_case() {
        // Lowercasing first turned the Latin-looking capital into a small letter the
        // confusable skeleton does not map, so "Ꭺlice" could sit beside "Alice".
        assert_eq!(
            name_key("Alice"),
            name_key("\u{13AA}lice"),
            "Cherokee capital GO"
        );
        assert_eq!(
            name_key("Alice"),
            name_key("\u{AB7A}lice"),
            "Cherokee small go"
        );
        assert_eq!(name_key("\u{13AA}\u{13B3}"), name_key("\u{AB7A}\u{AB83}"));
        assert_ne!(name_key("\u{13AA}"), name_key("\u{13AB}"));
    }

    #[test]
    fn a_capital_i_for_an_l_is_caught_by_the_look_alike_key() {
        // Lowercasing first makes "CarI" "cari", which the skeleton leaves alone.
        assert_ne!(name_key("CarI"), name_key("Carl"));
        assert_eq!(look_alike_key("CarI"), look_alike_key("Carl"));
        assert_eq!(look_alike_key("BiII"), look_alike_key("bill"));
        assert_eq!(look_alike_key("\u{1D04}ar\u{029F}"), look_alike_key("Carl"));
        // Different names stay different under both keys.
        for (a, b) in [("Carl", "Carla"), ("alice", "alicia"), ("Ian", "Jan")] {
            assert_ne!(name_key(a), name_key(b), "{a} {b}");
            assert_ne!(look_alike_key(a), look_alike_key(b), "{a} {b}");
        }
    }

    #[test]
    fn names_may_carry_accents_but_not_stacks_of_them() {
        assert_eq!(validate_name("Nguyễn"), Ok("Nguyễn".into()));
        // e + circumflex + dot below, decomposed: two marks on one letter.
        assert!(validate_name("Nguye\u{302}\u{323}n").is_ok());
        let zalgo = format!("e{}", "\u{301}".repeat(9));
        assert_eq!(validate_name(&zalgo), Err(NameError::StackedMarks));
        assert_eq!(validate_name("🎉 party"), Ok("🎉 party".into()));
    }

    #[test]
    fn blank_line_runs_are_tidied_for_display() {
        let flood = format!("top{}bottom", "\n".repeat(1990));
        assert_eq!(tidy_lines(&flood), "top\n\nbottom");
        assert_eq!(tidy_lines("\n\n  hi\n\n"), "  hi");
        assert_eq!(tidy_lines("a\n \n\t\nb"), "a\n \nb");
        assert!(matches!(tidy_lines("a\nb\n\nc"), Cow::Borrowed(_)));
    }

    #[test]
    fn small_capitals_share_a_key_with_their_letters() {
        // "ᴀʟɪᴄᴇ": small capitals the confusable skeleton does not list.
        assert_eq!(
            name_key("\u{1D00}\u{029F}\u{026A}\u{1D04}\u{1D07}"),
            name_key("Alice")
        );
        assert_eq!(name_key("\u{0299}\u{1D0F}\u{0299}"), name_key("bob"));
        assert_ne!(name_key("\u{1D00}\u{029F}"), name_key("alice"));
    }

    #[test]
    fn room_names() {
        assert_eq!(validate_room("#Rust-Lang"), Ok("rust-lang".into()));
        assert_eq!(validate_room(""), Err(RoomError::Empty));
        assert_eq!(validate_room("a b"), Err(RoomError::BadChar));
        assert_eq!(validate_room("../etc"), Err(RoomError::BadChar));
        assert_eq!(validate_room(&"r".repeat(33)), Err(RoomError::TooLong));
    }
}
