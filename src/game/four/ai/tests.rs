use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;

use super::*;
use crate::game::four::{Game, Moves, Outcome};

fn game(moves: &str) -> Game {
    let moves: Moves = moves.parse().expect("digits");
    Game::replay(&moves).expect("legal")
}

fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}

#[test]
fn takes_an_immediate_win() {
    // First has three across the bottom (cols 1-3) and is to move.
    let g = game("112233");
    for seed in 0..20 {
        let choice = choose(g.board(), Level::Easy, &mut rng(seed)).expect("a move");
        assert_eq!(choice.col, 3, "seed {seed}");
    }
    // A vertical win: first has (0,0) (0,1) (0,2) and is to move.
    let g = game("121317");
    let choice = choose(g.board(), Level::Normal, &mut rng(1)).expect("a move");
    assert_eq!(choice.col, 0);
}

#[test]
fn blocks_an_immediate_loss() {
    // Second to move; first threatens to complete the bottom row in column 4.
    let g = game("11223");
    assert_eq!(g.to_move(), Player::Second);
    for level in [Level::Easy, Level::Normal, Level::Hard] {
        let choice = choose(g.board(), level, &mut rng(7)).expect("a move");
        assert_eq!(choice.col, 3, "{level:?}");
    }
    // A vertical threat: first has three in column 7.
    let g = game("71727");
    let choice = choose(g.board(), Level::Easy, &mut rng(3)).expect("a move");
    assert_eq!(choice.col, 6);
}

#[test]
fn prefers_winning_to_blocking() {
    // First has three in column 1, second three in column 2; first to move wins rather than
    // blocks.
    let g = game("121212");
    assert_eq!(g.to_move(), Player::First);
    assert!(g.board().wins_by_dropping(0));
    for seed in 0..10 {
        let choice = choose(g.board(), Level::Normal, &mut rng(seed)).expect("a move");
        assert_eq!(choice.col, 0, "seed {seed}");
    }
}

#[test]
fn does_not_drop_under_the_opponents_winning_cell() {
    // Second holds (2,1) (3,1) (4,1): it would complete four at (1,1) or (5,1), both in mid-air
    // over empty cells. First, to move, must not fill (1,0) or (5,0) and let second in.
    let g = game("34537475");
    assert_eq!(g.outcome(), Outcome::InProgress);
    assert_eq!(g.to_move(), Player::First);
    for seed in 0..10 {
        for level in [Level::Easy, Level::Normal] {
            let choice = choose(g.board(), level, &mut rng(seed)).expect("a move");
            assert!(![1, 5].contains(&choice.col), "seed {seed}: {choice:?}");
        }
    }
}

#[test]
fn the_budget_bounds_the_positions_searched() {
    let g = game("44");
    for level in [Level::Easy, Level::Normal, Level::Hard] {
        let choice = choose(g.board(), level, &mut rng(5)).expect("a move");
        assert!(
            choice.nodes <= level.budget() + 1,
            "{level:?} searched {}",
            choice.nodes
        );
        assert!(choice.depth >= 1);
    }
    let small = choose_within(g.board(), 50, &mut rng(5)).expect("a move");
    let big = choose_within(g.board(), 50_000, &mut rng(5)).expect("a move");
    assert!(small.nodes <= 51);
    assert!(big.depth > small.depth, "{small:?} {big:?}");
}

/// A game of the computer at Easy against itself at Normal, both seeded from `seed`.
fn self_play(seed: u64) -> Moves {
    let (mut a, mut b) = (rng(seed), rng(seed + 1));
    let mut g = Game::new();
    while !g.is_over() {
        let choice = if g.to_move() == Player::First {
            choose(g.board(), Level::Easy, &mut a)
        } else {
            choose(g.board(), Level::Normal, &mut b)
        };
        g.play(choice.expect("a move").col).expect("legal");
    }
    g.moves().clone()
}

#[test]
fn the_same_seed_replays_the_same_game_and_other_seeds_vary_it() {
    assert_eq!(self_play(7), self_play(7));
    let games: std::collections::BTreeSet<String> =
        (0..8).map(|seed| self_play(seed).to_string()).collect();
    assert!(
        games.len() >= 3,
        "only {} different games: {games:?}",
        games.len()
    );
}

#[test]
fn a_full_board_has_no_move() {
    let g = game("547125662261271266215743771576315353334444");
    assert!(choose(g.board(), Level::Hard, &mut rng(0)).is_none());
}

/// Plays one game: the computer (at `level`) against `other`, which picks a column from the
/// board; returns the outcome and which side the computer had.
fn play_out(
    computer: Player,
    level: Level,
    seed: u64,
    mut other: impl FnMut(&Game, &mut SmallRng) -> u8,
) -> Outcome {
    let mut ai_rng = rng(seed);
    let mut other_rng = rng(seed ^ 0x5eed);
    let mut g = Game::new();
    while !g.is_over() {
        let col = if g.to_move() == computer {
            choose(g.board(), level, &mut ai_rng).expect("a move").col
        } else {
            other(&g, &mut other_rng)
        };
        g.play(col).expect("both sides play legal moves");
    }
    g.outcome()
}

/// Always the same column, or the next open one to its right (wrapping) once it is full.
fn stubborn(col: u8) -> impl FnMut(&Game, &mut SmallRng) -> u8 {
    move |g, _| {
        (0..7)
            .map(|k| (col + k) % 7)
            .find(|&c| g.board().can_drop(c))
            .expect("an open column")
    }
}

fn random_player(g: &Game, rng: &mut SmallRng) -> u8 {
    let open: Vec<u8> = g.board().open_columns().collect();
    *open.choose(rng).expect("an open column")
}

#[test]
fn beats_a_player_who_always_plays_the_same_column() {
    for col in 0..7 {
        for computer in [Player::First, Player::Second] {
            // Normal is checked on the edge and the centre only: it is slow in debug builds.
            let levels: &[Level] = if col == 0 || col == 3 {
                &[Level::Easy, Level::Normal]
            } else {
                &[Level::Easy]
            };
            for &level in levels {
                let outcome = play_out(computer, level, u64::from(col), stubborn(col));
                assert_eq!(
                    outcome,
                    Outcome::Won(computer),
                    "column {col}, computer {computer:?}, {level:?}"
                );
            }
        }
    }
}

#[test]
fn beats_a_random_player_at_least_95_times_in_100_on_each_side() {
    for computer in [Player::First, Player::Second] {
        let won = (0..100)
            .filter(|&seed| {
                play_out(computer, Level::Easy, seed, random_player) == Outcome::Won(computer)
            })
            .count();
        assert!(won >= 95, "{computer:?} won {won} of 100 at Easy");
    }
}

#[test]
fn a_deeper_search_beats_easy_more_often_than_not() {
    // A few thousand positions per move should win most games against Easy, from both sides.
    let (mut strong_wins, mut easy_wins) = (0, 0);
    for seed in 0..12 {
        let strong = if seed % 2 == 0 {
            Player::First
        } else {
            Player::Second
        };
        let (mut strong_rng, mut easy_rng) = (rng(seed), rng(seed + 1000));
        let mut g = Game::new();
        while !g.is_over() {
            let choice = if g.to_move() == strong {
                choose_within(g.board(), 3_000, &mut strong_rng)
            } else {
                choose(g.board(), Level::Easy, &mut easy_rng)
            };
            g.play(choice.expect("a move").col).expect("legal");
        }
        match g.outcome() {
            Outcome::Won(p) if p == strong => strong_wins += 1,
            Outcome::Won(_) => easy_wins += 1,
            _ => {}
        }
    }
    assert!(
        strong_wins > easy_wins * 2,
        "deeper {strong_wins}, easy {easy_wins}"
    );
}
