//! A new definition from a few answers (`followup create`): what the
//! operator gives as flags or to the wizard ([`Answers`]), filled from a use
//! case's template ([`use_case`]), written as commented YAML ([`render`]).
//!
//! Nothing here decides whether the result is valid: [`Draft::check`] runs
//! every rule `validate` applies on the text it renders, as the file it
//! would be in its directory (the wizard after each answer, `create`
//! before writing).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::bail;

use crate::definition::followup::Followup;
use crate::definition::load::Catalog;
use crate::definition::model::{FirstPoll, Status};
use crate::definition::rules::{RESERVED_ID, is_id, reserved_id_message};
use crate::definition::yaml::{double_quoted as quoted, scalar};
use crate::exit;
use crate::naming::slug;

pub mod answer;
pub mod sample;
pub mod use_case;
pub mod wizard;

pub use answer::{PostAction, SourceAuth, WindowSpec};
pub use use_case::UseCase;

/// Where the records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An HTTP(S) request.
    Url(String),
    /// A local JSON file, relative to the definition.
    File(String),
}

impl Source {
    /// An answer to "where from?": a URL (or a template that starts one) is
    /// a request, anything else a file.
    pub fn from_answer(answer: &str) -> Source {
        let lower = answer.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") || answer.starts_with("@{")
        {
            Source::Url(answer.to_owned())
        } else {
            Source::File(answer.to_owned())
        }
    }
}

/// What the operator gave; `None` is not given (yet).
#[derive(Debug, Clone, Default)]
pub struct Answers {
    pub name: Option<String>,
    pub id: Option<String>,
    pub status: Option<Status>,
    pub description: Option<String>,
    pub poll_every: Option<String>,
    pub first_poll: Option<FirstPoll>,
    pub source: Option<Source>,
    /// Only for a URL source.
    pub auth: Option<SourceAuth>,
    pub loop_: Option<String>,
    pub reconciliation_id: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub channel: Option<String>,
    pub fallback_channel: Option<String>,
    pub text: Option<String>,
    pub notify_every: Option<String>,
    pub attempts: Option<u32>,
    /// `Some(None)`: answered "no window".
    pub window: Option<Option<WindowSpec>>,
    pub after_each_attempt: Option<Vec<PostAction>>,
    pub after_all_attempts: Option<Vec<PostAction>>,
    pub on_resolved: Option<Vec<PostAction>>,
}

/// A value a definition needs and no flag, template or default gave, in the
/// order of the product's wizard: name and status, data extraction,
/// recipients, message (schedule and post actions always have defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Source,
    Loop,
    ReconciliationId,
    Recipients,
    Channel,
    FallbackChannel,
    Text,
}

impl Field {
    /// The flags that give it.
    pub fn flags(self) -> &'static str {
        match self {
            Field::Name => "--name",
            Field::Source => "--url or --file",
            Field::Loop => "--loop",
            Field::ReconciliationId => "--reconciliation-id",
            Field::Recipients => "--user or --group",
            Field::Channel => "--channel",
            Field::FallbackChannel => "--fallback-channel (with --channel last_used)",
            Field::Text => "--text",
        }
    }
}

/// Defaults without a template: every 30 minutes, a reminder a day, three.
pub const POLL_EVERY: &str = "30m";
pub const NOTIFY_EVERY: &str = "1d";
pub const ATTEMPTS: u32 = 3;

impl Answers {
    /// Fills what a use case gives where the operator gave nothing. The
    /// recipients are one choice: a `--user` or `--group` replaces both of
    /// the template's.
    pub fn with_template(mut self, use_case: Option<UseCase>) -> Answers {
        let Some(use_case) = use_case else {
            self.poll_every.get_or_insert_with(|| POLL_EVERY.into());
            self.notify_every.get_or_insert_with(|| NOTIFY_EVERY.into());
            self.attempts.get_or_insert(ATTEMPTS);
            return self;
        };
        let p = use_case.preset();
        let own = |v: &'static str| Some(v.to_owned());
        self.description = self.description.or_else(|| own(p.description));
        self.poll_every = self.poll_every.or_else(|| own(p.poll_every));
        self.first_poll = self.first_poll.or(Some(p.first_poll));
        self.loop_ = self.loop_.or_else(|| own(p.loop_));
        self.reconciliation_id = self.reconciliation_id.or_else(|| own(p.reconciliation_id));
        if self.user.is_none() && self.group.is_none() {
            self.user = p.user.map(str::to_owned);
            self.group = p.group.map(str::to_owned);
        }
        self.text = self.text.or_else(|| own(p.text));
        self.notify_every = self.notify_every.or_else(|| own(p.notify_every));
        self.attempts = self.attempts.or(Some(p.attempts));
        self
    }

    /// What is still missing, in the wizard's order.
    pub fn missing(&self) -> Vec<Field> {
        let mut out = Vec::new();
        let mut need = |absent: bool, field| {
            if absent {
                out.push(field)
            }
        };
        need(self.name.is_none(), Field::Name);
        need(self.source.is_none(), Field::Source);
        need(self.loop_.is_none(), Field::Loop);
        need(self.reconciliation_id.is_none(), Field::ReconciliationId);
        need(
            self.user.is_none() && self.group.is_none(),
            Field::Recipients,
        );
        need(self.channel.is_none(), Field::Channel);
        need(
            self.channel.as_deref() == Some("last_used") && self.fallback_channel.is_none(),
            Field::FallbackChannel,
        );
        need(self.text.is_none(), Field::Text);
        out
    }

    /// The draft, once nothing is missing. The id is `--id`, else the
    /// name's slug.
    pub fn into_draft(self, use_case: Option<UseCase>) -> anyhow::Result<Draft> {
        let missing = self.missing();
        if !missing.is_empty() {
            let flags: Vec<&str> = missing.iter().map(|f| f.flags()).collect();
            return Err(exit::usage(format!(
                "missing {}: give {} as flags, or run `followup create` in a terminal to be asked",
                flags.join(", "),
                if missing.len() == 1 { "it" } else { "them" }
            )));
        }
        let name = self.name.expect("checked");
        if name.trim().is_empty() {
            return Err(exit::usage("--name must not be empty"));
        }
        let id = match self.id {
            Some(id) if is_id(&id) => id,
            Some(id) => {
                return Err(exit::usage(format!(
                    "--id `{id}` must match [a-z0-9][a-z0-9-]* (lowercase letters, digits, dashes)"
                )));
            }
            None => match slug(&name) {
                s if s.is_empty() => {
                    return Err(exit::usage(format!(
                        "the name \"{name}\" gives no id (it holds no letter or digit); give --id"
                    )));
                }
                s => s,
            },
        };
        if id == RESERVED_ID {
            return Err(exit::usage(format!(
                "{} (give --id)",
                reserved_id_message()
            )));
        }
        if self.attempts == Some(0) {
            bail!("--attempts must be at least 1");
        }
        Ok(Draft {
            id,
            name,
            status: self.status.unwrap_or_default(),
            description: self.description,
            use_case,
            poll_every: self.poll_every.expect("defaulted"),
            first_poll: self.first_poll.unwrap_or_default(),
            auth: self.auth.unwrap_or(SourceAuth::None),
            source: self.source.expect("checked"),
            loop_: self.loop_.expect("checked"),
            reconciliation_id: self.reconciliation_id.expect("checked"),
            user: self.user,
            group: self.group,
            channel: self.channel.expect("checked"),
            fallback_channel: self.fallback_channel,
            text: self.text.expect("checked"),
            notify_every: self.notify_every.expect("defaulted"),
            attempts: self.attempts.expect("defaulted"),
            window: self.window.flatten(),
            after_each_attempt: self.after_each_attempt.unwrap_or_default(),
            after_all_attempts: self.after_all_attempts.unwrap_or_default(),
            on_resolved: self.on_resolved.unwrap_or_default(),
        })
    }
}

/// Everything a new definition holds.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub description: Option<String>,
    pub use_case: Option<UseCase>,
    pub poll_every: String,
    pub first_poll: FirstPoll,
    pub source: Source,
    pub auth: SourceAuth,
    pub loop_: String,
    pub reconciliation_id: String,
    pub user: Option<String>,
    pub group: Option<String>,
    pub channel: String,
    pub fallback_channel: Option<String>,
    pub text: String,
    pub notify_every: String,
    pub attempts: u32,
    pub window: Option<WindowSpec>,
    pub after_each_attempt: Vec<PostAction>,
    pub after_all_attempts: Vec<PostAction>,
    pub on_resolved: Vec<PostAction>,
}

impl Draft {
    /// The file it goes to, relative to the definitions directory.
    pub fn file_name(&self) -> String {
        format!("{}.yaml", self.id)
    }

    /// The draft checked as the file it would be, with every rule
    /// `validate` applies in its directory: the follow-up, or the errors'
    /// messages.
    pub fn check(&self, catalog: &Catalog, tenant_file: &Path) -> Result<Followup, Vec<String>> {
        let target = catalog.dir.join(self.file_name());
        let overlay = [(target.clone(), render(self))];
        let checked = Catalog::load_overlay(&catalog.dir, tenant_file, &overlay)
            .map_err(|e| vec![format!("{e:#}")])?;
        let errors: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.file == target && d.is_error())
            .map(|d| d.message.clone())
            .collect();
        let entry = checked.entries.into_iter().find(|e| e.file == target);
        match entry.and_then(|e| e.followup) {
            Some(followup) if errors.is_empty() => Ok(followup),
            _ if errors.is_empty() => Err(vec!["the draft does not pass `validate`".into()]),
            _ => Err(errors),
        }
    }
}

/// The definition as YAML, each section under a comment that explains it.
pub fn render(d: &Draft) -> String {
    let preset = d.use_case.map(UseCase::preset);
    let mut out = String::new();
    let _ = writeln!(out, "# {}", d.name);
    match d.use_case {
        Some(u) => {
            let _ = writeln!(
                out,
                "# Made by `followup create --template {}`.",
                u.as_str()
            );
        }
        None => out.push_str("# Made by `followup create`.\n"),
    }
    let _ = write!(
        out,
        "# Check it with `followup validate`; see what it would send with\n\
         # `followup run-once --dry-run --only {}`.\n\n",
        d.id
    );
    let _ = writeln!(
        out,
        "id: {}   # [a-z0-9][a-z0-9-]*, equal to this file's name",
        d.id
    );
    let _ = writeln!(
        out,
        "name: {}   # unique among the follow-ups, whatever the case",
        scalar(&d.name)
    );
    let _ = writeln!(
        out,
        "status: {}   # active | inactive (an inactive follow-up is not polled)",
        d.status.as_str()
    );
    if let Some(description) = &d.description {
        let _ = writeln!(out, "description: {}", scalar(description));
    }

    out.push_str(
        "\n# Polling: how often the source is read (10m .. 5d; a bare number is minutes).\n\
         # first_poll: `notify` follows up every record found, the first poll's too;\n\
         # `record_only` remembers what is there at first and follows up only newer records.\n\
         polling:\n",
    );
    let _ = writeln!(out, "  every: {}", scalar(&d.poll_every));
    let _ = writeln!(
        out,
        "  first_poll: {}",
        match d.first_poll {
            FirstPoll::Notify => "notify",
            FirstPoll::RecordOnly => "record_only",
        }
    );

    out.push_str(
        "\n# Data extraction: the integrations run in order (a `request`, a local JSON\n\
         # `file` or a `command`); the loop element picks the records out of the last\n\
         # response, and the reconciliation ID tells one record from another across polls.\n\
         extraction:\n  integrations:\n    - id: source\n",
    );
    match &d.source {
        Source::Url(url) => {
            if let Some(p) = &preset {
                let _ = writeln!(out, "      # e.g. {}", p.source_hint);
            }
            let _ = write!(
                out,
                "      request:\n        url: {}\n\
                 \x20       headers: {{ Accept: application/json }}\n\
                 \x20       # Secrets come from the environment, never from this file:\n",
                quoted(url)
            );
            match d.auth.yaml() {
                Some(auth) => {
                    let _ = writeln!(out, "        auth: {auth}");
                }
                None => out.push_str(
                    "        # auth: { type: basic, username: \"@{env.SOURCE_USER}\", password: \"@{env.SOURCE_PASSWORD}\" }\n",
                ),
            }
            out.push_str(
                "      # paginate: { type: offset, offset_param: sysparm_offset, limit_param: sysparm_limit, size: 100 }\n",
            );
        }
        Source::File(file) => {
            let _ = writeln!(
                out,
                "      file: {}   # relative to this file",
                quoted(file)
            );
        }
    }
    let _ = writeln!(out, "  loop: {}", quoted(&d.loop_));
    let _ = writeln!(out, "  reconciliation_id: {}", quoted(&d.reconciliation_id));

    out.push_str(
        "\n# Recipients: who is told. `user` is a JSONPath over the record (or a user id\n\
         # or e-mail); `group` a tenant group id or a JSONPath giving one. An escalation\n\
         # tells others too from an attempt on.\n\
         recipients:\n",
    );
    if let Some(user) = &d.user {
        let _ = writeln!(out, "  user: {}", quoted(user));
    }
    if let Some(group) = &d.group {
        let _ = writeln!(out, "  group: {}", quoted(group));
    }
    out.push_str("  # escalate:\n  #   - { from_attempt: 3, user: \"$.manager.value\" }\n");

    out.push_str(
        "\n# Message: the channel (one of tenant.yaml, or `last_used` with a\n\
         # `fallback_channel`) and what to say; `@{...}` inserts values of the record\n\
         # (`followup.data.*`) and of the recipient (`recipient.name`).\n\
         message:\n",
    );
    let _ = writeln!(out, "  channel: {}", scalar(&d.channel));
    if let Some(fallback) = &d.fallback_channel {
        let _ = writeln!(out, "  fallback_channel: {}", scalar(fallback));
    }
    let _ = writeln!(out, "  text: {}", quoted(&d.text));

    out.push_str(
        "\n# Schedule: how often a record is followed up (10m .. 5d) and how many times\n\
         # in all (attempts: 1 .. 10, the first included); a window holds deliveries\n\
         # to working hours.\n\
         schedule:\n",
    );
    let _ = writeln!(out, "  every: {}", scalar(&d.notify_every));
    let _ = writeln!(out, "  attempts: {}", d.attempts);
    match &d.window {
        Some(w) => {
            let _ = writeln!(
                out,
                "  window: {{ days: {}, hours: {}, timezone: {} }}",
                scalar(&w.days),
                quoted(&w.hours),
                scalar(&w.timezone)
            );
        }
        None => out.push_str(
            "  # window: { days: mon-fri, hours: \"08:00-18:00\", timezone: Europe/Lisbon }\n",
        ),
    }

    out.push_str(
        "\n# Post-follow-up actions (optional): `after_each_attempt` runs when an attempt\n\
         # closes, `after_all_attempts` once when a record is exhausted, `on_resolved`\n\
         # once when it leaves the source. Each action is a `set` or an `integration`.\n",
    );
    let moments = [
        ("after_each_attempt", &d.after_each_attempt),
        ("after_all_attempts", &d.after_all_attempts),
        ("on_resolved", &d.on_resolved),
    ];
    for (key, actions) in moments.iter().filter(|(_, a)| !a.is_empty()) {
        let _ = writeln!(out, "{key}:");
        for action in actions.iter() {
            let _ = match action {
                PostAction::Set { name, value } => {
                    writeln!(out, "  - set: {{ {}: {} }}", scalar(name), quoted(value))
                }
                PostAction::Call { method, url } => writeln!(
                    out,
                    "  - integration: {{ request: {{ method: {method}, url: {} }} }}",
                    quoted(url)
                ),
            };
        }
    }
    if moments.iter().all(|(_, a)| a.is_empty()) {
        match preset.as_ref().map(|p| p.actions_hint).filter(|h| !h.is_empty()) {
            Some(hint) => out.push_str(hint),
            None => out.push_str(
                "# after_each_attempt:\n#   - set: { local.note: \"Reminder @{followup.attempt} of @{followup.attempts} sent\" }\n",
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_in_the_wizard_order() {
        let answers = Answers::default().with_template(None);
        assert_eq!(
            answers.missing(),
            vec![
                Field::Name,
                Field::Source,
                Field::Loop,
                Field::ReconciliationId,
                Field::Recipients,
                Field::Channel,
                Field::Text
            ]
        );
        let answers = Answers {
            channel: Some("last_used".into()),
            ..Answers::default()
        }
        .with_template(Some(UseCase::PendingApproval));
        assert_eq!(
            answers.missing(),
            vec![Field::Name, Field::Source, Field::FallbackChannel]
        );
    }

    #[test]
    fn own_recipients_replace_the_templates() {
        let answers = Answers {
            group: Some("cab".into()),
            ..Answers::default()
        }
        .with_template(Some(UseCase::PendingApproval));
        assert_eq!(answers.user, None);
        assert_eq!(answers.group.as_deref(), Some("cab"));
    }

    #[test]
    fn the_id_comes_from_the_name() {
        let answers = Answers {
            name: Some("Pending approval (EU)".into()),
            source: Some(Source::from_answer("https://x.example/api")),
            channel: Some("slack".into()),
            ..Answers::default()
        }
        .with_template(Some(UseCase::PendingApproval));
        let draft = answers.into_draft(Some(UseCase::PendingApproval)).unwrap();
        assert_eq!(draft.id, "pending-approval-eu");
        assert_eq!(
            Source::from_answer("data/x.json"),
            Source::File("data/x.json".into())
        );
    }
}
