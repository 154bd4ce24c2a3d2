//! `clicom bench` against a small WebSocket chat server written here (join → welcome, messages
//! broadcast to everyone, optional faults), over real loopback sockets. Asserts counts and
//! structure only — never timing figures.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clicom::bench::{self, BenchError, ClientError, Report};
use clicom::bench::{conns::ConnsOptions, fanout::FanoutOptions, storm::StormOptions};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite::Message;

/// What the test server gets wrong on purpose.
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    /// Skip this delivery (0-based, counted over all recipients of all messages).
    drop_delivery: Option<u64>,
    /// Send this delivery twice.
    duplicate_delivery: Option<u64>,
    /// Behave like the original Python server: no `welcome`, just `active_users` (with its
    /// `json.dumps` spacing) to everyone after each join.
    no_welcome: bool,
    /// Accept messages but broadcast none of them.
    swallow_messages: bool,
    /// Refuse every n-th message with `error {code: rate_limited}` to its sender.
    rate_limit_every: Option<u64>,
    /// At the first chat message, close the connection of the client whose name ends so.
    kick_suffix: Option<&'static str>,
    /// Never confirm a join.
    silent_join: bool,
}

/// Tells a connection's writer to send a close frame and stop.
const KICK: &str = "\u{0}kick";

#[derive(Default)]
struct Hub {
    peers: Mutex<Vec<(u64, String, mpsc::UnboundedSender<String>)>>,
    deliveries: AtomicU64,
    messages: AtomicU64,
    joins: AtomicUsize,
    next_id: AtomicU64,
    refused: AtomicU64,
    rate_counter: AtomicU64,
    /// The source address of every accepted connection.
    peer_ips: Mutex<Vec<std::net::IpAddr>>,
}

struct MiniServer {
    addr: SocketAddr,
    url: String,
    hub: Arc<Hub>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl MiniServer {
    async fn start(faults: Faults) -> MiniServer {
        MiniServer::start_on("127.0.0.1:0".parse().unwrap(), faults).await
    }

    async fn start_on(addr: SocketAddr, faults: Faults) -> MiniServer {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hub = Arc::new(Hub::default());
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (hub, tasks) = (Arc::clone(&hub), Arc::clone(&tasks));
            tokio::spawn(async move {
                while let Ok((stream, peer)) = listener.accept().await {
                    hub.peer_ips.lock().unwrap().push(peer.ip());
                    let conn =
                        tokio::spawn(serve(stream, Arc::clone(&hub), faults, Arc::clone(&tasks)));
                    tasks.lock().unwrap().push(conn.abort_handle());
                }
            })
        };
        tasks.lock().unwrap().push(accept.abort_handle());
        MiniServer {
            addr,
            url: format!("ws://{addr}/ws"),
            hub,
            tasks,
        }
    }

    /// Drops the listener and every connection at once, like a killed server.
    fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
        self.hub.peers.lock().unwrap().clear();
    }

    fn joins(&self) -> usize {
        self.hub.joins.load(Ordering::SeqCst)
    }

    async fn wait_for_joins(&self, n: usize) {
        for _ in 0..1000 {
            if self.joins() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("only {} of {n} joined", self.joins());
    }
}

impl Drop for MiniServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    hub: Arc<Hub>,
    faults: Faults,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if text == KICK {
                let _ = sink.close().await;
                break;
            }
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
    });
    tasks.lock().unwrap().push(writer.abort_handle());
    let id = hub.next_id.fetch_add(1, Ordering::SeqCst);
    let mut name = None;
    while let Some(Ok(frame)) = stream.next().await {
        let Message::Text(text) = frame else { continue };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        match v["type"].as_str() {
            Some("join") if faults.silent_join => {}
            Some("join") => {
                let n = v["name"].as_str().unwrap().to_string();
                name = Some(n.clone());
                // Counted before the answer goes out, so a client that saw its welcome is counted.
                hub.joins.fetch_add(1, Ordering::SeqCst);
                let mut peers = hub.peers.lock().unwrap();
                peers.push((id, n.clone(), tx.clone()));
                if faults.no_welcome {
                    let names: Vec<&str> = peers.iter().map(|p| p.1.as_str()).collect();
                    let list = format!(
                        r#"{{"type": "active_users", "users": {}}}"#,
                        serde_json::to_string(&names).unwrap().replace(',', ", ")
                    );
                    for peer in peers.iter() {
                        let _ = peer.2.send(list.clone());
                    }
                } else {
                    let _ = tx.send(
                        serde_json::json!({"type":"welcome","name":n,"color":"1","room":"main"})
                            .to_string(),
                    );
                    for peer in peers.iter().filter(|p| p.0 != id) {
                        let _ = peer.2.send(
                            serde_json::json!({"type":"system","text":format!("{n} joined the chat.")})
                                .to_string(),
                        );
                    }
                }
            }
            Some("message") if faults.swallow_messages => {
                hub.messages.fetch_add(1, Ordering::SeqCst);
            }
            Some("message")
                if faults.rate_limit_every.is_some_and(|n| {
                    (hub.rate_counter.fetch_add(1, Ordering::SeqCst) + 1).is_multiple_of(n)
                }) =>
            {
                let _ = tx.send(
                    r#"{"type":"error","code":"rate_limited","text":"slow down"}"#.to_string(),
                );
                hub.refused.fetch_add(1, Ordering::SeqCst);
            }
            Some("message") => {
                hub.messages.fetch_add(1, Ordering::SeqCst);
                if let Some(suffix) = faults.kick_suffix {
                    let mut peers = hub.peers.lock().unwrap();
                    if let Some(at) = peers.iter().position(|p| p.1.ends_with(suffix)) {
                        let _ = peers[at].2.send(KICK.to_string());
                        peers.remove(at);
                    }
                }
                let frame = serde_json::json!({
                    "type": "message",
                    "name": name.as_deref().unwrap_or("?"),
                    "color": "1",
                    "text": v["text"],
                })
                .to_string();
                for peer in hub.peers.lock().unwrap().iter() {
                    let k = hub.deliveries.fetch_add(1, Ordering::SeqCst);
                    if faults.drop_delivery == Some(k) {
                        continue;
                    }
                    let _ = peer.2.send(frame.clone());
                    if faults.duplicate_delivery == Some(k) {
                        let _ = peer.2.send(frame.clone());
                    }
                }
            }
            _ => {}
        }
    }
    hub.peers.lock().unwrap().retain(|p| p.0 != id);
}

fn small_fanout(url: &str, clients: usize) -> FanoutOptions {
    let mut opts = FanoutOptions::new(url, clients);
    opts.senders = 2;
    opts.rate = 100.0;
    opts.duration = Duration::from_millis(300);
    opts.drain = Duration::from_secs(20);
    opts.quiet = Duration::from_secs(3);
    opts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_counts_every_delivery_with_no_loss() {
    let server = MiniServer::start(Faults::default()).await;
    let mut opts = small_fanout(&server.url, 5);
    opts.warmup = Duration::from_millis(100);
    let report = bench::fanout::run(&opts).await.unwrap();

    let sent_to_server = server.hub.messages.load(Ordering::SeqCst);
    assert!(report.sent > 0);
    assert!(
        sent_to_server > report.sent,
        "warm-up messages go to the server but are not measured"
    );
    assert_eq!(report.expected, report.sent * 5);
    assert_eq!(report.received, report.expected);
    assert_eq!(
        (report.lost, report.duplicates, report.reordered),
        (0, 0, 0)
    );
    assert_eq!(report.latency.count, report.received);
    assert_eq!(report.join.count, 5);
    assert_eq!((report.server_errors, report.disconnected), (0, 0));
    assert_eq!(server.joins(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_reports_one_dropped_delivery_as_loss_one() {
    let server = MiniServer::start(Faults {
        drop_delivery: Some(7),
        ..Faults::default()
    })
    .await;
    let mut opts = small_fanout(&server.url, 4);
    opts.drain = Duration::from_secs(20);
    let report = bench::fanout::run(&opts).await.unwrap();
    assert!(report.sent >= 2, "delivery 7 exists: {report:?}");
    assert_eq!(report.expected, report.sent * 4);
    assert_eq!(report.lost, 1);
    assert_eq!(report.received, report.expected - 1);
    assert_eq!(report.duplicates, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_counts_a_duplicated_delivery_once() {
    let server = MiniServer::start(Faults {
        duplicate_delivery: Some(3),
        ..Faults::default()
    })
    .await;
    let mut opts = small_fanout(&server.url, 3);
    // The test server runs in this process, so this process is the server to sample.
    opts.server_pid = Some(std::process::id());
    let report = bench::fanout::run(&opts).await.unwrap();
    let server_use = report.server.expect("server figures with --server-pid");
    assert!(server_use.rss_kib_before > 0 && server_use.rss_kib_after > 0);
    assert_eq!(report.duplicates, 1);
    assert_eq!(report.lost, 0);
    assert_eq!(report.received, report.expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_joins_a_server_without_welcome_through_active_users() {
    let server = MiniServer::start(Faults {
        no_welcome: true,
        ..Faults::default()
    })
    .await;
    let report = bench::fanout::run(&small_fanout(&server.url, 6))
        .await
        .unwrap();
    assert_eq!(server.joins(), 6);
    assert!(report.sent > 0);
    assert_eq!(report.received, report.sent * 6);
    assert_eq!(report.lost, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_ends_by_itself_when_nothing_comes_back() {
    let server = MiniServer::start(Faults {
        swallow_messages: true,
        ..Faults::default()
    })
    .await;
    let mut opts = small_fanout(&server.url, 3);
    opts.quiet = Duration::from_millis(300);
    let report = tokio::time::timeout(Duration::from_secs(30), bench::fanout::run(&opts))
        .await
        .expect("bounded run")
        .unwrap();
    assert!(report.sent > 0);
    assert_eq!(server.hub.messages.load(Ordering::SeqCst), report.sent);
    assert_eq!(report.received, 0);
    assert_eq!(report.lost, report.sent * 3);
    assert_eq!(report.latency.count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_messages_are_counted_as_server_errors_and_loss() {
    let server = MiniServer::start(Faults {
        rate_limit_every: Some(4),
        ..Faults::default()
    })
    .await;
    let mut opts = small_fanout(&server.url, 3);
    opts.drain = Duration::from_secs(20);
    let report = bench::fanout::run(&opts).await.unwrap();
    let refused = server.hub.refused.load(Ordering::SeqCst);
    assert!(refused > 0);
    assert_eq!(report.server_errors, refused);
    assert_eq!(report.lost, refused * 3);
    assert!(
        report
            .first_server_error
            .as_deref()
            .unwrap()
            .contains("rate_limited")
    );
    assert!(report.human().contains("--msg-rate 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_are_left_out_of_expected_and_their_disconnects_counted() {
    let server = MiniServer::start(Faults {
        kick_suffix: Some("-4"),
        ..Faults::default()
    })
    .await;
    // Clients 3 and 4 stop reading; the server closes client 4's connection.
    let mut opts = small_fanout(&server.url, 5);
    opts.stall = 2;
    let report = bench::fanout::run(&opts).await.unwrap();
    assert!(report.sent > 0);
    assert_eq!(report.expected, report.sent * 3);
    assert_eq!(report.received, report.expected);
    assert_eq!((report.lost, report.disconnected), (0, 0));
    assert_eq!((report.stalled, report.stalled_disconnected), (2, 1));
    assert!(report.human().contains("disconnected 1 of them"));

    let mut opts = small_fanout(&server.url, 3);
    opts.senders = 2;
    opts.stall = 2;
    let err = bench::fanout::run(&opts).await.unwrap_err();
    assert!(err.to_string().contains("--stall"), "{err}");
}

#[tokio::test]
async fn a_server_that_never_confirms_joins_fails_the_run_in_bounded_time() {
    let server = MiniServer::start(Faults {
        silent_join: true,
        ..Faults::default()
    })
    .await;
    let mut opts = ConnsOptions::new(&server.url, 3);
    opts.common.join_timeout = Duration::from_millis(500);
    let err = tokio::time::timeout(Duration::from_secs(30), bench::conns::run(&opts))
        .await
        .expect("bounded by --join-timeout")
        .unwrap_err();
    let BenchError::JoinFailed { joined, error, .. } = &err else {
        panic!("expected a join failure, got {err}");
    };
    assert_eq!(*joined, 0);
    assert!(matches!(error, ClientError::Timeout(_)), "{error}");
    assert!(err.to_string().contains("--join-timeout"), "{err}");
}

#[tokio::test]
async fn non_loopback_targets_are_refused_before_any_connection() {
    for url in ["ws://192.0.2.1:80/ws", "ws://10.1.2.3:10000/ws"] {
        let err = bench::fanout::run(&FanoutOptions::new(url, 1))
            .await
            .unwrap_err();
        assert!(matches!(err, BenchError::Remote { .. }), "{err}");
        let err = bench::conns::run(&ConnsOptions::new(url, 1))
            .await
            .unwrap_err();
        assert!(matches!(err, BenchError::Remote { .. }), "{err}");
        let err = bench::storm::run(&StormOptions::new(url, 1))
            .await
            .unwrap_err();
        assert!(matches!(err, BenchError::Remote { .. }), "{err}");
    }
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_clear_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let err = bench::fanout::run(&FanoutOptions::new(format!("ws://127.0.0.1:{port}/ws"), 3))
        .await
        .unwrap_err();
    let BenchError::JoinFailed { error, .. } = &err else {
        panic!("expected a join failure, got {err}");
    };
    assert!(matches!(error, ClientError::Connect { .. }), "{error}");
    assert!(err.to_string().contains("connection refused"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_summary_is_one_line_with_the_documented_fields() {
    let server = MiniServer::start(Faults::default()).await;
    let report = Report::Fanout(
        bench::fanout::run(&small_fanout(&server.url, 2))
            .await
            .unwrap(),
    );
    let line = report.json_line();
    assert!(!line.contains('\n'));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["bench"], "fanout");
    for field in [
        "url",
        "clients",
        "senders",
        "rate",
        "duration_s",
        "warmup_s",
        "size",
        "join_s",
        "sent",
        "send_rate",
        "expected",
        "received",
        "lost",
        "duplicates",
        "reordered",
        "deliveries_per_s",
        "server_errors",
        "disconnected",
        "stalled",
        "stalled_disconnected",
        "warnings",
    ] {
        assert!(v.get(field).is_some(), "missing {field} in {line}");
    }
    for p in [
        "count", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
    ] {
        assert!(v["latency"][p].is_number(), "latency.{p} in {line}");
        assert!(v["join"][p].is_number(), "join.{p} in {line}");
    }
    assert!(v["generator"]["cpu_s"].is_number());
    assert!(v["generator"]["core_pct"].is_number());
    assert!(v["server"].is_null(), "no --server-pid, no server figures");
    assert!(v["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(v["machine"]["load_before"].is_number());
    assert!(v["machine"]["load_after"].is_number());
    assert_eq!(v["received"], v["expected"]);
    assert!(report.human().contains("lost 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conns_holds_joined_connections_and_reads_the_server_process() {
    let server = MiniServer::start(Faults::default()).await;
    let mut opts = ConnsOptions::new(&server.url, 20);
    opts.hold = Duration::from_millis(300);
    // The test server runs in this process, so this process is the server to sample.
    opts.server_pid = Some(std::process::id());
    let report = bench::conns::run(&opts).await.unwrap();
    assert_eq!(server.joins(), 20);
    assert_eq!(report.clients, 20);
    assert_eq!(report.dropped, 0);
    assert_eq!(report.join.count, 20);
    let cost = report.server.expect("server figures with --server-pid");
    assert_eq!(cost.pid, std::process::id());
    assert!(cost.rss_kib_before > 0 && cost.rss_kib_after > 0);
    let v: serde_json::Value = serde_json::from_str(&Report::Conns(report).json_line()).unwrap();
    assert_eq!(v["bench"], "conns");
    for field in [
        "rss_kib_before",
        "rss_kib_joined",
        "rss_kib_after",
        "rss_kib_per_conn",
    ] {
        assert!(v["server"][field].is_number(), "server.{field}");
    }
    assert!(v["server"]["hold_cpu"]["core_pct"].is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_ips_spread_connections_over_loopback_addresses() {
    let server = MiniServer::start(Faults::default()).await;
    let mut opts = ConnsOptions::new(&server.url, 6);
    opts.hold = Duration::from_millis(100);
    opts.common.source_ips = vec!["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()];
    let report = bench::conns::run(&opts).await.unwrap();
    assert_eq!(report.dropped, 0);
    let mut ips = server.hub.peer_ips.lock().unwrap().clone();
    ips.sort();
    let expected: Vec<std::net::IpAddr> = ["127.0.0.2"; 3]
        .into_iter()
        .chain(["127.0.0.3"; 3])
        .map(|ip| ip.parse().unwrap())
        .collect();
    assert_eq!(ips, expected);

    opts.common.source_ips = vec!["192.0.2.9".parse().unwrap()];
    let err = bench::conns::run(&opts).await.unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[tokio::test]
async fn conns_with_a_vanished_server_pid_is_an_error() {
    let server = MiniServer::start(Faults::default()).await;
    let mut opts = ConnsOptions::new(&server.url, 1);
    opts.server_pid = Some(u32::MAX);
    let err = bench::conns::run(&opts).await.unwrap_err();
    assert!(matches!(err, BenchError::Proc(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_reports_every_client_back_after_a_restart() {
    let server = MiniServer::start(Faults::default()).await;
    let addr = server.addr;
    let mut opts = StormOptions::new(&server.url, 6);
    opts.timeout = Duration::from_secs(30);
    let storm = tokio::spawn(async move { bench::storm::run(&opts).await });
    server.wait_for_joins(6).await;
    server.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let restarted = MiniServer::start_on(addr, Faults::default()).await;

    let report = tokio::time::timeout(Duration::from_secs(60), storm)
        .await
        .expect("the storm bench ends by itself")
        .unwrap()
        .unwrap();
    assert!(report.outage_seen);
    assert!(report.all_back, "{report:?}");
    // A client stopped before its first welcome arrived never "lost" a connection it had, so
    // the count of lost ones may be below 6 — but all 6 must be on the restarted server.
    assert!(report.lost >= 1);
    assert_eq!(report.back, report.lost);
    assert_eq!(restarted.joins(), 6);
    assert!(
        report.attempts >= report.lost as u64,
        "each client that lost the server reconnected at least once"
    );
    assert!(report.max_attempts_per_client >= 1);
    assert_eq!(
        report.attempts_per_second.iter().sum::<u64>(),
        report.attempts
    );
    assert_eq!(report.back_times.count, report.back as u64);
    let v: serde_json::Value = serde_json::from_str(&Report::Storm(report).json_line()).unwrap();
    assert_eq!(v["bench"], "storm");
    assert!(v["all_back_s"].is_number());
    assert!(v["peak_attempts_per_100ms"].as_u64().unwrap() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_without_an_outage_stops_at_its_timeout_incomplete() {
    let server = MiniServer::start(Faults::default()).await;
    let mut opts = StormOptions::new(&server.url, 2);
    opts.timeout = Duration::from_millis(500);
    let report = bench::storm::run(&opts).await.unwrap();
    assert!(!report.outage_seen);
    assert!(!report.all_back);
    assert!(!Report::Storm(report).complete());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_one_json_line_on_stdout() {
    let server = MiniServer::start(Faults::default()).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_clicom"))
        .args([
            "bench",
            "fanout",
            "--url",
            &server.url,
            "--clients",
            "3",
            "--rate",
            "50",
            "--duration",
            "300ms",
            "--quiet",
            "5s",
            "--no-progress",
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["clients"], 3);
    assert_eq!(v["lost"], 0);
    assert_eq!(
        v["received"].as_u64(),
        Some(v["sent"].as_u64().unwrap() * 3)
    );
    assert!(stderr.contains("deliveries"), "human summary on stderr");

    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_clicom"))
        .args([
            "bench",
            "conns",
            "--url",
            "ws://192.0.2.7/ws",
            "--no-progress",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stdout.is_empty());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-remote"));
}
