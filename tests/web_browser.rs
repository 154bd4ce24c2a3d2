//! The web page in a real browser (headless Chromium over WebDriver) against real servers:
//! chat both ways with the terminal client, hostile markup and links, reconnecting with what
//! was typed offline, history paging, a phone-sized layout, the commands and keys, and the
//! page's own modules. One browser for the whole file (see `web_support`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/pty.rs"]
mod pty;
mod support;
mod web_support;

use std::time::Duration;

use clicom::protocol::{ClientMsg, ServerMsg};
use clicom::server::ServerOptions;
use fantoccini::Locator;
use fantoccini::key::Key;
use futures_util::FutureExt;
use serde_json::{Value, json};
use support::{WsClient, start_server};
use web_support::{Browser, TestFn};

fn main() -> std::process::ExitCode {
    let tests: &[(&'static str, TestFn)] = &[
        ("the_page_and_a_terminal_client_chat_both_ways", |b| {
            the_page_and_a_terminal_client_chat_both_ways(b).boxed()
        }),
        (
            "markup_in_messages_and_names_shows_as_text_and_runs_nothing",
            |b| markup_in_messages_and_names_shows_as_text_and_runs_nothing(b).boxed(),
        ),
        ("a_javascript_link_is_not_a_link", |b| {
            a_javascript_link_is_not_a_link(b).boxed()
        }),
        (
            "the_page_reconnects_after_a_restart_and_sends_what_was_typed_offline_once",
            |b| {
                the_page_reconnects_after_a_restart_and_sends_what_was_typed_offline_once(b).boxed()
            },
        ),
        ("history_pages_in_on_scroll", |b| {
            history_pages_in_on_scroll(b).boxed()
        }),
        ("messages_missed_while_cut_off_are_fetched_in_order", |b| {
            messages_missed_while_cut_off_are_fetched_in_order(b).boxed()
        }),
        (
            "the_layout_fits_a_360_px_phone_without_sideways_scrolling",
            |b| the_layout_fits_a_360_px_phone_without_sideways_scrolling(b).boxed(),
        ),
        (
            "slash_commands_completion_history_and_the_length_limit",
            |b| slash_commands_completion_history_and_the_length_limit(b).boxed(),
        ),
        ("a_taken_name_asks_again_then_joins", |b| {
            a_taken_name_asks_again_then_joins(b).boxed()
        }),
        ("keyboard_only_first_visit_and_chat", |b| {
            keyboard_only_first_visit_and_chat(b).boxed()
        }),
        (
            "the_title_counts_unread_messages_while_the_tab_is_hidden",
            |b| the_title_counts_unread_messages_while_the_tab_is_hidden(b).boxed(),
        ),
        (
            "the_csp_blocks_inline_script_and_nothing_is_loaded_from_elsewhere",
            |b| the_csp_blocks_inline_script_and_nothing_is_loaded_from_elsewhere(b).boxed(),
        ),
        (
            "outbox_confirms_by_cid_and_never_by_an_unsent_message",
            |b| outbox_confirms_by_cid_and_never_by_an_unsent_message(b).boxed(),
        ),
        (
            "links_commands_and_completion_follow_the_terminal_client",
            |b| links_commands_and_completion_follow_the_terminal_client(b).boxed(),
        ),
        (
            "reconnect_waits_are_full_jitter_within_doubling_caps",
            |b| reconnect_waits_are_full_jitter_within_doubling_caps(b).boxed(),
        ),
        ("screenshots_at_phone_and_desktop_size", |b| {
            screenshots_at_phone_and_desktop_size(b).boxed()
        }),
    ];
    web_support::main(tests)
}

/// A `clicom serve` process with its history in a temporary directory, restartable on its port.
struct Site {
    dir: tempfile::TempDir,
    serve: Option<pty::Serve>,
    port: u16,
}

impl Site {
    fn start() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let serve = pty::Serve::start(0, &dir.path().join("history.db"), dir.path());
        let port = serve.port;
        Site {
            dir,
            serve: Some(serve),
            port,
        }
    }

    fn http(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn ws(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    fn kill(&mut self) {
        self.serve.take().unwrap().kill();
    }

    fn restart(&mut self) {
        self.serve = Some(pty::Serve::start(
            self.port,
            &self.dir.path().join("history.db"),
            self.dir.path(),
        ));
    }
}

async fn the_page_and_a_terminal_client_chat_both_ways(b: &Browser) {
    let site = Site::start();
    b.goto(&format!("{}/", site.http())).await;
    // First visit: the name and colour dialog.
    b.wait_js(
        "the first-run dialog",
        "return document.getElementById('setup').open",
    )
    .await;
    let name = b.client.find(Locator::Id("setup-name")).await.unwrap();
    name.send_keys("webby").await.unwrap();
    b.client
        .find(Locator::Css("input[name=color][value='3']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    name.send_keys(&Key::Enter).await.unwrap();
    b.wait_connected().await;

    let home = pty::ClientHome::new();
    let term = pty::Pty::spawn(
        &home,
        &[&site.ws(), "--name", "termy", "--color", "2"],
        &[],
        (100, 30),
    );
    term.wait_ready("● connected");
    b.wait_js(
        "termy in the user list",
        "return document.getElementById('users').innerText.includes('termy')",
    )
    .await;

    b.say("hello from the browser").await;
    term.wait_for("webby: hello from the browser");
    b.say("/me waves").await;
    term.wait_for("* webby waves");
    let mut term = term;
    term.line("hello from the terminal");
    b.wait_for_text("termy: hello from the terminal").await;
    term.line("/msg webby psst");
    b.wait_for_text("termy → you: psst").await;

    // Names in their colours: webby chose Magenta (3), termy Green (2).
    let classes = b
        .js(
            "return [...document.querySelectorAll('#log .msg .n')].map((n) => n.textContent + '=' + n.className)",
            vec![],
        )
        .await;
    let classes: Vec<String> = serde_json::from_value(classes).unwrap();
    assert!(classes.iter().any(|c| c == "webby=n c3"), "{classes:?}");
    assert!(classes.iter().any(|c| c == "termy=n c2"), "{classes:?}");

    // Remembered: the next visit joins at once under the same name and colour.
    let saved = b
        .js(
            "return [localStorage.getItem('clicom.name'), localStorage.getItem('clicom.color')]",
            vec![],
        )
        .await;
    assert_eq!(saved, json!(["webby", "3"]));
    b.client.refresh().await.unwrap();
    b.wait_connected().await;
    let dialog_open = b
        .js("return document.getElementById('setup').open", vec![])
        .await;
    assert_eq!(dialog_open, json!(false));
    b.wait_for_text("webby: hello from the browser").await;
    term.wait_for("webby joined");
}

/// Hostile strings as names and messages, both live and from history.
const MARKUP: &[&str] = &[
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=\"window.pwned=1\">",
    "<script>window.pwned=2</script>",
    "<svg onload=alert(3)>",
    "<a href=\"javascript:window.pwned=3\">click</a>",
    "&lt;b&gt;entity&lt;/b&gt; <b>bold</b>",
];

async fn markup_in_messages_and_names_shows_as_text_and_runs_nothing(b: &Browser) {
    let server = start_server(support::options()).await;
    let http = format!("http://{}", server.addr);
    // One hostile name speaks before the page arrives (history), one after (live).
    let mut early = WsClient::join(&server.url, "<b>mallory</b>").await;
    early
        .say_all(&MARKUP.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .await;
    b.open_as(&http, "reader", "1").await;
    let mut late = WsClient::join(&server.url, "\"><svg onload=alert(4)>").await;
    for text in MARKUP {
        late.say(text).await;
    }
    late.send(&ClientMsg::Dm {
        to: "reader".into(),
        text: MARKUP[0].into(),
        cid: None,
    })
    .await;
    late.send(&ClientMsg::Me {
        text: MARKUP[1].into(),
        cid: None,
    })
    .await;
    b.wait_for_text(&format!("\"><svg onload=alert(4)> → you: {}", MARKUP[0]))
        .await;
    b.wait_for_text(&format!("* \"><svg onload=alert(4)> {}", MARKUP[1]))
        .await;

    let text = b.log_text().await;
    for m in MARKUP {
        assert_eq!(
            text.matches(&format!("<b>mallory</b>: {m}")).count(),
            1,
            "{m} from history shows as text once:\n{text}"
        );
        assert_eq!(
            text.matches(&format!("\"><svg onload=alert(4)>: {m}"))
                .count(),
            1,
            "{m} live shows as text once:\n{text}"
        );
    }
    assert!(
        text.contains("<b>mallory</b>"),
        "the user list shows names as text"
    );
    let created = b
        .js(
            "return document.querySelectorAll('#log img, #log script, #log svg, #log b, #users img, #users b, #announce *').length",
            vec![],
        )
        .await;
    assert_eq!(created, json!(0), "no element was made from remote text");
    let anchors = b
        .js("return document.querySelectorAll('#log a').length", vec![])
        .await;
    assert_eq!(anchors, json!(0), "javascript: in markup is not a link");
    let pwned = b.js("return typeof window.pwned", vec![]).await;
    assert_eq!(pwned, json!("undefined"), "no remote script ran");
    assert!(!b.alert_open().await, "no alert was raised");
    let title = b.client.title().await.unwrap();
    assert!(!title.contains('<'), "{title}");
}

async fn a_javascript_link_is_not_a_link(b: &Browser) {
    let server = start_server(support::options()).await;
    let http = format!("http://{}", server.addr);
    b.open_as(&http, "reader", "5").await;
    let mut bob = WsClient::join(&server.url, "bob").await;
    let lines = [
        "javascript:alert(1)",
        "JaVaScRiPt:window.pwned=1",
        " javascript:alert(2) ",
        "data:text/html,<script>alert(3)</script>",
        "vbscript:msgbox(4)",
        "see http://example.com/ok, and (https://example.com/a_(b)) too.",
        "http://x.test/\"onmouseover=\"window.pwned=2",
        "javascript:window.pwned=3//http://example.com",
        "last line",
    ];
    bob.say_all(&lines.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .await;
    b.wait_for_text("bob: last line").await;
    let anchors = b
        .js(
            "return [...document.querySelectorAll('#log a')].map((a) => [a.textContent, a.getAttribute('href'), a.rel, a.target])",
            vec![],
        )
        .await;
    assert_eq!(
        anchors,
        json!([
            [
                "http://example.com/ok",
                "http://example.com/ok",
                "noopener noreferrer",
                "_blank"
            ],
            [
                "https://example.com/a_(b)",
                "https://example.com/a_(b)",
                "noopener noreferrer",
                "_blank"
            ],
            [
                "http://x.test/",
                "http://x.test/",
                "noopener noreferrer",
                "_blank"
            ],
            // Only the http part of this line is a link, and it leads there.
            [
                "http://example.com",
                "http://example.com/",
                "noopener noreferrer",
                "_blank"
            ],
        ])
    );
    let text = b.log_text().await;
    for l in &lines[..5] {
        assert!(text.contains(l.trim()), "{l} shown as text:\n{text}");
    }
    // Clicking where the javascript: text is does nothing.
    b.client
        .find(Locator::XPath("//li[contains(., 'javascript:alert(1)')]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let pwned = b.js("return typeof window.pwned", vec![]).await;
    assert_eq!(pwned, json!("undefined"));
    assert!(!b.alert_open().await);
}

async fn the_page_reconnects_after_a_restart_and_sends_what_was_typed_offline_once(b: &Browser) {
    let mut site = Site::start();
    b.open_as(&site.http(), "webby", "2").await;
    b.say("before the restart").await;
    b.wait_js(
        "the echo",
        "return !document.querySelector('#log .pending') && \
         document.getElementById('log').innerText.includes('webby: before the restart')",
    )
    .await;

    site.kill();
    b.wait_js(
        "the countdown",
        "return /^Reconnecting in \\d+ s \\(attempt \\d+\\)/.test(document.getElementById('status').textContent) \
         && !document.getElementById('retry').hidden",
    )
    .await;
    b.say("typed offline one").await;
    b.say("typed offline two").await;
    b.wait_js(
        "two pending",
        "return document.getElementById('status').textContent.includes('· 2 pending') && \
         document.querySelectorAll('#log .pending').length === 2",
    )
    .await;

    site.restart();
    // No key pressed: the page comes back on its own and sends them.
    b.wait_js(
        "the pending messages confirmed",
        "return document.getElementById('status').textContent === '● Connected' && \
         document.querySelectorAll('#log .pending').length === 0",
    )
    .await;
    let (_checker, history) = WsClient::join_with_history(&site.ws(), "checker", None).await;
    let texts: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "before the restart",
            "typed offline one",
            "typed offline two"
        ],
        "each stored once, in order"
    );
    let text = b.log_text().await;
    for line in texts {
        assert_eq!(
            text.matches(&format!("webby: {line}")).count(),
            1,
            "shown once: {line}\n{text}"
        );
    }
    assert!(text.contains("Disconnected"), "{text}");
}

async fn history_pages_in_on_scroll(b: &Browser) {
    let server = start_server(support::options()).await;
    let mut writer = WsClient::join(&server.url, "writer").await;
    let lines: Vec<String> = (0..130).map(|i| format!("line {i:03}")).collect();
    writer.say_all(&lines).await;
    b.open_as(&format!("http://{}", server.addr), "reader", "4")
        .await;
    b.wait_for_text("writer: line 129").await;
    let shown = "return [...document.querySelectorAll('#log .msg .t')].map((t) => t.textContent)";
    let first: Vec<String> = serde_json::from_value(b.js(shown, vec![]).await).unwrap();
    assert_eq!(first, lines[80..], "the join brings the last 50");

    b.js("document.getElementById('log').scrollTop = 0", vec![])
        .await;
    b.wait_for_text("writer: line 030").await;
    // What was at the top stays in view while the older page loads above it.
    let kept = b
        .js(
            "const log = document.getElementById('log').getBoundingClientRect(); \
             const li = [...document.querySelectorAll('#log .msg')].find((l) => l.textContent.includes('line 080')); \
             const r = li.getBoundingClientRect(); return r.top >= log.top - 1 && r.bottom <= log.bottom + 1",
            vec![],
        )
        .await;
    assert_eq!(kept, json!(true), "the reading position is kept");

    b.js("document.getElementById('log').scrollTop = 0", vec![])
        .await;
    b.wait_for_text("This is the beginning of #main.").await;
    let all: Vec<String> = serde_json::from_value(b.js(shown, vec![]).await).unwrap();
    assert_eq!(all, lines, "every message once, in order");
}

/// A TCP relay to `target` that can cut every connection through it and refuse new ones
/// (`cut` true) — a network outage for whoever comes through it, while the server runs on.
async fn relay(target: std::net::SocketAddr, cut: tokio::sync::watch::Receiver<bool>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if *cut.borrow() {
                continue;
            }
            let mut cut = cut.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = cut.wait_for(|c| *c) => {}
                }
            });
        }
    });
    port
}

async fn messages_missed_while_cut_off_are_fetched_in_order(b: &Browser) {
    let server = start_server(support::options()).await;
    let (cut_tx, cut_rx) = tokio::sync::watch::channel(false);
    let port = relay(server.addr, cut_rx).await;
    b.open_as(&format!("http://127.0.0.1:{port}"), "reader", "2")
        .await;
    let mut writer = WsClient::join(&server.url, "writer").await;
    let before: Vec<String> = (0..5).map(|i| format!("before {i}")).collect();
    writer.say_all(&before).await;
    b.wait_for_text("writer: before 4").await;

    cut_tx.send(true).unwrap();
    b.wait_js(
        "the page to notice",
        "return document.getElementById('status').textContent.startsWith('Reconnecting')",
    )
    .await;
    // More than one join's worth of history (50) goes by while the page is cut off.
    let missed: Vec<String> = (0..120).map(|i| format!("missed {i:03}")).collect();
    writer.say_all(&missed).await;
    cut_tx.send(false).unwrap();
    // Skip the rest of the wait if the page is still waiting (it may be back already).
    b.js(
        "const r = document.getElementById('retry'); if (!r.hidden) r.click();",
        vec![],
    )
    .await;
    b.wait_for_text("writer: missed 119").await;
    b.wait_js(
        "the gap filled",
        "return document.getElementById('log').innerText.includes('writer: missed 000')",
    )
    .await;
    let shown: Vec<String> = serde_json::from_value(
        b.js(
            "return [...document.querySelectorAll('#log .msg .t')].map((t) => t.textContent)",
            vec![],
        )
        .await,
    )
    .unwrap();
    let want: Vec<String> = before.iter().chain(&missed).cloned().collect();
    assert_eq!(shown, want, "everything once, in order, nothing missing");
}

async fn the_layout_fits_a_360_px_phone_without_sideways_scrolling(b: &Browser) {
    let server = start_server(support::options()).await;
    let mut w = WsClient::join(&server.url, "Zoë Müller-Lüdenscheidt").await;
    b.viewport(360, 640, true).await;
    b.open_as(&format!("http://{}", server.addr), "phone", "3")
        .await;
    let size = b.js("return [innerWidth, innerHeight]", vec![]).await;
    assert_eq!(size, json!([360, 640]), "a phone-sized viewport");
    w.say_all(&[
        "x".repeat(600),
        format!("https://example.com/{}", "very-long-path-".repeat(30)),
        "漢字かな交じり文".repeat(20),
        "👋🏽".repeat(80),
        "a normal sentence, to end".into(),
    ])
    .await;
    b.wait_for_text("a normal sentence, to end").await;
    b.say(&"y".repeat(300)).await;
    let overflow = b
        .js(
            "return ['html', 'body', 'header', '#middle', '#log', '#bar', '#status'].map((s) => { \
               const e = document.querySelector(s); return [s, e.scrollWidth, e.clientWidth]; })",
            vec![],
        )
        .await;
    for row in overflow.as_array().unwrap() {
        let (scroll, client) = (row[1].as_u64().unwrap(), row[2].as_u64().unwrap());
        assert!(scroll <= client, "{row} scrolls sideways");
    }
    // The user list waits behind a button, and fits when opened.
    let hidden = b
        .js(
            "return getComputedStyle(document.getElementById('side')).display",
            vec![],
        )
        .await;
    assert_eq!(hidden, json!("none"));
    b.client
        .find(Locator::Id("users-toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let side = b
        .js(
            "const r = document.getElementById('side').getBoundingClientRect(); \
             return [getComputedStyle(document.getElementById('side')).display, r.left >= 0 && r.right <= innerWidth, \
             document.getElementById('users').innerText]",
            vec![],
        )
        .await;
    assert_eq!(side[0], json!("block"));
    assert_eq!(side[1], json!(true));
    assert!(
        side[2]
            .as_str()
            .unwrap()
            .contains("Zoë Müller-Lüdenscheidt")
    );
    b.keys(&Key::Escape).await;
    let closed = b
        .js(
            "return getComputedStyle(document.getElementById('side')).display",
            vec![],
        )
        .await;
    assert_eq!(closed, json!("none"), "Esc closes the list");
}

/// The message box's value.
async fn input_value(b: &Browser) -> String {
    b.js("return document.getElementById('input').value", vec![])
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

async fn clear_input(b: &Browser) {
    b.js("const i = document.getElementById('input'); i.value = ''; i.dispatchEvent(new Event('input')); i.focus()", vec![])
        .await;
}

async fn slash_commands_completion_history_and_the_length_limit(b: &Browser) {
    let server = start_server(ServerOptions {
        max_text_chars: 40,
        ..support::options()
    })
    .await;
    let mut zoe = WsClient::join(&server.url, "Zoë Müller").await;
    b.open_as(&format!("http://{}", server.addr), "webby", "1")
        .await;
    b.wait_js(
        "Zoë in the list",
        "return document.getElementById('users').innerText.includes('Zoë Müller')",
    )
    .await;

    // Tab completes a name (with its space) at the start of the line with ": ".
    let input = b.client.find(Locator::Id("input")).await.unwrap();
    input.send_keys("zo").await.unwrap();
    input.send_keys(&Key::Tab).await.unwrap();
    assert_eq!(input_value(b).await, "Zoë Müller: ");
    clear_input(b).await;

    // A private message to a name with a space.
    b.say("/msg Zoë Müller psst").await;
    let dm = zoe
        .recv_until("the DM", |m| match m {
            ServerMsg::Dm(d) => Some(d.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (dm.from.as_str(), dm.to.as_str(), dm.text.as_str()),
        ("webby", "Zoë Müller", "psst")
    );
    b.wait_for_text("you → Zoë Müller: psst").await;
    b.say("/me waves").await;
    let action = zoe.recv_message().await;
    assert!(action.action && action.text == "waves", "{action:?}");

    // An unknown command is an error here and is never sent; the line stays to be fixed.
    b.say("/frobnicate now").await;
    b.wait_for_text("unknown command /frobnicate — type /help for the list")
        .await;
    assert_eq!(input_value(b).await, "/frobnicate now");
    clear_input(b).await;

    b.say("/nick webster").await;
    b.wait_js(
        "the new name",
        "return localStorage.getItem('clicom.name') === 'webster'",
    )
    .await;
    b.say("/color 4").await;
    b.wait_for_text("Your colour is now Yellow (4).").await;
    assert_eq!(
        b.js("return localStorage.getItem('clicom.color')", vec![])
            .await,
        json!("4")
    );
    b.say("/who").await;
    b.wait_for_text("In the room (2): Zoë Müller, webster")
        .await;
    b.say("/join Rust").await;
    b.wait_js("room rust", "return document.getElementById('room').textContent === '#rust' && location.hash === '#rust'")
        .await;
    b.say("/rooms").await;
    b.wait_for_text("Rooms: #main (1), #rust (1)").await;
    b.say("/help").await;
    b.wait_for_text("/msg USER TEXT — send a private message")
        .await;

    // Input history: Up brings back earlier lines, Down returns to the draft.
    input.send_keys("draft").await.unwrap();
    input.send_keys(&Key::Up).await.unwrap();
    assert_eq!(input_value(b).await, "/help");
    input.send_keys(&Key::Up).await.unwrap();
    assert_eq!(input_value(b).await, "/rooms");
    input.send_keys(&Key::Down).await.unwrap();
    input.send_keys(&Key::Down).await.unwrap();
    assert_eq!(input_value(b).await, "draft");
    clear_input(b).await;

    // The limit (40 here, from `welcome`) shows before sending, and blocks it.
    input.send_keys(&"z".repeat(41)).await.unwrap();
    let count = b
        .js("const c = document.getElementById('count'); return [c.hidden, c.textContent, document.getElementById('send').disabled]", vec![])
        .await;
    assert_eq!(count, json!([false, "41/40: too long by 1", true]));
    input.send_keys(&Key::Enter).await.unwrap();
    b.wait_for_text("Message too long: 41 characters; the limit is 40.")
        .await;
    assert_eq!(input_value(b).await, "z".repeat(41), "kept to be shortened");
    let pending = b
        .js(
            "return document.querySelectorAll('#log .pending, #log .failed').length",
            vec![],
        )
        .await;
    assert_eq!(pending, json!(0), "nothing was queued");
    clear_input(b).await;

    // Tab with nothing to complete moves on: the keyboard is never trapped.
    input.send_keys(&Key::Tab).await.unwrap();
    let focused = b.js("return document.activeElement.id", vec![]).await;
    assert_eq!(focused, json!("send"));
}

async fn a_taken_name_asks_again_then_joins(b: &Browser) {
    let server = start_server(support::options()).await;
    let _alice = WsClient::join(&server.url, "alice").await;
    b.goto(&format!("http://{}/", server.addr)).await;
    b.js(
        "localStorage.setItem('clicom.name', 'ALICE'); location.reload()",
        vec![],
    )
    .await;
    let problem = b
        .wait_js(
            "the dialog with the server's reason",
            "return document.getElementById('setup').open && document.getElementById('setup-error').textContent",
        )
        .await;
    assert!(problem.as_str().unwrap().contains("taken"), "{problem}");
    let name = b.client.find(Locator::Id("setup-name")).await.unwrap();
    assert_eq!(name.prop("value").await.unwrap().as_deref(), Some("ALICE"));
    name.clear().await.unwrap();
    name.send_keys("alicia").await.unwrap();
    name.send_keys(&Key::Enter).await.unwrap();
    b.wait_connected().await;
    b.wait_js(
        "both in the list",
        "return document.getElementById('users').innerText.includes('alicia (you)')",
    )
    .await;
    assert_eq!(
        b.js("return localStorage.getItem('clicom.name')", vec![])
            .await,
        json!("alicia")
    );
    let health = server.health().await;
    assert_eq!(health["users"], 2, "{health}");
}

async fn keyboard_only_first_visit_and_chat(b: &Browser) {
    let server = start_server(support::options()).await;
    b.goto(&format!("http://{}/", server.addr)).await;
    b.wait_js("the dialog, focused on the name", "return document.getElementById('setup').open && document.activeElement.id === 'setup-name'")
        .await;
    b.keys("keys only").await;
    let before = b
        .js(
            "return document.querySelector('input[name=color]:checked').value",
            vec![],
        )
        .await;
    b.keys(&Key::Tab).await;
    b.keys(&Key::Right).await;
    let after = b
        .js(
            "return document.querySelector('input[name=color]:checked').value",
            vec![],
        )
        .await;
    assert_ne!(before, after, "arrows choose the colour");
    b.keys(&Key::Tab).await;
    b.keys(&Key::Tab).await;
    b.keys(&Key::Enter).await;
    b.wait_connected().await;
    let focused = b.js("return document.activeElement.id", vec![]).await;
    assert_eq!(focused, json!("input"), "back in the message box");
    let want = match after.as_str().unwrap() {
        "custom" => "#ff6600".to_owned(),
        n => n.to_owned(),
    };
    assert_eq!(
        b.js("return localStorage.getItem('clicom.color')", vec![])
            .await,
        json!(want)
    );
    b.keys("typed with keys").await;
    b.keys(&Key::Enter).await;
    b.wait_for_text("keys only: typed with keys").await;

    // Someone else's message is read out by the live region.
    let mut other = WsClient::join(&server.url, "other").await;
    other.say("for the screen reader").await;
    b.wait_js(
        "the live region",
        "return document.getElementById('announce').textContent === 'other: for the screen reader'",
    )
    .await;
    let live = b
        .js(
            "return document.getElementById('announce').getAttribute('aria-live')",
            vec![],
        )
        .await;
    assert_eq!(live, json!("polite"));
    // Esc from anywhere goes back to the message box.
    b.client
        .find(Locator::Id("log"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.keys(&Key::Escape).await;
    assert_eq!(
        b.js("return document.activeElement.id", vec![]).await,
        json!("input")
    );
}

async fn the_title_counts_unread_messages_while_the_tab_is_hidden(b: &Browser) {
    let server = start_server(support::options()).await;
    b.open_as(&format!("http://{}", server.addr), "reader", "2")
        .await;
    assert_eq!(b.client.title().await.unwrap(), "#main — Clicom");
    let page = b.client.window().await.unwrap();
    let other = b.client.new_window(true).await.unwrap();
    b.client.switch_to_window(other.handle).await.unwrap();
    let mut w = WsClient::join(&server.url, "writer").await;
    w.say_all(&["one".into(), "two".into(), "three".into()])
        .await;
    // The page's tab is in the background: read its title from the browser's list of tabs.
    let deadline = std::time::Instant::now() + web_support::WAIT;
    loop {
        let targets = b.cdp("Target.getTargets", json!({})).await;
        let titles: Vec<String> = targets["targetInfos"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["title"].as_str().map(str::to_owned))
            .collect();
        if titles.iter().any(|t| t == "(3) #main — Clicom") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "titles: {titles:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.client.close_window().await.unwrap();
    b.client.switch_to_window(page).await.unwrap();
    b.wait_js(
        "the count cleared",
        "return document.title === '#main — Clicom'",
    )
    .await;
}

async fn the_csp_blocks_inline_script_and_nothing_is_loaded_from_elsewhere(b: &Browser) {
    let server = start_server(support::options()).await;
    let http = format!("http://{}", server.addr);
    b.open_as(&http, "reader", "2").await;
    // The page itself does nothing the policy forbids: colours through CSSOM, no inline code.
    let mut w = WsClient::connect(&server.url).await;
    w.send(&ClientMsg::Join {
        name: "writer".into(),
        color: Some("#123456".into()),
        room: None,
    })
    .await;
    w.say("a custom colour, and a link: https://example.com/")
        .await;
    b.wait_for_text("writer: a custom colour").await;
    b.say("/help").await;
    b.wait_for_text("Keys:").await;
    let console = b.console().await;
    let violations: Vec<_> = console
        .iter()
        .filter(|(_, m)| m.contains("Content Security Policy"))
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
    let inline = b
        .js(
            "const s = document.createElement('script'); s.textContent = 'window.inline = 1'; \
             document.head.append(s); return typeof window.inline",
            vec![],
        )
        .await;
    assert_eq!(
        inline,
        json!("undefined"),
        "the page's CSP refuses inline script"
    );
    let console = b.console().await;
    assert!(
        console
            .iter()
            .any(|(_, m)| m.contains("Content Security Policy")),
        "the refusal is reported where the check above looks: {console:?}"
    );
    let loaded = b
        .js(
            "return performance.getEntriesByType('resource').map((e) => e.name)",
            vec![],
        )
        .await;
    let loaded: Vec<String> = serde_json::from_value(loaded).unwrap();
    assert!(loaded.len() >= 8, "{loaded:?}");
    for url in &loaded {
        assert!(
            url.starts_with(&format!("{http}/")),
            "{url} is not from the server"
        );
    }
}

async fn outbox_confirms_by_cid_and_never_by_an_unsent_message(b: &Browser) {
    let server = start_server(support::options()).await;
    b.goto(&format!("http://{}/assets/favicon.svg", server.addr))
        .await;
    let r = b
        .module(
            "outbox.js",
            "({ Outbox, inputLine }) => {
               const out = {};
               // A server that knows cid.
               const o = new Outbox();
               const a = o.push('chat', 'ok', { room: 'main', now: 1000 });
               const b = o.push('chat', 'bidi \\u202eoverride\\u202c here', { room: 'main', now: 2000 });
               out.frame = Outbox.frame(a);
               out.unique = a.cid !== b.cid && /^[0-9a-f]{24}$/.test(a.cid);
               // Typed offline, never sent: an old 'ok' of yours in the history is not it.
               out.unsentMatched = o.confirmHistory([{ name: 'me', text: 'ok', ts: 1500 }], 'me').length;
               o.markSent(a, 3000); o.markSent(b, 3000);
               // Someone else's words, or your words with another cid, confirm nothing.
               out.others = o.confirmEcho({ type: 'message', name: 'you', text: 'ok' }, 'me');
               out.foreignCid = o.confirmEcho({ type: 'message', name: 'me', text: 'ok', cid: 'f00f00f00' }, 'me');
               o.connectionLost();
               out.resend = o.unsent().map((i) => i.cid === a.cid || i.cid === b.cid);
               // The history after the reconnect holds `a` under its cid, its text changed.
               out.byCid = o.confirmHistory([{ name: 'me', text: 'ok!', ts: 3001, cid: a.cid }], 'me').map((i) => i.text);
               // This server echoes cids, so the same words without one are not `b`.
               out.byWords = o.confirmHistory([{ name: 'me', text: 'bidi override here', ts: 3001 }], 'me').length;
               out.left = o.size;
               // A server that knows no cid: an echo of yours is your oldest message in flight.
               const old = new Outbox();
               const x = old.push('chat', 'bidi \\u202eoverride\\u202c here');
               const y = old.push('me', 'waves');
               const z = old.push('chat', 'hi');
               out.notYet = old.confirmEcho({ type: 'message', name: 'me', text: 'hi' }, 'me');
               old.markSent(x); old.markSent(y);
               out.oldEcho = [
                 old.confirmEcho({ type: 'message', name: 'ME', text: 'bidi override here' }, 'me')?.cid === x.cid,
                 old.confirmEcho({ type: 'message', name: 'me', text: 'waves', action: true }, 'me')?.cid === y.cid,
               ];
               // ... and after a reconnect, a history entry with the words of a sent one.
               old.markSent(z, 10_000_000);
               old.connectionLost();
               out.oldHistory = [
                 old.confirmHistory([{ name: 'me', text: 'hi', ts: 10_000_000 - 3_600_000 }], 'me').length,
                 old.confirmHistory([{ name: 'me', text: 'hi', ts: 10_000_001 }], 'me').length,
               ];
               const d = o.push('dm', 'psst', { to: 'Zoë Müller' });
               out.refused = o.refuse(undefined, true) === null;
               o.markSent(d);
               out.refusedDm = inputLine(o.refuse(undefined, true));
               o.push('chat', '/not a command', { room: 'main' });
               out.withdrawn = o.withdraw('rust').map(inputLine);
               return out;
             }",
        )
        .await;
    assert_eq!(r["frame"]["type"], json!("message"));
    assert_eq!(r["frame"]["text"], json!("ok"));
    assert!(r["frame"]["cid"].is_string(), "{r}");
    assert_eq!(r["unique"], json!(true));
    assert_eq!(
        r["unsentMatched"],
        json!(0),
        "an unsent message is never confirmed by history"
    );
    assert_eq!(r["others"], Value::Null);
    assert_eq!(r["foreignCid"], Value::Null);
    assert_eq!(
        r["resend"],
        json!([true, true]),
        "unconfirmed ones go out again"
    );
    assert_eq!(r["byCid"], json!(["ok"]));
    assert_eq!(
        r["byWords"],
        json!(0),
        "never by words once the server knows cid"
    );
    assert_eq!(
        r["notYet"],
        Value::Null,
        "an echo never confirms an unsent message"
    );
    assert_eq!(r["oldEcho"], json!([true, true]));
    assert_eq!(
        r["oldHistory"],
        json!([0, 1]),
        "an hour-old message is not this one"
    );
    assert_eq!(r["left"], json!(1));
    assert_eq!(
        r["refused"],
        json!(true),
        "an unsent DM cannot be the refused one"
    );
    assert_eq!(r["refusedDm"], json!("/msg \"Zoë Müller\" psst"));
    assert_eq!(
        r["withdrawn"],
        json!(["bidi \u{202e}override\u{202c} here", "//not a command"]),
        "room messages never follow you to another room; DMs stay"
    );
}

async fn links_commands_and_completion_follow_the_terminal_client(b: &Browser) {
    let server = start_server(support::options()).await;
    b.goto(&format!("http://{}/assets/favicon.svg", server.addr))
        .await;
    let links = b
        .module(
            "text.js",
            "({ linkify, clean, chars, parseColor, colorStyle, contrast }) => [
               linkify('go to https://example.com/x?a=1&b=2. now'),
               linkify('(see http://en.wikipedia.org/wiki/Rust_(language)) and javascript:alert(1)'),
               linkify('http://[::1]:8080/x'),
               clean('a\\tb\\r\\nc\\u001b[2J\\u202e'),
               chars('👋🏽é'),
               [parseColor('green'), parseColor('#FF6600'), parseColor('9'), parseColor(' 3 ')],
               colorStyle('#000000').dark !== '#000000' && colorStyle('#ffffff').light !== '#ffffff',
             ]",
        )
        .await;
    assert_eq!(
        links[0],
        json!([{"text": "go to "}, {"text": "https://example.com/x?a=1&b=2", "href": "https://example.com/x?a=1&b=2"}, {"text": ". now"}])
    );
    assert_eq!(
        links[1][1]["text"],
        json!("http://en.wikipedia.org/wiki/Rust_(language)")
    );
    assert_eq!(links[1][2], json!({"text": ") and javascript:alert(1)"}));
    assert_eq!(links[2][0]["href"], json!("http://[::1]:8080/x"));
    assert_eq!(links[3], json!("a    b\nc\u{241b}[2J"));
    assert_eq!(links[4], json!(3));
    assert_eq!(links[5], json!(["2", "#ff6600", null, "3"]));
    assert_eq!(
        links[6],
        json!(true),
        "black and white stay readable on both themes"
    );

    let parsed = b
        .module(
            "command.js",
            "({ parse }) => [
               parse('//not a command'), parse('   '), parse('/join #Rust'), parse('/join a b'),
               parse('/msg \"Zoë Müller\" hi there'), parse('/msg Zoë Müller hi', ['Zoë Müller', 'Zoë']),
               parse('/msg bob'), parse('/color'), parse('/colour blue'), parse('/nick a\\u200bb'),
               parse('/open 0'), parse('/OPEN 2'), parse('/list'), parse('/exit'), parse('/server x'),
               parse('/me'),
             ]",
        )
        .await;
    assert_eq!(
        parsed,
        json!([
            {"chat": "/not a command"},
            null,
            {"cmd": "join", "room": "rust"},
            {"error": "a room name has only letters, digits, -, _ and ."},
            {"cmd": "msg", "to": "Zoë Müller", "text": "hi there"},
            {"cmd": "msg", "to": "Zoë Müller", "text": "hi"},
            {"error": "usage: /msg USER TEXT"},
            {"cmd": "color", "color": null},
            {"cmd": "color", "color": "5"},
            {"error": "a name cannot contain control or invisible characters"},
            {"error": "usage: /open [N] (N = 1 for the latest link)"},
            {"cmd": "open", "n": 2},
            {"cmd": "who"},
            {"cmd": "quit"},
            {"error": "unknown command /server — type /help for the list"},
            {"error": "usage: /me ACTION"},
        ])
    );

    let completed = b
        .module(
            "input.js",
            "({ Completer, InputHistory }) => {
               const c = new Completer();
               const names = ['alice', 'Alan', 'bob'];
               const one = c.complete('al', 2, names);
               const two = c.complete(one.value, one.caret, names);
               const three = c.complete(two.value, two.caret, names);
               const mid = new Completer().complete('hi b and more', 4, names);
               const cmd = new Completer().complete('/co', 3, names);
               const none = new Completer().complete('', 0, names);
               const h = new InputHistory();
               h.push('one'); h.push('two'); h.push('two');
               const walk = [h.move(-1, 'draft'), h.move(-1, 'x'), h.move(-1, 'x'), h.move(1, 'x'), h.move(1, 'x')];
               return [one.value, two.value, three.value, mid, cmd.value, none, walk];
             }",
        )
        .await;
    assert_eq!(
        completed,
        json!([
            "alice: ",
            "Alan: ",
            "alice: ",
            {"value": "hi bob and more", "caret": 7},
            "/color ",
            null,
            ["two", "one", null, "two", "draft"],
        ])
    );
}

async fn reconnect_waits_are_full_jitter_within_doubling_caps(b: &Browser) {
    let server = start_server(support::options()).await;
    b.goto(&format!("http://{}/assets/favicon.svg", server.addr))
        .await;
    let r = b
        .module(
            "conn.js",
            "({ Conn, backoffCap }) => {
               const caps = [0, 1, 2, 3, 4, 5, 6, 7, 20].map(backoffCap);
               const waits = [];
               for (const r of [0, 0.5, 0.999]) {
                 const c = new Conn('ws://127.0.0.1:9/ws', { open() {}, frame() {}, down() {}, state() {} }, () => r);
                 c.state = 'connecting';
                 c.attempt = 3;
                 const before = Date.now();
                 c.lost('test');
                 waits.push([Math.round((c.retryAt - before) / 100) * 100, c.attempt, c.state]);
                 c.stop();
               }
               return { caps, waits };
             }",
        )
        .await;
    assert_eq!(
        r["caps"],
        json!([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
    );
    assert_eq!(
        r["waits"],
        json!([
            [0, 4, "waiting"],
            [2000, 4, "waiting"],
            [4000, 4, "waiting"]
        ]),
        "a random share of the cap for attempt 3 (4 s)"
    );
}

async fn screenshots_at_phone_and_desktop_size(b: &Browser) {
    let server = start_server(support::options()).await;
    let http = format!("http://{}", server.addr);
    let mut alice = WsClient::join(&server.url, "alice").await;
    let mut bob = WsClient::connect(&server.url).await;
    bob.send(&ClientMsg::Join {
        name: "bob".into(),
        color: Some("#ff6600".into()),
        room: None,
    })
    .await;
    bob.recv_until("bob's welcome", |m| {
        matches!(m, ServerMsg::Welcome(_)).then_some(())
    })
    .await;
    alice
        .say("Hi all! The notes are at https://example.com/notes")
        .await;
    bob.send(&ClientMsg::Me {
        text: "waves from the terminal".into(),
        cid: None,
    })
    .await;
    bob.say("Morning, alice! Anyone for lunch at noon?").await;
    b.open_as(&http, "web visitor", "3").await;
    b.say("Hello from the browser!").await;
    alice.say("Welcome, web visitor.").await;
    b.wait_for_text("alice: Welcome, web visitor.").await;
    let dir = if std::env::var_os("CLICOM_UPDATE_SCREENSHOTS").is_some() {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs")
    } else {
        std::env::temp_dir()
    };
    for (name, w, h, mobile, scheme) in [
        ("web-phone.png", 360, 640, true, "light"),
        ("web-phone-dark.png", 360, 640, true, "dark"),
        ("web-desktop.png", 1280, 800, false, "light"),
    ] {
        b.viewport(w, h, mobile).await;
        b.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
        )
        .await;
        let dark = b
            .js(
                "return matchMedia('(prefers-color-scheme: dark)').matches",
                vec![],
            )
            .await;
        assert_eq!(dark, json!(scheme == "dark"));
        b.wait_js(
            "the new size",
            &format!("return innerWidth === {w} && innerHeight === {h}"),
        )
        .await;
        b.js("document.getElementById('log').scrollTop = 1e9", vec![])
            .await;
        let png = b.client.screenshot().await.unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let dim = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        assert_eq!((dim(16), dim(20)), (w, h), "{name} is {w}×{h}");
        std::fs::write(dir.join(name), &png).unwrap();
    }
}
