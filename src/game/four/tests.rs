use super::*;

/// Plays 1-based columns from a string such as "4453".
fn game(moves: &str) -> Game {
    Game::replay(&moves.parse().expect("a valid move list")).expect("legal moves")
}

fn cells(list: &[(u8, u8)]) -> Vec<Cell> {
    let mut v: Vec<Cell> = list.iter().map(|&(c, r)| Cell::new(c, r)).collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<Cell>) -> Vec<Cell> {
    v.sort();
    v
}

#[test]
fn discs_drop_to_the_lowest_free_cell_and_turns_alternate() {
    let mut g = Game::new();
    assert_eq!(g.to_move(), Player::First);
    assert_eq!(g.play(3), Ok(Cell::new(3, 0)));
    assert_eq!(g.to_move(), Player::Second);
    assert_eq!(g.play(3), Ok(Cell::new(3, 1)));
    assert_eq!(g.play(0), Ok(Cell::new(0, 0)));
    assert_eq!(g.board().disc_at(Cell::new(3, 0)), Some(Player::First));
    assert_eq!(g.board().disc_at(Cell::new(3, 1)), Some(Player::Second));
    assert_eq!(g.board().disc_at(Cell::new(0, 0)), Some(Player::First));
    assert_eq!(g.board().disc_at(Cell::new(3, 2)), None);
    assert_eq!(g.board().height(3), 2);
    assert_eq!(g.last_move(), Some(Cell::new(0, 0)));
    assert_eq!(g.outcome(), Outcome::InProgress);
}

#[test]
fn a_horizontal_four_wins() {
    // First: 1 2 3 4 on the bottom row; second stacks on top of them.
    let g = game("1122334");
    assert_eq!(g.outcome(), Outcome::Won(Player::First));
    assert_eq!(
        sorted(g.winning_cells()),
        cells(&[(0, 0), (1, 0), (2, 0), (3, 0)])
    );
}

#[test]
fn a_vertical_four_wins() {
    let g = game("7172737");
    assert_eq!(g.outcome(), Outcome::Won(Player::First));
    assert_eq!(
        sorted(g.winning_cells()),
        cells(&[(6, 0), (6, 1), (6, 2), (6, 3)])
    );
}

#[test]
fn a_rising_diagonal_wins() {
    // First ends on (0,0) (1,1) (2,2) (3,3).
    let mut g = game("1223433474");
    assert_eq!(g.outcome(), Outcome::InProgress);
    g.play(3).expect("open");
    assert_eq!(g.outcome(), Outcome::Won(Player::First));
    assert_eq!(
        sorted(g.winning_cells()),
        cells(&[(0, 0), (1, 1), (2, 2), (3, 3)])
    );
}

#[test]
fn a_falling_diagonal_wins() {
    // The mirror image: (6,0) (5,1) (4,2) (3,3).
    let mut g = game("7665455414");
    assert_eq!(g.outcome(), Outcome::InProgress);
    g.play(3).expect("open");
    assert_eq!(g.outcome(), Outcome::Won(Player::First));
    assert_eq!(
        sorted(g.winning_cells()),
        cells(&[(3, 3), (4, 2), (5, 1), (6, 0)])
    );
}

#[test]
fn lines_never_wrap_across_the_board_edge() {
    // The top three cells of column 1 and the bottom cell of column 2 are neighbours in the
    // bitboard but for the empty sentinel bit between them: no four.
    let top_and_bottom = [(0, 3), (0, 4), (0, 5), (1, 0)]
        .into_iter()
        .fold(0, |b, (c, r)| b | Cell::new(c, r).bit());
    let b = Board {
        discs: [top_and_bottom, 0],
        count: 4,
    };
    assert!(!b.has_four(Player::First));
    assert!(b.winning_cells(Player::First).is_empty());
    assert_eq!(b.threats(Player::First) & !BOARD, 0);
}

#[test]
fn a_full_board_without_four_is_a_draw() {
    // A game that fills the board without a four anywhere.
    let moves = "547125662261271266215743771576315353334444";
    let moves: Moves = moves.parse().expect("digits");
    let g = Game::replay(&moves).expect("legal");
    assert!(g.board().is_full());
    assert_eq!(g.outcome(), Outcome::Draw);
    assert!(g.winning_cells().is_empty());
    assert_eq!(g.board().open_columns().count(), 0);
}

#[test]
fn illegal_moves_are_refused_and_change_nothing() {
    let mut g = game("111111");
    let before = g.clone();
    assert_eq!(g.play(0), Err(MoveError::ColumnFull(0)));
    assert_eq!(g.play(7), Err(MoveError::NoSuchColumn(7)));
    assert_eq!(g, before);
    let mut won = game("1122334");
    assert_eq!(won.play(5), Err(MoveError::GameOver));
    assert_eq!(won.moves().len(), 7);
}

#[test]
fn move_lists_round_trip_and_replay_validates_them() {
    let g = game("4453");
    assert_eq!(g.moves().to_string(), "4453");
    assert_eq!(g.moves().as_slice(), &[3, 3, 4, 2]);
    let json = serde_json::to_string(g.moves()).expect("serialises");
    assert_eq!(json, "\"4453\"");
    let back: Moves = serde_json::from_str(&json).expect("parses");
    assert_eq!(Game::replay(&back), Ok(g));

    assert_eq!("408".parse::<Moves>(), Err(MovesParseError::BadChar('0')));
    assert_eq!("4a".parse::<Moves>(), Err(MovesParseError::BadChar('a')));
    assert_eq!(
        "1".repeat(43).parse::<Moves>(),
        Err(MovesParseError::TooLong)
    );
    assert!(serde_json::from_str::<Moves>("\"48\"").is_err());

    let seven_in_one_column: Moves = "1111111".parse().expect("digits");
    assert_eq!(
        Game::replay(&seven_in_one_column),
        Err(ReplayError {
            index: 6,
            error: MoveError::ColumnFull(0)
        })
    );
    let after_the_win: Moves = "11223345".parse().expect("digits");
    assert_eq!(
        Game::replay(&after_the_win).map_err(|e| e.index),
        Err(7),
        "no move after a win"
    );
    let out_of_range = Moves::from(vec![3, 9]);
    assert_eq!(
        Game::replay(&out_of_range).map_err(|e| e.error),
        Err(MoveError::NoSuchColumn(9))
    );
}

#[test]
fn wins_by_dropping_sees_the_completing_cell_only_when_reachable() {
    // First has three across the bottom (cols 1-3) with col 4 open: a win by dropping in 4.
    let g = game("112233");
    assert!(g.board().wins_by_dropping(3));
    assert!(!g.board().wins_by_dropping(4));
    // A threat in mid-air is a threat but not a win now.
    let b = *game("12234334").board();
    assert_ne!(b.threats(Player::First) & Cell::new(3, 3).bit(), 0);
    assert!(!b.wins_by_dropping(3));
}

#[test]
fn five_in_a_row_highlights_all_five() {
    // First: 1 2 _ 4 5 on the bottom, then fills 3.
    let g = game("11214455");
    assert_eq!(g.outcome(), Outcome::InProgress);
    let mut g = g;
    g.play(2).expect("open");
    assert_eq!(g.outcome(), Outcome::Won(Player::First), "{}", g.moves());
    assert_eq!(g.winning_cells().len(), 5);
}
