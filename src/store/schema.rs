//! The database schema, versioned with `PRAGMA user_version`. Each
//! migration moves the schema one version up, in one transaction; a
//! database from a newer followup is refused (exit 3) rather than guessed at.

use std::path::Path;

use rusqlite::Connection;

use crate::exit;

/// Migration N (1-based) takes the schema from version N-1 to N.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE followups (
        id TEXT PRIMARY KEY,
        last_poll_at INTEGER,
        last_poll_ok INTEGER,
        last_poll_detail TEXT,
        last_success_at INTEGER,
        locals TEXT NOT NULL DEFAULT '{}',
        baseline INTEGER NOT NULL DEFAULT 0,
        identity_changed TEXT
    );
    CREATE TABLE records (
        followup TEXT NOT NULL,
        record_id TEXT NOT NULL,
        cycle INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'baselined', 'resolved', 'exhausted')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt_at INTEGER,
        opened_at INTEGER NOT NULL,
        changed_at INTEGER NOT NULL,
        absent INTEGER NOT NULL DEFAULT 0,
        hash INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (followup, record_id)
    ) WITHOUT ROWID;
    CREATE INDEX records_due ON records (followup, state, last_attempt_at);
    CREATE TABLE attempts (
        followup TEXT NOT NULL,
        record_id TEXT NOT NULL,
        cycle INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        closed_at INTEGER,
        PRIMARY KEY (followup, record_id, cycle, attempt)
    ) WITHOUT ROWID;
    CREATE INDEX attempts_open ON attempts (followup, closed_at);
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        followup TEXT NOT NULL,
        record_id TEXT NOT NULL,
        cycle INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        recipient TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        tries INTEGER NOT NULL DEFAULT 0,
        detail TEXT,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX deliveries_by_attempt ON deliveries (followup, record_id, cycle, attempt);
    CREATE INDEX deliveries_pending ON deliveries (followup, state);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        event TEXT NOT NULL,
        followup TEXT,
        record TEXT,
        cycle INTEGER,
        attempt INTEGER,
        recipient TEXT,
        channel TEXT,
        detail TEXT
    );
    CREATE INDEX events_at ON events (at);
    CREATE INDEX events_followup ON events (followup, record);
    CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE attributes (
        scope TEXT NOT NULL CHECK (scope IN ('global', 'custom')),
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (scope, owner, name)
    ) WITHOUT ROWID;
    ",
    // 2: the channel each user last chatted on (`followup users seen`).
    "
    CREATE TABLE users_seen (
        user TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        at INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    // 3: conversations: per record, cycle, channel and target, the
    // service's reference to the first delivered message.
    "
    CREATE TABLE conversations (
        followup TEXT NOT NULL,
        record_id TEXT NOT NULL,
        cycle INTEGER NOT NULL,
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        delivery TEXT NOT NULL,
        reference TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'closing', 'closed')),
        ended TEXT CHECK (ended IN ('resolved', 'exhausted')),
        detail TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (followup, record_id, cycle, channel, target)
    ) WITHOUT ROWID;
    CREATE INDEX conversations_closing ON conversations (state, followup);
    ",
];

/// The schema version this followup writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

pub fn migrate(conn: &mut Connection, path: &Path) -> anyhow::Result<()> {
    let mut version = check_version(conn, path)?;
    while version < VERSION {
        let tx = conn.transaction()?;
        tx.execute_batch(MIGRATIONS[version as usize])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        version += 1;
    }
    Ok(())
}

/// The database's schema version; an error (exit 3) when it is newer than
/// this followup knows, or when the file is not a database.
pub fn check_version(conn: &Connection, path: &Path) -> anyhow::Result<i64> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| {
            exit::with_status(
                exit::DATABASE,
                format!("the database {} is unusable: {e}", path.display()),
            )
        })?;
    if version > VERSION {
        return Err(exit::with_status(
            exit::DATABASE,
            format!(
                "the database {} has schema version {version}, written by a newer followup; this one knows up to {VERSION}: upgrade followup",
                path.display()
            ),
        ));
    }
    Ok(version)
}
