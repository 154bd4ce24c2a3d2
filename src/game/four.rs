//! Connect Four: a 7×6 board standing upright, discs drop to the lowest free cell of a column,
//! and four of one colour in a row (across, up, or on either diagonal) win. A game *is* its list
//! of moves: that list is what travels and is stored, and replaying it rebuilds the position and
//! refuses anything illegal, so client and server agree on the board and on who won.
//!
//! The board is a pair of bitboards, cheap to copy, which is what lets [`ai`] search it.

pub mod ai;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Columns on the board.
pub const COLS: u8 = 7;
/// Rows on the board.
pub const ROWS: u8 = 6;
/// Cells on the board, so also the longest game.
pub const CELLS: usize = (COLS as usize) * (ROWS as usize);
/// Bits per column in a bitboard: one per row and an always-empty one on top, so that shifting a
/// line across a column edge never finds four.
const H: u8 = ROWS + 1;
/// The bit of the bottom cell of every column.
const BOTTOM: u64 = {
    let mut b = 0;
    let mut c = 0;
    while c < COLS {
        b |= 1 << (c * H);
        c += 1;
    }
    b
};
/// The bits of every real cell (sentinels excluded).
const BOARD: u64 = BOTTOM * ((1 << ROWS) - 1);

/// Who plays: `First` drops the first disc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Player {
    First,
    Second,
}

impl Player {
    pub const fn other(self) -> Player {
        match self {
            Player::First => Player::Second,
            Player::Second => Player::First,
        }
    }

    const fn index(self) -> usize {
        match self {
            Player::First => 0,
            Player::Second => 1,
        }
    }
}

/// A cell of the board: `col` 0–6 from the left, `row` 0–5 from the bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    pub col: u8,
    pub row: u8,
}

impl Cell {
    pub const fn new(col: u8, row: u8) -> Cell {
        Cell { col, row }
    }

    const fn bit(self) -> u64 {
        1 << (self.col * H + self.row)
    }

    const fn from_index(i: u32) -> Cell {
        Cell {
            col: (i / H as u32) as u8,
            row: (i % H as u32) as u8,
        }
    }
}

/// Why a move is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("there is no column {}: columns are 1 to {COLS}", .0 + 1)]
    NoSuchColumn(u8),
    #[error("column {} is full", .0 + 1)]
    ColumnFull(u8),
    #[error("the game is over")]
    GameOver,
}

/// The discs on the board and whose turn it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Board {
    /// One bitboard per player (bit `col * 7 + row`).
    discs: [u64; 2],
    /// Discs on the board; even means it is `First`'s turn.
    count: u8,
}

impl Board {
    pub const fn new() -> Board {
        Board {
            discs: [0, 0],
            count: 0,
        }
    }

    /// Whose turn it is (the board does not know whether someone has already won).
    pub const fn to_move(&self) -> Player {
        if self.count.is_multiple_of(2) {
            Player::First
        } else {
            Player::Second
        }
    }

    /// Discs on the board.
    pub const fn discs_played(&self) -> u8 {
        self.count
    }

    pub fn disc_at(&self, cell: Cell) -> Option<Player> {
        if cell.col >= COLS || cell.row >= ROWS {
            return None;
        }
        if self.discs[0] & cell.bit() != 0 {
            Some(Player::First)
        } else if self.discs[1] & cell.bit() != 0 {
            Some(Player::Second)
        } else {
            None
        }
    }

    /// How many discs column `col` holds.
    pub fn height(&self, col: u8) -> u8 {
        if col >= COLS {
            return 0;
        }
        let column = (self.mask() >> (col * H)) & ((1 << ROWS) - 1);
        column.count_ones() as u8
    }

    /// Whether a disc may drop into `col` (the game being over is not the board's business).
    pub fn can_drop(&self, col: u8) -> bool {
        col < COLS && self.height(col) < ROWS
    }

    /// The columns a disc may drop into, left to right.
    pub fn open_columns(&self) -> impl Iterator<Item = u8> + '_ {
        (0..COLS).filter(|&c| self.can_drop(c))
    }

    pub const fn is_full(&self) -> bool {
        self.count as usize == CELLS
    }

    /// Drops a disc of the player to move into `col`; returns where it landed.
    pub fn drop_disc(&mut self, col: u8) -> Result<Cell, MoveError> {
        if col >= COLS {
            return Err(MoveError::NoSuchColumn(col));
        }
        let row = self.height(col);
        if row >= ROWS {
            return Err(MoveError::ColumnFull(col));
        }
        let cell = Cell::new(col, row);
        self.discs[self.to_move().index()] |= cell.bit();
        self.count += 1;
        Ok(cell)
    }

    /// Whether `player` has four in a row somewhere.
    pub fn has_four(&self, player: Player) -> bool {
        let b = self.discs[player.index()];
        [1, H, H - 1, H + 1].into_iter().any(|d| {
            let m = b & (b >> d);
            m & (m >> (2 * d)) != 0
        })
    }

    /// Every cell that is part of one of `player`'s fours (more than four when lines cross or a
    /// line is longer), bottom-left first.
    pub fn winning_cells(&self, player: Player) -> Vec<Cell> {
        let b = self.discs[player.index()];
        let mut cells = 0u64;
        for d in [1, H, H - 1, H + 1] {
            let m = b & (b >> d);
            let starts = m & (m >> (2 * d));
            for k in 0..4 {
                cells |= starts << (k * d);
            }
        }
        bits(cells).collect()
    }

    /// Whether dropping into `col` now would give the player to move four in a row.
    pub fn wins_by_dropping(&self, col: u8) -> bool {
        col < COLS && self.immediate_wins(self.to_move()) & column_bits(col) != 0
    }

    pub(crate) fn mask(&self) -> u64 {
        self.discs[0] | self.discs[1]
    }

    pub(crate) fn bits_of(&self, player: Player) -> u64 {
        self.discs[player.index()]
    }

    /// The empty cells where `player` would complete a four, reachable now or not.
    pub(crate) fn threats(&self, player: Player) -> u64 {
        threats(self.bits_of(player), self.mask())
    }

    /// The cells a disc dropped now would land on, one per open column.
    pub(crate) fn landing_cells(&self) -> u64 {
        (self.mask() + BOTTOM) & BOARD
    }

    /// Landing cells where `player` would complete a four.
    pub(crate) fn immediate_wins(&self, player: Player) -> u64 {
        self.threats(player) & self.landing_cells()
    }
}

/// The bits of column `col`.
pub(crate) const fn column_bits(col: u8) -> u64 {
    ((1 << ROWS) - 1) << (col * H)
}

/// The cells of a bitboard, lowest bit first (left column first, bottom up).
fn bits(mut b: u64) -> impl Iterator<Item = Cell> {
    std::iter::from_fn(move || {
        if b == 0 {
            return None;
        }
        let i = b.trailing_zeros();
        b &= b - 1;
        Some(Cell::from_index(i))
    })
}

/// Empty cells that would complete a four of the discs `p`, given every disc `mask`.
fn threats(p: u64, mask: u64) -> u64 {
    // Three below, vertically.
    let mut r = (p << 1) & (p << 2) & (p << 3);
    for d in [H, H - 1, H + 1] {
        // Two on one side and one or two on the other, in each line direction.
        let mut t = (p << d) & (p << (2 * d));
        r |= t & (p << (3 * d));
        r |= t & (p >> d);
        t = (p >> d) & (p >> (2 * d));
        r |= t & (p << d);
        r |= t & (p >> (3 * d));
    }
    r & BOARD & !mask
}

/// How a game stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    InProgress,
    Won(Player),
    Draw,
}

/// A game: its moves so far and the board they made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Game {
    board: Board,
    moves: Moves,
}

impl Game {
    pub fn new() -> Game {
        Game::default()
    }

    /// Replays `moves` from the empty board; the first illegal move is refused with its place
    /// in the list (a game recorded elsewhere may have been tampered with).
    pub fn replay(moves: &Moves) -> Result<Game, ReplayError> {
        let mut game = Game::new();
        for (index, &col) in moves.0.iter().enumerate() {
            game.play(col)
                .map_err(|error| ReplayError { index, error })?;
        }
        Ok(game)
    }

    pub fn board(&self) -> &Board {
        &self.board
    }

    pub fn moves(&self) -> &Moves {
        &self.moves
    }

    pub fn to_move(&self) -> Player {
        self.board.to_move()
    }

    pub fn outcome(&self) -> Outcome {
        let last = self.board.to_move().other();
        if self.board.discs_played() > 0 && self.board.has_four(last) {
            Outcome::Won(last)
        } else if self.board.is_full() {
            Outcome::Draw
        } else {
            Outcome::InProgress
        }
    }

    pub fn is_over(&self) -> bool {
        self.outcome() != Outcome::InProgress
    }

    /// Where the last disc landed.
    pub fn last_move(&self) -> Option<Cell> {
        let &col = self.moves.0.last()?;
        Some(Cell::new(col, self.board.height(col) - 1))
    }

    /// The cells of the winner's fours (empty while nobody has won).
    pub fn winning_cells(&self) -> Vec<Cell> {
        match self.outcome() {
            Outcome::Won(player) => self.board.winning_cells(player),
            _ => Vec::new(),
        }
    }

    /// Whether the player to move may drop into `col` now.
    pub fn check(&self, col: u8) -> Result<(), MoveError> {
        if self.is_over() {
            return Err(MoveError::GameOver);
        }
        if col >= COLS {
            return Err(MoveError::NoSuchColumn(col));
        }
        if !self.board.can_drop(col) {
            return Err(MoveError::ColumnFull(col));
        }
        Ok(())
    }

    /// Drops the next disc into `col`; returns where it landed.
    pub fn play(&mut self, col: u8) -> Result<Cell, MoveError> {
        self.check(col)?;
        let cell = self.board.drop_disc(col)?;
        self.moves.0.push(col);
        Ok(cell)
    }
}

/// A move list that does not replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("move {} of the list: {error}", .index + 1)]
pub struct ReplayError {
    /// Index (0-based) of the refused move.
    pub index: usize,
    pub error: MoveError,
}

/// The columns played, in order (0-based). On the wire and in storage it is a string of
/// 1-based column digits, `"4453"`: short, readable, and at most 42 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Moves(Vec<u8>);

impl Moves {
    pub fn new() -> Moves {
        Moves::default()
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Moves {
    /// Any columns; whether they make a game is for [`Game::replay`] to say.
    fn from(cols: Vec<u8>) -> Moves {
        Moves(cols)
    }
}

impl fmt::Display for Moves {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &c in &self.0 {
            write!(f, "{}", c + 1)?;
        }
        Ok(())
    }
}

/// Why a move-list string does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MovesParseError {
    #[error("a move list has at most {CELLS} moves")]
    TooLong,
    #[error("a move list is made of the digits 1 to {COLS}, not {0:?}")]
    BadChar(char),
}

impl FromStr for Moves {
    type Err = MovesParseError;

    fn from_str(s: &str) -> Result<Moves, MovesParseError> {
        if s.len() > CELLS {
            return Err(MovesParseError::TooLong);
        }
        s.chars()
            .map(|c| match c.to_digit(10) {
                Some(d @ 1..=7) => Ok(d as u8 - 1),
                _ => Err(MovesParseError::BadChar(c)),
            })
            .collect::<Result<Vec<u8>, _>>()
            .map(Moves)
    }
}

impl TryFrom<String> for Moves {
    type Error = MovesParseError;

    fn try_from(s: String) -> Result<Moves, MovesParseError> {
        s.parse()
    }
}

impl From<Moves> for String {
    fn from(m: Moves) -> String {
        m.to_string()
    }
}

#[cfg(test)]
mod tests;
