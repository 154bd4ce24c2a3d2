//! Where sent files live on the server: uploads in progress (bytes received so far, appended
//! as they arrive, so a broken upload resumes where it stopped) and finished files, stored once
//! per SHA-256 and reached through capabilities — unguessable tokens handed only to those a
//! file was offered to. [`FileStore`] is the seam for other backends; [`FsStore`] keeps
//! everything in one directory (content by digest in files, records as small JSON files).
//! Policy (limits, quotas, who may ask) is `serve`'s; a store only keeps what it is told.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use tokio::fs;

use super::digest::{self, Sha256Digest};

/// Random bytes in a [`Token`]: 192 bits, far past guessing.
const TOKEN_BYTES: usize = 24;

/// An unguessable id (an upload's, or a file's capability): 48 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Token(String);

impl Token {
    /// A new token from the operating system's cryptographic generator (through `rand`'s
    /// thread generator, a CSPRNG seeded from it).
    pub fn random() -> Token {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Token(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Token {
    /// Only a prefix: a whole capability in a log line would be a leak.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}…)", &self.0[..8])
    }
}

/// Not 48 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid token")]
pub struct BadToken;

impl FromStr for Token {
    type Err = BadToken;

    /// Only the exact form [`Token::random`] makes: a token is safe in a path.
    fn from_str(s: &str) -> Result<Token, BadToken> {
        let ok = s.len() == 2 * TOKEN_BYTES
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Token(s.to_owned())).ok_or(BadToken)
    }
}

impl TryFrom<String> for Token {
    type Error = BadToken;
    fn try_from(s: String) -> Result<Token, BadToken> {
        s.parse()
    }
}

impl From<Token> for String {
    fn from(t: Token) -> String {
        t.0
    }
}

/// An upload: announced before any byte is sent, and finished once they all arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub id: Token,
    /// Who announced it (the key quotas and rate limits count by).
    pub owner: String,
    /// The safe name (`files::name::safe_name` of what the sender offered).
    pub name: String,
    pub size: u64,
    #[serde(with = "hex_digest")]
    pub sha256: Sha256Digest,
    /// Seconds since the Unix epoch.
    pub created: u64,
    pub expires: u64,
    /// The file it became, once finished (so finishing twice answers the same).
    pub file: Option<Token>,
}

/// A finished file, reached by its capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub cap: Token,
    pub owner: String,
    pub name: String,
    pub size: u64,
    #[serde(with = "hex_digest")]
    pub sha256: Sha256Digest,
    pub created: u64,
    pub expires: u64,
}

mod hex_digest {
    use super::Sha256Digest;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Sha256Digest, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Sha256Digest, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Why an upload could not be finished.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    #[error("no such upload")]
    Unknown,
    #[error("the upload is not complete: {have} of {size} bytes")]
    Incomplete { have: u64, size: u64 },
    /// The bytes are not what was announced; the upload is discarded.
    #[error("the received bytes are not the announced file: {0}")]
    Mismatch(digest::VerifyError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Storage for uploads and files. Every method is called from the async server; a method may
/// block only inside `spawn_blocking`.
pub trait FileStore: Send + Sync + 'static {
    /// Appends to an upload; written bytes are durable once `flush` returns.
    type Writer: tokio::io::AsyncWrite + Send + Unpin + 'static;
    /// Reads a finished file from any offset.
    type Reader: tokio::io::AsyncRead + tokio::io::AsyncSeek + Send + Unpin + 'static;

    /// Records a new upload with nothing received.
    fn create_upload(&self, rec: &UploadRecord) -> impl Future<Output = io::Result<()>> + Send;
    /// An upload and how many bytes of it were received.
    fn upload(
        &self,
        id: &Token,
    ) -> impl Future<Output = io::Result<Option<(UploadRecord, u64)>>> + Send;
    /// A writer at the end of what was received.
    fn append(&self, id: &Token) -> impl Future<Output = io::Result<Self::Writer>> + Send;
    /// Checks the received bytes against the announced size and digest and makes them the
    /// file `cap`; a mismatch discards the upload. Finishing a finished upload returns its file.
    fn finish_upload(
        &self,
        id: &Token,
        cap: Token,
    ) -> impl Future<Output = Result<FileRecord, FinishError>> + Send;
    /// Forgets an unfinished upload and its bytes. False if there was none.
    fn delete_upload(&self, id: &Token) -> impl Future<Output = io::Result<bool>> + Send;
    /// A finished file by capability (expired ones included: the caller decides).
    fn file(&self, cap: &Token) -> impl Future<Output = io::Result<Option<FileRecord>>> + Send;
    fn open(&self, rec: &FileRecord) -> impl Future<Output = io::Result<Self::Reader>> + Send;
    /// Bytes `owner` holds: announced sizes of unfinished uploads and finished files not
    /// expired at `now`.
    fn usage(&self, owner: &str, now: u64) -> impl Future<Output = io::Result<u64>> + Send;
    /// Removes what expired before `now`, and content no file refers to any more. Returns how
    /// many records went.
    fn sweep(&self, now: u64) -> impl Future<Output = io::Result<usize>> + Send;
}

/// A [`FileStore`] in one directory: `uploads/<id>.json` and `.part`, `files/<cap>.json`,
/// and `blobs/<sha256>` holding each distinct content once. Records are also kept in memory
/// (loaded at open); only this process may use the directory.
pub struct FsStore {
    root: PathBuf,
    index: Mutex<Index>,
}

#[derive(Default)]
struct Index {
    uploads: HashMap<Token, UploadRecord>,
    files: HashMap<Token, FileRecord>,
}

impl FsStore {
    /// Opens (creating if needed) a store in `root`, loading its records.
    pub async fn open(root: &Path) -> io::Result<Arc<FsStore>> {
        for sub in ["uploads", "files", "blobs"] {
            fs::create_dir_all(root.join(sub)).await?;
        }
        let mut index = Index::default();
        for rec in load_records::<UploadRecord>(&root.join("uploads")).await? {
            index.uploads.insert(rec.id.clone(), rec);
        }
        for rec in load_records::<FileRecord>(&root.join("files")).await? {
            index.files.insert(rec.cap.clone(), rec);
        }
        Ok(Arc::new(FsStore {
            root: root.to_owned(),
            index: Mutex::new(index),
        }))
    }

    fn part(&self, id: &Token) -> PathBuf {
        self.root.join("uploads").join(format!("{id}.part"))
    }

    fn blob(&self, sha: &Sha256Digest) -> PathBuf {
        self.root.join("blobs").join(sha.to_hex())
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        // A panic while holding this lock leaves plain maps behind, still consistent.
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn save_upload(&self, rec: &UploadRecord) -> io::Result<()> {
        let path = self.root.join("uploads").join(format!("{}.json", rec.id));
        write_json(&path, rec).await?;
        self.index().uploads.insert(rec.id.clone(), rec.clone());
        Ok(())
    }
}

async fn load_records<T: for<'de> Deserialize<'de>>(dir: &Path) -> io::Result<Vec<T>> {
    let mut out = Vec::new();
    let mut entries = fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            let bytes = fs::read(&path).await?;
            match serde_json::from_slice(&bytes) {
                Ok(rec) => out.push(rec),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable file record skipped")
                }
            }
        }
    }
    Ok(out)
}

/// Writes a record through a temporary file and a rename: a crash leaves the old or the new.
async fn write_json(path: &Path, value: &impl Serialize) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, serde_json::to_vec(value).map_err(io::Error::other)?).await?;
    fs::rename(&tmp, path).await
}

async fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl FileStore for FsStore {
    type Writer = fs::File;
    type Reader = fs::File;

    async fn create_upload(&self, rec: &UploadRecord) -> io::Result<()> {
        fs::File::create(self.part(&rec.id)).await?;
        self.save_upload(rec).await
    }

    async fn upload(&self, id: &Token) -> io::Result<Option<(UploadRecord, u64)>> {
        let Some(rec) = self.index().uploads.get(id).cloned() else {
            return Ok(None);
        };
        let have = if rec.file.is_some() {
            rec.size
        } else {
            fs::metadata(self.part(id)).await?.len()
        };
        Ok(Some((rec, have)))
    }

    async fn append(&self, id: &Token) -> io::Result<fs::File> {
        fs::OpenOptions::new()
            .append(true)
            .open(self.part(id))
            .await
    }

    async fn finish_upload(&self, id: &Token, cap: Token) -> Result<FileRecord, FinishError> {
        let Some((mut rec, have)) = self.upload(id).await? else {
            return Err(FinishError::Unknown);
        };
        if let Some(done) = &rec.file {
            let file = self.index().files.get(done).cloned();
            return file.ok_or(FinishError::Unknown);
        }
        if have != rec.size {
            return Err(FinishError::Incomplete {
                have,
                size: rec.size,
            });
        }
        let part = self.part(id);
        let hashed = part.clone();
        let (actual, len) = tokio::task::spawn_blocking(move || digest::sha256_file(&hashed))
            .await
            .map_err(io::Error::other)??;
        if let Err(e) = digest::check(&rec.sha256, rec.size, actual, len) {
            self.delete_upload(id).await?;
            return Err(FinishError::Mismatch(e));
        }
        let blob = self.blob(&rec.sha256);
        if fs::try_exists(&blob).await? {
            remove_if_present(&part).await?;
        } else {
            fs::rename(&part, &blob).await?;
        }
        let file = FileRecord {
            cap: cap.clone(),
            owner: rec.owner.clone(),
            name: rec.name.clone(),
            size: rec.size,
            sha256: rec.sha256,
            created: rec.created,
            expires: rec.expires,
        };
        write_json(&self.root.join("files").join(format!("{cap}.json")), &file).await?;
        self.index().files.insert(cap.clone(), file.clone());
        rec.file = Some(cap);
        self.save_upload(&rec).await?;
        Ok(file)
    }

    async fn delete_upload(&self, id: &Token) -> io::Result<bool> {
        let existed = match self.index().uploads.get(id) {
            Some(rec) if rec.file.is_none() => true,
            _ => return Ok(false),
        };
        remove_if_present(&self.part(id)).await?;
        remove_if_present(&self.root.join("uploads").join(format!("{id}.json"))).await?;
        self.index().uploads.remove(id);
        Ok(existed)
    }

    async fn file(&self, cap: &Token) -> io::Result<Option<FileRecord>> {
        Ok(self.index().files.get(cap).cloned())
    }

    async fn open(&self, rec: &FileRecord) -> io::Result<fs::File> {
        fs::File::open(self.blob(&rec.sha256)).await
    }

    async fn usage(&self, owner: &str, now: u64) -> io::Result<u64> {
        let index = self.index();
        let pending: u64 = index
            .uploads
            .values()
            .filter(|u| u.owner == owner && u.file.is_none() && u.expires > now)
            .map(|u| u.size)
            .sum();
        let held: u64 = index
            .files
            .values()
            .filter(|f| f.owner == owner && f.expires > now)
            .map(|f| f.size)
            .sum();
        Ok(pending + held)
    }

    async fn sweep(&self, now: u64) -> io::Result<usize> {
        let (uploads, files): (Vec<Token>, Vec<Token>) = {
            let index = self.index();
            (
                index
                    .uploads
                    .values()
                    .filter(|u| u.expires <= now)
                    .map(|u| u.id.clone())
                    .collect(),
                index
                    .files
                    .values()
                    .filter(|f| f.expires <= now)
                    .map(|f| f.cap.clone())
                    .collect(),
            )
        };
        for id in &uploads {
            remove_if_present(&self.part(id)).await?;
            remove_if_present(&self.root.join("uploads").join(format!("{id}.json"))).await?;
            self.index().uploads.remove(id);
        }
        for cap in &files {
            remove_if_present(&self.root.join("files").join(format!("{cap}.json"))).await?;
            self.index().files.remove(cap);
        }
        let live: std::collections::HashSet<String> = self
            .index()
            .files
            .values()
            .map(|f| f.sha256.to_hex())
            .collect();
        let mut blobs = fs::read_dir(self.root.join("blobs")).await?;
        while let Some(entry) = blobs.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !live.contains(&name) {
                remove_if_present(&entry.path()).await?;
            }
        }
        Ok(uploads.len() + files.len())
    }
}

#[cfg(test)]
mod tests;
