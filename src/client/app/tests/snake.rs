//! The snake easter egg inside the app: opening it (`/snake`, the Konami code), where keys go,
//! the chat going on underneath, sharing a score and keeping the high score.

use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::*;
use crate::client::konami::KONAMI;
use crate::client::snake::{Dir, Phase, Pos};

/// A joined app with a seeded game source.
fn app() -> App {
    let mut app = joined((80, 24));
    app.snake_rng = SmallRng::seed_from_u64(7);
    app
}

fn game(app: &App) -> &Game {
    app.shown_game().expect("the game is on screen")
}

fn pane_size(app: &App) -> (u16, u16) {
    let pane = ui::regions(app.area).pane;
    (pane.width, pane.height)
}

/// Runs the game's next step at the moment it is due.
fn step(app: &mut App) -> Vec<Effect> {
    let due = game(app).next_deadline().expect("the game is running");
    app.update(Msg::Tick(due))
}

fn konami(app: &mut App) -> Vec<Effect> {
    let mut fx = Vec::new();
    for code in KONAMI {
        fx.extend(key(app, code));
    }
    fx
}

fn dir_key(dir: Dir) -> KeyCode {
    match dir {
        Dir::Up => KeyCode::Up,
        Dir::Down => KeyCode::Down,
        Dir::Left => KeyCode::Left,
        Dir::Right => KeyCode::Right,
    }
}

/// Steers the snake to the food and eats it; returns every effect on the way.
fn eat_one(app: &mut App) -> Vec<Effect> {
    let mut fx = Vec::new();
    for _ in 0..200 {
        let g = game(app);
        if g.score() > 0 {
            return fx;
        }
        let (head, food, heading) = (g.head().unwrap(), g.food().unwrap(), g.heading());
        let toward = |from: u16, to: u16, less: Dir, more: Dir| {
            if to < from {
                Some(less)
            } else if to > from {
                Some(more)
            } else {
                None
            }
        };
        let horizontal = toward(head.x, food.x, Dir::Left, Dir::Right);
        let vertical = toward(head.y, food.y, Dir::Up, Dir::Down);
        let dir = horizontal
            .filter(|d| *d != heading.opposite())
            .or(vertical)
            .unwrap_or(Dir::Up);
        if dir != heading || g.phase() != Phase::Running {
            fx.extend(key(app, dir_key(dir)));
        }
        fx.extend(step(app));
    }
    panic!("the snake never reached the food");
}

/// Lets the snake run straight on until it dies.
fn crash(app: &mut App) -> Vec<Effect> {
    let mut fx = Vec::new();
    for _ in 0..200 {
        if matches!(game(app).phase(), Phase::Over { .. }) {
            return fx;
        }
        fx.extend(step(app));
    }
    panic!("the snake never crashed");
}

fn sent_actions(fx: &[Effect]) -> Vec<String> {
    sent(fx)
        .into_iter()
        .filter_map(|m| match m {
            ClientMsg::Me { text, .. } => Some(text),
            _ => None,
        })
        .collect()
}

#[test]
fn slash_snake_opens_the_game_over_the_pane_and_q_returns_to_the_chat() {
    let mut app = app();
    let fx = type_line(&mut app, "/snake");
    assert!(sent(&fx).is_empty(), "nothing goes to the server");
    assert!(matches!(app.screen, Screen::Snake));
    assert_eq!(
        game(&app).pane(),
        pane_size(&app),
        "sized to the message pane"
    );
    assert_eq!(game(&app).phase(), Phase::Ready);
    assert!(
        !entry_texts(&app)
            .iter()
            .any(|e| e.contains("unknown command"))
    );

    key(&mut app, KeyCode::Char('q'));
    assert!(matches!(app.screen, Screen::Chat));
    assert!(app.shown_game().is_none());
    // Hidden: /help does not give it away.
    type_line(&mut app, "/help");
    let help = entry_texts(&app).last().unwrap().to_lowercase();
    assert!(help.contains("/stats") && !help.contains("snake"), "{help}");
}

#[test]
fn leaving_pauses_the_game_and_snake_resumes_it() {
    let mut app = app();
    type_line(&mut app, "/snake");
    key(&mut app, KeyCode::Down);
    step(&mut app);
    let head = game(&app).head();
    assert!(
        app.next_deadline().is_some(),
        "the loop wakes for the next step"
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(
        app.next_deadline(),
        None,
        "a hidden game never wakes the loop"
    );
    type_line(&mut app, "/snake");
    assert_eq!(game(&app).phase(), Phase::Paused);
    assert_eq!(game(&app).head(), head, "the same game, where it was left");
}

#[test]
fn keys_go_to_the_game_while_it_shows() {
    let mut app = app();
    type_line(&mut app, "earlier line");
    type_line(&mut app, "/snake");
    let start = game(&app).head().unwrap();
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Tab);
    assert_eq!(
        game(&app).phase(),
        Phase::Ready,
        "keys the game does not use do nothing"
    );
    key(&mut app, KeyCode::Up);
    assert_eq!(game(&app).phase(), Phase::Running);
    assert_eq!(app.next_deadline(), game(&app).next_deadline());
    step(&mut app);
    assert_eq!(game(&app).head(), Some(Pos::new(start.x, start.y - 1)));
    key(&mut app, KeyCode::Char('a'));
    assert_eq!(app.editor.text(), "", "nothing typed, no history walked");
    // Link hints need the chat: Ctrl-O does nothing here.
    ctrl(&mut app, 'o');
    assert_eq!(app.mode, Mode::Normal);
    // Ctrl-C still reaches the app: on an empty line it quits, asking first since "earlier
    // line" is unconfirmed: the question shows over the chat, the game paused.
    let fx = ctrl(&mut app, 'c');
    assert!(!fx.iter().any(|e| matches!(e, Effect::Quit)));
    assert_eq!(app.mode, Mode::ConfirmQuit);
    assert!(matches!(app.screen, Screen::Chat));
    assert_eq!(app.snake.as_ref().unwrap().phase(), Phase::Paused);
    let fx = key(&mut app, KeyCode::Char('q'));
    assert!(fx.iter().any(|e| matches!(e, Effect::Quit)));
}

#[test]
fn the_board_refits_when_the_terminal_is_resized() {
    let mut app = app();
    type_line(&mut app, "/snake");
    app.update(Msg::Resize(120, 40));
    assert_eq!(game(&app).pane(), pane_size(&app));
    assert_eq!(pane_size(&app), (100, 38), "the sidebar keeps its place");
    app.update(Msg::Resize(30, 8));
    assert!(game(&app).blocked().is_some(), "too small to play: paused");
}

#[test]
fn the_konami_code_opens_the_game_and_puts_the_input_back() {
    let mut app = app();
    type_line(&mut app, "first");
    type_line(&mut app, "second");
    for c in "draft".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    let before = (app.editor.text().to_string(), app.editor.cursor());
    let fx = konami(&mut app);
    assert!(sent(&fx).is_empty());
    assert!(matches!(app.screen, Screen::Snake));
    assert_eq!((app.editor.text().to_string(), app.editor.cursor()), before);
    assert_eq!(app.editor.history(), ["first", "second"]);

    key(&mut app, KeyCode::Char('q'));
    // History browsing starts afresh and the draft comes back after it.
    key(&mut app, KeyCode::Up);
    assert_eq!(app.editor.text(), "second");
    key(&mut app, KeyCode::Down);
    assert_eq!(app.editor.text(), "draft");
}

#[test]
fn a_fumbled_konami_code_still_counts_and_restores_the_line_from_before_it() {
    let mut app = app();
    type_line(&mut app, "old");
    for c in "mine".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    // One ↑ too many: the last ten keys are the code.
    key(&mut app, KeyCode::Up);
    konami(&mut app);
    assert!(matches!(app.screen, Screen::Snake));
    assert_eq!(app.editor.text(), "mine");
}

#[test]
fn a_broken_konami_code_leaves_the_typing_alone() {
    let mut app = app();
    for code in &KONAMI[..8] {
        key(&mut app, *code);
    }
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Char('b'));
    key(&mut app, KeyCode::Char('a'));
    assert!(matches!(app.screen, Screen::Chat));
    assert_eq!(app.editor.text(), "xba");
    // A paste in the middle breaks it too.
    app.editor.set_text("");
    for code in &KONAMI[..9] {
        key(&mut app, *code);
    }
    app.update(Msg::Paste("pasted".into()));
    key(&mut app, KeyCode::Char('a'));
    assert!(matches!(app.screen, Screen::Chat));
}

#[test]
fn a_refused_message_arriving_mid_code_keeps_its_place_in_the_history() {
    let mut app = app();
    type_line(&mut app, "way too long");
    type_line(&mut app, "second");
    for code in &KONAMI[..4] {
        key(&mut app, *code);
    }
    server(
        &mut app,
        ServerMsg::error(ErrorCode::TooLong, "message too long"),
    );
    for code in &KONAMI[4..] {
        key(&mut app, *code);
    }
    assert!(
        matches!(app.screen, Screen::Chat),
        "the code was broken off"
    );
    app.editor.set_text("");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.editor.text(), "way too long");
}

#[test]
fn unread_messages_and_mentions_are_counted_while_playing_and_shown_after() {
    let mut app = app();
    type_line(&mut app, "/snake");
    assert!(app.is_away(), "playing is not looking at the chat");
    server(&mut app, ServerMsg::Message(chat(1, "bob", "hi alice")));
    let fx = server(
        &mut app,
        ServerMsg::Message(chat(2, "bob", "are you there?")),
    );
    assert_eq!((app.unread, app.mentions), (2, 1));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SetTitle(t) if t == "(2) Clicom — #main"))
    );
    key(&mut app, KeyCode::Char('q'));
    assert_eq!((app.unread, app.mentions), (0, 0));
    assert!(chats(&app).contains(&"bob: are you there?".to_string()));
    assert!(
        app.pane.ruler().is_some(),
        "the ruler marks the first unseen"
    );
}

#[test]
fn sharing_after_game_over_sends_a_me_action_once() {
    let mut app = app();
    type_line(&mut app, "/snake");
    key(&mut app, KeyCode::Char('b'));
    eat_one(&mut app);
    let fx = key(&mut app, KeyCode::Char('b'));
    assert!(sent_actions(&fx).is_empty(), "nothing to share mid-game");
    crash(&mut app);
    let fx = key(&mut app, KeyCode::Char('b'));
    assert_eq!(sent_actions(&fx), ["scored 1 at snake"]);
    assert!(matches!(app.screen, Screen::Snake), "still in the game");
    assert!(
        sent_actions(&key(&mut app, KeyCode::Char('b'))).is_empty(),
        "shared once"
    );
    // The echo is our own line: delivered, and not news to us.
    server(
        &mut app,
        ServerMsg::Message(ChatMessage {
            action: true,
            ..chat(9, "alice", "scored 1 at snake")
        }),
    );
    assert_eq!(app.unread, 0);
    assert_eq!(app.outbox.len(), 0);
}

#[test]
fn a_share_while_offline_waits_in_the_outbox() {
    let mut app = app();
    type_line(&mut app, "/snake");
    key(&mut app, KeyCode::Right);
    crash(&mut app);
    net(
        &mut app,
        NetEvent::Disconnected {
            url: URL.into(),
            reason: "refused".into(),
            retry_at: None,
            attempt: 2,
        },
    );
    let fx = key(&mut app, KeyCode::Char('b'));
    assert!(sent_actions(&fx).is_empty());
    assert_eq!(app.outbox.pending_count(), 1);
    let fx = join(&mut app, &[]);
    assert_eq!(sent_actions(&fx), ["scored 0 at snake"]);
}

#[test]
fn the_high_score_is_kept_in_the_stats_and_saved_at_game_over() {
    let mut app = app();
    type_line(&mut app, "/snake");
    eat_one(&mut app);
    assert_eq!(app.stats.snake_high_score, 1);
    let fx = crash(&mut app);
    let saved: Vec<u32> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::SaveStats(s) => Some(s.snake_high_score),
            _ => None,
        })
        .collect();
    assert_eq!(saved, [1], "saved once, when the game ended");
    // `/stats` shows it to whoever found the game.
    key(&mut app, KeyCode::Char('q'));
    type_line(&mut app, "/stats");
    assert!(
        entry_texts(&app)
            .last()
            .unwrap()
            .ends_with("· snake best: 1")
    );
    // A new game starts from that best.
    type_line(&mut app, "/snake");
    assert_eq!(game(&app).phase(), Phase::Ready);
    assert_eq!((game(&app).score(), game(&app).high_score()), (0, 1));
    // And a worse game leaves it alone.
    key(&mut app, KeyCode::Right);
    let fx = crash(&mut app);
    assert!(!fx.iter().any(|e| matches!(e, Effect::SaveStats(_))));
    assert_eq!(app.stats.snake_high_score, 1);
}

#[test]
fn a_finished_game_is_replaced_by_a_new_one_next_time() {
    let mut app = app();
    app.stats.snake_high_score = 5;
    type_line(&mut app, "/snake");
    assert_eq!(
        game(&app).high_score(),
        5,
        "the best so far comes from the stats"
    );
    key(&mut app, KeyCode::Right);
    crash(&mut app);
    key(&mut app, KeyCode::Char('q'));
    type_line(&mut app, "/snake");
    assert_eq!(game(&app).phase(), Phase::Ready);
}
