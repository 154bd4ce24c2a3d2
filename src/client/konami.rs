//! Spots a key sequence (the Konami code ↑ ↑ ↓ ↓ ← → ← → b a) in the keys typed in the chat.
//! Pure: it only counts how much of the sequence the latest keys match, which tells the app
//! when a sequence begins (to remember the input bar) and when it completes (to put it back).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// ↑ ↑ ↓ ↓ ← → ← → b a.
pub const KONAMI: [KeyCode; 10] = [
    KeyCode::Up,
    KeyCode::Up,
    KeyCode::Down,
    KeyCode::Down,
    KeyCode::Left,
    KeyCode::Right,
    KeyCode::Left,
    KeyCode::Right,
    KeyCode::Char('b'),
    KeyCode::Char('a'),
];

/// How far the latest keys have come into a fixed sequence of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySequence {
    keys: &'static [KeyCode],
    /// How many keys of `keys` the latest keys match, always less than `keys.len()`.
    progress: usize,
}

impl KeySequence {
    pub const fn new(keys: &'static [KeyCode]) -> KeySequence {
        KeySequence { keys, progress: 0 }
    }

    pub const fn konami() -> KeySequence {
        KeySequence::new(&KONAMI)
    }

    /// How many of the latest keys belong to the sequence being typed (0: none).
    pub fn progress(&self) -> usize {
        self.progress
    }

    /// Forgets any partial sequence (e.g. after a paste).
    pub fn reset(&mut self) {
        self.progress = 0;
    }

    /// Whether `key` could begin the sequence (so a caller knows when to remember the state
    /// before it).
    pub fn starts_with(&self, key: KeyEvent) -> bool {
        self.keys
            .first()
            .is_some_and(|k| normalize(key) == Some(*k))
    }

    /// Feeds one pressed key; returns `true` when it completes the sequence (which then starts
    /// over). A key that breaks the sequence does not waste the keys before it: if they end
    /// with a start of the sequence (↑ ↑ ↑ ↓ …), matching goes on from there.
    pub fn push(&mut self, key: KeyEvent) -> bool {
        let Some(code) = normalize(key) else {
            self.progress = 0;
            return false;
        };
        // The longest start of the sequence that the matched keys plus this one end with.
        let matched = &self.keys[..self.progress];
        self.progress = (0..=matched.len())
            .rev()
            .find(|&len| self.keys.get(len) == Some(&code) && matched.ends_with(&self.keys[..len]))
            .map_or(0, |len| len + 1);
        if self.progress == self.keys.len() {
            self.progress = 0;
            return true;
        }
        false
    }
}

/// The key as the sequence compares it: letters in lower case (Shift or Caps Lock may be on);
/// anything with Ctrl or Alt, and shifted arrows (which scroll), never match.
fn normalize(key: KeyEvent) -> Option<KeyCode> {
    if key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SUPER)
    {
        return None;
    }
    match key.code {
        KeyCode::Char(c) => Some(KeyCode::Char(c.to_ascii_lowercase())),
        _ if key.modifiers.contains(KeyModifiers::SHIFT) => None,
        code => Some(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    /// Feeds keys; returns after which key (1-based) the sequence completed, if any.
    fn feed(seq: &mut KeySequence, keys: &[KeyCode]) -> Vec<usize> {
        keys.iter()
            .enumerate()
            .filter(|(_, code)| seq.push(k(**code)))
            .map(|(i, _)| i + 1)
            .collect()
    }

    use KeyCode::{Char, Down, Left, Right, Up};

    #[test]
    fn the_konami_code_completes_on_its_last_key() {
        let mut seq = KeySequence::konami();
        assert_eq!(feed(&mut seq, &KONAMI[..9]), [] as [usize; 0]);
        assert_eq!(seq.progress(), 9);
        assert!(seq.push(k(Char('a'))));
        assert_eq!(seq.progress(), 0, "it starts over after completing");
    }

    #[test]
    fn a_broken_sequence_resets() {
        let mut seq = KeySequence::konami();
        feed(&mut seq, &[Up, Up, Down, Down, Left]);
        assert_eq!(seq.progress(), 5);
        assert!(!seq.push(k(Char('x'))));
        assert_eq!(seq.progress(), 0);
        // The rest of the code alone does not complete it.
        assert!(feed(&mut seq, &[Right, Left, Right, Char('b'), Char('a')]).is_empty());
    }

    #[test]
    fn a_sequence_can_restart_midway() {
        let mut seq = KeySequence::konami();
        // ↑ ↑ ↑: the last two are still a good start.
        let keys = [
            Up,
            Up,
            Up,
            Down,
            Down,
            Left,
            Right,
            Left,
            Right,
            Char('b'),
            Char('a'),
        ];
        assert_eq!(feed(&mut seq, &keys), [11]);
        // ↑ ↑ ↓ ↓ ↑ ↑ ↓ ↓ …: the second ↑ ↑ begins again.
        let keys = [
            Up,
            Up,
            Down,
            Down,
            Up,
            Up,
            Down,
            Down,
            Left,
            Right,
            Left,
            Right,
            Char('b'),
            Char('a'),
        ];
        assert_eq!(feed(&mut seq, &keys), [14]);
        // A broken key that is itself a start: ↑ ↑ ↓ ↑ → progress 1.
        feed(&mut seq, &[Up, Up, Down, Up]);
        assert_eq!(seq.progress(), 1);
    }

    #[test]
    fn twice_in_a_row_completes_twice() {
        let mut seq = KeySequence::konami();
        let mut keys = KONAMI.to_vec();
        keys.extend(KONAMI);
        assert_eq!(feed(&mut seq, &keys), [10, 20]);
    }

    #[test]
    fn letters_ignore_case_but_chords_and_shifted_arrows_break() {
        let mut seq = KeySequence::konami();
        feed(&mut seq, &KONAMI[..8]);
        assert!(!seq.push(KeyEvent::new(Char('B'), KeyModifiers::SHIFT)));
        assert!(seq.push(KeyEvent::new(Char('A'), KeyModifiers::SHIFT)));

        feed(&mut seq, &KONAMI[..8]);
        assert!(!seq.push(KeyEvent::new(Char('b'), KeyModifiers::CONTROL)));
        assert_eq!(seq.progress(), 0);

        feed(&mut seq, &[Up]);
        assert!(!seq.push(KeyEvent::new(Up, KeyModifiers::SHIFT)));
        assert_eq!(seq.progress(), 0, "Shift-↑ scrolls; it is not ↑");
    }

    #[test]
    fn only_the_first_key_starts_it() {
        let seq = KeySequence::konami();
        assert!(seq.starts_with(k(Up)));
        assert!(!seq.starts_with(k(Down)));
        assert!(!seq.starts_with(KeyEvent::new(Up, KeyModifiers::SHIFT)));
    }
}
