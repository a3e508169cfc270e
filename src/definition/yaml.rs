//! The one YAML module: every YAML byte that followup reads goes through here.
//!
//! YAML is parsed once, by yaml-rust2's event parser, into a [`Node`] tree that
//! keeps the line and column of every key and value. Typed values are then
//! deserialized from that tree with serde ([`from_node`]), so that a type error
//! points at the offending value and an unknown key at the key itself, and
//! semantic rules can ask the tree where a value stands ([`Node::at`]).
//!
//! The parser is bounded: a document is at most [`MAX_BYTES`], [`MAX_DEPTH`]
//! levels deep and [`MAX_NODES`] nodes after alias expansion, so neither a
//! huge file, deep nesting nor an alias bomb can exhaust memory or the stack.
//! Scalars resolve with the YAML 1.2 core schema (`yes` is a string).
//!
//! Writing YAML (`show`, the channels of a bundle) goes through here too
//! ([`to_string`]), with serde_yaml: the rest of the code names no YAML crate.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::did_you_mean::did_you_mean;

/// The largest YAML file accepted. Definitions are a few KiB; a larger file is
/// a mistake (a data dump saved under the wrong name), not a definition.
pub const MAX_BYTES: usize = 1024 * 1024;
/// The deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 64;
/// The most nodes a document may hold once aliases are expanded.
pub const MAX_NODES: usize = 100_000;

/// A position in a YAML text; both numbers start at 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark {
    pub line: usize,
    pub column: usize,
}

impl Mark {
    fn from_marker(m: Marker) -> Mark {
        Mark {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

/// An error with the place it was found, in the text of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub mark: Mark,
    pub message: String,
}

impl YamlError {
    fn new(mark: Mark, message: impl Into<String>) -> YamlError {
        YamlError {
            mark,
            message: message.into(),
        }
    }
}

/// One YAML value with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub mark: Mark,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string; `plain` is false for quoted and block scalars.
    Str {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One key of a mapping with its value. Keys are scalars, kept as text.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_mark: Mark,
    pub value: Node,
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The node at a path of keys and sequence indexes (written as numbers).
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, step| match &node.value {
            Value::Map(_) => node.get(step),
            Value::Seq(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
    }

    /// Where a path points: its value if present, else the nearest ancestor
    /// that exists (a missing key is reported at the mapping that lacks it).
    pub fn mark_at(&self, path: &[&str]) -> Mark {
        let mut node = self;
        for step in path {
            match node.at(&[step]) {
                Some(next) => node = next,
                None => break,
            }
        }
        node.mark
    }

    /// What a value is, for "expected ..., found ..." messages; a number or
    /// boolean is shown as written, since its value is usually the mistake.
    fn describe(&self) -> String {
        match &self.value {
            Value::Null => "nothing".into(),
            Value::Bool(b) => format!("`{b}`"),
            Value::Int(i) => format!("`{i}`"),
            Value::Float(f) => format!("`{f}`"),
            Value::Str { .. } => "a string".into(),
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
        }
    }

    /// The text of a scalar as written (numbers and booleans included).
    fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str { text, .. } => Some(text.clone()),
            _ => None,
        }
    }
}

/// Parses one YAML document. An empty document is `Value::Null`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    if text.len() > MAX_BYTES {
        return Err(YamlError::new(
            Mark { line: 1, column: 1 },
            format!(
                "file is {} bytes; a YAML file here may hold at most {} bytes",
                text.len(),
                MAX_BYTES
            ),
        ));
    }
    if let Some(at) = text.find('\0') {
        return Err(YamlError::new(
            mark_of_offset(text, at),
            "file holds a NUL byte: binary data is not YAML",
        ));
    }
    Builder::default().run(text)
}

/// A value written as YAML.
pub fn to_string<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(serde_yaml::to_string(value)?)
}

/// The line and column of a byte offset.
pub fn mark_of_offset(text: &str, offset: usize) -> Mark {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Mark { line, column }
}

/// The byte offset of a mark in `text`: the inverse of [`mark_of_offset`].
pub fn offset_of_mark(text: &str, mark: Mark) -> usize {
    let line_start = if mark.line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(mark.line - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    let line = &text[line_start..];
    line_start
        + line
            .char_indices()
            .nth(mark.column.saturating_sub(1))
            .map_or(line.len(), |(i, _)| i)
}

/// A string written as a YAML scalar that reads back as the same string:
/// plain where that is safe, else double-quoted (a JSON string is a valid
/// YAML double-quoted scalar).
pub fn scalar(text: &str) -> String {
    if is_plain_safe(text) {
        text.to_owned()
    } else {
        double_quoted(text)
    }
}

/// A string written as a double-quoted YAML scalar, whatever it holds.
pub fn double_quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// Whether `text` may stand unquoted, in block and flow context alike.
fn is_plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    !first.is_whitespace()
        && !"-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !text.ends_with(char::is_whitespace)
        && !text.ends_with(':')
        && !text.contains(": ")
        && !text.contains(" #")
        && text
            .chars()
            .all(|c| !c.is_control() && !",[]{}".contains(c))
        && matches!(
            resolve_scalar(text.to_owned(), TScalarStyle::Plain, None),
            Value::Str { .. }
        )
}

/// How a one-line scalar is written in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
}

/// Replaces the values of top-level keys with strings and keeps every other
/// byte of `text` (comments, layout, quoting style). Each value must be a
/// scalar written on one line. The result is parsed again and must hold
/// exactly the same tree but for the replaced values; anything else is an
/// error, never a silently changed document.
pub fn replace_top_level(text: &str, edits: &[(&str, &str)]) -> Result<String, YamlError> {
    let root = parse(text)?;
    let mut spans = Vec::with_capacity(edits.len());
    for (key, new) in edits {
        let entry = root.entry(key).ok_or_else(|| {
            YamlError::new(root.mark, format!("no `{key}` at the top of the file"))
        })?;
        let start = offset_of_mark(text, entry.value.mark);
        let (end, style) = scalar_span(text, start, &entry.value).ok_or_else(|| {
            YamlError::new(
                entry.value.mark,
                format!("`{key}` must be a value written on one line (no anchor, tag or block) to be rewritten"),
            )
        })?;
        let written = match style {
            Style::Plain => scalar(new),
            Style::DoubleQuoted => double_quoted(new),
            Style::SingleQuoted if new.chars().all(|c| !c.is_control()) => {
                format!("'{}'", new.replace('\'', "''"))
            }
            Style::SingleQuoted => double_quoted(new),
        };
        spans.push((start, end, written));
    }
    spans.sort_by_key(|(start, _, _)| std::cmp::Reverse(*start));
    let mut out = text.to_owned();
    for (start, end, written) in spans {
        out.replace_range(start..end, &written);
    }
    let after = parse(&out)?;
    let same = match (&root.value, &after.value) {
        (Value::Map(before), Value::Map(now)) => {
            before.len() == now.len()
                && before.iter().zip(now).all(|(b, n)| {
                    b.key == n.key
                        && match edits.iter().find(|(k, _)| *k == b.key) {
                            Some((_, new)) => n.value.as_str() == Some(new),
                            None => same_tree(&b.value, &n.value),
                        }
                })
        }
        _ => false,
    };
    if !same {
        return Err(YamlError::new(
            root.mark,
            "the values could not be replaced without changing the rest of the file",
        ));
    }
    Ok(out)
}

/// Where the scalar starting at `start` ends, and how it is written; `None`
/// for what is not a one-line scalar.
fn scalar_span(text: &str, start: usize, node: &Node) -> Option<(usize, Style)> {
    let rest = &text[start..];
    let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
    match line.chars().next()? {
        '"' => {
            let mut escaped = false;
            for (i, c) in line.char_indices().skip(1) {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => return Some((start + i + 1, Style::DoubleQuoted)),
                    _ => {}
                }
            }
            None
        }
        '\'' => {
            let mut chars = line.char_indices().skip(1).peekable();
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                        chars.next();
                    } else {
                        return Some((start + i + 1, Style::SingleQuoted));
                    }
                }
            }
            None
        }
        '|' | '>' | '&' | '!' | '*' | '[' | '{' => None,
        _ => {
            let value = line
                .find(" #")
                .or_else(|| line.find("\t#"))
                .map_or(line, |i| &line[..i])
                .trim_end();
            // A plain scalar continued on the next lines reads as more
            // than this line holds: refuse it rather than cut it.
            (node.scalar_text().as_deref() == Some(value))
                .then_some((start + value.len(), Style::Plain))
        }
    }
}

/// Whether two trees hold the same values, wherever they stand.
fn same_tree(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_tree(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(a, b)| a.key == b.key && same_tree(&a.value, &b.value))
        }
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (x, y) => x == y,
    }
}

/// Turns the parser's events into a tree, with explicit stacks (never
/// recursion) so that deep input cannot overflow the stack.
#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
}

struct Open {
    node: Node,
    anchor: usize,
    /// For a mapping: the key read, waiting for its value.
    key: Option<(String, Mark)>,
    /// For a mapping of many keys, its keys: looking for a duplicate in the
    /// entries would make a file of 50,000 keys take seconds.
    index: Option<HashSet<String>>,
}

/// A mapping with this many keys gets an index of them.
const INDEX_FROM: usize = 16;

impl Builder {
    fn run(mut self, text: &str) -> Result<Node, YamlError> {
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, marker) = parser.next_token().map_err(|e| {
                // The scanner reads flow collections (`[[[...`) ahead of the
                // events and stops at 256 levels with its own words.
                let message = match e.info() {
                    "recursion limit exceeded" => format!("nesting deeper than {MAX_DEPTH} levels"),
                    info => info.to_owned(),
                };
                YamlError::new(Mark::from_marker(*e.marker()), message)
            })?;
            let mark = Mark::from_marker(marker);
            match event {
                Event::StreamEnd => break,
                Event::DocumentStart => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(YamlError::new(
                            mark,
                            "file holds several YAML documents; write one per file",
                        ));
                    }
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let node = Node {
                        mark,
                        value: resolve_scalar(text, style, tag.as_ref().map(|t| t.suffix.as_str())),
                    };
                    self.push(node, anchor)?;
                }
                Event::Alias(id) => {
                    let node = self.anchors.get(&id).cloned().ok_or_else(|| {
                        YamlError::new(mark, "alias to an anchor that is not defined")
                    })?;
                    self.count(count_nodes(&node), mark)?;
                    self.place(Node { mark, ..node })?;
                }
                Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(YamlError::new(
                            mark,
                            format!("nesting deeper than {MAX_DEPTH} levels"),
                        ));
                    }
                    let value = if matches!(event, Event::SequenceStart(..)) {
                        Value::Seq(Vec::new())
                    } else {
                        Value::Map(Vec::new())
                    };
                    self.count(1, mark)?;
                    self.stack.push(Open {
                        node: Node { mark, value },
                        anchor,
                        key: None,
                        index: None,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let open = self.stack.pop().expect("the parser balances its events");
                    self.finish(open.node, open.anchor)?;
                }
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            }
        }
        Ok(self.root.unwrap_or(Node {
            mark: Mark { line: 1, column: 1 },
            value: Value::Null,
        }))
    }

    fn count(&mut self, n: usize, mark: Mark) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(YamlError::new(
                mark,
                format!("document expands to more than {MAX_NODES} values (an alias bomb?)"),
            ));
        }
        Ok(())
    }

    fn push(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        self.count(1, node.mark)?;
        self.finish(node, anchor)
    }

    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.place(node)
    }

    /// Puts a complete node into its parent (or makes it the root).
    fn place(&mut self, node: Node) -> Result<(), YamlError> {
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut parent.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match parent.key.take() {
                None => {
                    let mark = node.mark;
                    let key = match node.value {
                        Value::Str { text, .. } => text,
                        value => Node { mark, value }.scalar_text().ok_or_else(|| {
                            YamlError::new(
                                mark,
                                "a mapping key must be a plain value, not a list or mapping",
                            )
                        })?,
                    };
                    let duplicate = match &mut parent.index {
                        Some(index) => !index.insert(key.clone()),
                        None => {
                            let duplicate = entries.iter().any(|e| e.key == key);
                            if !duplicate && entries.len() >= INDEX_FROM {
                                let keys = entries.iter().map(|e| &e.key).chain([&key]);
                                parent.index = Some(keys.cloned().collect());
                            }
                            duplicate
                        }
                    };
                    if let Some(first) = duplicate
                        .then(|| entries.iter().find(|e| e.key == key))
                        .flatten()
                    {
                        return Err(YamlError::new(
                            mark,
                            format!(
                                "duplicate key `{key}` (first at line {}, column {})",
                                first.key_mark.line, first.key_mark.column
                            ),
                        ));
                    }
                    // A block mapping's start event stands after its first
                    // key; the first key is where a reader sees the mapping.
                    if entries.is_empty() && mark < parent.node.mark {
                        parent.node.mark = mark;
                    }
                    parent.key = Some((key, mark));
                }
                Some((key, key_mark)) => entries.push(Entry {
                    key,
                    key_mark,
                    value: node,
                }),
            },
            _ => unreachable!("only collections are opened"),
        }
        Ok(())
    }
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count_nodes).sum(),
        Value::Map(entries) => entries.iter().map(|e| count_nodes(&e.value)).sum(),
        _ => 0,
    }
}

/// YAML 1.2 core schema resolution of a scalar.
fn resolve_scalar(text: String, style: TScalarStyle, tag: Option<&str>) -> Value {
    if style != TScalarStyle::Plain || tag == Some("str") {
        return Value::Str { text, plain: false };
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(i) = parse_int(&text) {
        return Value::Int(i);
    }
    if looks_like_float(&text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    match text.as_str() {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
        _ => Value::Str { text, plain: true },
    }
}

fn parse_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
}

// ---------------------------------------------------------------------------
// Typed deserialization from the tree.

/// A problem found while deserializing: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub mark: Mark,
    pub message: String,
}

/// Deserializes `T` from a node. Unknown keys do not stop the reading: each
/// is reported (with a hint where a known key is close) and skipped, so that
/// one run shows them all. Nor does a value of the wrong type: it is
/// reported, stood in for in a copy of the tree by a value of another kind
/// (taken out if none reads), and the reading starts again, so that the
/// value still comes back for the rules to check the rest of the file. The
/// rules may then find fault with a stand-in, at the place already
/// reported: the caller keeps the first error of each place.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> (Option<T>, Vec<Problem>) {
    // Each retry reads the whole tree again; a file with more wrong values
    // than this is reported in part.
    const MAX_RETRIES: usize = 64;
    let mut tree = std::borrow::Cow::Borrowed(node);
    let mut problems: Vec<Problem> = Vec::new();
    // Where a value was stood in for, and the stand-ins not yet tried there.
    let mut replaced: Vec<(Mark, Vec<Value>)> = Vec::new();
    let mut taken_out = false;
    let mut value = None;
    for _ in 0..=MAX_RETRIES {
        let unknown = RefCell::new(Vec::new());
        let result = T::deserialize(NodeDe {
            node: &tree,
            path: &Path::Root,
            unknown: &unknown,
        });
        for p in unknown.into_inner() {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
        let e = match result {
            Ok(v) => {
                value = Some(v);
                break;
            }
            Err(e) => e,
        };
        let mark = e.mark.unwrap_or(node.mark);
        let tree = tree.to_mut();
        if let Some((_, stand_ins)) = replaced.iter_mut().find(|(at, _)| *at == mark) {
            // A stand-in that does not read either: the next one, and when
            // none reads, no value at all (a list's item stays: taking it
            // out would renumber the rest in later messages).
            let next = stand_ins.pop();
            let done = match next {
                Some(stand_in) => !put(tree, mark, stand_in),
                None => {
                    taken_out = true;
                    take_out(tree, mark).is_none()
                }
            };
            if done {
                break;
            }
            continue;
        }
        if taken_out && e.message.contains("missing required key") {
            // What was taken out was required; its wrong value is reported.
            break;
        }
        problems.push(Problem {
            mark,
            message: e.message,
        });
        let mut stand_ins = stand_ins();
        let Some(first) = stand_ins.pop() else { break };
        if mark == node.mark || !put(tree, mark, first) {
            break;
        }
        replaced.push((mark, stand_ins));
    }
    problems.sort_by_key(|p| p.mark);
    (value, problems)
}

/// Values of every kind, tried in turn for a required key's wrong value.
fn stand_ins() -> Vec<Value> {
    vec![
        Value::Map(Vec::new()),
        Value::Seq(Vec::new()),
        Value::Bool(false),
        Value::Int(1),
        Value::Str {
            text: String::new(),
            plain: false,
        },
    ]
}

/// Removes the mapping entry whose value is the node at `mark`.
fn take_out(node: &mut Node, mark: Mark) -> Option<()> {
    match &mut node.value {
        Value::Map(entries) => {
            if let Some(i) = entries.iter().position(|e| e.value.mark == mark) {
                entries.remove(i);
                return Some(());
            }
            entries
                .iter_mut()
                .find_map(|e| take_out(&mut e.value, mark))
        }
        Value::Seq(items) => items.iter_mut().find_map(|item| take_out(item, mark)),
        _ => None,
    }
}

/// Replaces the value of the node at `at`.
fn put(node: &mut Node, at: Mark, value: Value) -> bool {
    find_mut(node, at).map(|n| n.value = value).is_some()
}

/// The node at `at`, the first in document order.
fn find_mut(node: &mut Node, at: Mark) -> Option<&mut Node> {
    if node.mark == at {
        return Some(node);
    }
    match &mut node.value {
        Value::Map(entries) => entries.iter_mut().find_map(|e| find_mut(&mut e.value, at)),
        Value::Seq(items) => items.iter_mut().find_map(|item| find_mut(item, at)),
        _ => None,
    }
}

/// Where the deserializer stands, for messages: `extraction.integrations[0]`.
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => write!(f, "{key}"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

#[derive(Debug)]
pub struct DeError {
    mark: Option<Mark>,
    message: String,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            mark: None,
            message: msg.to_string(),
        }
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        de::Error::custom(format_args!(
            "expected {}, found {}",
            expected(exp),
            found(unexp)
        ))
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        Self::invalid_type(unexp, exp)
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        de::Error::custom(format_args!(
            "unknown value `{variant}`; expected {}{}",
            one_of(expected),
            did_you_mean(variant, expected.iter().copied())
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        de::Error::custom(format_args!(
            "unknown key `{field}`{}",
            did_you_mean(field, expected.iter().copied())
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        de::Error::custom(format_args!("missing required key `{field}`"))
    }
}

/// What serde expected, in an operator's words (`u32` is a whole number).
fn expected(exp: &dyn de::Expected) -> String {
    match exp.to_string().as_str() {
        "u8" => format!("a whole number from 0 to {}", u8::MAX),
        "u16" => format!("a whole number from 0 to {}", u16::MAX),
        "u32" => format!("a whole number from 0 to {}", u32::MAX),
        "u64" => format!("a whole number from 0 to {}", u64::MAX),
        other => other.to_owned(),
    }
}

/// What serde found, in the words of the other messages (`a mapping`, not
/// `map`), with a number or boolean as written.
fn found(unexp: de::Unexpected) -> String {
    match unexp {
        de::Unexpected::Map => "a mapping".to_owned(),
        de::Unexpected::Seq => "a list".to_owned(),
        de::Unexpected::Str(_) => "a string".to_owned(),
        de::Unexpected::Unit | de::Unexpected::Option => "nothing".to_owned(),
        de::Unexpected::Bool(b) => format!("`{b}`"),
        de::Unexpected::Signed(i) => format!("`{i}`"),
        de::Unexpected::Unsigned(u) => format!("`{u}`"),
        de::Unexpected::Float(f) => format!("`{f}`"),
        other => other.to_string(),
    }
}

fn one_of(expected: &[&str]) -> String {
    let quoted: Vec<String> = expected.iter().map(|e| format!("`{e}`")).collect();
    match quoted.len() {
        0 => "nothing".into(),
        1 => quoted[0].clone(),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

struct NodeDe<'a> {
    node: &'a Node,
    path: &'a Path<'a>,
    unknown: &'a RefCell<Vec<Problem>>,
}

impl<'a> NodeDe<'a> {
    /// Gives an error without a place the place of this node.
    fn locate(&self, mut e: DeError) -> DeError {
        if e.mark.is_none() {
            e.mark = Some(self.node.mark);
            if !matches!(self.path, Path::Root) {
                e.message = format!("{}: {}", self.path, e.message);
            }
        }
        e
    }

    fn invalid(&self, expected: &str) -> DeError {
        self.locate(de::Error::custom(format_args!(
            "expected {expected}, found {}",
            self.node.describe()
        )))
    }
}

/// Methods that read the node as it is, once its kind is what they expect.
macro_rules! checked_any {
    ($($expected:literal, |$v:ident| $ok:expr => $($method:ident)*;)*) => {
        $($(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let $v = &self.node.value;
            if !$ok {
                return Err(self.invalid($expected));
            }
            self.deserialize_any(visitor)
        })*)*
    };
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str { text, .. } => visitor.visit_str(text),
            Value::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter().enumerate(),
                parent: self.path,
                unknown: self.unknown,
            }),
            Value::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                parent: self.path,
                unknown: self.unknown,
                fields: None,
            }),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    /// Any scalar reads as a string: `name: 2024` is the name "2024".
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.scalar_text() {
            Some(text) => visitor.visit_string(text).map_err(|e| self.locate(e)),
            None => Err(self.invalid("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let Value::Map(entries) = &self.node.value else {
            return Err(self.invalid("a mapping"));
        };
        visitor
            .visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                parent: self.path,
                unknown: self.unknown,
                fields: Some(fields),
            })
            .map_err(|e| self.locate(e))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Map(_) => self.deserialize_any(visitor),
            _ => Err(self.invalid("a mapping")),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Seq(_) => self.deserialize_any(visitor),
            _ => Err(self.invalid("a list")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.node.scalar_text() {
            Some(text) => visitor
                .visit_enum(text.as_str().into_deserializer())
                .map_err(|e| self.locate(e)),
            None => Err(self.invalid("a string")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    checked_any! {
        "true or false", |v| matches!(v, Value::Bool(_)) => deserialize_bool;
        "a whole number", |v| matches!(v, Value::Int(_)) => deserialize_i8 deserialize_i16
            deserialize_i32 deserialize_i64;
        "a whole number, 0 or more", |v| matches!(v, Value::Int(i) if *i >= 0) => deserialize_u8
            deserialize_u16 deserialize_u32 deserialize_u64;
        "a number", |v| matches!(v, Value::Int(_) | Value::Float(_)) => deserialize_f32 deserialize_f64;
        "anything", |_v| true => deserialize_char deserialize_bytes deserialize_byte_buf
            deserialize_unit deserialize_identifier;
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
}

struct SeqDe<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    parent: &'a Path<'a>,
    unknown: &'a RefCell<Vec<Problem>>,
}

impl<'de, 'a> de::SeqAccess<'de> for SeqDe<'a> {
    type Error = DeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        let path = Path::Index(self.parent, i);
        seed.deserialize(NodeDe {
            node,
            path: &path,
            unknown: self.unknown,
        })
        .map(Some)
    }
}

struct MapDe<'a> {
    entries: std::slice::Iter<'a, Entry>,
    value: Option<&'a Entry>,
    parent: &'a Path<'a>,
    unknown: &'a RefCell<Vec<Problem>>,
    /// For a struct: its keys; any other key is reported and skipped.
    fields: Option<&'static [&'static str]>,
}

impl<'de, 'a> de::MapAccess<'de> for MapDe<'a> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for entry in self.entries.by_ref() {
            if let Some(fields) = self.fields
                && !fields.contains(&entry.key.as_str())
            {
                let place = match self.parent {
                    Path::Root => String::new(),
                    parent => format!(" in `{parent}`"),
                };
                self.unknown.borrow_mut().push(Problem {
                    mark: entry.key_mark,
                    message: format!(
                        "unknown key `{}`{place}{}",
                        entry.key,
                        did_you_mean(&entry.key, fields.iter().copied())
                    ),
                });
                continue;
            }
            self.value = Some(entry);
            return seed
                .deserialize(entry.key.as_str().into_deserializer())
                .map(Some)
                .map_err(|mut e: DeError| {
                    e.mark.get_or_insert(entry.key_mark);
                    e
                });
        }
        Ok(None)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        let entry = self
            .value
            .take()
            .expect("serde asks for a value after its key");
        let path = Path::Key(self.parent, &entry.key);
        seed.deserialize(NodeDe {
            node: &entry.value,
            path: &path,
            unknown: self.unknown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Polling {
        every: String,
        #[serde(default)]
        resolve_after: Option<u32>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        id: String,
        polling: Polling,
    }

    fn problems(text: &str) -> Vec<(usize, usize, String)> {
        let node = parse(text).unwrap();
        from_node::<Doc>(&node)
            .1
            .into_iter()
            .map(|p| (p.mark.line, p.mark.column, p.message))
            .collect()
    }

    #[test]
    fn reads_typed_values_and_scalars_as_strings() {
        let node = parse("id: 42\npolling:\n  every: 30\n  resolve_after: 3\n").unwrap();
        let doc: Doc = from_node(&node).0.unwrap();
        assert_eq!(doc.id, "42");
        assert_eq!(doc.polling.every, "30");
        assert_eq!(doc.polling.resolve_after, Some(3));
    }

    #[test]
    fn unknown_keys_are_all_reported_with_hints() {
        assert_eq!(
            problems("id: a\nidd: b\npolling:\n  evry: 30m\n  every: 1h\n"),
            vec![
                (2, 1, "unknown key `idd`; did you mean `id`?".into()),
                (
                    4,
                    3,
                    "unknown key `evry` in `polling`; did you mean `every`?".into()
                ),
            ]
        );
    }

    #[test]
    fn type_errors_point_at_the_value() {
        assert_eq!(
            problems("id: a\npolling:\n  every: 1h\n  resolve_after: [1]\n"),
            vec![(
                4,
                18,
                "polling.resolve_after: expected a whole number, 0 or more, found a list".into()
            )]
        );
        assert_eq!(
            problems("id: a\npolling: 5\n"),
            vec![(2, 10, "polling: expected a mapping, found `5`".into())]
        );
    }

    #[test]
    fn every_wrong_value_is_reported_and_the_rest_still_read() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Lists {
            names: Vec<String>,
            counts: Vec<u32>,
            every: u32,
        }
        let node = parse("names: [a, [b], c]\ncounts: [1, x, 3]\nevery: {n: 1}\nid: y\n").unwrap();
        let (value, found) = from_node::<Lists>(&node);
        let messages: Vec<String> = found.into_iter().map(|p| p.message).collect();
        assert_eq!(
            messages,
            [
                "names[1]: expected a string, found a list",
                "counts[1]: expected a whole number, 0 or more, found a string",
                "every: expected a whole number, 0 or more, found a mapping",
                "unknown key `id`",
            ]
        );
        // The stand-ins keep each list's length, so later items keep their
        // numbers.
        let value = value.expect("read with stand-ins");
        assert_eq!(value.names.len(), 3);
        assert_eq!(value.counts, [1, 1, 3]);
        // A required value of no kind that reads: reported once, no value.
        assert_eq!(
            problems("id: a\npolling:\n  every: [1]\n  resolve_after: x\n"),
            vec![
                (
                    3,
                    10,
                    "polling.every: expected a string, found a list".into()
                ),
                (
                    4,
                    18,
                    "polling.resolve_after: expected a whole number, 0 or more, found a string"
                        .into()
                ),
            ]
        );
    }

    #[test]
    fn missing_keys_point_at_the_mapping() {
        assert_eq!(
            problems("id: a\npolling:\n  resolve_after: 2\n"),
            vec![(3, 3, "polling: missing required key `every`".into())]
        );
    }

    #[test]
    fn marks_of_nested_values() {
        let node = parse("a:\n  - x\n  - {b: [1, 2]}\n").unwrap();
        assert_eq!(
            node.mark_at(&["a", "1", "b", "1"]),
            Mark {
                line: 3,
                column: 13
            }
        );
        // A missing key is reported at the nearest mapping that exists.
        assert_eq!(node.mark_at(&["a", "1", "c"]), Mark { line: 3, column: 5 });
    }

    #[test]
    fn core_schema_scalars() {
        let node = parse("[yes, true, ~, 0x1F, -3, 1.5, '7', 1e3, .inf]").unwrap();
        let Value::Seq(items) = node.value else {
            panic!()
        };
        let values: Vec<Value> = items.into_iter().map(|n| n.value).collect();
        assert_eq!(
            values[0],
            Value::Str {
                text: "yes".into(),
                plain: true
            }
        );
        assert_eq!(values[1], Value::Bool(true));
        assert_eq!(values[2], Value::Null);
        assert_eq!(values[3], Value::Int(31));
        assert_eq!(values[4], Value::Int(-3));
        assert_eq!(values[5], Value::Float(1.5));
        assert_eq!(
            values[6],
            Value::Str {
                text: "7".into(),
                plain: false
            }
        );
        assert_eq!(values[7], Value::Float(1000.0));
        assert_eq!(values[8], Value::Float(f64::INFINITY));
    }

    #[test]
    fn hostile_input_is_refused() {
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        assert!(parse(bomb).unwrap_err().message.contains("alias bomb"));
        let deep_flow = "[".repeat(10_000);
        assert!(parse(&deep_flow).is_err());
        let deep_block: String = (0..100).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        let err = parse(&deep_block).unwrap_err();
        assert_eq!(err.message, "nesting deeper than 64 levels");
        assert_eq!(err.mark.line, 65);
        assert!(parse("a: 1\0").unwrap_err().message.contains("NUL"));
        assert!(
            parse("a: 1\n---\nb: 2\n")
                .unwrap_err()
                .message
                .contains("several")
        );
        let dup = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(
            (dup.mark.line, dup.message.as_str()),
            (2, "duplicate key `a` (first at line 1, column 1)")
        );
        assert_eq!(parse("").unwrap().value, Value::Null);
    }

    #[test]
    fn offsets_of_marks() {
        let text = "a: 1\nname: Ça va\n";
        let node = parse(text).unwrap();
        let at = offset_of_mark(text, node.get("name").unwrap().mark);
        assert_eq!(&text[at..], "Ça va\n");
        assert_eq!(offset_of_mark(text, mark_of_offset(text, 13)), 13);
    }

    #[test]
    fn scalars_read_back_as_the_same_string() {
        for s in [
            "Pending approval",
            "X (2)",
            "true",
            "123",
            "1e3",
            "a: b",
            "- x",
            "# x",
            "it's",
            "say \"hi\"",
            "",
            " padded ",
            "line\nbreak",
            "null",
            "@{env.X}",
            "a, b",
        ] {
            let doc = format!("k: {}\n", scalar(s));
            let node = parse(&doc).unwrap();
            assert_eq!(
                node.get("k").unwrap().value,
                Value::Str {
                    text: s.into(),
                    plain: scalar(s) == s
                },
                "{doc}"
            );
        }
        assert_eq!(scalar("Pending approval"), "Pending approval");
        assert_eq!(scalar("yes: no"), "\"yes: no\"");
    }

    #[test]
    fn top_level_values_are_replaced_in_place() {
        let text = "# head\nid: a   # the id\nname: \"Old \\\"one\\\"\"\nlist: [1, 2]\n";
        let out = replace_top_level(text, &[("id", "b-2"), ("name", "New (2)")]).unwrap();
        assert_eq!(
            out,
            "# head\nid: b-2   # the id\nname: \"New (2)\"\nlist: [1, 2]\n"
        );
        let single = replace_top_level("name: 'It''s' # c\n", &[("name", "It's 2")]).unwrap();
        assert_eq!(single, "name: 'It''s 2' # c\n");
        // A value that would read as a number is quoted.
        assert_eq!(
            replace_top_level("id: a\n", &[("id", "10")]).unwrap(),
            "id: \"10\"\n"
        );
    }

    #[test]
    fn values_that_are_not_one_line_scalars_are_refused() {
        for text in [
            "name: >\n  folded\n",
            "name: &n x\nalso: *n\n",
            "name: [x]\n",
            "name: multi\n  line\n",
            "other: x\n",
        ] {
            assert!(replace_top_level(text, &[("name", "y")]).is_err(), "{text}");
        }
        // An anchored value keeps its anchor while nothing else reads it.
        assert_eq!(
            replace_top_level("name: &n x\n", &[("name", "y")]).unwrap(),
            "name: &n y\n"
        );
    }
}
