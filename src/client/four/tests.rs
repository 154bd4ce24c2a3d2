use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::*;

fn rng() -> SmallRng {
    SmallRng::seed_from_u64(42)
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Moves the cursor to `col` and drops.
fn drop_in(s: &mut FourScreen, col: u8, now: Instant) -> Response {
    let _ = s.handle(Input::Column(col), now);
    s.handle(Input::Drop, now)
}

/// Lets the computer move (its pause elapses).
fn computer_moves(s: &mut FourScreen, now: Instant) -> Instant {
    let due = s.next_deadline().expect("the computer is due to move");
    assert!(
        !s.tick(due - Duration::from_millis(1)),
        "not before its time"
    );
    assert!(s.tick(due));
    due.max(now)
}

#[test]
fn keys_map_to_columns_drops_and_leaving() {
    assert_eq!(key_to_input(key(KeyCode::Left)), Some(Input::Left));
    assert_eq!(key_to_input(key(KeyCode::Char('l'))), Some(Input::Right));
    assert_eq!(
        key_to_input(key(KeyCode::Char('1'))),
        Some(Input::Column(0))
    );
    assert_eq!(
        key_to_input(key(KeyCode::Char('7'))),
        Some(Input::Column(6))
    );
    assert_eq!(key_to_input(key(KeyCode::Char('8'))), None);
    assert_eq!(key_to_input(key(KeyCode::Char('0'))), None);
    for drop in [KeyCode::Enter, KeyCode::Char(' '), KeyCode::Down] {
        assert_eq!(key_to_input(key(drop)), Some(Input::Drop));
    }
    assert_eq!(key_to_input(key(KeyCode::Esc)), Some(Input::Quit));
    assert_eq!(key_to_input(key(KeyCode::Char('q'))), Some(Input::Quit));
    assert_eq!(key_to_input(key(KeyCode::Char('r'))), Some(Input::Rematch));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(key_to_input(ctrl_c), None, "Ctrl-C stays the app's");
    let mut release = key(KeyCode::Enter);
    release.kind = KeyEventKind::Release;
    assert_eq!(key_to_input(release), None);
}

#[test]
fn the_cursor_wraps_and_digits_jump() {
    let t0 = Instant::now();
    let mut s = FourScreen::vs_computer(Level::Easy, Player::First, rng(), t0);
    assert_eq!(s.cursor(), 3, "starts in the centre");
    for _ in 0..4 {
        let _ = s.handle(Input::Right, t0);
    }
    assert_eq!(s.cursor(), 0, "wrapped past the right edge");
    let _ = s.handle(Input::Left, t0);
    assert_eq!(s.cursor(), 6);
    assert_eq!(s.handle(Input::Column(1), t0), Response::Changed);
    assert_eq!(s.cursor(), 1);
    assert_eq!(s.handle(Input::Column(1), t0), Response::Unchanged);
}

#[test]
fn against_the_computer_turns_alternate_after_a_pause() {
    let t0 = Instant::now();
    let mut s = FourScreen::vs_computer(Level::Normal, Player::First, rng(), t0);
    assert!(s.my_turn());
    assert_eq!(s.next_deadline(), None, "nothing to wait for on my turn");
    assert_eq!(s.status().text, "your turn");
    assert_eq!(drop_in(&mut s, 3, t0), Response::Changed);
    assert_eq!(
        s.game().board().disc_at(Cell::new(3, 0)),
        Some(Player::First)
    );
    assert!(!s.my_turn());
    assert_eq!(s.status().text, "the computer is thinking…");
    assert_eq!(s.next_deadline(), Some(t0 + COMPUTER_PAUSE));
    // Dropping out of turn is refused with a word, and changes nothing.
    assert_eq!(s.handle(Input::Drop, t0), Response::Changed);
    assert_eq!(s.status().text, "wait for computer");
    assert_eq!(s.game().moves().len(), 1);
    computer_moves(&mut s, t0);
    assert_eq!(s.game().moves().len(), 2);
    assert!(s.my_turn());
    assert_eq!(
        s.last_move().map(|c| c.row),
        Some(s.game().board().height(s.last_move().expect("a move").col) - 1)
    );
}

#[test]
fn the_computer_opens_when_it_plays_first() {
    let t0 = Instant::now();
    let mut s = FourScreen::vs_computer(Level::Easy, Player::Second, rng(), t0);
    assert!(!s.my_turn());
    assert_eq!(s.next_deadline(), Some(t0 + COMPUTER_PAUSE));
    computer_moves(&mut s, t0);
    assert_eq!(s.game().moves().len(), 1);
    assert!(s.my_turn());
}

#[test]
fn a_full_column_is_refused_with_a_notice_until_the_next_key() {
    let t0 = Instant::now();
    let moves: Moves = "444444".parse().expect("digits");
    let mut s = FourScreen::resume_remote("bob", Player::First, &moves, rng()).expect("replays");
    assert!(s.my_turn());
    assert_eq!(drop_in(&mut s, 3, t0), Response::Changed);
    assert_eq!(s.status().text, "column 4 is full");
    assert_eq!(s.status().tone, Tone::Warning);
    assert_eq!(s.game().moves().len(), 6);
    assert_eq!(s.handle(Input::Right, t0), Response::Changed);
    assert_eq!(s.status().text, "your turn");
}

#[test]
fn winning_against_the_computer_counts_and_r_starts_a_new_game_with_sides_swapped() {
    let t0 = Instant::now();
    // A position where first wins by dropping into column 4 (bottom row 1-3 taken).
    let mut s = FourScreen::vs_computer(Level::Easy, Player::First, rng(), t0);
    s.game = Game::replay(&"112233".parse().expect("digits")).expect("legal");
    assert_eq!(drop_in(&mut s, 3, t0), Response::Changed);
    assert_eq!(s.phase(), Phase::Over);
    assert_eq!(s.status().text, "you win!");
    assert_eq!(s.status().tone, Tone::Won);
    assert_eq!(
        s.tally(),
        Tally {
            won: 1,
            lost: 0,
            drawn: 0
        }
    );
    assert_eq!(s.winning_cells().len(), 4);
    assert_eq!(
        s.next_deadline(),
        None,
        "the computer does not move after the end"
    );
    assert_eq!(s.handle(Input::Drop, t0), Response::Unchanged);
    assert_eq!(s.hints()[0], ("r", "rematch"));
    assert_eq!(s.handle(Input::Rematch, t0), Response::Changed);
    assert_eq!(s.phase(), Phase::Playing);
    assert!(s.game().moves().is_empty());
    assert_eq!(s.me(), Player::Second, "the computer opens the rematch");
    assert_eq!(s.next_deadline(), Some(t0 + COMPUTER_PAUSE));
    assert_eq!(s.tally().won, 1, "the tally is kept");
}

#[test]
fn the_computer_winning_says_so() {
    let t0 = Instant::now();
    let mut s = FourScreen::vs_computer(Level::Easy, Player::First, rng(), t0);
    // Second (the computer) has three in column 7 and it is its turn.
    s.game = Game::replay(&"1717271".parse().expect("digits")).expect("legal");
    let _ = s.handle(Input::Column(0), t0);
    s.schedule_computer(t0);
    computer_moves(&mut s, t0);
    assert_eq!(s.phase(), Phase::Over);
    assert_eq!(s.status().text, "the computer wins");
    assert_eq!(s.status().tone, Tone::Lost);
    assert_eq!(s.tally().lost, 1);
}

#[test]
fn a_remote_game_waits_for_acceptance_then_relays_moves_both_ways() {
    let t0 = Instant::now();
    let mut s = FourScreen::vs_remote("bob", Player::First, true, rng());
    assert_eq!(s.phase(), Phase::Inviting);
    assert_eq!(s.status().text, "waiting for bob to accept…");
    assert_eq!(
        drop_in(&mut s, 3, t0),
        Response::Unchanged,
        "no drop before accepting"
    );
    assert_eq!(s.remote_accepted(), Response::Changed);
    assert_eq!(s.status().text, "your turn");
    assert_eq!(
        drop_in(&mut s, 3, t0),
        Response::Send(Request::Move { col: 3, seq: 0 })
    );
    assert_eq!(s.status().text, "bob's turn…");
    assert_eq!(s.next_deadline(), None, "no computer in a remote game");
    // Bob's move: out of order, out of turn, illegal, then right.
    assert_eq!(
        s.remote_move(2, 5),
        Err(RemoteMoveError::OutOfSequence {
            expected: 1,
            got: 5
        })
    );
    assert_eq!(
        s.remote_move(9, 1),
        Err(RemoteMoveError::Illegal(MoveError::NoSuchColumn(9)))
    );
    assert_eq!(s.remote_move(2, 1), Ok(Response::Changed));
    assert_eq!(
        s.game().board().disc_at(Cell::new(2, 0)),
        Some(Player::Second)
    );
    assert_eq!(
        s.remote_move(2, 1),
        Ok(Response::Unchanged),
        "a resend is ignored"
    );
    assert_eq!(
        s.remote_move(4, 2),
        Err(RemoteMoveError::NotTheirTurn),
        "two in a row"
    );
    assert!(s.my_turn());
}

#[test]
fn a_remote_rematch_needs_both_and_swaps_sides() {
    let t0 = Instant::now();
    let moves: Moves = "112233".parse().expect("digits");
    let mut s = FourScreen::resume_remote("bob", Player::First, &moves, rng()).expect("replays");
    assert_eq!(
        drop_in(&mut s, 3, t0),
        Response::Send(Request::Move { col: 3, seq: 6 })
    );
    assert_eq!(s.status().text, "you win!");
    assert_eq!(
        s.handle(Input::Rematch, t0),
        Response::Send(Request::Rematch)
    );
    assert_eq!(s.phase(), Phase::Over, "waiting for bob");
    assert_eq!(
        s.status().text,
        "you win! · rematch asked, waiting for bob…"
    );
    assert_eq!(
        s.handle(Input::Rematch, t0),
        Response::Unchanged,
        "asked once"
    );
    assert_eq!(s.remote_rematch(t0), Response::Changed);
    assert_eq!(s.phase(), Phase::Playing);
    assert_eq!(s.me(), Player::Second);
    assert_eq!(s.status().text, "bob's turn…");
    assert_eq!(s.remote_move(3, 0), Ok(Response::Changed));
    assert!(s.my_turn());

    // The other way round: bob asks first, r accepts.
    let mut s = FourScreen::resume_remote("bob", Player::Second, &moves, rng()).expect("replays");
    assert_eq!(s.remote_move(3, 6), Ok(Response::Changed));
    assert_eq!(s.status().text, "bob wins");
    assert_eq!(s.remote_rematch(t0), Response::Changed);
    assert_eq!(s.status().text, "bob wins · bob wants a rematch");
    assert_eq!(
        s.handle(Input::Rematch, t0),
        Response::Send(Request::Rematch)
    );
    assert_eq!(s.phase(), Phase::Playing);
    assert_eq!(s.me(), Player::First);
    assert!(s.my_turn());
}

#[test]
fn a_remote_player_who_leaves_forfeits_and_a_decline_ends_the_invitation() {
    let t0 = Instant::now();
    let moves: Moves = "44".parse().expect("digits");
    let mut s = FourScreen::resume_remote("bob", Player::First, &moves, rng()).expect("replays");
    assert_eq!(s.remote_ended(EndReason::Left), Response::Changed);
    assert_eq!(s.phase(), Phase::Ended(EndReason::Left));
    assert_eq!(s.status().text, "bob left the game: you win by forfeit");
    assert_eq!(s.tally().won, 1);
    assert_eq!(drop_in(&mut s, 0, t0), Response::Unchanged);
    assert_eq!(s.remote_ended(EndReason::Left), Response::Unchanged, "once");

    let mut s = FourScreen::vs_remote("carol", Player::First, true, rng());
    assert_eq!(s.remote_ended(EndReason::Declined), Response::Changed);
    assert_eq!(s.status().text, "carol declined the game");
    assert_eq!(s.tally(), Tally::default());

    // After a finished game, leaving keeps the result on screen.
    let moves: Moves = "1122334".parse().expect("digits");
    let mut s = FourScreen::resume_remote("dave", Player::Second, &moves, rng()).expect("replays");
    assert_eq!(s.phase(), Phase::Over);
    assert_eq!(s.remote_ended(EndReason::Left), Response::Changed);
    assert_eq!(s.status().text, "dave wins · dave left");
}

#[test]
fn resuming_refuses_a_move_list_that_does_not_replay() {
    let bad: Moves = "1111111".parse().expect("digits");
    let err = FourScreen::resume_remote("bob", Player::First, &bad, rng()).expect_err("refused");
    assert_eq!(err.index, 6);
    let good: Moves = "4453".parse().expect("digits");
    let s = FourScreen::resume_remote("bob", Player::Second, &good, rng()).expect("replays");
    assert_eq!(s.game().moves(), &good);
    assert_eq!(s.cursor(), 2, "the cursor starts where the last disc fell");
    assert!(
        !s.my_turn(),
        "four moves played: first is to move, and that is bob"
    );
}

#[test]
fn quitting_leaves_the_game_as_it_was() {
    let t0 = Instant::now();
    let mut s = FourScreen::vs_computer(Level::Easy, Player::First, rng(), t0);
    let _ = drop_in(&mut s, 3, t0);
    let before = s.game().clone();
    assert_eq!(s.handle(Input::Quit, t0), Response::Quit);
    assert_eq!(s.game(), &before);
}
