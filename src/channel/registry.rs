//! The channels of one pass: each tenant channel opened once (its settings
//! rendered against `global.*` and `env.*`), with what its senders share —
//! the token bucket of its `rate`, its strikes (transient failures in a
//! row) and the HTTP agent of its `ca_file`, which keeps connections alive.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::Endpoint;
use super::settings::{Kind, Settings};
use super::{Channel, Job, Outcome, command, console, dry_run, email, file, google_chat};
use super::{slack, teams, webhook};
use crate::integration::error::Secrets;
use crate::template::{Encoding, Scopes, Template};

/// After this many transient failures in a row, a channel is skipped for
/// the rest of the pass (DESIGN.md, "Responses").
pub const STRIKES: u32 = 3;

pub struct Channels {
    opened: HashMap<String, Entry>,
}

pub(super) struct Entry {
    pub channel: Box<dyn Channel>,
    /// Sent in order by one sender (console, file, a dry run).
    pub local: bool,
    bucket: Option<Bucket>,
    strikes: AtomicU32,
}

/// A token bucket of one token: deliveries at least `interval` apart,
/// whichever sender sends them.
struct Bucket {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Channels {
    /// Opens every channel of the tenant. A channel whose settings cannot
    /// be rendered (an unset `env.*`) opens as one whose deliveries fail,
    /// saying why: the other channels still deliver.
    pub fn open(settings: &BTreeMap<String, Settings>, globals: &Value, dry_run: bool) -> Channels {
        let mut clients: HashMap<Option<PathBuf>, Arc<Client>> = HashMap::new();
        let opened = settings
            .iter()
            .map(|(name, s)| {
                let client = clients
                    .entry(s.ca_file.clone())
                    .or_insert_with(|| Arc::new(Client::new(s.ca_file.clone())))
                    .clone();
                // A dry run fails a broken channel's deliveries as a
                // real pass would.
                let channel: Box<dyn Channel> = match open_one(name, s, globals, client) {
                    Ok(channel) if dry_run => Box::new(dry_run::DryRun(channel)),
                    Ok(channel) => channel,
                    Err(detail) => Box::new(Broken(detail)),
                };
                let entry = Entry {
                    channel,
                    local: dry_run || s.is_local(),
                    bucket: s.rate.filter(|_| !dry_run).map(|interval| Bucket {
                        interval,
                        next: Mutex::new(None),
                    }),
                    strikes: AtomicU32::new(0),
                };
                (name.clone(), entry)
            })
            .collect();
        Channels { opened }
    }

    pub(super) fn get(&self, name: &str) -> Option<&Entry> {
        self.opened.get(name)
    }

    /// Whether the channel replies to a conversation's first message.
    pub fn threads(&self, name: &str) -> bool {
        self.get(name).is_some_and(|e| e.channel.threads())
    }

    /// Whether the channel can edit a conversation's first message.
    pub fn edits(&self, name: &str) -> bool {
        self.get(name).is_some_and(|e| e.channel.edits())
    }
}

impl Entry {
    pub fn struck_out(&self) -> bool {
        self.strikes.load(Ordering::Relaxed) >= STRIKES
    }

    pub fn strike(&self) {
        self.strikes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn clear_strikes(&self) {
        self.strikes.store(0, Ordering::Relaxed);
    }

    /// Waits for this channel's next slot; false when it would come after
    /// `deadline` (the delivery then waits for the next pass).
    pub fn wait_for_slot(&self, deadline: Option<Instant>) -> bool {
        let Some(bucket) = &self.bucket else {
            return true;
        };
        let slot = {
            let mut next = bucket.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            if deadline.is_some_and(|d| slot >= d) {
                return false;
            }
            *next = Some(slot + bucket.interval);
            slot
        };
        std::thread::sleep(slot.saturating_duration_since(Instant::now()));
        true
    }
}

/// One HTTP agent per `ca_file`, made at its first use (a pass that sends
/// nothing builds no TLS configuration) and shared by every sender.
pub(super) struct Client {
    ca_file: Option<PathBuf>,
    agent: OnceLock<Result<ureq::Agent, String>>,
}

impl Client {
    fn new(ca_file: Option<PathBuf>) -> Client {
        Client {
            ca_file,
            agent: OnceLock::new(),
        }
    }

    pub fn agent(&self) -> Result<&ureq::Agent, String> {
        self.agent
            .get_or_init(|| {
                crate::integration::http::new_agent(self.ca_file.as_deref())
                    .map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }
}

/// Settings rendered for one channel, and the secrets they hold (masked in
/// every error the channel reports).
pub(super) struct Rendering<'a> {
    name: &'a str,
    globals: &'a Value,
    pub secrets: Secrets,
}

impl Rendering<'_> {
    /// Renders a setting; `secret` adds the result to the masked values
    /// (every `env.*` value it used is added whatever `secret` says).
    pub fn render(
        &mut self,
        key: &str,
        template: &Template,
        encoding: Encoding,
        secret: bool,
    ) -> Result<String, String> {
        let scopes = Scopes {
            global: Some(self.globals),
            env: true,
            ..Scopes::default()
        };
        let text = template.render(&scopes, encoding).map_err(|missing| {
            format!(
                "channel `{}`: `{key}` cannot be rendered: {missing}",
                self.name
            )
        })?;
        for insert in template.inserts() {
            if insert.path.scope == crate::template::Scope::Env
                && let Some(name) = insert.path.name()
                && let Ok(value) = std::env::var(name)
            {
                self.secrets.add(&value);
            }
        }
        if secret {
            self.secrets.add(&text);
        }
        Ok(text)
    }
}

fn open_one(
    name: &str,
    settings: &Settings,
    globals: &Value,
    client: Arc<Client>,
) -> Result<Box<dyn Channel>, String> {
    let mut r = Rendering {
        name,
        globals,
        secrets: Secrets::default(),
    };
    Ok(match &settings.kind {
        Kind::SlackWebhook { webhook_url } => {
            let url = r.render("webhook_url", webhook_url, Encoding::Url, true)?;
            Box::new(slack::Slack::webhook(url, client, r.secrets))
        }
        Kind::SlackBot { bot_token, api_url } => {
            let token = r.render("bot_token", bot_token, Encoding::Plain, true)?;
            let api = r.render("api_url", api_url, Encoding::Url, false)?;
            Box::new(slack::Slack::bot(token, api, client, r.secrets))
        }
        Kind::Teams { webhook_url } => {
            let url = r.render("webhook_url", webhook_url, Encoding::Url, true)?;
            Box::new(teams::Teams(Endpoint {
                url,
                client,
                secrets: r.secrets,
            }))
        }
        Kind::GoogleChat { webhook_url } => {
            let url = r.render("webhook_url", webhook_url, Encoding::Url, true)?;
            Box::new(google_chat::GoogleChat(Endpoint {
                url,
                client,
                secrets: r.secrets,
            }))
        }
        Kind::Email { smtp_url, from } => {
            let url = r.render("smtp_url", smtp_url, Encoding::Plain, true)?;
            let from = r.render("from", from, Encoding::Plain, false)?;
            Box::new(email::Email::new(
                name,
                &url,
                &from,
                client.ca_file(),
                r.secrets,
            )?)
        }
        Kind::Webhook {
            url,
            headers,
            signing_secret,
            timeout,
        } => {
            let url = r.render("url", url, Encoding::Url, false)?;
            let headers = headers
                .iter()
                .map(|(k, v)| Ok((k.clone(), r.render(k, v, Encoding::Plain, false)?)))
                .collect::<Result<Vec<_>, String>>()?;
            let secret = signing_secret
                .as_ref()
                .map(|s| r.render("signing_secret", s, Encoding::Plain, true))
                .transpose()?;
            Box::new(webhook::Webhook::new(
                name, url, headers, secret, *timeout, client, r.secrets,
            )?)
        }
        Kind::Console => Box::new(console::Console),
        Kind::File { path } => Box::new(file::File::new(path.clone())),
        Kind::Command { argv, timeout, dir } => Box::new(command::Command::new(
            argv.clone(),
            *timeout,
            dir.clone(),
            globals.clone(),
        )),
    })
}

/// A channel that cannot open: each delivery fails, saying why.
struct Broken(String);

impl Channel for Broken {
    fn payload(&self, _: &Job) -> Value {
        Value::Null
    }

    fn deliver(&self, _: &Job, _: Option<Instant>) -> Outcome {
        Outcome::permanent(self.0.clone())
    }
}
