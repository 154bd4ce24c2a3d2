//! The app as a pure state machine: messages in, state and effects out, no terminal, no socket.

use std::time::{Duration, Instant};

use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::*;
use crate::client::layout::ViewRow;

mod snake;

pub(crate) const URL: &str = "ws://127.0.0.1:10000/ws";

pub(crate) fn init(name: Option<&str>, size: (u16, u16)) -> AppInit {
    AppInit {
        settings: Settings::default(),
        server_label: "local".into(),
        server_url: URL.into(),
        name: name.map(str::to_string),
        color: Some("2".into()),
        room: "main".into(),
        stats: Stats::default(),
        palette: Palette { truecolor: true },
        size,
        notices: Vec::new(),
    }
}

/// An app for `alice` that has started (and so asked to connect).
pub(crate) fn started(size: (u16, u16)) -> App {
    let mut app = App::new(init(Some("alice"), size));
    app.start();
    app
}

/// An app that is connected, welcomed and has had its (empty) history.
pub(crate) fn joined(size: (u16, u16)) -> App {
    let mut app = started(size);
    join(&mut app, &[]);
    app
}

pub(crate) fn net(app: &mut App, ev: NetEvent) -> Vec<Effect> {
    app.update(Msg::Net(ev))
}

pub(crate) fn server(app: &mut App, msg: ServerMsg) -> Vec<Effect> {
    net(app, NetEvent::Server(msg))
}

/// Connected + welcome + history: what the server does on every (re)join.
pub(crate) fn join(app: &mut App, history: &[ChatMessage]) -> Vec<Effect> {
    let mut fx = net(app, NetEvent::Connected { url: URL.into() });
    fx.extend(server(
        app,
        ServerMsg::Welcome(Welcome {
            name: app.name.clone(),
            color: app.color.clone(),
            room: app.room.clone(),
            max_text: Some(2000),
        }),
    ));
    fx.extend(server(
        app,
        ServerMsg::History {
            room: app.room.clone(),
            messages: history.to_vec(),
        },
    ));
    fx
}

pub(crate) fn chat(id: u64, name: &str, text: &str) -> ChatMessage {
    ChatMessage {
        name: name.into(),
        color: "3".into(),
        text: text.into(),
        id: Some(id),
        ts: Some(crate::protocol::now_ms()),
        room: Some("main".into()),
        action: false,
        cid: None,
    }
}

pub(crate) fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub(crate) fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )))
}

pub(crate) fn type_line(app: &mut App, text: &str) -> Vec<Effect> {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
    key(app, KeyCode::Enter)
}

pub(crate) fn click(app: &mut App, column: u16, row: u16) -> Vec<Effect> {
    app.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }))
}

fn sent(fx: &[Effect]) -> Vec<ClientMsg> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Net(NetCmd::Send(m)) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// The cid a message was sent with.
fn cid_of(msg: &ClientMsg) -> String {
    match msg {
        ClientMsg::Message { cid, .. } | ClientMsg::Me { cid, .. } | ClientMsg::Dm { cid, .. } => {
            cid.clone().expect("our client always sends a cid")
        }
        other => panic!("not a message: {other:?}"),
    }
}

/// A room message from `name` carrying `cid`, as the server stores and echoes it.
fn chat_with_cid(id: u64, name: &str, text: &str, cid: &str) -> ChatMessage {
    ChatMessage {
        cid: Some(cid.into()),
        ..chat(id, name, text)
    }
}

fn sent_texts(fx: &[Effect]) -> Vec<String> {
    sent(fx)
        .into_iter()
        .filter_map(|m| match m {
            ClientMsg::Message { text, .. } => Some(text),
            _ => None,
        })
        .collect()
}

fn opened(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::OpenUrl { url, .. } => Some(url.clone()),
            _ => None,
        })
        .collect()
}

/// The pane's entries as text, for assertions.
pub(crate) fn entry_texts(app: &App) -> Vec<String> {
    app.pane
        .entries()
        .map(|e| match &e.kind {
            EntryKind::Chat { name, text, .. } => format!("{name}: {text}"),
            EntryKind::Dm { from, to, text, .. } => format!("{from}->{to}: {text}"),
            EntryKind::System(t) => format!("system: {t}"),
            EntryKind::Info(t) => format!("info: {t}"),
            EntryKind::Error(t) => format!("error: {t}"),
            EntryKind::Separator(t) => format!("sep: {t}"),
            EntryKind::Gap { missed } => format!("gap: {missed}"),
            EntryKind::Banner(_) => "banner".into(),
            EntryKind::Pending { text, .. } => format!("pending: {text}"),
        })
        .collect()
}

fn chats(app: &App) -> Vec<String> {
    app.pane
        .entries()
        .filter_map(|e| match &e.kind {
            EntryKind::Chat { name, text, .. } => Some(format!("{name}: {text}")),
            _ => None,
        })
        .collect()
}

#[test]
fn start_connects_with_the_identity() {
    let mut app = App::new(init(Some("alice"), (80, 24)));
    let fx = app.start();
    assert!(fx.iter().any(|e| matches!(e,
        Effect::Connect { url, identity } if url == URL && identity.name == "alice" && identity.room == "main")));
    assert_eq!(app.conn, ConnState::Connecting { attempt: 1 });
}

#[test]
fn a_message_is_pending_until_the_server_echoes_it() {
    let mut app = joined((80, 24));
    let fx = type_line(&mut app, "hello");
    assert_eq!(sent_texts(&fx), ["hello"]);
    assert_eq!(app.outbox.len(), 1, "shown as pending until confirmed");
    assert_eq!(app.pane.pending().len(), 1);
    server(&mut app, ServerMsg::Message(chat(1, "alice", "hello")));
    assert!(app.outbox.is_empty());
    assert!(app.pane.pending().is_empty());
    assert_eq!(chats(&app), ["alice: hello"]);
    assert_eq!(app.stats.sent, 1);
}

#[test]
fn offline_messages_wait_and_go_out_once_after_the_history() {
    let mut app = joined((80, 24));
    // "a" is sent, then the connection drops before the echo.
    let fx = type_line(&mut app, "a");
    assert_eq!(sent_texts(&fx), ["a"]);
    let a = cid_of(&sent(&fx)[0]);
    let retry_at = Instant::now() + Duration::from_secs(5);
    net(
        &mut app,
        NetEvent::Disconnected {
            url: URL.into(),
            reason: "connection reset".into(),
            retry_at: Some(retry_at),
            attempt: 2,
        },
    );
    assert_eq!(app.outbox.pending_count(), 1);
    // "b" is typed offline: nothing goes out.
    assert!(sent(&type_line(&mut app, "b")).is_empty());
    assert_eq!(app.outbox.pending_count(), 2);
    // Reconnected: welcome, then the history, which shows "a" did reach the server.
    let mut fx = net(&mut app, NetEvent::Connected { url: URL.into() });
    fx.extend(server(
        &mut app,
        ServerMsg::Welcome(Welcome {
            name: "alice".into(),
            color: "2".into(),
            room: "main".into(),
            max_text: None,
        }),
    ));
    assert!(sent(&fx).is_empty(), "nothing is sent before the history");
    let fx = server(
        &mut app,
        ServerMsg::History {
            room: "main".into(),
            messages: vec![chat_with_cid(7, "alice", "a", &a)],
        },
    );
    assert_eq!(sent_texts(&fx), ["b"], "a was delivered; only b goes out");
    let b = cid_of(&sent(&fx)[0]);
    server(
        &mut app,
        ServerMsg::Message(chat_with_cid(8, "alice", "b", &b)),
    );
    assert!(app.outbox.is_empty());
    assert_eq!(chats(&app), ["alice: a", "alice: b"]);
}

#[test]
fn words_said_before_do_not_confirm_a_new_message() {
    // A fresh start: the history holds an earlier "ok" of yours (with its own cid, or with
    // none from an old client); the "ok" typed now is another message and goes out.
    let mut app = started((80, 24));
    type_line(&mut app, "ok");
    type_line(&mut app, "second line");
    assert_eq!(app.outbox.pending_count(), 2);
    let fx = join(
        &mut app,
        &[
            chat_with_cid(1, "alice", "ok", "0000000000000001"),
            chat(2, "alice", "second line"),
        ],
    );
    assert_eq!(sent_texts(&fx), ["ok", "second line"]);
    assert_eq!(
        app.outbox.len(),
        2,
        "pending until the server confirms them"
    );
}

#[test]
fn text_the_server_altered_is_confirmed_by_its_cid_live_and_from_history() {
    let mut app = joined((80, 24));
    let fx = type_line(&mut app, "bidi \u{202E}override\u{202C} here");
    let cid = cid_of(&sent(&fx)[0]);
    // The server removed the bidi controls from what it echoes.
    server(
        &mut app,
        ServerMsg::Message(chat_with_cid(1, "alice", "bidi override here", &cid)),
    );
    assert!(app.outbox.is_empty());
    // Sent, then the connection drops before the echo: the history confirms it.
    let fx = type_line(&mut app, "שלום\u{200F} 123");
    let cid2 = cid_of(&sent(&fx)[0]);
    drop_connection(&mut app);
    let fx = join(
        &mut app,
        &[
            chat_with_cid(1, "alice", "bidi override here", &cid),
            chat_with_cid(2, "alice", "שלום 123", &cid2),
        ],
    );
    assert!(sent(&fx).is_empty(), "nothing is sent again: {fx:?}");
    assert!(app.outbox.is_empty());
    assert_eq!(
        chats(&app),
        ["alice: bidi override here", "alice: שלום 123"]
    );
    assert_eq!(app.stats.sent, 2);
}

#[test]
fn the_answer_to_a_resend_confirms_it_and_shows_it_once() {
    let mut app = joined((80, 24));
    let cid = cid_of(&sent(&type_line(&mut app, "x"))[0]);
    drop_connection(&mut app);
    // Not in the history this time (the server keeps only its newest): it is sent again…
    let fx = join(&mut app, &[]);
    assert_eq!(sent_texts(&fx), ["x"]);
    assert_eq!(cid_of(&sent(&fx)[0]), cid, "with the same cid");
    // …and the server answers with the message it already had.
    let stored = chat_with_cid(3, "alice", "x", &cid);
    server(&mut app, ServerMsg::Message(stored.clone()));
    server(&mut app, ServerMsg::Message(stored));
    assert!(app.outbox.is_empty());
    assert_eq!(chats(&app), ["alice: x"]);
}

#[test]
fn an_echo_without_cid_from_an_old_server_confirms_the_oldest_in_flight() {
    let mut app = joined((80, 24));
    type_line(&mut app, "first");
    type_line(&mut app, "/me waves");
    type_line(&mut app, "second");
    // The server changed the words: order, not text, says which one it is.
    server(&mut app, ServerMsg::Message(chat(1, "alice", "FIRST")));
    let left: Vec<_> = app.outbox.iter().map(|o| o.text.clone()).collect();
    assert_eq!(left, ["waves", "second"]);
    // Someone else's line confirms nothing.
    server(&mut app, ServerMsg::Message(chat(2, "bob", "second")));
    assert_eq!(app.outbox.len(), 2);
}

/// Drops the connection of a joined app (a retry is scheduled).
fn drop_connection(app: &mut App) {
    net(
        app,
        NetEvent::Disconnected {
            url: URL.into(),
            reason: "connection reset".into(),
            retry_at: Some(Instant::now() + Duration::from_secs(5)),
            attempt: 2,
        },
    );
}

#[test]
fn messages_typed_for_a_room_left_while_offline_are_not_sent_to_the_next_one() {
    let mut app = joined((80, 24));
    drop_connection(&mut app);
    type_line(&mut app, "meant for main");
    type_line(&mut app, "/msg bob still for bob");
    type_line(&mut app, "/join secret");
    assert_eq!(app.outbox.len(), 1, "only the DM keeps its addressee");
    let texts = entry_texts(&app);
    assert!(
        texts
            .iter()
            .any(|t| t.contains("not confirmed by #main") && t.contains("meant for main")),
        "{texts:?}"
    );
    // Reconnected in #secret: only the DM goes out.
    let fx = join(&mut app, &[]);
    assert_eq!(sent(&fx).len(), 1);
    assert!(matches!(&sent(&fx)[0], ClientMsg::Dm { to, .. } if to == "bob"));
    // Up brings the withdrawn line back to the input.
    app.update(Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)));
    assert_eq!(app.editor.text(), "meant for main");
}

#[test]
fn messages_typed_for_a_server_left_are_not_sent_to_the_next_one() {
    let mut app = joined((80, 24));
    drop_connection(&mut app);
    type_line(&mut app, "meant for this server");
    type_line(&mut app, "/msg bob and this bob");
    type_line(&mut app, "/server 127.0.0.1:4000");
    assert!(app.outbox.is_empty());
    assert!(app.pane.pending().is_empty());
    let fx = join(&mut app, &[]);
    assert!(sent(&fx).is_empty(), "{fx:?}");
}

#[test]
fn leaving_on_request_is_quiet_and_the_next_failure_is_told() {
    let mut app = joined((80, 24));
    type_line(&mut app, "/server 127.0.0.1:4000");
    let new_url = "ws://127.0.0.1:4000/ws";
    net(
        &mut app,
        NetEvent::Disconnected {
            url: URL.into(),
            reason: format!("switched to {new_url}"),
            retry_at: None,
            attempt: 1,
        },
    );
    let errors = |app: &App| -> Vec<String> {
        entry_texts(app)
            .into_iter()
            .filter(|t| t.starts_with("error: "))
            .collect()
    };
    assert!(errors(&app).is_empty(), "{:?}", errors(&app));
    for attempt in [1, 2] {
        net(
            &mut app,
            NetEvent::Disconnected {
                url: new_url.into(),
                reason: "connection refused".into(),
                retry_at: Some(Instant::now() + Duration::from_secs(1)),
                attempt,
            },
        );
    }
    assert_eq!(
        errors(&app),
        ["error: Disconnected: connection refused"],
        "told once, not per retry"
    );

    // /reconnect on a live connection: its end is expected; a later drop is news again.
    let mut app = joined((80, 24));
    type_line(&mut app, "/reconnect");
    let reconnecting = NetEvent::Disconnected {
        url: URL.into(),
        reason: "reconnecting".into(),
        retry_at: Some(Instant::now()),
        attempt: 1,
    };
    net(&mut app, reconnecting.clone());
    assert!(errors(&app).is_empty(), "{:?}", errors(&app));
    join(&mut app, &[]);
    net(&mut app, reconnecting);
    assert_eq!(errors(&app), ["error: Disconnected: reconnecting"]);
}

#[test]
fn nick_to_your_own_name_says_so_and_sends_nothing() {
    let mut app = joined((80, 24));
    let fx = type_line(&mut app, "/nick alice");
    assert!(sent(&fx).is_empty(), "{fx:?}");
    assert_eq!(
        entry_texts(&app).last().unwrap(),
        "info: You are already alice."
    );
}

#[test]
fn a_refusal_and_its_copy_for_old_clients_show_once() {
    let mut app = joined((80, 24));
    let before = entry_texts(&app).len();
    server(
        &mut app,
        ServerMsg::Error {
            code: ErrorCode::InvalidRoom,
            text: "a room name may use letters".into(),
        },
    );
    server(
        &mut app,
        ServerMsg::system("Cannot join that room: a room name may use letters."),
    );
    // Room announcements and other private lines still show.
    server(
        &mut app,
        ServerMsg::System {
            text: "bob joined the chat. (2 online)".into(),
            room: Some("main".into()),
        },
    );
    server(&mut app, ServerMsg::system("Server is shutting down."));
    let texts = entry_texts(&app)[before..].to_vec();
    assert_eq!(
        texts,
        [
            "error: a room name may use letters",
            "system: bob joined the chat. (2 online)",
            "system: Server is shutting down.",
        ]
    );
}

#[test]
fn history_after_a_reconnect_adds_only_what_was_missed() {
    let mut app = started((80, 24));
    join(&mut app, &[chat(1, "bob", "one"), chat(2, "bob", "two")]);
    server(&mut app, ServerMsg::Message(chat(3, "bob", "three")));
    net(
        &mut app,
        NetEvent::Disconnected {
            url: URL.into(),
            reason: "gone".into(),
            retry_at: Some(Instant::now()),
            attempt: 1,
        },
    );
    join(
        &mut app,
        &[
            chat(2, "bob", "two"),
            chat(3, "bob", "three"),
            chat(4, "carol", "missed"),
        ],
    );
    assert_eq!(
        chats(&app),
        ["bob: one", "bob: two", "bob: three", "carol: missed"]
    );
}

#[test]
fn an_old_server_without_history_still_gets_pending_messages() {
    let mut app = started((80, 24));
    type_line(&mut app, "queued");
    net(&mut app, NetEvent::Connected { url: URL.into() });
    assert!(
        app.next_deadline().is_some(),
        "waits for history with a deadline"
    );
    let later = Instant::now() + Duration::from_secs(5);
    let fx = app.update(Msg::Tick(later));
    assert_eq!(sent_texts(&fx), ["queued"]);
}

#[test]
fn not_sent_messages_return_to_the_queue() {
    let mut app = joined((80, 24));
    let fx = type_line(&mut app, "x");
    let msg = sent(&fx).remove(0);
    net(&mut app, NetEvent::NotSent(msg));
    assert_eq!(app.outbox.pending_count(), 1);
}

#[test]
fn unknown_commands_are_local_errors_and_never_sent() {
    let mut app = joined((80, 24));
    let fx = type_line(&mut app, "/frobnicate all");
    assert!(sent(&fx).is_empty());
    assert!(app.outbox.is_empty());
    let last = entry_texts(&app).pop().unwrap();
    assert!(
        last.starts_with("error: unknown command /frobnicate"),
        "{last}"
    );
}

#[test]
fn commands_map_to_protocol_messages() {
    let mut app = joined((80, 24));
    assert_eq!(sent(&type_line(&mut app, "/who")), [ClientMsg::Who]);
    assert_eq!(sent(&type_line(&mut app, "/list")), [ClientMsg::Who]);
    assert_eq!(sent(&type_line(&mut app, "/rooms")), [ClientMsg::Rooms]);
    assert_eq!(
        sent(&type_line(&mut app, "/join Rust")),
        [ClientMsg::JoinRoom {
            room: "rust".into()
        }]
    );
    let me = sent(&type_line(&mut app, "/me waves"));
    assert!(
        matches!(&me[..], [ClientMsg::Me { text, cid: Some(_) }] if text == "waves"),
        "{me:?}"
    );
    let dm = sent(&type_line(&mut app, "/msg bob psst"));
    assert!(
        matches!(&dm[..], [ClientMsg::Dm { to, text, cid: Some(_) }] if to == "bob" && text == "psst"),
        "{dm:?}"
    );
    let fx = type_line(&mut app, "/reconnect");
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Net(NetCmd::ReconnectNow)))
    );
    // The action and the DM are unconfirmed: /quit asks, Q quits anyway.
    let fx = type_line(&mut app, "/quit");
    assert!(!fx.iter().any(|e| matches!(e, Effect::Quit)));
    let fx = key(&mut app, KeyCode::Char('Q'));
    assert!(fx.iter().any(|e| matches!(e, Effect::Quit)));
    assert!(app.is_quitting());
}

#[test]
fn quitting_with_nothing_unconfirmed_asks_nothing() {
    for quit in [
        |app: &mut App| type_line(app, "/exit"),
        |app: &mut App| ctrl(app, 'c'),
        |app: &mut App| ctrl(app, 'd'),
    ] {
        let mut app = joined((80, 24));
        let fx = quit(&mut app);
        assert!(fx.iter().any(|e| matches!(e, Effect::Quit)));
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::Net(NetCmd::Shutdown)))
        );
    }
}

#[test]
fn quitting_with_unconfirmed_messages_asks_and_esc_stays() {
    let mut app = joined((80, 24));
    type_line(&mut app, "on its way");
    for quit in [
        |app: &mut App| type_line(app, "/quit"),
        |app: &mut App| ctrl(app, 'c'),
        |app: &mut App| ctrl(app, 'd'),
    ] {
        let fx = quit(&mut app);
        assert!(!fx.iter().any(|e| matches!(e, Effect::Quit)), "{fx:?}");
        assert_eq!(app.mode, Mode::ConfirmQuit);
        // Ctrl-C again (a reflex) does not decide; Esc stays.
        assert!(
            !ctrl(&mut app, 'c')
                .iter()
                .any(|e| matches!(e, Effect::Quit))
        );
        assert_eq!(app.mode, Mode::ConfirmQuit);
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.mode, Mode::Normal);
        assert!(!app.is_quitting());
    }
    assert_eq!(app.outbox.len(), 1);
}

#[test]
fn waiting_quits_once_everything_is_confirmed() {
    let mut app = joined((80, 24));
    let one = cid_of(&sent(&type_line(&mut app, "one"))[0]);
    let two = cid_of(&sent(&type_line(&mut app, "two"))[0]);
    ctrl(&mut app, 'd');
    let fx = key(&mut app, KeyCode::Char('w'));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Quit)));
    assert!(app.quit_when_sent);
    let fx = server(
        &mut app,
        ServerMsg::Message(chat_with_cid(1, "alice", "one", &one)),
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::Quit)), "one is left");
    let fx = server(
        &mut app,
        ServerMsg::Message(chat_with_cid(2, "alice", "two", &two)),
    );
    assert!(fx.iter().any(|e| matches!(e, Effect::Quit)));
    assert!(app.is_quitting());
}

#[test]
fn a_refusal_while_waiting_to_quit_keeps_the_client_open() {
    let mut app = joined((80, 24));
    type_line(&mut app, "too fast");
    type_line(&mut app, "/exit");
    key(&mut app, KeyCode::Enter);
    assert!(app.quit_when_sent);
    let fx = server(
        &mut app,
        ServerMsg::error(ErrorCode::RateLimited, "Slow down."),
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::Quit)), "{fx:?}");
    assert!(!app.quit_when_sent);
    assert!(app.outbox.is_empty());
    assert!(
        entry_texts(&app)
            .iter()
            .any(|t| t.starts_with("error: Not quitting")),
        "{:?}",
        entry_texts(&app)
    );
    // Up brings the refused line back: it is not lost.
    key(&mut app, KeyCode::Up);
    assert_eq!(app.editor.text(), "too fast");
}

#[test]
fn a_signal_quits_at_once_even_with_unconfirmed_messages() {
    let mut app = joined((80, 24));
    type_line(&mut app, "unconfirmed");
    let fx = app.request_quit();
    assert!(fx.iter().any(|e| matches!(e, Effect::Quit)));
}

#[test]
fn nick_is_saved_once_the_server_confirms_it() {
    let mut app = joined((80, 24));
    let fx = type_line(&mut app, "/nick Ally");
    assert_eq!(
        sent(&fx),
        [ClientMsg::Nick {
            name: "Ally".into()
        }]
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::SaveSetting(_))));
    let fx = server(
        &mut app,
        ServerMsg::Welcome(Welcome {
            name: "Ally".into(),
            color: "2".into(),
            room: "main".into(),
            max_text: None,
        }),
    );
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SaveSetting(SettingChange::Name(n)) if n == "Ally"))
    );
    assert_eq!(app.name, "Ally");
}

#[test]
fn nick_and_color_offline_are_saved_and_used_for_the_next_join() {
    let mut app = started((80, 24));
    let fx = type_line(&mut app, "/nick Zed");
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Net(NetCmd::SetIdentity(i)) if i.name == "Zed"))
    );
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SaveSetting(SettingChange::Name(n)) if n == "Zed"))
    );
    let fx = type_line(&mut app, "/color #FF6600");
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SaveSetting(SettingChange::Color(c)) if c == "#ff6600"))
    );
    assert_eq!(app.identity().color, "#ff6600");
}

#[test]
fn color_change_online_is_sent_and_saved_on_welcome() {
    let mut app = joined((80, 24));
    let fx = type_line(&mut app, "/color 5");
    assert_eq!(sent(&fx), [ClientMsg::Color { color: "5".into() }]);
    let fx = server(
        &mut app,
        ServerMsg::Welcome(Welcome {
            name: "alice".into(),
            color: "5".into(),
            room: "main".into(),
            max_text: None,
        }),
    );
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SaveSetting(SettingChange::Color(c)) if c == "5"))
    );
}

#[test]
fn server_switch_separates_and_forgets_the_user_list() {
    let mut app = joined((80, 24));
    server(
        &mut app,
        ServerMsg::ActiveUsers {
            users: vec!["alice".into(), "bob".into()],
            room: None,
        },
    );
    let fx = type_line(&mut app, "/server 127.0.0.1:4000");
    assert!(fx.iter().any(
        |e| matches!(e, Effect::Net(NetCmd::SwitchServer(u)) if u == "ws://127.0.0.1:4000/ws")
    ));
    assert!(fx.iter().any(
        |e| matches!(e, Effect::SaveSetting(SettingChange::Server(s)) if s == "127.0.0.1:4000")
    ));
    assert!(app.users.is_empty());
    assert_eq!(
        entry_texts(&app).last().unwrap(),
        "sep: ws://127.0.0.1:4000/ws"
    );
    let fx = type_line(&mut app, "/server nowhere-alias");
    assert!(!fx.iter().any(|e| matches!(e, Effect::Net(_))));
    assert!(entry_texts(&app).last().unwrap().starts_with("error: "));
}

#[test]
fn countdown_ticks_and_ctrl_r_skips_the_wait() {
    let mut app = joined((80, 24));
    let now = Instant::now();
    app.update(Msg::Tick(now));
    net(
        &mut app,
        NetEvent::Disconnected {
            url: URL.into(),
            reason: "refused".into(),
            retry_at: Some(now + Duration::from_millis(4500)),
            attempt: 3,
        },
    );
    app.update(Msg::Tick(now));
    let deadline = app.next_deadline().unwrap();
    assert_eq!(deadline, now + Duration::from_millis(500));
    let fx = ctrl(&mut app, 'r');
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Net(NetCmd::ReconnectNow)))
    );
    // One disconnect line, however many retries fail.
    net(
        &mut app,
        NetEvent::Disconnected {
            url: URL.into(),
            reason: "refused".into(),
            retry_at: Some(now + Duration::from_secs(9)),
            attempt: 4,
        },
    );
    let downs = entry_texts(&app)
        .iter()
        .filter(|t| t.starts_with("error: Disconnected"))
        .count();
    assert_eq!(downs, 1);
}

#[test]
fn remote_text_is_sanitised_before_it_reaches_the_pane() {
    let mut app = joined((80, 24));
    server(
        &mut app,
        ServerMsg::Message(chat(1, "ev\u{1b}]0;x\u{7}il", "a\u{1b}[2Jb\u{202e}c\r\nd")),
    );
    server(&mut app, ServerMsg::system("sys\u{9b}31m"));
    server(
        &mut app,
        ServerMsg::ActiveUsers {
            users: vec!["x\u{1b}[5m".into()],
            room: None,
        },
    );
    for t in entry_texts(&app) {
        assert!(
            !t.chars()
                .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
            "{t:?}"
        );
    }
    assert!(!app.users[0].contains('\u{1b}'));
}

#[test]
fn mentions_are_flagged_and_ring_the_bell_when_enabled() {
    let mut init = init(Some("alice"), (80, 24));
    init.settings.bell_on_mention = true;
    let mut app = App::new(init);
    app.start();
    join(&mut app, &[]);
    let fx = server(
        &mut app,
        ServerMsg::Message(chat(1, "bob", "hey Alice, look")),
    );
    assert!(fx.iter().any(|e| matches!(e, Effect::Bell)));
    let fx = server(
        &mut app,
        ServerMsg::Message(chat(2, "bob", "malice aforethought")),
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::Bell)));
    let flags: Vec<bool> = app
        .pane
        .entries()
        .filter_map(|e| match e.kind {
            EntryKind::Chat { mention, .. } => Some(mention),
            _ => None,
        })
        .collect();
    assert_eq!(flags, [true, false]);
    assert!(mentions("@alice!", "alice"));
    assert!(!mentions("alice_b", "alice"));
}

#[test]
fn unread_counts_and_title_while_scrolled_up() {
    let mut app = joined((80, 24));
    for i in 0..40 {
        server(
            &mut app,
            ServerMsg::Message(chat(i, "bob", &format!("m{i}"))),
        );
    }
    key(&mut app, KeyCode::PageUp);
    assert!(app.is_away());
    let fx = server(&mut app, ServerMsg::Message(chat(50, "bob", "hi alice")));
    server(&mut app, ServerMsg::Message(chat(51, "bob", "another")));
    assert_eq!((app.unread, app.mentions), (2, 1));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SetTitle(t) if t == "(1) Clicom — #main"))
    );
    assert!(
        app.pane.ruler().is_some(),
        "the ruler marks the first unseen"
    );
    let fx = app.update(Msg::Key(KeyEvent::new(KeyCode::End, KeyModifiers::CONTROL)));
    assert_eq!(app.unread, 0);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SetTitle(t) if t == "Clicom — #main"))
    );
}

#[test]
fn tab_completes_nicknames_from_the_user_list_and_commands() {
    let mut app = joined((80, 24));
    server(
        &mut app,
        ServerMsg::ActiveUsers {
            users: vec!["alice".into(), "Bobby".into(), "bob".into()],
            room: None,
        },
    );
    for c in "bo".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.editor.text(), "bob: ");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.editor.text(), "Bobby: ");
    ctrl(&mut app, 'u');
    for c in "/rec".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.editor.text(), "/reconnect ");
}

#[test]
fn multi_line_paste_asks_first() {
    let mut app = joined((80, 24));
    app.update(Msg::Paste("one\r\ntwo\rthree\n".into()));
    assert!(matches!(&app.mode, Mode::Paste { lines } if lines.len() == 3));
    let fx = key(&mut app, KeyCode::Char('l'));
    assert_eq!(sent_texts(&fx), ["one", "two", "three"]);
    app.update(Msg::Paste("x\ny".into()));
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(sent_texts(&fx), ["x\ny"]);
    // The hint shows the letters as capitals: Shift works too.
    app.update(Msg::Paste("u\nv".into()));
    let fx = key(&mut app, KeyCode::Char('L'));
    assert_eq!(sent_texts(&fx), ["u", "v"]);
    app.update(Msg::Paste("p\nq".into()));
    let fx = key(&mut app, KeyCode::Esc);
    assert!(sent(&fx).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    app.update(Msg::Paste("single\tline".into()));
    assert_eq!(app.editor.text(), "single line");
}

#[test]
fn a_refused_message_comes_back_to_the_input_history() {
    let mut app = joined((80, 24));
    type_line(&mut app, "way too long");
    server(
        &mut app,
        ServerMsg::error(ErrorCode::TooLong, "message too long"),
    );
    assert!(app.outbox.is_empty());
    key(&mut app, KeyCode::Up);
    assert_eq!(app.editor.text(), "way too long");
    assert!(entry_texts(&app).last().unwrap().contains("not sent"));
}

#[test]
fn welcome_sets_the_length_limit() {
    let app = joined((80, 24));
    assert_eq!(app.max_text, Some(2000));
}

fn link_app(width: u16) -> App {
    let mut app = joined((width, 24));
    server(
        &mut app,
        ServerMsg::Message(chat(
            1,
            "bob",
            "read https://example.com/a/rather/long/path/to/some/page.html please",
        )),
    );
    server(&mut app, ServerMsg::Message(chat(2, "bob", "bye")));
    app
}

/// Every screen cell whose click opens something, found by clicking them all.
fn clickable_cells(app: &mut App) -> Vec<(u16, u16, String)> {
    let r = ui::regions(app.area);
    let mut hits = Vec::new();
    for y in r.pane.top()..r.pane.bottom() {
        for x in r.pane.left()..r.pane.right() {
            for url in opened(&click(app, x, y)) {
                hits.push((x, y, url));
            }
        }
    }
    hits
}

#[test]
fn clicking_any_cell_of_a_wrapped_link_opens_it_at_several_widths() {
    const URL_TEXT: &str = "https://example.com/a/rather/long/path/to/some/page.html";
    for width in [24u16, 37, 59, 100] {
        let mut app = link_app(width);
        let hits = clickable_cells(&mut app);
        assert_eq!(hits.len(), URL_TEXT.len(), "width {width}");
        assert!(hits.iter().all(|(_, _, u)| u == URL_TEXT));
        let rows: std::collections::BTreeSet<u16> = hits.iter().map(|h| h.1).collect();
        if width < 60 {
            assert!(rows.len() > 1, "wrapped at width {width}");
        }
    }
}

#[test]
fn clicking_elsewhere_opens_nothing() {
    let mut app = link_app(80);
    let r = ui::regions(app.area);
    assert!(opened(&click(&mut app, r.pane.x, r.pane.bottom() - 1)).is_empty());
    assert!(opened(&click(&mut app, 0, 0)).is_empty(), "status line");
}

#[test]
fn sidebar_click_starts_a_private_message() {
    let mut app = joined((100, 24));
    server(
        &mut app,
        ServerMsg::ActiveUsers {
            users: vec!["alice".into(), "bob".into()],
            room: None,
        },
    );
    let sidebar = ui::regions(app.area).sidebar.unwrap();
    click(&mut app, sidebar.x + 3, sidebar.y + 2);
    assert_eq!(app.editor.text(), "/msg bob ");
}

#[test]
fn wheel_scrolls_the_pane() {
    let mut app = joined((80, 24));
    for i in 0..60 {
        server(
            &mut app,
            ServerMsg::Message(chat(i, "bob", &format!("m{i}"))),
        );
    }
    let pane = ui::regions(app.area).pane;
    app.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: pane.x + 1,
        row: pane.y + 1,
        modifiers: KeyModifiers::NONE,
    }));
    assert!(!app.pane.is_following());
    for _ in 0..3 {
        app.update(Msg::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: pane.x + 1,
            row: pane.y + 1,
            modifiers: KeyModifiers::NONE,
        }));
    }
    assert!(app.pane.is_following());
}

#[test]
fn hint_mode_labels_links_and_opens_the_typed_one() {
    let mut app = joined((80, 24));
    server(
        &mut app,
        ServerMsg::Message(chat(1, "bob", "a https://one.example b www.two.example")),
    );
    ctrl(&mut app, 'o');
    let Mode::Hints { targets, .. } = &app.mode else {
        panic!("not in hint mode")
    };
    assert_eq!(targets.len(), 2);
    let fx = key(&mut app, KeyCode::Char('s'));
    assert_eq!(opened(&fx), ["https://www.two.example"]);
    assert_eq!(app.mode, Mode::Normal);
    ctrl(&mut app, 'o');
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn open_command_opens_the_latest_links() {
    let mut app = joined((80, 24));
    server(
        &mut app,
        ServerMsg::Message(chat(1, "bob", "https://old.example")),
    );
    server(
        &mut app,
        ServerMsg::Message(chat(2, "bob", "https://new.example")),
    );
    assert_eq!(
        opened(&type_line(&mut app, "/open")),
        ["https://new.example"]
    );
    assert_eq!(
        opened(&type_line(&mut app, "/open 2")),
        ["https://old.example"]
    );
    assert!(opened(&type_line(&mut app, "/open 3")).is_empty());
    assert!(entry_texts(&app).last().unwrap().starts_with("error:"));
}

#[test]
fn a_failed_opener_shows_an_error_line() {
    let mut app = joined((80, 24));
    app.update(Msg::Opened {
        url: "https://x.example".into(),
        error: Some("xdg-open failed".into()),
    });
    assert!(
        entry_texts(&app)
            .last()
            .unwrap()
            .contains("could not open https://x.example")
    );
}

#[test]
fn mouse_capture_toggles_with_f2() {
    let mut app = joined((80, 24));
    let fx = key(&mut app, KeyCode::F(2));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SetMouseCapture(false)))
    );
    assert!(!app.mouse);
    let fx = key(&mut app, KeyCode::F(2));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SetMouseCapture(true)))
    );
}

#[test]
fn first_run_asks_for_name_and_colour_then_connects() {
    let mut app = App::new(init(None, (80, 30)));
    assert!(
        app.start()
            .iter()
            .all(|e| !matches!(e, Effect::Connect { .. }))
    );
    assert!(matches!(app.screen, Screen::Setup(_)));
    for c in "Neo".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('4'));
    let fx = key(&mut app, KeyCode::Enter);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SaveSetting(SettingChange::Name(n)) if n == "Neo"))
    );
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SaveSetting(SettingChange::Color(c)) if c == "4"))
    );
    assert!(fx.iter().any(
        |e| matches!(e, Effect::Connect { identity, .. } if identity.name == "Neo" && identity.color == "4")
    ));
    assert!(matches!(app.screen, Screen::Chat));
}

#[test]
fn dms_are_distinct_and_confirmed_by_their_echo() {
    let mut app = joined((80, 24));
    type_line(&mut app, "/msg bob secret");
    assert_eq!(app.outbox.len(), 1);
    server(
        &mut app,
        ServerMsg::Dm(DirectMessage {
            from: "alice".into(),
            to: "bob".into(),
            text: "secret".into(),
            color: "2".into(),
            ts: crate::protocol::now_ms(),
            cid: None,
        }),
    );
    assert!(app.outbox.is_empty());
    assert!(entry_texts(&app).contains(&"alice->bob: secret".to_string()));
}

#[test]
fn a_flood_of_history_keeps_the_pane_within_scrollback() {
    let mut init = init(Some("alice"), (80, 24));
    init.settings.scrollback = 100;
    let mut app = App::new(init);
    app.start();
    let history: Vec<ChatMessage> = (0..500).map(|i| chat(i, "bob", "x")).collect();
    join(&mut app, &history);
    assert_eq!(app.pane.len(), 100);
    let view = app.pane.view(ui::regions(app.area).pane.height);
    assert!(
        view.rows
            .iter()
            .all(|r| matches!(r, ViewRow::Line { .. } | ViewRow::Ruler))
    );
}

#[test]
fn a_refused_name_can_be_changed_on_the_open_connection() {
    let mut app = started((80, 24));
    net(&mut app, NetEvent::Connected { url: URL.into() });
    server(
        &mut app,
        ServerMsg::error(ErrorCode::NameTaken, "The name alice is taken."),
    );
    // Refused: never promoted to joined by the history wait.
    app.update(Msg::Tick(Instant::now() + Duration::from_secs(10)));
    assert_eq!(app.conn, ConnState::Connected { joined: false });
    assert!(sent_texts(&type_line(&mut app, "hello?")).is_empty());
    let fx = type_line(&mut app, "/nick alice2");
    assert!(
        sent(&fx)
            .iter()
            .any(|m| matches!(m, ClientMsg::Join { name, .. } if name == "alice2"))
    );
    let fx = server(
        &mut app,
        ServerMsg::Welcome(Welcome {
            name: "alice2".into(),
            color: "2".into(),
            room: "main".into(),
            max_text: None,
        }),
    );
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::SaveSetting(SettingChange::Name(n)) if n == "alice2"))
    );
    let fx = server(
        &mut app,
        ServerMsg::History {
            room: "main".into(),
            messages: vec![],
        },
    );
    assert_eq!(sent_texts(&fx), ["hello?"], "the queued message goes out");
}

#[test]
fn a_command_line_name_the_server_normalises_is_not_saved() {
    let mut app = started((80, 24));
    net(&mut app, NetEvent::Connected { url: URL.into() });
    let fx = server(
        &mut app,
        ServerMsg::Welcome(Welcome {
            name: "Alice".into(),
            color: "2".into(),
            room: "main".into(),
            max_text: None,
        }),
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::SaveSetting(_))));
    assert_eq!(app.name, "Alice");
}

#[test]
fn our_own_ghost_holding_the_name_is_waited_out() {
    let mut app = joined((80, 24));
    net(
        &mut app,
        NetEvent::Disconnected {
            url: URL.into(),
            reason: "reset".into(),
            retry_at: Some(Instant::now()),
            attempt: 1,
        },
    );
    net(&mut app, NetEvent::Connected { url: URL.into() });
    server(
        &mut app,
        ServerMsg::error(ErrorCode::NameTaken, "The name alice is taken."),
    );
    let at = app.next_deadline().unwrap();
    let fx = app.update(Msg::Tick(at));
    assert!(
        sent(&fx)
            .iter()
            .any(|m| matches!(m, ClientMsg::Join { name, .. } if name == "alice")),
        "joins again by itself"
    );
    assert!(
        !entry_texts(&app)
            .iter()
            .any(|t| t.contains("choose another with")),
        "no error while it is our own ghost"
    );
}

#[test]
fn a_line_over_the_servers_limit_is_refused_here_and_kept_in_the_editor() {
    let mut app = joined((80, 24));
    // A huge single-line paste goes into the editor; Enter must not send it (the server would
    // close the connection over a frame that size, and the outbox would retry it forever).
    let huge = "x".repeat(2001);
    app.update(Msg::Paste(huge.clone()));
    let fx = key(&mut app, KeyCode::Enter);
    assert!(sent(&fx).is_empty(), "nothing is sent");
    assert_eq!(app.editor.text(), huge, "the line is kept for editing");
    assert!(app.outbox.iter().next().is_none(), "nothing is pending");
    let last = entry_texts(&app).pop().unwrap();
    assert!(
        last.starts_with("error: Message too long: 2001 characters")
            && last.contains("limit is 2000"),
        "{last}"
    );
    // The same for /me and /msg, measured on what would be sent.
    app.editor.set_text(&format!("/me {huge}"));
    assert!(sent(&key(&mut app, KeyCode::Enter)).is_empty());
    app.editor.set_text(&format!("/msg bob {huge}"));
    assert!(sent(&key(&mut app, KeyCode::Enter)).is_empty());
    // At the limit it goes.
    app.editor.set_text(&"y".repeat(2000));
    assert_eq!(
        sent_texts(&key(&mut app, KeyCode::Enter)),
        ["y".repeat(2000)]
    );
}

#[test]
fn an_overlong_multi_line_paste_can_still_be_sent_line_by_line() {
    let mut app = joined((80, 24));
    let line = "z".repeat(1500);
    app.update(Msg::Paste(format!("{line}\n{line}")));
    let fx = key(&mut app, KeyCode::Enter);
    assert!(
        sent(&fx).is_empty(),
        "3001 characters as one message is refused"
    );
    assert!(
        matches!(app.mode, Mode::Paste { .. }),
        "the paste is still offered"
    );
    let fx = key(&mut app, KeyCode::Char('l'));
    assert_eq!(sent_texts(&fx), [line.clone(), line]);
    assert_eq!(app.mode, Mode::Normal);
}

/// `bob`'s messages with these ids.
fn bobs(ids: std::ops::RangeInclusive<u64>) -> Vec<ChatMessage> {
    ids.map(|i| chat(i, "bob", &format!("m{i}"))).collect()
}

/// The history pages sent.
fn pages(fx: &[Effect]) -> Vec<(Option<u64>, Option<u32>)> {
    sent(fx)
        .into_iter()
        .filter_map(|m| match m {
            ClientMsg::History { before, limit, .. } => Some((before, limit)),
            _ => None,
        })
        .collect()
}

fn page(app: &mut App, messages: Vec<ChatMessage>) -> Vec<Effect> {
    server(
        app,
        ServerMsg::History {
            room: "main".into(),
            messages,
        },
    )
}

#[test]
fn a_long_outage_is_caught_up_before_anything_else_is_shown() {
    let mut app = started((80, 24));
    join(&mut app, &bobs(1..=10));
    let mine = cid_of(&sent(&type_line(&mut app, "said just before"))[0]);
    drop_connection(&mut app);
    type_line(&mut app, "typed offline");
    // 100 messages later the join history holds only the newest 50.
    let fx = join(&mut app, &bobs(62..=111));
    assert_eq!(pages(&fx), [(Some(62), Some(51))], "the gap, exactly");
    assert!(sent_texts(&fx).is_empty(), "nothing pending goes out yet");
    server(&mut app, ServerMsg::Message(chat(112, "bob", "m112")));
    assert_eq!(chats(&app).len(), 10, "held until the gap is filled");
    // The missed page holds the message that was in flight at the drop.
    let mut missed = bobs(12..=61);
    missed.insert(0, chat_with_cid(11, "alice", "said just before", &mine));
    let fx = page(&mut app, missed);
    assert!(pages(&fx).is_empty());
    assert_eq!(
        sent_texts(&fx),
        ["typed offline"],
        "only what never arrived"
    );
    let shown = chats(&app);
    assert_eq!(shown.len(), 112);
    assert_eq!(shown[10], "alice: said just before");
    assert_eq!(
        shown[11..],
        (12..=112).map(|i| format!("bob: m{i}")).collect::<Vec<_>>()[..]
    );
    assert!(!entry_texts(&app).iter().any(|t| t.starts_with("gap")));
}

#[test]
fn more_missed_than_the_scrollback_holds_is_marked_at_the_gap() {
    let mut init = init(Some("alice"), (80, 24));
    init.settings.scrollback = 100;
    let mut app = App::new(init);
    app.start();
    join(&mut app, &bobs(1..=10));
    drop_connection(&mut app);
    let fx = join(&mut app, &bobs(81..=130));
    // Three quarters of the scrollback, less the join history: the newest 25 missed.
    assert_eq!(pages(&fx), [(Some(81), Some(25))]);
    page(&mut app, bobs(56..=80));
    let texts = entry_texts(&app);
    let gap = texts.iter().position(|t| t == "gap: 45").expect("a marker");
    assert!(texts[..gap].contains(&"bob: m10".to_string()));
    assert_eq!(texts[gap + 1], "bob: m56");
    assert_eq!(texts.last().unwrap(), "bob: m130");
}

#[test]
fn a_refused_or_unanswered_page_shows_what_there_is() {
    for refuse in [true, false] {
        let mut app = started((80, 24));
        join(&mut app, &bobs(1..=10));
        drop_connection(&mut app);
        type_line(&mut app, "typed offline");
        join(&mut app, &bobs(31..=40));
        let fx = if refuse {
            server(
                &mut app,
                ServerMsg::error(ErrorCode::HistoryUnavailable, "History cannot be read."),
            )
        } else {
            let later = app.next_deadline().expect("a deadline for the page");
            app.update(Msg::Tick(later))
        };
        assert_eq!(sent_texts(&fx), ["typed offline"]);
        let texts = entry_texts(&app);
        let gap = texts.iter().position(|t| t == "gap: 20").expect("a marker");
        assert_eq!(texts[gap + 1], "bob: m31");
        assert!(app.outbox.iter().all(|o| o.text == "typed offline"));
    }
}

#[test]
fn a_drop_during_the_catch_up_fetches_the_same_gap_next_time() {
    let mut app = started((80, 24));
    join(&mut app, &bobs(1..=10));
    drop_connection(&mut app);
    let fx = join(&mut app, &bobs(31..=40));
    assert_eq!(pages(&fx), [(Some(31), Some(20))]);
    drop_connection(&mut app);
    assert_eq!(chats(&app).len(), 10, "nothing half-caught-up is shown");
    let fx = join(&mut app, &bobs(33..=42));
    assert_eq!(pages(&fx), [(Some(33), Some(22))]);
    page(&mut app, bobs(11..=32));
    assert_eq!(
        chats(&app),
        (1..=42).map(|i| format!("bob: m{i}")).collect::<Vec<_>>()
    );
}

#[test]
fn a_room_switch_or_first_join_is_not_a_catch_up() {
    let mut app = started((80, 24));
    let fx = join(&mut app, &bobs(100..=110));
    assert!(pages(&fx).is_empty(), "nothing was seen before");
    type_line(&mut app, "/join rust");
    server(
        &mut app,
        ServerMsg::Welcome(Welcome {
            name: "alice".into(),
            color: "2".into(),
            room: "rust".into(),
            max_text: None,
        }),
    );
    let fx = server(
        &mut app,
        ServerMsg::History {
            room: "rust".into(),
            messages: (500..=510)
                .map(|i| ChatMessage {
                    room: Some("rust".into()),
                    ..chat(i, "bob", "r")
                })
                .collect(),
        },
    );
    assert!(pages(&fx).is_empty(), "another room starts afresh");
}

#[test]
fn leaving_the_room_mid_catch_up_shows_what_arrived_above_the_next_room() {
    let mut app = started((80, 24));
    join(&mut app, &bobs(1..=10));
    drop_connection(&mut app);
    join(&mut app, &bobs(31..=40));
    type_line(&mut app, "/join rust");
    let fx = server(
        &mut app,
        ServerMsg::Welcome(Welcome {
            name: "alice".into(),
            color: "2".into(),
            room: "rust".into(),
            max_text: None,
        }),
    );
    assert!(sent(&fx).is_empty(), "{fx:?}");
    let texts = entry_texts(&app);
    let at = |t: &str| texts.iter().position(|e| e == t).unwrap_or(usize::MAX);
    assert!(at("gap: 20") < at("bob: m31"));
    assert!(at("bob: m40") < at("sep: #rust"), "{texts:?}");
    // The page's late answer (for #main) changes nothing in #rust, nor ends its wait.
    page(&mut app, bobs(11..=30));
    assert_eq!(entry_texts(&app), texts);
    assert!(app.awaiting_history.is_some());
}
