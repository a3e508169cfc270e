//! Conversations (DESIGN.md, "Conversations"): per record, cycle, channel
//! and target, the service's reference to the first delivered message
//! (Slack's `channel` and `ts`, an e-mail `Message-ID`, a Google Chat
//! thread key), so that later attempts reply to it; stored in the
//! transaction that marks that delivery, kept for the cycle. When the
//! record is resolved or exhausted its conversations end: `closing` while
//! the edit of the first message is due, `closed` once it was tried (or
//! none was asked for).

use rusqlite::{OptionalExtension, params};

use super::{Seconds, Store};

/// One conversation, as `explain` shows it and the closing edit reads it.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub record_id: String,
    pub cycle: i64,
    pub channel: String,
    pub target: String,
    /// The id of its first delivered delivery.
    pub delivery: String,
    /// The service's reference, as JSON.
    pub reference: serde_json::Value,
    /// `open`, `closing` or `closed`.
    pub state: String,
    /// `resolved` or `exhausted`, once ended.
    pub ended: Option<String>,
    pub detail: Option<String>,
    pub updated_at: Seconds,
}

/// The stored delivery of a conversation's first message (gone when
/// `--retain` pruned it).
#[derive(Debug, Clone)]
pub struct FirstMessage {
    pub recipient: String,
    pub payload: String,
    pub attempt: i64,
}

/// Which conversation: the parts of a delivery id but the attempt.
#[derive(Debug, Clone, Copy)]
pub struct ConversationKey<'a> {
    pub followup: &'a str,
    pub record_id: &'a str,
    pub cycle: i64,
    pub channel: &'a str,
    pub target: &'a str,
}

const COLUMNS: &str =
    "record_id, cycle, channel, target, delivery, reference, state, ended, detail, updated_at";

fn row(row: &rusqlite::Row) -> rusqlite::Result<Conversation> {
    let reference: String = row.get(5)?;
    Ok(Conversation {
        record_id: row.get(0)?,
        cycle: row.get(1)?,
        channel: row.get(2)?,
        target: row.get(3)?,
        delivery: row.get(4)?,
        reference: serde_json::from_str(&reference).unwrap_or_default(),
        state: row.get(6)?,
        ended: row.get(7)?,
        detail: row.get(8)?,
        updated_at: row.get(9)?,
    })
}

impl Store {
    /// Starts a conversation with its first delivered message; a later
    /// delivery of the same conversation changes nothing.
    pub fn start_conversation(
        &self,
        key: ConversationKey,
        delivery: &str,
        reference: &serde_json::Value,
        now: Seconds,
    ) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO conversations (followup, record_id, cycle, channel, target, delivery, reference, state, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8)",
            )?
            .execute(params![
                key.followup,
                key.record_id,
                key.cycle,
                key.channel,
                key.target,
                delivery,
                reference.to_string(),
                now
            ])?;
        Ok(())
    }

    /// The reference of an open conversation's first message.
    pub fn conversation_reference(
        &self,
        key: ConversationKey,
    ) -> anyhow::Result<Option<serde_json::Value>> {
        let text: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT reference FROM conversations WHERE followup = ?1 AND record_id = ?2
                 AND cycle = ?3 AND channel = ?4 AND target = ?5 AND state = 'open'",
            )?
            .query_row(
                params![
                    key.followup,
                    key.record_id,
                    key.cycle,
                    key.channel,
                    key.target
                ],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Ends a record's open conversations of `cycle` (`ended`: resolved or
    /// exhausted); with `edit`, their first messages are to be edited.
    pub fn end_conversations(
        &self,
        followup: &str,
        record_id: &str,
        cycle: i64,
        ended: &str,
        edit: bool,
        now: Seconds,
    ) -> anyhow::Result<()> {
        let (state, detail) = match edit {
            true => ("closing", None),
            false => (
                "closed",
                Some("`update_on_resolved: false`: left as it was"),
            ),
        };
        self.conn
            .prepare_cached(
                "UPDATE conversations SET state = ?4, ended = ?5, detail = ?6, updated_at = ?7
                 WHERE followup = ?1 AND record_id = ?2 AND cycle = ?3 AND state = 'open'",
            )?
            .execute(params![
                followup, record_id, cycle, state, ended, detail, now
            ])?;
        Ok(())
    }

    /// The follow-up's conversations whose first message is to be edited,
    /// with that message's stored delivery (recipient and payload).
    pub fn closing_conversations(
        &self,
        followup: &str,
    ) -> anyhow::Result<Vec<(Conversation, Option<FirstMessage>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.record_id, c.cycle, c.channel, c.target, c.delivery, c.reference, c.state, c.ended,
                    c.detail, c.updated_at, d.recipient, d.payload, d.attempt
             FROM conversations c LEFT JOIN deliveries d ON d.id = c.delivery
             WHERE c.state = 'closing' AND c.followup = ?1",
        )?;
        let rows = stmt.query_map([followup], |r| {
            let first = match r.get::<_, Option<String>>(10)? {
                Some(recipient) => Some(FirstMessage {
                    recipient,
                    payload: r.get(11)?,
                    attempt: r.get(12)?,
                }),
                None => None,
            };
            Ok((row(r)?, first))
        })?;
        let mut closing: Vec<_> = rows.collect::<Result<_, _>>()?;
        closing.sort_by(|a, b| (&a.0.record_id, &a.0.target).cmp(&(&b.0.record_id, &b.0.target)));
        Ok(closing)
    }

    /// The follow-ups with a conversation whose edit is due.
    pub fn followups_with_closing_conversations(
        &self,
    ) -> anyhow::Result<std::collections::HashSet<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT followup FROM conversations WHERE state = 'closing'",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Closes a conversation after its edit was tried, saying how it went.
    pub fn close_conversation(
        &self,
        key: ConversationKey,
        detail: &str,
        now: Seconds,
    ) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE conversations SET state = 'closed', detail = ?6, updated_at = ?7
                 WHERE followup = ?1 AND record_id = ?2 AND cycle = ?3 AND channel = ?4 AND target = ?5",
            )?
            .execute(params![
                key.followup,
                key.record_id,
                key.cycle,
                key.channel,
                key.target,
                detail,
                now
            ])?;
        Ok(())
    }

    /// Every conversation of a record, oldest cycle first (`explain`). A
    /// database from before conversations (read, not migrated) has none.
    pub fn record_conversations(
        &self,
        followup: &str,
        record_id: &str,
    ) -> anyhow::Result<Vec<Conversation>> {
        let exists: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'conversations')",
            [],
            |r| r.get(0),
        )?;
        if !exists {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM conversations WHERE followup = ?1 AND record_id = ?2
             ORDER BY cycle, channel, target"
        ))?;
        let rows = stmt.query_map(params![followup, record_id], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `--retain`: forgets conversations closed before `before`.
    pub fn prune_conversations(&self, before: Seconds) -> anyhow::Result<()> {
        self.conn.execute(
            "DELETE FROM conversations WHERE state = 'closed' AND updated_at < ?1",
            [before],
        )?;
        Ok(())
    }
}
