//! The computer player: negamax with alpha-beta pruning over the bitboards, deepened one ply at a
//! time until a budget of searched positions runs out. Counting positions instead of reading a
//! clock keeps a move's cost bounded on the UI thread and makes every choice reproducible: the
//! same board, level and seed always give the same column.

use rand::Rng;

use super::{BOARD, Board, COLS, H, Player, ROWS, column_bits};

/// How hard the computer plays: how many positions it may look at per move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Level {
    /// A short look ahead; still takes a win and blocks one, but walks into traps.
    Easy,
    #[default]
    Normal,
    Hard,
}

impl Level {
    /// Positions searched per move, at most.
    pub const fn budget(self) -> u64 {
        match self {
            Level::Easy => 300,
            Level::Normal => 20_000,
            Level::Hard => 100_000,
        }
    }
}

/// A column the computer chose, and what it cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub col: u8,
    /// Positions searched.
    pub nodes: u64,
    /// The deepest search (in plies) that finished.
    pub depth: u8,
    /// How the position looks for the computer after the move: above [`WIN_SOON`] it has found a
    /// forced win, below `-WIN_SOON` a forced loss.
    pub score: i32,
}

/// A win now scores `WIN`; each ply before it costs one, so sooner wins score higher.
const WIN: i32 = 1_000_000;
/// Scores beyond this are proven wins (or, negated, losses).
pub const WIN_SOON: i32 = WIN - 100;

/// Root moves scoring within this much of the best are equally good to choose from (less than
/// one disc nearer the centre), so the computer does not play the same game every time.
const NEAR: i32 = 3;

/// Columns from the centre out: the centre takes part in the most fours.
const CENTRE_FIRST: [u8; COLS as usize] = [3, 2, 4, 1, 5, 0, 6];

/// Chooses a column for the player to move, or `None` when no disc can drop.
pub fn choose(board: &Board, level: Level, rng: &mut impl Rng) -> Option<Choice> {
    choose_within(board, level.budget(), rng)
}

/// [`choose`] with an explicit budget of positions (at least the moves at the root are looked
/// at, so a tiny budget still takes a win and blocks a loss).
pub fn choose_within(board: &Board, budget: u64, rng: &mut impl Rng) -> Option<Choice> {
    let me = board.to_move();
    let mut order = root_order(board, rng);
    if order.is_empty() {
        return None;
    }
    let mut search = Search {
        nodes: 0,
        budget,
        aborted: false,
    };
    // Win now if we can.
    if let Some(&col) = order.iter().find(|&&c| board.wins_by_dropping(c)) {
        return Some(Choice {
            col,
            nodes: 1,
            depth: 1,
            score: WIN - 1,
        });
    }
    // A single threat of the opponent must be blocked; against two, nothing helps.
    let theirs = board.immediate_wins(me.other());
    if theirs != 0 {
        order.retain(|&c| theirs & column_bits(c) != 0);
        if theirs.count_ones() > 1 {
            return Some(Choice {
                col: order[0],
                nodes: 1,
                depth: 1,
                score: -(WIN - 2),
            });
        }
    }
    // Avoid dropping under a cell where the opponent would complete four, while anything else
    // is left.
    let safe: Vec<u8> = order
        .iter()
        .copied()
        .filter(|&c| !gives_away(board, c))
        .collect();
    if !safe.is_empty() {
        order = safe;
    }
    if order.len() == 1 {
        return Some(Choice {
            col: order[0],
            nodes: 1,
            depth: 1,
            score: 0,
        });
    }
    let empty = (super::CELLS as u8) - board.discs_played();
    let mut best = Choice {
        col: order[0],
        nodes: 0,
        depth: 0,
        score: 0,
    };
    // The moves of the last finished depth that score within `NEAR` of the best (exactly
    // known: they are searched with a window that wide), to pick one of at random.
    let mut near: Vec<(u8, i32)> = Vec::new();
    for depth in 1..=empty {
        let mut alpha = -WIN;
        let mut scored: Vec<(u8, i32)> = Vec::with_capacity(order.len());
        for &col in &order {
            let mut child = *board;
            child.drop_disc(col).expect("root moves are open columns");
            let floor = alpha.saturating_sub(NEAR).max(-WIN);
            let score = -search.negamax(&child, depth - 1, 1, -WIN, -floor);
            if search.aborted {
                break;
            }
            scored.push((col, score));
            alpha = alpha.max(score);
        }
        if search.aborted {
            break;
        }
        let (col, score) = scored
            .iter()
            .copied()
            .max_by_key(|&(_, s)| s)
            .expect("at least one root move");
        // Among proven wins or losses only the best distance counts.
        let margin = if score.abs() >= WIN_SOON { 0 } else { NEAR };
        near = scored
            .iter()
            .copied()
            .filter(|&(_, s)| s >= score - margin)
            .collect();
        best = Choice {
            col,
            nodes: search.nodes,
            depth,
            score,
        };
        if score.abs() >= WIN_SOON {
            break;
        }
        // Search the best move first next time: it makes the cut-offs come sooner.
        order.retain(|&c| c != col);
        order.insert(0, col);
    }
    if near.len() > 1 {
        (best.col, best.score) = near[rng.random_range(0..near.len())];
    }
    best.nodes = search.nodes;
    Some(best)
}

/// Whether dropping into `col` lets the opponent complete four on top of that disc.
fn gives_away(board: &Board, col: u8) -> bool {
    let mut after = *board;
    if after.drop_disc(col).is_err() {
        return false;
    }
    after.immediate_wins(after.to_move()) & column_bits(col) != 0
}

/// The open columns, centre first; a seeded coin decides between columns equally far from the
/// centre, so the computer does not play the same game every time.
fn root_order(board: &Board, rng: &mut impl Rng) -> Vec<u8> {
    let mut order: Vec<u8> = CENTRE_FIRST
        .iter()
        .copied()
        .filter(|&c| board.can_drop(c))
        .collect();
    for pair in [(2, 4), (1, 5), (0, 6)] {
        if rng.random_bool(0.5)
            && let (Some(a), Some(b)) = (
                order.iter().position(|&c| c == pair.0),
                order.iter().position(|&c| c == pair.1),
            )
        {
            order.swap(a, b);
        }
    }
    order
}

struct Search {
    nodes: u64,
    budget: u64,
    /// Set when the budget ran out; every score computed after it is meaningless.
    aborted: bool,
}

impl Search {
    /// The value of `board` for the player to move, searching `depth` more plies.
    fn negamax(&mut self, board: &Board, depth: u8, ply: u8, mut alpha: i32, beta: i32) -> i32 {
        self.nodes += 1;
        if self.nodes > self.budget {
            self.aborted = true;
            return 0;
        }
        let me = board.to_move();
        if board.immediate_wins(me) != 0 {
            return WIN - i32::from(ply) - 1;
        }
        if board.is_full() {
            return 0;
        }
        let theirs = board.immediate_wins(me.other());
        if theirs.count_ones() > 1 {
            // Two threats at once: we block one, they complete the other.
            return -(WIN - i32::from(ply) - 2);
        }
        if depth == 0 {
            return evaluate(board);
        }
        let forced = (theirs != 0).then(|| {
            (0..COLS)
                .find(|&c| theirs & column_bits(c) != 0)
                .expect("a threat lies in some column")
        });
        let mut best = -WIN;
        let mut any = false;
        for col in CENTRE_FIRST {
            if forced.is_some_and(|f| f != col) || !board.can_drop(col) {
                continue;
            }
            let mut child = *board;
            if child.drop_disc(col).is_err() {
                continue;
            }
            any = true;
            let score = -self.negamax(&child, depth - 1, ply + 1, -beta, -alpha);
            if self.aborted {
                return 0;
            }
            if score > best {
                best = score;
            }
            if score > alpha {
                alpha = score;
            }
            if alpha >= beta {
                break;
            }
        }
        if any { best } else { 0 }
    }
}

/// Every line of four cells on the board, as bit masks.
const WINDOWS: [u64; 69] = {
    let mut out = [0u64; 69];
    let mut n = 0;
    // (step in columns, step in rows) for across, up, and both diagonals.
    let dirs: [(i32, i32); 4] = [(1, 0), (0, 1), (1, 1), (1, -1)];
    let mut d = 0;
    while d < 4 {
        let (dc, dr) = dirs[d];
        let mut c = 0;
        while c < COLS as i32 {
            let mut r = 0;
            while r < ROWS as i32 {
                let (ec, er) = (c + 3 * dc, r + 3 * dr);
                if ec >= 0 && ec < COLS as i32 && er >= 0 && er < ROWS as i32 {
                    let mut mask = 0u64;
                    let mut k = 0;
                    while k < 4 {
                        mask |= 1 << ((c + k * dc) * H as i32 + (r + k * dr));
                        k += 1;
                    }
                    out[n] = mask;
                    n += 1;
                }
                r += 1;
            }
            c += 1;
        }
        d += 1;
    }
    out
};

/// Rows (0-based) where a threat is worth most to `player`: with the board filling up column by
/// column, the first player gets the odd rows (1st, 3rd, 5th from the bottom) in the end and
/// the second player the even ones, so a threat there is the one that usually decides the game.
const fn good_rows(player: Player) -> u64 {
    let rows: u64 = match player {
        Player::First => 0b010101,
        Player::Second => 0b101010,
    };
    let mut b = 0;
    let mut c = 0;
    while c < COLS {
        b |= rows << (c * H);
        c += 1;
    }
    b
}

const CENTRE: u64 = column_bits(3);
const NEAR_CENTRE: u64 = column_bits(2) | column_bits(4);

/// A guess at how good `board` is for the player to move: threats (cells that would complete
/// four) weigh most, more so on the rows that favour their owner and when they sit low; then
/// open lines of two and three; then discs near the centre.
fn evaluate(board: &Board) -> i32 {
    let me = board.to_move();
    side_value(board, me) - side_value(board, me.other())
}

fn side_value(board: &Board, player: Player) -> i32 {
    let mine = board.bits_of(player);
    let theirs = board.bits_of(player.other());
    let threats = board.threats(player);
    let mut value = 0;
    value += 30 * threats.count_ones() as i32;
    value += 20 * (threats & good_rows(player)).count_ones() as i32;
    for window in WINDOWS {
        if window & theirs != 0 {
            continue;
        }
        match (window & mine).count_ones() {
            2 => value += 2,
            3 => value += 5,
            _ => {}
        }
    }
    value += 4 * (mine & CENTRE).count_ones() as i32;
    value += 2 * (mine & NEAR_CENTRE).count_ones() as i32;
    debug_assert_eq!(mine & !BOARD, 0);
    value
}

#[cfg(test)]
mod tests;
