//! Draws the snake game over the message pane; it reads the `Game` and never changes it.
//! Only ASCII, the full block and box-drawing lines are used, which every common terminal
//! font has; colour adds to the shapes but is never the only difference.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Widget, Wrap};

use crate::client::snake::{Blocked, CELL_WIDTH, Dir, Game, Phase, Pos, pane_size_for};

/// One board cell of snake body (two terminal columns).
const BODY: &str = "██";
/// The food: a bright pair of brackets, distinct from the body even without colour.
const FOOD: &str = "()";

const BODY_STYLE: Style = Style::new().fg(Color::Green);
const HEAD_STYLE: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::LightGreen)
    .add_modifier(Modifier::BOLD);
const DEAD_BODY_STYLE: Style = Style::new().fg(Color::DarkGray);
const DEAD_HEAD_STYLE: Style = Style::new()
    .fg(Color::White)
    .bg(Color::Red)
    .add_modifier(Modifier::BOLD);
const FOOD_STYLE: Style = Style::new()
    .fg(Color::LightRed)
    .add_modifier(Modifier::BOLD);
const KEY_STYLE: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
const DIM_STYLE: Style = Style::new().fg(Color::DarkGray);

/// Draws `game` into `area` (the message pane), which the app should also have given to
/// [`Game::resize`]. Everything outside `area` is left alone.
pub fn render(game: &Game, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    Clear.render(area, buf);
    if area.is_empty() {
        return;
    }
    if let Some(blocked) = game.blocked() {
        render_blocked(blocked, area, buf);
        return;
    }
    let board = board_rect(game, area);
    let inner = render_frame(game, board, buf);
    if let Some(food) = game.food() {
        put(inner, food, FOOD, FOOD_STYLE, buf);
    }
    render_snake(game, inner, buf);
    match game.phase() {
        Phase::Ready => popup(
            inner,
            "Ready?",
            vec![
                Line::from("arrows, wasd or hjkl").centered(),
                Line::from("to start").centered(),
            ],
            away_from_head(game),
            Style::new().fg(Color::Green),
            buf,
        ),
        Phase::Paused => popup(
            inner,
            "Paused",
            vec![key_line("p", "resume"), key_line("q", "back to chat")],
            away_from_head(game),
            Style::new().fg(Color::Yellow),
            buf,
        ),
        Phase::Over { won } => render_game_over(game, won, inner, buf),
        Phase::Running => {}
    }
}

/// Where the board (with its border) sits inside `area`: centred, as large as the game's
/// board, never larger than `area`.
pub fn board_rect(game: &Game, area: Rect) -> Rect {
    let (cols, rows) = game.board();
    let (width, height) = pane_size_for(cols, rows);
    let (width, height) = (width.min(area.width), height.min(area.height));
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

/// The terminal cell where board cell `p` starts, if it is inside `inner`.
fn cell_origin(inner: Rect, p: Pos) -> Option<(u16, u16)> {
    let x = inner.x.checked_add(p.x.checked_mul(CELL_WIDTH)?)?;
    let y = inner.y.checked_add(p.y)?;
    (x + CELL_WIDTH <= inner.right() && y < inner.bottom()).then_some((x, y))
}

fn put(inner: Rect, p: Pos, symbol: &str, style: Style, buf: &mut Buffer) {
    if let Some((x, y)) = cell_origin(inner, p) {
        buf.set_string(x, y, symbol, style);
    }
}

/// The border with score, best and speed on top and the keys below; returns the inside.
fn render_frame(game: &Game, board: Rect, buf: &mut Buffer) -> Rect {
    let room = usize::from(board.width.saturating_sub(2));
    let (score, best, speed) = (game.score(), game.high_score(), game.speed_level());
    let title = [
        format!(" Snake · score {score} · best {best} · speed {speed} "),
        format!(" score {score} · best {best} · speed {speed} "),
        format!(" score {score} · best {best} "),
        format!(" {score} · best {best} "),
        format!(" {score} "),
    ]
    .into_iter()
    .find(|t| t.chars().count() <= room)
    .unwrap_or_default();
    let hints: &[&str] = match game.phase() {
        Phase::Ready | Phase::Running => &[
            " arrows/wasd/hjkl steer · p pause · q chat ",
            " p pause · q chat ",
            " q chat ",
        ],
        Phase::Paused => &[" p resume · q chat ", " q chat "],
        Phase::Over { .. } => &[" Enter play again · q chat ", " q chat "],
    };
    let hint = hints
        .iter()
        .copied()
        .find(|t| t.chars().count() <= room)
        .unwrap_or_default();
    let border = match game.phase() {
        Phase::Over { won: false } => Style::new().fg(Color::Red),
        Phase::Over { won: true } => Style::new().fg(Color::Yellow),
        _ => Style::new().fg(Color::Gray),
    };
    let block = Block::bordered()
        .border_style(border)
        .title_top(Line::styled(
            title,
            Style::new().add_modifier(Modifier::BOLD),
        ))
        .title_bottom(Line::styled(hint, DIM_STYLE).centered());
    let inner = block.inner(board);
    block.render(board, buf);
    inner
}

fn render_snake(game: &Game, inner: Rect, buf: &mut Buffer) {
    let over = matches!(game.phase(), Phase::Over { .. });
    let body_style = if over { DEAD_BODY_STYLE } else { BODY_STYLE };
    for p in game.snake().skip(1) {
        put(inner, p, BODY, body_style, buf);
    }
    let Some(head) = game.head() else { return };
    // Eyes on the side the snake faces; crossed out when it crashed, happy when it won.
    let (face, style) = match (game.phase(), game.heading()) {
        (Phase::Over { won: false }, _) => ("xx", DEAD_HEAD_STYLE),
        (Phase::Over { won: true }, _) => ("^^", HEAD_STYLE),
        (_, Dir::Right) => (" :", HEAD_STYLE),
        (_, Dir::Left) => (": ", HEAD_STYLE),
        (_, Dir::Up) => ("''", HEAD_STYLE),
        (_, Dir::Down) => ("..", HEAD_STYLE),
    };
    put(inner, head, face, style, buf);
}

fn render_game_over(game: &Game, won: bool, inner: Rect, buf: &mut Buffer) {
    let mut lines = vec![
        Line::from(format!(
            "score {} · best {}",
            game.score(),
            game.high_score()
        ))
        .centered(),
    ];
    if game.is_new_high_score() {
        lines.push(Line::styled("new best!", KEY_STYLE).centered());
    }
    lines.push(Line::default());
    lines.push(key_line("Enter", "play again"));
    if game.shared() {
        lines.push(Line::styled("       score shared", DIM_STYLE));
    } else {
        lines.push(key_line("b", "brag in chat"));
    }
    lines.push(key_line("q", "back to chat"));
    let (title, style) = if won {
        ("You win!", Style::new().fg(Color::Yellow))
    } else {
        ("Game over", Style::new().fg(Color::Red))
    };
    popup(inner, title, lines, Where::Middle, style, buf);
}

/// `key` in a fixed-width column, then what it does.
fn key_line(key: &'static str, action: &'static str) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key:<7}"), KEY_STYLE),
        Span::raw(action),
    ])
}

#[derive(Debug, Clone, Copy)]
enum Where {
    Top,
    Middle,
    Bottom,
}

/// Small boxes go to the half of the board the head is not in, so the player can still see
/// where the snake will go on resuming.
fn away_from_head(game: &Game) -> Where {
    let rows = game.board().1;
    match game.head() {
        Some(head) if head.y < rows / 2 => Where::Bottom,
        _ => Where::Top,
    }
}

/// A bordered box with a centred title, sized to its lines and clamped to `within`.
fn popup(
    within: Rect,
    title: &str,
    lines: Vec<Line<'_>>,
    at: Where,
    border: Style,
    buf: &mut Buffer,
) {
    let text_width = lines.iter().map(Line::width).max().unwrap_or(0);
    let text_width = text_width.max(title.chars().count() + 2);
    let width = u16::try_from(text_width + 4)
        .unwrap_or(u16::MAX)
        .min(within.width);
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(within.height);
    let half = within.height / 2;
    let y = match at {
        Where::Middle => within.y + (within.height - height) / 2,
        Where::Top => within.y + half.saturating_sub(height) / 2,
        Where::Bottom => {
            let top = within.y + half + (within.height - half).saturating_sub(height) / 2;
            top.min(within.bottom() - height)
        }
    };
    let rect = Rect::new(within.x + (within.width - width) / 2, y, width, height);
    Clear.render(rect, buf);
    let block = Block::bordered()
        .border_style(border)
        .title_top(
            Line::styled(format!(" {title} "), border.add_modifier(Modifier::BOLD)).centered(),
        )
        .padding(Padding::horizontal(1));
    Paragraph::new(lines).block(block).render(rect, buf);
}

/// The message shown instead of the board while the pane is too small to play.
fn render_blocked(blocked: Blocked, area: Rect, buf: &mut Buffer) {
    let (headline, need_width, need_height) = match blocked {
        Blocked::TooSmall {
            need_width,
            need_height,
        } => ("Snake needs a bigger window", need_width, need_height),
        Blocked::SnakeTooBig {
            need_width,
            need_height,
        } => ("Your snake no longer fits", need_width, need_height),
    };
    let lines = vec![
        Line::styled(headline, Style::new().add_modifier(Modifier::BOLD)),
        Line::from(format!(
            "this pane is {}x{}, it needs {need_width}x{need_height}",
            area.width, area.height
        )),
        Line::from(vec![
            Span::styled("q", KEY_STYLE),
            Span::raw(" back to chat"),
        ]),
    ];
    // About the rows the wrapped text takes, to centre it vertically; the text may run on to
    // the bottom of the area if word wrapping needs more.
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(usize::from(area.width)).max(1))
        .sum();
    let rows = u16::try_from(rows).unwrap_or(u16::MAX).min(area.height);
    let top = area.y + (area.height - rows) / 2;
    let text = Rect {
        y: top,
        height: area.bottom() - top,
        ..area
    };
    Paragraph::new(lines)
        .centered()
        .wrap(Wrap { trim: true })
        .render(text, buf);
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::client::snake::{Input, MIN_PANE, Outcome};

    /// Draws `game` on a `width` x `height` TestBackend terminal filling the whole screen.
    fn draw(game: &Game, width: u16, height: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
        terminal
            .draw(|frame| render(game, frame.area(), frame.buffer_mut()))
            .expect("draw");
        terminal.backend().buffer().clone()
    }

    /// The screen as text, one string per row (every symbol used here is one cell wide).
    fn rows(buf: &Buffer) -> Vec<String> {
        (0..buf.area.height)
            .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
            .collect()
    }

    /// Where `text` first appears on screen, as (column, row).
    fn find(buf: &Buffer, text: &str) -> Option<(u16, u16)> {
        rows(buf).iter().enumerate().find_map(|(y, row)| {
            let byte = row.find(text)?;
            let x = row[..byte].chars().count();
            Some((u16::try_from(x).ok()?, u16::try_from(y).ok()?))
        })
    }

    fn screen(buf: &Buffer) -> String {
        rows(buf).join("\n")
    }

    /// The two cells of board cell (x, y) on a board filling the screen from (0, 0).
    fn board_cell(buf: &Buffer, x: u16, y: u16) -> (&str, &str, Style) {
        let (sx, sy) = (1 + x * CELL_WIDTH, 1 + y);
        let left = &buf[(sx, sy)];
        (left.symbol(), buf[(sx + 1, sy)].symbol(), left.style())
    }

    fn start(game: &mut Game) -> Instant {
        let t0 = Instant::now();
        assert_eq!(game.handle(Input::Pause, t0), Outcome::Changed);
        t0
    }

    fn advance(game: &mut Game) {
        let due = game.next_deadline().expect("running");
        assert!(game.tick(due));
    }

    #[test]
    fn ready_board_shows_border_scores_snake_head_food_and_hint() {
        // 80x24 fits a 39x22 board exactly.
        let body = [(15, 16), (14, 16), (13, 16)];
        let mut game = Game::with_snake(39, 22, &body, Dir::Right, Some((30, 18)), 1);
        assert_eq!(game.pane(), (80, 24));
        let buf = draw(&game, 80, 24);
        assert_eq!(buf[(0, 0)].symbol(), "┌");
        assert_eq!(buf[(79, 23)].symbol(), "┘");
        let title = find(&buf, " Snake · score 0 · best 0 · speed 1 ").expect("title");
        assert_eq!(title.1, 0);
        assert_eq!(find(&buf, "arrows/wasd/hjkl steer").map(|p| p.1), Some(23));

        let (l, r, style) = board_cell(&buf, 15, 16);
        assert_eq!((l, r), (" ", ":"), "head faces right");
        assert_eq!(style.bg, Some(Color::LightGreen));
        let (l, r, style) = board_cell(&buf, 14, 16);
        assert_eq!((l, r), ("█", "█"));
        assert_eq!(style.fg, Some(Color::Green));
        assert_eq!(board_cell(&buf, 13, 16).0, "█");
        assert_eq!(board_cell(&buf, 12, 16).0, " ", "nothing behind the tail");
        let (l, r, style) = board_cell(&buf, 30, 18);
        assert_eq!((l, r), ("(", ")"));
        assert_eq!(style.fg, Some(Color::LightRed));

        // The start prompt sits in the half without the head.
        assert!(find(&buf, " Ready? ").is_some());
        let prompt = find(&buf, "arrows, wasd or hjkl").expect("start prompt");
        assert!(prompt.1 < 1 + 11, "prompt in the top half: {prompt:?}");

        let _ = game.handle(Input::Turn(Dir::Up), Instant::now());
        let buf = draw(&game, 80, 24);
        assert_eq!(
            find(&buf, "arrows, wasd or hjkl"),
            None,
            "no prompt while running"
        );
    }

    #[test]
    fn the_head_shows_which_way_it_faces() {
        let body = [(5, 5), (4, 5), (3, 5)];
        let mut game = Game::with_snake(20, 10, &body, Dir::Right, Some((0, 0)), 1);
        let t0 = start(&mut game);
        for (dir, face) in [
            (Dir::Up, "''"),
            (Dir::Left, ": "),
            (Dir::Down, ".."),
            (Dir::Right, " :"),
        ] {
            let _ = game.handle(Input::Turn(dir), t0);
            advance(&mut game);
            let buf = draw(&game, 42, 12);
            let head = game.head().expect("snake");
            let (l, r, _) = board_cell(&buf, head.x, head.y);
            assert_eq!(format!("{l}{r}"), face, "{dir:?}");
        }
    }

    /// A game on a `cols` x `rows` board that ate once and then crashed into the right wall.
    fn crashed(cols: u16, rows: u16) -> Game {
        let y = rows / 2;
        let body = [(cols - 3, y), (cols - 4, y), (cols - 5, y)];
        let mut game = Game::with_snake(cols, rows, &body, Dir::Right, Some((cols - 2, y)), 1);
        start(&mut game);
        for _ in 0..3 {
            advance(&mut game);
        }
        assert_eq!(game.phase(), Phase::Over { won: false });
        game
    }

    #[test]
    fn game_over_box_shows_score_best_and_keys_at_the_smallest_size() {
        let (width, height) = MIN_PANE;
        let game = crashed(12, 8);
        let buf = draw(&game, width, height);
        let text = screen(&buf);
        for expected in [
            " Game over ",
            "score 1 · best 1",
            "new best!",
            "Enter  play again",
            "b      brag in chat",
            "q      back to chat",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert_eq!(buf[(0, 0)].fg, Color::Red, "red border after a crash");
        assert_eq!(find(&buf, " q chat ").map(|p| p.1), Some(height - 1));
    }

    #[test]
    fn game_over_box_is_centred_and_the_crashed_head_is_crossed_out() {
        let mut game = crashed(29, 18);
        let buf = draw(&game, 60, 20);
        let (x, y) = find(&buf, " Game over ").expect("box title");
        assert!(
            (20..30).contains(&x) && (4..10).contains(&y),
            "centred: {x},{y}"
        );
        let head = game.head().expect("snake");
        let (l, r, style) = board_cell(&buf, head.x, head.y);
        assert_eq!(format!("{l}{r}"), "xx");
        assert_eq!(style.bg, Some(Color::Red));
        assert_eq!(
            board_cell(&buf, head.x - 1, head.y).2.fg,
            Some(Color::DarkGray)
        );

        assert_eq!(game.handle(Input::Share, Instant::now()), Outcome::Share(1));
        let text = screen(&draw(&game, 60, 20));
        assert!(text.contains("score shared"), "{text}");
        assert!(!text.contains("brag in chat"), "{text}");
    }

    #[test]
    fn a_finished_board_that_shrank_is_clipped_to_the_border() {
        // The dead snake lies on row 9, columns 25..=28; the board shrinks to 25x10 cells so
        // its tail cell would land exactly on the right border.
        let mut game = crashed(29, 18);
        let cells: Vec<Pos> = game.snake().collect();
        assert_eq!(cells.last(), Some(&Pos::new(25, 9)));
        assert!(game.resize(52, 12));
        assert_eq!((game.board(), game.blocked()), ((25, 10), None));
        let buf = draw(&game, 52, 12);
        for y in 1..11 {
            assert_eq!(buf[(51, y)].symbol(), "│", "right border, row {y}");
        }
        assert_eq!(
            buf[(49, 10)].symbol(),
            " ",
            "nothing of the snake is left inside"
        );
        assert!(screen(&buf).contains(" Game over "));
    }

    #[test]
    fn filling_the_board_shows_you_win() {
        let (cols, rows) = (12, 8);
        let mut body = Vec::new();
        for y in 0..rows {
            for i in 0..cols {
                body.push((if y % 2 == 0 { i } else { cols - 1 - i }, y));
            }
        }
        body.pop();
        body.reverse();
        let mut game = Game::with_snake(cols, rows, &body, Dir::Left, None, 1);
        start(&mut game);
        advance(&mut game);
        let buf = draw(&game, MIN_PANE.0, MIN_PANE.1);
        let text = screen(&buf);
        assert!(text.contains(" You win! "), "{text}");
        assert!(text.contains("score 1 · best 1"), "{text}");
    }

    #[test]
    fn paused_box_stays_clear_of_the_head() {
        for (head_y, box_below) in [(2, true), (14, false)] {
            let body = [(10, head_y), (9, head_y), (8, head_y)];
            let mut game = Game::with_snake(29, 18, &body, Dir::Right, Some((0, 0)), 1);
            start(&mut game);
            assert!(game.pause());
            let buf = draw(&game, 60, 20);
            let (_, y) = find(&buf, " Paused ").expect("pause box");
            let screen_head = 1 + head_y;
            assert_eq!(
                y > screen_head,
                box_below,
                "box title row {y}, head row {screen_head}"
            );
            assert!(screen(&buf).contains("p      resume"));
            assert!(screen(&buf).contains(" p resume · q chat "));
            let (l, r, _) = board_cell(&buf, 10, head_y);
            assert_eq!(format!("{l}{r}"), " :", "the head stays visible");
        }
    }

    #[test]
    fn too_small_pane_says_what_size_is_needed() {
        let game = Game::new(40, 8, 0, SmallRng::seed_from_u64(1));
        let buf = draw(&game, 40, 8);
        let text = screen(&buf);
        assert!(text.contains("Snake needs a bigger window"), "{text}");
        assert!(text.contains("this pane is 40x8, it needs 26x10"), "{text}");
        assert!(text.contains("q back to chat"), "{text}");
        assert!(!text.contains('┌'), "no board while blocked");

        // Narrower than the message: it wraps instead of being cut off.
        let game = Game::new(20, 9, 0, SmallRng::seed_from_u64(1));
        let text = screen(&draw(&game, 20, 9));
        assert!(text.contains("Snake needs a bigger"), "{text}");
        assert!(text.contains("26x10"), "{text}");
        assert!(text.contains("q back to chat"), "{text}");
    }

    #[test]
    fn a_snake_bigger_than_the_pane_is_explained() {
        let body: Vec<(u16, u16)> = (0..16).rev().map(|x| (x + 2, 5)).collect();
        let mut game = Game::with_snake(20, 10, &body, Dir::Right, Some((0, 0)), 1);
        start(&mut game);
        assert!(game.resize(30, 12));
        let text = screen(&draw(&game, 30, 12));
        assert!(text.contains("Your snake no longer fits"), "{text}");
        assert!(text.contains("34x10"), "{text}");
        assert!(text.contains("q back to chat"), "{text}");
    }

    #[test]
    fn the_board_is_centred_in_a_larger_area() {
        let game = Game::with_snake(
            29,
            18,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        assert_eq!(game.pane(), (60, 20));
        let buf = draw(&game, 64, 24);
        assert_eq!(buf[(2, 2)].symbol(), "┌");
        assert_eq!(buf[(61, 21)].symbol(), "┘");
        assert_eq!(buf[(2 + 1 + 10, 2 + 1 + 5)].symbol(), " ");
        assert_eq!(
            buf[(2 + 1 + 11, 2 + 1 + 5)].symbol(),
            ":",
            "head on the board"
        );
    }

    #[test]
    fn rendering_stays_inside_its_area_at_every_size() {
        let outside = Rect::new(0, 0, 44, 18);
        for width in 0..=38 {
            for height in 0..=14 {
                let mut game = Game::new(width, height, 3, SmallRng::seed_from_u64(9));
                let area = Rect::new(3, 2, width, height);
                let mut buf = Buffer::filled(outside, ratatui::buffer::Cell::new("z"));
                render(&game, area, &mut buf);
                for y in 0..outside.height {
                    for x in 0..outside.width {
                        if !area.contains((x, y).into()) {
                            assert_eq!(
                                buf[(x, y)].symbol(),
                                "z",
                                "{width}x{height} wrote ({x},{y})"
                            );
                        }
                    }
                }
                let text = screen(&buf);
                if width >= MIN_PANE.0 && height >= MIN_PANE.1 {
                    assert_eq!(buf[(3, 2)].symbol(), "┌", "{width}x{height}");
                } else if width >= 28 && height >= 3 {
                    assert!(text.contains("bigger window"), "{width}x{height}:\n{text}");
                }
                // Starting then pausing at this size must draw too.
                let _ = game.handle(Input::Pause, Instant::now());
                let _ = game.handle(Input::Pause, Instant::now());
                render(&game, area, &mut buf);
            }
        }
    }
}
