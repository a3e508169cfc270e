//! A tenant channel, checked: one variant per kind, each holding exactly
//! its own settings, so that no channel has to `expect` a key. This is the
//! one place that says, per kind, whether a channel is a room or reaches
//! a person, which address it needs and how inserted text is escaped.

use std::path::PathBuf;
use std::time::Duration;

use crate::template::{Encoding, Template};

/// The limits of every HTTP channel's request (DESIGN.md, "Delivery engine").
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
/// The command channel's default time limit.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Where Slack's Web API lives unless `api_url` says otherwise.
pub const SLACK_API_URL: &str = "https://slack.com/api";

#[derive(Debug, Clone)]
pub struct Settings {
    pub kind: Kind,
    /// The least time between two deliveries (`rate: 1/s`).
    pub rate: Option<Duration>,
    /// An extra trusted CA (PEM), resolved against tenant.yaml's directory.
    pub ca_file: Option<PathBuf>,
}

/// Templates here may read `global.*` and `env.*` (the command channel's
/// argv also `recipient.*` and `followup.*`); they are rendered when the
/// channel opens, once per pass.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A Slack incoming webhook: a room.
    SlackWebhook {
        webhook_url: Template,
    },
    /// Slack's Web API with a bot token: direct messages by Slack user id.
    SlackBot {
        bot_token: Template,
        api_url: Template,
    },
    /// A Teams Workflows webhook: a room.
    Teams {
        webhook_url: Template,
    },
    /// A Google Chat space's webhook: a room.
    GoogleChat {
        webhook_url: Template,
    },
    Email {
        smtp_url: Template,
        from: Template,
    },
    Webhook {
        url: Template,
        headers: Vec<(String, Template)>,
        signing_secret: Option<Template>,
        timeout: Duration,
    },
    Console,
    /// JSON lines appended to a file, resolved against tenant.yaml's directory.
    File {
        path: PathBuf,
    },
    Command {
        argv: Vec<Template>,
        timeout: Duration,
        /// tenant.yaml's directory: where it runs, and what a relative
        /// program path is relative to.
        dir: PathBuf,
    },
}

impl Settings {
    /// Room channels get one delivery per record and attempt naming all
    /// its recipients; person channels one delivery per recipient.
    pub fn is_room(&self) -> bool {
        matches!(
            self.kind,
            Kind::SlackWebhook { .. } | Kind::Teams { .. } | Kind::GoogleChat { .. }
        )
    }

    /// The recipient field that holds this channel's address, if it needs one.
    pub fn address_field(&self) -> Option<&'static str> {
        match self.kind {
            Kind::SlackBot { .. } => Some("slack"),
            Kind::Email { .. } => Some("email"),
            _ => None,
        }
    }

    /// How values inserted into this channel's text are escaped. E-mail
    /// text is rendered plain: the channel escapes all of it for its HTML
    /// part, and the text part must not show `&amp;`.
    pub fn encoding(&self) -> Encoding {
        match self.kind {
            Kind::SlackWebhook { .. } | Kind::SlackBot { .. } => Encoding::SlackMrkdwn,
            _ => Encoding::Plain,
        }
    }

    /// Console and file are local and instant: they are written in order,
    /// one at a time, so that their lines keep the pass's order.
    pub fn is_local(&self) -> bool {
        matches!(self.kind, Kind::Console | Kind::File { .. })
    }
}
