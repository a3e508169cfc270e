//! `@{...}` templates: parsed once per definition, rendered against scopes,
//! each inserted value encoded for where it lands.
//!
//! Grammar: `@{ path [?? "fallback"] [| raw] }`; a path is a scope followed by
//! `.name`, `[0]` or `["key.with.dots"]` steps. A missing value (`null` and
//! `""` included: ServiceNow and Jira send `""` for an empty field) takes
//! the fallback; without one it fails the whole rendering, so nothing
//! half-rendered is ever sent.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// The scopes a template may name (DESIGN.md, "Templates and attributes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Followup,
    Recipient,
    Lookup,
    Digest,
    Local,
    Global,
    Custom,
    Env,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::Followup,
        Scope::Recipient,
        Scope::Lookup,
        Scope::Digest,
        Scope::Local,
        Scope::Global,
        Scope::Custom,
        Scope::Env,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Followup => "followup",
            Scope::Recipient => "recipient",
            Scope::Lookup => "lookup",
            Scope::Digest => "digest",
            Scope::Local => "local",
            Scope::Global => "global",
            Scope::Custom => "custom",
            Scope::Env => "env",
        }
    }

    fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One step below a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// `followup.data.approver.value`: a scope and the steps below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub scope: Scope,
    pub steps: Vec<Step>,
    /// As written, for messages and events.
    pub text: String,
}

impl Path {
    /// The first step below the scope, when it is a key (`data` in `followup.data.x`).
    pub fn name(&self) -> Option<&str> {
        match self.steps.first() {
            Some(Step::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Walks the steps from a scope's value.
    pub fn walk<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.steps
            .iter()
            .try_fold(root, |v, step| match step {
                Step::Key(k) => v.get(k),
                Step::Index(i) => v.get(i),
            })
            .filter(|v| !v.is_null())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    pub path: Path,
    pub fallback: Option<String>,
    pub raw: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Insert(Insert),
}

/// One piece of a template, as [`Template::pieces`] gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Literal(&'a str),
    Insert(&'a Insert),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// A template that does not parse: the byte offset in its source and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A value a template needs and the scopes do not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub path: String,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no value for `@{{{}}}`", self.path)
    }
}

impl std::error::Error for Missing {}

/// How inserted values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As they are: plain text, headers, JSON strings (serde escapes them).
    Plain,
    /// A URL: a value that starts it is its base, as it is; later values are
    /// percent-encoded as one path segment or query value.
    Url,
    /// Slack mrkdwn: `&`, `<`, `>` escaped, so record text cannot ping `<!channel>`.
    SlackMrkdwn,
}

/// Everything but RFC 3986's unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The values templates are rendered against. A scope left `None` holds
/// nothing at this place (no recipient in an extraction, say).
#[derive(Debug, Clone, Copy, Default)]
pub struct Scopes<'a> {
    pub followup: Option<&'a Value>,
    pub recipient: Option<&'a Value>,
    pub lookup: Option<&'a Value>,
    pub digest: Option<&'a Value>,
    pub local: Option<&'a Value>,
    pub global: Option<&'a Value>,
    pub custom: Option<&'a Value>,
    /// Whether `env.*` may be read here.
    pub env: bool,
}

impl Scopes<'_> {
    /// The value at `path`; `None` when it is absent, `null` or `""`, which
    /// all count as missing.
    pub fn get(&self, path: &Path) -> Option<Cow<'_, Value>> {
        self.lookup(path).filter(|v| !counts_as_missing(v))
    }

    fn lookup(&self, path: &Path) -> Option<Cow<'_, Value>> {
        let root = match path.scope {
            Scope::Followup => self.followup,
            Scope::Recipient => self.recipient,
            Scope::Lookup => self.lookup,
            Scope::Digest => self.digest,
            Scope::Local => self.local,
            Scope::Global => self.global,
            Scope::Custom => self.custom,
            Scope::Env => {
                let name = path.name()?;
                return match (self.env, path.steps.len()) {
                    (true, 1) => std::env::var(name)
                        .ok()
                        .map(|v| Cow::Owned(Value::String(v))),
                    _ => None,
                };
            }
        };
        path.walk(root?).map(Cow::Borrowed)
    }
}

/// `null` and the empty string count as missing (DESIGN.md): ServiceNow and
/// Jira send `""` for an empty field, and a fallback must apply to it.
pub fn counts_as_missing(value: &Value) -> bool {
    matches!(value, Value::Null) || value.as_str() == Some("")
}

/// The text of an inserted value; `None` for a value that counts as missing.
pub fn text_of(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, ParseError> {
        let mut parts = Vec::new();
        let mut rest = source;
        let mut offset = 0;
        while let Some(start) = rest.find("@{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let body_start = offset + start + 2;
            let (insert, used) =
                parse_insert(&source[body_start..]).map_err(|(at, message)| ParseError {
                    offset: body_start + at,
                    message,
                })?;
            parts.push(Part::Insert(insert));
            offset = body_start + used;
            rest = &source[offset..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Template {
            source: source.to_owned(),
            parts,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn inserts(&self) -> impl Iterator<Item = &Insert> {
        self.parts.iter().filter_map(|p| match p {
            Part::Insert(i) => Some(i),
            Part::Literal(_) => None,
        })
    }

    /// The template piece by piece: literal text and inserts, in order.
    pub fn pieces(&self) -> impl Iterator<Item = Piece<'_>> {
        self.parts.iter().map(|p| match p {
            Part::Literal(text) => Piece::Literal(text),
            Part::Insert(insert) => Piece::Insert(insert),
        })
    }

    /// Whether the template starts with an insert (a URL's base, say).
    pub fn starts_with_insert(&self) -> bool {
        matches!(self.parts.first(), Some(Part::Insert(_)))
    }

    pub fn render(&self, scopes: &Scopes, encoding: Encoding) -> Result<String, Missing> {
        let mut out = String::with_capacity(self.source.len());
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Insert(insert) => {
                    let value = resolve(insert, scopes)?;
                    let text = text_of(&value).unwrap_or_default();
                    if insert.raw || (encoding == Encoding::Url && i == 0) {
                        out.push_str(&text);
                    } else {
                        encode_into(&mut out, &text, encoding);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Renders to a JSON value: a template that is exactly one insert keeps
    /// the JSON type of the value; anything else is a string.
    pub fn render_value(&self, scopes: &Scopes) -> Result<Value, Missing> {
        match self.parts.as_slice() {
            [Part::Insert(insert)] => Ok(resolve(insert, scopes)?.into_owned()),
            _ => self.render(scopes, Encoding::Plain).map(Value::String),
        }
    }
}

fn resolve<'s>(insert: &Insert, scopes: &'s Scopes) -> Result<Cow<'s, Value>, Missing> {
    match scopes.get(&insert.path) {
        Some(value) => Ok(value),
        None => match &insert.fallback {
            Some(fallback) => Ok(Cow::Owned(Value::String(fallback.clone()))),
            None => Err(Missing {
                path: insert.path.text.clone(),
            }),
        },
    }
}

fn encode_into(out: &mut String, text: &str, encoding: Encoding) {
    match encoding {
        Encoding::Plain => out.push_str(text),
        Encoding::Url => out.extend(utf8_percent_encode(text, COMPONENT)),
        Encoding::SlackMrkdwn => {
            for c in text.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    c => out.push(c),
                }
            }
        }
    }
}

/// Parses what follows `@{` up to its `}`; returns the insert and the bytes used.
fn parse_insert(input: &str) -> Result<(Insert, usize), (usize, String)> {
    let mut cursor = Cursor { input, pos: 0 };
    cursor.skip_spaces();
    let path = parse_path(&mut cursor)?;
    cursor.skip_spaces();
    let mut fallback = None;
    if cursor.eat("??") {
        cursor.skip_spaces();
        fallback = Some(parse_string(&mut cursor)?);
        cursor.skip_spaces();
    }
    let mut raw = false;
    if cursor.eat("|") {
        cursor.skip_spaces();
        let at = cursor.pos;
        let word = cursor.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        if word != "raw" {
            return Err((
                at,
                format!("unknown filter `{word}`; the only filter is `raw`"),
            ));
        }
        raw = true;
        cursor.skip_spaces();
    }
    if !cursor.eat("}") {
        let message = match cursor.peek() {
            None => "`@{` is not closed by `}`".to_owned(),
            Some(c) => format!("unexpected `{c}` in `@{{...}}`; expected `??`, `| raw` or `}}`"),
        };
        return Err((cursor.pos, message));
    }
    Ok((
        Insert {
            path,
            fallback,
            raw,
        },
        cursor.pos,
    ))
}

fn parse_path(cursor: &mut Cursor) -> Result<Path, (usize, String)> {
    let start = cursor.pos;
    let scope_name = cursor.take_while(is_name_char);
    if scope_name.is_empty() {
        return Err((start, "expected a name after `@{`".to_owned()));
    }
    let scope = Scope::from_name(scope_name).ok_or_else(|| {
        let names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        (
            start,
            format!(
                "unknown scope `{scope_name}`; a path starts with one of {}{}",
                names.join(", "),
                crate::did_you_mean::did_you_mean(scope_name, names.iter().copied())
            ),
        )
    })?;
    let mut steps = Vec::new();
    loop {
        if cursor.eat(".") {
            let at = cursor.pos;
            let name = cursor.take_while(is_name_char);
            if name.is_empty() {
                return Err((at, "expected a name after `.`".to_owned()));
            }
            steps.push(Step::Key(name.to_owned()));
        } else if cursor.eat("[") {
            let at = cursor.pos;
            if matches!(cursor.peek(), Some('"' | '\'')) {
                steps.push(Step::Key(parse_string(cursor)?));
            } else {
                let digits = cursor.take_while(|c| c.is_ascii_digit());
                let index = digits
                    .parse()
                    .map_err(|_| (at, "expected an index or a quoted key after `[`".to_owned()))?;
                steps.push(Step::Index(index));
            }
            if !cursor.eat("]") {
                return Err((cursor.pos, "expected `]`".to_owned()));
            }
        } else {
            break;
        }
    }
    if steps.is_empty() {
        return Err((
            start,
            format!("`{scope_name}` is a scope; name a value in it (`{scope_name}.NAME`)"),
        ));
    }
    Ok(Path {
        scope,
        steps,
        text: cursor.input[start..cursor.pos].to_owned(),
    })
}

fn parse_string(cursor: &mut Cursor) -> Result<String, (usize, String)> {
    let start = cursor.pos;
    let quote = match cursor.peek() {
        Some(q @ ('"' | '\'')) => q,
        _ => return Err((start, "expected a quoted string".to_owned())),
    };
    cursor.pos += 1;
    let mut out = String::new();
    loop {
        match cursor.next() {
            None => return Err((start, "string is not closed".to_owned())),
            Some('\\') => match cursor.next() {
                Some(c) => out.push(c),
                None => return Err((start, "string is not closed".to_owned())),
            },
            Some(c) if c == quote => return Ok(out),
            Some(c) => out.push(c),
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

struct Cursor<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.input[self.pos..].starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn take_while(&mut self, pred: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.next();
        }
        &self.input[start..self.pos]
    }

    fn skip_spaces(&mut self) {
        self.take_while(char::is_whitespace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(source: &str, scopes: &Scopes, encoding: Encoding) -> Result<String, Missing> {
        Template::parse(source).unwrap().render(scopes, encoding)
    }

    #[test]
    fn paths_fallbacks_and_raw() {
        let followup = json!({"data": {"number": "RITM1", "approver.email": "a@x.com", "list": [10, 20], "none": null, "due_date": ""}});
        let scopes = Scopes {
            followup: Some(&followup),
            ..Scopes::default()
        };
        let ok = |s| render(s, &scopes, Encoding::Plain).unwrap();
        assert_eq!(ok("Hi @{followup.data.number}!"), "Hi RITM1!");
        assert_eq!(ok(r#"@{followup.data["approver.email"]}"#), "a@x.com");
        assert_eq!(ok("@{followup.data.list[1]}"), "20");
        assert_eq!(ok(r#"@{ followup.data.none ?? "n/a" }"#), "n/a");
        assert_eq!(
            ok(r#"@{followup.data.gone ?? "say \"hi\" }"}"#),
            r#"say "hi" }"#
        );
        let missing = render("x @{followup.data.none}", &scopes, Encoding::Plain).unwrap_err();
        assert_eq!(missing.to_string(), "no value for `@{followup.data.none}`");
        // ServiceNow and Jira send `""` for an empty field: missing too.
        assert_eq!(
            ok(r#"@{followup.data.due_date ?? "no due date"}"#),
            "no due date"
        );
        assert_eq!(
            render("@{followup.data.due_date}", &scopes, Encoding::Plain)
                .unwrap_err()
                .to_string(),
            "no value for `@{followup.data.due_date}`"
        );
        // A single insert that keeps its JSON type takes the fallback too.
        let value = Template::parse(r#"@{followup.data.due_date ?? "none"}"#)
            .unwrap()
            .render_value(&scopes)
            .unwrap();
        assert_eq!(value, json!("none"));
    }

    #[test]
    fn encoding_by_destination() {
        let global = json!({"base": "https://sn.example.com/x", "q": "a b&c/d"});
        let scopes = Scopes {
            global: Some(&global),
            ..Scopes::default()
        };
        assert_eq!(
            render("@{global.base}/api?q=@{global.q}", &scopes, Encoding::Url).unwrap(),
            "https://sn.example.com/x/api?q=a%20b%26c%2Fd"
        );
        assert_eq!(
            render("@{global.base}/@{global.q | raw}", &scopes, Encoding::Url).unwrap(),
            "https://sn.example.com/x/a b&c/d"
        );
        let local = json!({"t": "<!channel> & co"});
        let scopes = Scopes {
            local: Some(&local),
            ..Scopes::default()
        };
        assert_eq!(
            render("*@{local.t}*", &scopes, Encoding::SlackMrkdwn).unwrap(),
            "*&lt;!channel&gt; &amp; co*"
        );
    }

    #[test]
    fn a_single_insert_keeps_its_json_type() {
        let followup = json!({"attempt": 2, "data": {"tags": ["a"]}});
        let scopes = Scopes {
            followup: Some(&followup),
            ..Scopes::default()
        };
        let value = |s| Template::parse(s).unwrap().render_value(&scopes).unwrap();
        assert_eq!(value("@{followup.attempt}"), json!(2));
        assert_eq!(value("@{followup.data.tags}"), json!(["a"]));
        assert_eq!(value("n=@{followup.attempt}"), json!("n=2"));
    }

    #[test]
    fn env_only_where_allowed() {
        let scopes = Scopes::default();
        // PATH is set wherever tests run.
        assert!(render("@{env.PATH}", &scopes, Encoding::Plain).is_err());
        let scopes = Scopes {
            env: true,
            ..Scopes::default()
        };
        assert!(render("@{env.PATH}", &scopes, Encoding::Plain).is_ok());
    }

    #[test]
    fn parse_errors_say_where() {
        let err = |s| Template::parse(s).unwrap_err();
        assert_eq!(err("a @{folowup.x}").offset, 4);
        assert!(
            err("a @{folowup.x}")
                .message
                .contains("did you mean `followup`")
        );
        assert_eq!(err("@{global.x").message, "`@{` is not closed by `}`");
        assert_eq!(
            err("@{global}").message,
            "`global` is a scope; name a value in it (`global.NAME`)"
        );
        assert_eq!(
            err("@{global.x | upper}").message,
            "unknown filter `upper`; the only filter is `raw`"
        );
    }
}
