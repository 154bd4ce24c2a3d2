//! `clicom bench` against the real Clicom server (in-process and the binary), over loopback.
//! Asserts counts and structure only — never timing figures.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use clicom::bench::{self, Report};
use clicom::bench::{conns::ConnsOptions, fanout::FanoutOptions, storm::StormOptions};
use clicom::server::ServerOptions;
use support::{options, spawn_server_binary, start_server};
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_through_the_real_server_loses_nothing() {
    let server = start_server(options()).await;
    let mut opts = FanoutOptions::new(&server.url, 20);
    opts.common.room = Some("lab".into());
    opts.senders = 2;
    opts.rate = 100.0;
    opts.duration = Duration::from_millis(500);
    opts.drain = Duration::from_secs(20);
    opts.quiet = Duration::from_secs(3);
    let report = bench::fanout::run(&opts).await.unwrap();
    assert!(report.sent > 0);
    assert_eq!(report.expected, report.sent * 20);
    assert_eq!(report.received, report.expected);
    assert_eq!(
        (report.lost, report.duplicates, report.reordered),
        (0, 0, 0)
    );
    assert_eq!((report.server_errors, report.disconnected), (0, 0));
    assert_eq!(report.join.count, 20);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_path_is_reported_as_the_http_status() {
    let server = start_server(options()).await;
    let url = format!("ws://{}/no-such-path", server.addr);
    let err = bench::conns::run(&ConnsOptions::new(url, 2))
        .await
        .unwrap_err();
    let bench::BenchError::JoinFailed { error, .. } = &err else {
        panic!("expected a join failure, got {err}");
    };
    assert!(matches!(error, bench::ClientError::Handshake(_)), "{error}");
    assert!(err.to_string().contains("HTTP 404"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_is_closed_by_the_server_and_the_others_lose_nothing() {
    // A short queue, so that the stalled client's place is given up soon after the socket
    // buffers between it and the server are full.
    let server = start_server(ServerOptions {
        outbound_queue: 256,
        ..options()
    })
    .await;
    let mut opts = FanoutOptions::new(&server.url, 4);
    opts.stall = 1;
    // ~10 MB in all: more than the kernel buffers between the server and a client hold.
    opts.rate = 1000.0;
    opts.size = 1900;
    opts.duration = Duration::from_secs(5);
    opts.drain = Duration::from_secs(20);
    opts.quiet = Duration::from_secs(3);
    let report = bench::fanout::run(&opts).await.unwrap();
    assert!(report.sent > 0);
    assert_eq!(
        report.expected,
        report.sent * 3,
        "the stalled one is not expected to read"
    );
    assert_eq!((report.lost, report.duplicates), (0, 0), "{report:?}");
    assert_eq!(report.disconnected, 0, "only the stalled client goes");
    assert_eq!(
        (report.stalled, report.stalled_disconnected),
        (1, 1),
        "{report:?}"
    );
    assert!(report.human().contains("stopped reading"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn stalling_every_sender_is_refused() {
    let mut opts = FanoutOptions::new("ws://127.0.0.1:9/ws", 2);
    opts.senders = 2;
    opts.stall = 1;
    assert!(bench::fanout::run(&opts).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_real_server_shows_up_as_server_errors_and_loss() {
    let server = start_server(ServerOptions {
        msg_rate: 2.0,
        ..ServerOptions::default()
    })
    .await;
    let mut opts = FanoutOptions::new(&server.url, 3);
    opts.rate = 200.0;
    opts.duration = Duration::from_millis(500);
    opts.drain = Duration::from_secs(20);
    opts.quiet = Duration::from_secs(3);
    let report = bench::fanout::run(&opts).await.unwrap();
    assert!(report.server_errors > 0, "{report:?}");
    assert!(report.lost > 0);
    assert_eq!(
        report.lost % 3,
        0,
        "a refused message is lost for every client"
    );
    assert!(report.human().contains("--msg-rate 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conns_reads_the_real_server_process() {
    let data = tempfile::tempdir().unwrap();
    let server = spawn_server_binary(&["--db", ":memory:"], data.path()).await;
    let mut opts = ConnsOptions::new(&server.url, 50);
    opts.hold = Duration::from_millis(300);
    opts.server_pid = Some(server.pid());
    let report = bench::conns::run(&opts).await.unwrap();
    assert_eq!(report.dropped, 0);
    assert_eq!(report.join.count, 50);
    let cost = report.server.unwrap();
    assert_eq!(cost.pid, server.pid());
    assert!(cost.rss_kib_before > 0 && cost.rss_kib_after > 0);
    let v: serde_json::Value = serde_json::from_str(&Report::Conns(report).json_line()).unwrap();
    assert!(v["server"]["rss_kib_per_conn"].is_number());
    server.kill9().await;
}

/// Waits (bounded) until the server at `addr` reports `users` joined users.
async fn wait_for_users(addr: std::net::SocketAddr, users: u64) {
    for _ in 0..1000 {
        let body = support::http_get(addr, "/health").await;
        let json: serde_json::Value =
            serde_json::from_str(body.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        if json["users"].as_u64() == Some(users) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never reported {users} users");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conns_keeps_its_report_when_the_server_dies_mid_hold() {
    let data = tempfile::tempdir().unwrap();
    let server = spawn_server_binary(&["--db", ":memory:"], data.path()).await;
    let mut opts = ConnsOptions::new(&server.url, 8);
    opts.hold = Duration::from_secs(3);
    opts.server_pid = Some(server.pid());
    let conns = tokio::spawn(async move { bench::conns::run(&opts).await });
    wait_for_users(server.addr, 8).await;
    server.kill9().await;
    let report = tokio::time::timeout(Duration::from_secs(30), conns)
        .await
        .expect("the hold ends by itself")
        .unwrap()
        .unwrap();
    assert_eq!(report.dropped, 8);
    assert!(report.server.is_none());
    assert!(
        report.warnings.iter().any(|w| w.contains("server figures")),
        "{:?}",
        report.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_sees_every_client_back_after_the_real_server_restarts() {
    let listener = clicom::server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let first = tokio::spawn(clicom::server::run(listener, options(), async {
        let _ = stopped.await;
    }));

    let mut opts = StormOptions::new(format!("ws://{addr}/ws"), 10);
    opts.timeout = Duration::from_secs(60);
    let storm = tokio::spawn(async move { bench::storm::run(&opts).await });
    // Wait until all ten are in (the health endpoint counts joined users), then restart.
    wait_for_users(addr, 10).await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(15), first)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let listener = clicom::server::bind(addr).unwrap();
    let (_stop_again, stopped) = oneshot::channel::<()>();
    let _second = tokio::spawn(clicom::server::run(listener, options(), async {
        let _ = stopped.await;
    }));

    let report = tokio::time::timeout(Duration::from_secs(90), storm)
        .await
        .expect("the storm bench ends by itself")
        .unwrap()
        .unwrap();
    assert!(report.outage_seen);
    assert!(report.all_back, "{report:?}");
    assert!(report.lost >= 1);
    assert_eq!(report.back, report.lost);
    assert!(report.attempts >= report.lost as u64);
}
