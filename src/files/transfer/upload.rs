//! One upload: announce (or resume), then as many passes of "ask the offset, send the rest"
//! as a flaky connection needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use hyper::http::{Method, StatusCode, header};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use super::{
    Endpoint, MAX_ATTEMPTS, Meter, Prepared, TransferError, TransferEvent, cancelled, empty, full,
    header_u64, pause, read_body, refusal, retry_delay, streamed, with_progress,
};
use crate::files::digest::Sha256Digest;

/// A finished upload: the file's capability, to offer to others.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Uploaded {
    /// The capability: `GET /files/{file}` downloads it.
    pub file: String,
    /// The name the server keeps (made safe).
    pub name: String,
    pub size: u64,
    pub sha256: String,
    /// Seconds since the Unix epoch when the server forgets it.
    pub expires: u64,
}

#[derive(Deserialize)]
struct Announced {
    upload: String,
}

/// Uploads `prepared`, or resumes the upload `resume` of it. Stops with the file's capability,
/// a refusal, [`MAX_ATTEMPTS`] network failures in a row, or `cancel` (then the server is
/// told to forget the upload).
pub async fn upload(
    endpoint: &Endpoint,
    prepared: &Prepared,
    resume: Option<String>,
    events: &mpsc::Sender<TransferEvent>,
    mut cancel: watch::Receiver<bool>,
) -> Result<Uploaded, TransferError> {
    let id = match resume {
        Some(id) => id,
        None => announce(endpoint, prepared).await?,
    };
    let _ = events
        .send(TransferEvent::Started { upload: id.clone() })
        .await;
    let path = format!("/files/uploads/{id}");
    let mut meter = Meter::new();
    let mut failures = 0;
    let mut best = 0;
    loop {
        if *cancel.borrow() {
            return Err(forget(endpoint, &path).await);
        }
        let mut server_had = 0;
        let pass = tokio::select! {
            pass = one_pass(endpoint, prepared, &path, &mut server_had, &mut meter, events) => pass,
            _ = cancelled(&mut cancel) => return Err(forget(endpoint, &path).await),
        };
        // Bytes that reached the server since the last pass make it a fresh start.
        if server_had > best {
            best = server_had;
            failures = 0;
        }
        match pass {
            Ok(Pass::Done(up)) => return Ok(up),
            Ok(Pass::Partial(have)) if have > best => best = have,
            Ok(Pass::Partial(_)) => failures += 1,
            Err(e) if e.is_transient() => {
                failures += 1;
                if failures >= MAX_ATTEMPTS {
                    return Err(e);
                }
                let delay = retry_delay(failures);
                let _ = events
                    .send(TransferEvent::Retrying {
                        attempt: failures,
                        delay,
                        reason: e.to_string(),
                    })
                    .await;
                if !pause(delay, &mut cancel).await {
                    return Err(forget(endpoint, &path).await);
                }
            }
            Err(e) => return Err(e),
        }
        if failures >= MAX_ATTEMPTS {
            return Err(TransferError::Network(
                "the upload makes no progress".to_owned(),
            ));
        }
    }
}

enum Pass {
    Done(Uploaded),
    /// The server has this many bytes and the upload goes on.
    Partial(u64),
}

async fn announce(endpoint: &Endpoint, prepared: &Prepared) -> Result<String, TransferError> {
    let body = serde_json::json!({
        "name": prepared.name,
        "size": prepared.size,
        "sha256": prepared.sha256.to_hex(),
    });
    let res = endpoint
        .send(
            Method::POST,
            "/files",
            &[(header::CONTENT_TYPE, "application/json".to_owned())],
            full(body.to_string()),
        )
        .await?;
    if res.status() != StatusCode::CREATED {
        return Err(refusal(res).await);
    }
    let body = read_body(res).await?;
    let announced: Announced = serde_json::from_slice(&body)
        .map_err(|e| TransferError::Network(format!("unexpected answer: {e}")))?;
    Ok(announced.upload)
}

/// Asks where the server is, then sends the rest (or asks it to finish).
async fn one_pass(
    endpoint: &Endpoint,
    prepared: &Prepared,
    path: &str,
    server_had: &mut u64,
    meter: &mut Meter,
    events: &mpsc::Sender<TransferEvent>,
) -> Result<Pass, TransferError> {
    let res = endpoint.send(Method::HEAD, path, &[], empty()).await?;
    if !res.status().is_success() {
        return Err(refusal(res).await);
    }
    let have = header_u64(res.headers(), "upload-offset")
        .ok_or_else(|| TransferError::Network("no Upload-Offset in the answer".to_owned()))?;
    *server_had = have;
    let size = prepared.size;
    let (range, body, sent) = if have >= size {
        (
            format!("bytes */{size}"),
            empty(),
            Arc::new(AtomicU64::new(size)),
        )
    } else {
        let sent = Arc::new(AtomicU64::new(have));
        let counter = sent.clone();
        let pieces = prepared.read_from(have);
        // Count bytes as the connection takes them.
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(1);
        tokio::spawn(async move {
            let mut pieces = tokio_stream_of(pieces);
            while let Some(piece) = pieces.next().await {
                if let Ok(p) = &piece {
                    counter.fetch_add(p.len() as u64, Ordering::Relaxed);
                }
                if tx.send(piece).await.is_err() {
                    return;
                }
            }
        });
        (
            format!("bytes {have}-{}/{size}", size - 1),
            streamed(rx),
            sent,
        )
    };
    let mut headers = vec![(header::CONTENT_RANGE, range)];
    if have < size {
        headers.push((header::CONTENT_LENGTH, (size - have).to_string()));
    }
    let put = endpoint.send(Method::PUT, path, &headers, body);
    let res = with_progress(put, &sent, size, meter, events).await?;
    match res.status() {
        StatusCode::CREATED => {
            let body = read_body(res).await?;
            let up: Uploaded = serde_json::from_slice(&body)
                .map_err(|e| TransferError::Network(format!("unexpected answer: {e}")))?;
            check_answer(prepared, &up)?;
            Ok(Pass::Done(up))
        }
        StatusCode::NO_CONTENT | StatusCode::CONFLICT => Ok(Pass::Partial(
            header_u64(res.headers(), "upload-offset").unwrap_or(have),
        )),
        _ => Err(refusal(res).await),
    }
}

/// The server's record must be the file we sent.
fn check_answer(prepared: &Prepared, up: &Uploaded) -> Result<(), TransferError> {
    let same = up.size == prepared.size
        && up
            .sha256
            .parse::<Sha256Digest>()
            .is_ok_and(|d| d == prepared.sha256);
    if same {
        Ok(())
    } else {
        Err(TransferError::Network(
            "the server's copy does not match what was sent".to_owned(),
        ))
    }
}

fn tokio_stream_of<T: Send + 'static>(
    rx: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Unpin {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// Tells the server to drop the upload (best effort) and reports the cancel.
async fn forget(endpoint: &Endpoint, path: &str) -> TransferError {
    let _ = endpoint.send(Method::DELETE, path, &[], empty()).await;
    TransferError::Cancelled
}
