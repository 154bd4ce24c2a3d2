//! The client's hot paths: drawing the message pane (which must not get slower as scrollback
//! grows: 100 vs 100 000 messages, same terminal size), wrapping one long message, finding
//! links in chat text, emoji completion and measuring composed emoji, and one move of the
//! Connect Four computer player at each level (it runs on the UI thread).

use std::hint::black_box;

use clicom::client::app::{App, AppInit, Msg};
use clicom::client::layout::{Palette, Piece, wrap};
use clicom::client::links;
use clicom::client::net::NetEvent;
use clicom::client::stats::Stats;
use clicom::client::ui;
use clicom::config::Settings;
use clicom::protocol::{ChatMessage, ServerMsg, Welcome};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Style;

const SIZE: (u16, u16) = (120, 40);
const URL: &str = "ws://127.0.0.1:10000/ws";

fn server(app: &mut App, msg: ServerMsg) {
    app.update(Msg::Net(NetEvent::Server(msg)));
}

/// A joined app whose pane holds `n` chat messages (scrollback large enough to keep them all).
fn app_with(n: u64) -> App {
    let settings = Settings {
        scrollback: 100_000,
        ..Settings::default()
    };
    let mut app = App::new(AppInit {
        settings,
        server_label: "local".into(),
        server_url: URL.into(),
        name: Some("alice".into()),
        color: Some("2".into()),
        room: "main".into(),
        stats: Stats::default(),
        palette: Palette { truecolor: true },
        size: SIZE,
        notices: Vec::new(),
    });
    app.start();
    app.update(Msg::Net(NetEvent::Connected { url: URL.into() }));
    server(
        &mut app,
        ServerMsg::Welcome(Welcome {
            name: "alice".into(),
            color: "2".into(),
            room: "main".into(),
            max_text: Some(2000),
        }),
    );
    server(
        &mut app,
        ServerMsg::History {
            room: "main".into(),
            messages: Vec::new(),
        },
    );
    for id in 1..=n {
        server(
            &mut app,
            ServerMsg::Message(ChatMessage {
                name: format!("user{}", id % 50),
                color: "3".into(),
                // Fixed-width ids: the rows on screen are the same length at both sizes, so
                // only the scrollback differs.
                text: format!(
                    "message {id:06}: the quick brown fox jumps over the lazy dog, see \
                     https://example.com/page/{id:06} for details"
                ),
                id: Some(id),
                ts: Some(1_760_000_000_000 + id),
                room: Some("main".into()),
                action: false,
                cid: None,
            }),
        );
    }
    app
}

fn render(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    for n in [100u64, 100_000] {
        let app = app_with(n);
        assert!(
            app.pane().len() as u64 >= n,
            "the pane keeps all {n} messages"
        );
        let mut terminal =
            Terminal::new(TestBackend::new(SIZE.0, SIZE.1)).expect("a test terminal");
        g.bench_with_input(BenchmarkId::new("message_pane", n), &app, |b, app| {
            b.iter(|| {
                terminal
                    .draw(|f| ui::render(app, f))
                    .expect("drawing to a test backend");
            })
        });
    }
    g.finish();
}

fn wrapping(c: &mut Criterion) {
    let mut g = c.benchmark_group("layout");
    let long: String = (0..200)
        .map(|i| format!("word{i} "))
        .chain(["日本語のテキストも折り返す 🎉🎉 ".to_string()])
        .collect::<String>()
        .repeat(2);
    let pieces = [Piece::new(&long, Style::default())];
    g.bench_function("wrap_long_message_80_cols", |b| {
        b.iter(|| wrap(black_box(&pieces), 80, 4))
    });
    g.finish();
}

fn link_detection(c: &mut Criterion) {
    let mut g = c.benchmark_group("links");
    let with_links = "see https://example.com/a/b?c=d and www.rust-lang.org, or \
                      http://localhost:8080/x — not javascript:alert(1) nor file:///etc";
    let plain = "a perfectly ordinary chat line without any link in it at all, just words";
    let dotted = "a line with dots. but no links. just sentences. and more of them.";
    g.bench_function("find_in_line_with_links", |b| {
        b.iter(|| links::find(black_box(with_links)))
    });
    g.bench_function("find_in_plain_line", |b| {
        b.iter(|| links::find(black_box(plain)))
    });
    g.bench_function("find_in_dotted_line", |b| {
        b.iter(|| links::find(black_box(dotted)))
    });
    g.finish();
}

fn emoji(c: &mut Criterion) {
    use clicom::client::emoji::{self, Recents};
    let mut g = c.benchmark_group("emoji");
    let recents = Recents::default();
    g.bench_function("complete_smi", |b| {
        b.iter(|| emoji::complete(black_box("smi"), &recents, 8))
    });
    let line = "ok :tada: at 12:30 see https://example.com/:x: and :+1: :smile:";
    g.bench_function("replace_shortcodes_line", |b| {
        b.iter(|| emoji::replace_shortcodes(black_box(line)))
    });
    let composed = "family 👨‍👩‍👧 flag 🇵🇱 thumb 👍🏽 keycap 1️⃣ heart ❤️ 世界 ".repeat(4);
    g.bench_function("display_width_composed_line", |b| {
        b.iter(|| clicom::text::display_width(black_box(&composed)))
    });
    let plain = "a perfectly ordinary chat line without any emoji in it at all, just words";
    g.bench_function("display_width_plain_line", |b| {
        b.iter(|| clicom::text::display_width(black_box(plain)))
    });
    g.finish();
}

fn four_ai(c: &mut Criterion) {
    use clicom::game::four::ai::{self, Level};
    use clicom::game::four::{Game, Moves};
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    let mut g = c.benchmark_group("four_ai");
    let moves: Moves = "4453".parse().expect("digits");
    let game = Game::replay(&moves).expect("legal");
    for level in [Level::Easy, Level::Normal, Level::Hard] {
        g.bench_function(format!("move_{level:?}"), |b| {
            b.iter(|| {
                let mut rng = SmallRng::seed_from_u64(1);
                ai::choose(black_box(game.board()), level, &mut rng)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, render, wrapping, link_detection, emoji, four_ai);
criterion_main!(benches);
