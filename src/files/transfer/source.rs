//! What an upload reads: a file, or a folder packed on the fly. Both are measured (length and
//! SHA-256) before the upload is announced, and can be read again from any offset, so a
//! resumed upload sends only what the server lacks.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

use super::TransferError;
use crate::files::digest::{Sha256Digest, sha256_file};
use crate::files::pack::{measure_folder, pack_folder};

/// Bytes per piece handed to the connection.
const PIECE: usize = 64 * 1024;
/// Pieces read ahead of the connection: bounds the memory of a transfer to about 256 KiB.
const AHEAD: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    /// Sent as a tar archive of its contents (see `files::pack`).
    Folder(PathBuf),
}

/// A measured source, ready to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub source: Source,
    /// The name offered: the file's, or the folder's with `.tar`.
    pub name: String,
    pub size: u64,
    pub sha256: Sha256Digest,
    /// Paths a folder left out (links, special files), to tell the sender.
    pub skipped: Vec<PathBuf>,
}

impl Prepared {
    pub fn is_folder(&self) -> bool {
        matches!(self.source, Source::Folder(_))
    }
}

fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "folder".to_owned())
}

/// Reads `source` once for its length and SHA-256 (on a blocking thread).
pub async fn prepare(source: Source) -> Result<Prepared, TransferError> {
    tokio::task::spawn_blocking(move || match &source {
        Source::File(path) => {
            let (sha256, size) = sha256_file(path)?;
            Ok(Prepared {
                name: base_name(path),
                size,
                sha256,
                skipped: Vec::new(),
                source,
            })
        }
        Source::Folder(path) => {
            let (sha256, size, summary) = measure_folder(path)?;
            Ok(Prepared {
                name: format!("{}.tar", base_name(path)),
                size,
                sha256,
                skipped: summary.skipped,
                source,
            })
        }
    })
    .await
    .map_err(|e| TransferError::Local(io::Error::other(e)))?
}

impl Prepared {
    /// The bytes from `offset` to the end, read ahead a few pieces at a time. Dropping the
    /// receiver stops the reading.
    pub(super) fn read_from(&self, offset: u64) -> mpsc::Receiver<io::Result<Bytes>> {
        let (tx, rx) = mpsc::channel(AHEAD);
        let len = self.size.saturating_sub(offset);
        match self.source.clone() {
            Source::File(path) => {
                tokio::spawn(async move {
                    if let Err(e) = read_file(&path, offset, len, &tx).await {
                        let _ = tx.send(Err(e)).await;
                    }
                });
            }
            Source::Folder(path) => {
                std::thread::spawn(move || {
                    let mut out = Skip {
                        skip: offset,
                        left: len,
                        buf: BytesMut::with_capacity(PIECE),
                        tx: tx.clone(),
                    };
                    let packed = pack_folder(&path, &mut out)
                        .and_then(|_| out.flush().map_err(crate::files::pack::PackError::Write));
                    if let Err(e) = packed {
                        let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
                    }
                });
            }
        }
        rx
    }
}

async fn read_file(
    path: &Path,
    offset: u64,
    len: u64,
    tx: &mpsc::Sender<io::Result<Bytes>>,
) -> io::Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(io::SeekFrom::Start(offset)).await?;
    let mut file = file.take(len);
    loop {
        let mut buf = BytesMut::with_capacity(PIECE);
        if file.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        if tx.send(Ok(buf.freeze())).await.is_err() {
            return Ok(());
        }
    }
}

/// A writer that drops the first `skip` bytes, passes on `left` more in pieces, and fails
/// once nobody reads (which ends the packing).
struct Skip {
    skip: u64,
    left: u64,
    buf: BytesMut,
    tx: mpsc::Sender<io::Result<Bytes>>,
}

impl Write for Skip {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len();
        let skipped = usize::try_from(self.skip.min(n as u64)).unwrap_or(n);
        self.skip -= skipped as u64;
        let rest = &data[skipped..];
        let keep = usize::try_from(self.left.min(rest.len() as u64)).unwrap_or(rest.len());
        self.buf.extend_from_slice(&rest[..keep]);
        self.left -= keep as u64;
        if self.buf.len() >= PIECE {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = self.buf.split().freeze();
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "upload stopped"))
    }
}
