//! A checked follow-up: what `rules` makes of a definition that passes every
//! rule. Durations are durations, paths and templates are compiled, relative
//! paths are resolved against the definition's directory. The pass works on
//! these types only.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::definition::model::{ButtonStyle, ClientAuth, FirstPoll, Method, Status};
use crate::path::{JsonPath, LoopPath};
use crate::template::{Scope, Template};
use crate::window::Window;

#[derive(Debug, Clone)]
pub struct Followup {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub polling: Polling,
    pub extraction: Extraction,
    pub recipients: Recipients,
    pub message: Message,
    pub schedule: Schedule,
    pub after_each_attempt: Vec<Action>,
    pub after_all_attempts: Vec<Action>,
    pub on_resolved: Vec<Action>,
}

#[derive(Debug, Clone)]
pub struct Polling {
    pub every: Duration,
    pub first_poll: FirstPoll,
    pub resolve_after: u32,
    pub max_records: u64,
}

#[derive(Debug, Clone)]
pub struct Extraction {
    pub integrations: Vec<Integration>,
    pub loop_path: LoopPath,
    pub reconciliation_id: JsonPath,
}

#[derive(Debug, Clone)]
pub struct Integration {
    /// The id given, or `#N` (1-based) for messages.
    pub id: String,
    pub source: Source,
    pub paginate: Option<Paginate>,
    /// `local.NAME` attributes (the name without `local.`), over the first page.
    pub attributes: Vec<(String, JsonPath)>,
}

#[derive(Debug, Clone)]
pub enum Source {
    Request(Box<Request>),
    File(PathBuf),
    Command {
        argv: Vec<Template>,
        timeout: Duration,
        dir: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: Template,
    pub query: Vec<(String, Template)>,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Body>,
    pub auth: Option<Auth>,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    pub max_response: u64,
    pub ca_file: Option<PathBuf>,
}

/// A JSON body written as YAML, each string leaf a template.
#[derive(Debug, Clone)]
pub enum Body {
    Template(Template),
    Array(Vec<Body>),
    Object(Vec<(String, Body)>),
    Literal(Value),
}

#[derive(Debug, Clone)]
pub enum Auth {
    Basic {
        username: Template,
        password: Template,
    },
    Bearer {
        token: Template,
    },
    OAuth2ClientCredentials {
        token_url: Template,
        client_id: Template,
        client_secret: Template,
        scope: Option<Template>,
        client_auth: ClientAuth,
    },
}

#[derive(Debug, Clone)]
pub struct Paginate {
    pub kind: PaginateKind,
    pub max_pages: u32,
}

#[derive(Debug, Clone)]
pub enum PaginateKind {
    Offset {
        offset_param: String,
        limit_param: String,
        size: u64,
        total: Option<Total>,
    },
    Cursor {
        path: JsonPath,
        /// Where the cursor goes: a query parameter or a key of the JSON body.
        param: CursorTarget,
        end: Option<LastPage>,
    },
    NextUrl {
        path: JsonPath,
        end: Option<LastPage>,
    },
    LinkHeader,
}

/// Where `offset` pagination reads the total number of records.
#[derive(Debug, Clone)]
pub enum Total {
    /// `total_path`: a JSONPath over the body.
    Path(JsonPath),
    /// `total_header`: a response header (`X-Total-Count`).
    Header(String),
}

/// How a page of `cursor` or `next_url` says it is the last.
#[derive(Debug, Clone)]
pub enum LastPage {
    /// `stop_path`: the last when it selects true (`$.isLast`, `$.done`).
    Stop(JsonPath),
    /// `more_path`: the last unless it selects true (`$.meta.has_more`).
    More(JsonPath),
}

#[derive(Debug, Clone)]
pub enum CursorTarget {
    Query(String),
    Body(String),
}

/// A user or group value: JSONPath over the record (`$...`), or written literally.
#[derive(Debug, Clone)]
pub enum Selector {
    Path(JsonPath),
    Literal(String),
}

#[derive(Debug, Clone, Default)]
pub struct Recipients {
    pub users: Vec<Selector>,
    pub groups: Vec<Selector>,
    pub lookup: Option<Lookup>,
    pub escalate: Vec<Rung>,
}

#[derive(Debug, Clone)]
pub struct Lookup {
    pub source: Source,
    pub user: Option<JsonPath>,
    pub attributes: Vec<(String, JsonPath)>,
}

#[derive(Debug, Clone)]
pub struct Rung {
    pub from_attempt: u32,
    pub users: Vec<Selector>,
    pub groups: Vec<Selector>,
    pub channel: Option<String>,
    pub text: Option<Template>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRef {
    Named(String),
    LastUsed,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub channel: ChannelRef,
    pub fallback_channel: Option<String>,
    pub text: Option<Template>,
    pub card: Option<Card>,
    pub image: Option<Image>,
    pub digest: Option<Digest>,
    pub conversation: crate::definition::model::Conversation,
}

/// `message.digest`: one message per target, channel and pass for every
/// record due there.
#[derive(Debug, Clone)]
pub struct Digest {
    pub title: Template,
    pub line: Template,
}

impl Followup {
    /// Whether any text sent to a person (the message, a rung's text) reads
    /// the scope: what is not read need not be fetched for each delivery.
    pub fn messages_read(&self, scope: Scope) -> bool {
        let m = &self.message;
        let card = m.card.iter().flat_map(|c| {
            let fields = c.fields.iter().flat_map(|(l, v)| [l, v]);
            let buttons = c.actions.iter().flat_map(|b| [&b.label, &b.url]);
            c.title.iter().chain(&c.text).chain(fields).chain(buttons)
        });
        let image = m
            .image
            .iter()
            .flat_map(|i| std::iter::once(&i.url).chain(&i.alt));
        let rungs = self
            .recipients
            .escalate
            .iter()
            .filter_map(|r| r.text.as_ref());
        m.text
            .iter()
            .chain(card)
            .chain(image)
            .chain(rungs)
            .any(|t| t.inserts().any(|i| i.path.scope == scope))
    }
}

#[derive(Debug, Clone)]
pub struct Card {
    pub title: Option<Template>,
    pub text: Option<Template>,
    pub fields: Vec<(Template, Template)>,
    pub actions: Vec<Button>,
}

#[derive(Debug, Clone)]
pub struct Button {
    pub label: Template,
    pub url: Template,
    pub style: ButtonStyle,
}

#[derive(Debug, Clone)]
pub struct Image {
    pub url: Template,
    pub alt: Option<Template>,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub every: Duration,
    pub attempts: u32,
    pub window: Option<Window>,
    pub max_sends_per_pass: Option<u32>,
}

/// Where an attribute lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttributeScope {
    Local,
    Global,
    Custom,
}

#[derive(Debug, Clone)]
pub enum Action {
    Set(Vec<(AttributeScope, String, Template)>),
    Integration(Box<Integration>),
}
