//! Compiled JSONPath (RFC 9535, by jsonpath-rust), parsed once per definition.
//!
//! Singular paths (`$.a.b[0]`), the common case for IDs, users and
//! attributes, are walked directly; everything else goes through the library.

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

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

    /// The records of one page, or why the page has none to give.
    pub fn records<'v>(&self, page: &'v Value) -> Result<Vec<&'v Value>, String> {
        let containers = self.container.query(page);
        if containers.is_empty() {
            return Err(format!(
                "the loop element `{}` is absent from the response",
                self.source()
            ));
        }
        let mut records = Vec::new();
        for container in &containers {
            match container {
                Value::Array(items) if self.selector.is_none() => records.extend(items.iter()),
                Value::Array(_) => {}
                other => {
                    return Err(format!(
                        "the loop element `{}` is {}, not an array",
                        self.source(),
                        describe(other)
                    ));
                }
            }
        }
        if let Some(selector) = &self.selector {
            records = selector.query(page);
        }
        Ok(records)
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
            JsonPath::parse("$.result[").unwrap_err(),
            "`$.result[` is not a JSONPath: expected selector at character 10"
        );
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
            LoopPath::parse(p).unwrap().records(v).map(|r| r.len())
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
    }
}
