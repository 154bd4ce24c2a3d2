//! File names offered by strangers, made safe to create on any common file system, and the
//! non-overwriting pick of where a received file goes. A sender chooses the name; nothing it
//! says may choose the directory, hide the file, impersonate another name or replace a file.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use crate::text::is_invisible;

/// The longest safe name, in bytes. File systems allow 255; this leaves room for ` (9999)`
/// and for the temporary suffixes used while a file is written.
pub const MAX_NAME_BYTES: usize = 200;
/// The longest extension kept whole when a name is shortened (`.tar.gz` counts as one).
const MAX_EXT_BYTES: usize = 16;
/// The name used when nothing usable is left of the offered one.
pub const FALLBACK_NAME: &str = "file";
/// How many `name (N).ext` variants are tried before giving up.
const MAX_VARIANTS: u32 = 9999;

/// Names Windows reserves for devices, whatever their extension (`con.txt` is the console).
const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT0", "LPT1", "LPT2", "LPT3",
    "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// A safe file name for a name a peer offered, for a file created directly in the download
/// dir. Path separators (`/`, `\`) and characters Windows forbids (`<>:"|?*`) become `_`;
/// control characters become `_`; bidi controls and invisible characters vanish (so
/// `evil\u{202E}txt.exe` cannot pose as a `.txt`); leading dots vanish (a received file is never
/// hidden, and never `.bashrc`); a leading `-` becomes `_` (it cannot pass for a command-line
/// option); trailing dots and spaces vanish (Windows drops them silently); a Windows device
/// name gains a leading `_`; the result is NFC and at most [`MAX_NAME_BYTES`] bytes, keeping
/// its extension; it is never empty ([`FALLBACK_NAME`]).
pub fn safe_name(offered: &str) -> String {
    sanitize(offered, true)
}

/// Like [`safe_name`], for one component of a path inside a received folder: a leading dot
/// is kept there (`.gitignore` stays itself, harmless inside a new directory). A component
/// made only of dots (`.`, `..`) comes out as [`FALLBACK_NAME`], never as a way up.
pub fn safe_component(offered: &str) -> String {
    sanitize(offered, false)
}

fn sanitize(offered: &str, strip_leading_dots: bool) -> String {
    let mut name = String::with_capacity(offered.len().min(4 * MAX_NAME_BYTES));
    // Bounded work for a hostile megabyte-long name: only its start can survive anyway.
    for c in offered.nfc().take(4 * MAX_NAME_BYTES) {
        match c {
            '/' | '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*' => name.push('_'),
            c if c.is_control() => name.push('_'),
            c if is_invisible(c) => {}
            c => name.push(c),
        }
    }
    let trimmed = name.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    let trimmed = trimmed.trim_start_matches(char::is_whitespace);
    let trimmed = if strip_leading_dots {
        trimmed.trim_start_matches('.')
    } else {
        trimmed
    };
    // Trailing dots are gone, so a name of dots only (`.`, `..`) is empty here.
    if trimmed.is_empty() {
        return FALLBACK_NAME.to_owned();
    }
    let mut name = trimmed.to_owned();
    if name.starts_with('-') {
        name.replace_range(..1, "_");
    }
    let (stem, _) = split_ext(&name);
    let device = stem.split('.').next().unwrap_or(stem).trim_end();
    let device = device.to_lowercase();
    if WINDOWS_RESERVED.iter().any(|r| r.to_lowercase() == device) {
        name.insert(0, '_');
    }
    shorten(&name, MAX_NAME_BYTES)
}

/// `name` cut to at most `max` bytes at a grapheme boundary, keeping its extension when the
/// extension is short enough to be one.
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let (stem, ext) = match split_ext(name) {
        (stem, ext) if ext.len() <= MAX_EXT_BYTES => (stem, ext),
        _ => (name, ""),
    };
    let budget = max - ext.len();
    let mut out = String::with_capacity(max);
    for g in stem.graphemes(true) {
        if out.len() + g.len() > budget {
            break;
        }
        out.push_str(g);
    }
    let out = out.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    if out.is_empty() {
        FALLBACK_NAME.to_owned() + ext
    } else {
        out.to_owned() + ext
    }
}

/// Splits `name` into stem and extension (with its dot): `a.tar.gz` is (`a`, `.tar.gz`),
/// `notes.txt` (`notes`, `.txt`), `README` (`README`, ``). A leading dot starts no extension.
pub fn split_ext(name: &str) -> (&str, &str) {
    let Some(dot) = name.rfind('.').filter(|&i| i > 0) else {
        return (name, "");
    };
    let ext = &name[dot + 1..];
    if ext.is_empty() || !ext.chars().all(|c| c.is_alphanumeric()) {
        return (name, "");
    }
    let stem = &name[..dot];
    for double in [".tar", ".TAR"] {
        if let Some(inner) = stem.strip_suffix(double).filter(|s| !s.is_empty()) {
            return (inner, &name[inner.len()..]);
        }
    }
    (stem, &name[dot..])
}

/// The `n`th variant of `name`: `notes.txt`, `notes (1).txt`, `notes (2).txt` …
pub fn variant(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    let (stem, ext) = split_ext(name);
    format!("{stem} ({n}){ext}")
}

/// Creates a new file for `name` (already safe) in `dir` without ever replacing one: the first
/// free name of `name`, `name (1)`, `name (2)` … is taken with `create_new`, so a file made at
/// the same moment by someone else is skipped, not overwritten.
pub fn create_unique_file(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    create_unique(dir, name, |path| {
        OpenOptions::new().write(true).create_new(true).open(path)
    })
}

/// Creates a new, empty directory for `name` (already safe) in `dir`, with the same rule as
/// [`create_unique_file`] (`fs::create_dir` fails on anything that exists).
pub fn create_unique_dir(dir: &Path, name: &str) -> io::Result<PathBuf> {
    create_unique(dir, name, |path| fs::create_dir(path)).map(|((), path)| path)
}

fn create_unique<T>(
    dir: &Path,
    name: &str,
    mut create: impl FnMut(&Path) -> io::Result<T>,
) -> io::Result<(T, PathBuf)> {
    for n in 0..=MAX_VARIANTS {
        let path = dir.join(variant(name, n));
        match create(&path) {
            Ok(made) => return Ok((made, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{} and {MAX_VARIANTS} numbered variants already exist in {}",
            name,
            dir.display()
        ),
    ))
}

#[cfg(test)]
mod tests;
