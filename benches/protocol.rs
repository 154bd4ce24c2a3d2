//! Decoding what clients send and encoding what the server sends: the per-frame cost the
//! server pays once per event (encode) and once per received frame (decode).

use std::hint::black_box;

use clicom::protocol::{ChatMessage, ClientMsg, ServerMsg};
use criterion::{Criterion, criterion_group, criterion_main};

fn chat(text: &str) -> ChatMessage {
    ChatMessage {
        name: "alice".into(),
        color: "#33aaff".into(),
        text: text.into(),
        id: Some(123_456),
        ts: Some(1_760_000_000_000),
        room: Some("main".into()),
        action: false,
        cid: None,
    }
}

fn protocol(c: &mut Criterion) {
    let mut g = c.benchmark_group("protocol");
    let frame = r#"{"type":"message","text":"hello there, how is everyone doing today?"}"#;
    g.bench_function("decode_client_message", |b| {
        b.iter(|| ClientMsg::decode(black_box(frame)))
    });
    let join = r#"{"type":"join","name":"alice","color":"3","room":"main"}"#;
    g.bench_function("decode_client_join", |b| {
        b.iter(|| ClientMsg::decode(black_box(join)))
    });
    let msg = ServerMsg::Message(chat("hello there, how is everyone doing today?"));
    g.bench_function("encode_server_message", |b| {
        b.iter(|| black_box(&msg).encode())
    });
    let users = ServerMsg::ActiveUsers {
        users: (0..1000).map(|i| format!("user-{i:04}")).collect(),
        room: Some("main".into()),
    };
    g.bench_function("encode_active_users_1000", |b| {
        b.iter(|| black_box(&users).encode())
    });
    let history = ServerMsg::History {
        room: "main".into(),
        messages: (0..50)
            .map(|i| chat(&format!("message number {i}")))
            .collect(),
    };
    g.bench_function("encode_history_50", |b| {
        b.iter(|| black_box(&history).encode())
    });
    let encoded = msg.encode();
    g.bench_function("decode_server_message", |b| {
        b.iter(|| ServerMsg::decode(black_box(&encoded)))
    });
    g.finish();
}

criterion_group!(benches, protocol);
criterion_main!(benches);
