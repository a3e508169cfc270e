//! Operating followup unattended: what a pass says on stderr (`-q`, `-v`,
//! `--log-format json`, the warnings nobody would otherwise see), `users
//! seen` and `users list`, completions and the man page, and the help of
//! each command showing only the options it uses.

use serde_json::{Value, json};

use crate::support::Test;
use crate::support::pass::{DAILY_3, Source, T0, approval, definition, pass, sent, who};

const TENANT: &str = "\
tenant: acme-test
channels:
  console: { type: console }
  outbox: { type: file, path: outbox.jsonl }
users:
  - { id: alice, name: Alice Doe, email: alice@example.com }
  - { id: bob, name: Bob Roe, email: bob@example.com, last_channel: console }
";

fn setup(definition: &str) -> Test {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    t.write("followups/approvals.yaml", definition);
    t
}

#[test]
fn quiet_idle_pass_prints_nothing_at_all() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    pass(&t, T0).assert_status(0);
    // Ten minutes later nothing is due: not a line, on either stream.
    let out = t.cmd(&["run-once", "-q"]).now("2026-01-05T09:10:00Z").run();
    out.assert_status(0).assert_stdout("").assert_stderr("");
    // Without -q, one summary line, and no "poll not due" line per follow-up.
    let out = pass(&t, "2026-01-05T09:11:00Z");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with("pass: 1 follow-up, 0 polled"),
        "{}",
        out.stderr
    );
    // -v says why each follow-up did nothing.
    let out = t.cmd(&["run-once", "-v"]).now("2026-01-05T09:12:00Z").run();
    assert!(
        out.stderr.contains("approvals: poll not due"),
        "{}",
        out.stderr
    );
}

/// A `record_only` first poll opens nothing: its line says what it did
/// (baselined), and counts of one are singular.
#[test]
fn a_baseline_pass_says_it_baselined_in_the_singular() {
    let source = Source::new(json!([approval("old", "alice")]));
    let def = definition(&source.url(), DAILY_3, "").replace(
        "  resolve_after: 2",
        "  resolve_after: 2\n  first_poll: record_only",
    );
    let out = pass(&setup(&def), T0);
    out.assert_status(0).assert_stdout("");
    for needle in [
        "approvals: polled 1 record (0 opened, 1 baselined, 0 resolved)\n",
        "pass: 1 follow-up, 1 polled, 0 attempts, 0 delivered,",
    ] {
        assert!(
            out.stderr.contains(needle),
            "no `{needle}` in\n{}",
            out.stderr
        );
    }
}

#[test]
fn verbose_pass_shows_each_record_and_the_summary_counts_the_deliveries() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "bob")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    let out = t.cmd(&["run-once", "-v"]).now(T0).run();
    out.assert_status(0);
    assert_eq!(who(&sent(&out.stdout)).len(), 2);
    for needle in [
        "approvals: record.opened record a1",
        "approvals: notification.sent record a2 attempt 1 to bob on console",
        "approvals: polled 2 records (2 opened, 0 resolved); 2 attempts started, 2 delivered",
        "pass: 1 follow-up, 1 polled, 2 attempts, 2 delivered, 0 failed, 0 pending, 0 reached nobody",
    ] {
        assert!(
            out.stderr.contains(needle),
            "no `{needle}` in\n{}",
            out.stderr
        );
    }
}

#[test]
fn every_json_log_line_parses_and_says_level_at_followup_and_message() {
    let source = Source::new(json!([approval("a1", "nobody-known")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    let out = t
        .cmd(&["run-once", "-v", "--log-format", "json"])
        .now(T0)
        .run();
    out.assert_status(0);
    let lines: Vec<Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 3, "{}", out.stderr);
    for l in &lines {
        let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["at", "followup", "level", "message"], "{l}");
        assert!(l["at"].as_str().unwrap().ends_with('Z'), "{l}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "warning" && l["followup"] == "approvals")
    );
    assert_eq!(
        lines.last().unwrap()["followup"],
        Value::Null,
        "the summary ends it"
    );
    // An error of any command is a JSON line too.
    let out = t.run(&["--log-format", "json", "explain", "nope", "x"]);
    out.assert_status(2);
    let line: Value = serde_json::from_str(out.stderr.trim()).expect("one JSON line");
    assert_eq!(line["level"], "error");
}

#[test]
fn attempts_that_reach_nobody_are_warned_about_with_the_path_that_matched_nothing() {
    // The records carry no `approver` at all: the user path matches nothing.
    let source = Source::new(json!([{"sys_id": "a1", "number": "RITM-a1"}]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    for args in [
        &["run-once"][..],
        &["run-once", "--dry-run"],
        &["run-once", "-q"],
    ] {
        let t2 = setup(&definition(&source.url(), DAILY_3, ""));
        let out = t2.cmd(args).now(T0).run();
        out.assert_status(0).assert_stdout("");
        assert!(
            out.stderr.contains(
                "warning: approvals: 1 attempt reached nobody (record a1: the record names no recipient: nobody was told); the recipients are user `$.approver.value`"
            ),
            "{args:?}:\n{}",
            out.stderr
        );
    }
    let out = pass(&t, T0);
    assert!(
        out.stderr.contains(
            "1 attempt started, 0 delivered, 0 failed, 0 pending, 0 exhausted, 1 reached nobody"
        ),
        "{}",
        out.stderr
    );
    // explain says so too.
    let out = t.cmd(&["explain", "approvals", "a1"]).now(T0).run();
    out.assert_status(0);
    assert!(
        out.stdout
            .contains("attempt 1 reached nobody: the record names no recipient"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_clock_earlier_than_the_last_pass_is_warned_about() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    pass(&t, "2026-03-01T09:00:00Z").assert_status(0);
    let out = t.cmd(&["run-once", "-q"]).now(T0).run();
    out.assert_status(0).assert_stdout("");
    assert!(
        out.stderr.starts_with(
            "warning: the clock (2026-01-05T09:00:00Z) is earlier than the last pass (2026-03-01T09:00:00Z)"
        ),
        "{}",
        out.stderr
    );
    // A fresh database replays from the start, whatever the clock said before.
    let out = t.cmd(&["run-once", "--db", "replay.db"]).now(T0).run();
    assert_eq!(who(&sent(&out.stdout)), [("a1".into(), 1, "alice".into())]);
}

#[test]
fn users_seen_switches_the_last_used_channel_of_the_next_pass() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(&source.url(), "  every: 1d\n  attempts: 3", ""));
    let yaml = t.read("followups/approvals.yaml").replace(
        "  channel: console\n",
        "  channel: last_used\n  fallback_channel: console\n",
    );
    t.write("followups/approvals.yaml", &yaml);
    // Without a recorded chat, alice gets the fallback (console, stdout).
    let out = pass(&t, T0);
    assert_eq!(who(&sent(&out.stdout)).len(), 1);
    assert!(!t.exists("followups/outbox.jsonl"));
    // She chatted on the outbox channel afterwards (and later than
    // tenant.yaml was written).
    t.cmd(&[
        "users",
        "seen",
        "alice",
        "outbox",
        "--at",
        "2099-01-05T10:00:00Z",
    ])
    .run()
    .assert_status(0);
    let out = pass(&t, "2026-01-06T09:00:00Z");
    out.assert_status(0).assert_stdout("");
    let outbox = sent(&t.read("followups/outbox.jsonl"));
    assert_eq!(who(&outbox), [("a1".into(), 2, "alice".into())]);
    assert_eq!(outbox[0]["channel"], "outbox");

    // An older chat does not replace a newer one.
    let out = t
        .cmd(&[
            "users",
            "seen",
            "alice",
            "console",
            "--at",
            "2026-01-01T00:00:00Z",
        ])
        .run();
    out.assert_status(0);
    assert!(
        out.stderr
            .starts_with("warning: alice has a later chat recorded"),
        "{}",
        out.stderr
    );

    let list = t
        .run(&["users", "list", "--format", "json"])
        .assert_status(0)
        .json();
    assert_eq!(list[0]["id"], "alice");
    assert_eq!(list[0]["addresses"], json!({"email": "alice@example.com"}));
    assert_eq!(list[0]["last_used"], "outbox");
    assert_eq!(list[0]["source"], "users seen at 2099-01-05T10:00:00Z");
    assert_eq!(list[1]["last_used"], "console");
    assert_eq!(list[1]["source"], "tenant.yaml");
    let table = t.run(&["users", "list"]).assert_status(0).stdout.clone();
    assert!(
        table.starts_with("USER   NAME       ADDRESSES                LAST USED  FROM\n"),
        "{table}"
    );
    assert!(
        table.contains("alice  Alice Doe  email=alice@example.com  outbox"),
        "{table}"
    );

    // Unknown users and channels are bad usage, with a hint.
    let out = t.run(&["users", "seen", "alicee", "outbox"]);
    out.assert_status(2);
    assert!(
        out.stderr.contains("did you mean `alice`?"),
        "{}",
        out.stderr
    );
    let out = t.run(&["users", "seen", "alice", "outbx"]);
    out.assert_status(2);
    assert!(
        out.stderr.contains("did you mean `outbox`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn completions_generate_for_each_shell_and_man_prints_roff() {
    let t = Test::new();
    for (shell, needle) in [
        ("bash", "_followup()"),
        ("zsh", "#compdef followup"),
        ("fish", "complete -c followup"),
    ] {
        let out = t.run(&["completions", shell]);
        out.assert_status(0);
        assert!(out.stdout.contains(needle), "{shell}: {}", out.stdout);
        assert!(out.stdout.contains("run-once"), "{shell}");
        assert!(out.stdout.contains("preview"), "{shell}");
    }
    t.run(&["completions", "powershell"]).assert_status(2);
    let out = t.run(&["man"]);
    out.assert_status(0);
    assert!(
        out.stdout.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &out.stdout[..80.min(out.stdout.len())]
    );
    assert!(out.stdout.contains(".TH followup 1"), "roff title");
    assert!(out.stdout.contains("run\\-once"), "subcommands listed");
    // One page: no reference to a page per command, which nothing installs;
    // each command's options are on this page instead.
    assert!(
        !out.stdout.contains("followup\\-validate(1)"),
        "a page per command"
    );
    for needle in [
        ".SS \"followup validate\"",
        ".SS \"followup users seen\"",
        "\\fB\\-\\-retain\\fR \\fI<DURATION>\\fR",
        "[possible values: text, json, github] [default: text]",
    ] {
        assert!(out.stdout.contains(needle), "no `{needle}` in the man page");
    }
}

#[test]
fn each_command_shows_only_the_global_options_it_uses() {
    let t = Test::new();
    let help = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--help");
        t.run(&all).assert_status(0).stdout.clone()
    };
    for cmd in [
        "validate", "create", "copy", "schema", "list", "show", "export", "import",
    ] {
        assert!(!help(&[cmd]).contains("--db"), "{cmd} shows --db");
    }
    for cmd in [
        "run-once", "status", "explain", "history", "reset", "preview",
    ] {
        assert!(help(&[cmd]).contains("--db <FILE>"), "{cmd} lacks --db");
    }
    assert!(!help(&["schema"]).contains("--dir"));
    assert!(!help(&["history"]).contains("--dir"));
    assert!(help(&["validate"]).contains("--dir <DIR>"));
    assert!(help(&["validate"]).contains("--quiet"));
}

#[test]
fn status_outcome_is_short_and_the_reason_is_in_json() {
    let t = setup(&definition("http://127.0.0.1:9/none", DAILY_3, ""));
    pass(&t, T0).assert_status(1);
    let out = t.cmd(&["status"]).now(T0).run();
    out.assert_status(0);
    let row = out.stdout.lines().nth(1).unwrap();
    assert!(row.contains(" failed "), "{row}");
    assert!(
        !row.contains("127.0.0.1"),
        "no whole error text in the table: {row}"
    );
    let json = t.cmd(&["status", "--format", "json"]).now(T0).run().json();
    assert!(
        json[0]["detail"].as_str().unwrap().contains("127.0.0.1"),
        "{json}"
    );
}

#[test]
fn preview_against_a_saved_response_shows_each_record_and_writes_nothing() {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    t.write(
        "followups/approvals.yaml",
        "id: approvals
name: Pending approvals
polling: { every: 30m, resolve_after: 1 }
extraction:
  integrations:
    - { id: requests, file: data.json }
  loop: \"$.result[*]\"
  reconciliation_id: \"$.sys_id\"
recipients: { user: \"$.approver.value\" }
message:
  channel: outbox
  text: \"Hi @{recipient.name}, @{followup.data.number} waits.\"
schedule: { every: 1d, attempts: 2 }
after_each_attempt:
  - set: { local.note: \"sent @{followup.attempt}\" }
",
    );
    let record = |id: &str, who: &str| json!({"sys_id": id, "number": format!("R-{id}"), "approver": {"value": who}});
    t.write(
        "followups/data.json",
        &json!({"result": [record("a1", "alice"), record("a2", "bob"), record("a4", "alice")]})
            .to_string(),
    );
    t.cmd(&["run-once"]).now(T0).run().assert_status(0);
    // The saved answer: a1 is gone, a2 and a4 stay, a3 is new and names nobody known.
    t.write(
        "saved.json",
        &json!({"result": [record("a2", "bob"), record("a3", "zed"), record("a4", "alice")]})
            .to_string(),
    );
    let before = t.snapshot(".");
    let out = t
        .cmd(&["preview", "approvals", "--response", "saved.json"])
        .now("2026-01-05T12:00:00Z")
        .run();
    out.assert_status(0);
    assert_eq!(t.snapshot("."), before, "preview wrote something");
    let text = &out.stdout;
    assert!(
        text.starts_with("approvals (Pending approvals): polled 3 records\n"),
        "{text}"
    );
    assert!(
        text.contains("\nrecord a1: resolve: gone from the poll\n"),
        "{text}"
    );
    assert!(
        text.contains("\nrecord a2: nothing: attempt 2 is due at 2026-01-06T09:00:00Z\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "\nrecord a3: open (cycle 1); notify: attempt 1 of 2\n  reaches nobody: `zed`"
        ),
        "{text}"
    );
    assert!(
        text.contains("  action after_each_attempt[0]: would set local.note\n"),
        "{text}"
    );

    // A day later, a2 and a4 get their second attempt: the payload is the
    // dry-run channel's line, exactly.
    let out = t
        .cmd(&[
            "preview",
            "approvals",
            "--response",
            "saved.json",
            "--record",
            "a2",
        ])
        .now("2026-01-06T09:00:00Z")
        .run();
    out.assert_status(0);
    let text = &out.stdout;
    assert!(
        text.contains("\nrecord a2: continue: attempt 2 of 2\n  to bob on outbox:\n    {"),
        "{text}"
    );
    assert!(
        !text.contains("record a4"),
        "--record shows one record: {text}"
    );
    let raw = text
        .lines()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap()
        .trim();
    let payload: Value = serde_json::from_str(raw).unwrap();
    assert_eq!(payload["dry_run"], true);
    assert_eq!(payload["delivery"], "approvals/a2/1/2/outbox/bob");
    assert_eq!(payload["text"], "Hi Bob Roe, R-a2 waits.");
    // The same as run-once --dry-run --only prints.
    let dry = t
        .cmd(&["run-once", "--dry-run", "--only", "approvals"])
        .now("2026-01-06T09:00:00Z")
        .run();
    assert!(
        dry.stdout.lines().any(|l| l == raw),
        "{raw}\n{}",
        dry.stdout
    );
    assert_eq!(t.snapshot("."), before);

    // Without --response it polls the definition's own source.
    let out = t
        .cmd(&["preview", "approvals"])
        .now("2026-01-05T10:00:00Z")
        .run();
    out.assert_status(0);
    assert!(
        out.stdout
            .contains("\nrecord a4: nothing: attempt 2 is due at"),
        "{}",
        out.stdout
    );
    // Unknown record and follow-up.
    t.cmd(&["preview", "approvals", "--record", "zz"])
        .now(T0)
        .run()
        .assert_status(1);
    t.run(&["preview", "nope"]).assert_status(2);
    // One record, in the singular.
    t.write(
        "one.json",
        &json!({"result": [record("a2", "bob")]}).to_string(),
    );
    let out = t
        .cmd(&["preview", "approvals", "--response", "one.json"])
        .now("2026-01-05T12:00:00Z")
        .run();
    assert!(
        out.stdout
            .starts_with("approvals (Pending approvals): polled 1 record\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_flag_wins_over_its_environment_variable_before_or_after_the_command() {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    for args in [
        &["--db", "flag.db", "run-once"][..],
        &["run-once", "--db", "flag.db"],
    ] {
        t.cmd(args)
            .env("FOLLOWUP_DB", "env.db")
            .now(T0)
            .run()
            .assert_status(0);
        assert!(t.exists("flag.db") && !t.exists("env.db"), "{args:?}");
    }
    t.cmd(&["run-once"])
        .env("FOLLOWUP_DB", "env.db")
        .now(T0)
        .run()
        .assert_status(0);
    assert!(t.exists("env.db"));
}

#[test]
fn preview_shows_the_payload_a_chat_channel_would_receive() {
    let t = Test::new();
    t.write(
        "followups/tenant.yaml",
        "tenant: t\nchannels:\n  slack: { type: slack, webhook_url: \"@{env.SLACK_WEBHOOK_URL}\" }\nusers:\n  - { id: bob, name: Bob Roe }\n",
    );
    t.write(
        "followups/approvals.yaml",
        "id: approvals
name: Pending approvals
polling: { every: 30m }
extraction:
  integrations:
    - { file: missing-in-ci.json }
  loop: \"$.result[*]\"
  reconciliation_id: \"$.sys_id\"
recipients: { user: \"$.approver\" }
message:
  channel: slack
  text: \"@{followup.data.number} waits.\"
schedule: { every: 1d, attempts: 2 }
",
    );
    t.write(
        "saved.json",
        r#"{"result": [{"sys_id": "a1", "number": "R-1 <!channel>", "approver": "bob"}]}"#,
    );
    let out = t
        .cmd(&["preview", "approvals", "--response", "saved.json"])
        .env(
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.invalid/services/x",
        )
        .now(T0)
        .run();
    out.assert_status(0);
    assert!(
        out.stdout
            .contains("\nrecord a1: open (cycle 1); notify: attempt 1 of 2\n  to room on slack:\n"),
        "{}",
        out.stdout
    );
    let line: Value = serde_json::from_str(
        out.stdout
            .lines()
            .find(|l| l.trim_start().starts_with('{'))
            .unwrap()
            .trim(),
    )
    .unwrap();
    // What Slack would receive, with record text escaped for mrkdwn.
    let text = line["payload"]["text"].as_str().unwrap();
    assert!(text.ends_with("R-1 &lt;!channel&gt; waits."), "{line}");
    assert!(!t.exists("followup.db"));
}
