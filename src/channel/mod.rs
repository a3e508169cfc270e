//! Channels: where deliveries go. One file per kind behind one trait, the
//! registry of a pass's opened channels (rates, strikes, the shared HTTP
//! agents) and the bounded pool of senders; the pass never knows which
//! kind it talks to, and no channel touches the store.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::message::Composed;

mod command;
mod console;
pub mod dry_run;
mod email;
mod file;
mod google_chat;
mod http;
mod limit;
mod pool;
mod registry;
mod settings;
mod slack;
mod teams;
mod webhook;

pub use pool::{Settled, send_all};
pub use registry::Channels;
pub use settings::{COMMAND_TIMEOUT, Kind, SLACK_API_URL, Settings, TOTAL_TIMEOUT};

/// One delivery, owned, ready to go: what a sender needs and nothing of
/// the store. Serialized, it is the JSON line of the console and file
/// channels and the stdin of the command channel (DESIGN.md).
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub at: String,
    pub channel: String,
    pub delivery: String,
    pub followup: String,
    pub record: String,
    pub cycle: i64,
    pub attempt: i64,
    pub attempts: i64,
    pub recipient: Value,
    #[serde(flatten)]
    pub message: Composed,
    /// The recipient's id, or `room` / `room-rung<N>`.
    #[serde(skip)]
    pub target: String,
    /// The follow-up's name, for templates and e-mail subjects.
    #[serde(skip)]
    pub followup_name: String,
    /// The record's data (the webhook envelope carries it; the command
    /// channel's argv may read it).
    #[serde(skip)]
    pub data: Value,
    /// Whether this delivery belongs to its conversation
    /// (`message.conversation.thread`): channels that can thread reply to
    /// the conversation's first message.
    #[serde(skip)]
    pub thread: bool,
    /// The service's reference to the conversation's first delivered
    /// message (Slack's `channel` and `ts`, an e-mail `message_id`), once
    /// one was delivered.
    #[serde(skip)]
    pub reply_to: Option<Value>,
    /// Set on the job that edits the first message of a conversation whose
    /// record left the follow-up; `reply_to` names that message.
    #[serde(skip)]
    pub closing: Option<Closing>,
}

/// Why a conversation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    Resolved,
    Exhausted,
}

impl Closing {
    pub fn as_str(self) -> &'static str {
        match self {
            Closing::Resolved => "resolved",
            Closing::Exhausted => "exhausted",
        }
    }

    pub fn parse(s: &str) -> Closing {
        match s {
            "exhausted" => Closing::Exhausted,
            _ => Closing::Resolved,
        }
    }
}

impl Job {
    /// The console and file channels' line, without its newline.
    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("a delivery serializes")
    }

    /// `followup.*` for the templates a channel renders at sending time.
    pub fn followup_scope(&self) -> Value {
        serde_json::json!({
            "id": self.followup,
            "name": self.followup_name,
            "record_id": self.record,
            "cycle": self.cycle,
            "attempt": self.attempt,
            "attempts": self.attempts,
            "data": self.data,
        })
    }

    /// The id of this conversation's first delivery (attempt 1 of the
    /// same record, cycle, channel and target): what threads later
    /// attempts to the first one without asking the store.
    pub fn conversation_root(&self) -> String {
        crate::pass::attempt::delivery_id(&[
            &self.followup,
            &self.record,
            &self.cycle.to_string(),
            "1",
            &self.channel,
            &self.target,
        ])
    }

    /// Which conversation this delivery belongs to.
    pub fn conversation(&self) -> crate::store::ConversationKey<'_> {
        crate::store::ConversationKey {
            followup: &self.followup,
            record_id: &self.record,
            cycle: self.cycle,
            channel: &self.channel,
            target: &self.target,
        }
    }

    /// The conversation's key: [`key_of`] its root.
    pub fn conversation_key(&self) -> String {
        key_of(&self.conversation_root())
    }

    /// The people a delivery names: the recipient, or a room's people.
    pub fn people(&self) -> Vec<&Value> {
        match self.recipient.get("recipients").and_then(Value::as_array) {
            Some(people) => people.iter().collect(),
            None => vec![&self.recipient],
        }
    }
}

/// 32 hex digits of the SHA-256 of a delivery id: short, stable, and free
/// of the record id's characters.
pub fn key_of(delivery: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(delivery.as_bytes());
    hash[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// What became of one try of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// With the service's reference to the message, where it gives one
    /// (what later attempts reply to).
    Delivered(Option<Value>),
    /// Worth trying again (a 429, a 5xx, a timeout, a broken connection,
    /// a full disk); `retry_after` is the service's own word on when.
    Transient {
        detail: String,
        retry_after: Option<Duration>,
    },
    /// Trying again will not help (another 4xx, an unknown user, a bad
    /// setting).
    Permanent { detail: String },
}

impl Outcome {
    pub fn delivered() -> Outcome {
        Outcome::Delivered(None)
    }

    pub fn transient(detail: impl Into<String>) -> Outcome {
        Outcome::Transient {
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn permanent(detail: impl Into<String>) -> Outcome {
        Outcome::Permanent {
            detail: detail.into(),
        }
    }
}

/// A channel kind's sender. Shared by the pool's threads: `deliver` takes
/// `&self`, and whatever a channel keeps across deliveries (a file handle,
/// an agent) is its own, behind its own lock.
pub trait Channel: Send + Sync {
    /// What the service would receive for `job`, as JSON: the request body
    /// of an HTTP channel, the message of e-mail, argv and stdin of a
    /// command. `--dry-run` and `preview` show it; no secret is in it.
    fn payload(&self, job: &Job) -> Value;

    /// Sends `job` once; the pool retries and rate-limits. `deadline` is
    /// the end of the pass: no wait may pass it.
    fn deliver(&self, job: &Job, deadline: Option<Instant>) -> Outcome;

    /// Whether later attempts reply to the conversation's first message
    /// (`reply_to`): Slack's Web API, e-mail, Google Chat.
    fn threads(&self) -> bool {
        false
    }

    /// Whether it can edit a conversation's first message once the record
    /// left the follow-up (a `job` with `closing`): Slack's Web API only.
    fn edits(&self) -> bool {
        false
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A delivery to Alice, for the channels' unit tests.
    pub fn job() -> Job {
        Job {
            at: "2026-01-05T09:00:00Z".into(),
            channel: "test".into(),
            delivery: "approvals/a1/1/1/test/alice".into(),
            followup: "approvals".into(),
            record: "a1".into(),
            cycle: 1,
            attempt: 1,
            attempts: 3,
            recipient: serde_json::json!({"id": "alice", "name": "Alice Doe", "email": "alice@acme.com"}),
            message: Composed {
                text: Some("Hello".into()),
                ..Composed::default()
            },
            target: "alice".into(),
            followup_name: "Approvals".into(),
            data: serde_json::json!({"number": "RITM1"}),
            thread: true,
            reply_to: None,
            closing: None,
        }
    }
}
