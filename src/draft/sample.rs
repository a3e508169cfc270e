//! What the wizard suggests from the source's real data: the arrays that
//! may hold the records (the loop element), the first record's fields, a
//! reconciliation ID present in every record and unique, and user fields
//! whose values the tenant knows.
//!
//! Pure functions of the JSON read once; nothing here fetches or decides
//! validity (the answers still go through `validate`'s rules).

use std::collections::HashSet;

use serde_json::Value;

use crate::definition::tenant::Tenant;
use crate::path::LoopPath;

/// Field names that usually identify a record, best first (ServiceNow,
/// generic APIs, Jira, Salesforce, MongoDB-like stores).
const ID_NAMES: [&str; 8] = ["sys_id", "id", "key", "Id", "ID", "uuid", "_id", "number"];

/// How deep the search for arrays and fields goes: records sit near the
/// top of a response, and a record's own fields are one or two levels deep.
const ARRAY_DEPTH: usize = 4;
const FIELD_DEPTH: usize = 2;

/// An array of the response that may hold the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// As a loop element: `$.result[*]`.
    pub loop_: String,
    pub len: usize,
}

/// The arrays of objects in `json`, largest first (the shallower first
/// among equals): the first is the suggested loop element.
pub fn arrays(json: &Value) -> Vec<Candidate> {
    fn walk(value: &Value, path: &str, depth: usize, out: &mut Vec<(Candidate, usize)>) {
        match value {
            Value::Array(items) if items.iter().all(Value::is_object) => {
                out.push((
                    Candidate {
                        loop_: format!("{path}[*]"),
                        len: items.len(),
                    },
                    depth,
                ));
            }
            Value::Object(map) if depth < ARRAY_DEPTH => {
                for (key, child) in map {
                    walk(child, &child_path(path, key), depth + 1, out);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(json, "$", 0, &mut found);
    found.sort_by(|(a, da), (b, db)| b.len.cmp(&a.len).then(da.cmp(db)));
    found.into_iter().map(|(c, _)| c).collect()
}

/// The records the loop element selects, or why there are none.
pub fn records<'v>(json: &'v Value, loop_: &str) -> Result<Vec<&'v Value>, String> {
    let path = LoopPath::parse(loop_)?;
    path.records(json).map(|(records, _)| records)
}

/// A record's fields as JSONPath over the record with their values, in
/// key order; nested objects (ServiceNow's `{link, value}`) are
/// opened one level.
pub fn fields(record: &Value) -> Vec<(String, &Value)> {
    fn walk<'v>(value: &'v Value, path: &str, depth: usize, out: &mut Vec<(String, &'v Value)>) {
        match value {
            Value::Object(map) if depth < FIELD_DEPTH && !map.is_empty() => {
                for (key, child) in map {
                    walk(child, &child_path(path, key), depth + 1, out);
                }
            }
            _ if depth > 0 => out.push((path.to_owned(), value)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(record, "$", 0, &mut out);
    out
}

/// A value shown as a sample: short, on one line.
pub fn sample(value: &Value) -> String {
    let text = match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(39).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// The reconciliation ID to suggest: a usual id field (then any field
/// named like one) that every record has, as a string or an integer, with
/// no two records sharing a value.
pub fn reconciliation_id(records: &[Value]) -> Option<String> {
    let first = records.first()?;
    let top: Vec<&String> = first.as_object()?.keys().collect();
    let named = ID_NAMES
        .iter()
        .filter_map(|n| top.iter().find(|k| k.as_str() == *n).copied());
    let like = top.iter().copied().filter(|k| {
        let lower = k.to_ascii_lowercase();
        lower.ends_with("_id") || lower.ends_with("id") && k.len() > 2
    });
    named
        .chain(like)
        .find(|key| identifies(records, key))
        .map(|key| child_path("$", key))
}

fn identifies(records: &[Value], key: &str) -> bool {
    let mut seen = HashSet::new();
    records.iter().all(|r| {
        let id = match r.get(key) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            _ => return false,
        };
        seen.insert(id)
    })
}

/// Fields whose values name users the tenant knows (by id or e-mail), the
/// field that names the most records first; each with one user it names.
pub fn user_fields(records: &[Value], tenant: &Tenant) -> Vec<(String, String)> {
    let Some(first) = records.first() else {
        return Vec::new();
    };
    let mut scored: Vec<(usize, String, String)> = fields(first)
        .into_iter()
        .filter_map(|(path, _)| {
            let path_query = crate::path::JsonPath::parse(&path).ok()?;
            let mut example = None;
            let known = records
                .iter()
                .filter(|r| {
                    let Some(Value::String(v)) = path_query.first(r) else {
                        return false;
                    };
                    let user = tenant.user(v);
                    if example.is_none() {
                        example = user.map(|u| u.id.clone());
                    }
                    user.is_some()
                })
                .count();
            Some((known, path, example?))
        })
        .collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    scored.into_iter().map(|(_, p, e)| (p, e)).collect()
}

/// `$.key`, or `$["key"]` for a key that is not a plain name.
fn child_path(parent: &str, key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{parent}.{key}")
    } else {
        format!(
            "{parent}[{}]",
            serde_json::to_string(key).expect("a string")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_largest_array_of_objects_comes_first() {
        let json = json!({
            "meta": { "tags": ["a", "b", "c"], "pages": [{"n": 1}] },
            "result": [{"sys_id": "a"}, {"sys_id": "b"}],
            "odd key": [{"x": 1}, {"x": 2}, {"x": 3}]
        });
        let found: Vec<(String, usize)> = arrays(&json)
            .into_iter()
            .map(|c| (c.loop_, c.len))
            .collect();
        assert_eq!(
            found,
            vec![
                ("$[\"odd key\"][*]".to_owned(), 3),
                ("$.result[*]".to_owned(), 2),
                ("$.meta.pages[*]".to_owned(), 1)
            ]
        );
        assert_eq!(arrays(&json!([{"id": 1}]))[0].loop_, "$[*]");
        // The suggested loop element is one the rules accept and that selects.
        assert_eq!(records(&json, &found[0].0).unwrap().len(), 3);
    }

    #[test]
    fn the_reconciliation_id_is_in_every_record_and_unique() {
        let json = json!([
            {"number": "INC1", "id": 7, "sys_id": "s1", "ticket_id": "t1"},
            {"number": "INC2", "id": 7, "ticket_id": "t2"}
        ]);
        let records = json.as_array().unwrap();
        // sys_id is missing from one record, id is shared: number wins.
        assert_eq!(reconciliation_id(records).as_deref(), Some("$.number"));
        let json = json!([{"ticket_id": "t1", "a": 1}, {"ticket_id": "t2", "a": 1}]);
        let records = json.as_array().unwrap();
        assert_eq!(reconciliation_id(records).as_deref(), Some("$.ticket_id"));
        let json = json!([{"a": 1}]);
        let records = json.as_array().unwrap();
        assert_eq!(reconciliation_id(records), None);
    }

    #[test]
    fn fields_open_reference_objects_and_samples_stay_short() {
        let record =
            json!({"number": "INC1", "approver": {"link": "https://x", "value": "u1"}, "n": 3});
        let found: Vec<String> = fields(&record)
            .into_iter()
            .map(|(p, v)| format!("{p}={}", sample(v)))
            .collect();
        assert_eq!(
            found,
            vec![
                "$.approver.link=\"https://x\"",
                "$.approver.value=\"u1\"",
                "$.n=3",
                "$.number=\"INC1\""
            ]
        );
        assert_eq!(sample(&json!("x".repeat(60))).chars().count(), 40);
    }
}
