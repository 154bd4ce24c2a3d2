//! The server's file endpoints, an axum router to mount beside `/ws`: announce an upload
//! (refused on its declared size, the sender's quota or rate before any byte is sent), send
//! its bytes in one or more ranges (resumable: `HEAD` says how many arrived), and download a
//! finished file by capability, as an attachment that no browser sniffs or runs. See
//! docs/PROTOCOL.md, *File transfer*. Storage is a [`FileStore`]'s; who a bearer token
//! belongs to is the [`Authorize`] function's (the hub's sessions, once wired).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::watch;

use super::digest::Sha256Digest;
use super::name::safe_name;
use super::store::{FileRecord, FileStore, FinishError, Token, UploadRecord};
use crate::server::limits::TokenBucket;

/// Says who a bearer token belongs to (a user key for quotas), or `None` for a stranger.
pub type Authorize = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The limits on files. Defaults: 25 MB a file, 200 MB held per user, kept 7 days, 20 new
/// uploads a minute per user (bursts of 10), 30 s without a byte ends an upload request.
#[derive(Debug, Clone)]
pub struct FileLimits {
    pub max_bytes: u64,
    pub quota_bytes: u64,
    pub keep: Duration,
    /// New uploads per second per user, and the burst allowed after a quiet spell.
    pub upload_rate: f64,
    pub upload_burst: u32,
    pub idle_timeout: Duration,
}

impl Default for FileLimits {
    fn default() -> Self {
        FileLimits {
            max_bytes: 25 * 1000 * 1000,
            quota_bytes: 200 * 1000 * 1000,
            keep: Duration::from_secs(7 * 24 * 3600),
            upload_rate: 20.0 / 60.0,
            upload_burst: 10,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// The file endpoints' shared state.
pub struct FileService<S> {
    store: Arc<S>,
    authorize: Authorize,
    limits: FileLimits,
    buckets: Mutex<HashMap<String, TokenBucket>>,
    /// One per upload being written: a new `PUT` bumps it, and the request writing before it
    /// stops (a client that reconnects must not wait for its dead connection to time out).
    writers: Mutex<HashMap<Token, Arc<Writer>>>,
}

struct Writer {
    turn: watch::Sender<u64>,
    lock: tokio::sync::Mutex<()>,
}

impl<S: FileStore> FileService<S> {
    pub fn new(store: Arc<S>, authorize: Authorize, limits: FileLimits) -> Arc<Self> {
        Arc::new(FileService {
            store,
            authorize,
            limits,
            buckets: Mutex::new(HashMap::new()),
            writers: Mutex::new(HashMap::new()),
        })
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// Removes expired uploads and files (to be called now and then by the server).
    pub async fn sweep(&self) -> std::io::Result<usize> {
        self.store.sweep(unix_now()).await
    }

    fn user(&self, headers: &HeaderMap) -> Result<String, Refusal> {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|token| (self.authorize)(token.trim()))
            .ok_or(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a session token is needed to send files",
            ))
    }

    fn writer(&self, id: &Token) -> Arc<Writer> {
        let mut writers = self.writers.lock().unwrap_or_else(|p| p.into_inner());
        writers
            .entry(id.clone())
            .or_insert_with(|| {
                Arc::new(Writer {
                    turn: watch::Sender::new(0),
                    lock: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    fn forget_writer(&self, id: &Token) {
        self.writers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// The routes: `POST /files`, `HEAD|PUT|DELETE /files/uploads/{id}`, `GET|HEAD /files/{cap}`.
pub fn router<S: FileStore>(service: Arc<FileService<S>>) -> Router {
    Router::new()
        .route(
            "/files",
            post(announce::<S>).layer(DefaultBodyLimit::max(4096)),
        )
        .route(
            "/files/uploads/{id}",
            axum::routing::head(progress::<S>)
                .put(put_range::<S>)
                .delete(cancel::<S>)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/files/{cap}", get(download::<S>))
        .with_state(service)
}

/// A refusal, as JSON `{"error": code, "text": …}` with its status.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    text: String,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, text: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            text: text.into(),
            headers: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: u64) -> Refusal {
        self.headers.push((
            header::HeaderName::from_static(name),
            HeaderValue::from(value),
        ));
        self
    }

    fn not_found() -> Refusal {
        Refusal::new(StatusCode::NOT_FOUND, "not_found", "no such file or upload")
    }

    fn internal(e: impl std::fmt::Display) -> Refusal {
        tracing::error!(error = %e, "file store failed");
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_failed",
            "the server could not store or read the file",
        )
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.code, "text": self.text});
        let mut res = (self.status, axum::Json(body)).into_response();
        res.headers_mut().insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        for (name, value) in self.headers {
            res.headers_mut().insert(name, value);
        }
        res
    }
}

/// `POST /files` body.
#[derive(Debug, Deserialize)]
struct Announce {
    name: String,
    size: u64,
    sha256: String,
}

/// `POST /files` answer.
#[derive(Debug, Serialize)]
struct Announced {
    upload: String,
    offset: u64,
    expires: u64,
}

/// The answer once an upload is complete: the file's capability and what it is.
#[derive(Debug, Serialize)]
struct Finished {
    file: String,
    name: String,
    size: u64,
    sha256: String,
    expires: u64,
}

impl From<&FileRecord> for Finished {
    fn from(f: &FileRecord) -> Self {
        Finished {
            file: f.cap.to_string(),
            name: f.name.clone(),
            size: f.size,
            sha256: f.sha256.to_hex(),
            expires: f.expires,
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn announce<S: FileStore>(
    State(svc): State<Arc<FileService<S>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Refusal> {
    let owner = svc.user(&headers)?;
    let req: Announce = serde_json::from_slice(&body)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()))?;
    let sha256: Sha256Digest = req.sha256.parse().map_err(|e: super::digest::BadDigest| {
        Refusal::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string())
    })?;
    let limits = &svc.limits;
    if req.size > limits.max_bytes {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "file_too_large",
            format!(
                "files are at most {} bytes here; this one is {}",
                limits.max_bytes, req.size
            ),
        )
        .with("upload-max-size", limits.max_bytes));
    }
    {
        let mut buckets = svc.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let bucket = buckets
            .entry(owner.clone())
            .or_insert_with(|| TokenBucket::new(limits.upload_rate, limits.upload_burst, now));
        if !bucket.try_take(now) {
            let wait = (1.0 / limits.upload_rate.max(0.001)).ceil() as u64;
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many files at once; wait a little",
            )
            .with("retry-after", wait));
        }
    }
    let now = unix_now();
    let used = svc
        .store
        .usage(&owner, now)
        .await
        .map_err(Refusal::internal)?;
    if used.saturating_add(req.size) > limits.quota_bytes {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "quota_exceeded",
            format!(
                "you hold {used} bytes of your {} byte allowance; this file needs {}",
                limits.quota_bytes, req.size
            ),
        ));
    }
    let rec = UploadRecord {
        id: Token::random(),
        owner,
        name: safe_name(&req.name),
        size: req.size,
        sha256,
        created: now,
        expires: now + limits.keep.as_secs(),
        file: None,
    };
    svc.store
        .create_upload(&rec)
        .await
        .map_err(Refusal::internal)?;
    let body = Announced {
        upload: rec.id.to_string(),
        offset: 0,
        expires: rec.expires,
    };
    let mut res = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/files/uploads/{}", rec.id)) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(res)
}

/// The upload `id` if it exists, is not expired, and is `owner`'s (anything else is 404:
/// nobody learns that someone else's upload exists).
async fn owned_upload<S: FileStore>(
    svc: &FileService<S>,
    id: &str,
    owner: &str,
) -> Result<(UploadRecord, u64), Refusal> {
    let id: Token = id.parse().map_err(|_| Refusal::not_found())?;
    match svc.store.upload(&id).await.map_err(Refusal::internal)? {
        Some((rec, have)) if rec.owner == owner && rec.expires > unix_now() => Ok((rec, have)),
        _ => Err(Refusal::not_found()),
    }
}

fn offset_headers(res: &mut Response, have: u64, size: u64) {
    let h = res.headers_mut();
    h.insert("upload-offset", HeaderValue::from(have));
    h.insert("upload-length", HeaderValue::from(size));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

async fn progress<S: FileStore>(
    State(svc): State<Arc<FileService<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let owner = svc.user(&headers)?;
    let (rec, have) = owned_upload(&svc, &id, &owner).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    offset_headers(&mut res, have, rec.size);
    Ok(res)
}

async fn cancel<S: FileStore>(
    State(svc): State<Arc<FileService<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let owner = svc.user(&headers)?;
    let (rec, _) = owned_upload(&svc, &id, &owner).await?;
    let writer = svc.writer(&rec.id);
    writer.turn.send_modify(|t| *t += 1);
    let _guard = writer.lock.lock().await;
    svc.store
        .delete_upload(&rec.id)
        .await
        .map_err(Refusal::internal)?;
    svc.forget_writer(&rec.id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `Content-Range: bytes START-END/TOTAL` (END inclusive), or `bytes */TOTAL` for "no bytes,
/// finish if complete".
fn parse_content_range(v: &str) -> Option<(Option<(u64, u64)>, u64)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let total = total.parse().ok()?;
    if range == "*" {
        return Some((None, total));
    }
    let (start, end) = range.split_once('-')?;
    let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
    (start <= end && end < total).then_some((Some((start, end)), total))
}

async fn put_range<S: FileStore>(
    State(svc): State<Arc<FileService<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let owner = svc.user(&headers)?;
    let (rec, _) = owned_upload(&svc, &id, &owner).await?;
    let bad = |text: &str| Refusal::new(StatusCode::BAD_REQUEST, "invalid_range", text);
    let (range, total) = headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range)
        .ok_or_else(|| bad("Content-Range: bytes START-END/TOTAL is required"))?;
    if total != rec.size {
        return Err(bad("the range's total is not the announced size"));
    }
    // Take the upload over from any request still writing it, then wait for it to stop.
    let writer = svc.writer(&rec.id);
    writer.turn.send_modify(|t| *t += 1);
    let mut turn = writer.turn.subscribe();
    let _guard = writer.lock.lock().await;
    let (rec, have) = owned_upload(&svc, &id, &owner).await?;
    if let Some((start, end)) = range {
        if start != have {
            let mut res = Refusal::new(
                StatusCode::CONFLICT,
                "offset_mismatch",
                format!("the server has {have} bytes; send from there"),
            )
            .into_response();
            offset_headers(&mut res, have, rec.size);
            return Ok(res);
        }
        let want = end - start + 1;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n != want) {
            return Err(bad("Content-Length does not match Content-Range"));
        }
        let got = receive(&svc, &rec.id, body, want, &mut turn).await?;
        if got < want {
            // The sender went away or was replaced: what arrived is kept for the resume.
            let mut res = StatusCode::NO_CONTENT.into_response();
            offset_headers(&mut res, have + got, rec.size);
            return Ok(res);
        }
    }
    let (rec, have) = owned_upload(&svc, &id, &owner).await?;
    if have < rec.size {
        let mut res = StatusCode::NO_CONTENT.into_response();
        offset_headers(&mut res, have, rec.size);
        return Ok(res);
    }
    match svc.store.finish_upload(&rec.id, Token::random()).await {
        Ok(file) => {
            svc.forget_writer(&rec.id);
            let mut res = (StatusCode::CREATED, axum::Json(Finished::from(&file))).into_response();
            offset_headers(&mut res, rec.size, rec.size);
            Ok(res)
        }
        Err(FinishError::Mismatch(e)) => {
            svc.forget_writer(&rec.id);
            Err(Refusal::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "checksum_mismatch",
                format!("{e}; the upload was discarded"),
            ))
        }
        Err(FinishError::Unknown) => Err(Refusal::not_found()),
        Err(e) => Err(Refusal::internal(e)),
    }
}

/// Appends up to `want` bytes of `body`; returns how many were written. Stops early (keeping
/// what arrived) when the body ends, stalls past the idle timeout, or another request takes
/// the upload over; refuses a body longer than its range.
async fn receive<S: FileStore>(
    svc: &FileService<S>,
    id: &Token,
    body: Body,
    want: u64,
    turn: &mut watch::Receiver<u64>,
) -> Result<u64, Refusal> {
    use http_body_util::BodyExt;
    let mut out = svc.store.append(id).await.map_err(Refusal::internal)?;
    let mut body = body;
    let mut got = 0u64;
    turn.mark_unchanged();
    let result = loop {
        let frame = tokio::select! {
            frame = tokio::time::timeout(svc.limits.idle_timeout, body.frame()) => frame,
            _ = turn.changed() => break Ok(()),
        };
        let data = match frame {
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
            Ok(None) | Ok(Some(Err(_))) | Err(_) => break Ok(()),
        };
        if got + data.len() as u64 > want {
            break Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid_range",
                "the body is longer than its Content-Range",
            ));
        }
        if let Err(e) = out.write_all(&data).await {
            break Err(Refusal::internal(e));
        }
        got += data.len() as u64;
        if got == want {
            break Ok(());
        }
    };
    out.flush().await.map_err(Refusal::internal)?;
    result.map(|()| got)
}

/// Characters RFC 8187 lets through unencoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266): old clients
/// read the ASCII stand-in, the rest the exact (already safe) name.
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR_CHAR)
    )
}

/// `Range: bytes=START-` or `bytes=START-END`: the one range this server serves.
fn parse_range(v: &str, size: u64) -> Option<(u64, u64)> {
    let (start, end) = v.trim().strip_prefix("bytes=")?.split_once('-')?;
    let start: u64 = start.parse().ok()?;
    let end = if end.is_empty() {
        size.checked_sub(1)?
    } else {
        end.parse::<u64>().ok()?.min(size.checked_sub(1)?)
    };
    (start <= end).then_some((start, end))
}

async fn download<S: FileStore>(
    State(svc): State<Arc<FileService<S>>>,
    Path(cap): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let cap: Token = cap.parse().map_err(|_| Refusal::not_found())?;
    let rec = match svc.store.file(&cap).await.map_err(Refusal::internal)? {
        Some(rec) if rec.expires > unix_now() => rec,
        _ => return Err(Refusal::not_found()),
    };
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(v) => match parse_range(v, rec.size) {
            Some(r) => Some(r),
            None => {
                let mut res = Refusal::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "invalid_range",
                    "the range is outside the file",
                )
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", rec.size)) {
                    res.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(res);
            }
        },
    };
    let mut file = svc.store.open(&rec).await.map_err(Refusal::internal)?;
    let (status, start, len) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, rec.size),
    };
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(Refusal::internal)?;
    let stream = reader_stream(file.take(len));
    let mut res = Response::new(Body::from_stream(stream));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&rec.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&rec.sha256.to_hex()) {
        h.insert("clicom-sha256", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", rec.sha256.to_hex())) {
        h.insert(header::ETAG, v);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let v = format!("bytes {start}-{}/{}", start + len - 1, rec.size);
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(res)
}

/// An `AsyncRead` as a stream of 64 KiB chunks, for a streamed response body.
fn reader_stream<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    reader: R,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    futures_util::stream::try_unfold(reader, |mut reader| async move {
        let mut buf = bytes::BytesMut::with_capacity(64 * 1024);
        let n = reader.read_buf(&mut buf).await?;
        Ok((n > 0).then(|| (buf.freeze(), reader)))
    })
}

#[cfg(test)]
pub(crate) mod tests;
