//! The whole screen while the snake game is up: the board fills the message pane, and the
//! status line, the sidebar and the input bar stay as they were.

use super::*;
use crate::client::app::tests::type_line;
use crate::client::snake::Phase;

fn playing(size: (u16, u16)) -> App {
    let mut app = joined(size);
    with_users(&mut app, &["alice", "bob"]);
    server(
        &mut app,
        ServerMsg::Message(chat(1, "bob", "before the game")),
    );
    type_line(&mut app, "/snake");
    app.editor.set_text("half a thought");
    app
}

#[test]
fn the_game_takes_the_pane_and_leaves_status_sidebar_and_input() {
    for size in [(100, 30), (80, 24), (50, 20)] {
        let mut app = playing(size);
        let (w, h) = size;
        let buf = draw(&app);
        let r = regions(buf.area);
        let game = app.shown_game().unwrap();
        assert_eq!(game.pane(), (r.pane.width, r.pane.height), "{size:?}");
        // The board: its border where the renderer puts it, inside the pane, with the title.
        let board = snake::board_rect(game, r.pane);
        assert!(r.pane.contains(board.as_position()) && board.right() <= r.pane.right());
        assert_eq!(buf[(board.x, board.y)].symbol(), "┌", "{size:?}");
        assert_eq!(buf[(board.right() - 1, board.bottom() - 1)].symbol(), "┘");
        assert!(has(&buf, "score 0 · best 0"), "{size:?}");
        assert!(has(&buf, "Ready?"), "{size:?}");
        assert!(
            !has(&buf, "before the game"),
            "the chat is hidden: {size:?}"
        );
        // The status line and input bar are still there.
        let status = row_text(&buf, 0);
        assert!(
            status.contains("#main") && status.contains("● connected"),
            "{status:?}"
        );
        assert!(row_text(&buf, h - 1).starts_with("› half a thought"));
        // The sidebar too, when the terminal is wide enough for it.
        assert_eq!(
            has(&buf, "Users (2)"),
            w >= SIDEBAR_MIN_TERMINAL_WIDTH,
            "{size:?}"
        );

        // Messages arriving meanwhile are counted in the status line.
        server(
            &mut app,
            ServerMsg::Message(chat(2, "bob", "alice, lunch?")),
        );
        let buf = draw(&app);
        assert!(
            row_text(&buf, 0).contains("1 unread, 1 mention"),
            "{size:?}"
        );
        assert!(!has(&buf, "lunch"));
    }
}

#[test]
fn the_board_follows_the_game_and_the_cursor_leaves_the_input_bar() {
    let mut app = playing((80, 24));
    key(&mut app, KeyCode::Right);
    let due = app.shown_game().unwrap().next_deadline().unwrap();
    app.update(Msg::Tick(due));
    assert_eq!(app.shown_game().unwrap().phase(), Phase::Running);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| render(&app, f)).unwrap();
    assert!(
        !terminal.backend().cursor_visible(),
        "keys go to the game, not the input"
    );
    let buf = terminal.backend().buffer().clone();
    assert!(!has(&buf, "Ready?"));
    assert!(has(&buf, "██"), "the snake's body");
    assert!(has(&buf, "()"), "the food");

    key(&mut app, KeyCode::Char('q'));
    terminal.draw(|f| render(&app, f)).unwrap();
    assert!(terminal.backend().cursor_visible(), "back to typing");
    let buf = terminal.backend().buffer().clone();
    assert!(has(&buf, "bob: before the game"));
    assert!(!has(&buf, "score 0 · best 0"));
}
