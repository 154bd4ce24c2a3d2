//! History retention (`--history-keep N`) over real sockets: joiners, `history` requests and
//! restarts only ever see a room's newest N messages, and ids keep increasing.
#![allow(clippy::unwrap_used)]

mod support;

use clicom::protocol::{ChatMessage, ClientMsg, ServerMsg};
use clicom::server::{History, HistoryLocation, ServerOptions, SqliteHistory};
use support::{WsClient, options, spawn_server_binary, start_server};

/// Joins `room` as `name` and returns the `history` that follows the welcome.
async fn join_with_history(url: &str, name: &str, room: &str) -> (WsClient, Vec<ChatMessage>) {
    let mut client = WsClient::connect(url).await;
    client
        .send(&ClientMsg::Join {
            name: name.into(),
            color: None,
            room: Some(room.into()),
        })
        .await;
    let history = client
        .recv_until("history", |m| match m {
            ServerMsg::History { messages, .. } => Some(messages.clone()),
            _ => None,
        })
        .await;
    (client, history)
}

/// Sends each line and waits for its echo (once echoed, it is committed); returns the ids.
async fn say_all(client: &mut WsClient, lines: &[String]) -> Vec<u64> {
    let mut ids = Vec::new();
    for line in lines {
        client.say(line).await;
        let id = client
            .recv_until("the echo", |m| match m {
                ServerMsg::Message(m) if m.text == *line => Some(m.id.unwrap()),
                _ => None,
            })
            .await;
        ids.push(id);
    }
    ids
}

async fn page(client: &mut WsClient, before: Option<u64>) -> Vec<u64> {
    client
        .send(&ClientMsg::History {
            room: None,
            before,
            limit: Some(200),
        })
        .await;
    client
        .recv_until("a history page", |m| match m {
            ServerMsg::History { messages, .. } => {
                Some(messages.iter().map(|m| m.id.unwrap()).collect())
            }
            _ => None,
        })
        .await
}

fn ids(messages: &[ChatMessage]) -> Vec<u64> {
    messages.iter().map(|m| m.id.unwrap()).collect()
}

fn texts(messages: &[ChatMessage]) -> Vec<String> {
    messages.iter().map(|m| m.text.clone()).collect()
}

#[tokio::test]
async fn joiners_pages_and_restarts_see_only_the_newest_messages() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ServerOptions {
        db: HistoryLocation::File(dir.path().join("history.db")),
        history_keep: 3,
        ..options()
    };
    let server = start_server(opts.clone()).await;
    let (mut alice, history) = join_with_history(&server.url, "Alice", "main").await;
    assert!(history.is_empty());
    let lines: Vec<String> = (1..=10).map(|i| format!("line {i}")).collect();
    assert_eq!(
        say_all(&mut alice, &lines).await,
        (1..=10).collect::<Vec<_>>()
    );
    let (mut dev, _) = join_with_history(&server.url, "Dana", "dev").await;
    assert_eq!(say_all(&mut dev, &["only one".to_owned()]).await, [1]);

    // The room is live (Alice is in it): the joiner's history comes from memory.
    let (mut bob, history) = join_with_history(&server.url, "Bob", "main").await;
    assert_eq!(texts(&history), &lines[7..]);
    assert_eq!(ids(&history), [8, 9, 10]);
    // Paging reads the database: nothing older than the newest three either.
    assert_eq!(page(&mut bob, None).await, [8, 9, 10]);
    assert!(page(&mut bob, Some(8)).await.is_empty());
    // Another room is bounded on its own.
    assert_eq!(page(&mut dev, None).await, [1]);
    server.stop().await.unwrap();
    drop((alice, bob, dev));

    let server = start_server(opts.clone()).await;
    let (mut carol, history) = join_with_history(&server.url, "Carol", "main").await;
    assert_eq!(ids(&history), [8, 9, 10], "after a restart too");
    let more: Vec<String> = (11..=14).map(|i| format!("line {i}")).collect();
    assert_eq!(
        say_all(&mut carol, &more).await,
        [11, 12, 13, 14],
        "ids continue"
    );
    let (_eve, history) = join_with_history(&server.url, "Eve", "main").await;
    assert_eq!(texts(&history), &more[1..]);
    let history_ids = ids(&history);
    assert!(
        history_ids.windows(2).all(|w| w[0] < w[1]),
        "{history_ids:?}"
    );
    server.stop().await.unwrap();
    drop(carol);

    // The older rows are gone from the file, not merely hidden.
    let mut file = SqliteHistory::open(&opts.db).unwrap();
    let stored = file.recent("main", None, 1000).unwrap();
    assert_eq!(ids(&stored), [12, 13, 14]);
    assert_eq!(ids(&file.recent("dev", None, 1000).unwrap()), [1]);
}

#[tokio::test]
async fn the_binary_honours_history_keep_across_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("chat.db");
    let db_arg = db.to_str().unwrap();

    // First without a bound: the database grows past it.
    let server = spawn_server_binary(&["--db", db_arg, "--msg-rate", "0"], data.path()).await;
    let (mut alice, _) = join_with_history(&server.url, "Alice", "main").await;
    let lines: Vec<String> = (1..=8).map(|i| format!("line {i}")).collect();
    say_all(&mut alice, &lines).await;
    server.signal("TERM");
    assert!(server.wait_exit().await.success());
    drop(alice);

    // Restarted with a bound of three: it holds at once, and ids go on from the newest.
    let args = ["--db", db_arg, "--msg-rate", "0", "--history-keep", "3"];
    let server = spawn_server_binary(&args, data.path()).await;
    let (mut bob, history) = join_with_history(&server.url, "Bob", "main").await;
    assert_eq!(texts(&history), &lines[5..]);
    assert_eq!(say_all(&mut bob, &["after".to_owned()]).await, [9]);
    server.signal("TERM");
    assert!(server.wait_exit().await.success());
    drop(bob);

    let server = spawn_server_binary(&args, data.path()).await;
    let (_carol, history) = join_with_history(&server.url, "Carol", "main").await;
    assert_eq!(ids(&history), [7, 8, 9]);
    server.signal("TERM");
    assert!(server.wait_exit().await.success());

    let mut file = SqliteHistory::open(&HistoryLocation::File(db)).unwrap();
    assert_eq!(ids(&file.recent("main", None, 1000).unwrap()), [7, 8, 9]);
}
