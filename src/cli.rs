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
    #[command(subcommand)]
    pub command: Command,
}

/// Where definitions, the tenant and the state live. Accepted before or
/// after the subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct Paths {
    /// The definitions directory [default: followups]
    #[arg(long, env = "FOLLOWUP_DIR", value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
    /// The tenant file [default: <DIR>/tenant.yaml]
    #[arg(long, env = "FOLLOWUP_TENANT", value_name = "FILE")]
    pub tenant: Option<PathBuf>,
    /// The state database [default: followup.db]
    #[arg(long, env = "FOLLOWUP_DB", value_name = "FILE", global = true)]
    pub db: Option<PathBuf>,
}

/// `--tenant FILE` after a subcommand. It is not a global option because
/// `schema --tenant` is a flag; each subcommand but `schema` takes this.
#[derive(Debug, Clone, Default, Args)]
pub struct TenantArg {
    /// The tenant file [default: <DIR>/tenant.yaml]
    #[arg(long = "tenant", env = "FOLLOWUP_TENANT", value_name = "FILE")]
    pub tenant: Option<PathBuf>,
}

impl Paths {
    /// These paths with a subcommand's `--tenant` taking precedence.
    pub fn with(&self, arg: &TenantArg) -> Paths {
        Paths {
            tenant: arg.tenant.clone().or_else(|| self.tenant.clone()),
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
}

#[derive(Debug, Args)]
pub struct RunOnceArgs {
    #[command(flatten)]
    pub tenant: TenantArg,
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
    /// Delete events older than this (e.g. 90d)
    #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
    pub retain: Option<Duration>,
    /// Write Prometheus textfile metrics of the pass to this file
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
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
    #[arg(long, value_enum, default_value = "table")]
    pub format: HistoryFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub tenant: TenantArg,
    #[command(flatten)]
    pub now: NowArg,
    #[arg(long, value_enum, default_value = "table")]
    pub format: TableFormat,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub tenant: TenantArg,
    #[command(flatten)]
    pub now: NowArg,
    /// The follow-up's id or name
    pub id: String,
    /// The record's reconciliation ID
    pub record: String,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The follow-up's id (its definition may be gone)
    pub id: String,
    /// Make the next poll only remember what it finds (`record_only`)
    #[arg(long)]
    pub baseline: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub tenant: TenantArg,
    /// Definition files or directories [default: the whole --dir, tenant included]
    pub paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: diagnostic::Format,
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
    pub tenant: TenantArg,
    /// Only follow-ups whose id or name contains TEXT (case-insensitive)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only follow-ups with this status
    #[arg(long, value_enum)]
    pub status: Option<StatusFilter>,
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
    pub tenant: TenantArg,
    /// The follow-up's id or name
    pub id: String,
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
    pub tenant: TenantArg,
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
    /// The source: an HTTP(S) request to this URL
    #[arg(long, conflicts_with = "file", help_heading = "Data extraction")]
    pub url: Option<String>,
    /// The source: a local JSON file (relative to the definitions directory)
    #[arg(long, value_name = "PATH", help_heading = "Data extraction")]
    pub file: Option<String>,
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
    /// Print the definition instead of writing it
    #[arg(long)]
    pub stdout: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub tenant: TenantArg,
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
    pub tenant: TenantArg,
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
    pub tenant: TenantArg,
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
