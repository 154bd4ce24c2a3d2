//! Unpacking a received folder (a tar archive) under one new directory of the download dir,
//! checking every entry. Only regular files and directories are made; an archive holding
//! anything else — a symbolic or hard link, a device, a FIFO, a sparse file — or a path that is
//! absolute or climbs with `..`, or more entries or bytes than the caps allow, is refused whole.
//! Work happens in a hidden temporary directory beside the destination that is renamed into
//! place at the end, so a refused archive leaves nothing behind. Nothing is made executable and
//! nothing is run or opened.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use tar::Archive;

use super::name::{create_unique_dir, safe_component, safe_name};
use super::pack::MAX_DEPTH;

/// How much an archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Sum of the entries' sizes.
    pub max_bytes: u64,
    /// Files and directories.
    pub max_entries: u64,
}

impl Default for ExtractLimits {
    /// 1 GiB in at most 10 000 entries.
    fn default() -> Self {
        ExtractLimits {
            max_bytes: 1 << 30,
            max_entries: 10_000,
        }
    }
}

/// Why an archive was refused. `entry` is the path as the archive spells it, made printable.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("`{entry}` is an absolute path")]
    Absolute { entry: String },
    #[error("`{entry}` climbs out of the folder with `..`")]
    Climbs { entry: String },
    #[error("`{entry}` is a {kind}; only files and folders are accepted")]
    Kind { entry: String, kind: &'static str },
    #[error("`{entry}` is nested more than {MAX_DEPTH} folders deep")]
    TooDeep { entry: String },
    #[error("`{entry}` has an empty path")]
    Empty { entry: String },
    #[error("`{entry}` comes twice in the archive (or two names become the same once made safe)")]
    Duplicate { entry: String },
    #[error("more than {limit} entries (at `{entry}`)")]
    TooManyEntries { entry: String, limit: u64 },
    #[error("unpacks to more than {limit} bytes (at `{entry}`)")]
    TooLarge { entry: String, limit: u64 },
    #[error("the archive is damaged: {0}")]
    Damaged(#[source] io::Error),
    #[error("cannot write into {}: {source}", dir.display())]
    Write { dir: PathBuf, source: io::Error },
}

impl ExtractError {
    /// The entry the refusal is about, if it is about one.
    pub fn entry(&self) -> Option<&str> {
        match self {
            ExtractError::Absolute { entry }
            | ExtractError::Climbs { entry }
            | ExtractError::Kind { entry, .. }
            | ExtractError::TooDeep { entry }
            | ExtractError::Empty { entry }
            | ExtractError::Duplicate { entry }
            | ExtractError::TooManyEntries { entry, .. }
            | ExtractError::TooLarge { entry, .. } => Some(entry),
            ExtractError::Damaged(_) | ExtractError::Write { .. } => None,
        }
    }
}

/// What was unpacked, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The new directory, `download_dir/<safe name>` or `… (N)`.
    pub dir: PathBuf,
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
}

/// Unpacks `archive` into a new directory of `download_dir` named after `offered_name` (made
/// safe, never replacing anything). On any refusal nothing is left in `download_dir`.
pub fn extract_folder(
    archive: impl Read,
    download_dir: &Path,
    offered_name: &str,
    limits: ExtractLimits,
) -> Result<Extracted, ExtractError> {
    let write_err = |source| ExtractError::Write {
        dir: download_dir.to_owned(),
        source,
    };
    // Removed on drop: a refusal half-way leaves no partial folder.
    let work = tempfile::Builder::new()
        .prefix(".clicom-partial-")
        .tempdir_in(download_dir)
        .map_err(write_err)?;
    let mut counts = unpack(archive, work.path(), limits)?;
    let dest = create_unique_dir(download_dir, &safe_name(offered_name)).map_err(write_err)?;
    // `dest` is new and empty: renaming onto it replaces it in one step on Unix. Elsewhere
    // (Windows refuses to rename onto a directory) it is removed first.
    if fs::rename(work.path(), &dest).is_err() {
        fs::remove_dir(&dest).map_err(write_err)?;
        fs::rename(work.path(), &dest).map_err(write_err)?;
    }
    // The directory now lives on as `dest`; TempDir must not try to remove it.
    let _ = work.keep();
    counts.dir = dest;
    Ok(counts)
}

/// Unpacks `archive` into `root`, an empty directory.
fn unpack(
    archive: impl Read,
    root: &Path,
    limits: ExtractLimits,
) -> Result<Extracted, ExtractError> {
    let mut out = Extracted {
        dir: root.to_owned(),
        files: 0,
        dirs: 0,
        bytes: 0,
    };
    let mut archive = Archive::new(archive);
    let mut buf = vec![0u8; 64 * 1024];
    for entry in archive.entries().map_err(ExtractError::Damaged)? {
        let mut entry = entry.map_err(ExtractError::Damaged)?;
        let raw = entry.path_bytes().into_owned();
        let shown = printable(&raw);
        if out.files + out.dirs >= limits.max_entries {
            return Err(ExtractError::TooManyEntries {
                entry: shown,
                limit: limits.max_entries,
            });
        }
        let kind = entry.header().entry_type();
        let is_dir = kind.is_dir();
        if !(is_dir || kind.is_file() || kind.is_contiguous()) {
            return Err(ExtractError::Kind {
                entry: shown,
                kind: kind_name(&kind),
            });
        }
        let rel = relative_path(&raw, &shown)?;
        let path = root.join(&rel);
        let write_err = |source| ExtractError::Write {
            dir: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(write_err)?;
        }
        if is_dir {
            match fs::create_dir(&path) {
                Ok(()) => {}
                // A folder may be listed after files inside it created it; twice is harmless.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(ExtractError::Duplicate { entry: shown });
                }
                Err(e) => return Err(write_err(e)),
            }
            out.dirs += 1;
            continue;
        }
        let size = entry.size();
        if out.bytes.saturating_add(size) > limits.max_bytes {
            return Err(ExtractError::TooLarge {
                entry: shown,
                limit: limits.max_bytes,
            });
        }
        // create_new: an entry never replaces another (nor anything else); the default mode
        // (0666 less the umask) has no execute bit whatever the archive says.
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(ExtractError::Duplicate { entry: shown });
            }
            Err(e) => return Err(write_err(e)),
        };
        copy_exact(&mut entry, &mut file, size, &mut buf).map_err(|e| match e {
            Copy::Read(e) => ExtractError::Damaged(e),
            Copy::Write(e) => write_err(e),
        })?;
        if let Ok(mtime) = entry.header().mtime() {
            let _ = file.set_modified(UNIX_EPOCH + Duration::from_secs(mtime));
        }
        out.files += 1;
        out.bytes += size;
    }
    Ok(out)
}

/// The entry's path as safe components under the root, or why it has none.
fn relative_path(raw: &[u8], shown: &str) -> Result<PathBuf, ExtractError> {
    if raw.first() == Some(&b'/') || looks_like_drive(raw) {
        return Err(ExtractError::Absolute {
            entry: shown.to_owned(),
        });
    }
    let mut rel = PathBuf::new();
    let mut depth = 0;
    // `tar` already turned `\` into `/`.
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => continue,
            b".." => {
                return Err(ExtractError::Climbs {
                    entry: shown.to_owned(),
                });
            }
            part => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ExtractError::TooDeep {
                        entry: shown.to_owned(),
                    });
                }
                rel.push(safe_component(&String::from_utf8_lossy(part)));
            }
        }
    }
    if depth == 0 {
        return Err(ExtractError::Empty {
            entry: shown.to_owned(),
        });
    }
    Ok(rel)
}

/// `C:` or `C:/…`: a drive on Windows. (`C:name` needs no refusal: its `:` is made safe.)
fn looks_like_drive(raw: &[u8]) -> bool {
    raw.len() >= 2
        && raw[0].is_ascii_alphabetic()
        && raw[1] == b':'
        && (raw.len() == 2 || raw[2] == b'/')
}

/// An entry's path for an error message: lossy UTF-8, controls as pictures, bounded.
fn printable(raw: &[u8]) -> String {
    let lossy = String::from_utf8_lossy(raw);
    let line = crate::text::sanitize_line(&lossy);
    crate::text::truncate_to_width(&line, 120).to_owned()
}

fn kind_name(kind: &tar::EntryType) -> &'static str {
    if kind.is_symlink() {
        "symbolic link"
    } else if kind.is_hard_link() {
        "hard link"
    } else if kind.is_character_special() || kind.is_block_special() {
        "device"
    } else if kind.is_fifo() {
        "FIFO"
    } else if kind.is_gnu_sparse() {
        "sparse file"
    } else {
        "special entry"
    }
}

enum Copy {
    Read(io::Error),
    Write(io::Error),
}

/// Copies exactly `size` bytes (the archive's promise), telling read faults (a damaged or
/// short archive) from write faults (a full disk).
fn copy_exact(from: &mut impl Read, to: &mut File, size: u64, buf: &mut [u8]) -> Result<(), Copy> {
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(Copy::Read(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "an entry ends before its size",
                )));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(Copy::Write)?;
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
