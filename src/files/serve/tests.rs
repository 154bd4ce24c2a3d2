//! The file endpoints mounted on a real axum server on 127.0.0.1:0, asked over real sockets.

use std::net::SocketAddr;

use hyper::http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::files::store::FsStore;
use crate::files::transfer::{Endpoint, empty, full, read_body};

pub(crate) struct TestServer {
    pub addr: SocketAddr,
    pub service: Arc<FileService<FsStore>>,
    pub dir: tempfile::TempDir,
}

/// A server whose tokens are `alice-token` (user alice) and `bob-token` (user bob).
pub(crate) async fn start(limits: FileLimits) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    let authorize: Authorize = Arc::new(|token: &str| match token {
        "alice-token" => Some("alice".to_owned()),
        "bob-token" => Some("bob".to_owned()),
        _ => None,
    });
    let service = FileService::new(store, authorize, limits);
    let app = router(service.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    TestServer { addr, service, dir }
}

pub(crate) fn endpoint(addr: SocketAddr, token: &str) -> Endpoint {
    Endpoint::new(&format!("http://{addr}"), token, None).unwrap()
}

async fn json(res: hyper::Response<hyper::body::Incoming>) -> serde_json::Value {
    serde_json::from_slice(&read_body(res).await.unwrap()).unwrap()
}

fn announce_body(name: &str, data: &[u8]) -> String {
    serde_json::json!({"name": name, "size": data.len(), "sha256": Sha256Digest::of(data).to_hex()})
        .to_string()
}

async fn post(ep: &Endpoint, body: String) -> hyper::Response<hyper::body::Incoming> {
    ep.send(Method::POST, "/files", &[], full(body))
        .await
        .unwrap()
}

/// Announces and sends `data` in one range; returns the capability.
async fn send_file(ep: &Endpoint, name: &str, data: &[u8]) -> String {
    let res = post(ep, announce_body(name, data)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = json(res).await["upload"].as_str().unwrap().to_owned();
    let range = format!("bytes 0-{}/{}", data.len() - 1, data.len());
    let res = ep
        .send(
            Method::PUT,
            &format!("/files/uploads/{id}"),
            &[(header::CONTENT_RANGE, range)],
            full(data.to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    json(res).await["file"].as_str().unwrap().to_owned()
}

fn files_in(dir: &std::path::Path, sub: &str) -> usize {
    std::fs::read_dir(dir.join(sub)).unwrap().count()
}

#[tokio::test]
async fn an_over_limit_upload_is_refused_before_any_byte_is_sent() {
    let srv = start(FileLimits {
        max_bytes: 1000,
        quota_bytes: 1500,
        ..FileLimits::default()
    })
    .await;
    let alice = endpoint(srv.addr, "alice-token");
    let big = serde_json::json!({"name": "big.iso", "size": 1001, "sha256": "0".repeat(64)});
    let res = post(&alice, big.to_string()).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.headers()["upload-max-size"], "1000");
    let body = json(res).await;
    assert_eq!(body["error"], "file_too_large");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("at most 1000 bytes"),
        "{body}"
    );
    assert_eq!(files_in(srv.dir.path(), "uploads"), 0, "nothing was stored");

    // The quota counts announced uploads too: 800 + 800 is over 1500.
    let res = post(&alice, announce_body("a", &[1u8; 800])).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = post(&alice, announce_body("b", &[2u8; 800])).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(res).await["error"], "quota_exceeded");
    // Another user's allowance is their own.
    let bob = endpoint(srv.addr, "bob-token");
    assert_eq!(
        post(&bob, announce_body("b", &[2u8; 800])).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_body_longer_than_its_range_is_refused_from_the_headers() {
    let srv = start(FileLimits::default()).await;
    let alice = endpoint(srv.addr, "alice-token");
    let res = post(&alice, announce_body("x", b"0123456789")).await;
    let id = json(res).await["upload"].as_str().unwrap().to_owned();
    // Headers only: the answer must come without the server waiting for (or reading) a body.
    let mut tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let head = format!(
        "PUT /files/uploads/{id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice-token\r\n\
         Content-Range: bytes 0-9/10\r\nContent-Length: 5000000\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut answer))
        .await
        .expect("an answer before any body byte")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("Content-Length does not match"), "{answer}");
}

#[tokio::test]
async fn unknown_or_malformed_capabilities_are_refused() {
    let srv = start(FileLimits::default()).await;
    let alice = endpoint(srv.addr, "alice-token");
    let cap = send_file(&alice, "secret.txt", b"top secret").await;
    // Anyone holding the capability gets the file, without a session token.
    let anyone = endpoint(srv.addr, "");
    let res = anyone
        .send(Method::GET, &format!("/files/{cap}"), &[], empty())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(&read_body(res).await.unwrap()[..], b"top secret");
    let guessed = crate::files::store::Token::random();
    for path in [
        format!("/files/{guessed}"),
        format!("/files/{}", &cap[..47]),
        format!("/files/{}", cap.to_uppercase()),
        "/files/..%2F..%2Fetc%2Fpasswd".to_owned(),
        format!("/files/{}", Sha256Digest::of(b"top secret").to_hex()),
    ] {
        let res = anyone.send(Method::GET, &path, &[], empty()).await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(json(res).await["error"], "not_found");
    }
}

#[tokio::test]
async fn uploads_need_a_session_and_belong_to_their_sender() {
    let srv = start(FileLimits::default()).await;
    let nobody = endpoint(srv.addr, "forged-token");
    let res = post(&nobody, announce_body("x", b"x")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(res).await["error"], "unauthorized");
    let alice = endpoint(srv.addr, "alice-token");
    let res = post(&alice, announce_body("x", b"xyz")).await;
    let id = json(res).await["upload"].as_str().unwrap().to_owned();
    let path = format!("/files/uploads/{id}");
    let bob = endpoint(srv.addr, "bob-token");
    let res = bob.send(Method::HEAD, &path, &[], empty()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let range = [(header::CONTENT_RANGE, "bytes 0-2/3".to_owned())];
    let res = bob
        .send(Method::PUT, &path, &range, full(&b"bad"[..]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = alice.send(Method::HEAD, &path, &[], empty()).await.unwrap();
    assert_eq!(res.headers()["upload-offset"], "0");
}

#[tokio::test]
async fn downloads_are_attachments_with_nosniff_and_serve_ranges() {
    let srv = start(FileLimits::default()).await;
    let alice = endpoint(srv.addr, "alice-token");
    let name = "<script>\"ré sumé\".html";
    let cap = send_file(&alice, name, b"0123456789").await;
    let res = alice
        .send(Method::GET, &format!("/files/{cap}"), &[], empty())
        .await
        .unwrap();
    let h = res.headers().clone();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["content-security-policy"], "sandbox; default-src 'none'");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"_script__r_ sum__.html\"; filename*=UTF-8''_script__r%C3%A9%20sum%C3%A9_.html"
    );
    assert_eq!(
        h["clicom-sha256"],
        Sha256Digest::of(b"0123456789").to_hex().as_str()
    );
    let range = [(header::RANGE, "bytes=4-".to_owned())];
    let res = alice
        .send(Method::GET, &format!("/files/{cap}"), &range, empty())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"], "bytes 4-9/10");
    assert_eq!(&read_body(res).await.unwrap()[..], b"456789");
    let range = [(header::RANGE, "bytes=10-".to_owned())];
    let res = alice
        .send(Method::GET, &format!("/files/{cap}"), &range, empty())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

#[tokio::test]
async fn new_uploads_are_rate_limited_per_user() {
    let srv = start(FileLimits {
        upload_rate: 0.01,
        upload_burst: 2,
        ..FileLimits::default()
    })
    .await;
    let alice = endpoint(srv.addr, "alice-token");
    for _ in 0..2 {
        assert_eq!(
            post(&alice, announce_body("x", b"x")).await.status(),
            StatusCode::CREATED
        );
    }
    let res = post(&alice, announce_body("x", b"x")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "100");
    assert_eq!(json(res).await["error"], "rate_limited");
}

#[tokio::test]
async fn bytes_that_are_not_the_announced_file_are_discarded() {
    let srv = start(FileLimits::default()).await;
    let alice = endpoint(srv.addr, "alice-token");
    let res = post(&alice, announce_body("x", b"expected")).await;
    let id = json(res).await["upload"].as_str().unwrap().to_owned();
    let range = [(header::CONTENT_RANGE, "bytes 0-7/8".to_owned())];
    let path = format!("/files/uploads/{id}");
    let res = alice
        .send(Method::PUT, &path, &range, full(&b"tampered"[..]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(res).await["error"], "checksum_mismatch");
    let res = alice.send(Method::HEAD, &path, &[], empty()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(files_in(srv.dir.path(), "blobs"), 0);
}

#[tokio::test]
async fn a_range_must_start_where_the_server_is() {
    let srv = start(FileLimits::default()).await;
    let alice = endpoint(srv.addr, "alice-token");
    let data = b"abcdefghij";
    let res = post(&alice, announce_body("x", data)).await;
    let id = json(res).await["upload"].as_str().unwrap().to_owned();
    let path = format!("/files/uploads/{id}");
    let put = |range: &str, body: &'static [u8]| {
        let range = [(header::CONTENT_RANGE, range.to_owned())];
        let alice = alice.clone();
        let path = path.clone();
        async move {
            alice
                .send(Method::PUT, &path, &range, full(body))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        put("bytes 0-3/10", b"abcd").await.status(),
        StatusCode::NO_CONTENT
    );
    let res = put("bytes 0-3/10", b"abcd").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(res.headers()["upload-offset"], "4");
    assert_eq!(
        put("bytes 4-9/11", b"efghij").await.status(),
        StatusCode::BAD_REQUEST
    );
    let res = put("bytes 4-9/10", b"efghij").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let cap = json(res).await["file"].as_str().unwrap().to_owned();
    // Asking again to finish answers the same file (an answer lost on the way is not fatal).
    let res = put("bytes */10", b"").await;
    assert_eq!(json(res).await["file"], cap.as_str());
}

#[test]
fn content_disposition_encodes_any_name() {
    assert_eq!(
        content_disposition("a b.txt"),
        "attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt"
    );
    let cd = content_disposition("日本\\\"x\r\n.txt");
    assert!(
        cd.is_ascii() && !cd.contains('\r') && !cd.contains('\n'),
        "{cd}"
    );
    assert!(
        cd.contains("filename*=UTF-8''%E6%97%A5%E6%9C%AC%5C%22x%0D%0A.txt"),
        "{cd}"
    );
}
