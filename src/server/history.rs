//! Durable chat history behind a small trait, so the hub does not care where messages live.
//! [`SqliteHistory`] keeps them in one SQLite file (WAL, `synchronous=NORMAL`): a committed batch
//! survives a killed process. The hub commits a batch before it broadcasts it. With a
//! retention bound ([`SqliteHistory::with_keep`]) each room keeps only its newest messages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};

use crate::protocol::{ChatMessage, DEFAULT_ROOM};

/// Why history could not be read or written. The hub keeps chatting either way.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("history database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "history database {0} is in use by another Clicom server; stop it or pass another --db"
    )]
    Locked(PathBuf),
    #[error("history database {path} was written by a newer Clicom (schema {found})")]
    TooNew { path: PathBuf, found: i64 },
    #[error("cannot create the history directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("history database: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// Where room messages are kept. Every message handed over has `room`, `id` and `ts` set.
pub trait History: Send {
    /// Stores a batch atomically: all of it or none of it.
    fn append(&mut self, batch: &[ChatMessage]) -> Result<(), HistoryError>;
    /// Up to `limit` messages of `room` with ids below `before` (all, if `None`), oldest first.
    fn recent(
        &mut self,
        room: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, HistoryError>;
    /// The highest id stored for `room` (0 when it has none), so ids continue after a restart.
    fn last_id(&mut self, room: &str) -> Result<u64, HistoryError>;
    /// The messages of `room` stored with this client-chosen id (usually none or one; a cid is
    /// unique only per speaker), so that a resend is recognised after a reconnect or a restart.
    fn with_cid(&mut self, room: &str, cid: &str) -> Result<Vec<ChatMessage>, HistoryError>;
    /// Keeps only the newest `keep` messages of each room from now on (0 keeps everything); a
    /// running server calls it when its settings are reloaded. A store without a retention
    /// bound has nothing to change.
    fn set_keep(&mut self, keep: u64) {
        let _ = keep;
    }
}

/// Where a server keeps its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryLocation {
    /// Lost when the server stops; for tests and throwaway servers.
    Memory,
    File(PathBuf),
}

impl HistoryLocation {
    /// `history.db` in the platform data dir (or `$CLICOM_DATA_DIR`).
    pub fn default_file() -> HistoryLocation {
        HistoryLocation::File(crate::paths::data_dir().join("history.db"))
    }

    /// `:memory:` means [`HistoryLocation::Memory`]; anything else is a file path.
    pub fn parse(s: &str) -> HistoryLocation {
        if s == ":memory:" {
            HistoryLocation::Memory
        } else {
            HistoryLocation::File(PathBuf::from(s))
        }
    }
}

impl std::fmt::Display for HistoryLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HistoryLocation::Memory => f.write_str(":memory:"),
            HistoryLocation::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// 1: messages. 2: plus each message's client-chosen id (`cid`, nullable) and its index.
const SCHEMA_VERSION: i64 = 2;

/// How many rooms' prune points are remembered; past this the memory is cleared (a forgotten
/// room costs one extra, usually empty, `DELETE` on its next write), so a flood of new rooms
/// cannot grow it without bound.
const PRUNE_POINTS_MAX: usize = 4096;

/// History in SQLite. The file is locked for this process alone (`locking_mode=EXCLUSIVE`), so
/// two servers cannot hand out the same message ids from one file.
pub struct SqliteHistory {
    conn: Connection,
    /// Messages kept per room: those whose id is within `keep` of the room's newest id (ids are
    /// consecutive per room, so the newest `keep` messages). 0 keeps everything.
    keep: u64,
    /// Per room, the id at or below which rows are known to be deleted. A room absent here is
    /// pruned on its next write.
    pruned_to: HashMap<String, u64>,
}

impl SqliteHistory {
    pub fn open(location: &HistoryLocation) -> Result<SqliteHistory, HistoryError> {
        match location {
            HistoryLocation::Memory => Self::open_in_memory(),
            HistoryLocation::File(path) => Self::open_file(path),
        }
    }

    pub fn open_in_memory() -> Result<SqliteHistory, HistoryError> {
        let conn = Connection::open_in_memory()?;
        let mut history = SqliteHistory::new(conn);
        history.migrate(Path::new(":memory:"))?;
        Ok(history)
    }

    /// Opens (creating if needed) the database file and its directory.
    pub fn open_file(path: &Path) -> Result<SqliteHistory, HistoryError> {
        let open_err = |source| HistoryError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::Dir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(Duration::from_millis(500))
            .map_err(open_err)?;
        // EXCLUSIVE must be set before WAL so that no shared-memory file is used.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(open_err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| locked_or(e, path, open_err))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "history database is not in WAL mode");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        let mut history = SqliteHistory::new(conn);
        history.migrate(path).map_err(|e| match e {
            HistoryError::Sql(source) => locked_or(source, path, open_err),
            other => other,
        })?;
        Ok(history)
    }

    fn new(conn: Connection) -> SqliteHistory {
        SqliteHistory {
            conn,
            keep: 0,
            pruned_to: HashMap::new(),
        }
    }

    /// Keeps only the newest `keep` messages of each room (0 keeps everything), and prunes the
    /// database to that bound at once. Reads never return older messages; the rows themselves
    /// are deleted in steps, right after the append that makes a room exceed `keep` by more
    /// than `keep / 10` (integer division), so a room holds at most `keep + keep / 10` rows and
    /// the cost of a `DELETE` is spread over that many messages. A prune that fails is logged
    /// and retried on the room's next write; it never undoes an append.
    pub fn with_keep(mut self, keep: u64) -> SqliteHistory {
        History::set_keep(&mut self, keep);
        self
    }

    /// How far past `keep` a room may grow before its next prune.
    fn slack(&self) -> u64 {
        self.keep / 10
    }

    /// Brings every room down to `keep` (at start-up: an existing database may be bigger).
    fn prune_all(&mut self) -> Result<(), HistoryError> {
        let tx = self.conn.transaction()?;
        let rooms = {
            let mut select = tx.prepare("SELECT room, MAX(id) FROM messages GROUP BY room")?;
            let rows = select.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, from_sql_int(row.get(1)?)))
            })?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let mut deleted = 0;
        let mut points = Vec::with_capacity(rooms.len());
        for (room, newest) in rooms {
            let cutoff = newest.saturating_sub(self.keep);
            deleted += delete_up_to(&tx, &room, cutoff)?;
            points.push((room, cutoff));
        }
        tx.commit()?;
        if deleted > 0 {
            tracing::info!(deleted, keep = self.keep, "pruned old history");
        }
        for (room, cutoff) in points {
            self.remember_prune(room, cutoff);
        }
        Ok(())
    }

    /// After a committed append: prunes the rooms of `batch` that grew more than the slack past
    /// `keep` since their last prune.
    fn prune_after(&mut self, batch: &[ChatMessage]) -> Result<(), HistoryError> {
        let mut newest: HashMap<&str, u64> = HashMap::new();
        for m in batch {
            let room = m.room.as_deref().unwrap_or(DEFAULT_ROOM);
            let max = newest.entry(room).or_default();
            *max = (*max).max(m.id.unwrap_or(0));
        }
        let due: Vec<(&str, u64)> = newest
            .into_iter()
            .map(|(room, max)| (room, max.saturating_sub(self.keep)))
            .filter(|(room, cutoff)| match self.pruned_to.get(*room) {
                Some(done) => cutoff.saturating_sub(*done) > self.slack(),
                None => true,
            })
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for (room, cutoff) in &due {
            delete_up_to(&tx, room, *cutoff)?;
        }
        tx.commit()?;
        for (room, cutoff) in due {
            self.remember_prune(room.to_owned(), cutoff);
        }
        Ok(())
    }

    fn remember_prune(&mut self, room: String, cutoff: u64) {
        if self.pruned_to.len() >= PRUNE_POINTS_MAX && !self.pruned_to.contains_key(&room) {
            self.pruned_to.clear();
        }
        self.pruned_to.insert(room, cutoff);
    }

    fn migrate(&mut self, path: &Path) -> Result<(), HistoryError> {
        // An immediate transaction takes the write lock now, so a second server fails at start.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(HistoryError::TooNew {
                path: path.to_owned(),
                found: version,
            });
        }
        if version < 1 {
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS messages (
                    room   TEXT    NOT NULL,
                    id     INTEGER NOT NULL,
                    ts     INTEGER NOT NULL,
                    name   TEXT    NOT NULL,
                    color  TEXT    NOT NULL,
                    text   TEXT    NOT NULL,
                    action INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (room, id)
                ) WITHOUT ROWID;
                PRAGMA user_version = 1;",
            )?;
        }
        if version < 2 {
            // Rows from before keep a NULL cid: they were sent by clients that gave none.
            tx.execute_batch(
                "ALTER TABLE messages ADD COLUMN cid TEXT;
                CREATE INDEX IF NOT EXISTS messages_by_cid ON messages (room, cid)
                    WHERE cid IS NOT NULL;
                PRAGMA user_version = 2;",
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Deletes the messages of `room` with ids up to `cutoff`: a range of the primary key
/// `(room, id)`, so no extra index is needed.
fn delete_up_to(conn: &Connection, room: &str, cutoff: u64) -> Result<usize, rusqlite::Error> {
    if cutoff == 0 {
        return Ok(0);
    }
    conn.prepare_cached("DELETE FROM messages WHERE room = ?1 AND id <= ?2")?
        .execute(params![room, to_sql_int(cutoff)])
}

fn locked_or(
    e: rusqlite::Error,
    path: &Path,
    otherwise: impl FnOnce(rusqlite::Error) -> HistoryError,
) -> HistoryError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            HistoryError::Locked(path.to_owned())
        }
        _ => otherwise(e),
    }
}

impl History for SqliteHistory {
    fn append(&mut self, batch: &[ChatMessage]) -> Result<(), HistoryError> {
        if batch.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (room, id, ts, name, color, text, action, cid)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for m in batch {
                insert.execute(params![
                    m.room.as_deref().unwrap_or(DEFAULT_ROOM),
                    to_sql_int(m.id.unwrap_or(0)),
                    to_sql_int(m.ts.unwrap_or(0)),
                    m.name,
                    m.color,
                    m.text,
                    m.action,
                    m.cid,
                ])?;
            }
        }
        tx.commit()?;
        if self.keep > 0
            && let Err(e) = self.prune_after(batch)
        {
            tracing::warn!(error = %e, "cannot prune old history; will retry");
        }
        Ok(())
    }

    fn recent(
        &mut self,
        room: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, HistoryError> {
        // Rows past the bound may still wait for their prune; they are never served.
        let mut select = self.conn.prepare_cached(
            "SELECT id, ts, name, color, text, action, cid FROM messages
             WHERE room = ?1 AND id < ?2
               AND id > (SELECT IFNULL(MAX(id), 0) FROM messages WHERE room = ?1) - ?4
             ORDER BY id DESC LIMIT ?3",
        )?;
        let before = before.map_or(i64::MAX, to_sql_int);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let keep = if self.keep == 0 {
            i64::MAX
        } else {
            to_sql_int(self.keep)
        };
        let rows = select.query_map(params![room, before, limit, keep], |row| {
            message_from_row(room, row)
        })?;
        let mut messages = rows.collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        Ok(messages)
    }

    fn with_cid(&mut self, room: &str, cid: &str) -> Result<Vec<ChatMessage>, HistoryError> {
        // Without statistics SQLite would rather scan the room's rows by primary key than
        // use a secondary index of a WITHOUT ROWID table: name the index.
        let mut select = self.conn.prepare_cached(
            "SELECT id, ts, name, color, text, action, cid FROM messages
             INDEXED BY messages_by_cid WHERE room = ?1 AND cid = ?2",
        )?;
        let rows = select.query_map(params![room, cid], |row| message_from_row(room, row))?;
        let mut found = rows.collect::<Result<Vec<_>, _>>()?;
        found.sort_by_key(|m| m.id);
        Ok(found)
    }

    fn last_id(&mut self, room: &str) -> Result<u64, HistoryError> {
        let max: Option<i64> = self.conn.query_row(
            "SELECT MAX(id) FROM messages WHERE room = ?1",
            params![room],
            |row| row.get(0),
        )?;
        Ok(max.map_or(0, from_sql_int))
    }

    /// See [`SqliteHistory::with_keep`]; a lower bound prunes the database at once.
    fn set_keep(&mut self, keep: u64) {
        self.keep = keep;
        self.pruned_to.clear();
        if keep > 0
            && let Err(e) = self.prune_all()
        {
            tracing::warn!(error = %e, keep, "cannot prune the history database; will retry on writes");
        }
    }
}

/// A row of `SELECT id, ts, name, color, text, action, cid` as a message of `room`.
fn message_from_row(room: &str, row: &rusqlite::Row<'_>) -> rusqlite::Result<ChatMessage> {
    Ok(ChatMessage {
        id: Some(from_sql_int(row.get(0)?)),
        ts: Some(from_sql_int(row.get(1)?)),
        name: row.get(2)?,
        color: row.get(3)?,
        text: row.get(4)?,
        action: row.get(5)?,
        room: Some(room.to_owned()),
        cid: row.get(6)?,
    })
}

fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_sql_int(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(room: &str, id: u64, text: &str) -> ChatMessage {
        ChatMessage {
            name: "Alice".into(),
            color: "2".into(),
            text: text.into(),
            id: Some(id),
            ts: Some(1_700_000_000_000 + id),
            room: Some(room.into()),
            action: id.is_multiple_of(2),
            cid: None,
        }
    }

    #[test]
    fn messages_come_back_oldest_first_per_room() {
        let mut h = SqliteHistory::open_in_memory().unwrap();
        h.append(&[msg("main", 1, "a"), msg("main", 2, "b"), msg("dev", 1, "x")])
            .unwrap();
        h.append(&[msg("main", 3, "c")]).unwrap();
        let main = h.recent("main", None, 10).unwrap();
        assert_eq!(
            main,
            vec![
                msg("main", 1, "a"),
                msg("main", 2, "b"),
                msg("main", 3, "c")
            ]
        );
        assert_eq!(h.recent("dev", None, 10).unwrap(), vec![msg("dev", 1, "x")]);
        assert_eq!(h.last_id("main").unwrap(), 3);
        assert_eq!(h.last_id("nowhere").unwrap(), 0);
    }

    #[test]
    fn paging_back_with_before_and_limit() {
        let mut h = SqliteHistory::open_in_memory().unwrap();
        let batch: Vec<_> = (1..=10).map(|i| msg("main", i, &i.to_string())).collect();
        h.append(&batch).unwrap();
        let ids = |v: Vec<ChatMessage>| v.into_iter().map(|m| m.id.unwrap()).collect::<Vec<_>>();
        assert_eq!(ids(h.recent("main", None, 3).unwrap()), [8, 9, 10]);
        assert_eq!(ids(h.recent("main", Some(8), 3).unwrap()), [5, 6, 7]);
        assert_eq!(ids(h.recent("main", Some(3), 5).unwrap()), [1, 2]);
        assert!(h.recent("main", Some(1), 5).unwrap().is_empty());
    }

    #[test]
    fn a_failed_batch_stores_nothing() {
        let mut h = SqliteHistory::open_in_memory().unwrap();
        h.append(&[msg("main", 2, "first")]).unwrap();
        // Id 2 again violates the primary key: the whole batch must roll back.
        let err = h.append(&[msg("main", 1, "ok"), msg("main", 2, "dup")]);
        assert!(err.is_err());
        assert_eq!(
            h.recent("main", None, 10).unwrap(),
            vec![msg("main", 2, "first")]
        );
    }

    #[test]
    fn file_history_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("history.db");
        {
            let mut h = SqliteHistory::open_file(&path).unwrap();
            h.append(&[msg("main", 1, "kept")]).unwrap();
        }
        let mut h = SqliteHistory::open_file(&path).unwrap();
        assert_eq!(
            h.recent("main", None, 5).unwrap(),
            vec![msg("main", 1, "kept")]
        );
        assert_eq!(h.last_id("main").unwrap(), 1);
    }

    fn with_cid(room: &str, id: u64, cid: &str) -> ChatMessage {
        ChatMessage {
            cid: Some(cid.into()),
            ..msg(room, id, "said once")
        }
    }

    #[test]
    fn cids_are_stored_and_found_per_room() {
        let mut h = SqliteHistory::open_in_memory().unwrap();
        h.append(&[
            msg("main", 1, "no cid"),
            with_cid("main", 2, "aaaaaaaa11"),
            with_cid("dev", 1, "aaaaaaaa11"),
        ])
        .unwrap();
        assert_eq!(
            h.with_cid("main", "aaaaaaaa11").unwrap(),
            vec![with_cid("main", 2, "aaaaaaaa11")]
        );
        assert_eq!(
            h.with_cid("dev", "aaaaaaaa11").unwrap(),
            vec![with_cid("dev", 1, "aaaaaaaa11")]
        );
        assert!(h.with_cid("main", "bbbbbbbb22").unwrap().is_empty());
        let recent = h.recent("main", None, 10).unwrap();
        assert_eq!(recent[0].cid, None);
        assert_eq!(recent[1].cid.as_deref(), Some("aaaaaaaa11"));
    }

    #[test]
    fn finding_a_cid_uses_its_index() {
        let h = SqliteHistory::open_in_memory().unwrap();
        let plan: Vec<String> = h
            .conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT id, ts, name, color, text, action, cid FROM messages
                 INDEXED BY messages_by_cid WHERE room = ?1 AND cid = ?2",
            )
            .unwrap()
            .query_map(params!["main", "x"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("INDEX messages_by_cid (room=? AND cid=?)"),
            "{plan}"
        );
    }

    /// A history file as the first release wrote it (schema 1, no cid column).
    fn schema_1_file(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE messages (
                room   TEXT    NOT NULL,
                id     INTEGER NOT NULL,
                ts     INTEGER NOT NULL,
                name   TEXT    NOT NULL,
                color  TEXT    NOT NULL,
                text   TEXT    NOT NULL,
                action INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (room, id)
            ) WITHOUT ROWID;
            PRAGMA user_version = 1;
            INSERT INTO messages VALUES ('main', 1, 1700000000001, 'Alice', '2', 'old one', 0);
            INSERT INTO messages VALUES ('main', 2, 1700000000002, 'Bob', '3', 'old two', 1);",
        )
        .unwrap();
    }

    #[test]
    fn a_schema_1_database_opens_keeps_its_messages_and_takes_cids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        schema_1_file(&path);
        {
            let mut h = SqliteHistory::open_file(&path).unwrap();
            let old = h.recent("main", None, 10).unwrap();
            assert_eq!(
                old.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
                ["old one", "old two"]
            );
            assert!(old.iter().all(|m| m.cid.is_none()));
            assert!(old[1].action);
            assert_eq!(h.last_id("main").unwrap(), 2);
            h.append(&[with_cid("main", 3, "cccccccc33")]).unwrap();
            assert_eq!(h.with_cid("main", "cccccccc33").unwrap().len(), 1);
        }
        // Migrated once: it opens again as schema 2, with everything in it.
        let mut h = SqliteHistory::open_file(&path).unwrap();
        let version: i64 = h
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(h.recent("main", None, 10).unwrap().len(), 3);
        assert_eq!(
            h.with_cid("main", "cccccccc33").unwrap()[0].text,
            "said once"
        );
    }

    #[test]
    fn a_database_from_a_newer_release_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99;")
            .unwrap();
        match SqliteHistory::open_file(&path) {
            Err(HistoryError::TooNew { found: 99, .. }) => {}
            Err(other) => panic!("expected TooNew, got {other}"),
            Ok(_) => panic!("a newer schema must be refused"),
        }
    }

    #[test]
    fn a_second_server_on_the_same_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let _first = SqliteHistory::open_file(&path).unwrap();
        match SqliteHistory::open_file(&path) {
            Err(HistoryError::Locked(p)) => assert_eq!(p, path),
            Err(other) => panic!("expected Locked, got {other}"),
            Ok(_) => panic!("a second open must fail"),
        }
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let err = SqliteHistory::open_file(&path).err().expect("must fail");
        assert!(err.to_string().contains("history.db"), "{err}");
    }

    fn rows(h: &SqliteHistory, room: &str) -> u64 {
        let n: i64 = h
            .conn
            .query_row(
                "SELECT COUNT(*) FROM messages WHERE room = ?1",
                params![room],
                |r| r.get(0),
            )
            .unwrap();
        from_sql_int(n)
    }

    fn ids(messages: Vec<ChatMessage>) -> Vec<u64> {
        messages.into_iter().map(|m| m.id.unwrap()).collect()
    }

    #[test]
    fn keep_bounds_each_room_and_reads_only_the_newest() {
        let keep = 20;
        let bound = keep + keep / 10;
        let mut h = SqliteHistory::open_in_memory().unwrap().with_keep(keep);
        let mut most = 0;
        for id in 1..=200 {
            h.append(&[msg("main", id, "m")]).unwrap();
            if id <= 150 {
                h.append(&[msg("dev", id, "d")]).unwrap();
            }
            for (room, newest) in [("main", id), ("dev", id.min(150))] {
                let stored = rows(&h, room);
                assert!(stored <= bound, "{room} holds {stored} rows after id {id}");
                most = most.max(stored);
                let expected: Vec<u64> = (newest.saturating_sub(keep) + 1..=newest).collect();
                assert_eq!(ids(h.recent(room, None, 1000).unwrap()), expected);
            }
        }
        assert_eq!(
            most, bound,
            "rows are deleted in steps, not on every append"
        );
        assert_eq!(h.last_id("main").unwrap(), 200);
        assert_eq!(h.last_id("dev").unwrap(), 150);
        // Paging back stops at the bound too.
        assert_eq!(ids(h.recent("main", Some(183), 10).unwrap()), [181, 182]);
        assert!(h.recent("main", Some(181), 10).unwrap().is_empty());
    }

    #[test]
    fn rooms_are_pruned_independently() {
        let mut h = SqliteHistory::open_in_memory().unwrap().with_keep(5);
        let main: Vec<_> = (1..=50).map(|i| msg("main", i, "m")).collect();
        h.append(&main).unwrap();
        h.append(&[msg("dev", 1, "a"), msg("dev", 2, "b"), msg("dev", 3, "c")])
            .unwrap();
        // One batch far past the bound is brought down to it at once.
        assert_eq!(rows(&h, "main"), 5);
        assert_eq!(
            ids(h.recent("main", None, 100).unwrap()),
            [46, 47, 48, 49, 50]
        );
        assert_eq!(ids(h.recent("dev", None, 100).unwrap()), [1, 2, 3]);
        h.append(&(4..=30).map(|i| msg("dev", i, "d")).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(
            ids(h.recent("dev", None, 100).unwrap()),
            [26, 27, 28, 29, 30]
        );
        assert_eq!(
            ids(h.recent("main", None, 100).unwrap()),
            [46, 47, 48, 49, 50]
        );
    }

    #[test]
    fn keep_zero_keeps_everything() {
        let mut h = SqliteHistory::open_in_memory().unwrap().with_keep(0);
        for id in 1..=300 {
            h.append(&[msg("main", id, "m")]).unwrap();
        }
        assert_eq!(rows(&h, "main"), 300);
        assert_eq!(h.recent("main", None, 1000).unwrap().len(), 300);
    }

    #[test]
    fn ids_continue_after_reopening_a_pruned_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        {
            let mut h = SqliteHistory::open_file(&path).unwrap().with_keep(3);
            for id in 1..=10 {
                h.append(&[msg("main", id, "m")]).unwrap();
            }
        }
        let mut h = SqliteHistory::open_file(&path).unwrap().with_keep(3);
        assert_eq!(h.last_id("main").unwrap(), 10);
        assert_eq!(ids(h.recent("main", None, 50).unwrap()), [8, 9, 10]);
        h.append(&[msg("main", 11, "after")]).unwrap();
        assert_eq!(ids(h.recent("main", None, 50).unwrap()), [9, 10, 11]);
        assert_eq!(h.last_id("main").unwrap(), 11);
    }

    #[test]
    fn an_oversized_database_is_pruned_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        {
            let mut h = SqliteHistory::open_file(&path).unwrap();
            h.append(&(1..=100).map(|i| msg("main", i, "m")).collect::<Vec<_>>())
                .unwrap();
            h.append(&(1..=40).map(|i| msg("dev", i, "d")).collect::<Vec<_>>())
                .unwrap();
            h.append(&[msg("quiet", 1, "q")]).unwrap();
        }
        let h = SqliteHistory::open_file(&path).unwrap().with_keep(10);
        assert_eq!(rows(&h, "main"), 10);
        assert_eq!(rows(&h, "dev"), 10);
        assert_eq!(rows(&h, "quiet"), 1);
        drop(h);
        // The rows are gone from the file, not just hidden.
        let mut h = SqliteHistory::open_file(&path).unwrap();
        assert_eq!(
            ids(h.recent("main", None, 100).unwrap()),
            (91..=100).collect::<Vec<_>>()
        );
        assert_eq!(h.last_id("dev").unwrap(), 40);
    }

    #[test]
    fn a_failed_prune_keeps_the_appended_batch() {
        let mut h = SqliteHistory::open_in_memory().unwrap().with_keep(2);
        h.conn
            .execute_batch(
                "CREATE TRIGGER no_delete BEFORE DELETE ON messages
                 BEGIN SELECT RAISE(ABORT, 'deletes refused'); END;",
            )
            .unwrap();
        for id in 1..=6 {
            h.append(&[msg("main", id, "m")]).unwrap();
        }
        assert_eq!(rows(&h, "main"), 6, "nothing appended was lost");
        assert_eq!(ids(h.recent("main", None, 10).unwrap()), [5, 6]);
        h.conn.execute_batch("DROP TRIGGER no_delete;").unwrap();
        h.append(&[msg("main", 7, "m")]).unwrap();
        assert_eq!(
            rows(&h, "main"),
            2,
            "the prune is retried on the next write"
        );
    }

    #[test]
    fn pruning_is_a_range_of_the_primary_key() {
        let h = SqliteHistory::open_in_memory().unwrap();
        let plan: Vec<String> = h
            .conn
            .prepare("EXPLAIN QUERY PLAN DELETE FROM messages WHERE room = ?1 AND id <= ?2")
            .unwrap()
            .query_map(params!["main", 10], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("USING PRIMARY KEY (room=? AND id<?)"),
            "{plan}"
        );
    }

    #[test]
    fn a_full_disk_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = SqliteHistory::open_file(&dir.path().join("h.db")).unwrap();
        // Cap the file at its current size: the next pages cannot be allocated (SQLITE_FULL).
        let pages: i64 = h
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        h.conn.pragma_update(None, "max_page_count", pages).unwrap();
        let big = "x".repeat(10_000);
        let mut failed = false;
        for id in 1..=50 {
            if h.append(&[msg("main", id, &big)]).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "writes past max_page_count must fail");
        assert!(h.last_id("main").is_ok(), "reads still work");
    }
}
