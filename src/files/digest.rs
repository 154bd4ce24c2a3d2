//! SHA-256 of streams, computed as the bytes go by: a transfer is verified without a second
//! read, and content is addressed by its digest. The digest travels as 64 lowercase hex digits.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256Digest {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        s
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

/// Not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a SHA-256 digest is 64 hex digits")]
pub struct BadDigest;

impl FromStr for Sha256Digest {
    type Err = BadDigest;

    /// Accepts upper or lower case; nothing else (no prefix, no spaces).
    fn from_str(s: &str) -> Result<Self, BadDigest> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(BadDigest);
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16).ok_or(BadDigest)?;
            let lo = (pair[1] as char).to_digit(16).ok_or(BadDigest)?;
            out[i] = u8::try_from(hi * 16 + lo).map_err(|_| BadDigest)?;
        }
        Ok(Sha256Digest(out))
    }
}

/// A running SHA-256 with the count of bytes fed to it.
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    pub fn new() -> Hasher {
        Hasher::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> (Sha256Digest, u64) {
        (Sha256Digest(self.sha.finalize().into()), self.len)
    }
}

/// A writer that hashes what passes through it to `inner`.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// The digest and length of what was written, and the inner writer.
    pub fn finish(self) -> (Sha256Digest, u64, W) {
        let (digest, len) = self.hasher.finish();
        (digest, len, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The digest and length of everything `reader` yields, read in 64 KiB pieces.
pub fn sha256_reader(mut reader: impl Read) -> io::Result<(Sha256Digest, u64)> {
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The digest and length of a file.
pub fn sha256_file(path: &Path) -> io::Result<(Sha256Digest, u64)> {
    sha256_reader(File::open(path)?)
}

/// Why a file is not what was announced.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read it: {0}")]
    Io(#[from] io::Error),
    #[error("it is {actual} bytes, {expected} were announced")]
    Length { expected: u64, actual: u64 },
    #[error("its SHA-256 is {actual}, {expected} was announced")]
    Digest {
        expected: Sha256Digest,
        actual: Sha256Digest,
    },
}

/// Checks that `path` holds exactly `len` bytes whose SHA-256 is `expected`.
pub fn verify_file(path: &Path, expected: &Sha256Digest, len: u64) -> Result<(), VerifyError> {
    let (actual, actual_len) = sha256_file(path)?;
    check(expected, len, actual, actual_len)
}

/// Compares a computed digest and length with the announced ones (length first: it names the
/// likelier fault, a short transfer).
pub fn check(
    expected: &Sha256Digest,
    expected_len: u64,
    actual: Sha256Digest,
    actual_len: u64,
) -> Result<(), VerifyError> {
    if actual_len != expected_len {
        return Err(VerifyError::Length {
            expected: expected_len,
            actual: actual_len,
        });
    }
    if &actual != expected {
        return Err(VerifyError::Digest {
            expected: *expected,
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-2's "abc" example.
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn digests_match_the_standard_vectors_and_round_trip_as_hex() {
        assert_eq!(Sha256Digest::of(b"abc").to_hex(), ABC);
        let parsed: Sha256Digest = ABC.to_uppercase().parse().unwrap();
        assert_eq!(parsed.to_hex(), ABC);
        assert!("abc".parse::<Sha256Digest>().is_err());
        assert!(format!("{}zz", &ABC[..62]).parse::<Sha256Digest>().is_err());
        assert!(format!("+{}", &ABC[1..]).parse::<Sha256Digest>().is_err());
    }

    #[test]
    fn streaming_equals_one_shot_and_counts_bytes() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (streamed, len) = sha256_reader(&data[..]).unwrap();
        assert_eq!(streamed, Sha256Digest::of(&data));
        assert_eq!(len, data.len() as u64);
        let mut w = HashingWriter::new(Vec::new());
        for piece in data.chunks(333) {
            w.write_all(piece).unwrap();
        }
        let (digest, n, out) = w.finish();
        assert_eq!((digest, n), (streamed, len));
        assert_eq!(out, data);
    }

    #[test]
    fn verification_names_a_short_file_and_a_changed_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let good: Sha256Digest = ABC.parse().unwrap();
        verify_file(&path, &good, 3).unwrap();
        let short = verify_file(&path, &good, 4).unwrap_err();
        assert!(
            short.to_string().contains("3 bytes, 4 were announced"),
            "{short}"
        );
        std::fs::write(&path, b"abd").unwrap();
        let changed = verify_file(&path, &good, 3).unwrap_err();
        assert!(matches!(changed, VerifyError::Digest { .. }), "{changed}");
        assert!(changed.to_string().contains(ABC));
    }
}
