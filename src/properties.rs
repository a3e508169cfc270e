//! Property tests of what reads hostile text: definition YAML (parsed and
//! checked by every rule), templates, JSONPath, import bundles. Whatever the
//! input, each gives a value or an error, never a panic; and what a property
//! can say about the result, it says.
//!
//! CI runs a few dozen cases of each (`PROPTEST_CASES` raises it;
//! `scripts/fuzz` runs thousands, under memory and time limits).

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

use crate::bundle::archive;
use crate::definition::load::Catalog;
use crate::path::{JsonPath, LoopPath};
use crate::template::{Encoding, Scopes, Template};

/// A modest number of cases in CI, more when `PROPTEST_CASES` asks; no
/// regression files written into the source tree.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(32);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

const TENANT: &str = "\
tenant: t
attributes: { base: \"https://desk.example.com\" }
channels:
  console: { type: console }
  outbox: { type: file, path: outbox.jsonl }
users:
  - { id: alice, name: Alice, email: alice@example.com }
groups:
  - { id: cab, members: [alice] }
";

const DEFINITION: &str = "\
id: approvals
name: Pending approvals
polling: { every: 30m, resolve_after: 2 }
extraction:
  integrations:
    - id: requests
      request:
        url: \"@{global.base}/api/@{local.x ?? \\\"a\\\"}\"
        query: { q: \"state=requested\" }
        headers: { Authorization: \"Bearer @{env.TOKEN}\" }
      paginate: { type: offset, offset_param: o, limit_param: l, size: 100 }
      attributes: { local.x: \"$.meta.x\" }
  loop: \"$.result[?@.active == true]\"
  reconciliation_id: \"$.sys_id\"
recipients:
  user: \"$.approver.value\"
  group: cab
  escalate:
    - { from_attempt: 2, user: alice, channel: outbox }
message:
  channel: console
  text: \"Hi @{recipient.name}, @{followup.data.number} waits.\"
schedule: { every: 1d, attempts: 3, window: { days: mon-fri, hours: \"08:00-18:00\", timezone: Europe/Lisbon } }
after_each_attempt:
  - set: { local.note: \"@{followup.attempt}\" }
  - integration: { command: [\"/bin/echo\", \"@{followup.record_id}\"] }
";

/// One edit of a text: a byte range replaced by a piece from `alphabet`.
fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, usize, String)>> {
    let piece = prop_oneof![
        Just(String::new()),
        "[ -~]{0,6}",
        prop::sample::select(vec![
            ":",
            "- ",
            "\n",
            "  ",
            "{",
            "}",
            "[",
            "]",
            "\"",
            "'",
            "@{",
            "}}",
            "&a",
            "*a",
            "!!",
            "? ",
            "|",
            ">",
            "#",
            "$.",
            "[*]",
            "?@",
            "..",
            "\t",
            "é",
            "\u{0}",
            "10000000000000",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec((any::<prop::sample::Index>(), 0usize..8, piece), 1..6)
}

fn apply(text: &str, edits: &[(prop::sample::Index, usize, String)]) -> String {
    let mut text = text.to_owned();
    for (at, len, piece) in edits {
        let mut start = at.index(text.len() + 1);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        text.replace_range(start..end, piece);
    }
    text
}

/// A small JSON value of any shape.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[ -~é]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_.]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A checked directory holding the tenant, for definitions to be loaded in.
fn site() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let followups = dir.path().join("followups");
    std::fs::create_dir(&followups).expect("followups/");
    let tenant = followups.join("tenant.yaml");
    std::fs::write(&tenant, TENANT).expect("tenant.yaml");
    (dir, followups, tenant)
}

#[test]
fn the_unmutated_definition_is_valid() {
    let (_dir, followups, tenant) = site();
    let file = followups.join("approvals.yaml");
    let catalog =
        Catalog::load_overlay(&followups, &tenant, &[(file, DEFINITION.to_owned())]).unwrap();
    let errors: Vec<String> = catalog
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(catalog.entries[0].followup.is_some());
}

proptest! {
    #![proptest_config(config())]

    /// A definition with a few random edits is loaded and checked by every
    /// rule: never a panic, and every diagnostic points inside the file.
    #[test]
    fn a_mutated_definition_is_checked_without_panic(edits in edits()) {
        let text = apply(DEFINITION, &edits);
        let (_dir, followups, tenant) = site();
        let file = followups.join("approvals.yaml");
        let catalog = Catalog::load_overlay(&followups, &tenant, &[(file, text.clone())]).unwrap();
        let lines = text.lines().count().max(1) + 1;
        for d in &catalog.diagnostics {
            let shown = d.to_string();
            prop_assert!(!shown.is_empty());
            prop_assert!(d.line >= 1 && d.line <= lines, "{shown} in a file of {lines} lines");
        }
        // A definition with an error runs nothing.
        let entry = &catalog.entries[0];
        if catalog.diagnostics.iter().any(|d| d.is_error() && d.file.ends_with("approvals.yaml")) {
            prop_assert!(entry.followup.is_none());
        }
    }

    /// Any text as a template: parsed or refused; a parsed one renders
    /// against any data in every encoding, or names what is missing.
    #[test]
    fn any_template_parses_or_fails_and_renders_without_panic(
        source in "([ -~]|@\\{|\\}|\\?\\?|\\[0\\]|followup\\.data\\.|recipient\\.|\\| raw){0,24}",
        data in json_value(),
    ) {
        if let Ok(template) = Template::parse(&source) {
            let record = json!({"data": data});
            let scopes = Scopes { followup: Some(&record), recipient: Some(&data), ..Scopes::default() };
            for encoding in [Encoding::Plain, Encoding::Url, Encoding::SlackMrkdwn] {
                let _ = template.render(&scopes, encoding);
            }
            let _ = template.render_value(&scopes);
        }
    }

    /// Text without `@{` is literal: it renders as itself.
    #[test]
    fn text_without_inserts_renders_as_itself(source in "[^@]{0,40}") {
        let template = Template::parse(&source).unwrap();
        prop_assert_eq!(template.render(&Scopes::default(), Encoding::Plain).unwrap(), source);
    }

    /// Any text as a JSONPath and as a loop element: parsed or refused; a
    /// parsed one queries any document.
    #[test]
    fn any_jsonpath_parses_or_fails_and_queries_without_panic(
        source in "(\\$|\\.|\\.\\.|\\[|\\]|\\*|\\?|@|==|!=|<|'|\"|[a-z]|[0-9]|-|:|,|\\(|\\)| |&&|\\|\\||length|count|match){0,20}",
        document in json_value(),
    ) {
        if let Ok(path) = JsonPath::parse(&source) {
            let _ = path.query(&document);
            let _ = path.first(&document);
        }
        if let Ok(path) = LoopPath::parse(&source) {
            let _ = path.records(&document);
        }
    }

    /// `$.key` selects exactly the value under the key.
    #[test]
    fn a_simple_path_selects_its_key(key in "[a-z_][a-z0-9_]{0,8}", value in json_value()) {
        let path = JsonPath::parse(&format!("$.{key}")).unwrap();
        let document = json!({ key.clone(): value.clone(), "other": 1 });
        prop_assert_eq!(path.query(&document), vec![&value]);
    }

    /// An import bundle with edited entries (checksums kept right, so that
    /// the edits reach the manifest's and the definitions' checks) or with
    /// bytes of the zip flipped: opened or refused, never a panic.
    #[test]
    fn a_mutated_bundle_is_opened_or_refused_without_panic(
        manifest_edits in edits(),
        definition_edits in edits(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let definition = apply(DEFINITION, &definition_edits);
        let manifest = apply(&manifest(&definition), &manifest_edits);
        let zip = archive::write(vec![
            ("manifest.json".to_owned(), manifest.into_bytes()),
            ("channels.yaml".to_owned(), CHANNELS.as_bytes().to_vec()),
            ("followups/approvals.yaml".to_owned(), definition.into_bytes()),
        ]).unwrap();
        let _ = crate::bundle::import::open(&zip);
        let mut flipped = zip;
        for (at, byte) in flips {
            let i = at.index(flipped.len());
            flipped[i] = byte;
        }
        let _ = crate::bundle::import::open(&flipped);
    }
}

const CHANNELS: &str = "channels:\n  console:\n    type: console\n";

/// The manifest of a bundle of CHANNELS and `definition`.
fn manifest(definition: &str) -> String {
    use sha2::{Digest, Sha256};
    let sum = |bytes: &[u8]| -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    serde_json::to_string_pretty(&json!({
        "format": "followup-bundle",
        "version": 1,
        "tool": "followup 0.1.0",
        "exported_at": "2026-01-05T09:00:00Z",
        "tenant": "t",
        "channels": {"file": "channels.yaml", "sha256": sum(CHANNELS.as_bytes())},
        "followups": [{"id": "approvals", "name": "Pending approvals",
                       "file": "followups/approvals.yaml", "sha256": sum(definition.as_bytes())}],
    }))
    .unwrap()
}

#[test]
fn the_unmutated_bundle_opens() {
    let zip = archive::write(vec![
        (
            "manifest.json".to_owned(),
            manifest(DEFINITION).into_bytes(),
        ),
        ("channels.yaml".to_owned(), CHANNELS.as_bytes().to_vec()),
        (
            "followups/approvals.yaml".to_owned(),
            DEFINITION.as_bytes().to_vec(),
        ),
    ])
    .unwrap();
    let opened = crate::bundle::import::open(&zip).unwrap();
    assert_eq!(opened.followups[0].id, "approvals");
}
