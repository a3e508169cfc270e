//! Attempts and their deliveries. A delivery is stored as pending before it
//! is sent and marked after, so a crash repeats at most what was in flight.

use rusqlite::params;

use super::{Seconds, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> DeliveryState {
        match s {
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            _ => DeliveryState::Pending,
        }
    }
}

/// A delivery as an attempt creates it.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub channel: String,
    pub target: String,
    /// The recipient (or, for a room, the recipients) as JSON.
    pub recipient: serde_json::Value,
    /// What to send, rendered once when the attempt starts.
    pub payload: serde_json::Value,
    /// `Failed` with a detail when it cannot be sent at all (an unknown user).
    pub state: DeliveryState,
    pub detail: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub cycle: i64,
    pub attempt: i64,
    pub channel: String,
    pub target: String,
    pub recipient: String,
    pub payload: String,
    pub state: DeliveryState,
    pub tries: i64,
    pub detail: Option<String>,
    pub updated_at: Seconds,
    /// The order of storing: the order of the attempt's targets.
    pub seq: i64,
}

const DELIVERY_COLUMNS: &str = "id, followup, record_id, cycle, attempt, channel, target, recipient, payload, state, tries, detail, updated_at";
/// The columns read back, with the order deliveries were stored in.
const DELIVERY_READ: &str = "id, followup, record_id, cycle, attempt, channel, target, recipient, payload, state, tries, detail, updated_at, rowid";

fn delivery_row(row: &rusqlite::Row) -> rusqlite::Result<Delivery> {
    let state: String = row.get(9)?;
    Ok(Delivery {
        id: row.get(0)?,
        cycle: row.get(3)?,
        attempt: row.get(4)?,
        channel: row.get(5)?,
        target: row.get(6)?,
        recipient: row.get(7)?,
        payload: row.get(8)?,
        state: DeliveryState::parse(&state),
        tries: row.get(10)?,
        detail: row.get(11)?,
        updated_at: row.get(12)?,
        seq: row.get(13)?,
    })
}

/// An attempt that has not closed: some of its deliveries may be pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAttempt {
    pub record_id: String,
    pub cycle: i64,
    pub attempt: i64,
}

impl Store {
    /// Stores a new attempt with its deliveries.
    pub fn start_attempt(
        &self,
        followup: &str,
        record_id: &str,
        cycle: i64,
        attempt: i64,
        deliveries: &[NewDelivery],
        now: Seconds,
    ) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO attempts (followup, record_id, cycle, attempt, started_at, closed_at) VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
            )?
            .execute(params![followup, record_id, cycle, attempt, now])?;
        let mut insert = self.conn.prepare_cached(&format!(
            "INSERT INTO deliveries ({DELIVERY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11, ?12)"
        ))?;
        for d in deliveries {
            insert.execute(params![
                d.id,
                followup,
                record_id,
                cycle,
                attempt,
                d.channel,
                d.target,
                d.recipient.to_string(),
                d.payload.to_string(),
                d.state.as_str(),
                d.detail,
                now
            ])?;
        }
        Ok(())
    }

    /// Marks one try of a delivery.
    pub fn mark_delivery(
        &self,
        id: &str,
        state: DeliveryState,
        detail: Option<&str>,
        now: Seconds,
    ) -> anyhow::Result<()> {
        self.conn
            .prepare_cached("UPDATE deliveries SET state = ?2, detail = ?3, tries = tries + 1, updated_at = ?4 WHERE id = ?1")?
            .execute(params![id, state.as_str(), detail, now])?;
        Ok(())
    }

    /// Gives up on a pending delivery without trying it again.
    pub fn fail_delivery(&self, id: &str, detail: &str, now: Seconds) -> anyhow::Result<()> {
        self.conn
            .prepare_cached("UPDATE deliveries SET state = 'failed', detail = ?2, updated_at = ?3 WHERE id = ?1")?
            .execute(params![id, detail, now])?;
        Ok(())
    }

    pub fn attempt_deliveries(
        &self,
        followup: &str,
        record_id: &str,
        cycle: i64,
        attempt: i64,
    ) -> anyhow::Result<Vec<Delivery>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DELIVERY_READ} FROM deliveries
             WHERE followup = ?1 AND record_id = ?2 AND cycle = ?3 AND attempt = ?4"
        ))?;
        let rows = stmt.query_map(params![followup, record_id, cycle, attempt], delivery_row)?;
        // Sorted here: see `records::oldest_first` for why not `ORDER BY`.
        let mut deliveries: Vec<Delivery> = rows.collect::<Result<_, _>>()?;
        deliveries.sort_by_key(|d| d.seq);
        Ok(deliveries)
    }

    /// Every delivery of a record, oldest first.
    pub fn record_deliveries(
        &self,
        followup: &str,
        record_id: &str,
    ) -> anyhow::Result<Vec<Delivery>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DELIVERY_READ} FROM deliveries WHERE followup = ?1 AND record_id = ?2 ORDER BY cycle, attempt, rowid"
        ))?;
        let rows = stmt.query_map(params![followup, record_id], delivery_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The attempts of a follow-up that have not closed.
    pub fn open_attempts(&self, followup: &str) -> anyhow::Result<Vec<OpenAttempt>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT started_at, record_id, cycle, attempt FROM attempts WHERE followup = ?1 AND closed_at IS NULL",
        )?;
        let rows = stmt.query_map([followup], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                OpenAttempt {
                    record_id: row.get(1)?,
                    cycle: row.get(2)?,
                    attempt: row.get(3)?,
                },
            ))
        })?;
        // Oldest first, sorted here: see `records::oldest_first`.
        let mut open: Vec<(i64, OpenAttempt)> = rows.collect::<Result<_, _>>()?;
        open.sort_by(|a, b| (a.0, &a.1.record_id).cmp(&(b.0, &b.1.record_id)));
        Ok(open.into_iter().map(|(_, a)| a).collect())
    }

    pub fn close_attempt(
        &self,
        followup: &str,
        record_id: &str,
        cycle: i64,
        attempt: i64,
        now: Seconds,
    ) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE attempts SET closed_at = ?5 WHERE followup = ?1 AND record_id = ?2 AND cycle = ?3 AND attempt = ?4",
            )?
            .execute(params![followup, record_id, cycle, attempt, now])?;
        Ok(())
    }

    /// How many of an attempt's deliveries were delivered, of how many.
    pub fn delivery_counts(
        &self,
        followup: &str,
        record_id: &str,
        cycle: i64,
        attempt: i64,
    ) -> anyhow::Result<(i64, i64)> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT COALESCE(SUM(state = 'delivered'), 0), COUNT(*) FROM deliveries
                 WHERE followup = ?1 AND record_id = ?2 AND cycle = ?3 AND attempt = ?4",
            )?
            .query_row(params![followup, record_id, cycle, attempt], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?)
    }
}
