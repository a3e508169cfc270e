//! Compiled JSONPath (RFC 9535, by jsonpath-rust), parsed once per definition.
//!
//! Singular paths (`$.a.b[0]`), the common case for IDs, users and
//! attributes, are walked directly; everything else goes through the library.

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Debug, Clone)]
pub struct JsonPath {
    source: String,
    query: JpQuery,
    /// The steps of a singular path, walked without the library.
    singular: Option<Vec<Step>>,
}

#[derive(Debug, Clone)]
enum Step {
    Name(String),
    Index(i64),
}

impl JsonPath {
    pub fn parse(source: &str) -> Result<JsonPath, String> {
        let trimmed = source.trim();
        let query = match parse_simple(trimmed) {
            Some(query) => query,
            None => parse_json_path(trimmed).map_err(|e| parse_error(trimmed, &e.to_string()))?,
        };
        Ok(JsonPath::from_query(source, query))
    }

    fn from_query(source: &str, query: JpQuery) -> JsonPath {
        let singular = query
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Selector(Selector::Name(name)) => Some(Step::Name(name.clone())),
                Segment::Selector(Selector::Index(i)) => Some(Step::Index(*i)),
                _ => None,
            })
            .collect();
        JsonPath {
            source: source.to_owned(),
            query,
            singular,
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every value the path selects, in document order.
    pub fn query<'v>(&self, value: &'v Value) -> Vec<&'v Value> {
        match &self.singular {
            Some(steps) => walk(steps, value).into_iter().collect(),
            None => js_path_process(&self.query, value)
                .map(|refs| refs.into_iter().map(|r| r.val).collect())
                .unwrap_or_default(),
        }
    }

    /// The first value selected that is not null.
    pub fn first<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        match &self.singular {
            Some(steps) => walk(steps, value).filter(|v| !v.is_null()),
            None => self.query(value).into_iter().find(|v| !v.is_null()),
        }
    }
}

impl JsonPath {
    /// For a singular path: what it selects in raw JSON, found without
    /// building a tree (the poll's fast path over large pages). `None` when
    /// the path is not singular.
    pub fn walk_raw<'a>(&self, raw: &'a RawValue) -> Option<Result<Option<&'a RawValue>, String>> {
        let steps = self.singular.as_ref()?;
        Some(walk_raw(steps, raw))
    }
}

fn walk_raw<'a>(steps: &[Step], raw: &'a RawValue) -> Result<Option<&'a RawValue>, String> {
    let mut at = raw;
    for step in steps {
        let next = match step {
            Step::Name(name) => {
                let mut de = serde_json::Deserializer::from_str(at.get());
                serde::Deserializer::deserialize_any(&mut de, raw::Field(name))
                    .map_err(|e| e.to_string())?
            }
            Step::Index(i) => match serde_json::from_str::<Vec<&RawValue>>(at.get()) {
                Ok(items) => {
                    let i = if *i < 0 { items.len() as i64 + i } else { *i };
                    usize::try_from(i).ok().and_then(|i| items.get(i).copied())
                }
                Err(_) => None,
            },
        };
        match next {
            Some(next) => at = next,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

/// Reading raw JSON without building it: one field of an object, or the
/// array at the end of a path.
mod raw {
    use std::fmt;

    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::value::RawValue;

    use super::Step;

    /// The value at the end of a path: its items when it is an array.
    pub enum Container<'de> {
        Array(Vec<&'de RawValue>),
        Other(&'static str),
    }

    /// Walks down the steps of a singular path in one scan; the value at
    /// their end is read as a container. `None` when a step finds nothing.
    pub struct Descend<'s>(pub &'s [Step]);

    impl<'de> DeserializeSeed<'de> for Descend<'_> {
        type Value = Option<Container<'de>>;

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Descend<'_> {
        type Value = Option<Container<'de>>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (name, rest) = match self.0.split_first() {
                Some((Step::Name(name), rest)) => (name.as_str(), rest),
                Some(_) => return skip_map(map).map(|()| None),
                None => return skip_map(map).map(|()| Some(Container::Other("an object"))),
            };
            let mut found = None;
            while let Some(is_it) = map.next_key_seed(KeyIs(name))? {
                if is_it && found.is_none() {
                    found = Some(map.next_value_seed(Descend(rest))?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found.flatten())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            match self.0.split_first() {
                None => {
                    let mut items = Vec::new();
                    while let Some(item) = seq.next_element::<&'de RawValue>()? {
                        items.push(item);
                    }
                    Ok(Some(Container::Array(items)))
                }
                Some((Step::Index(wanted), rest)) => {
                    let mut found = None;
                    let mut i = 0;
                    loop {
                        if i == *wanted {
                            match seq.next_element_seed(Descend(rest))? {
                                Some(value) => found = value,
                                None => break,
                            }
                        } else if seq.next_element::<IgnoredAny>()?.is_none() {
                            break;
                        }
                        i += 1;
                    }
                    Ok(found)
                }
                Some(_) => {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(None)
                }
            }
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(self.0.is_empty().then_some(Container::Other("a boolean")))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(self.0.is_empty().then_some(Container::Other("a number")))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(self.0.is_empty().then_some(Container::Other("a number")))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(self.0.is_empty().then_some(Container::Other("a number")))
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(self.0.is_empty().then_some(Container::Other("a string")))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(self.0.is_empty().then_some(Container::Other("null")))
        }
    }

    fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    /// Visits an object and keeps the raw value of one key; anything that
    /// is not an object has no such key.
    pub struct Field<'n>(pub &'n str);

    impl<'de> Visitor<'de> for Field<'_> {
        type Value = Option<&'de RawValue>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(is_it) = map.next_key_seed(KeyIs(self.0))? {
                if is_it && found.is_none() {
                    found = Some(map.next_value::<&'de RawValue>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    /// A key compared with a name, allocating nothing when it is not escaped.
    struct KeyIs<'n>(&'n str);

    impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
        type Value = bool;

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for KeyIs<'_> {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a key")
        }

        fn visit_str<E>(self, key: &str) -> Result<bool, E> {
            Ok(key == self.0)
        }
    }
}

fn walk<'v>(steps: &[Step], value: &'v Value) -> Option<&'v Value> {
    steps.iter().try_fold(value, |v, step| match step {
        Step::Name(name) => v.as_object()?.get(name),
        Step::Index(i) => {
            let items = v.as_array()?;
            let i = if *i < 0 { items.len() as i64 + i } else { *i };
            items.get(usize::try_from(i).ok()?)
        }
    })
}

/// The paths definitions are mostly made of (`$.result[*]`, `$.sys_id`,
/// `$['approver.email']`, `$.items[0].name`), parsed by hand into what the
/// library's parser makes of them; anything else (filters, slices,
/// descendants, escapes, spaces) is left to the library. The library's
/// parser builds a full parse tree for each path, a tenth of the time of
/// `validate` for a directory of definitions.
fn parse_simple(source: &str) -> Option<JpQuery> {
    let mut rest = source.strip_prefix('$')?;
    let mut segments = Vec::new();
    while !rest.is_empty() {
        let (selector, tail) = if let Some(tail) = rest.strip_prefix(".*") {
            (Selector::Wildcard, tail)
        } else if let Some(tail) = rest.strip_prefix('.') {
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                return None;
            }
            (Selector::Name(name.to_owned()), &tail[end..])
        } else if let Some(tail) = rest.strip_prefix("[*]") {
            (Selector::Wildcard, tail)
        } else if let Some(tail) = rest.strip_prefix('[') {
            let end = tail.find(']')?;
            (bracketed(&tail[..end])?, &tail[end + 1..])
        } else {
            return None;
        };
        segments.push(Segment::Selector(selector));
        rest = tail;
    }
    Some(JpQuery::new(segments))
}

/// `'name'`, `"name"` (no escapes) or an index (RFC 9535's `int`, at most
/// 15 digits) between brackets.
fn bracketed(inside: &str) -> Option<Selector> {
    for quote in ['\'', '"'] {
        if let Some(name) = inside
            .strip_prefix(quote)
            .and_then(|s| s.strip_suffix(quote))
        {
            let plain = !name.contains(['\\', '\'', '"']) && !name.chars().any(char::is_control);
            return plain.then(|| Selector::Name(name.to_owned()));
        }
    }
    let digits = inside.strip_prefix('-').unwrap_or(inside);
    let int = inside == "0"
        || (!digits.is_empty()
            && digits.len() <= 15
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit()));
    int.then(|| inside.parse().ok().map(Selector::Index))?
}

/// A path as a message quotes it: whole, or its start when it is long.
fn shorten(source: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 60;
    match source.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &source[..end]).into(),
        None => source.into(),
    }
}

/// Where a JSONPath that does not parse goes wrong: the byte offset in
/// `source` (leading blanks included), for a diagnostic at that character.
pub fn error_offset(source: &str) -> Option<usize> {
    let trimmed = source.trim();
    if !trimmed.starts_with('$') || parse_simple(trimmed).is_some() {
        return None;
    }
    let lead = source.len() - source.trim_start().len();
    if let Some(unbalanced) = unbalanced(trimmed) {
        return Some(lead + unbalanced.offset);
    }
    let report = parse_json_path(trimmed).err()?.to_string();
    let column: usize = report
        .split_once("--> ")
        .and_then(|(_, rest)| rest.lines().next())
        .and_then(|place| place.split_once(':'))
        .and_then(|(_, column)| column.trim().parse().ok())?;
    let offset = trimmed
        .char_indices()
        .nth(column.checked_sub(1)?)
        .map_or(trimmed.len(), |(i, _)| i);
    Some(lead + offset)
}

/// A bracket, parenthesis or quote left open, or a closer with no opener:
/// the commonest slip, which the grammar reports in its own words
/// ("expected frac or exp") at the end of the path rather than at the
/// character that needs fixing.
struct Unbalanced {
    /// Byte offset of the character at fault.
    offset: usize,
    message: String,
}

fn unbalanced(source: &str) -> Option<Unbalanced> {
    let mut open: Vec<(usize, char)> = Vec::new();
    let mut quote: Option<(usize, char)> = None;
    let mut escaped = false;
    for (i, c) in source.char_indices() {
        if let Some((_, q)) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some((i, c)),
            '[' | '(' => open.push((i, c)),
            ']' | ')' => {
                let opener = if c == ']' { '[' } else { '(' };
                match open.pop() {
                    Some((_, o)) if o == opener => {}
                    Some((at, o)) => {
                        return Some(Unbalanced {
                            offset: at,
                            message: format!(
                                "`{o}` at character {} is closed by `{c}`",
                                column(source, at)
                            ),
                        });
                    }
                    None => {
                        return Some(Unbalanced {
                            offset: i,
                            message: format!(
                                "`{c}` at character {} closes nothing",
                                column(source, i)
                            ),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    let (at, c, what) = match (quote, open.last()) {
        (Some((at, q)), _) => (at, q, "quote"),
        (None, Some(&(at, o))) => (at, o, if o == '[' { "bracket" } else { "parenthesis" }),
        (None, None) => return None,
    };
    Some(Unbalanced {
        offset: at,
        message: format!(
            "the {what} `{c}` at character {} is never closed",
            column(source, at)
        ),
    })
}

/// The 1-based character position of byte `offset`, as messages count.
fn column(source: &str, offset: usize) -> usize {
    source[..offset].chars().count() + 1
}

/// jsonpath-rust reports a syntax error as pest's multi-line picture
/// (` --> 1:10`, the source, a caret, `= expected selector`); a diagnostic
/// is one line, so keep the place and what was expected.
fn parse_error(source: &str, report: &str) -> String {
    let shown = shorten(source);
    if !source.starts_with('$') {
        let example = if !source.is_empty()
            && source
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            format!("`$.{shown}`")
        } else {
            "`$.result[*]`".to_owned()
        };
        return format!("`{shown}` is not a JSONPath: it must start with `$` (e.g. {example})");
    }
    if let Some(unbalanced) = unbalanced(source) {
        return format!("`{shown}` is not a JSONPath: {}", unbalanced.message);
    }
    let column = report
        .split_once("--> ")
        .and_then(|(_, rest)| rest.lines().next())
        .and_then(|place| place.split_once(':'))
        .map(|(_, column)| column.trim());
    let expected = report.lines().find_map(|l| l.trim().strip_prefix("= "));
    match (column, expected) {
        (Some(column), Some(expected)) => format!(
            "`{shown}` is not a JSONPath: {} at character {column}",
            expected.replace('_', " ")
        ),
        _ => format!(
            "`{shown}` is not a JSONPath: {}",
            report.lines().next().unwrap_or(report).trim()
        ),
    }
}

/// The loop element: a path whose records are the items of an array.
///
/// For `$.a.b[*]` or `$.a.b[?...]`, `$.a.b` (the container) must be an array,
/// empty or not; a path without a trailing wildcard or filter must select an
/// array, whose items are the records. Anything else fails the poll: a
/// response of another shape is a broken query, not "no records".
#[derive(Debug, Clone)]
pub struct LoopPath {
    container: JsonPath,
    /// The whole path, when it ends in a wildcard or filter.
    selector: Option<JsonPath>,
}

impl LoopPath {
    pub fn parse(source: &str) -> Result<LoopPath, String> {
        let whole = JsonPath::parse(source)?;
        let mut segments = whole.query.segments.clone();
        let trailing = matches!(
            segments.last(),
            Some(Segment::Selector(Selector::Wildcard | Selector::Filter(_)))
        );
        if !trailing {
            return Ok(LoopPath {
                container: whole,
                selector: None,
            });
        }
        segments.pop();
        let container = JsonPath::from_query(source, JpQuery::new(segments));
        // A bare wildcard takes the items as they are: no need for the library.
        let is_wildcard = matches!(
            whole.query.segments.last(),
            Some(Segment::Selector(Selector::Wildcard))
        );
        Ok(LoopPath {
            container,
            selector: (!is_wildcard).then_some(whole),
        })
    }

    pub fn source(&self) -> &str {
        self.selector.as_ref().unwrap_or(&self.container).source()
    }

    /// The records of one page, read from its bytes in one scan, without
    /// building a tree: for the common shape (`$.a.b[*]`, `$.a.b`) only;
    /// `None` for others (filters, wildcards inside, negative indexes),
    /// which need [`records`](Self::records). An `Err` of `Ok` says why the
    /// page has no records; a plain `Err` that the page is not JSON.
    pub fn raw_records<'a>(
        &self,
        page: &'a [u8],
    ) -> Option<Result<Result<Vec<&'a RawValue>, String>, serde_json::Error>> {
        if self.selector.is_some() {
            return None;
        }
        let steps = self.container.singular.as_ref()?;
        if steps.iter().any(|s| matches!(s, Step::Index(i) if *i < 0)) {
            return None;
        }
        let mut de = serde_json::Deserializer::from_slice(page);
        let found = serde::de::DeserializeSeed::deserialize(raw::Descend(steps), &mut de).and_then(
            |found| {
                de.end()?;
                Ok(found)
            },
        );
        Some(match found {
            Err(e) => Err(e),
            Ok(None) => Ok(Err(format!(
                "the loop element `{}` is absent from the response",
                self.source()
            ))),
            Ok(Some(raw::Container::Array(items))) => Ok(Ok(items)),
            Ok(Some(raw::Container::Other(kind))) => Ok(Err(format!(
                "the loop element `{}` is {kind}, not an array",
                self.source()
            ))),
        })
    }

    /// The records of one page, and how many items the loop element's
    /// array holds before any filter; or why the page has none to give.
    pub fn records<'v>(&self, page: &'v Value) -> Result<(Vec<&'v Value>, usize), String> {
        let containers = self.container.query(page);
        if containers.is_empty() {
            return Err(format!(
                "the loop element `{}` is absent from the response",
                self.source()
            ));
        }
        let mut records = Vec::new();
        let mut items_before_filter = 0;
        for container in &containers {
            match container {
                Value::Array(items) if self.selector.is_none() => records.extend(items.iter()),
                Value::Array(items) => items_before_filter += items.len(),
                other => {
                    return Err(format!(
                        "the loop element `{}` is {}, not an array",
                        self.source(),
                        describe(other)
                    ));
                }
            }
        }
        match &self.selector {
            Some(selector) => Ok((selector.query(page), items_before_filter)),
            None => {
                let n = records.len();
                Ok((records, n))
            }
        }
    }
}

pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn singular_and_general_paths() {
        let v =
            json!({"result": [{"sys_id": "a", "n": 1}, {"sys_id": "b", "n": 2}], "x": {"y.z": 5}});
        assert_eq!(
            JsonPath::parse("$.result[1].sys_id").unwrap().first(&v),
            Some(&json!("b"))
        );
        assert_eq!(
            JsonPath::parse("$.result[-1].n").unwrap().first(&v),
            Some(&json!(2))
        );
        assert_eq!(
            JsonPath::parse("$.x['y.z']").unwrap().first(&v),
            Some(&json!(5))
        );
        assert_eq!(
            JsonPath::parse("$.result[*].n").unwrap().query(&v),
            vec![&json!(1), &json!(2)]
        );
        assert_eq!(
            JsonPath::parse("$.result[*]..").unwrap_err(),
            "`$.result[*]..` is not a JSONPath: expected bracketed selection, wildcard selector, or ALPHA at character 14"
        );
    }

    #[test]
    fn an_unclosed_bracket_or_quote_is_named_where_it_opens() {
        let cases = [
            (
                "$.result[",
                "the bracket `[` at character 9 is never closed",
                8,
            ),
            (
                "$.result[?@.hold_reason == 1",
                "the bracket `[` at character 9 is never closed",
                8,
            ),
            (
                "$.result[?(@.a == 'x']",
                "`(` at character 11 is closed by `]`",
                10,
            ),
            ("$.result]", "`]` at character 9 closes nothing", 8),
            (
                "$.r[?@.a == 'it\\'s]",
                "the quote `'` at character 13 is never closed",
                12,
            ),
        ];
        for (path, message, offset) in cases {
            assert_eq!(
                JsonPath::parse(path).unwrap_err(),
                format!("`{path}` is not a JSONPath: {message}")
            );
            assert_eq!(
                error_offset(&format!("  {path}")),
                Some(2 + offset),
                "{path}"
            );
        }
        // Brackets inside quotes are text.
        assert!(JsonPath::parse("$.r[?@.a == ']']").is_ok());
        assert_eq!(
            JsonPath::parse("sys_id").unwrap_err(),
            "`sys_id` is not a JSONPath: it must start with `$` (e.g. `$.sys_id`)"
        );
    }

    #[test]
    fn simple_paths_parse_as_the_library_parses_them() {
        for path in [
            "$",
            "$.result",
            "$.result[*]",
            "$.result.*",
            "$.sys_id",
            "$._x.a1_b",
            "$['approver.email']",
            "$[\"approver.email\"]",
            "$.items[0].name",
            "$.items[-1]",
            "$.items[10][2]",
            "$['a b']['c']",
            "$[*][*]",
            "$[123456789012345]",
            "$['']",
        ] {
            let library = parse_json_path(path).unwrap();
            assert_eq!(parse_simple(path), Some(library), "{path}");
        }
        // Left to the library.
        for path in [
            "$..name",
            "$.a[?@.b == 1]",
            "$.a[1:2]",
            "$.a[0, 1]",
            "$.a[01]",
            "$.a[-0]",
            "$.a[1234567890123456]",
            "$['a\\'b']",
            "$.a b",
            "$ .a",
            "$.1a",
            "$.a-b",
            "$.é",
            "sys_id",
            "$.a[",
            "$.a.",
        ] {
            assert_eq!(parse_simple(path), None, "{path}");
        }
    }

    #[test]
    fn loop_records() {
        let v = json!({"result": [{"active": "true", "id": 1}, {"active": "false", "id": 2}], "obj": {"a": 1}, "empty": []});
        let records = |p: &str, v: &Value| -> Result<usize, String> {
            let path = LoopPath::parse(p).unwrap();
            let bytes = v.to_string();
            // The fast path over raw bytes agrees with the tree wherever it applies.
            if let Some(raw) = path.raw_records(bytes.as_bytes()) {
                assert_eq!(
                    raw.unwrap().map(|r| r.len()),
                    path.records(v).map(|r| r.0.len()),
                    "{p}"
                );
            }
            path.records(v).map(|r| r.0.len())
        };
        assert_eq!(records("$.result[*]", &v), Ok(2));
        assert_eq!(records("$.result", &v), Ok(2));
        assert_eq!(records("$.result[?@.active == 'true']", &v), Ok(1));
        assert_eq!(records("$.empty[*]", &v), Ok(0));
        assert_eq!(records("$.empty[?@.x == 1]", &v), Ok(0));
        assert_eq!(
            records("$.missing[*]", &v),
            Err("the loop element `$.missing[*]` is absent from the response".into())
        );
        assert_eq!(
            records("$.obj[*]", &v),
            Err("the loop element `$.obj[*]` is an object, not an array".into())
        );
        assert_eq!(records("$[*]", &json!([1, 2, 3])), Ok(3));
        // Before the filter, the page held two items: offset pagination goes on.
        let path = LoopPath::parse("$.result[?@.active == 'true']").unwrap();
        assert_eq!(path.records(&v).map(|r| r.1), Ok(2));
    }

    #[test]
    fn raw_records_in_one_scan() {
        let path = LoopPath::parse("$.data[1].items").unwrap();
        let page = br#"{"x": [1, {"y": 2}], "data": [{"items": [9]}, {"items": [{"id": 1}, {"id": 2}]}], "z": "w"}"#;
        let items = path.raw_records(page).unwrap().unwrap().unwrap();
        assert_eq!(
            items.iter().map(|r| r.get()).collect::<Vec<_>>(),
            vec![r#"{"id": 1}"#, r#"{"id": 2}"#]
        );
        assert!(path.raw_records(b"{\"data\": [").unwrap().is_err());
        assert!(path.raw_records(b"{} trailing").unwrap().is_err());
        assert!(
            LoopPath::parse("$.a[-1][*]")
                .unwrap()
                .raw_records(b"{}")
                .is_none()
        );
    }

    #[test]
    fn raw_walks() {
        let raw: Box<RawValue> =
            serde_json::from_str(r#"{"a": {"b\u0073": [1, {"c": "x"}]}, "d": 5}"#).unwrap();
        let get = |p: &str| {
            JsonPath::parse(p)
                .unwrap()
                .walk_raw(&raw)
                .unwrap()
                .unwrap()
                .map(|r| r.get().to_owned())
        };
        assert_eq!(get("$.a.bs[1].c"), Some("\"x\"".to_owned()));
        assert_eq!(get("$.a.bs[-2]"), Some("1".to_owned()));
        assert_eq!(get("$.d"), Some("5".to_owned()));
        assert_eq!(get("$.d.e"), None);
        assert_eq!(get("$.zz"), None);
        assert!(JsonPath::parse("$..c").unwrap().walk_raw(&raw).is_none());
    }
}
