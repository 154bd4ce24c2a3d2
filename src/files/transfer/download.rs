//! One download: into a hidden `.part` file of the download dir, resumed with `Range` after a
//! drop, checked against the announced length and SHA-256, and only then given its safe name
//! (never replacing a file) or, for a folder, unpacked with every entry checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::BodyExt;
use hyper::http::{Method, StatusCode, header};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};

use super::{
    Endpoint, MAX_ATTEMPTS, Meter, TransferError, TransferEvent, cancelled, empty, pause, refusal,
    retry_delay, shown, with_progress,
};
use crate::files::digest::{Sha256Digest, verify_file};
use crate::files::extract::{ExtractLimits, extract_folder};
use crate::files::name::{create_unique_file, safe_name, split_ext};

/// What to fetch, as the file card announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRequest {
    /// The capability.
    pub file: String,
    /// The offered name (made safe here again, whatever the server did).
    pub name: String,
    pub size: u64,
    pub sha256: Sha256Digest,
    /// A packed folder, to unpack.
    pub folder: bool,
}

/// Where a download ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// The new file, or the new folder.
    pub path: PathBuf,
    pub size: u64,
}

/// Downloads `req` into `download_dir`. Nothing is opened or run; a file that does not match
/// its announced length and SHA-256 is deleted and reported.
pub async fn download(
    endpoint: &Endpoint,
    req: &DownloadRequest,
    download_dir: &Path,
    limits: ExtractLimits,
    events: &mpsc::Sender<TransferEvent>,
    mut cancel: watch::Receiver<bool>,
) -> Result<Downloaded, TransferError> {
    // Named by content and capability: a second download of the same offer resumes this one.
    let part = download_dir.join(format!(
        ".clicom-{}-{}.part",
        &req.sha256.to_hex()[..16],
        req.file.get(..8).unwrap_or("x")
    ));
    let mut meter = Meter::new();
    let mut failures = 0;
    loop {
        let have = match tokio::fs::metadata(&part).await {
            Ok(m) if m.len() <= req.size => m.len(),
            Ok(_) => {
                tokio::fs::remove_file(&part).await?;
                0
            }
            Err(_) => 0,
        };
        if have == req.size {
            break;
        }
        let got = tokio::select! {
            got = fetch(endpoint, req, &part, have, &mut meter, events) => got,
            _ = cancelled(&mut cancel) => {
                let _ = tokio::fs::remove_file(&part).await;
                return Err(TransferError::Cancelled);
            }
        };
        match got {
            Ok(n) if n > 0 => failures = 0,
            Ok(_) => failures += 1,
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
                    let _ = tokio::fs::remove_file(&part).await;
                    return Err(TransferError::Cancelled);
                }
                continue;
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&part).await;
                return Err(e);
            }
        }
        if failures >= MAX_ATTEMPTS {
            return Err(TransferError::Network(
                "the download makes no progress".to_owned(),
            ));
        }
    }
    finish(req, &part, download_dir, limits).await
}

/// Appends what the server sends from `have` on; returns how many bytes came.
async fn fetch(
    endpoint: &Endpoint,
    req: &DownloadRequest,
    part: &Path,
    have: u64,
    meter: &mut Meter,
    events: &mpsc::Sender<TransferEvent>,
) -> Result<u64, TransferError> {
    let path = format!("/files/{}", req.file);
    let range = [(header::RANGE, format!("bytes={have}-"))];
    let headers: &[_] = if have > 0 { &range } else { &[] };
    let res = endpoint.send(Method::GET, &path, headers, empty()).await?;
    let mut out = match res.status() {
        StatusCode::PARTIAL_CONTENT => {
            tokio::fs::OpenOptions::new()
                .append(true)
                .open(part)
                .await?
        }
        // The whole file again (a server that ignores ranges): start over.
        StatusCode::OK => tokio::fs::File::create(part).await?,
        _ => return Err(refusal(res).await),
    };
    let start = if res.status() == StatusCode::OK {
        0
    } else {
        have
    };
    let done = Arc::new(AtomicU64::new(start));
    let counter = done.clone();
    let copy = async {
        let mut body = res.into_body();
        let mut left = req.size - start;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| TransferError::Network(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.len() as u64 > left {
                return Err(TransferError::Network(
                    "the server sent more than the file's size".to_owned(),
                ));
            }
            out.write_all(&data).await?;
            left -= data.len() as u64;
            counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        Ok::<_, TransferError>(())
    };
    let copied = with_progress(copy, &done, req.size, meter, events).await;
    out.flush().await?;
    let got = done.load(Ordering::Relaxed) - start;
    match copied {
        // A cut with bytes received is progress; the caller asks again from there at once.
        Err(TransferError::Network(reason)) if got > 0 => {
            let _ = events
                .send(TransferEvent::Retrying {
                    attempt: 1,
                    delay: std::time::Duration::ZERO,
                    reason,
                })
                .await;
            Ok(got)
        }
        Err(e) => Err(e),
        Ok(()) => Ok(got),
    }
}

/// Verifies the complete `.part` and gives it its place.
async fn finish(
    req: &DownloadRequest,
    part: &Path,
    download_dir: &Path,
    limits: ExtractLimits,
) -> Result<Downloaded, TransferError> {
    let (req, part, dir) = (req.clone(), part.to_owned(), download_dir.to_owned());
    tokio::task::spawn_blocking(move || {
        if let Err(e) = verify_file(&part, &req.sha256, req.size) {
            let _ = std::fs::remove_file(&part);
            return Err(TransferError::Verify(e));
        }
        if req.folder {
            let name = safe_name(&req.name);
            let (stem, ext) = split_ext(&name);
            let folder = if ext.eq_ignore_ascii_case(".tar") {
                stem
            } else {
                &name
            };
            let archive = std::fs::File::open(&part)?;
            let got = extract_folder(std::io::BufReader::new(archive), &dir, folder, limits);
            let _ = std::fs::remove_file(&part);
            let got = got?;
            return Ok(Downloaded {
                path: got.dir,
                size: got.bytes,
            });
        }
        // The empty file reserves the name; renaming onto it replaces only our own reservation.
        let (_, path) = create_unique_file(&dir, &safe_name(&req.name))?;
        std::fs::rename(&part, &path).map_err(|e| {
            let _ = std::fs::remove_file(&path);
            std::io::Error::new(
                e.kind(),
                format!("cannot move the download to {}: {e}", shown(&path)),
            )
        })?;
        Ok(Downloaded {
            path,
            size: req.size,
        })
    })
    .await
    .map_err(|e| TransferError::Local(std::io::Error::other(e)))?
}
