//! More of `run-once`, from outside the binary: pending deliveries and
//! their retries, channels that fail, lookups, budgets and bounds of a
//! pass, pruning, secrets, a crash after a delivery went out, and
//! regressions. Same style as `pass.rs`: a local HTTP source, injected time,
//! and what a user sees (stdout, files, events, exit statuses).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::pass::{
    DAILY_3, Source, T0, approval, definition, event_names, events, pass, sent, who,
};
use crate::support::server::{Reply, Server};
use crate::support::{Edit, Output, Test};

/// `outbox` writes into `followups/out/`, which a test creates (or not).
const TENANT: &str = "\
tenant: acme-test
channels:
  console: { type: console }
  outbox: { type: file, path: out/outbox.jsonl }
users:
  - { id: alice, name: Alice Doe, email: alice@example.com }
  - { id: bob, name: Bob Roe, email: bob@example.com }
  - { id: carol, name: Carol Poe, email: carol@example.com }
";

fn setup(definition: &str) -> Test {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    t.write("followups/approvals.yaml", definition);
    t
}

/// `after_each_attempt` POSTing the attempt number to the source's
/// `/actions/each`.
fn each_attempt_action(source: &Source) -> String {
    format!(
        "after_each_attempt:\n  - integration:\n      request: {{ method: POST, url: \"{}\", body: {{ each: \"@{{followup.attempt}}\" }} }}\n",
        source.server.url("/actions/each")
    )
}

fn detail(event: &Value) -> &str {
    event["detail"].as_str().unwrap_or_default()
}

fn explain(t: &Test, record: &str, now: &str) -> String {
    t.cmd(&["explain", "approvals", record])
        .now(now)
        .run()
        .assert_status(0)
        .stdout
        .clone()
}

fn outbox(t: &Test) -> Vec<Value> {
    sent(&t.read("followups/out/outbox.jsonl"))
}

fn on_outbox(def: String) -> String {
    def.replace_once("channel: console", "channel: outbox")
}

// --- pending deliveries ---------------------------------------------------

#[test]
fn a_delivery_to_a_directory_not_there_yet_stays_pending_until_a_pass_can_write_it() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&on_outbox(definition(
        &source.url(),
        DAILY_3,
        &each_attempt_action(&source),
    )));

    pass(&t, T0).assert_status(0).assert_stdout("");
    let deferred = events(&t, &["--event", "notification.deferred"]);
    assert_eq!(deferred.len(), 1, "{deferred:?}");
    assert_eq!(deferred[0]["recipient"], "alice");
    assert_eq!(deferred[0]["channel"], "outbox");
    let explained = explain(&t, "a1", T0);
    assert!(
        explained.contains("to alice on outbox: pending"),
        "{explained}"
    );
    assert!(explained.contains("attempts:  1 of 3"), "{explained}");
    // The attempt stays open: it has not closed, and its action waits.
    assert!(event_names(&t, &["--event", "attempt.closed"]).is_empty());
    assert!(source.actions().is_empty());

    // The directory appears; the next pass, the same day, delivers it.
    std::fs::create_dir(t.path("followups/out")).unwrap();
    pass(&t, "2026-01-05T09:10:00Z").assert_status(0);
    assert_eq!(who(&outbox(&t)), [("a1".into(), 1, "alice".into())]);
    assert_eq!(event_names(&t, &["--event", "attempt.closed"]).len(), 1);
    assert_eq!(source.actions(), [json!({"each": 1})]);
    let explained = explain(&t, "a1", "2026-01-05T09:10:00Z");
    assert!(
        explained.contains("to alice on outbox: delivered at 2026-01-05T09:10:00Z"),
        "{explained}"
    );

    // Nothing is repeated by a later pass of the same day.
    pass(&t, "2026-01-05T09:20:00Z").assert_status(0);
    assert_eq!(outbox(&t).len(), 1);
    assert_eq!(source.actions().len(), 1);
}

#[test]
fn a_delivery_still_pending_when_the_next_attempt_is_due_fails_and_the_next_attempt_starts() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&on_outbox(definition(
        &source.url(),
        DAILY_3,
        &each_attempt_action(&source),
    )));
    pass(&t, T0).assert_status(0);
    pass(&t, "2026-01-05T15:00:00Z").assert_status(0);
    assert!(event_names(&t, &["--event", "notification.failed"]).is_empty());
    assert!(source.actions().is_empty());

    pass(&t, "2026-01-06T09:00:00Z").assert_status(0);
    let failed = events(&t, &["--event", "notification.failed"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["attempt"], 1);
    assert_eq!(
        detail(&failed[0]),
        "not delivered before the next attempt was due"
    );
    let closed = events(&t, &["--event", "attempt.closed"]);
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0]["attempt"], 1);
    // after_each_attempt ran for attempt 1 (once), then attempt 2 started.
    assert_eq!(source.actions(), [json!({"each": 1})]);
    let started = events(&t, &["--event", "attempt.started"]);
    assert_eq!(
        started
            .iter()
            .map(|e| e["attempt"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    let explained = explain(&t, "a1", "2026-01-06T09:00:00Z");
    assert!(explained.contains("attempts:  2 of 3"), "{explained}");
    assert!(
        explained.contains("(not delivered before the next attempt was due)"),
        "{explained}"
    );
}

#[test]
fn after_three_transient_failures_in_a_row_a_channel_is_skipped_for_the_rest_of_the_pass() {
    let source = Source::new(json!([
        approval("a1", "alice"),
        approval("a2", "bob"),
        approval("a3", "carol"),
        approval("a4", "alice"),
    ]));
    let t = setup(&on_outbox(definition(&source.url(), DAILY_3, "")));
    pass(&t, T0).assert_status(0);

    let deferred = events(&t, &["--event", "notification.deferred"]);
    assert_eq!(deferred.len(), 4, "{deferred:?}");
    let (skipped, tried): (Vec<&Value>, Vec<&Value>) =
        deferred.iter().partition(|e| detail(e).contains("skipped"));
    assert_eq!(tried.len(), 3, "{deferred:?}");
    assert_eq!(skipped.len(), 1, "{deferred:?}");
    assert_eq!(deferred[3], *skipped[0], "the fourth is the one skipped");
    assert!(
        detail(skipped[0]).contains("after 3 transient failures"),
        "{}",
        skipped[0]
    );
    assert_eq!(skipped[0]["channel"], "outbox");

    // The skipped delivery is still pending: a later pass delivers all four.
    std::fs::create_dir(t.path("followups/out")).unwrap();
    pass(&t, "2026-01-05T09:10:00Z").assert_status(0);
    let mut got = who(&outbox(&t));
    got.sort();
    assert_eq!(
        got,
        [
            ("a1".into(), 1, "alice".into()),
            ("a2".into(), 1, "bob".into()),
            ("a3".into(), 1, "carol".into()),
            ("a4".into(), 1, "alice".into()),
        ]
    );
}

// --- lookups ----------------------------------------------------------------

/// A directory service for lookups: `/users/<sys_id>` answers the user of
/// a known sys_id, 404 otherwise; `flaky-sys-id` hangs up while `flaky`.
struct Directory {
    server: Server,
    flaky: Arc<AtomicBool>,
}

impl Directory {
    fn start() -> Directory {
        let flaky = Arc::new(AtomicBool::new(true));
        let shared = flaky.clone();
        let server = Server::start(move |req| {
            let user = |name: &str, email: &str| {
                Reply::json(200, json!({"result": {"user_name": name, "email": email}}))
            };
            match req.path.as_str() {
                "/users/6816f79cc0a8016401c5a33be04be441" => {
                    user("alice", "alice.approver@example.com")
                }
                "/users/flaky-sys-id" if shared.load(Ordering::SeqCst) => Reply::hang_up(),
                "/users/flaky-sys-id" => user("bob", "bob.approver@example.com"),
                _ => Reply::json(404, json!({"error": {"message": "No Record found"}})),
            }
        });
        Directory { server, flaky }
    }

    fn asked(&self, path: &str) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }
}

#[test]
fn a_lookup_resolves_the_user_and_attributes_at_run_time_and_its_failures_differ() {
    let source = Source::new(json!([
        approval("a1", "6816f79cc0a8016401c5a33be04be441"),
        approval("a2", "gone-sys-id"),
        approval("a3", "flaky-sys-id"),
    ]));
    let directory = Directory::start();
    let def = definition(&source.url(), DAILY_3, "")
        .replace_once(
            "  user: \"$.approver.value\"",
            &format!(
                "  user: \"$.approver.value\"
  lookup:
    request: {{ url: \"{}/@{{lookup.value}}\" }}
    user: \"$.result.user_name\"
    attributes: {{ local.approver_email: \"$.result.email\" }}",
                directory.server.url("/users")
            ),
        )
        .replace_once(
            "waits (reminder",
            "waits for @{local.approver_email} (reminder",
        );
    let t = setup(&def);

    let out = pass(&t, T0);
    out.assert_status(0);
    let lines = sent(&out.stdout);
    assert_eq!(who(&lines), [("a1".into(), 1, "alice".into())]);
    assert_eq!(
        lines[0]["text"],
        "Hi Alice Doe, RITM-a1 waits for alice.approver@example.com (reminder 1 of 3)."
    );
    assert_eq!(
        directory.asked("/users/6816f79cc0a8016401c5a33be04be441"),
        1
    );

    // 404: permanent. Nobody is told, and the attempt counts.
    assert_eq!(directory.asked("/users/gone-sys-id"), 1);
    let unresolved = events(&t, &["--event", "recipient.unresolved", "--record", "a2"]);
    assert_eq!(unresolved.len(), 1, "{unresolved:?}");
    assert!(detail(&unresolved[0]).contains("lookup"), "{unresolved:?}");
    assert!(detail(&unresolved[0]).contains("404"), "{unresolved:?}");
    assert!(explain(&t, "a2", T0).contains("attempts:  1 of 3"));

    // The directory hung up: transient. No attempt starts; the pass says
    // why and the next pass tries again.
    assert_eq!(directory.asked("/users/flaky-sys-id"), 1);
    let explained = explain(&t, "a3", T0);
    assert!(explained.contains("attempts:  0 of 3"), "{explained}");
    assert!(
        events(&t, &["--event", "attempt.started", "--record", "a3"]).is_empty(),
        "no attempt for a3"
    );
    let deferred = events(&t, &["--event", "notification.deferred", "--record", "a3"]);
    assert_eq!(deferred.len(), 1, "{deferred:?}");
    assert!(detail(&deferred[0]).contains("lookup"), "{deferred:?}");
    assert!(
        events(&t, &["--event", "recipient.unresolved", "--record", "a3"]).is_empty(),
        "a transient failure is not an unresolved recipient"
    );

    directory.flaky.store(false, Ordering::SeqCst);
    let out = pass(&t, "2026-01-05T09:10:00Z");
    out.assert_status(0);
    let lines = sent(&out.stdout);
    assert_eq!(who(&lines), [("a3".into(), 1, "bob".into())]);
    assert_eq!(
        lines[0]["text"],
        "Hi Bob Roe, RITM-a3 waits for bob.approver@example.com (reminder 1 of 3)."
    );
    assert_eq!(directory.asked("/users/flaky-sys-id"), 2);
}

// --- channels ---------------------------------------------------------------

#[test]
fn last_used_sends_on_the_users_last_channel_else_on_the_fallback() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "bob")]));
    let tenant = TENANT.replace_once(
        "email: alice@example.com }",
        "email: alice@example.com, last_channel: outbox }",
    );
    let def = definition(&source.url(), DAILY_3, "").replace_once(
        "  channel: console",
        "  channel: last_used\n  fallback_channel: console",
    );
    let t = Test::new();
    t.write("followups/tenant.yaml", &tenant);
    t.write("followups/approvals.yaml", &def);
    std::fs::create_dir(t.path("followups/out")).unwrap();

    let out = pass(&t, T0);
    let console = sent(&out.assert_status(0).stdout);
    assert_eq!(who(&console), [("a2".into(), 1, "bob".into())]);
    assert_eq!(console[0]["channel"], "console");
    let file = outbox(&t);
    assert_eq!(who(&file), [("a1".into(), 1, "alice".into())]);
    assert_eq!(file[0]["channel"], "outbox");
    assert_eq!(file[0]["delivery"], "approvals/a1/1/1/outbox/alice");
}

// --- budgets and bounds of a pass -------------------------------------------

fn five_records() -> Value {
    json!([
        approval("a1", "alice"),
        approval("a2", "bob"),
        approval("a3", "carol"),
        approval("a4", "alice"),
        approval("a5", "bob"),
    ])
}

const BUDGET_2: &str = "  every: 1d\n  attempts: 3\n  max_sends_per_pass: 2";

#[test]
fn max_sends_per_pass_sends_that_many_and_the_rest_wait_for_the_next_pass() {
    let source = Source::new(five_records());
    let t = setup(&definition(&source.url(), BUDGET_2, ""));

    let out = pass(&t, T0);
    let mut all = who(&sent(&out.assert_status(0).stdout));
    assert_eq!(all.len(), 2, "{}", out.stdout);
    let deferred = events(&t, &["--event", "notification.deferred"]);
    assert_eq!(deferred.len(), 1, "{deferred:?}");
    assert_eq!(
        detail(&deferred[0]),
        "`max_sends_per_pass` reached: 3 due records wait for the next pass"
    );

    let out = pass(&t, "2026-01-05T09:10:00Z");
    let next = who(&sent(&out.assert_status(0).stdout));
    assert_eq!(next.len(), 2, "{}", out.stdout);
    all.extend(next);
    let out = pass(&t, "2026-01-05T09:20:00Z");
    all.extend(who(&sent(&out.assert_status(0).stdout)));
    all.sort();
    assert_eq!(
        all,
        [
            ("a1".into(), 1, "alice".into()),
            ("a2".into(), 1, "bob".into()),
            ("a3".into(), 1, "carol".into()),
            ("a4".into(), 1, "alice".into()),
            ("a5".into(), 1, "bob".into()),
        ],
        "each record once"
    );
}

#[test]
fn retries_of_pending_deliveries_count_toward_max_sends_per_pass() {
    let source = Source::new(five_records());
    let t = setup(&on_outbox(definition(&source.url(), BUDGET_2, "")));
    pass(&t, T0).assert_status(0);
    assert_eq!(event_names(&t, &["--event", "attempt.started"]).len(), 2);

    // The two pending deliveries use this pass's budget: no attempt starts.
    std::fs::create_dir(t.path("followups/out")).unwrap();
    pass(&t, "2026-01-05T09:10:00Z").assert_status(0);
    assert_eq!(outbox(&t).len(), 2);
    assert_eq!(event_names(&t, &["--event", "attempt.started"]).len(), 2);
    let waits: Vec<Value> = events(&t, &["--event", "notification.deferred"])
        .into_iter()
        .filter(|e| detail(e).contains("max_sends_per_pass"))
        .collect();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert_eq!(
        detail(&waits[1]),
        "`max_sends_per_pass` reached: 3 due records wait for the next pass"
    );

    pass(&t, "2026-01-05T09:20:00Z").assert_status(0);
    assert_eq!(outbox(&t).len(), 4);
    assert_eq!(event_names(&t, &["--event", "attempt.started"]).len(), 4);
}

#[test]
fn max_duration_leaves_the_due_follow_ups_it_did_not_reach_and_exits_1() {
    let server = Server::start(|req| {
        let reply = Reply::json(200, json!({"result": [approval("a1", "alice")]}));
        match req.path.as_str() {
            "/c" => reply,
            _ => reply.delay(Duration::from_millis(1500)),
        }
    });
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    for id in ["a-slow", "b-slow", "c-idle"] {
        let path = format!("/{}", &id[..1]);
        t.write(
            &format!("followups/{id}.yaml"),
            &definition(&server.url(&path), DAILY_3, "")
                .replace_once("id: approvals", &format!("id: {id}"))
                .replace_once("name: Pending approvals", &format!("name: {id}")),
        );
    }
    let asked = |path: &str| server.requests().iter().filter(|r| r.path == path).count();
    // c-idle is polled now, so that it is not due in the pass below.
    t.cmd(&["run-once", "--only", "c-idle"])
        .now(T0)
        .run()
        .assert_status(0);

    let out = t
        .cmd(&["run-once", "--max-duration", "1s"])
        .now("2026-01-05T09:05:00Z")
        .run();
    out.assert_status(1);
    assert_eq!(asked("/a"), 1, "the first due follow-up was polled");
    assert_eq!(asked("/b"), 0, "the second was left");
    assert_eq!(asked("/c"), 1);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("--max-duration reached"))
        .unwrap_or_else(|| panic!("no `--max-duration reached` on stderr:\n{}", out.stderr));
    assert!(line.contains("b-slow"), "{line}");
    assert!(!line.contains("a-slow"), "{line}");
    assert!(
        !line.contains("c-idle"),
        "a follow-up not due is not left: {line}"
    );

    // The next pass polls what was left, and only that.
    t.cmd(&["run-once"])
        .now("2026-01-05T09:06:00Z")
        .run()
        .assert_status(0);
    assert_eq!((asked("/a"), asked("/b"), asked("/c")), (1, 1, 1));
}

// --- pruning ----------------------------------------------------------------

#[test]
fn retain_prunes_old_events_old_deliveries_and_long_resolved_records() {
    let source = Source::new(json!([
        approval("r1", "alice"),
        approval("o1", "bob"),
        approval("r2", "carol")
    ]));
    let def = definition(&source.url(), "  every: 5d\n  attempts: 10", "")
        .replace_once("resolve_after: 2", "resolve_after: 1");
    let t = setup(&def);
    pass(&t, T0).assert_status(0);
    // r1 resolves at once; r2 five weeks later.
    source.records(json!([approval("o1", "bob"), approval("r2", "carol")]));
    pass(&t, "2026-01-05T09:30:00Z").assert_status(0);
    pass(&t, "2026-02-09T09:00:00Z").assert_status(0);
    source.records(json!([approval("o1", "bob")]));
    pass(&t, "2026-02-09T09:30:00Z").assert_status(0);
    assert!(explain(&t, "o1", "2026-02-09T09:30:00Z").contains("cycle 1 attempt 1:"));

    // 30 days before 2026-02-13T09:00 is 2026-01-14T09:00.
    let cutoff = "2026-01-14T09:00:00Z";
    let before = events(&t, &[]);
    let at = |e: &Value| e["at"].as_str().unwrap().to_owned();
    let newer: Vec<Value> = before
        .iter()
        .filter(|e| at(e).as_str() >= cutoff)
        .cloned()
        .collect();
    assert!(before.len() > newer.len() && !newer.is_empty());

    t.cmd(&["run-once", "--retain", "30d"])
        .now("2026-02-13T09:00:00Z")
        .run()
        .assert_status(0);
    let after = events(&t, &[]);
    assert!(
        after.iter().all(|e| at(e).as_str() >= cutoff),
        "no event older than 30 days is left: {after:?}"
    );
    let kept: Vec<Value> = after
        .iter()
        .filter(|e| at(e).as_str() < "2026-02-13T09:00:00Z")
        .cloned()
        .collect();
    assert_eq!(kept, newer, "the newer events are all kept");

    // o1's first attempt closed 39 days ago: its deliveries are gone; the
    // second's stay, and the count of attempts is kept.
    let explained = explain(&t, "o1", "2026-02-13T09:00:00Z");
    assert!(!explained.contains("cycle 1 attempt 1:"), "{explained}");
    assert!(explained.contains("cycle 1 attempt 2:"), "{explained}");
    assert!(explained.contains("attempts:  2 of 10"), "{explained}");

    // r1, resolved 39 days ago, is forgotten: its return is cycle 1 again;
    // r2, resolved 4 days ago, is remembered: its return is cycle 2.
    source.records(json!([
        approval("o1", "bob"),
        approval("r1", "alice"),
        approval("r2", "carol")
    ]));
    let out = pass(&t, "2026-02-13T10:00:00Z");
    let deliveries: Vec<String> = sent(&out.assert_status(0).stdout)
        .iter()
        .map(|l| l["delivery"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        deliveries,
        [
            "approvals/r1/1/1/console/alice",
            "approvals/r2/2/1/console/carol"
        ]
    );
}

// --- resolution while an attempt waits ----------------------------------------

#[test]
fn a_record_resolved_while_a_delivery_is_pending_fails_it_and_runs_only_on_resolved() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let extra = format!(
        "{}on_resolved:\n  - integration:\n      request: {{ method: POST, url: \"{}\", body: {{ resolved: \"@{{followup.record_id}}\" }} }}\n",
        each_attempt_action(&source),
        source.server.url("/actions/resolved")
    );
    let def = on_outbox(definition(&source.url(), DAILY_3, &extra))
        .replace_once("resolve_after: 2", "resolve_after: 1");
    let t = setup(&def);
    pass(&t, T0).assert_status(0);
    assert_eq!(
        event_names(&t, &["--event", "notification.deferred"]).len(),
        1
    );

    source.records(json!([]));
    pass(&t, "2026-01-05T09:30:00Z").assert_status(0);
    assert_eq!(
        event_names(&t, &["--event", "record.resolved"]),
        ["record.resolved"]
    );
    let failed = events(&t, &["--event", "notification.failed"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(detail(&failed[0]), "the record is no longer open");
    assert_eq!(event_names(&t, &["--event", "attempt.closed"]).len(), 1);
    assert_eq!(source.actions(), [json!({"resolved": "a1"})]);

    // Later passes change nothing.
    pass(&t, "2026-01-06T09:30:00Z").assert_status(0);
    assert_eq!(source.actions(), [json!({"resolved": "a1"})]);
    assert_eq!(event_names(&t, &["--event", "attempt"]).len(), 2);
}

// --- --only -------------------------------------------------------------------

#[test]
fn only_naming_an_inactive_follow_up_runs_nothing_and_says_it_is_inactive() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let def = definition(&source.url(), DAILY_3, "").replace_once(
        "name: Pending approvals\n",
        "name: Pending approvals\nstatus: inactive\n",
    );
    let t = setup(&def);
    let out = t.cmd(&["run-once", "--only", "approvals"]).now(T0).run();
    out.assert_status(0).assert_stdout("");
    assert!(
        out.stderr.contains("inactive"),
        "stderr does not say the follow-up is inactive:\n{}",
        out.stderr
    );
    assert!(source.server.requests().is_empty(), "nothing was polled");
}

// --- secrets ------------------------------------------------------------------

#[test]
fn a_secret_is_sent_where_it_belongs_and_appears_nowhere_else() {
    const TOKEN: &str = "s3cr3t-t0ken-value";
    // The source and the action endpoint refuse the token and quote it
    // back, as some services do.
    let server = Server::start(|req| {
        if req.path == "/ok" {
            return Reply::json(200, json!({"result": [approval("a1", "alice")]}));
        }
        Reply::json(
            401,
            json!({
                "error": "invalid token",
                "key": req.query("key"),
                "authorization": req.header("Authorization"),
            }),
        )
    });
    let secret_request = |url: &str, method: &str| {
        format!(
            "method: {method}
        url: \"{url}\"
        headers: {{ Authorization: \"Bearer @{{env.API_TOKEN}}\" }}
        query: {{ key: \"@{{env.API_TOKEN}}\" }}"
        )
    };
    // The shared definition's own `query` gives way to the secret one.
    let without_query = |def: String| {
        def.replace_once(
            "        query: { sysparm_query: \"state=requested\" }\n",
            "",
        )
    };
    let leaky_poll = without_query(definition(&server.url("/poll"), DAILY_3, ""))
        .replace_once("id: approvals", "id: leaky-poll")
        .replace_once("name: Pending approvals", "name: Leaky poll")
        .replace_once(
            &format!("url: \"{}\"", server.url("/poll")),
            &secret_request(&server.url("/poll"), "GET"),
        );
    let leaky_action = without_query(definition(
        &server.url("/ok"),
        DAILY_3,
        &format!(
            "after_each_attempt:\n  - integration:\n      request:\n        {}\n",
            secret_request(&server.url("/actions/note"), "POST")
        ),
    ))
    .replace_once("id: approvals", "id: leaky-action")
    .replace_once("name: Pending approvals", "name: Leaky action");
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    t.write("followups/leaky-poll.yaml", &leaky_poll);
    t.write("followups/leaky-action.yaml", &leaky_action);

    let run = t.cmd(&["run-once"]).now(T0).env("API_TOKEN", TOKEN).run();
    run.assert_status(1);
    // The token was sent, to the source and to the action's endpoint.
    for path in ["/poll", "/actions/note"] {
        let req = server
            .requests()
            .into_iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("no request to {path}"));
        assert_eq!(req.query("key"), Some(TOKEN), "{path}");
        assert_eq!(
            req.header("Authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{path}"
        );
    }
    // Both failures are reported, without the token.
    assert!(run.stderr.contains("401"), "{}", run.stderr);
    assert_eq!(
        event_names(&t, &["--event", "action.failed"]),
        ["action.failed"]
    );
    assert_eq!(
        event_names(&t, &["--event", "poll.failed"]),
        ["poll.failed"]
    );

    let mut seen = vec![
        ("run-once stdout", run.stdout.clone()),
        ("run-once stderr", run.stderr.clone()),
    ];
    for args in [
        &["history", "--format", "json"][..],
        &["status", "--format", "json"],
        &["explain", "leaky-action", "a1"],
    ] {
        let out = t.cmd(args).now(T0).env("API_TOKEN", TOKEN).run();
        out.assert_status(0);
        seen.push((args[0], format!("{}{}", out.stdout, out.stderr)));
    }
    for (what, text) in &seen {
        assert!(!text.contains(TOKEN), "the token is in {what}:\n{text}");
    }
    for file in ["followup.db", "followup.db-wal"] {
        let Ok(bytes) = std::fs::read(t.path(file)) else {
            continue;
        };
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token is in {file}"
        );
    }
}

// --- a crash after a delivery went out ------------------------------------------

#[test]
fn a_pass_killed_after_a_delivery_went_out_does_not_send_it_again() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "bob")]));
    let tenant = TENANT
        .replace_once(
            "email: alice@example.com }",
            "email: alice@example.com, last_channel: console }",
        )
        .replace_once(
            "email: bob@example.com }",
            "email: bob@example.com, last_channel: outbox }",
        );
    let def = definition(&source.url(), DAILY_3, "").replace_once(
        "  channel: console",
        "  channel: last_used\n  fallback_channel: console",
    );
    let t = Test::new();
    t.write("followups/tenant.yaml", &tenant);
    t.write("followups/approvals.yaml", &def);
    std::fs::create_dir(t.path("followups/out")).unwrap();
    let fifo = t.path("followups/out/outbox.jsonl");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());

    // The pass tells alice on the console, then blocks on the FIFO for bob.
    let mut blocked = t.cmd(&["run-once"]).now(T0).spawn();
    let started = std::time::Instant::now();
    loop {
        let out = t.run(&[
            "history",
            "--event",
            "notification.sent",
            "--format",
            "json",
        ]);
        if out.status == Some(0) && out.stdout.contains("\"alice\"") {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "the pass never told alice: {}",
            out.stderr
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    blocked.kill().expect("SIGKILL the blocked pass");
    blocked.wait().unwrap();

    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = pass(&t, "2026-01-05T09:05:00Z");
    out.assert_status(0);
    assert_eq!(out.stdout, "", "alice is not told again");
    let written = reader.join().unwrap();
    assert_eq!(who(&sent(&written)), [("a2".into(), 1, "bob".into())]);
    assert_eq!(event_names(&t, &["--event", "attempt.started"]).len(), 2);
    let told: Vec<String> = events(&t, &["--event", "notification.sent"])
        .iter()
        .map(|e| e["recipient"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(told, ["alice", "bob"]);
}

// --- regressions ----------------------------------------------------------------

#[test]
fn an_earlier_integration_that_paginates_forever_is_read_for_its_first_page_only() {
    let server = Server::start(|req| {
        if req.path == "/people" {
            let page: u32 = req.query("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            return Reply::json(
                200,
                json!({"region": format!("page-{page}"), "next": format!("/people?page={}", page + 1)}),
            );
        }
        Reply::json(200, json!({"result": [approval("a1", "alice")]}))
    });
    let def = definition(&server.url("/items"), DAILY_3, "")
        .replace_once(
            "  integrations:\n",
            &format!(
                "  integrations:
    - id: people
      request:
        url: \"{}\"
      paginate: {{ type: next_url, path: \"$.next\", max_pages: 5 }}
      attributes:
        local.region: \"$.region\"
",
                server.url("/people")
            ),
        )
        .replace_once("waits (reminder", "waits in @{local.region} (reminder");
    let t = setup(&def);
    let out = pass(&t, T0);
    let lines = sent(&out.assert_status(0).stdout);
    assert_eq!(
        lines[0]["text"],
        "Hi Alice Doe, RITM-a1 waits in page-1 (reminder 1 of 3)."
    );
    let people = server
        .requests()
        .iter()
        .filter(|r| r.path == "/people")
        .count();
    assert_eq!(people, 1);
}

/// A huge duration is accepted or refused as bad usage, never a panic.
#[track_caller]
fn assert_handled(out: &Output) {
    assert!(
        matches!(out.status, Some(0) | Some(2)) && !out.panicked(),
        "`followup {}` exited with {:?}\n--- stderr ---\n{}",
        out.args.join(" "),
        out.status,
        out.stderr
    );
    if out.status == Some(2) {
        assert!(!out.stderr.is_empty(), "bad usage says why");
    }
}

#[test]
fn a_huge_max_duration_is_taken_or_refused_without_a_panic() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    let out = t
        .cmd(&["run-once", "--max-duration", "400000000000y"])
        .now(T0)
        .run();
    assert_handled(&out);
}

#[test]
fn a_huge_retain_is_taken_or_refused_and_deletes_nothing() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    pass(&t, T0).assert_status(0);
    let before = events(&t, &[]);
    assert!(!before.is_empty());
    for (retain, now) in [
        ("400000000000y", "2026-01-05T11:00:00Z"),
        ("1000y", "2026-01-05T12:00:00Z"),
    ] {
        let out = t.cmd(&["run-once", "--retain", retain]).now(now).run();
        assert_handled(&out);
        let after = events(&t, &[]);
        assert!(
            after.len() >= before.len() && after[..before.len()] == before[..],
            "--retain {retain} deleted events: {} before, {} after\n{}",
            before.len(),
            after.len(),
            out.stderr
        );
    }
}

#[test]
fn reset_of_an_unknown_follow_up_in_a_fresh_directory_creates_no_file() {
    let source = Source::new(json!([]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    let out = t.run(&["reset", "nosuch"]);
    out.assert_status(2);
    assert!(out.stderr.contains("nosuch"), "{}", out.stderr);
    for file in [
        "followup.db",
        "followup.db.lock",
        "followup.db-wal",
        "followup.db-shm",
    ] {
        assert!(!t.exists(file), "{file} was created");
    }
}

#[test]
fn an_oauth2_token_that_never_expires_is_used_without_a_panic() {
    let server = Server::start(|req| {
        if req.path == "/token" {
            return Reply::json(
                200,
                json!({"access_token": "tok-123", "token_type": "Bearer", "expires_in": u64::MAX}),
            );
        }
        Reply::json(200, json!({"result": [approval("a1", "alice")]}))
    });
    let def = definition(&server.url("/items"), DAILY_3, "").replace_once(
        &format!("url: \"{}\"", server.url("/items")),
        &format!(
            "url: \"{}\"
        auth: {{ type: oauth2_client_credentials, token_url: \"{}\", client_id: followup, client_secret: \"@{{env.CLIENT_SECRET}}\" }}",
            server.url("/items"),
            server.url("/token")
        ),
    );
    let t = setup(&def);
    let out = t
        .cmd(&["run-once"])
        .now(T0)
        .env("CLIENT_SECRET", "shh")
        .run();
    let lines = sent(&out.assert_status(0).stdout);
    assert_eq!(who(&lines), [("a1".into(), 1, "alice".into())]);
    let items = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/items")
        .expect("the source was polled");
    assert_eq!(items.header("Authorization"), Some("Bearer tok-123"));
}

// --- dry run --------------------------------------------------------------------

#[test]
fn a_dry_run_reports_a_channel_that_cannot_open_as_the_real_pass_does() {
    // TEAMS_WEBHOOK_URL is not set: the channel's setting cannot be rendered.
    const CANNOT_OPEN: &str = "channel `teams`: `webhook_url` cannot be rendered";
    let source = Source::new(json!([approval("a1", "alice")]));
    let tenant = TENANT.replace_once(
        "  console: { type: console }",
        "  console: { type: console }\n  teams: { type: teams, webhook_url: \"@{env.TEAMS_WEBHOOK_URL}\" }",
    );
    let def =
        definition(&source.url(), DAILY_3, "").replace_once("channel: console", "channel: teams");
    let t = Test::new();
    t.write("followups/tenant.yaml", &tenant);
    t.write("followups/approvals.yaml", &def);

    let dry = t.cmd(&["run-once", "--dry-run"]).now(T0).run();
    dry.assert_status(0).assert_stdout("");
    assert!(
        dry.stderr.contains(CANNOT_OPEN) && dry.stderr.contains("0 would send, 1 failed"),
        "the dry run does not say the delivery fails\n{}",
        dry.stderr
    );
    assert!(!t.exists("followup.db"));

    t.cmd(&["run-once"])
        .now(T0)
        .run()
        .assert_status(0)
        .assert_stdout("");
    let failed = events(&t, &["--event", "notification.failed"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        detail(&failed[0]).starts_with(CANNOT_OPEN),
        "{}",
        detail(&failed[0])
    );
}
