//! `followup schema [--tenant]`: JSON Schema for editors, checked against
//! the shipped definitions by a small draft-07 checker of the keywords
//! schemars emits.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::Test;

/// The shipped definitions directory of this repository.
pub fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("followups")
}

/// The shipped definition files, tenant aside.
pub fn shipped_definitions() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shipped_dir())
        .expect("read followups/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml") && !p.ends_with("tenant.yaml"))
        .collect();
    files.sort();
    files
}

fn schema(args: &[&str]) -> Value {
    let out = Test::new().run(args);
    out.assert_status(0);
    out.json()
}

/// A YAML file read as JSON, as an editor's YAML plugin would.
fn yaml_as_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every place where `value` breaks `schema`, as `path: what`.
fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(schema, schema, value, "$", &mut out);
    out
}

/// The draft-07 keywords schemars emits: `$ref`, `type`, `const`, `enum`,
/// `required`, `properties`, `additionalProperties`, `items`, `minimum`,
/// `anyOf`, `oneOf`, `allOf`. (`pattern` and `format` are left to the
/// definition's own rules.)
fn check(root: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let schema = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => return out.push(format!("{at}: nothing is allowed here")),
        Value::Object(s) => s,
        other => panic!("not a schema at {at}: {other}"),
    };
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
        check(root, &root["definitions"][name], value, at, out);
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => panic!("bad type {other}"),
        };
        let ok = types.iter().any(|t| match *t {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "null" => value.is_null(),
            other => panic!("unknown type {other}"),
        });
        if !ok {
            out.push(format!("{at}: {value} is not of type {types:?}"));
            return;
        }
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        out.push(format!("{at}: {value} is not {expected}"));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {values:?}"));
    }
    if let (Some(minimum), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n < minimum
    {
        out.push(format!("{at}: {n} is below {minimum}"));
    }
    if let (Some(maximum), Some(n)) = (
        schema.get("maximum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n > maximum
    {
        out.push(format!("{at}: {n} is above {maximum}"));
    }
    if let (Some(pattern), Some(text)) = (
        schema.get("pattern").and_then(Value::as_str),
        value.as_str(),
    ) && !regex::Regex::new(pattern).unwrap().is_match(text)
    {
        out.push(format!("{at}: {text:?} does not match the pattern"));
    }
    if let Some(object) = value.as_object() {
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = key.as_str().unwrap();
            if !object.contains_key(key) {
                out.push(format!("{at}: `{key}` is required"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, item) in object {
            let here = format!("{at}.{key}");
            match properties.and_then(|p| p.get(key)) {
                Some(property) => check(root, property, item, &here, out),
                None => {
                    if let Some(additional) = schema.get("additionalProperties") {
                        match additional {
                            Value::Bool(false) => out.push(format!("{here}: not allowed")),
                            other => check(root, other, item, &here, out),
                        }
                    }
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(root, items, item, &format!("{at}[{i}]"), out);
        }
    }
    let passing = |branches: &Value| -> Vec<bool> {
        branches
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let mut v = Vec::new();
                check(root, b, value, at, &mut v);
                v.is_empty()
            })
            .collect()
    };
    if let Some(branches) = schema.get("anyOf") {
        // An `Option<T>` is `anyOf: [T, null]`: for a value that is not
        // null, say what is wrong with it as a T.
        let null = json!({ "type": "null" });
        let others: Vec<&Value> = branches
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| **b != null)
            .collect();
        if let [only] = others[..]
            && !value.is_null()
        {
            check(root, only, value, at, out);
        } else if !passing(branches).contains(&true) {
            out.push(format!("{at}: {value} matches none of anyOf"));
        }
    }
    if let Some(branches) = schema.get("oneOf") {
        let n = passing(branches).iter().filter(|ok| **ok).count();
        if n != 1 {
            out.push(format!("{at}: {value} matches {n} of oneOf, not 1"));
        }
    }
    for branch in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(root, branch, value, at, out);
    }
}

#[test]
fn the_schemas_are_titled_draft_07_json() {
    let definition = schema(&["schema"]);
    assert_eq!(
        definition["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );
    assert_eq!(definition["title"], "followup definition");
    assert_eq!(definition["type"], "object");
    assert_eq!(definition["additionalProperties"], false);
    assert_eq!(
        definition["required"],
        json!([
            "id",
            "name",
            "polling",
            "extraction",
            "recipients",
            "message",
            "schedule"
        ])
    );
    let tenant = schema(&["schema", "--tenant"]);
    assert_eq!(tenant["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(tenant["title"], "followup tenant.yaml");
    assert_eq!(tenant["required"], json!(["tenant"]));
    assert_eq!(tenant["additionalProperties"], false);
}

#[test]
fn the_schema_describes_keys_for_editors() {
    let definition = schema(&["schema"]);
    let polling = &definition["definitions"]["Polling"];
    assert_eq!(polling["properties"]["resolve_after"]["default"], 2);
    assert!(
        polling["properties"]["every"]["description"]
            .as_str()
            .unwrap()
            .contains("30m"),
        "{polling}"
    );
}

#[test]
fn every_shipped_definition_validates_against_the_schema() {
    let definition = schema(&["schema"]);
    let files = shipped_definitions();
    assert!(files.len() >= 6, "{files:?}");
    for file in files {
        assert_eq!(
            violations(&definition, &yaml_as_json(&file)),
            Vec::<String>::new(),
            "{}",
            file.display()
        );
    }
    let tenant = schema(&["schema", "--tenant"]);
    assert_eq!(
        violations(&tenant, &yaml_as_json(&shipped_dir().join("tenant.yaml"))),
        Vec::<String>::new()
    );
}

#[test]
fn the_schema_check_catches_what_validate_refuses() {
    // The checker above must be able to fail: the same definition with an
    // unknown key, a key missing and a value of the wrong kind.
    let definition = schema(&["schema"]);
    let mut value = yaml_as_json(&shipped_definitions()[0]);
    value["polling"]["evry"] = json!("30m");
    value.as_object_mut().unwrap().remove("schedule");
    value["message"]["card"]["actions"] =
        json!([{ "label": "Go", "url": "https://x", "style": "loud" }]);
    value["status"] = json!("paused");
    value["polling"]["resolve_after"] = json!(11);
    let found = violations(&definition, &value);
    assert_eq!(
        found,
        [
            "$: `schedule` is required",
            "$.message.card.actions[0].style: \"loud\" is not one of [String(\"default\"), String(\"primary\"), String(\"danger\")]",
            "$.polling.evry: not allowed",
            "$.polling.resolve_after: 11 is above 10",
            "$.status: \"paused\" is not one of [String(\"active\"), String(\"inactive\")]",
        ],
        "{found:#?}"
    );
}

#[test]
fn the_schema_carries_the_ranges_and_the_duration_syntax_validate_enforces() {
    let definition = schema(&["schema"]);
    let base = yaml_as_json(&shipped_definitions()[0]);
    let with = |pointer: &str, v: Value| {
        let mut value = base.clone();
        *value.pointer_mut(pointer).unwrap() = v;
        violations(&definition, &value)
    };
    assert_eq!(
        with("/schedule/attempts", json!(99)),
        ["$.schedule.attempts: 99 is above 10"]
    );
    assert_eq!(
        with("/schedule/attempts", json!(0)),
        ["$.schedule.attempts: 0 is below 1"]
    );
    assert!(!with("/schedule/every", json!("1 fortnight")).is_empty());
    assert!(
        !with("/polling/every", json!(5)).is_empty(),
        "5 minutes is below 10m"
    );
    for ok in [
        json!("1h 30m"),
        json!("30m"),
        json!("5d"),
        json!(30),
        json!("30"),
    ] {
        assert_eq!(
            with("/polling/every", ok.clone()),
            Vec::<String>::new(),
            "{ok}"
        );
    }
}
