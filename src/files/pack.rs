//! A folder packed as a tar stream on the fly, for sending: nothing is copied to a temporary
//! archive or held in memory beyond one read buffer. Only regular files and directories go in;
//! symbolic links are not followed and not stored (a link could point anywhere on the sender's
//! disk, and a receiver refuses links anyway), nor are devices, FIFOs and sockets — each skipped
//! path is reported. The stream is deterministic (sorted names, fixed owner and modes, the
//! files' own mtimes), so packing an unchanged folder twice gives the same bytes: an interrupted
//! upload resumes by packing again and skipping what the server already has.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use tar::{Builder, EntryType, Header};

use super::digest::{HashingWriter, Sha256Digest};

/// Deepest folder nesting packed; deeper is refused (the receiver has the same cap).
pub const MAX_DEPTH: usize = 64;

/// What went into an archive and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackSummary {
    pub files: u64,
    pub dirs: u64,
    /// Bytes of file content (the archive adds headers and padding).
    pub content_bytes: u64,
    /// Paths (relative to the folder) left out: symbolic links and special files.
    pub skipped: Vec<PathBuf>,
}

/// Why a folder could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{} is not a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} changed while it was being packed", .0.display())]
    Changed(PathBuf),
    #[error("{} is nested more than {MAX_DEPTH} folders deep", .0.display())]
    TooDeep(PathBuf),
    #[error("cannot write the archive: {0}")]
    Write(#[source] io::Error),
}

/// Packs the contents of `root` (entries relative to it, no leading folder name) into `out`.
pub fn pack_folder<W: Write>(root: &Path, out: W) -> Result<PackSummary, PackError> {
    let meta = fs::metadata(root).map_err(|source| PackError::Read {
        path: root.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(PackError::NotAFolder(root.to_owned()));
    }
    let mut packer = Packer {
        builder: Builder::new(out),
        summary: PackSummary::default(),
    };
    packer.dir(root, Path::new(""), 0)?;
    packer.builder.finish().map_err(PackError::Write)?;
    Ok(packer.summary)
}

/// The archive's length and SHA-256 without keeping it: one reading pass over the folder.
pub fn measure_folder(root: &Path) -> Result<(Sha256Digest, u64, PackSummary), PackError> {
    let mut out = HashingWriter::new(io::sink());
    let summary = pack_folder(root, &mut out)?;
    let (digest, len, _) = out.finish();
    Ok((digest, len, summary))
}

struct Packer<W: Write> {
    builder: Builder<W>,
    summary: PackSummary,
}

impl<W: Write> Packer<W> {
    fn dir(&mut self, dir: &Path, rel: &Path, depth: usize) -> Result<(), PackError> {
        if depth > MAX_DEPTH {
            return Err(PackError::TooDeep(rel.to_owned()));
        }
        let read = |source| PackError::Read {
            path: dir.to_owned(),
            source,
        };
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(read)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(read)?;
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let rel = rel.join(&name);
            // symlink_metadata: a link is seen as a link, never as what it points to.
            let meta = fs::symlink_metadata(&path).map_err(|source| PackError::Read {
                path: path.clone(),
                source,
            })?;
            let kind = meta.file_type();
            if kind.is_dir() {
                self.entry(EntryType::Directory, &rel, 0o755, mtime(&meta), io::empty())?;
                self.summary.dirs += 1;
                self.dir(&path, &rel, depth + 1)?;
            } else if kind.is_file() {
                self.file(&path, &rel, &meta)?;
            } else {
                self.summary.skipped.push(rel);
            }
        }
        Ok(())
    }

    fn file(&mut self, path: &Path, rel: &Path, meta: &fs::Metadata) -> Result<(), PackError> {
        let file = File::open(path).map_err(|source| PackError::Read {
            path: path.to_owned(),
            source,
        })?;
        let len = meta.len();
        let mut header = header(EntryType::Regular, 0o644, mtime(meta));
        header.set_size(len);
        let data = Exact {
            inner: file.take(len),
            remaining: len,
        };
        self.builder
            .append_data(&mut header, rel, data)
            .map_err(|e| classify(e, rel))?;
        self.summary.files += 1;
        self.summary.content_bytes += len;
        Ok(())
    }

    fn entry(
        &mut self,
        kind: EntryType,
        rel: &Path,
        mode: u32,
        mtime: u64,
        data: impl Read,
    ) -> Result<(), PackError> {
        let mut header = header(kind, mode, mtime);
        header.set_size(0);
        self.builder
            .append_data(&mut header, rel, data)
            .map_err(|e| classify(e, rel))
    }
}

/// A header with nothing of the sender's account in it.
fn header(kind: EntryType, mode: u32, mtime: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header
}

fn mtime(meta: &fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// A file that shrank after its header was written cannot be told apart from a write error by
/// `tar`; the reader marks it so.
const CHANGED: &str = "clicom: file changed while packing";

fn classify(e: io::Error, rel: &Path) -> PackError {
    if e.get_ref()
        .is_some_and(|inner| inner.to_string() == CHANGED)
    {
        PackError::Changed(rel.to_owned())
    } else {
        PackError::Write(e)
    }
}

/// Yields exactly `remaining` bytes or fails: the header already promised that many.
struct Exact<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, CHANGED));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
