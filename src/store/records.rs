//! Records: one row per follow-up and reconciliation ID, holding the
//! record's current cycle, state, attempt count and latest data.

use std::collections::HashMap;

use crate::hashing::IdMap;

use rusqlite::{OptionalExtension, params};

use super::{Seconds, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordState {
    /// Followed up: attempts go out when due.
    Open,
    /// Seen by a `record_only` poll: remembered, never followed up.
    Baselined,
    /// Gone from the poll: its return opens a new cycle.
    Resolved,
    /// Every attempt made and still there: nothing more is sent.
    Exhausted,
}

impl RecordState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Open => "open",
            RecordState::Baselined => "baselined",
            RecordState::Resolved => "resolved",
            RecordState::Exhausted => "exhausted",
        }
    }

    fn parse(s: &str) -> RecordState {
        match s {
            "baselined" => RecordState::Baselined,
            "resolved" => RecordState::Resolved,
            "exhausted" => RecordState::Exhausted,
            _ => RecordState::Open,
        }
    }
}

impl rusqlite::ToSql for RecordState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.as_str().to_sql()
    }
}

/// Records in the order they opened. Sorted here, not by `ORDER BY`: with
/// the bundled SQLite's STAT4, an `ORDER BY` next to `followup = ?` makes
/// the statement recompile at every use, which cost an idle pass over 100
/// follow-ups most of its time.
fn oldest_first(mut records: Vec<Record>) -> Vec<Record> {
    records.sort_by(|a, b| (a.opened_at, &a.id).cmp(&(b.opened_at, &b.id)));
    records
}

/// What reconciliation needs to know of a stored record.
#[derive(Debug, Clone, Copy)]
pub struct Tracked {
    pub cycle: i64,
    pub state: RecordState,
    pub absent: i64,
    pub hash: i64,
}

/// A record as a poll found it.
#[derive(Debug, Clone)]
pub struct Polled {
    pub id: String,
    /// The digest of its JSON text: a changed record is rewritten, an
    /// unchanged one not.
    pub hash: i64,
    /// Its JSON text as the source sent it; `None` for a known record that
    /// did not change (no copy is kept: the stored data stays).
    pub data: Option<String>,
}

/// A stored record.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub cycle: i64,
    pub state: RecordState,
    pub attempts: i64,
    pub last_attempt_at: Option<Seconds>,
    pub opened_at: Seconds,
    pub changed_at: Seconds,
    pub absent: i64,
    pub data: String,
}

const RECORD_COLUMNS: &str =
    "record_id, cycle, state, attempts, last_attempt_at, opened_at, changed_at, absent, data";

fn record_row(row: &rusqlite::Row) -> rusqlite::Result<Record> {
    let state: String = row.get(2)?;
    Ok(Record {
        id: row.get(0)?,
        cycle: row.get(1)?,
        state: RecordState::parse(&state),
        attempts: row.get(3)?,
        last_attempt_at: row.get(4)?,
        opened_at: row.get(5)?,
        changed_at: row.get(6)?,
        absent: row.get(7)?,
        data: row.get(8)?,
    })
}

impl Store {
    /// Every record of a follow-up, resolved ones included, by ID.
    pub fn tracked(&self, followup: &str) -> anyhow::Result<IdMap<Tracked>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT record_id, cycle, state, absent, hash FROM records WHERE followup = ?1",
        )?;
        let mut rows = stmt.query([followup])?;
        let mut out = IdMap::default();
        while let Some(row) = rows.next()? {
            let state: String = row.get(2)?;
            out.insert(
                row.get(0)?,
                Tracked {
                    cycle: row.get(1)?,
                    state: RecordState::parse(&state),
                    absent: row.get(3)?,
                    hash: row.get(4)?,
                },
            );
        }
        Ok(out)
    }

    /// Opens a record in `cycle` (a new one, or the return of a resolved one).
    pub fn open_record(
        &self,
        followup: &str,
        polled: &Polled,
        cycle: i64,
        state: RecordState,
        now: Seconds,
    ) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO records (followup, record_id, cycle, state, attempts, last_attempt_at, opened_at, changed_at, absent, hash, data)
                 VALUES (?1, ?2, ?3, ?4, 0, NULL, ?5, ?5, 0, ?6, ?7)
                 ON CONFLICT (followup, record_id) DO UPDATE SET cycle = ?3, state = ?4, attempts = 0,
                   last_attempt_at = NULL, opened_at = ?5, changed_at = ?5, absent = 0, hash = ?6,
                   data = COALESCE(?7, data)",
            )?
            .execute(params![followup, polled.id, cycle, state, now, polled.hash, polled.data])?;
        Ok(())
    }

    /// A known record seen again: new data, if it changed, and no absences.
    pub fn refresh_record(
        &self,
        followup: &str,
        polled: &Polled,
        now: Seconds,
    ) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE records SET hash = ?3, data = COALESCE(?4, data), absent = 0,
                   changed_at = CASE WHEN hash = ?3 THEN changed_at ELSE ?5 END
                 WHERE followup = ?1 AND record_id = ?2",
            )?
            .execute(params![followup, polled.id, polled.hash, polled.data, now])?;
        Ok(())
    }

    pub fn set_absent(&self, followup: &str, id: &str, absent: i64) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE records SET absent = ?3 WHERE followup = ?1 AND record_id = ?2",
            )?
            .execute(params![followup, id, absent])?;
        Ok(())
    }

    pub fn set_record_state(
        &self,
        followup: &str,
        id: &str,
        state: RecordState,
        now: Seconds,
    ) -> anyhow::Result<()> {
        self.conn
            .prepare_cached("UPDATE records SET state = ?3, changed_at = ?4 WHERE followup = ?1 AND record_id = ?2")?
            .execute(params![followup, id, state, now])?;
        Ok(())
    }

    pub fn delete_record(&self, followup: &str, id: &str) -> anyhow::Result<()> {
        self.conn
            .prepare_cached("DELETE FROM records WHERE followup = ?1 AND record_id = ?2")?
            .execute(params![followup, id])?;
        Ok(())
    }

    pub fn record(&self, followup: &str, id: &str) -> anyhow::Result<Option<Record>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE followup = ?1 AND record_id = ?2"
            ))?
            .query_row(params![followup, id], record_row)
            .optional()?)
    }

    /// Open records whose next attempt is due: fewer than `max_attempts`
    /// made, and none yet or the last at or before `last_before`.
    pub fn due_records(
        &self,
        followup: &str,
        max_attempts: i64,
        last_before: Seconds,
    ) -> anyhow::Result<Vec<Record>> {
        self.open_records(
            followup,
            "attempts < ?2 AND (last_attempt_at IS NULL OR last_attempt_at <= ?3)",
            max_attempts,
            last_before,
        )
    }

    /// Open records with every attempt made, the last at or before `last_before`.
    pub fn spent_records(
        &self,
        followup: &str,
        max_attempts: i64,
        last_before: Seconds,
    ) -> anyhow::Result<Vec<Record>> {
        self.open_records(
            followup,
            "attempts >= ?2 AND last_attempt_at <= ?3",
            max_attempts,
            last_before,
        )
    }

    /// Open records meeting `condition` (over `?2` attempts, `?3` a time).
    fn open_records(
        &self,
        followup: &str,
        condition: &str,
        attempts: i64,
        at: Seconds,
    ) -> anyhow::Result<Vec<Record>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE followup = ?1 AND state = 'open' AND {condition}"
        ))?;
        let rows = stmt.query_map(params![followup, attempts, at], record_row)?;
        Ok(oldest_first(rows.collect::<Result<_, _>>()?))
    }

    /// Counts of a follow-up's records by state.
    pub fn record_counts(&self, followup: &str) -> anyhow::Result<HashMap<RecordState, i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT state, COUNT(*) FROM records WHERE followup = ?1 GROUP BY state",
        )?;
        let rows = stmt.query_map([followup], |row| {
            let state: String = row.get(0)?;
            Ok((RecordState::parse(&state), row.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The earliest time an open record's next attempt falls due, given the
    /// follow-up's notification frequency in seconds.
    pub fn next_due(
        &self,
        followup: &str,
        max_attempts: i64,
        every: Seconds,
    ) -> anyhow::Result<Option<Seconds>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT MIN(COALESCE(last_attempt_at + ?3, opened_at)) FROM records
                 WHERE followup = ?1 AND state = 'open' AND attempts < ?2",
            )?
            .query_row(params![followup, max_attempts, every], |row| row.get(0))?)
    }

    /// Counts an attempt as made, at once.
    pub fn count_attempt(
        &self,
        followup: &str,
        id: &str,
        attempt: i64,
        now: Seconds,
    ) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE records SET attempts = ?3, last_attempt_at = ?4, changed_at = ?4
                 WHERE followup = ?1 AND record_id = ?2",
            )?
            .execute(params![followup, id, attempt, now])?;
        Ok(())
    }
}
