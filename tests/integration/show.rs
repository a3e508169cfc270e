//! `followup show ID`: one follow-up with every default filled in.

use crate::support::{Edit, Test};
use crate::validate::{BASE, TENANT};

fn with_base() -> Test {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT)
        .write("followups/data.json", "{}")
        .write("followups/approvals.yaml", BASE);
    t
}

#[test]
fn show_fills_in_every_default() {
    with_base()
        .run(&["show", "approvals"])
        .assert_status(0)
        .assert_stdout(
            "id: approvals
name: Approvals
status: active
polling:
  every: 30m
  first_poll: notify
  resolve_after: 2
  max_records: 10000
extraction:
  integrations:
  - file: data.json
  loop: $.result[*]
  reconciliation_id: $.sys_id
  record_type: json
recipients:
  user: $.approver
message:
  channel: console
  text: Hi @{recipient.name}, @{followup.data.number} waits.
  conversation:
    thread: true
    update_on_resolved: true
schedule:
  every: 1d
  attempts: 3
after_each_attempt: []
after_all_attempts: []
on_resolved: []
",
        )
        .assert_stderr("");
}

#[test]
fn show_fills_in_the_defaults_of_a_request_and_a_window() {
    let t = with_base();
    t.write(
        "followups/approvals.yaml",
        &BASE
            .replace_once(
                "    - file: data.json",
                "    - request: { url: \"https://sn.example.com/api\" }\n      paginate: { type: link_header }",
            )
            .replace_once("attempts: 3", "attempts: 3\n  window: { days: mon-fri }"),
    );
    let out = t.run(&["show", "approvals", "--format", "json"]);
    out.assert_status(0);
    let shown = out.json();
    assert_eq!(
        shown["extraction"]["integrations"][0],
        serde_json::json!({
            "request": {
                "method": "GET",
                "url": "https://sn.example.com/api",
                "timeouts": { "connect": "10s", "total": "60s" },
                "max_response": "16MiB"
            },
            "paginate": { "type": "link_header", "max_pages": 100 }
        })
    );
    assert_eq!(
        shown["schedule"]["window"],
        serde_json::json!({ "days": "mon-fri", "hours": "00:00-24:00", "timezone": "UTC" })
    );
    assert_eq!(shown["polling"]["resolve_after"], 2);
    assert_eq!(shown["polling"]["max_records"], 10000);
    assert_eq!(shown["polling"]["first_poll"], "notify");
}

#[test]
fn show_by_name_whatever_its_case() {
    let out = with_base().run(&["show", "APPROVALS"]);
    out.assert_status(0);
    assert!(out.stdout.starts_with("id: approvals\n"), "{}", out.stdout);
}

#[test]
fn show_an_unknown_follow_up_is_bad_usage() {
    with_base()
        .run(&["show", "aprovals"])
        .assert_status(2)
        .assert_stdout("")
        .assert_stderr(
            "error: no follow-up has the id or name `aprovals` in followups; did you mean `approvals`?\n",
        );
}

#[test]
fn show_reports_the_errors_of_what_it_shows() {
    let t = with_base();
    t.write(
        "followups/approvals.yaml",
        &BASE.replace_once("attempts: 3", "attempts: 30"),
    );
    let out = t.run(&["show", "approvals"]);
    out.assert_status(0).assert_stderr(
        "followups/approvals.yaml:17:13: error: `attempts` is 30; it must be between 1 and 10\n",
    );
    assert!(out.stdout.contains("  attempts: 30\n"), "{}", out.stdout);
    t.write("followups/approvals.yaml", "id: approvals\nname: [\n");
    t.run(&["show", "approvals"])
        .assert_status(1)
        .assert_stderr("error: followups/approvals.yaml does not parse; run `followup validate`\n");
}
