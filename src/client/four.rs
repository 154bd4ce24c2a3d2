//! The hidden Connect Four screen as a pure state machine: whose turn, the column under the
//! cursor, what the status line says, against the computer or against another user. Time comes in
//! as `Instant`s and the computer's randomness from a caller-seeded `SmallRng`, so a game replays
//! exactly in tests. It never sends or draws: moves for a remote opponent come back as
//! [`Response::Send`] for the app to relay, theirs are fed in with [`FourScreen::remote_move`];
//! drawing lives in `ui::four`. The rules themselves are `crate::game::four`, which the server
//! shares.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::game::four::ai::{self, Level};
use crate::game::four::{COLS, Cell, Game, MoveError, Moves, Outcome, Player, ReplayError};

/// How long the computer "thinks" before its disc drops: long enough to see your own disc land
/// first. The search itself is bounded by its node budget, not by this.
pub const COMPUTER_PAUSE: Duration = Duration::from_millis(450);

/// Who the local user plays against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opponent {
    Computer(Level),
    /// Another user over the chat server; their moves arrive through the app.
    Remote(String),
}

/// Why a game against a remote player ended before a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// They declined the invitation.
    Declined,
    /// They left the game (or were gone longer than the server waits): a forfeit.
    Left,
    /// Our own connection or the server ended it.
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// We invited a remote player and wait for their answer.
    Inviting,
    Playing,
    /// The board shows a result.
    Over,
    /// A remote game that stopped without a result.
    Ended(EndReason),
}

/// What a key means to the game (see [`key_to_input`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Left,
    Right,
    /// Put the cursor on this column (0-based).
    Column(u8),
    /// Drop a disc in the cursor's column.
    Drop,
    /// Ask for (or accept) another game once this one is over.
    Rematch,
    /// Back to the chat.
    Quit,
}

/// What the app should do after [`FourScreen::handle`] or a remote event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Response {
    Unchanged,
    /// Redraw.
    Changed,
    /// Leave the game screen and show the chat again (a game in progress stays as it is).
    Quit,
    /// Relay this to the remote player, then redraw.
    Send(Request),
}

/// Messages for the remote player, which the app turns into protocol messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Our disc dropped into `col`; `seq` is its index in the move list (so a duplicate or a
    /// move from a stale state can be recognised).
    Move { col: u8, seq: usize },
    /// Another game, please (or: yes, another game).
    Rematch,
}

/// Wins, losses and draws against the current opponent since the screen opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub won: u32,
    pub lost: u32,
    pub drawn: u32,
}

/// Maps a key to the game; `None` for keys it does not use, releases, and chords with Ctrl or
/// Alt (so Ctrl-C and the app's other bindings keep working).
///
/// ←/→ (or h/l) move the cursor, 1–7 put it on a column, Enter/Space/↓ (or j) drop, r asks for
/// a rematch, q/Esc go back to the chat.
pub fn key_to_input(key: KeyEvent) -> Option<Input> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let chord = KeyModifiers::CONTROL
        | KeyModifiers::ALT
        | KeyModifiers::SUPER
        | KeyModifiers::HYPER
        | KeyModifiers::META;
    if key.modifiers.intersects(chord) {
        return None;
    }
    Some(match key.code {
        KeyCode::Left | KeyCode::Char('h' | 'H') => Input::Left,
        KeyCode::Right | KeyCode::Char('l' | 'L') => Input::Right,
        KeyCode::Char(c @ '1'..='7') => Input::Column(c as u8 - b'1'),
        KeyCode::Enter | KeyCode::Down | KeyCode::Char(' ' | 'j' | 'J') => Input::Drop,
        KeyCode::Char('r' | 'R') => Input::Rematch,
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => Input::Quit,
        _ => return None,
    })
}

/// One Connect Four screen: the current game, the opponent, and the session's tally.
#[derive(Debug, Clone)]
pub struct FourScreen {
    game: Game,
    /// The side the local user plays in the current game (sides swap on each rematch).
    me: Player,
    opponent: Opponent,
    phase: Phase,
    /// The column under the cursor, 0-based.
    cursor: u8,
    /// The computer's move falls due at this time; `Some` exactly while it is the computer's turn.
    computer_due: Option<Instant>,
    rng: SmallRng,
    tally: Tally,
    /// We asked the remote player for a rematch and wait for their answer.
    rematch_asked: bool,
    /// The remote player asked for a rematch.
    rematch_offered: bool,
    /// A one-off remark (a refused drop) shown in the status line until the next key.
    notice: Option<String>,
}

impl FourScreen {
    /// A game against the computer; `me` says who drops first. `rng` seeds the computer's
    /// choices between equally good moves.
    pub fn vs_computer(level: Level, me: Player, rng: SmallRng, now: Instant) -> FourScreen {
        let mut screen = FourScreen::new(Opponent::Computer(level), me, Phase::Playing, rng);
        screen.schedule_computer(now);
        screen
    }

    /// A game against a remote player. `invited`: we sent the invitation and wait for their
    /// answer; otherwise we accepted theirs and play at once.
    pub fn vs_remote(name: &str, me: Player, invited: bool, rng: SmallRng) -> FourScreen {
        let phase = if invited {
            Phase::Inviting
        } else {
            Phase::Playing
        };
        FourScreen::new(Opponent::Remote(name.to_string()), me, phase, rng)
    }

    /// A remote game picked up again from its move list (after a reconnect, from the server's
    /// or the peer's copy). A list that does not replay is refused.
    pub fn resume_remote(
        name: &str,
        me: Player,
        moves: &Moves,
        rng: SmallRng,
    ) -> Result<FourScreen, ReplayError> {
        let game = Game::replay(moves)?;
        let mut screen = FourScreen::vs_remote(name, me, false, rng);
        screen.game = game;
        if screen.game.is_over() {
            screen.phase = Phase::Over;
        }
        if let Some(last) = screen.game.last_move() {
            screen.cursor = last.col;
        }
        Ok(screen)
    }

    fn new(opponent: Opponent, me: Player, phase: Phase, rng: SmallRng) -> FourScreen {
        FourScreen {
            game: Game::new(),
            me,
            opponent,
            phase,
            cursor: COLS / 2,
            computer_due: None,
            rng,
            tally: Tally::default(),
            rematch_asked: false,
            rematch_offered: false,
            notice: None,
        }
    }

    pub fn game(&self) -> &Game {
        &self.game
    }

    pub fn me(&self) -> Player {
        self.me
    }

    pub fn opponent(&self) -> &Opponent {
        &self.opponent
    }

    /// The opponent as the screen names them: "computer" or the user's name.
    pub fn opponent_name(&self) -> &str {
        match &self.opponent {
            Opponent::Computer(_) => "computer",
            Opponent::Remote(name) => name,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn cursor(&self) -> u8 {
        self.cursor
    }

    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Whether the local user may drop a disc now.
    pub fn my_turn(&self) -> bool {
        self.phase == Phase::Playing && self.game.to_move() == self.me
    }

    /// The last disc dropped, to highlight.
    pub fn last_move(&self) -> Option<Cell> {
        self.game.last_move()
    }

    /// The cells of the winning four(s), to highlight (empty unless someone won).
    pub fn winning_cells(&self) -> Vec<Cell> {
        self.game.winning_cells()
    }

    /// When [`tick`](Self::tick) next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.computer_due
    }

    /// Plays the computer's move once it is due; returns whether anything changed. The search
    /// is bounded by the level's node budget, so this never stalls the caller for long.
    pub fn tick(&mut self, now: Instant) -> bool {
        let Some(due) = self.computer_due else {
            return false;
        };
        if now < due {
            return false;
        }
        self.computer_due = None;
        let Opponent::Computer(level) = self.opponent else {
            return false;
        };
        let Some(choice) = ai::choose(self.game.board(), level, &mut self.rng) else {
            return false;
        };
        if self.game.play(choice.col).is_err() {
            return false;
        }
        self.after_move();
        true
    }

    /// Handles one key's meaning at time `now`.
    pub fn handle(&mut self, input: Input, now: Instant) -> Response {
        let had_notice = self.notice.take().is_some();
        let changed = |c: bool| {
            if c || had_notice {
                Response::Changed
            } else {
                Response::Unchanged
            }
        };
        match input {
            Input::Left => {
                self.cursor = (self.cursor + COLS - 1) % COLS;
                Response::Changed
            }
            Input::Right => {
                self.cursor = (self.cursor + 1) % COLS;
                Response::Changed
            }
            Input::Column(col) => {
                let moved = col < COLS && col != self.cursor;
                if col < COLS {
                    self.cursor = col;
                }
                changed(moved)
            }
            Input::Drop => self.drop_at_cursor(now),
            Input::Rematch => match self.rematch(now) {
                Some(response) => response,
                None => changed(false),
            },
            Input::Quit => Response::Quit,
        }
    }

    fn drop_at_cursor(&mut self, now: Instant) -> Response {
        if self.phase != Phase::Playing {
            return Response::Unchanged;
        }
        if self.game.to_move() != self.me {
            self.notice = Some(format!("wait for {}", self.opponent_name()));
            return Response::Changed;
        }
        let seq = self.game.moves().len();
        match self.game.play(self.cursor) {
            Ok(_) => {}
            Err(MoveError::ColumnFull(col)) => {
                self.notice = Some(format!("column {} is full", col + 1));
                return Response::Changed;
            }
            Err(_) => return Response::Unchanged,
        }
        let col = self.cursor;
        self.after_move();
        self.schedule_computer(now);
        match self.opponent {
            Opponent::Remote(_) => Response::Send(Request::Move { col, seq }),
            Opponent::Computer(_) => Response::Changed,
        }
    }

    /// Bookkeeping after any disc drops: the result and the tally.
    fn after_move(&mut self) {
        match self.game.outcome() {
            Outcome::InProgress => {}
            Outcome::Won(p) if p == self.me => {
                self.tally.won += 1;
                self.phase = Phase::Over;
            }
            Outcome::Won(_) => {
                self.tally.lost += 1;
                self.phase = Phase::Over;
            }
            Outcome::Draw => {
                self.tally.drawn += 1;
                self.phase = Phase::Over;
            }
        }
    }

    fn schedule_computer(&mut self, now: Instant) {
        self.computer_due = (matches!(self.opponent, Opponent::Computer(_))
            && self.phase == Phase::Playing
            && self.game.to_move() != self.me)
            .then(|| now + COMPUTER_PAUSE);
    }

    /// `r` after a game: against the computer a new game starts at once; against a remote
    /// player it is asked for (or, if they asked first, accepted).
    fn rematch(&mut self, now: Instant) -> Option<Response> {
        if self.phase != Phase::Over {
            return None;
        }
        match self.opponent {
            Opponent::Computer(_) => {
                self.new_game(now);
                Some(Response::Changed)
            }
            Opponent::Remote(_) if self.rematch_asked => None,
            Opponent::Remote(_) => {
                if self.rematch_offered {
                    self.new_game(now);
                } else {
                    self.rematch_asked = true;
                }
                Some(Response::Send(Request::Rematch))
            }
        }
    }

    /// The next game: sides swap, so each player drops first in turn.
    fn new_game(&mut self, now: Instant) {
        self.game = Game::new();
        self.me = self.me.other();
        self.phase = Phase::Playing;
        self.cursor = COLS / 2;
        self.rematch_asked = false;
        self.rematch_offered = false;
        self.notice = None;
        self.schedule_computer(now);
    }

    /// The remote player accepted our invitation.
    pub fn remote_accepted(&mut self) -> Response {
        if self.phase != Phase::Inviting {
            return Response::Unchanged;
        }
        self.phase = Phase::Playing;
        Response::Changed
    }

    /// The remote player dropped a disc into `col` as move number `seq` (its index in the move
    /// list). A move out of turn or against the rules is refused and changes nothing; a repeat
    /// of the last move (a resend after a reconnect) is ignored.
    pub fn remote_move(&mut self, col: u8, seq: usize) -> Result<Response, RemoteMoveError> {
        if !matches!(self.opponent, Opponent::Remote(_)) {
            return Err(RemoteMoveError::NotRemote);
        }
        let played = self.game.moves().len();
        if seq + 1 == played && self.game.moves().as_slice().last() == Some(&col) {
            return Ok(Response::Unchanged);
        }
        if seq != played {
            return Err(RemoteMoveError::OutOfSequence {
                expected: played,
                got: seq,
            });
        }
        if self.phase != Phase::Playing || self.game.to_move() == self.me {
            return Err(RemoteMoveError::NotTheirTurn);
        }
        self.game.play(col).map_err(RemoteMoveError::Illegal)?;
        self.after_move();
        Ok(Response::Changed)
    }

    /// The remote player asked for another game (or answered ours).
    pub fn remote_rematch(&mut self, now: Instant) -> Response {
        if self.phase != Phase::Over {
            return Response::Unchanged;
        }
        if self.rematch_asked {
            self.new_game(now);
        } else {
            self.rematch_offered = true;
        }
        Response::Changed
    }

    /// The remote game ended: declined, left (a forfeit if it was still being played), or
    /// cancelled. A finished board keeps showing its result.
    pub fn remote_ended(&mut self, reason: EndReason) -> Response {
        if !matches!(self.opponent, Opponent::Remote(_)) || matches!(self.phase, Phase::Ended(_)) {
            return Response::Unchanged;
        }
        if self.phase == Phase::Playing && reason == EndReason::Left {
            self.tally.won += 1;
        }
        self.rematch_asked = false;
        self.rematch_offered = false;
        self.phase = Phase::Ended(reason);
        Response::Changed
    }

    /// The result of a finished game in words, and its tone.
    fn result(&self) -> Option<(String, Tone)> {
        let them = self.opponent_name();
        Some(match self.game.outcome() {
            Outcome::InProgress => return None,
            Outcome::Won(p) if p == self.me => ("you win!".to_string(), Tone::Won),
            Outcome::Won(_) if matches!(self.opponent, Opponent::Remote(_)) => {
                (format!("{them} wins"), Tone::Lost)
            }
            Outcome::Won(_) => ("the computer wins".to_string(), Tone::Lost),
            Outcome::Draw => ("a draw: the board is full".to_string(), Tone::Waiting),
        })
    }

    /// What the status line under the board says.
    pub fn status(&self) -> Status {
        if let Some(notice) = &self.notice {
            return Status::new(notice.clone(), Tone::Warning);
        }
        let them = self.opponent_name();
        let remote = matches!(self.opponent, Opponent::Remote(_));
        match self.phase {
            Phase::Inviting => Status::new(format!("waiting for {them} to accept…"), Tone::Waiting),
            Phase::Playing if self.game.to_move() == self.me => {
                Status::new("your turn".to_string(), Tone::YourTurn)
            }
            Phase::Playing if remote => Status::new(format!("{them}'s turn…"), Tone::Waiting),
            Phase::Playing => Status::new("the computer is thinking…".to_string(), Tone::Waiting),
            Phase::Over => {
                let (result, tone) = self.result().unwrap_or_default();
                if self.rematch_asked {
                    Status::new(
                        format!("{result} · rematch asked, waiting for {them}…"),
                        tone,
                    )
                } else if self.rematch_offered {
                    Status::new(format!("{result} · {them} wants a rematch"), tone)
                } else {
                    Status::new(result, tone)
                }
            }
            Phase::Ended(reason) => {
                if let Some((result, tone)) = self.result() {
                    let gone = match reason {
                        EndReason::Declined => "declined a rematch",
                        EndReason::Left => "left",
                        EndReason::Cancelled => "is gone",
                    };
                    return Status::new(format!("{result} · {them} {gone}"), tone);
                }
                let text = match reason {
                    EndReason::Declined => format!("{them} declined the game"),
                    EndReason::Left => format!("{them} left the game: you win by forfeit"),
                    EndReason::Cancelled => "the game was cancelled".to_string(),
                };
                Status::new(text, Tone::Warning)
            }
        }
    }

    /// The keys that do something now, most useful first (the renderer shows as many as fit).
    pub fn hints(&self) -> &'static [(&'static str, &'static str)] {
        match self.phase {
            Phase::Playing if self.my_turn() => {
                &[("Enter", "drop"), ("←→ 1-7", "move"), ("q", "chat")]
            }
            Phase::Over if !self.rematch_asked => &[("r", "rematch"), ("q", "chat")],
            _ => &[("q", "chat")],
        }
    }
}

/// A remote move that was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RemoteMoveError {
    #[error("this game is not against a remote player")]
    NotRemote,
    #[error("it is not their turn")]
    NotTheirTurn,
    #[error("move {got} arrived where move {expected} was expected")]
    OutOfSequence { expected: usize, got: usize },
    #[error("illegal move: {0}")]
    Illegal(MoveError),
}

/// The status line: its text and how it should look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub tone: Tone,
}

impl Status {
    fn new(text: String, tone: Tone) -> Status {
        Status { text, tone }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    YourTurn,
    #[default]
    Waiting,
    Won,
    Lost,
    Warning,
}

#[cfg(test)]
mod tests;
