//! The prompt flow, with a real tenant and real rules, and the source's
//! data given as it would have been read.

use std::fs;

use serde_json::json;

use super::*;
use crate::definition::load::Catalog;

const TENANT: &str = "\
tenant: test
channels:
  console: { type: console }
  outbox: { type: file, path: out.jsonl }
users:
  - { id: alice, name: Alice Doe, email: alice@acme.com }
  - { id: bob, name: Bob Roe, email: bob@acme.com }
";

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("tenant.yaml"), TENANT).unwrap();
        Site { dir }
    }

    /// Runs the wizard on `input`, the source reading as `data` (or failing).
    fn run(
        &self,
        given: Answers,
        template: Option<UseCase>,
        data: Result<Value, String>,
        input: &str,
    ) -> (anyhow::Result<Outcome>, String) {
        let tenant_file = self.dir.path().join("tenant.yaml");
        let catalog = Catalog::load(self.dir.path(), &tenant_file).unwrap();
        let taken = |name: &str| {
            name.eq_ignore_ascii_case("Taken")
                .then(|| format!("the name \"{name}\" is used by `taken`"))
        };
        let check = |draft: &Draft| draft.check(&catalog, &tenant_file);
        let read = |_: &Followup| data.clone();
        let ctx = Context {
            tenant: &catalog.tenant,
            dir: "followups".into(),
            name_taken: &taken,
            check: &check,
            read: &read,
        };
        let mut output = Vec::new();
        let outcome = run(given, template, &ctx, &mut input.as_bytes(), &mut output);
        (outcome, String::from_utf8(output).unwrap())
    }
}

fn approvals() -> Value {
    json!({
        "meta": { "pages": [{ "n": 1 }] },
        "result": [
            { "sys_id": "a1", "number": "REQ1", "approver": { "value": "alice" } },
            { "sys_id": "a2", "number": "REQ2", "approver": { "value": "bob" } }
        ]
    })
}

fn written(outcome: anyhow::Result<Outcome>) -> Draft {
    match outcome.unwrap() {
        Outcome::Write(draft) => *draft,
        Outcome::Declined => panic!("declined"),
    }
}

#[test]
fn every_step_in_order_with_defaults_and_suggestions() {
    let site = Site::new();
    // Enter everywhere but the name, the source, the channel and the text.
    let input =
        "Approvals\n\n\n\nsource.json\n\n\n\n\nconsole\nHi @{recipient.name}\n\n\n\n\n\n\n\n";
    let (outcome, output) = site.run(Answers::default(), None, Ok(approvals()), input);
    let draft = written(outcome);
    let expected = [
        "\nName and status\nName: Status [active]: ",
        "\nData extraction\nPolling every [30m]: First poll [notify]: Source: ",
        "  read the source\n",
        "  arrays found: $.result[*] (2 records), $.meta.pages[*] (1 record)\n",
        "Loop element [$.result[*]]: ",
        "  first record:\n    $.approver.value = \"alice\"\n    $.number = \"REQ1\"\n    $.sys_id = \"a1\"\n",
        "Reconciliation ID [$.sys_id]: ",
        "\nRecipients\n  fields naming tenant users: $.approver.value (e.g. alice)\n",
        "User field [$.approver.value]: Group [none]: ",
        "\nMessage\nChannel (console, outbox, last_used): Text: ",
        "\nNotification schedule\nNotification every [1d]: Attempts [3]: Window [none]: ",
        "\nPost-follow-up actions\nAfter each attempt [none]: After all attempts [none]: On resolved [none]: ",
        "\nSummary\n  Approvals (`approvals`), active\n",
        "\nDry run\n  2 records in the page read: a1, a2\n  the first, a1, would tell Alice Doe (alice) on console\n",
        "Write followups/approvals.yaml? [Y/n] ",
    ];
    let mut rest = output.as_str();
    for part in expected {
        let at = rest
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} not found, in order, in:\n{output}"));
        rest = &rest[at + part.len()..];
    }
    assert_eq!(draft.id, "approvals");
    assert_eq!(draft.poll_every, "30m");
    assert_eq!(draft.loop_, "$.result[*]");
    assert_eq!(draft.reconciliation_id, "$.sys_id");
    assert_eq!(draft.user.as_deref(), Some("$.approver.value"));
    assert_eq!(draft.group, None);
    assert_eq!((draft.notify_every.as_str(), draft.attempts), ("1d", 3));
    assert_eq!(draft.window, None);
    assert!(draft.after_each_attempt.is_empty());
}

#[test]
fn a_wrong_answer_gets_validates_message_and_the_question_again() {
    let site = Site::new();
    let input = [
        "taken",
        "Approvals",
        "maybe",
        "",
        "5m",
        "1h",
        "",
        "source.json",
        "$.result[",
        "",
        "",
        "",
        "",
        "teams",
        "console",
        "Hi @{nobody.x}",
        "Hi",
        "2",
        "",
        "0",
        "11",
        "x",
        "4",
        "mon-fri",
        "mon-fri 25:00-26:00",
        "mon-fri 08:00-18:00 Europe/Lisbon",
        "set note = x",
        "set local.note = sent @{followup.attempt}",
        "",
        "POST https://x.example/close",
        "n",
    ]
    .join("\n")
        + "\n";
    let (outcome, output) = site.run(Answers::default(), None, Ok(approvals()), &input);
    for message in [
        "Name:   the name \"taken\" is used by `taken`\nName: ",
        "Status [active]:   `maybe` is not a status: active or inactive\n",
        "  polling frequency `5m` is out of range: it must be between 10m and 5d (7200 minutes)\nPolling every [30m]: ",
        "Loop element [$.result[*]]:   ",
        "  channel `teams` is not defined in tenant.yaml (defined: console, outbox)",
        "Text:   ",
        "  `attempts` is 0; it must be between 1 and 10\nAttempts [3]: ",
        "  `attempts` is 11; it must be between 1 and 10\n",
        "  `attempts` is `x`: a whole number is needed\n",
        "  notification frequency `2` is out of range",
        "Window [none]:   a window is `DAYS HOURS [TIMEZONE]`",
        "  `25:00-26:00` is not a range of hours",
        "every 1d, 4 attempts, window mon-fri 08:00-18:00 Europe/Lisbon",
        "  `note` must be named `local.NAME`, `global.NAME` or `custom.NAME`\n",
        "on resolved POST https://x.example/close",
        "Write followups/approvals.yaml? [Y/n] ",
    ] {
        assert!(output.contains(message), "{message:?} not in:\n{output}");
    }
    // The JSONPath, template and window errors are the rules' own.
    let after = |label: &str| {
        let at = output.find(label).unwrap() + label.len();
        output[at..].lines().next().unwrap().to_owned()
    };
    assert!(
        after("Loop element [$.result[*]]:   ").contains("JSONPath"),
        "{output}"
    );
    assert!(after("Text:   ").contains("nobody"), "{output}");
    assert!(matches!(outcome.unwrap(), Outcome::Declined));
}

#[test]
fn flags_answer_their_questions_and_a_template_gives_defaults() {
    let site = Site::new();
    let given = Answers {
        name: Some("Approvals".into()),
        poll_every: Some("1h".into()),
        attempts: Some(5),
        channel: Some("outbox".into()),
        window: Some(None),
        ..Answers::default()
    };
    // The source cannot be read: the template's values are the defaults.
    let input = "\n\nhttps://sn.example/api\nbasic\n\n\n\n\n\n\n\n\n\n\n\n";
    let (outcome, output) = site.run(
        given,
        Some(UseCase::PendingApproval),
        Err("connection refused".into()),
        input,
    );
    let draft = written(outcome);
    for absent in ["Name:", "Polling every", "Attempts", "Channel", "Window"] {
        assert!(!output.contains(absent), "{absent} was asked:\n{output}");
    }
    assert!(
        output.contains(
            "  cannot read the source (connection refused); going on without suggestions\n"
        )
    );
    assert!(output.contains("Auth [none]: "), "{output}");
    assert!(output.contains("Loop element [$.result[*]]: "), "{output}");
    assert!(
        output.contains("User field [$.approver.value]: "),
        "{output}"
    );
    assert!(output.contains("\nDry run\n  the source could not be read: nothing to show\n"));
    assert_eq!(draft.auth, SourceAuth::Basic);
    assert_eq!(draft.attempts, 5);
    assert!(crate::draft::render(&draft).contains("auth: { type: basic"));
}

#[test]
fn the_input_ending_writes_nothing() {
    let site = Site::new();
    let (outcome, _) = site.run(Answers::default(), None, Ok(approvals()), "Name only\n");
    assert_eq!(
        outcome.unwrap_err().to_string(),
        "input ended before `Status` was answered; nothing written"
    );
}
