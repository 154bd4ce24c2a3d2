//! Rows of a text that may be far larger than memory: a sparse index (one checkpoint every
//! [`CHECKPOINT_ROWS`] rows) built only as far as the reader has looked, and windows of rows
//! read on demand. A 1 GB file opens after reading one screenful; memory grows with the
//! number of checkpoints (a few bytes per 256 rows), never with the file. A row is a line,
//! or a [`MAX_ROW_BYTES`] piece of a longer one, so a file without newlines is paged too.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// Bytes of one row at most; a longer line continues on the next row.
pub const MAX_ROW_BYTES: usize = 4096;
/// Rows between two checkpoints of the index.
pub const CHECKPOINT_ROWS: u64 = 256;
/// Bytes read from the source at once.
const CHUNK: usize = 64 * 1024;

/// Bytes at offsets: a file, or text already in memory.
pub trait ByteSource: Send {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads from `offset` into `buf`; 0 only at the end.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// A file read with positioned reads (no shared cursor). Its length is taken at open.
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    pub fn open(path: &Path) -> io::Result<FileSource> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSource { file, len })
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        std::os::unix::fs::FileExt::read_at(&self.file, &mut buf[..want], offset)
    }
}

/// Text in memory (a long chat message).
pub struct MemorySource(pub Arc<str>);

impl ByteSource for MemorySource {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let bytes = self.0.as_bytes();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }
}

/// One row: its line's number (1-based), whether it continues a longer line, and its bytes
/// decoded (invalid UTF-8 as U+FFFD; not yet safe to draw — see `pager`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub continued: bool,
    pub text: String,
}

#[derive(Debug, Clone, Copy)]
struct Checkpoint {
    offset: u64,
    line: u64,
    continued: bool,
}

/// The sparse row index over a source.
pub struct LineIndex {
    src: Box<dyn ByteSource>,
    len: u64,
    /// Checkpoint `i` is where row `i * CHECKPOINT_ROWS` starts.
    checkpoints: Vec<Checkpoint>,
    /// Rows known so far, and where the next unknown row starts.
    rows_known: u64,
    next: Checkpoint,
    complete: bool,
    bytes_read: u64,
    last_line: u64,
}

impl LineIndex {
    pub fn new(src: Box<dyn ByteSource>) -> LineIndex {
        let len = src.len();
        let start = Checkpoint {
            offset: 0,
            line: 1,
            continued: false,
        };
        LineIndex {
            src,
            len,
            checkpoints: vec![start],
            rows_known: 0,
            next: start,
            complete: len == 0,
            bytes_read: 0,
            last_line: 0,
        }
    }

    /// Bytes in the source.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Rows known so far; the total once [`LineIndex::complete`].
    pub fn rows_known(&self) -> u64 {
        self.rows_known
    }

    /// Whether the whole source has been indexed.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// How far indexing got, in bytes.
    pub fn indexed_bytes(&self) -> u64 {
        self.next.offset
    }

    /// Every byte ever read from the source (for tests and the memory bound).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The number of the last line known (0 before any).
    pub fn last_line_known(&self) -> u64 {
        self.last_line
    }

    /// Indexes until `rows` rows are known, the end is reached, or `budget` bytes were read.
    /// Returns whether `rows` rows are now known (or all of them are).
    pub fn index_to(&mut self, rows: u64, budget: u64) -> io::Result<bool> {
        if self.complete || self.rows_known >= rows {
            return Ok(true);
        }
        let mut reader = RowReader::new(self.next);
        let mut spent = 0u64;
        while self.rows_known < rows {
            if spent >= budget {
                return Ok(false);
            }
            let before = self.bytes_read;
            match reader.next_row(&mut *self.src, self.len, &mut self.bytes_read)? {
                None => {
                    self.complete = true;
                    break;
                }
                Some(r) => {
                    self.last_line = r.line;
                    self.rows_known += 1;
                    self.next = reader.at;
                    if self.rows_known.is_multiple_of(CHECKPOINT_ROWS) {
                        self.checkpoints.push(reader.at);
                    }
                    if reader.at.offset >= self.len {
                        self.complete = true;
                    }
                }
            }
            spent += self.bytes_read - before;
        }
        Ok(self.complete || self.rows_known >= rows)
    }

    /// Up to `count` rows from row `start` (0-based), indexing as far as needed.
    pub fn rows(&mut self, start: u64, count: usize) -> io::Result<Vec<Row>> {
        self.index_to(start.saturating_add(count as u64), u64::MAX)?;
        let mut out = Vec::with_capacity(count);
        let cp = usize::try_from(start / CHECKPOINT_ROWS).unwrap_or(usize::MAX);
        let Some(&from) = self.checkpoints.get(cp) else {
            return Ok(out);
        };
        let mut reader = RowReader::new(from);
        let mut row = cp as u64 * CHECKPOINT_ROWS;
        while out.len() < count {
            let Some(r) = reader.next_row(&mut *self.src, self.len, &mut self.bytes_read)? else {
                break;
            };
            if row >= start {
                out.push(r);
            }
            row += 1;
        }
        Ok(out)
    }

    /// Reads rows in order for a search: calls `f(row_number, &row)` for each row from
    /// `start` on until `f` returns true, the end, or `budget` bytes were read.
    pub fn scan(
        &mut self,
        start: u64,
        budget: u64,
        mut f: impl FnMut(u64, &Row) -> bool,
    ) -> io::Result<Scan> {
        let cp = start / CHECKPOINT_ROWS;
        // The checkpoint may not exist yet: index up to it first.
        self.index_to(cp * CHECKPOINT_ROWS + 1, u64::MAX)?;
        let Some(&from) = self
            .checkpoints
            .get(usize::try_from(cp).unwrap_or(usize::MAX))
        else {
            return Ok(Scan::End);
        };
        let mut reader = RowReader::new(from);
        let mut row = cp * CHECKPOINT_ROWS;
        // The budget counts from `start` on, and at least one row past it is looked at, so
        // every call makes progress.
        let mut first = None;
        loop {
            if row >= start {
                let first = *first.get_or_insert(self.bytes_read);
                if row > start && self.bytes_read - first >= budget {
                    return Ok(Scan::Paused(row));
                }
            }
            let Some(r) = reader.next_row(&mut *self.src, self.len, &mut self.bytes_read)? else {
                return Ok(Scan::End);
            };
            // Rows met on the way extend the index too.
            if row == self.rows_known && !self.complete {
                self.last_line = r.line;
                self.rows_known += 1;
                self.next = reader.at;
                if self.rows_known.is_multiple_of(CHECKPOINT_ROWS) {
                    self.checkpoints.push(reader.at);
                }
                if reader.at.offset >= self.len {
                    self.complete = true;
                }
            }
            if row >= start && f(row, &r) {
                return Ok(Scan::Found(row));
            }
            row += 1;
        }
    }
}

/// How a [`LineIndex::scan`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    Found(u64),
    /// The budget ran out; go on from this row.
    Paused(u64),
    End,
}

/// Reads rows one after another from a checkpoint, a chunk at a time.
struct RowReader {
    at: Checkpoint,
    buf: Vec<u8>,
    /// Source offset of `buf[0]`.
    buf_offset: u64,
}

impl RowReader {
    fn new(at: Checkpoint) -> RowReader {
        RowReader {
            at,
            buf: Vec::new(),
            buf_offset: at.offset,
        }
    }

    fn next_row(
        &mut self,
        src: &mut dyn ByteSource,
        len: u64,
        bytes_read: &mut u64,
    ) -> io::Result<Option<Row>> {
        loop {
            let start = usize::try_from(self.at.offset - self.buf_offset).unwrap_or(0);
            let pending = &self.buf[start..];
            let at_end = self.buf_offset + self.buf.len() as u64 >= len;
            let window = &pending[..pending.len().min(MAX_ROW_BYTES)];
            let (content, consumed, ends_line) = match memchr::memchr(b'\n', window) {
                Some(i) => (i, i + 1, true),
                None if pending.len() >= MAX_ROW_BYTES => {
                    let cut = char_boundary(pending, MAX_ROW_BYTES);
                    (cut, cut, false)
                }
                None if at_end && !pending.is_empty() => (pending.len(), pending.len(), true),
                None if at_end => return Ok(None),
                None => {
                    // Keep the unread tail, read the next chunk after it.
                    self.buf.drain(..start);
                    self.buf_offset = self.at.offset;
                    let old = self.buf.len();
                    self.buf.resize(old + CHUNK, 0);
                    let n = src.read_at(self.buf_offset + old as u64, &mut self.buf[old..])?;
                    self.buf.truncate(old + n);
                    *bytes_read += n as u64;
                    if n == 0 {
                        // The source shrank under us: treat what we have as the end.
                        if self.buf.is_empty() {
                            return Ok(None);
                        }
                        let text = String::from_utf8_lossy(&self.buf).into_owned();
                        let row = Row {
                            line: self.at.line,
                            continued: self.at.continued,
                            text,
                        };
                        self.at.offset = self.buf_offset + self.buf.len() as u64;
                        return Ok(Some(row));
                    }
                    continue;
                }
            };
            let text = String::from_utf8_lossy(&pending[..content]).into_owned();
            let row = Row {
                line: self.at.line,
                continued: self.at.continued,
                text,
            };
            self.at = Checkpoint {
                offset: self.at.offset + consumed as u64,
                line: self.at.line + u64::from(ends_line),
                continued: !ends_line,
            };
            return Ok(Some(row));
        }
    }
}

/// The largest cut at or below `max` that does not split a UTF-8 sequence (when the bytes
/// are UTF-8; otherwise `max`).
fn char_boundary(bytes: &[u8], max: usize) -> usize {
    let continuation = |i: usize| bytes.get(i).is_some_and(|b| b & 0xC0 == 0x80);
    let mut cut = max;
    while cut > 0 && max - cut < 3 && continuation(cut) {
        cut -= 1;
    }
    if cut == 0 || continuation(cut) {
        max
    } else {
        cut
    }
}

#[cfg(test)]
mod tests;
