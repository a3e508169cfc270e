//! The command line: global options and subcommands (clap).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::bundle::import::OnConflict;
use crate::clock::NowArg;
use crate::diagnostic;
use crate::draft::UseCase;

#[derive(Debug, Parser)]
#[command(
    name = "followup",
    version,
    about = "Poll ITSM and CRM systems, chase the people who must act, repeat on a schedule.",
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub paths: Paths,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// How much followup says on stderr, and how. Every command logs (its
/// errors at least), so these are global.
#[derive(Debug, Clone, Default, Args)]
pub struct LogArgs {
    /// Only warnings and errors (an idle pass prints nothing)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Per-record detail too
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Human lines, or one JSON object per line (level, at, followup, message)
    #[arg(
        long,
        value_enum,
        global = true,
        default_value = "human",
        value_name = "FORMAT"
    )]
    pub log_format: crate::log::Format,
}

impl LogArgs {
    pub fn level(&self) -> crate::log::Level {
        match (self.quiet, self.verbose) {
            (true, _) => crate::log::Level::Warn,
            (_, true) => crate::log::Level::Debug,
            _ => crate::log::Level::Info,
        }
    }
}

/// Where definitions, the tenant and the state live, when given before the
/// subcommand (`followup --db x.db status`). Each subcommand takes those it
/// uses after its name too ([`Defs`], [`DbArg`]), so that its help shows
/// only those.
#[derive(Debug, Clone, Default, Args)]
pub struct Paths {
    /// The definitions directory [default: followups]
    #[arg(long, env = "FOLLOWUP_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The tenant file [default: <DIR>/tenant.yaml]
    #[arg(long, env = "FOLLOWUP_TENANT", value_name = "FILE")]
    pub tenant: Option<PathBuf>,
    /// The state database [default: followup.db]
    #[arg(long, env = "FOLLOWUP_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,
}

/// `--dir` and `--tenant` after a subcommand that reads definitions.
/// (`schema --tenant` is a flag, so `schema` does not take this.) The
/// environment variables are read once, by [`Paths`], so that a flag wins
/// over them wherever it is given.
#[derive(Debug, Clone, Default, Args)]
pub struct Defs {
    /// The definitions directory [env: FOLLOWUP_DIR] [default: followups]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The tenant file [env: FOLLOWUP_TENANT] [default: <DIR>/tenant.yaml]
    #[arg(long = "tenant", value_name = "FILE")]
    pub tenant: Option<PathBuf>,
}

/// `--db` after a subcommand that reads or writes the state.
#[derive(Debug, Clone, Default, Args)]
pub struct DbArg {
    /// The state database [env: FOLLOWUP_DB] [default: followup.db]
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
}

impl Paths {
    /// These paths with a subcommand's `--dir` and `--tenant` taking
    /// precedence.
    pub fn with(&self, defs: &Defs) -> Paths {
        Paths {
            dir: defs.dir.clone().or_else(|| self.dir.clone()),
            tenant: defs.tenant.clone().or_else(|| self.tenant.clone()),
            db: self.db.clone(),
        }
    }

    /// These paths with a subcommand's `--db` taking precedence.
    pub fn with_db(&self, arg: &DbArg) -> Paths {
        Paths {
            db: arg.db.clone().or_else(|| self.db.clone()),
            ..self.clone()
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("followups"))
    }

    pub fn tenant(&self) -> PathBuf {
        self.tenant
            .clone()
            .unwrap_or_else(|| self.dir().join(crate::definition::load::TENANT_FILE))
    }

    pub fn db(&self) -> PathBuf {
        self.db
            .clone()
            .unwrap_or_else(|| PathBuf::from("followup.db"))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check definitions and the tenant; every error at its place
    ///
    /// In templates, `@{path}` inserts a value and `@{path ?? "text"}` gives a
    /// fallback for a value that is missing, null or "" (ServiceNow and Jira
    /// send "" for an empty field, so it counts as missing); without a
    /// fallback, such a value fails that one delivery or action at run time.
    Validate(ValidateArgs),
    /// List follow-ups
    List(ListArgs),
    /// Print one follow-up with every default filled in
    Show(ShowArgs),
    /// Print the JSON Schema of the definition (or tenant) format
    Schema(SchemaArgs),
    /// Run one pass: poll what is due, reconcile, notify, run actions
    RunOnce(RunOnceArgs),
    /// Show the events, newest last
    History(HistoryArgs),
    /// Show each follow-up's state: last poll, records, next due
    Status(StatusArgs),
    /// Explain why a record was or was not notified
    Explain(ExplainArgs),
    /// Forget a follow-up's state
    Reset(ResetArgs),
    /// Write a new follow-up: from a use case's template, flags, or questions
    Create(Box<CreateArgs>),
    /// Write a new follow-up from an existing one: new id and name, same settings
    Copy(CopyArgs),
    /// Write follow-ups and the channels they use to a zip bundle
    Export(ExportArgs),
    /// Check a bundle against this tenant and write all its follow-ups, or none
    ///
    /// Checked before anything is written: the manifest's format and version,
    /// every sha256, and every definition with `validate`'s rules against this
    /// tenant. A bundle is refused, with nothing written, when it is larger
    /// than 16 MiB, holds more than 1000 entries, an entry over 1 MiB or more
    /// than 16 MiB in all once decompressed (counted while reading), entry
    /// names with `..` or an absolute path, symbolic links, duplicate or
    /// unexpected entries, or a secret written literally.
    Import(ImportArgs),
    /// Show what a pass would do for one follow-up, record by record; write nothing
    ///
    /// The same pass as `run-once --dry-run --only ID`: it polls (or reads the
    /// first integration's response from --response), then prints per record
    /// its reconciliation ID, what the pass would do and why, and each
    /// delivery's targets and exact payload. Nothing is sent, run or written.
    Preview(PreviewArgs),
    /// Record the channel a user last chatted on, or list the users
    #[command(subcommand)]
    Users(UsersCommand),
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Print the man page (roff)
    Man,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    #[command(flatten)]
    pub defs: Defs,
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub now: NowArg,
    /// The follow-up's id or name
    pub id: String,
    /// Read the first integration's response from this JSON file instead of calling it
    #[arg(long, value_name = "FILE")]
    pub response: Option<PathBuf>,
    /// Show only this record (reconciliation ID)
    #[arg(long, value_name = "RID")]
    pub record: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Record that USER last chatted on CHANNEL (`last_used` picks it)
    Seen(UsersSeenArgs),
    /// Each user's addresses and last used channel
    List(UsersListArgs),
}

#[derive(Debug, Args)]
pub struct UsersSeenArgs {
    #[command(flatten)]
    pub defs: Defs,
    #[command(flatten)]
    pub db: DbArg,
    /// A tenant user's id
    pub user: String,
    /// A channel of tenant.yaml
    pub channel: String,
    /// When the user chatted there (RFC 3339) [default: now]
    #[arg(long, value_name = "TIME", value_parser = crate::clock::parse_time)]
    pub at: Option<jiff::Timestamp>,
    #[command(flatten)]
    pub now: NowArg,
}

#[derive(Debug, Args)]
pub struct UsersListArgs {
    #[command(flatten)]
    pub defs: Defs,
    #[command(flatten)]
    pub db: DbArg,
    /// A table, or a JSON array of objects
    #[arg(long, value_enum, default_value = "table")]
    pub format: TableFormat,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct RunOnceArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub defs: Defs,
    #[command(flatten)]
    pub now: NowArg,
    /// Poll and show what would be sent and done; send, run and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Run only this follow-up (id or name)
    #[arg(long, value_name = "ID")]
    pub only: Option<String>,
    /// Stop starting work after this long; the next pass does the rest
    #[arg(long, value_name = "DURATION", default_value = "4m", value_parser = crate::units::parse_duration)]
    pub max_duration: Duration,
    /// Forget what is older than this (e.g. 90d): events, the deliveries of attempts closed before then, records resolved before then
    #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
    pub retain: Option<Duration>,
    /// Write Prometheus textfile metrics of the pass to this file
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// How many deliveries are sent at once (1 to 32)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub now: NowArg,
    /// Only this follow-up's events
    #[arg(long, value_name = "ID")]
    pub followup: Option<String>,
    /// Only this record's events
    #[arg(long, value_name = "RECORD")]
    pub record: Option<String>,
    /// Only events of this kind (`poll.failed`) or family (`poll`)
    #[arg(long, value_name = "EVENT")]
    pub event: Option<String>,
    /// Only events since this time (RFC 3339) or for this long (`2h`, `7d`)
    #[arg(long, value_name = "TIME|DURATION")]
    pub since: Option<String>,
    /// A table, a JSON array of events, or CSV with a header line
    #[arg(long, value_enum, default_value = "table")]
    pub format: HistoryFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub defs: Defs,
    #[command(flatten)]
    pub now: NowArg,
    /// A table, or a JSON array of objects (with why a poll failed, as `detail`)
    #[arg(long, value_enum, default_value = "table")]
    pub format: TableFormat,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub defs: Defs,
    #[command(flatten)]
    pub now: NowArg,
    /// The follow-up's id or name
    pub id: String,
    /// The record's reconciliation ID
    pub record: String,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub defs: Defs,
    /// The follow-up's id (its definition may be gone)
    pub id: String,
    /// Make the next poll only remember what it finds (`record_only`)
    #[arg(long)]
    pub baseline: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub defs: Defs,
    /// Definition files or directories, or - for one definition on stdin [default: the whole --dir, tenant included]
    pub paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: diagnostic::Format,
    /// Fail (exit 1) on warnings too
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TableFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFilter {
    Active,
    Inactive,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub defs: Defs,
    /// Only follow-ups whose id or name contains TEXT (case-insensitive)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only follow-ups with this status
    #[arg(long, value_enum)]
    pub status: Option<StatusFilter>,
    /// A table, or a JSON array of objects (with each one's file and whether it is valid)
    #[arg(long, value_enum, default_value = "table")]
    pub format: TableFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub defs: Defs,
    /// The follow-up's id or name
    pub id: String,
    /// The definition as YAML, or as JSON
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: ShowFormat,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The schema of tenant.yaml instead of a definition's
    #[arg(long)]
    pub tenant: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub defs: Defs,
    /// The follow-up's name (unique, whatever the case)
    #[arg(long, help_heading = "Name and status")]
    pub name: Option<String>,
    /// Its id and file name [default: from the name: `Pending approvals` → pending-approvals]
    #[arg(long, help_heading = "Name and status")]
    pub id: Option<String>,
    /// Whether it is polled [default: active]
    #[arg(long, value_enum, help_heading = "Name and status")]
    pub status: Option<StatusFilter>,
    /// What it is for, in a line [default: the template's]
    #[arg(long, help_heading = "Name and status")]
    pub description: Option<String>,
    /// Start from the template of a use case (the source's URL and the channel are still needed)
    #[arg(long, value_enum, value_name = "TEMPLATE")]
    pub template: Option<UseCase>,
    /// How often the source is read: 10m .. 5d [default: 30m, or the template's]
    #[arg(long, value_name = "DURATION", help_heading = "Polling")]
    pub poll_every: Option<String>,
    /// Whether the first poll's records are followed up [default: notify, or the template's]
    #[arg(long, value_name = "WHEN", value_parser = ["notify", "record_only"], help_heading = "Polling")]
    pub first_poll: Option<String>,
    /// The source: an HTTP(S) request to this URL
    #[arg(long, conflicts_with = "file", help_heading = "Data extraction")]
    pub url: Option<String>,
    /// The source: a local JSON file (relative to the definitions directory)
    #[arg(long, value_name = "PATH", help_heading = "Data extraction")]
    pub file: Option<String>,
    /// How the request authenticates, from environment variables [default: none]
    #[arg(long, value_enum, requires = "url", help_heading = "Data extraction")]
    pub auth: Option<crate::draft::SourceAuth>,
    /// JSONPath to the records in the response (`$.result[*]`)
    #[arg(
        long = "loop",
        value_name = "JSONPATH",
        help_heading = "Data extraction"
    )]
    pub loop_: Option<String>,
    /// JSONPath to a record's identity across polls (`$.sys_id`)
    #[arg(long, value_name = "JSONPATH", help_heading = "Data extraction")]
    pub reconciliation_id: Option<String>,
    /// Whom to tell: a JSONPath over the record, or a user id or e-mail
    #[arg(long, value_name = "FIELD", help_heading = "Recipients")]
    pub user: Option<String>,
    /// Whom to tell: a tenant group id, or a JSONPath giving one
    #[arg(long, value_name = "FIELD", help_heading = "Recipients")]
    pub group: Option<String>,
    /// A channel of tenant.yaml, or last_used
    #[arg(long, help_heading = "Message")]
    pub channel: Option<String>,
    /// The channel for users without one (needed with last_used)
    #[arg(long, value_name = "CHANNEL", help_heading = "Message")]
    pub fallback_channel: Option<String>,
    /// What to say; @{followup.data.FIELD} inserts a value of the record
    #[arg(long, help_heading = "Message")]
    pub text: Option<String>,
    /// How often a record is followed up: 10m .. 5d [default: 1d, or the template's]
    #[arg(long, value_name = "DURATION", help_heading = "Schedule")]
    pub notify_every: Option<String>,
    /// How many times in all, the first included: 1 .. 10 [default: 3, or the template's]
    #[arg(long, help_heading = "Schedule")]
    pub attempts: Option<u32>,
    /// When deliveries may go: `DAYS HOURS [TIMEZONE]` (`mon-fri 08:00-18:00 Europe/Lisbon`), or none
    #[arg(long, value_name = "WINDOW", help_heading = "Schedule")]
    pub window: Option<String>,
    /// An action when an attempt closes: `set local.NAME = VALUE` or `METHOD URL` (repeatable)
    #[arg(long, value_name = "ACTION", help_heading = "Post-follow-up actions")]
    pub after_each_attempt: Vec<String>,
    /// An action once a record is exhausted (repeatable)
    #[arg(long, value_name = "ACTION", help_heading = "Post-follow-up actions")]
    pub after_all_attempts: Vec<String>,
    /// An action once a record is resolved (repeatable)
    #[arg(long, value_name = "ACTION", help_heading = "Post-follow-up actions")]
    pub on_resolved: Vec<String>,
    /// Print the definition instead of writing it
    #[arg(long)]
    pub stdout: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub defs: Defs,
    /// The follow-up to copy, by id or name
    pub source: String,
    /// The copy's name (required: names are unique, so a name is never copied)
    #[arg(long)]
    pub name: Option<String>,
    /// The copy's id and file name [default: from the name]
    #[arg(long)]
    pub id: Option<String>,
    /// Print the copy instead of writing it
    #[arg(long)]
    pub stdout: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub defs: Defs,
    /// Follow-ups to export, by id or name
    #[arg(value_name = "ID|NAME", required_unless_present = "all")]
    pub ids: Vec<String>,
    /// Export every follow-up of the directory
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
    /// The zip to write (replaced if it exists), or - for stdout
    #[arg(short, long, value_name = "FILE.zip")]
    pub output: PathBuf,
    // The export time of the manifest: --now, else SOURCE_DATE_EPOCH, else the clock.
    #[command(flatten)]
    pub now: NowArg,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub defs: Defs,
    /// The bundle, or - for stdin
    #[arg(value_name = "FILE.zip")]
    pub bundle: PathBuf,
    /// What to do with a follow-up whose id or name the directory already has
    #[arg(long, value_enum, default_value = "fail")]
    pub on_conflict: OnConflict,
    /// Check everything and say what would happen; write nothing
    #[arg(long)]
    pub dry_run: bool,
}
