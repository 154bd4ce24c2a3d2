use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;
use crate::client::four::{EndReason, Input};
use crate::game::four::Moves;
use crate::game::four::ai::Level;

fn rng() -> SmallRng {
    SmallRng::seed_from_u64(3)
}

fn draw(screen: &FourScreen, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|frame| render(screen, frame.area(), frame.buffer_mut()))
        .expect("draw");
    terminal.backend().buffer().clone()
}

fn rows(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

fn screen_text(buf: &Buffer) -> String {
    rows(buf).join("\n")
}

fn remote(moves: &str, me: Player) -> FourScreen {
    let moves: Moves = moves.parse().expect("digits");
    FourScreen::resume_remote("bob", me, &moves, rng()).expect("replays")
}

/// The symbols and style of the disc part of board cell `c`.
fn disc_cells(buf: &Buffer, g: Geometry, c: Cell) -> (String, Style) {
    let (x, y) = cell_origin(g.cell, g.board, c);
    let margin = (g.cell.width - g.cell.disc) / 2;
    let text: String = (0..g.cell.disc)
        .map(|dx| buf[(x + margin + dx, y)].symbol())
        .collect();
    (text, buf[(x + margin, y)].style())
}

/// The marks either side of the disc in board cell `c`.
fn marks(buf: &Buffer, g: Geometry, c: Cell) -> (String, String, Style) {
    let (x, y) = cell_origin(g.cell, g.board, c);
    let margin = (g.cell.width - g.cell.disc) / 2;
    let left = &buf[(x + margin - 1, y)];
    let right = &buf[(x + margin + g.cell.disc, y)];
    (
        left.symbol().to_string(),
        right.symbol().to_string(),
        left.style(),
    )
}

#[test]
fn discs_sit_in_their_cells_in_their_colours_at_both_sizes() {
    // First: (3,0) (4,0); second: (3,1) (2,0).
    let s = remote("4453", Player::First);
    for (width, height, large) in [
        (60, 24, true),
        (44, 17, true),
        (43, 17, false),
        (30, 11, false),
    ] {
        let buf = draw(&s, width, height);
        let area = Rect::new(0, 0, width, height);
        let g = Geometry::for_area(area).expect("fits");
        assert_eq!(g.cell == LARGE, large, "{width}x{height}");
        for (c, player) in [
            (Cell::new(3, 0), Player::First),
            (Cell::new(4, 0), Player::First),
            (Cell::new(3, 1), Player::Second),
            (Cell::new(2, 0), Player::Second),
        ] {
            let (text, style) = disc_cells(&buf, g, c);
            let want: String =
                std::iter::repeat_n(disc_char(player), usize::from(g.cell.disc)).collect();
            assert_eq!(
                text,
                want,
                "{c:?} at {width}x{height}\n{}",
                screen_text(&buf)
            );
            assert_eq!(style.fg, disc_style(player).fg, "{c:?} at {width}x{height}");
        }
        // Every disc in a large cell fills both of its rows.
        if large {
            let (x, y) = cell_origin(g.cell, g.board, Cell::new(3, 0));
            assert_eq!(buf[(x + 1, y + 1)].symbol(), "█");
        }
        // Empty cells show a dim dot, never a disc.
        let (text, _) = disc_cells(&buf, g, Cell::new(0, 0));
        assert!(!text.contains('█') && !text.contains('▒'), "{text:?}");
        let discs: usize = rows(&buf)
            .iter()
            .map(|r| r.matches('█').count() + r.matches('▒').count())
            .sum();
        let per_disc = usize::from(g.cell.disc * g.cell.height);
        // Four discs on the board, the one about to drop, and the legend in the status line.
        assert_eq!(
            discs,
            4 * per_disc + usize::from(g.cell.disc) + 2,
            "{width}x{height}"
        );
    }
}

#[test]
fn the_last_disc_is_marked_and_a_win_is_highlighted() {
    let s = remote("4453", Player::First);
    let buf = draw(&s, 44, 17);
    let g = Geometry::for_area(Rect::new(0, 0, 44, 17)).expect("fits");
    let (l, r, _) = marks(&buf, g, Cell::new(2, 0));
    assert_eq!((l.as_str(), r.as_str()), (">", "<"), "the last move");
    let (l, r, _) = marks(&buf, g, Cell::new(3, 0));
    assert_eq!((l.as_str(), r.as_str()), (" ", " "), "an older disc");

    // First (bob, here) makes four up column 1.
    let s = remote("1213141", Player::Second);
    assert_eq!(s.phase(), Phase::Over);
    let buf = draw(&s, 44, 17);
    for row in 0..4 {
        let (l, r, style) = marks(&buf, g, Cell::new(0, row));
        assert_eq!((l.as_str(), r.as_str()), ("[", "]"), "row {row}");
        assert_eq!(style.bg, Some(Color::Green));
    }
    let (l, _, _) = marks(&buf, g, Cell::new(1, 0));
    assert_eq!(l, " ", "not part of the line");
    assert!(
        screen_text(&buf).contains("bob wins"),
        "{}",
        screen_text(&buf)
    );
}

#[test]
fn the_cursor_column_and_the_disc_about_to_drop_are_shown_on_your_turn() {
    let mut s = remote("", Player::First);
    let _ = s.handle(Input::Column(5), Instant::now());
    let buf = draw(&s, 30, 11);
    let g = Geometry::for_area(Rect::new(0, 0, 30, 11)).expect("fits");
    let label_y = g.board.y - 2;
    let (x, _) = cell_origin(g.cell, g.board, Cell::new(5, 0));
    let label = &buf[(x + 1, label_y)];
    assert_eq!(label.symbol(), "6");
    assert!(label.style().add_modifier.contains(Modifier::REVERSED));
    assert_eq!(
        buf[(x + 1, label_y + 1)].symbol(),
        "█",
        "the disc about to drop"
    );
    assert_eq!(buf[(x + 1, label_y + 1)].style().fg, Some(Color::Red));
    let other = cell_origin(g.cell, g.board, Cell::new(2, 0)).0 + 1;
    assert_eq!(buf[(other, label_y)].symbol(), "3");
    assert!(
        !buf[(other, label_y)]
            .style()
            .add_modifier
            .contains(Modifier::REVERSED)
    );
    let text = screen_text(&buf);
    assert!(text.contains("your turn"), "{text}");
    assert!(text.contains("Enter drop"), "{text}");
    assert_eq!(g.column_at(x), Some(5));
    assert_eq!(g.column_at(x + 3), Some(5));
    assert_eq!(g.column_at(x + 4), Some(6));
    assert_eq!(g.column_at(g.board.x - 1), None);
    assert_eq!(g.column_at(g.board.right()), None);
}

#[test]
fn waiting_screens_say_for_whom() {
    let s = remote("4", Player::First);
    let text = screen_text(&draw(&s, 44, 17));
    assert!(text.contains("bob's turn…"), "{text}");
    assert!(
        !text.contains("Enter drop"),
        "no drop hint out of turn: {text}"
    );
    assert!(text.contains("Connect Four · you vs bob"), "{text}");

    let s = FourScreen::vs_remote("carol", Player::First, true, rng());
    let text = screen_text(&draw(&s, 44, 17));
    assert!(text.contains("waiting for carol to accept…"), "{text}");

    let mut s = remote("44", Player::First);
    let _ = s.remote_ended(EndReason::Left);
    let text = screen_text(&draw(&s, 44, 17));
    assert!(
        text.contains("bob left the game: you win by forfeit"),
        "{text}"
    );
    assert!(text.contains("Connect Four · you 1:0 bob"), "{text}");

    let t0 = Instant::now();
    let s = FourScreen::vs_computer(Level::Easy, Player::Second, rng(), t0);
    let text = screen_text(&draw(&s, 44, 17));
    assert!(text.contains("the computer is thinking…"), "{text}");
    assert!(text.contains("you vs computer"), "{text}");
}

#[test]
fn a_too_small_pane_says_what_size_is_needed() {
    let s = remote("44", Player::First);
    for (w, h) in [(29, 11), (30, 10), (20, 5), (60, 10)] {
        let text = screen_text(&draw(&s, w, h));
        assert!(text.contains("bigger"), "{w}x{h}:\n{text}");
        assert!(!text.contains('█'), "no board at {w}x{h}");
    }
    let text = screen_text(&draw(&s, 60, 10));
    assert!(
        text.contains("this pane is 60x10, it needs 30x11"),
        "{text}"
    );
    assert!(text.contains("q back to chat"), "{text}");
    let text = screen_text(&draw(&s, 30, 11));
    assert!(!text.contains("bigger"), "the smallest board fits: {text}");
}

#[test]
fn rendering_stays_inside_its_area_at_every_size() {
    let s = remote("445316", Player::First);
    for w in [1, 5, 29, 30, 31, 43, 44, 45, 80] {
        for h in [1, 3, 10, 11, 16, 17, 30] {
            let full = Rect::new(0, 0, w + 4, h + 4);
            let area = Rect::new(2, 2, w, h);
            let mut buf = Buffer::filled(full, ratatui::buffer::Cell::new("x"));
            render(&s, area, &mut buf);
            for y in 0..full.height {
                for x in 0..full.width {
                    if !area.contains(ratatui::layout::Position::new(x, y)) {
                        assert_eq!(buf[(x, y)].symbol(), "x", "({x},{y}) drawn at {w}x{h}");
                    }
                }
            }
        }
    }
}
