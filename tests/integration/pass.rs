//! `run-once`: whole sequences of passes with injected time against a local
//! HTTP source, checked from outside: what was sent (the console channel's
//! JSON lines, the file channel's outbox), what the source received, the
//! events, the exit statuses.

use serde_json::{Value, json};

use crate::support::pass::{
    DAILY_3, Source, T0, approval, definition, event_names, events, pass, sent, who,
};
use crate::support::server::{Reply, Server};
use crate::support::{Edit, Test};

const TENANT: &str = "\
tenant: acme-test
attributes: { desk_url: \"https://desk.example.com\" }
channels:
  console: { type: console }
  outbox: { type: file, path: outbox.jsonl }
users:
  - { id: alice, name: Alice Doe, email: alice@example.com }
  - { id: bob, name: Bob Roe, email: bob@example.com }
  - { id: carol, name: Carol Poe, email: carol@example.com }
groups:
  - { id: cab, members: [bob, carol] }
";

fn setup(definition: &str) -> Test {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    t.write("followups/approvals.yaml", definition);
    t
}

#[test]
fn attempts_repeat_every_period_then_the_record_is_exhausted_and_the_after_all_action_runs() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let actions = source.server.url("/actions/escalate");
    let t = setup(&definition(
        &source.url(),
        "  every: 1d\n  attempts: 2",
        &format!(
            "after_all_attempts:\n  - integration:\n      request:\n        method: POST\n        url: \"{actions}\"\n        body: {{ record: \"@{{followup.record_id}}\", attempts: \"@{{followup.attempts}}\" }}\n"
        ),
    ));

    let out = pass(&t, T0);
    out.assert_status(0);
    let lines = sent(&out.stdout);
    assert_eq!(who(&lines), [("a1".into(), 1, "alice".into())]);
    assert_eq!(
        lines[0]["text"],
        "Hi Alice Doe, RITM-a1 waits (reminder 1 of 2)."
    );
    assert_eq!(lines[0]["delivery"], "approvals/a1/1/1/console/alice");
    assert_eq!(lines[0]["at"], T0);
    // The source got the query it was given.
    assert_eq!(
        source.server.requests()[0].query("sysparm_query"),
        Some("state=requested")
    );

    // Nothing is due an hour later, nor just before a day has passed
    // (minus the minute of grace).
    assert_eq!(pass(&t, "2026-01-05T10:00:00Z").assert_status(0).stdout, "");
    assert_eq!(pass(&t, "2026-01-06T08:58:00Z").assert_status(0).stdout, "");
    // A day later (within the minute of grace), the second attempt.
    let out = pass(&t, "2026-01-06T08:59:30Z");
    assert_eq!(who(&sent(&out.stdout)), [("a1".into(), 2, "alice".into())]);
    assert!(
        source.actions().is_empty(),
        "not exhausted before a period after the last attempt"
    );

    // One period after the last attempt, still open: exhausted, once.
    let out = pass(&t, "2026-01-07T09:00:00Z");
    assert_eq!(out.assert_status(0).stdout, "");
    assert_eq!(source.actions(), [json!({"record": "a1", "attempts": 2})]);
    assert_eq!(pass(&t, "2026-01-08T09:00:00Z").assert_status(0).stdout, "");
    assert_eq!(source.actions().len(), 1, "after_all_attempts runs once");
    assert_eq!(
        event_names(&t, &["--event", "attempts"]),
        ["attempts.exhausted"]
    );
    let status = t
        .run(&["status", "--format", "json"])
        .assert_status(0)
        .json();
    assert_eq!(status[0]["exhausted"], 1);
    assert_eq!(status[0]["open"], 0);
}

#[test]
fn a_second_pass_right_after_sends_nothing_new() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "bob")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    let out = pass(&t, T0);
    assert_eq!(sent(&out.assert_status(0).stdout).len(), 2);
    // The minute after: no poll (every 30m), no attempt (every 1d).
    let out = pass(&t, "2026-01-05T09:01:00Z");
    out.assert_status(0).assert_stdout("");
    assert_eq!(source.server.requests().len(), 1);
    // After downtime, a record gets one attempt, never the ones it missed.
    let out = pass(&t, "2026-01-09T12:00:00Z");
    assert_eq!(
        who(&sent(&out.stdout)),
        [
            ("a1".into(), 2, "alice".into()),
            ("a2".into(), 2, "bob".into())
        ]
    );
}

#[test]
fn a_record_absent_for_resolve_after_polls_is_resolved_and_its_return_opens_a_new_cycle() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "bob")]));
    let t = setup(&definition(
        &source.url(),
        DAILY_3,
        &format!(
            "on_resolved:\n  - integration:\n      request: {{ method: POST, url: \"{}\", body: {{ resolved: \"@{{followup.record_id}}\" }} }}\n",
            source.server.url("/actions/resolved")
        ),
    ));
    pass(&t, T0).assert_status(0);

    // a1 leaves the poll: one successful poll without it is not enough.
    source.records(json!([approval("a2", "bob")]));
    pass(&t, "2026-01-05T09:30:00Z").assert_status(0);
    assert!(source.actions().is_empty());
    // The second one resolves it, and on_resolved runs once.
    pass(&t, "2026-01-05T10:00:00Z").assert_status(0);
    assert_eq!(source.actions(), [json!({"resolved": "a1"})]);
    // Resolved: never notified again, not even when its attempt falls due.
    let out = pass(&t, "2026-01-06T09:00:00Z");
    assert_eq!(who(&sent(&out.stdout)), [("a2".into(), 2, "bob".into())]);
    assert_eq!(source.actions().len(), 1);

    // Its return opens cycle 2, due at once, counting attempts from 1.
    source.records(json!([approval("a1", "alice"), approval("a2", "bob")]));
    let out = pass(&t, "2026-01-06T10:00:00Z");
    let lines = sent(&out.stdout);
    assert_eq!(who(&lines), [("a1".into(), 1, "alice".into())]);
    assert_eq!(lines[0]["cycle"], 2);
    assert_eq!(lines[0]["delivery"], "approvals/a1/2/1/console/alice");
}

/// Each cause of a failed poll: the poll fails (exit 1, `poll.failed`),
/// and nothing is resolved or sent, however many polls fail.
#[test]
fn every_cause_of_a_failed_poll_resolves_and_sends_nothing() {
    let causes: Vec<(&str, Reply, &str)> = vec![
        ("non-2xx", Reply::text(503, "maintenance"), "HTTP 503"),
        (
            "bad JSON",
            Reply::text(200, "<html>login</html>"),
            "invalid JSON at byte 0",
        ),
        (
            "loop element absent",
            Reply::json(200, json!({"error": "no"})),
            "is absent from the response",
        ),
        (
            "loop element not an array",
            Reply::json(200, json!({"result": {"a": 1}})),
            "is an object, not an array",
        ),
        (
            "record without an ID",
            Reply::json(200, json!({"result": [{"sys_id": true}]})),
            "no string or integer ID",
        ),
        (
            "too many records",
            Reply::json(
                200,
                json!({"result": (0..6).map(|i| approval(&format!("x{i}"), "bob")).collect::<Vec<_>>()}),
            ),
            "more than 5 records",
        ),
        ("transport error", Reply::hang_up(), "connection error"),
    ];
    for (cause, reply, message) in causes {
        let source = Source::new(json!([approval("a1", "alice")]));
        let def = definition(&source.url(), DAILY_3, "")
            .replace_once("resolve_after: 2", "resolve_after: 1\n  max_records: 5");
        let t = setup(&def);
        pass(&t, T0).assert_status(0);

        source.reply(reply);
        for now in ["2026-01-05T09:30:00Z", "2026-01-06T09:00:00Z"] {
            let out = pass(&t, now);
            out.assert_status(1);
            assert_eq!(
                out.stdout, "",
                "{cause}: nothing is sent after a failed poll"
            );
            assert!(out.stderr.contains(message), "{cause}: {}", out.stderr);
        }
        let failed = events(&t, &["--event", "poll.failed"]);
        assert_eq!(failed.len(), 2, "{cause}");
        assert!(
            failed[0]["detail"].as_str().unwrap().contains(message),
            "{cause}: {}",
            failed[0]
        );
        assert!(
            event_names(&t, &["--event", "record.resolved"]).is_empty(),
            "{cause}"
        );

        // A later successful poll picks up where it left: a1 is still open
        // and its second attempt (due since a day) goes out.
        source.records(json!([approval("a1", "alice")]));
        let out = pass(&t, "2026-01-06T09:30:00Z");
        assert_eq!(
            who(&sent(&out.assert_status(0).stdout)),
            [("a1".into(), 2, "alice".into())],
            "{cause}"
        );
    }
}

#[test]
fn a_next_page_beyond_max_pages_fails_the_poll() {
    let server = Server::start(|req| {
        let page: u32 = req.query("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        Reply::json(
            200,
            json!({"result": [approval(&format!("p{page}"), "alice")], "next": format!("/items?page={}", page + 1)}),
        )
    });
    let def = definition(&server.url("/items"), DAILY_3, "").replace_once(
        "        query: { sysparm_query: \"state=requested\" }\n",
        "      paginate: { type: next_url, path: \"$.next\", max_pages: 3 }\n",
    );
    let t = setup(&def);
    let out = pass(&t, T0);
    out.assert_status(1).assert_stdout("");
    assert!(out.stderr.contains("page 4"), "{}", out.stderr);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn duplicate_ids_keep_the_first_record() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a1", "bob")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    let out = pass(&t, T0);
    assert_eq!(
        who(&sent(&out.assert_status(0).stdout)),
        [("a1".into(), 1, "alice".into())]
    );
    assert_eq!(
        event_names(&t, &["--event", "record.duplicate"]),
        ["record.duplicate"]
    );
}

#[test]
fn the_identity_guard_stops_a_poll_that_shares_no_id_with_ten_tracked_records() {
    let ids = |prefix: &str| -> Value {
        (0..10)
            .map(|i| approval(&format!("{prefix}{i}"), "alice"))
            .collect()
    };
    let source = Source::new(ids("old"));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    assert_eq!(sent(&pass(&t, T0).assert_status(0).stdout).len(), 10);

    // The query now returns other IDs (say, the reconciliation ID changed).
    source.records(ids("new"));
    let out = pass(&t, "2026-01-05T09:30:00Z");
    out.assert_status(1).assert_stdout("");
    assert!(
        out.stderr.contains("none of the 10 open ones"),
        "{}",
        out.stderr
    );
    assert_eq!(
        event_names(&t, &["--event", "poll.identity_changed"]).len(),
        1
    );
    // Skipped, without polling, until a reset, even when attempts fall due.
    let requests = source.server.requests().len();
    let out = t.cmd(&["run-once", "-q"]).now("2026-01-06T10:00:00Z").run();
    out.assert_status(1).assert_stdout("");
    // A warning, so that even a quiet cron run mails it.
    assert!(
        out.stderr
            .starts_with("warning: approvals: skipped by the identity guard: skipped until `followup reset approvals`"),
        "{}",
        out.stderr
    );
    assert_eq!(source.server.requests().len(), requests);

    // `reset --baseline`: the next poll remembers what it finds, and only
    // later records are followed up.
    t.run(&["reset", "approvals", "--baseline"])
        .assert_status(0);
    pass(&t, "2026-01-06T10:30:00Z")
        .assert_status(0)
        .assert_stdout("");
    let mut later = ids("new");
    later.as_array_mut().unwrap().push(approval("fresh", "bob"));
    source.records(later);
    let out = pass(&t, "2026-01-06T11:00:00Z");
    assert_eq!(
        who(&sent(&out.assert_status(0).stdout)),
        [("fresh".into(), 1, "bob".into())]
    );
}

#[test]
fn first_poll_record_only_remembers_what_is_there_and_follows_up_later_records() {
    let source = Source::new(json!([approval("old", "alice")]));
    let def = definition(&source.url(), DAILY_3, "").replace_once(
        "  resolve_after: 2",
        "  resolve_after: 2\n  first_poll: record_only",
    );
    let t = setup(&def);
    pass(&t, T0).assert_status(0).assert_stdout("");
    assert_eq!(
        event_names(&t, &["--event", "record.baselined"]),
        ["record.baselined"]
    );

    source.records(json!([approval("old", "alice"), approval("new", "bob")]));
    let out = pass(&t, "2026-01-05T09:30:00Z");
    assert_eq!(
        who(&sent(&out.assert_status(0).stdout)),
        [("new".into(), 1, "bob".into())]
    );
    // The baselined record is never followed up, even days later.
    let out = pass(&t, "2026-01-08T09:30:00Z");
    assert_eq!(who(&sent(&out.stdout)), [("new".into(), 2, "bob".into())]);
    let explain = t
        .run(&["explain", "approvals", "old"])
        .assert_status(0)
        .stdout
        .clone();
    assert!(explain.contains("state:     baselined"), "{explain}");
    // A record no poll has found: exit 1, saying where to look.
    t.run(&["explain", "approvals", "nope"])
        .assert_status(1)
        .assert_stderr(
            "error: follow-up `approvals` has no record `nope`: no poll has found it (see `followup history --followup approvals --event poll`), a baseline dropped it, or the follow-up was reset\n",
        );
}

#[test]
fn an_edited_definition_applies_at_once() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "bob")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    pass(&t, T0).assert_status(0);

    // New text and fewer attempts: the next attempt uses the new text, and
    // a record past the new count is exhausted a period after its last.
    let edited = definition(&source.url(), "  every: 1d\n  attempts: 2", "")
        .replace_once("Hi @{recipient.name}", "Hello again @{recipient.name}");
    t.write("followups/approvals.yaml", &edited);
    let out = pass(&t, "2026-01-06T09:00:00Z");
    let lines = sent(&out.assert_status(0).stdout);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["text"],
        "Hello again Alice Doe, RITM-a1 waits (reminder 2 of 2)."
    );
    // Lowered to one attempt: both records, past it, are exhausted once a
    // period has passed; raising it again reopens nothing.
    t.write(
        "followups/approvals.yaml",
        &definition(&source.url(), "  every: 1d\n  attempts: 1", ""),
    );
    pass(&t, "2026-01-07T09:00:00Z")
        .assert_status(0)
        .assert_stdout("");
    assert_eq!(event_names(&t, &["--event", "attempts.exhausted"]).len(), 2);
    t.write(
        "followups/approvals.yaml",
        &definition(&source.url(), "  every: 1d\n  attempts: 5", ""),
    );
    pass(&t, "2026-01-08T09:00:00Z")
        .assert_status(0)
        .assert_stdout("");
    // A shorter notification frequency counts from the last attempt.
    source.records(json!([
        approval("a1", "alice"),
        approval("a2", "bob"),
        approval("a3", "carol")
    ]));
    t.write(
        "followups/approvals.yaml",
        &definition(&source.url(), "  every: 2h\n  attempts: 5", ""),
    );
    let out = pass(&t, "2026-01-08T10:00:00Z");
    assert_eq!(who(&sent(&out.stdout)), [("a3".into(), 1, "carol".into())]);
    let out = pass(&t, "2026-01-08T12:00:00Z");
    assert_eq!(who(&sent(&out.stdout)), [("a3".into(), 2, "carol".into())]);
}

#[test]
fn groups_expand_to_their_members_once_and_unknown_users_fail_their_delivery() {
    let source = Source::new(json!([
        {"sys_id": "c1", "number": "CHG1", "approver": {"value": "carol"}, "group": "cab"},
        {"sys_id": "c2", "number": "CHG2", "approver": {"value": "zed"}, "group": "nope"},
    ]));
    let def = definition(&source.url(), DAILY_3, "").replace_once(
        "  user: \"$.approver.value\"",
        "  user: \"$.approver.value\"\n  group: \"$.group\"",
    );
    let t = setup(&def);
    let out = pass(&t, T0);
    out.assert_status(0);
    // carol is named twice (user and group): one delivery.
    assert_eq!(
        who(&sent(&out.stdout)),
        [
            ("c1".into(), 1, "carol".into()),
            ("c1".into(), 1, "bob".into())
        ]
    );
    let unresolved = events(&t, &["--event", "recipient.unresolved"]);
    let details: Vec<&str> = unresolved
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            "`zed` is not the id or e-mail of a tenant user",
            "`nope` is not a tenant group"
        ]
    );
    let explain = t
        .run(&["explain", "approvals", "c2"])
        .assert_status(0)
        .stdout
        .clone();
    assert!(
        explain.contains("approvals/c2/1/1/console/zed to zed on console: failed"),
        "{explain}"
    );
}

#[test]
fn a_missing_value_fails_only_that_delivery_and_names_the_path() {
    let source = Source::new(
        json!([approval("a1", "alice"), {"sys_id": "a2", "approver": {"value": "bob"}}]),
    );
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    let out = pass(&t, T0);
    assert_eq!(
        who(&sent(&out.assert_status(0).stdout)),
        [("a1".into(), 1, "alice".into())]
    );
    let failed = events(&t, &["--event", "notification.failed"]);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["record"], "a2");
    assert_eq!(
        failed[0]["detail"],
        "no value for `@{followup.data.number}`: nothing was sent"
    );
}

#[test]
fn after_each_attempt_actions_set_locals_and_globals_and_call_integrations() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let extra = format!(
        "after_each_attempt:
  - set: {{ local.note: \"Reminder @{{followup.attempt}} of @{{followup.attempts}} sent\", global.last_reminded: \"@{{followup.record_id}}\" }}
  - integration:
      request:
        method: PATCH
        url: \"{}/@{{followup.record_id}}\"
        body: {{ comments: \"@{{local.note}}\", attempt: \"@{{followup.attempt}}\", missing: \"@{{followup.data.nothing ?? 'n/a'}}\" }}
  - set: {{ local.broken: \"@{{followup.data.absent}}\" }}
",
        source.server.url("/actions")
    );
    let t = setup(&definition(&source.url(), DAILY_3, &extra));
    pass(&t, T0).assert_status(0);
    assert_eq!(
        source.actions(),
        [json!({"comments": "Reminder 1 of 3 sent", "attempt": 1, "missing": "n/a"})]
    );
    let patch = source
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(patch.path, "/actions/a1");
    // A failed action is an event, never a crash; the others ran.
    let outcomes: Vec<String> = events(&t, &["--event", "action"])
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["event"].as_str().unwrap(),
                e["detail"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "action.succeeded: after_each_attempt[0]: set local.note, global.last_reminded",
            "action.succeeded: after_each_attempt[1]: integration `#1` succeeded",
            "action.failed: after_each_attempt[2]: no value for `@{followup.data.absent}`",
        ]
    );
}

#[test]
fn window_defers_attempts_until_it_opens() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(
        &source.url(),
        "  every: 1d\n  attempts: 3\n  window: { days: mon-fri, hours: \"08:00-18:00\", timezone: Europe/Lisbon }",
        "",
    ));
    // Saturday: polled, but nothing sent.
    pass(&t, "2026-01-10T10:00:00Z")
        .assert_status(0)
        .assert_stdout("");
    assert_eq!(
        event_names(&t, &["--event", "notification.deferred"]).len(),
        1
    );
    let explain = t
        .cmd(&["explain", "approvals", "a1"])
        .now("2026-01-10T10:00:00Z")
        .run();
    let explain = &explain.assert_status(0).stdout;
    assert!(explain.contains("waits for the window"), "{explain}");
    assert!(explain.contains("opens 2026-01-12T08:00:00Z"), "{explain}");
    // Monday 08:00 Lisbon (UTC+0 in winter): sent.
    let out = pass(&t, "2026-01-12T08:00:00Z");
    assert_eq!(who(&sent(&out.stdout)), [("a1".into(), 1, "alice".into())]);
}

#[test]
fn dry_run_sends_runs_and_writes_nothing() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let extra = format!(
        "after_each_attempt:\n  - integration: {{ request: {{ method: POST, url: \"{}\" }} }}\n",
        source.server.url("/actions/x")
    );
    let t = setup(
        &definition(&source.url(), DAILY_3, &extra)
            .replace_once("channel: console", "channel: outbox"),
    );
    let out = t.cmd(&["run-once", "--dry-run"]).now(T0).run();
    out.assert_status(0);
    let lines = sent(&out.stdout);
    assert_eq!(lines[0]["dry_run"], true);
    assert_eq!(lines[0]["delivery"], "approvals/a1/1/1/outbox/alice");
    assert_eq!(lines[1]["action"], "after_each_attempt[0]");
    assert_eq!(lines[1]["outcome"], "would call integration `#1`");
    // The poll ran; the action did not; no file was created.
    assert_eq!(source.server.requests().len(), 1);
    assert!(!t.exists("followup.db"));
    assert!(!t.exists("followup.db.lock"));
    assert!(!t.exists("followups/outbox.jsonl"));

    // A dry run after a real pass sees its state: nothing is due.
    pass(&t, T0).assert_status(0);
    let out = t
        .cmd(&["run-once", "--dry-run"])
        .now("2026-01-05T10:00:00Z")
        .run();
    out.assert_status(0).assert_stdout("");
    // The outbox got exactly one line, from the real pass.
    assert_eq!(t.read("followups/outbox.jsonl").lines().count(), 1);
}

#[test]
fn only_limits_the_pass_and_an_unknown_id_is_bad_usage() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    t.write(
        "followups/other.yaml",
        &definition(&source.url(), DAILY_3, "")
            .replace_once("id: approvals", "id: other")
            .replace_once("name: Pending approvals", "name: Other"),
    );
    let out = t.cmd(&["run-once", "--only", "other"]).now(T0).run();
    let lines = sent(&out.assert_status(0).stdout);
    // Not vacuous: `other` sent its reminder, and only it sent anything.
    assert_eq!(who(&lines), [("a1".into(), 1, "alice".into())]);
    assert!(lines.iter().all(|l| l["followup"] == "other"));
    let out = t.cmd(&["run-once", "--only", "othr"]).now(T0).run();
    out.assert_status(2);
    assert!(
        out.stderr.contains("did you mean `other`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_invalid_definition_is_skipped_and_an_invalid_tenant_runs_nothing() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    t.write("followups/broken.yaml", "id: broken\nname: Broken\n");
    let out = pass(&t, T0);
    out.assert_status(1);
    assert_eq!(sent(&out.stdout).len(), 1, "the valid follow-up ran");
    assert!(
        out.stderr
            .contains("followups/broken.yaml:1:1: error: missing required key"),
        "{}",
        out.stderr
    );

    t.write(
        "followups/tenant.yaml",
        "tenant: acme\nchannels: { console: { type: consol } }\n",
    );
    let out = pass(&t, "2026-01-06T09:00:00Z");
    out.assert_status(1).assert_stdout("");
    assert!(
        out.stderr.contains("the tenant is invalid: nothing runs"),
        "{}",
        out.stderr
    );
    assert_eq!(source.server.requests().len(), 1);
}

#[test]
fn a_database_from_a_newer_followup_is_refused_with_exit_3() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    pass(&t, T0).assert_status(0);
    // Raise the schema version as a newer followup would: `user_version`
    // is the big-endian number at byte 60 of the header (the pass left the
    // database checkpointed, so the header is the file's).
    let db = t.path("followup.db");
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(&db, bytes).unwrap();
    let out = pass(&t, "2026-01-06T09:00:00Z");
    out.assert_status(3).assert_stdout("");
    assert!(out.stderr.contains("newer followup"), "{}", out.stderr);
    // Not a database at all: also exit 3.
    std::fs::write(
        &db,
        b"this is not sqlite, just text that is long enough to be a header",
    )
    .unwrap();
    let _ = std::fs::remove_file(t.path("followup.db-wal"));
    let out = pass(&t, "2026-01-06T09:00:00Z");
    out.assert_status(3);
    assert!(out.stderr.contains("is unusable"), "{}", out.stderr);
}

#[test]
fn history_filters_and_formats() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "bob")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    pass(&t, T0).assert_status(0);
    let all = events(&t, &[]);
    assert_eq!(all.first().unwrap()["event"], "record.opened");
    let for_a2 = events(&t, &["--record", "a2"]);
    assert!(for_a2.iter().all(|e| e["record"] == "a2"));
    assert_eq!(
        for_a2
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [
            "record.opened",
            "attempt.started",
            "notification.sent",
            "attempt.closed"
        ]
    );
    let sent_events = events(
        &t,
        &[
            "--event",
            "notification.sent",
            "--since",
            "2026-01-05T08:00:00Z",
        ],
    );
    assert_eq!(sent_events.len(), 2);
    assert!(events(&t, &["--since", "2026-01-05T10:00:00Z"]).is_empty());
    let csv = t
        .run(&["history", "--format", "csv", "--event", "notification"])
        .assert_status(0)
        .stdout
        .clone();
    assert_eq!(
        csv,
        "at,event,followup,record,cycle,attempt,recipient,channel,detail\n\
         2026-01-05T09:00:00Z,notification.sent,approvals,a1,1,1,alice,console,\n\
         2026-01-05T09:00:00Z,notification.sent,approvals,a2,1,1,bob,console,\n"
    );
    let out = t.run(&["history", "--event", "notificaton.sent"]);
    out.assert_status(2);
    assert!(
        out.stderr.contains("did you mean `notification.sent`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn status_shows_state_left_by_a_deleted_follow_up() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    pass(&t, T0).assert_status(0);
    std::fs::remove_file(t.path("followups/approvals.yaml")).unwrap();
    let status = t
        .cmd(&["status", "--format", "json"])
        .now(T0)
        .run()
        .assert_status(0)
        .json();
    assert_eq!(status[0]["followup"], "approvals");
    assert_eq!(status[0]["status"], "deleted");
    assert_eq!(status[0]["open"], 1);
    // Its state can be reset although its definition is gone.
    t.run(&["reset", "approvals"]).assert_status(0);
    let status = t
        .cmd(&["status", "--format", "json"])
        .now(T0)
        .run()
        .assert_status(0)
        .json();
    assert_eq!(status, json!([]));
}

/// Crash and overlap, from outside the binary: a pass blocked inside a
/// delivery (a FIFO nobody reads yet) is killed with SIGKILL; a pass started
/// meanwhile exits 75 touching nothing; the next pass completes the attempt,
/// loses no attempt count and repeats only the delivery in flight.
#[test]
fn a_killed_pass_loses_no_attempt_and_repeats_at_most_what_was_in_flight() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "bob")]));
    let def =
        definition(&source.url(), DAILY_3, "").replace_once("channel: console", "channel: outbox");
    let t = setup(&def);
    let fifo = t.path("followups/outbox.jsonl");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());

    let mut blocked = t.cmd(&["run-once"]).now(T0).spawn();
    // Wait until the pass has stored the attempt and blocks on the FIFO.
    let db = t.path("followup.db");
    let started = std::time::Instant::now();
    loop {
        let out = t.run(&["history", "--event", "attempt.started", "--format", "json"]);
        if out.status == Some(0) && out.stdout.contains("attempt.started") {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "the pass never started an attempt: {}",
            out.stderr
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(db.exists());

    // A second pass while the first holds the lock: exit 75, nothing touched.
    let before = std::fs::read(&db).unwrap();
    let out = pass(&t, T0);
    out.assert_status(75).assert_stdout("");
    assert!(
        out.stderr.contains("another pass holds the lock"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert_eq!(
        source.server.requests().len(),
        1,
        "the second pass did not poll"
    );

    blocked.kill().expect("SIGKILL the blocked pass");
    blocked.wait().unwrap();

    // A reader for the FIFO, then the next pass: the attempt completes.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = pass(&t, "2026-01-05T09:05:00Z");
    out.assert_status(0);
    let written = reader.join().unwrap();
    let lines = sent(&written);
    // Each record's first attempt went out exactly once; the killed pass
    // had sent nothing (it was blocked opening the FIFO).
    let mut got = who(&lines);
    got.sort();
    assert_eq!(
        got,
        [
            ("a1".into(), 1, "alice".into()),
            ("a2".into(), 1, "bob".into())
        ]
    );
    // No attempt was lost or counted twice.
    let explain = t
        .cmd(&["explain", "approvals", "a1"])
        .now("2026-01-05T09:05:00Z")
        .run();
    let explain = &explain.assert_status(0).stdout;
    assert!(explain.contains("attempts:  1 of 3"), "{explain}");
    // The delivery in flight was tried once: by the pass that completed it.
    assert!(
        explain.contains("alice on outbox: delivered at 2026-01-05T09:05:00Z after 1 try"),
        "{explain}"
    );
    assert!(
        explain.contains("attempt 2 is due at 2026-01-06T09:00:00Z"),
        "{explain}"
    );
    assert_eq!(event_names(&t, &["--event", "attempt.started"]).len(), 2);
    assert_eq!(event_names(&t, &["--event", "attempt.closed"]).len(), 2);
}

#[test]
fn metrics_file_holds_the_pass_outcome_in_prometheus_text() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "zed")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    t.cmd(&["run-once", "--metrics-file", "metrics.prom"])
        .now(T0)
        .run()
        .assert_status(0);
    let text = t.read("metrics.prom");
    for line in [
        "followup_pass_timestamp_seconds 1767603600",
        "followup_pass_ok 1",
        "followup_poll_ok{followup=\"approvals\"} 1",
        "followup_deliveries{followup=\"approvals\",outcome=\"delivered\"} 1",
        "followup_deliveries{followup=\"approvals\",outcome=\"failed\"} 1",
        "followup_records{followup=\"approvals\",state=\"open\"} 2",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
    // A failed poll shows.
    source.reply(Reply::status(500));
    t.cmd(&["run-once", "--metrics-file", "metrics.prom"])
        .now("2026-01-05T09:30:00Z")
        .run()
        .assert_status(1);
    let text = t.read("metrics.prom");
    assert!(text.lines().any(|l| l == "followup_pass_ok 0"), "{text}");
    assert!(
        text.lines()
            .any(|l| l == "followup_poll_ok{followup=\"approvals\"} 0"),
        "{text}"
    );
}

#[test]
fn escalation_rungs_join_from_their_attempt_and_a_person_is_told_once_per_channel() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let def = definition(&source.url(), DAILY_3, "").replace_once(
        "  user: \"$.approver.value\"",
        "  user: \"$.approver.value\"
  escalate:
    - { from_attempt: 2, group: cab }
    - { from_attempt: 3, user: alice, text: \"Escalated: @{followup.data.number}\" }
    - { from_attempt: 3, user: bob, channel: outbox, text: \"To @{recipient.name}: @{followup.data.number} waits for Alice\" }",
    );
    let t = setup(&def);
    let out = pass(&t, T0);
    assert_eq!(
        who(&sent(&out.assert_status(0).stdout)),
        [("a1".into(), 1, "alice".into())]
    );
    let out = pass(&t, "2026-01-06T09:00:00Z");
    assert_eq!(
        who(&sent(&out.stdout)),
        [
            ("a1".into(), 2, "alice".into()),
            ("a1".into(), 2, "bob".into()),
            ("a1".into(), 2, "carol".into())
        ]
    );
    // Attempt 3: alice is already told on the console by the user field, so
    // the rung naming her again adds nothing there; bob gets the rung's text
    // on the outbox as well as the message on the console.
    let out = pass(&t, "2026-01-07T09:00:00Z");
    let console = sent(&out.stdout);
    assert_eq!(
        who(&console),
        [
            ("a1".into(), 3, "alice".into()),
            ("a1".into(), 3, "bob".into()),
            ("a1".into(), 3, "carol".into())
        ]
    );
    assert!(
        console
            .iter()
            .all(|l| l["text"].as_str().unwrap().starts_with("Hi "))
    );
    let outbox = sent(&t.read("followups/outbox.jsonl"));
    assert_eq!(who(&outbox), [("a1".into(), 3, "bob".into())]);
    assert_eq!(outbox[0]["text"], "To Bob Roe: RITM-a1 waits for Alice");
    assert_eq!(outbox[0]["delivery"], "approvals/a1/1/3/outbox/bob");
}

#[test]
fn a_room_channel_gets_one_delivery_naming_every_recipient() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let room = Server::start(|_| Reply::status(202));
    let tenant = TENANT.replace_once(
        "  console: { type: console }",
        "  console: { type: console }\n  room: { type: teams, webhook_url: \"@{env.TEAMS_URL}\" }",
    );
    let def = definition(&source.url(), DAILY_3, "")
        .replace_once(
            "  user: \"$.approver.value\"",
            "  user: \"$.approver.value\"\n  group: cab",
        )
        .replace_once("channel: console", "channel: room");
    let t = Test::new();
    t.write("followups/tenant.yaml", &tenant);
    t.write("followups/approvals.yaml", &def);
    let out = t
        .cmd(&["run-once"])
        .now(T0)
        .env("TEAMS_URL", room.url("/workflows/x"))
        .run();
    out.assert_status(0).assert_stdout("");
    // One post for the room, naming Alice and the group's Bob and Carol.
    let posts = room.requests();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let card = &posts[0].json()["attachments"][0]["content"];
    let names = card["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"].as_str())
        .find(|t| t.starts_with("For: "))
        .expect("the card names its people");
    assert_eq!(names, "For: Alice Doe, Bob Roe, Carol Poe");
    let explain = t.cmd(&["explain", "approvals", "a1"]).now(T0).run();
    let explain = &explain.assert_status(0).stdout;
    assert!(
        explain.contains("approvals/a1/1/1/room/room to room on room: delivered"),
        "{explain}"
    );
    assert_eq!(explain.matches("on room:").count(), 1, "{explain}");
}

#[test]
fn a_digest_validates_without_a_warning_and_both_records_share_one_message() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "alice")]));
    let def = definition(&source.url(), DAILY_3, "").replace_once(
        "schedule:",
        "  digest: { title: \"@{digest.count} approvals wait\", line: \"@{followup.data.number}\" }\nschedule:",
    );
    let t = setup(&def);
    let out = t.run(&["validate"]);
    out.assert_status(0);
    assert!(out.stderr.contains("0 warnings"), "{}", out.stderr);
    let out = pass(&t, T0);
    let lines = sent(&out.assert_status(0).stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["text"], "2 approvals wait\nRITM-a1\nRITM-a2");
}

#[test]
fn a_custom_attribute_set_after_an_attempt_is_read_by_the_next_message_of_that_person() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "bob")]));
    let def = definition(
        &source.url(),
        DAILY_3,
        "after_each_attempt:\n  - set: { custom.reminded: \"@{followup.data.number} at attempt @{followup.attempt}\" }\n",
    )
    .replace_once(
        "waits (reminder",
        "waits (last: @{custom.reminded ?? \\\"never\\\"}; reminder",
    );
    let t = setup(&def);
    let out = pass(&t, T0);
    let texts: Vec<String> = sent(&out.assert_status(0).stdout)
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts[0],
        "Hi Alice Doe, RITM-a1 waits (last: never; reminder 1 of 3)."
    );
    // Per person: bob's value is his own.
    let out = pass(&t, "2026-01-06T09:00:00Z");
    let texts: Vec<String> = sent(&out.stdout)
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts,
        [
            "Hi Alice Doe, RITM-a1 waits (last: RITM-a1 at attempt 1; reminder 2 of 3).",
            "Hi Bob Roe, RITM-a2 waits (last: RITM-a2 at attempt 1; reminder 2 of 3)."
        ]
    );
}
