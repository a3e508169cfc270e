//! What the store knows of users: the channel each last chatted on, as
//! `followup users seen` recorded it; and when the last pass ran.

use rusqlite::params;

use super::{Seconds, Store};

/// A user's last chat, as recorded by `users seen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub user: String,
    pub channel: String,
    pub at: Seconds,
}

impl Store {
    /// Records a chat; an older one than the stored one changes nothing,
    /// so that a chatbot's log fed out of order keeps the newest.
    pub fn user_seen(&self, seen: &Seen) -> anyhow::Result<bool> {
        let changed = self.conn.execute(
            "INSERT INTO users_seen (user, channel, at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user) DO UPDATE SET channel = excluded.channel, at = excluded.at
             WHERE excluded.at >= users_seen.at",
            params![seen.user, seen.channel, seen.at],
        )?;
        Ok(changed > 0)
    }

    /// Every recorded chat, by user id.
    pub fn users_seen(&self) -> anyhow::Result<Vec<Seen>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT user, channel, at FROM users_seen ORDER BY user")?;
        let rows = stmt.query_map([], |row| {
            Ok(Seen {
                user: row.get(0)?,
                channel: row.get(1)?,
                at: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The clock of the latest pass that changed this database: its
    /// latest poll or event (every change a pass makes comes with one), so
    /// that an idle pass need not write anything to be remembered.
    pub fn last_pass_at(&self) -> anyhow::Result<Option<Seconds>> {
        Ok(self.conn.query_row(
            "SELECT MAX(m) FROM (SELECT MAX(last_poll_at) AS m FROM followups
                                 UNION ALL SELECT MAX(at) FROM events)",
            [],
            |row| row.get(0),
        )?)
    }

    /// The sequence number of the newest event, to read a pass's events
    /// once it ends.
    pub fn last_event_seq(&self) -> anyhow::Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |row| {
                row.get(0)
            })?)
    }
}
