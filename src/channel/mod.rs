//! Channels: where deliveries go. One file per kind, behind one trait; the
//! pass never knows which kind it talks to.

use serde::Serialize;
use serde_json::Value;

use crate::definition::model::ChannelKind;
use crate::message::Composed;
use crate::template::Encoding;
use crate::tenant;

mod console;
pub mod dry_run;
mod file;

/// One delivery, ready to go.
#[derive(Debug, Serialize)]
pub struct Outgoing<'a> {
    pub at: String,
    pub channel: &'a str,
    pub delivery: &'a str,
    pub followup: &'a str,
    pub record: &'a str,
    pub cycle: i64,
    pub attempt: i64,
    pub attempts: i64,
    pub recipient: &'a Value,
    #[serde(flatten)]
    pub message: &'a Composed,
}

/// What became of one try of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Worth trying again later (a 429, a 5xx, a timeout, a full disk).
    Transient {
        detail: String,
    },
    /// Trying again will not help (a 4xx, an unknown user).
    Permanent {
        detail: String,
    },
}

pub trait Channel {
    fn deliver(&mut self, outgoing: &Outgoing) -> Outcome;
}

/// How inserted values are escaped in this channel's text.
pub fn encoding(kind: ChannelKind) -> Encoding {
    match kind {
        ChannelKind::Slack => Encoding::SlackMrkdwn,
        ChannelKind::Email => Encoding::Html,
        _ => Encoding::Plain,
    }
}

/// Whether this version delivers to channels of this kind.
fn delivers(kind: ChannelKind) -> bool {
    matches!(kind, ChannelKind::Console | ChannelKind::File)
}

/// Opens the channel a delivery goes through; in a dry run, a stand-in that
/// prints instead of sending (a kind this version cannot deliver to fails
/// the same way in both).
pub fn open(config: &tenant::Channel, dry_run: bool) -> Box<dyn Channel> {
    if dry_run && delivers(config.kind) {
        return Box::new(dry_run::DryRun);
    }
    match config.kind {
        ChannelKind::Console => Box::new(console::Console),
        ChannelKind::File => Box::new(file::File::new(
            config
                .path
                .clone()
                .expect("rules require `path` for a file channel"),
        )),
        other => Box::new(Unavailable(other)),
    }
}

/// A channel kind this build does not deliver to yet: every delivery fails
/// permanently, saying so, rather than pretending to send.
struct Unavailable(ChannelKind);

impl Channel for Unavailable {
    fn deliver(&mut self, _: &Outgoing) -> Outcome {
        Outcome::Permanent {
            detail: format!(
                "channels of type `{}` are not supported by this version of followup",
                self.0.as_str()
            ),
        }
    }
}
