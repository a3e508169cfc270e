//! Events: every step of a pass writes one. They are the history that
//! `followup history` shows; secrets never reach them.

use rusqlite::params;
use serde::Serialize;

use super::{Seconds, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventKind {
    PollSucceeded,
    PollFailed,
    PollSkipped,
    PollIdentityChanged,
    RecordOpened,
    RecordBaselined,
    RecordDuplicate,
    RecordResolved,
    AttemptStarted,
    AttemptClosed,
    NotificationSent,
    NotificationFailed,
    NotificationDeferred,
    RecipientUnresolved,
    AttemptsExhausted,
    ActionSucceeded,
    ActionFailed,
    ConversationUpdated,
    ConversationUpdateFailed,
}

impl EventKind {
    pub const ALL: [EventKind; 19] = [
        EventKind::PollSucceeded,
        EventKind::PollFailed,
        EventKind::PollSkipped,
        EventKind::PollIdentityChanged,
        EventKind::RecordOpened,
        EventKind::RecordBaselined,
        EventKind::RecordDuplicate,
        EventKind::RecordResolved,
        EventKind::AttemptStarted,
        EventKind::AttemptClosed,
        EventKind::NotificationSent,
        EventKind::NotificationFailed,
        EventKind::NotificationDeferred,
        EventKind::RecipientUnresolved,
        EventKind::AttemptsExhausted,
        EventKind::ActionSucceeded,
        EventKind::ActionFailed,
        EventKind::ConversationUpdated,
        EventKind::ConversationUpdateFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PollSucceeded => "poll.succeeded",
            EventKind::PollFailed => "poll.failed",
            EventKind::PollSkipped => "poll.skipped",
            EventKind::PollIdentityChanged => "poll.identity_changed",
            EventKind::RecordOpened => "record.opened",
            EventKind::RecordBaselined => "record.baselined",
            EventKind::RecordDuplicate => "record.duplicate",
            EventKind::RecordResolved => "record.resolved",
            EventKind::AttemptStarted => "attempt.started",
            EventKind::AttemptClosed => "attempt.closed",
            EventKind::NotificationSent => "notification.sent",
            EventKind::NotificationFailed => "notification.failed",
            EventKind::NotificationDeferred => "notification.deferred",
            EventKind::RecipientUnresolved => "recipient.unresolved",
            EventKind::AttemptsExhausted => "attempts.exhausted",
            EventKind::ActionSucceeded => "action.succeeded",
            EventKind::ActionFailed => "action.failed",
            EventKind::ConversationUpdated => "conversation.updated",
            EventKind::ConversationUpdateFailed => "conversation.update_failed",
        }
    }
}

/// One event. `at` is seconds since the epoch.
#[derive(Debug, Clone, Default)]
pub struct Event {
    pub at: Seconds,
    pub event: String,
    pub followup: Option<String>,
    pub record: Option<String>,
    pub cycle: Option<i64>,
    pub attempt: Option<i64>,
    pub recipient: Option<String>,
    pub channel: Option<String>,
    pub detail: Option<String>,
}

impl Event {
    pub fn new(kind: EventKind, at: Seconds, followup: &str) -> Event {
        Event {
            at,
            event: kind.as_str().to_owned(),
            followup: Some(followup.to_owned()),
            ..Event::default()
        }
    }

    pub fn record(mut self, record: &str, cycle: i64) -> Event {
        self.record = Some(record.to_owned());
        self.cycle = Some(cycle);
        self
    }

    pub fn attempt(mut self, attempt: i64) -> Event {
        self.attempt = Some(attempt);
        self
    }

    pub fn recipient(mut self, recipient: &str) -> Event {
        self.recipient = Some(recipient.to_owned());
        self
    }

    pub fn channel(mut self, channel: &str) -> Event {
        self.channel = Some(channel.to_owned());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Event {
        self.detail = Some(detail.into());
        self
    }
}

/// Which events `history` shows.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub followup: Option<String>,
    pub record: Option<String>,
    pub event: Option<String>,
    pub since: Option<Seconds>,
    /// Only events written after this sequence number (one pass's events).
    pub after_seq: Option<i64>,
}

impl Store {
    pub fn add_event(&self, e: &Event) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO events (at, event, followup, record, cycle, attempt, recipient, channel, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                e.at,
                e.event,
                e.followup,
                e.record,
                e.cycle,
                e.attempt,
                e.recipient,
                e.channel,
                e.detail
            ])?;
        Ok(())
    }

    /// Events matching the filter, oldest first.
    pub fn events(&self, filter: &EventFilter) -> anyhow::Result<Vec<Event>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, event, followup, record, cycle, attempt, recipient, channel, detail FROM events
             WHERE (?1 IS NULL OR followup = ?1) AND (?2 IS NULL OR record = ?2)
               AND (?3 IS NULL OR event = ?3 OR event LIKE ?3 || '.%') AND (?4 IS NULL OR at >= ?4)
               AND (?5 IS NULL OR seq > ?5)
             ORDER BY seq",
        )?;
        let rows = stmt.query_map(
            params![
                filter.followup,
                filter.record,
                filter.event,
                filter.since,
                filter.after_seq
            ],
            |row| {
                Ok(Event {
                    at: row.get(0)?,
                    event: row.get(1)?,
                    followup: row.get(2)?,
                    record: row.get(3)?,
                    cycle: row.get(4)?,
                    attempt: row.get(5)?,
                    recipient: row.get(6)?,
                    channel: row.get(7)?,
                    detail: row.get(8)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `--retain`: forgets what is older than `before`: events, the
    /// deliveries of attempts closed before it, and records resolved before
    /// it (a return then opens cycle 1 again). Returns how many events,
    /// attempts and records went.
    pub fn prune(&self, before: Seconds) -> anyhow::Result<(usize, usize, usize)> {
        let events = self
            .conn
            .execute("DELETE FROM events WHERE at < ?1", [before])?;
        self.prune_conversations(before)?;
        self.conn.execute(
            "DELETE FROM deliveries WHERE (followup, record_id, cycle, attempt) IN
               (SELECT followup, record_id, cycle, attempt FROM attempts WHERE closed_at < ?1)",
            [before],
        )?;
        let attempts = self
            .conn
            .execute("DELETE FROM attempts WHERE closed_at < ?1", [before])?;
        let records = self.conn.execute(
            "DELETE FROM records WHERE state = 'resolved' AND changed_at < ?1",
            [before],
        )?;
        Ok((events, attempts, records))
    }
}
