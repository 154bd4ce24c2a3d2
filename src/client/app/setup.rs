//! The first-run dialog: asks for a name and a colour (the six named ones with a live preview,
//! or `#rrggbb`) before the first connection, so the user never joins as a placeholder.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::client::editor::LineEditor;
use crate::protocol::Color;
use crate::text::validate_name;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupField {
    Name,
    Color,
}

/// The dialog's state: both fields, which one has focus, and the last problem found.
#[derive(Debug, Clone)]
pub struct Setup {
    pub name: LineEditor,
    /// 0..6 = the named colours, 6 = custom (`hex`).
    pub choice: usize,
    pub hex: LineEditor,
    pub focus: SetupField,
    pub error: Option<String>,
}

/// What a key did to the dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    Quit,
    Done { name: String, color: String },
}

/// The index of the custom colour choice.
pub const CUSTOM: usize = 6;

impl Setup {
    pub fn new(color: &str) -> Setup {
        let mut hex = LineEditor::new();
        let choice = match color.parse::<Color>() {
            Ok(Color::Rgb(..)) => {
                hex.set_text(color);
                CUSTOM
            }
            Ok(c) => Color::NAMED.iter().position(|n| *n == c).unwrap_or(0),
            Err(_) => 0,
        };
        Setup {
            name: LineEditor::new(),
            choice,
            hex,
            focus: SetupField::Name,
            error: None,
        }
    }

    /// The colour chosen now, if valid (the preview draws it).
    pub fn color(&self) -> Result<Color, String> {
        if self.choice < CUSTOM {
            Ok(Color::NAMED[self.choice])
        } else {
            self.hex.text().parse::<Color>().map_err(|e| e.to_string())
        }
    }

    pub fn paste(&mut self, text: &str) {
        // Line breaks become spaces (validation trims the ends); other controls go.
        let line: String = text
            .chars()
            .map(|c| {
                if c == '\n' || c == '\r' || c == '\t' {
                    ' '
                } else {
                    c
                }
            })
            .filter(|c| !c.is_control())
            .collect();
        match self.focus {
            SetupField::Name => self.name.insert_str(&line),
            SetupField::Color => {
                self.choice = CUSTOM;
                self.hex.insert_str(&line);
            }
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Outcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return Outcome::Quit;
        }
        if key.code == KeyCode::Esc {
            // From the colour, back to the name (what was typed stays); from the name, quit.
            if self.focus == SetupField::Color {
                self.focus = SetupField::Name;
                self.error = None;
                return Outcome::Continue;
            }
            return Outcome::Quit;
        }
        match self.focus {
            SetupField::Name => match key.code {
                KeyCode::Enter | KeyCode::Tab | KeyCode::Down => {
                    match validate_name(self.name.text()) {
                        Ok(name) => {
                            self.name.set_text(&name);
                            self.error = None;
                            self.focus = SetupField::Color;
                        }
                        Err(e) => self.error = Some(e.to_string()),
                    }
                }
                KeyCode::Char('w') if ctrl => self.name.kill_word_back(),
                KeyCode::Char('u') if ctrl => self.name.kill_to_start(),
                KeyCode::Char(c) if !ctrl => self.name.insert_char(c),
                KeyCode::Backspace => self.name.backspace(),
                KeyCode::Delete => self.name.delete(),
                KeyCode::Left => self.name.move_left(),
                KeyCode::Right => self.name.move_right(),
                KeyCode::Home => self.name.move_home(),
                KeyCode::End => self.name.move_end(),
                _ => {}
            },
            SetupField::Color => match key.code {
                KeyCode::Enter => {
                    let name = match validate_name(self.name.text()) {
                        Ok(name) => name,
                        Err(e) => {
                            self.error = Some(e.to_string());
                            self.focus = SetupField::Name;
                            return Outcome::Continue;
                        }
                    };
                    match self.color() {
                        Ok(color) => {
                            return Outcome::Done {
                                name,
                                color: color.to_string(),
                            };
                        }
                        Err(e) => self.error = Some(e),
                    }
                }
                KeyCode::Tab | KeyCode::BackTab | KeyCode::Up => self.focus = SetupField::Name,
                KeyCode::Left => self.choice = (self.choice + CUSTOM) % (CUSTOM + 1),
                KeyCode::Right => self.choice = (self.choice + 1) % (CUSTOM + 1),
                KeyCode::Char(c @ '1'..='6') if self.choice != CUSTOM => {
                    self.choice = c as usize - '1' as usize;
                    self.error = None;
                }
                KeyCode::Char('#') => {
                    self.choice = CUSTOM;
                    self.hex.set_text("#");
                    self.error = None;
                }
                KeyCode::Char(c) if self.choice == CUSTOM && c.is_ascii_hexdigit() => {
                    if self.hex.text().len() < 7 {
                        self.hex.insert_char(c.to_ascii_lowercase());
                    }
                    self.error = None;
                }
                KeyCode::Backspace if self.choice == CUSTOM => {
                    self.hex.backspace();
                    if self.hex.is_empty() {
                        self.choice = 0;
                    }
                }
                _ => {}
            },
        }
        Outcome::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(s: &mut Setup, code: KeyCode) -> Outcome {
        s.on_key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn type_str(s: &mut Setup, text: &str) {
        for c in text.chars() {
            press(s, KeyCode::Char(c));
        }
    }

    #[test]
    fn name_then_named_colour() {
        let mut s = Setup::new("1");
        type_str(&mut s, "  Ada  ");
        assert_eq!(press(&mut s, KeyCode::Enter), Outcome::Continue);
        assert_eq!(s.focus, SetupField::Color);
        type_str(&mut s, "3");
        assert_eq!(s.color(), Ok(Color::Magenta));
        assert_eq!(
            press(&mut s, KeyCode::Enter),
            Outcome::Done {
                name: "Ada".into(),
                color: "3".into()
            }
        );
    }

    #[test]
    fn arrows_cycle_and_hex_is_typed() {
        let mut s = Setup::new("6");
        type_str(&mut s, "bo");
        press(&mut s, KeyCode::Tab);
        press(&mut s, KeyCode::Right);
        assert_eq!(s.choice, CUSTOM);
        press(&mut s, KeyCode::Right);
        assert_eq!(s.color(), Ok(Color::Cyan));
        type_str(&mut s, "#FF66zz00");
        assert_eq!(s.color(), Ok(Color::Rgb(0xff, 0x66, 0)));
        assert_eq!(
            press(&mut s, KeyCode::Enter),
            Outcome::Done {
                name: "bo".into(),
                color: "#ff6600".into()
            }
        );
    }

    #[test]
    fn invalid_input_stays_with_an_error() {
        let mut s = Setup::new("1");
        press(&mut s, KeyCode::Enter);
        assert_eq!(s.focus, SetupField::Name);
        assert!(s.error.is_some());
        type_str(&mut s, "x");
        press(&mut s, KeyCode::Enter);
        type_str(&mut s, "#12");
        assert_eq!(press(&mut s, KeyCode::Enter), Outcome::Continue);
        assert!(s.error.is_some(), "a short hex is refused");
        // Esc on the colour goes back to the name, keeping it; Esc there quits.
        assert_eq!(press(&mut s, KeyCode::Esc), Outcome::Continue);
        assert_eq!(s.focus, SetupField::Name);
        assert_eq!(s.name.text(), "x");
        assert_eq!(press(&mut s, KeyCode::Esc), Outcome::Quit);
    }

    #[test]
    fn a_pasted_name_keeps_its_words_apart() {
        let mut s = Setup::new("1");
        s.paste("Mary\nAnn\u{1b}");
        assert_eq!(s.name.text(), "Mary Ann");
    }
}
