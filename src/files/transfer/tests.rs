//! The uploader and downloader against the real file endpoints on 127.0.0.1:0, through a
//! relay that can cut a connection after a number of bytes, as a dropped network would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::files::digest::{Sha256Digest, sha256_file};
use crate::files::serve::FileLimits;
use crate::files::serve::tests::{endpoint, start};
use crate::files::store::FileStore;

/// Forwards connections to `upstream`. The first connection whose traffic in one direction
/// passes `cut_after` bytes is dropped there (both ways), once.
struct Relay {
    addr: SocketAddr,
    cuts: Arc<AtomicU64>,
}

#[derive(Clone, Copy)]
enum Dir {
    Up,
    Down,
}

async fn relay(upstream: SocketAddr, dir: Dir, cut_after: u64) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cuts = Arc::new(AtomicU64::new(0));
    let cuts2 = cuts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(upstream).await.unwrap();
            let cuts = cuts2.clone();
            tokio::spawn(async move {
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let armed = cuts.load(Ordering::SeqCst) == 0;
                let limit = |d| {
                    if armed && matches!((d, dir), (Dir::Up, Dir::Up) | (Dir::Down, Dir::Down)) {
                        cut_after
                    } else {
                        u64::MAX
                    }
                };
                let (up_limit, down_limit) = (limit(Dir::Up), limit(Dir::Down));
                let cuts_up = cuts.clone();
                let up = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut n_total = 0u64;
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let n = usize::try_from((up_limit - n_total).min(n as u64)).unwrap();
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                        n_total += n as u64;
                        if n_total >= up_limit {
                            cuts_up.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                };
                let cuts_down = cuts.clone();
                let down = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut n_total = 0u64;
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let n = usize::try_from((down_limit - n_total).min(n as u64)).unwrap();
                        if cw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                        n_total += n as u64;
                        if n_total >= down_limit {
                            cuts_down.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                };
                // Whichever side ends first ends the connection both ways (sockets dropped).
                tokio::select! {
                    _ = up => {}
                    _ = down => {}
                }
            });
        }
    });
    Relay { addr, cuts }
}

fn data(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

async fn drain(mut rx: mpsc::Receiver<TransferEvent>) -> Vec<TransferEvent> {
    let mut out = Vec::new();
    while let Some(ev) = rx.recv().await {
        out.push(ev);
    }
    out
}

#[tokio::test]
async fn an_upload_resumes_after_the_connection_is_killed_mid_way() {
    let srv = start(FileLimits::default()).await;
    let relay = relay(srv.addr, Dir::Up, 700_000).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("video.bin");
    let bytes = data(3_000_000);
    std::fs::write(&src, &bytes).unwrap();
    let prepared = prepare(Source::File(src.clone())).await.unwrap();
    assert_eq!(prepared.sha256, Sha256Digest::of(&bytes));

    let handle = spawn_upload(endpoint(relay.addr, "alice-token"), prepared, None);
    let events = tokio::spawn(drain(handle.events_rx));
    let up = handle.done.await.unwrap().unwrap();
    let events = events.await.unwrap();
    assert_eq!(
        relay.cuts.load(Ordering::SeqCst),
        1,
        "the connection was cut once"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TransferEvent::Retrying { .. })),
        "{events:?}"
    );
    let last = events
        .iter()
        .rev()
        .find_map(|e| match e {
            TransferEvent::Progress(p) => Some(*p),
            _ => None,
        })
        .unwrap();
    assert_eq!((last.done, last.total), (3_000_000, 3_000_000));
    assert_eq!(up.size, 3_000_000);
    assert_eq!(up.sha256, Sha256Digest::of(&bytes).to_hex());

    // The stored copy is the file, byte for byte.
    let rec = srv
        .service
        .store()
        .file(&up.file.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let blob = srv.dir.path().join("blobs").join(rec.sha256.to_hex());
    assert_eq!(
        sha256_file(&blob).unwrap(),
        (Sha256Digest::of(&bytes), 3_000_000)
    );
}

#[tokio::test]
async fn a_download_resumes_with_a_range_and_lands_verified_under_a_safe_name() {
    let srv = start(FileLimits::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    let bytes = data(2_000_000);
    std::fs::write(&src, &bytes).unwrap();
    let prepared = prepare(Source::File(src)).await.unwrap();
    let (tx, _rx) = mpsc::channel(1024);
    let (_cancel_tx, cancel) = watch::channel(false);
    let up = upload(
        &endpoint(srv.addr, "alice-token"),
        &prepared,
        None,
        &tx,
        cancel,
    )
    .await
    .unwrap();

    let relay = relay(srv.addr, Dir::Down, 500_000).await;
    let downloads = dir.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    std::fs::write(downloads.join("_.._.bashrc"), "mine").unwrap();
    let req = DownloadRequest {
        file: up.file.clone(),
        name: "../../.bashrc".to_owned(),
        size: up.size,
        sha256: prepared.sha256,
        folder: false,
    };
    let handle = spawn_download(
        endpoint(relay.addr, ""),
        req,
        downloads.clone(),
        ExtractLimits::default(),
    );
    let events = tokio::spawn(drain(handle.events_rx));
    let got = handle.done.await.unwrap().unwrap();
    let events = events.await.unwrap();
    assert_eq!(relay.cuts.load(Ordering::SeqCst), 1);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TransferEvent::Retrying { .. })),
        "{events:?}"
    );
    assert_eq!(got.path, downloads.join("_.._ (1).bashrc"));
    assert_eq!(std::fs::read(&got.path).unwrap(), bytes);
    assert_eq!(
        std::fs::read_to_string(downloads.join("_.._.bashrc")).unwrap(),
        "mine"
    );
    let mut names: Vec<_> = std::fs::read_dir(&downloads)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["_.._ (1).bashrc", "_.._.bashrc"],
        "no .part left behind"
    );
    assert!(!dir.path().join(".bashrc").exists());
}

#[tokio::test]
async fn a_folder_travels_packed_and_arrives_checked() {
    let srv = start(FileLimits::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("holiday");
    std::fs::create_dir_all(folder.join("pics")).unwrap();
    std::fs::write(folder.join("notes.md"), "# trip").unwrap();
    std::fs::write(folder.join("pics/beach.jpg"), data(300_000)).unwrap();
    std::os::unix::fs::symlink("/etc", folder.join("etc")).unwrap();
    let prepared = prepare(Source::Folder(folder.clone())).await.unwrap();
    assert_eq!(prepared.name, "holiday.tar");
    assert_eq!(prepared.skipped, [std::path::PathBuf::from("etc")]);
    // Cut the upload once, so the resume packs the folder again from an offset.
    let relay = relay(srv.addr, Dir::Up, 120_000).await;
    let (tx, _rx) = mpsc::channel(1024);
    let (_c, cancel) = watch::channel(false);
    let up = upload(
        &endpoint(relay.addr, "alice-token"),
        &prepared,
        None,
        &tx,
        cancel,
    )
    .await
    .unwrap();
    assert_eq!(relay.cuts.load(Ordering::SeqCst), 1);
    let downloads = dir.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let req = DownloadRequest {
        file: up.file,
        name: up.name,
        size: up.size,
        sha256: prepared.sha256,
        folder: true,
    };
    let (_c, cancel) = watch::channel(false);
    let got = download(
        &endpoint(srv.addr, ""),
        &req,
        &downloads,
        ExtractLimits::default(),
        &tx,
        cancel,
    )
    .await
    .unwrap();
    assert_eq!(got.path, downloads.join("holiday"));
    assert_eq!(
        std::fs::read_to_string(got.path.join("notes.md")).unwrap(),
        "# trip"
    );
    assert_eq!(
        std::fs::read(got.path.join("pics/beach.jpg")).unwrap(),
        data(300_000)
    );
    assert!(!got.path.join("etc").exists());
    assert_eq!(std::fs::read_dir(&downloads).unwrap().count(), 1);
}

#[tokio::test]
async fn refusals_reach_the_sender_as_clear_errors() {
    let srv = start(FileLimits {
        max_bytes: 1000,
        ..FileLimits::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big");
    std::fs::write(&src, data(5000)).unwrap();
    let prepared = prepare(Source::File(src)).await.unwrap();
    let (tx, _rx) = mpsc::channel(16);
    let (_c, cancel) = watch::channel(false);
    let err = upload(
        &endpoint(srv.addr, "alice-token"),
        &prepared,
        None,
        &tx,
        cancel.clone(),
    )
    .await
    .unwrap_err();
    match &err {
        TransferError::Refused { status, code, .. } => {
            assert_eq!((*status, code.as_str()), (413, "file_too_large"))
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("at most 1000 bytes"), "{err}");
    let err = upload(&endpoint(srv.addr, "stolen"), &prepared, None, &tx, cancel)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("(unauthorized)"), "{err}");
}

#[tokio::test]
async fn a_cancelled_upload_is_forgotten_by_the_server() {
    let srv = start(FileLimits::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("f");
    std::fs::write(&src, data(1000)).unwrap();
    let prepared = prepare(Source::File(src)).await.unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let (cancel_tx, cancel) = watch::channel(true);
    let err = upload(
        &endpoint(srv.addr, "alice-token"),
        &prepared,
        None,
        &tx,
        cancel,
    )
    .await
    .unwrap_err();
    drop(cancel_tx);
    assert!(matches!(err, TransferError::Cancelled), "{err}");
    let Some(TransferEvent::Started { upload: id }) = rx.recv().await else {
        panic!("no Started event");
    };
    let res = endpoint(srv.addr, "alice-token")
        .send(Method::HEAD, &format!("/files/uploads/{id}"), &[], empty())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        std::fs::read_dir(srv.dir.path().join("uploads"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn a_download_that_is_not_the_announced_file_is_deleted_and_reported() {
    let srv = start(FileLimits::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("f");
    std::fs::write(&src, b"the real thing").unwrap();
    let prepared = prepare(Source::File(src)).await.unwrap();
    let (tx, _rx) = mpsc::channel(1024);
    let (_c, cancel) = watch::channel(false);
    let up = upload(
        &endpoint(srv.addr, "alice-token"),
        &prepared,
        None,
        &tx,
        cancel.clone(),
    )
    .await
    .unwrap();
    // The card promised other content (a hostile server or a swapped card).
    let downloads = dir.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let req = DownloadRequest {
        file: up.file,
        name: "f".to_owned(),
        size: up.size,
        sha256: Sha256Digest::of(b"the fake thing"),
        folder: false,
    };
    let err = download(
        &endpoint(srv.addr, ""),
        &req,
        &downloads,
        ExtractLimits::default(),
        &tx,
        cancel,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TransferError::Verify(_)), "{err}");
    assert!(err.to_string().contains("SHA-256"), "{err}");
    assert_eq!(std::fs::read_dir(&downloads).unwrap().count(), 0);
}
