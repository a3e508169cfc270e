//! `create` on a terminal: the wizard driven through a real pseudo-terminal,
//! against a local server that serves the source's data.

use serde_json::json;

use crate::support::Test;
use crate::support::server::{Reply, Server};

const TENANT: &str = "\
tenant: acme-test
channels:
  console: { type: console }
  outbox: { type: file, path: out.jsonl }
users:
  - { id: alice, name: Alice Doe, email: alice@acme.com }
  - { id: bob, name: Bob Roe, email: bob@acme.com }
";

#[test]
fn the_wizard_on_a_terminal_suggests_from_the_data_refuses_a_wrong_answer_and_writes_a_valid_file()
{
    let server = Server::start(|req| {
        if req.header("Authorization") != Some("Basic c246czNjcmV0") {
            return Reply::status(401);
        }
        Reply::json(
            200,
            json!({
                "meta": { "links": [{ "rel": "self" }] },
                "result": [
                    { "sys_id": "a1", "number": "REQ1", "approver": { "value": "alice" } },
                    { "sys_id": "a2", "number": "REQ2", "approver": { "value": "bob@acme.com" } }
                ]
            }),
        )
    });
    let site = Test::new();
    site.write("followups/tenant.yaml", TENANT);
    let mut term = site
        .cmd(&[
            "create",
            "--name",
            "Pending approvals",
            "--poll-every",
            "1h",
        ])
        .env("SOURCE_USER", "sn")
        .env("SOURCE_PASSWORD", "s3cret")
        .terminal();
    term.expect("\nName and status\nStatus [active]: ").line("");
    // --poll-every answered its question: it is not asked.
    term.expect("\nData extraction\nFirst poll [notify]: ")
        .line("");
    term.expect("Source: ")
        .line(&server.url("/api/now/table/sysapproval_approver"));
    term.expect("Auth [none]: ").line("basic");
    term.expect("  read the source\n")
        .expect("  arrays found: $.result[*] (2 records), $.meta.links[*] (1 record)\n");
    // The suggested loop element and reconciliation ID, taken with Enter.
    term.expect("Loop element [$.result[*]]: ").line("");
    term.expect("  first record:\n")
        .expect("    $.approver.value = \"alice\"\n")
        .expect("    $.number = \"REQ1\"\n");
    term.expect("Reconciliation ID [$.sys_id]: ").line("");
    term.expect("\nRecipients\n  fields naming tenant users: $.approver.value (e.g. alice)\n")
        .expect("User field [$.approver.value]: ")
        .line("");
    term.expect("Group [none]: ").line("");
    term.expect("\nMessage\nChannel (console, outbox, last_used): ")
        .line("console");
    term.expect("Text: ")
        .line("Hi @{recipient.name}, @{followup.data.number} waits for your approval.");
    term.expect("\nNotification schedule\nNotification every [1d]: ")
        .line("");
    term.expect("Attempts [3]: ").line("12");
    term.expect("  `attempts` is 12; it must be between 1 and 10\n")
        .expect("Attempts [3]: ")
        .line("5");
    term.expect("Window [none]: ")
        .line("mon-fri 08:00-18:00 Europe/Lisbon");
    term.expect("\nPost-follow-up actions\nAfter each attempt [none]: ")
        .line("");
    term.expect("After all attempts [none]: ")
        .line("set local.note = No answer after @{followup.attempts} reminders");
    term.expect("On resolved [none]: ").line("");
    term.expect("\nSummary\n  Pending approvals (`pending-approvals`), active\n")
        .expect("  every 1d, 5 attempts, window mon-fri 08:00-18:00 Europe/Lisbon\n");
    term.expect("\nDry run\n  2 records in the page read: a1, a2\n")
        .expect("  the first, a1, would tell Alice Doe (alice) on console\n");
    term.expect("Write followups/pending-approvals.yaml? [Y/n] ")
        .line("");
    term.expect("created followups/pending-approvals.yaml");
    let (status, screen) = term.wait();
    assert!(status.success(), "{status}:\n{screen}");
    assert!(!screen.contains("s3cret"), "{screen}");

    // The source was read once, with the auth given.
    assert_eq!(server.requests().len(), 1);
    let written = site.read("followups/pending-approvals.yaml");
    for line in [
        "name: Pending approvals   #",
        "  every: 1h\n",
        "  first_poll: notify\n",
        "        auth: { type: basic, username: \"@{env.SOURCE_USER}\", password: \"@{env.SOURCE_PASSWORD}\" }\n",
        "  loop: \"$.result[*]\"\n",
        "  reconciliation_id: \"$.sys_id\"\n",
        "  user: \"$.approver.value\"\n",
        "  channel: console\n",
        "  attempts: 5\n",
        "  window: { days: mon-fri, hours: \"08:00-18:00\", timezone: Europe/Lisbon }\n",
        "after_all_attempts:\n  - set: { local.note: \"No answer after @{followup.attempts} reminders\" }\n",
    ] {
        assert!(written.contains(line), "{line:?} not in:\n{written}");
    }
    assert!(!written.contains("s3cret"));
    site.run(&["validate"]).assert_status(0);
}

#[test]
fn the_wizard_says_why_the_source_cannot_be_read_and_goes_on() {
    let site = Test::new();
    site.write("followups/tenant.yaml", TENANT);
    let mut term = site
        .cmd(&[
            "create",
            "--name",
            "Approvals",
            "--template",
            "pending-approval",
            "--channel",
            "console",
            "--attempts",
            "2",
        ])
        .terminal();
    term.expect("Status [active]: ").line("");
    term.expect("Polling every [30m]: ").line("");
    term.expect("First poll [notify]: ").line("");
    term.expect("Source: ").line("data/missing.json");
    term.expect("  cannot read the source (")
        .expect("the file does not exist); going on without suggestions\n");
    // The template's values are the defaults.
    term.expect("Loop element [$.result[*]]: ").line("");
    term.expect("Reconciliation ID [$.sys_id]: ").line("");
    term.expect("User field [$.approver.value]: ").line("");
    term.expect("Group [none]: ").line("");
    term.expect("Text [Hi @{recipient.name}, ").line("");
    term.expect("Notification every [1d]: ").line("");
    term.expect("Window [none]: ").line("");
    term.expect("After each attempt [none]: ").line("");
    term.expect("After all attempts [none]: ").line("");
    term.expect("On resolved [none]: ").line("");
    term.expect("\nDry run\n  the source could not be read: nothing to show\n");
    term.expect("Write followups/approvals.yaml? [Y/n] ")
        .line("n");
    let (status, screen) = term.wait();
    assert!(status.success(), "{status}:\n{screen}");
    assert!(screen.ends_with("nothing written\n"), "{screen}");
    assert!(!site.exists("followups/approvals.yaml"));
}
