//! The state of followup in SQLite: per follow-up its polls, per record its
//! cycle and attempts, per attempt its deliveries, the events, and the
//! attributes that actions persist.
//!
//! The pass talks to the state only through [`Store`]'s methods, so that
//! another store (PostgreSQL, for several runners) can be added later
//! without touching the pass. The database is in WAL mode with
//! `synchronous=NORMAL`; every step that changes state runs in one
//! transaction with its events ([`Store::atomically`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::exit;
use crate::hashing::DigestKey;

mod attributes;
mod conversations;
mod deliveries;
mod events;
pub mod lock;
mod records;
mod schema;
mod users;

pub use conversations::ConversationKey;
pub use deliveries::{Delivery, DeliveryState, NewDelivery};
pub use events::{Event, EventFilter, EventKind};
pub use records::{Polled, Record, RecordState, Tracked};
pub use users::Seen;

/// A time in the store: seconds since the Unix epoch, UTC.
pub type Seconds = i64;

pub struct Store {
    conn: Connection,
}

/// What the store keeps of one follow-up between passes.
#[derive(Debug, Clone, Default)]
pub struct FollowupState {
    pub id: String,
    pub last_poll_at: Option<Seconds>,
    /// The outcome of the latest poll: `Some(true)` succeeded.
    pub last_poll_ok: Option<bool>,
    pub last_poll_detail: Option<String>,
    pub last_success_at: Option<Seconds>,
    /// The extraction attributes (`local.*`) of the latest successful poll.
    pub locals: serde_json::Map<String, serde_json::Value>,
    /// Set by `reset --baseline`: the next successful poll only remembers
    /// what it finds, whatever `first_poll` says.
    pub baseline: bool,
    /// Set when a poll shared no ID with the tracked records: the follow-up
    /// is skipped until `followup reset`.
    pub identity_changed: Option<String>,
}

impl Store {
    /// Opens (creating and migrating) the database for a pass.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        // One connection, one thread: SQLite's own mutexes are not needed.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // Created owner-only here, so that SQLite's `-wal` and `-shm`,
        // which copy the database's mode, are owner-only too.
        crate::private::precreate(path).map_err(|e| unusable(path, e))?;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| unusable(path, e))?;
        let mut store = Store { conn };
        // A damaged file can fail here already (the schema spans pages):
        // say what to do, as for any later failure.
        store.configure().map_err(|e| {
            let e = trouble(path, e.into());
            match e.chain().any(|c| c.is::<exit::Exit>()) {
                true => e,
                false => unusable(path, e),
            }
        })?;
        schema::migrate(&mut store.conn, path)?;
        Ok(store)
    }

    /// Opens an existing database for reading (the reporting commands).
    /// While a WAL exists (a pass runs, or one crashed) it is read too;
    /// otherwise the file is opened as it is, so that reading leaves no
    /// WAL files behind. `None` when there is no database yet.
    pub fn open_read_only(path: &Path) -> anyhow::Result<Option<Store>> {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        if Path::new(&wal).exists() {
            Store::open_reader(path, "mode=ro")
        } else {
            Store::open_untouched(path)
        }
    }

    /// Opens an existing database that has no WAL as the file it is,
    /// creating no file, not even a WAL index.
    fn open_untouched(path: &Path) -> anyhow::Result<Option<Store>> {
        Store::open_reader(path, "mode=ro&immutable=1")
    }

    fn open_reader(path: &Path, mode: &str) -> anyhow::Result<Option<Store>> {
        if !path.exists() {
            return Ok(None);
        }
        let uri = format!("file:{}?{mode}", percent_path(path));
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(uri, flags).map_err(|e| unusable(path, e))?;
        // Version 0 is a database no pass has migrated yet (an empty file
        // left by a pass killed in its first milliseconds): no state yet,
        // not a missing table to report.
        if schema::check_version(&conn, path)? == 0 {
            return Ok(None);
        }
        Ok(Some(Store { conn }))
    }

    /// An in-memory copy of the database (or a new empty one), for a dry
    /// run: the whole pass runs against it and nothing reaches the disk.
    pub fn in_memory_copy(path: &Path) -> anyhow::Result<Store> {
        let mut conn = Connection::open_in_memory()?;
        if let Some(source) = Store::open_read_only(path)? {
            let backup = rusqlite::backup::Backup::new(&source.conn, &mut conn)?;
            backup
                .run_to_completion(1024, std::time::Duration::ZERO, None)
                .map_err(|e| unusable(path, e))?;
        }
        schema::migrate(&mut conn, path)?;
        Ok(Store { conn })
    }

    fn configure(&self) -> rusqlite::Result<()> {
        // Every statement of a pass stays prepared.
        self.conn.set_prepared_statement_cache_capacity(64);
        self.conn.busy_timeout(std::time::Duration::from_secs(10))?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoints (each an fsync) every 40 MB of WAL rather than every
        // 4 MB: a pass that sends thousands of deliveries commits once per
        // delivery; the pass checkpoints once more at its end.
        self.conn
            .pragma_update(None, "wal_autocheckpoint", 10_000)?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }

    /// Runs `f` in one transaction: all of it is stored, or none.
    pub fn atomically<T>(&self, f: impl FnOnce(&Store) -> anyhow::Result<T>) -> anyhow::Result<T> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match f(self) {
            Ok(value) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// The key of record digests, made at the first use of the database.
    pub fn digest_key(&self) -> anyhow::Result<DigestKey> {
        let stored: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE name = 'digest_key'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(key) = stored.and_then(|k| <[u8; 16]>::try_from(k).ok()) {
            return Ok(DigestKey(key));
        }
        let key = DigestKey::random();
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES ('digest_key', ?1)",
            [key.0.as_slice()],
        )?;
        Ok(key)
    }

    /// Folds the WAL into the database file, so that a reader that ignores
    /// the WAL (`--dry-run`) sees everything a finished pass wrote.
    pub fn checkpoint(&self) -> anyhow::Result<()> {
        if self.conn.total_changes() == 0 {
            return Ok(());
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .context("checkpointing the database")
    }

    pub fn followup_state(&self, id: &str) -> anyhow::Result<FollowupState> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, last_poll_at, last_poll_ok, last_poll_detail, last_success_at, locals, baseline, identity_changed
                 FROM followups WHERE id = ?1",
            )?
            .query_row([id], followup_state_row)
            .optional()?
            .unwrap_or_else(|| FollowupState {
                id: id.to_owned(),
                ..FollowupState::default()
            }))
    }

    /// Every follow-up the store knows, its definition deleted or not.
    pub fn followup_states(&self) -> anyhow::Result<Vec<FollowupState>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, last_poll_at, last_poll_ok, last_poll_detail, last_success_at, locals, baseline, identity_changed
             FROM followups ORDER BY id",
        )?;
        let rows = stmt.query_map([], followup_state_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The follow-ups with an attempt not yet closed.
    pub fn followups_with_open_attempts(&self) -> anyhow::Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT followup FROM attempts WHERE closed_at IS NULL")?;
        let rows = stmt.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Per follow-up with open records, the time of the earliest last
    /// attempt among them (0 when one has had none): nothing of a follow-up
    /// is due before that time plus its notification frequency.
    pub fn earliest_open_attempts(&self) -> anyhow::Result<HashMap<String, Seconds>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT followup, MIN(COALESCE(last_attempt_at, 0)) FROM records
             WHERE state = 'open' GROUP BY followup",
        )?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn save_followup_state(&self, s: &FollowupState) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO followups (id, last_poll_at, last_poll_ok, last_poll_detail, last_success_at, locals, baseline, identity_changed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET last_poll_at = ?2, last_poll_ok = ?3, last_poll_detail = ?4,
                   last_success_at = ?5, locals = ?6, baseline = ?7, identity_changed = ?8",
            )?
            .execute(params![
                s.id,
                s.last_poll_at,
                s.last_poll_ok,
                s.last_poll_detail,
                s.last_success_at,
                serde_json::Value::Object(s.locals.clone()).to_string(),
                s.baseline,
                s.identity_changed,
            ])?;
        Ok(())
    }

    /// Forgets a follow-up's state: records, attempts, deliveries, poll
    /// state. Events stay: they are the history. With `baseline`, the next
    /// poll only remembers what it finds.
    pub fn reset(&self, id: &str, baseline: bool) -> anyhow::Result<()> {
        for sql in [
            "DELETE FROM conversations WHERE followup = ?1",
            "DELETE FROM deliveries WHERE followup = ?1",
            "DELETE FROM attempts WHERE followup = ?1",
            "DELETE FROM records WHERE followup = ?1",
            "DELETE FROM followups WHERE id = ?1",
        ] {
            self.conn.execute(sql, [id])?;
        }
        if baseline {
            self.save_followup_state(&FollowupState {
                id: id.to_owned(),
                baseline: true,
                ..FollowupState::default()
            })?;
        }
        Ok(())
    }
}

fn followup_state_row(row: &rusqlite::Row) -> rusqlite::Result<FollowupState> {
    let locals: String = row.get(5)?;
    Ok(FollowupState {
        id: row.get(0)?,
        last_poll_at: row.get(1)?,
        last_poll_ok: row.get(2)?,
        last_poll_detail: row.get(3)?,
        last_success_at: row.get(4)?,
        locals: serde_json::from_str(&locals).unwrap_or_default(),
        baseline: row.get(6)?,
        identity_changed: row.get(7)?,
    })
}

/// `e` as exit 3 when the database itself failed (a full disk, a damaged
/// file, a read-only one, a lock held by another program), saying which
/// database and what to look at; any other error is returned as it is.
/// Every change runs in a transaction, so what was committed before the
/// failure is still there.
pub fn trouble(path: &Path, e: anyhow::Error) -> anyhow::Error {
    use rusqlite::ErrorCode;
    if e.chain().any(|c| c.is::<exit::Exit>()) {
        return e;
    }
    let code = e
        .chain()
        .find_map(|c| match c.downcast_ref::<rusqlite::Error>() {
            Some(rusqlite::Error::SqliteFailure(failure, _)) => Some(failure.code),
            _ => None,
        });
    let hint = match code {
        Some(ErrorCode::DiskFull) => "the disk is full",
        Some(ErrorCode::SystemIoFailure) => {
            "it could not be read or written: is the disk full or failing?"
        }
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen) => {
            "it cannot be written: check its permissions, its directory's and its file system's"
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            "another program holds it locked"
        }
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            "it is damaged: restore it from a backup"
        }
        _ => return e,
    };
    exit::with_status(
        exit::DATABASE,
        format!(
            "the database {} is unusable: {e:#}; {hint} (what earlier steps committed is kept)",
            path.display()
        ),
    )
}

/// A database that cannot be used: exit 3.
fn unusable(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    exit::with_status(
        exit::DATABASE,
        format!("the database {} is unusable: {e}", path.display()),
    )
}

/// A path for an SQLite URI.
fn percent_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '?' | '#' | '%' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
