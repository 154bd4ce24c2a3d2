//! History retention (`--history-keep N`) over real sockets: joiners, `history` requests and
//! restarts only ever see a room's newest N messages, and ids keep increasing.
#![allow(clippy::unwrap_used)]

mod support;

use clicom::protocol::{ChatMessage, ClientMsg, ServerMsg};
use clicom::server::{History, HistoryLocation, ServerOptions, SqliteHistory};
use support::{WsClient, options, spawn_server_binary, start_server};

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
    let (mut alice, history) =
        WsClient::join_with_history(&server.url, "Alice", Some("main")).await;
    assert!(history.is_empty());
    let lines: Vec<String> = (1..=10).map(|i| format!("line {i}")).collect();
    assert_eq!(alice.say_all(&lines).await, (1..=10).collect::<Vec<_>>());
    let (mut dev, _) = WsClient::join_with_history(&server.url, "Dana", Some("dev")).await;
    assert_eq!(dev.say_all(&["only one".to_owned()]).await, [1]);

    // The room is live (Alice is in it): the joiner's history comes from memory.
    let (mut bob, history) = WsClient::join_with_history(&server.url, "Bob", Some("main")).await;
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
    let (mut carol, history) =
        WsClient::join_with_history(&server.url, "Carol", Some("main")).await;
    assert_eq!(ids(&history), [8, 9, 10], "after a restart too");
    let more: Vec<String> = (11..=14).map(|i| format!("line {i}")).collect();
    assert_eq!(carol.say_all(&more).await, [11, 12, 13, 14], "ids continue");
    let (_eve, history) = WsClient::join_with_history(&server.url, "Eve", Some("main")).await;
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
    let (mut alice, _) = WsClient::join_with_history(&server.url, "Alice", Some("main")).await;
    let lines: Vec<String> = (1..=8).map(|i| format!("line {i}")).collect();
    alice.say_all(&lines).await;
    server.signal("TERM");
    assert!(server.wait_exit().await.success());
    drop(alice);

    // Restarted with a bound of three: it holds at once, and ids go on from the newest.
    let args = ["--db", db_arg, "--msg-rate", "0", "--history-keep", "3"];
    let server = spawn_server_binary(&args, data.path()).await;
    let (mut bob, history) = WsClient::join_with_history(&server.url, "Bob", Some("main")).await;
    assert_eq!(texts(&history), &lines[5..]);
    assert_eq!(bob.say_all(&["after".to_owned()]).await, [9]);
    server.signal("TERM");
    assert!(server.wait_exit().await.success());
    drop(bob);

    let server = spawn_server_binary(&args, data.path()).await;
    let (_carol, history) = WsClient::join_with_history(&server.url, "Carol", Some("main")).await;
    assert_eq!(ids(&history), [7, 8, 9]);
    server.signal("TERM");
    assert!(server.wait_exit().await.success());

    let mut file = SqliteHistory::open(&HistoryLocation::File(db)).unwrap();
    assert_eq!(ids(&file.recent("main", None, 1000).unwrap()), [7, 8, 9]);
}
