//! The definition format as written: what serde reads from a follow-up file.
//!
//! These types mirror DESIGN.md key for key, with its defaults. They hold text
//! where the format holds text (durations, JSONPaths, templates): turning text
//! into checked values is the job of `rules`, which reports every problem at
//! its place in the file. The same types give the JSON Schema (`followup
//! schema`) and `followup show`'s output, so the three cannot drift apart.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A follow-up: what to poll, whom to tell, what to say, how often.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// `[a-z0-9][a-z0-9-]*`; equal to the file's stem.
    pub id: String,
    /// Unique among the follow-ups (case-insensitive).
    pub name: String,
    #[serde(default)]
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub polling: Polling,
    pub extraction: Extraction,
    pub recipients: Recipients,
    pub message: Message,
    pub schedule: Schedule,
    /// Run when an attempt closes (none of its deliveries pending).
    #[serde(default)]
    pub after_each_attempt: Vec<Action>,
    /// Run once when a record is exhausted.
    #[serde(default)]
    pub after_all_attempts: Vec<Action>,
    /// Run once when a tracked record is resolved.
    #[serde(default)]
    pub on_resolved: Vec<Action>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Active,
    Inactive,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Polling {
    /// Polling frequency: 10m .. 5d; humantime (`30m`, `1h 30m`) or minutes.
    #[schemars(schema_with = "frequency_schema")]
    pub every: String,
    #[serde(default)]
    pub first_poll: FirstPoll,
    /// Successful polls without a record before it is resolved (1..10).
    #[serde(default = "default_resolve_after")]
    #[schemars(range(min = 1, max = 10))]
    pub resolve_after: u32,
    /// More records in one poll fail the poll.
    #[serde(default = "default_max_records")]
    #[schemars(range(min = 1))]
    pub max_records: u64,
}

fn default_resolve_after() -> u32 {
    2
}

fn default_max_records() -> u64 {
    10_000
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FirstPoll {
    /// Follow up every record found, the first poll's included.
    #[default]
    Notify,
    /// Remember what the first poll finds; follow up only later records.
    RecordOnly,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Extraction {
    /// Run in order; each may use attributes defined by earlier ones.
    pub integrations: Vec<Integration>,
    /// JSONPath over the last integration's response: the records.
    #[serde(rename = "loop")]
    pub loop_: String,
    /// JSONPath over each record: its identity across polls.
    pub reconciliation_id: String,
    #[serde(default)]
    pub record_type: RecordType,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    #[default]
    Json,
}

/// One call to an external system: exactly one of `request`, `file`, `command`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// A local JSON file, relative to this YAML file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// argv (no shell); its stdout is the JSON response; non-zero exit fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// For `command` only (default 60s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_duration_schema")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paginate: Option<Paginate>,
    /// `local.NAME: JSONPath` over this response (its first page).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default)]
    pub method: Method,
    /// A template; `@{path ?? "text"}` gives a fallback for a value that is missing, `null` or
    /// `""`.
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body written as YAML; each string leaf is a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Largest response page accepted, decoded (default 16MiB).
    #[serde(default = "default_max_response")]
    #[schemars(schema_with = "size_schema")]
    pub max_response: String,
    /// An extra trusted CA (PEM); verification is never turned off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

fn default_max_response() -> String {
    "16MiB".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default = "default_connect")]
    #[schemars(schema_with = "duration_schema")]
    pub connect: String,
    #[serde(default = "default_total")]
    #[schemars(schema_with = "duration_schema")]
    pub total: String,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: default_connect(),
            total: default_total(),
        }
    }
}

fn default_connect() -> String {
    "10s".into()
}

fn default_total() -> String {
    "60s".into()
}

/// HTTP authentication; the keys required depend on `type`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    #[serde(rename = "type")]
    pub kind: AuthKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<ClientAuth>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    Basic,
    Bearer,
    Oauth2ClientCredentials,
}

impl AuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::Basic => "basic",
            AuthKind::Bearer => "bearer",
            AuthKind::Oauth2ClientCredentials => "oauth2_client_credentials",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    #[default]
    Basic,
    Form,
}

/// Pagination; the keys required depend on `type`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Paginate {
    #[serde(rename = "type")]
    pub kind: PaginateKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// `offset`: JSONPath to the total number of records in the body; paging stops once the
    /// offset reaches it. At most one of `total_path` / `total_header`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_path: Option<String>,
    /// `offset`: a response header holding the total number of records (ServiceNow's
    /// `X-Total-Count`); paging stops once the offset reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// `cursor`, `next_url`: stop after a page where this JSONPath selects true (Jira's
    /// `$.isLast`, Salesforce's `$.done`). At most one of `stop_path` / `more_path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_path: Option<String>,
    /// `cursor`, `next_url`: go on only while this JSONPath selects true (Zendesk's
    /// `$.meta.has_more`). At most one of `stop_path` / `more_path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_path: Option<String>,
    /// A next page beyond this fails the poll (default 100).
    #[serde(default = "default_max_pages")]
    #[schemars(range(min = 1))]
    pub max_pages: u32,
}

fn default_max_pages() -> u32 {
    100
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaginateKind {
    Offset,
    Cursor,
    NextUrl,
    LinkHeader,
}

impl PaginateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PaginateKind::Offset => "offset",
            PaginateKind::Cursor => "cursor",
            PaginateKind::NextUrl => "next_url",
            PaginateKind::LinkHeader => "link_header",
        }
    }
}

/// Whom to tell: at least one of `user` / `group`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    /// JSONPath over the record (`$...`) or a literal user id, e-mail or address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<OneOrMany>,
    /// JSONPath over the record (`$...`) or a literal tenant group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<Lookup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalate: Vec<Rung>,
}

/// One string or a list of strings.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn values(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }

    /// The YAML path step of value `i` (none for a single string).
    pub fn step(&self, i: usize) -> Option<String> {
        match self {
            OneOrMany::One(_) => None,
            OneOrMany::Many(_) => Some(i.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;
        impl<'de> serde::de::Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<OneOrMany, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

/// One more integration per user value, with `@{lookup.value}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_duration_schema")]
    pub timeout: Option<String>,
    /// JSONPath over the lookup's response: the user it resolves to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// From an attempt on, others are told too.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    #[schemars(range(min = 1, max = 10))]
    pub from_attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<OneOrMany>,
    /// Default: the message's channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Default: the message's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// What to say: at least one of `text`, `card`, `image`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// A channel of tenant.yaml, or `last_used`.
    pub channel: String,
    /// Required with `last_used`; also used when a recipient has no address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_channel: Option<String>,
    /// A template: `@{path}` inserts a value, `@{path ?? "text"}` gives a fallback for a value
    /// that is missing, `null` or `""` (the empty string counts as missing); without a fallback
    /// such a value fails the delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// How the attempts of one record's cycle form one conversation per target.
    #[serde(default)]
    pub conversation: Conversation,
}

/// Later attempts reply to the first one where the service can thread (Slack with
/// `bot_token`, Google Chat, e-mail); other channels send each attempt as its own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    /// `false`: every attempt is a message of its own, on every channel.
    #[serde(default = "yes")]
    pub thread: bool,
    /// Slack with `bot_token`: edit the first message when the record is resolved or
    /// exhausted (a line at its top, its buttons removed).
    #[serde(default = "yes")]
    pub update_on_resolved: bool,
}

impl Default for Conversation {
    fn default() -> Conversation {
        Conversation {
            thread: true,
            update_on_resolved: true,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Card {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    /// URL buttons: they open the source system, which performs the action.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Button>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Button {
    pub label: String,
    pub url: String,
    #[serde(default)]
    pub style: ButtonStyle,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    #[default]
    Default,
    Primary,
    Danger,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

/// One message per target per pass listing every due record.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Digest {
    pub title: String,
    pub line: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Notification frequency: 10m .. 5d; humantime (`1d`) or minutes.
    #[schemars(schema_with = "frequency_schema")]
    pub every: String,
    /// Total sends, the first included (1..10).
    #[schemars(range(min = 1, max = 10))]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_sends_per_pass: Option<u32>,
}

/// Outside the window, deliveries wait.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// `mon-fri`, `sat,sun`, `daily`, ...
    #[serde(default = "default_days")]
    pub days: String,
    /// `HH:MM-HH:MM`; may cross midnight.
    #[serde(default = "default_hours")]
    pub hours: String,
    /// An IANA time zone (default UTC).
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_days() -> String {
    "daily".into()
}

fn default_hours() -> String {
    "00:00-24:00".into()
}

fn default_timezone() -> String {
    "UTC".into()
}

/// A post-follow-up action: exactly one of `set`, `integration`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// `local.*`, `global.*` or `custom.*` names to templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<Integration>,
}

// ---------------------------------------------------------------------------
// tenant.yaml

/// The installation: channels, users, groups, global attributes.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    /// The tenant's name (`acme-prod`).
    pub tenant: String,
    /// `global.*` attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub channels: BTreeMap<String, Channel>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub groups: Vec<Group>,
}

/// A channel; the keys allowed depend on `type`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    /// slack, teams, google_chat: a room's incoming webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// slack: direct messages by user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<String>,
    /// slack with bot_token: the Web API's base URL (default https://slack.com/api).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// webhook: where to POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// webhook: Standard Webhooks signing secret (`whsec_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// file: the JSON lines file, relative to tenant.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// command: argv; the message JSON on stdin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_duration_schema")]
    pub timeout: Option<String>,
    /// Deliveries per second (`1/s`, `30/m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Slack,
    Teams,
    GoogleChat,
    Email,
    Webhook,
    Console,
    File,
    Command,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
            ChannelKind::GoogleChat => "google_chat",
            ChannelKind::Email => "email",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Console => "console",
            ChannelKind::File => "file",
            ChannelKind::Command => "command",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_chat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The channel the user last chatted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// User ids and group ids.
    #[serde(default)]
    pub members: Vec<String>,
}

// ---------------------------------------------------------------------------
// Schemas of values written as text or as a number.

/// Humantime text as `validate` reads it (`units::parse_duration`): numbers
/// each followed by one of humantime's units, so that `1 fortnight` fails
/// in the editor as it fails `validate`.
const DURATION_PATTERN: &str = "^\\s*\\d+\\s*(nanos|nsec|ns|usec|us|micros|millis|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y)(\\s*\\d+\\s*(nanos|nsec|ns|usec|us|micros|millis|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y))*\\s*$";

fn duration_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A duration in humantime text (`10s`, `4m`, `1h 30m`).",
        "type": "string",
        "pattern": DURATION_PATTERN
    })
}

/// A frequency: 10m .. 5d (7200 minutes), humantime text or a whole number
/// of minutes. The range of a text is `validate`'s to check.
fn frequency_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A frequency, 10m .. 5d: humantime text (`30m`, `1h 30m`, `5d`) or a whole number of minutes (10 .. 7200).",
        "anyOf": [
            { "type": "string", "pattern": DURATION_PATTERN },
            { "type": "string", "pattern": "^\\s*\\d+\\s*$" },
            { "type": "integer", "minimum": 10, "maximum": 7200 }
        ]
    })
}

fn optional_duration_schema(generator: &mut SchemaGenerator) -> Schema {
    duration_schema(generator)
}

fn size_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A size in bytes: a number, or text such as `16MiB`, `512KiB`.",
        "anyOf": [
            { "type": "string" },
            { "type": "integer", "minimum": 1 }
        ]
    })
}
