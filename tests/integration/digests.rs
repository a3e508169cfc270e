//! Digests (`message.digest`): the records due for one target in one pass
//! on one channel go out as one message, while attempts, events, actions
//! and `explain` still count per record.

use serde_json::{Value, json};

use crate::support::pass::{Source, T0, approval, definition, events, pass, sent};
use crate::support::server::{Reply, Server};
use crate::support::{Test, replace_once};

const TENANT: &str = "\
tenant: acme-test
channels:
  console: { type: console }
  hook: { type: webhook, url: \"@{env.HOOK_URL}\" }
  teams: { type: teams, webhook_url: \"@{env.TEAMS_URL}\" }
users:
  - { id: alice, name: Alice Doe, email: alice@example.com }
  - { id: bob, name: Bob Roe, email: bob@example.com }
";

const DIGEST: &str = "  digest: { title: \"@{recipient.name}: @{digest.count} approvals wait\", line: \"@{followup.data.number} (reminder @{followup.attempt})\" }\n";

/// A follow-up over `source` with a digest, on `channel`, whose
/// `after_each_attempt` tells the source each record's attempt.
fn setup(source: &Source, channel: &str) -> Test {
    let actions = source.server.url("/actions/noted");
    let text = definition(
        &source.url(),
        "  every: 1d\n  attempts: 3",
        &format!(
            "after_each_attempt:\n  - integration:\n      request:\n        method: POST\n        url: \"{actions}\"\n        body: {{ record: \"@{{followup.record_id}}\", attempt: \"@{{followup.attempt}}\" }}\n"
        ),
    );
    let text = replace_once(&text, "schedule:\n", &format!("{DIGEST}schedule:\n"));
    let text = replace_once(
        &text,
        "  channel: console\n",
        &format!("  channel: {channel}\n"),
    );
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    t.write("followups/approvals.yaml", &text);
    t
}

fn lines_of(line: &Value) -> Vec<String> {
    line["digest"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn three_records_due_for_one_person_are_one_message_and_the_next_attempt_lists_one_more() {
    let source = Source::new(json!([
        approval("r2", "alice"),
        approval("r1", "alice"),
        approval("r3", "alice"),
        approval("b1", "bob"),
    ]));
    let t = setup(&source, "console");
    let out = pass(&t, T0);
    let sent1 = sent(&out.assert_status(0).stdout);
    assert_eq!(sent1.len(), 2, "one message per person: {sent1:#?}");
    let alice = sent1
        .iter()
        .find(|l| l["recipient"]["id"] == "alice")
        .unwrap();
    assert_eq!(alice["digest"]["title"], "Alice Doe: 3 approvals wait");
    assert_eq!(
        lines_of(alice),
        [
            "RITM-r1 (reminder 1)",
            "RITM-r2 (reminder 1)",
            "RITM-r3 (reminder 1)"
        ]
    );
    assert_eq!(
        alice["text"],
        "Alice Doe: 3 approvals wait\nRITM-r1 (reminder 1)\nRITM-r2 (reminder 1)\nRITM-r3 (reminder 1)"
    );
    // Per record: four attempts, four deliveries sent, four actions.
    assert_eq!(events(&t, &["--event", "attempt.started"]).len(), 4);
    assert_eq!(events(&t, &["--event", "notification.sent"]).len(), 4);
    assert_eq!(source.actions().len(), 4, "{:?}", source.actions());

    // A day later a new record is due too: it comes last (the newest),
    // whatever its id.
    source.records(json!([
        approval("r2", "alice"),
        approval("r1", "alice"),
        approval("r3", "alice"),
        approval("b1", "bob"),
        approval("r0", "alice"),
    ]));
    let out = pass(&t, "2026-01-06T09:00:00Z");
    let sent2 = sent(&out.assert_status(0).stdout);
    assert_eq!(sent2.len(), 2, "{sent2:#?}");
    let alice = sent2
        .iter()
        .find(|l| l["recipient"]["id"] == "alice")
        .unwrap();
    assert_eq!(alice["digest"]["title"], "Alice Doe: 4 approvals wait");
    assert_eq!(
        lines_of(alice),
        [
            "RITM-r1 (reminder 2)",
            "RITM-r2 (reminder 2)",
            "RITM-r3 (reminder 2)",
            "RITM-r0 (reminder 1)"
        ]
    );

    let explain = |record: &str| {
        let out = t
            .cmd(&["explain", "approvals", record])
            .now("2026-01-06T09:00:00Z")
            .run();
        out.assert_status(0);
        out.stdout.clone()
    };
    let r1 = explain("r1");
    assert!(r1.contains("attempts:  2 of 3"), "{r1}");
    assert!(
        r1.contains(
            "cycle 1 attempt 1: approvals/r1/1/1/console/alice to alice on console: delivered"
        ),
        "{r1}"
    );
    assert!(
        r1.contains(
            "cycle 1 attempt 2: approvals/r1/1/2/console/alice to alice on console: delivered"
        ),
        "{r1}"
    );
    assert!(explain("r0").contains("attempts:  1 of 3"));
}

#[test]
fn a_failed_digest_fails_each_of_its_records_deliveries() {
    let source = Source::new(json!([
        approval("r1", "alice"),
        approval("r2", "alice"),
        approval("r3", "alice"),
    ]));
    let t = setup(&source, "hook");
    let hook = Server::start(|_| Reply::text(400, "bad request"));
    t.cmd(&["run-once"])
        .now(T0)
        .env("HOOK_URL", hook.url("/notify"))
        .run()
        .assert_status(0);
    let requests = hook.requests();
    assert_eq!(requests.len(), 1, "one digest");
    let body = requests[0].json();
    assert_eq!(body["digest"]["records"].as_array().unwrap().len(), 3);
    let failed = events(&t, &["--event", "notification.failed"]);
    let records: Vec<&str> = failed
        .iter()
        .map(|e| e["record"].as_str().unwrap())
        .collect();
    assert_eq!(records, ["r1", "r2", "r3"], "{failed:#?}");
    assert!(
        failed
            .iter()
            .all(|e| e["detail"].as_str().unwrap().contains("HTTP 400"))
    );
    let closed = events(&t, &["--event", "attempt.closed"]);
    assert_eq!(closed.len(), 3);
    assert!(closed.iter().all(|e| e["detail"] == "0 of 1 delivered"));
}

#[test]
fn a_transient_digest_is_retried_whole_by_the_next_pass_with_nothing_else_repeated() {
    let source = Source::new(json!([approval("r1", "alice"), approval("r2", "alice")]));
    let t = setup(&source, "hook");
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    let hook =
        Server::start(
            move |_| match seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0 => Reply::status(503),
                _ => Reply::status(200),
            },
        );
    let run = |now: &str| {
        t.cmd(&["run-once"])
            .now(now)
            .env("HOOK_URL", hook.url("/notify"))
            .run()
            .assert_status(0);
    };
    run(T0);
    assert_eq!(events(&t, &["--event", "notification.deferred"]).len(), 2);
    run("2026-01-05T09:30:00Z");
    let requests = hook.requests();
    assert_eq!(requests.len(), 2);
    // The same digest, under the same delivery id (Idempotency-Key).
    assert_eq!(
        requests[0].header("idempotency-key"),
        requests[1].header("idempotency-key")
    );
    assert_eq!(events(&t, &["--event", "notification.sent"]).len(), 2);
    assert_eq!(
        source.actions().len(),
        2,
        "after_each_attempt once per record"
    );
}

#[test]
fn fifty_lines_at_most_then_and_n_more_and_teams_gets_one_factset() {
    let records: Vec<Value> = (1..=53)
        .map(|i| approval(&format!("r{i:02}"), "alice"))
        .collect();
    let source = Source::new(json!(records));
    let t = setup(&source, "teams");
    let teams = Server::start(|_| Reply::status(202));
    t.cmd(&["run-once"])
        .now(T0)
        .env("TEAMS_URL", teams.url("/workflows/w1"))
        .run()
        .assert_status(0);
    let requests = teams.requests();
    assert_eq!(requests.len(), 1, "a room: one digest for every record");
    let card = &requests[0].json()["attachments"][0]["content"];
    let body = card["body"].as_array().unwrap();
    assert_eq!(body[0]["text"], "Alice Doe: 53 approvals wait");
    let factsets: Vec<&Value> = body.iter().filter(|b| b["type"] == "FactSet").collect();
    assert_eq!(factsets.len(), 1);
    let facts = factsets[0]["facts"].as_array().unwrap();
    assert_eq!(facts.len(), 50);
    assert_eq!(facts[0]["value"], "RITM-r01 (reminder 1)");
    assert!(
        body.iter().any(|b| b["text"] == "… and 3 more"),
        "{body:#?}"
    );
    assert_eq!(events(&t, &["--event", "notification.sent"]).len(), 53);
}

#[test]
fn preview_shows_a_digest_once_under_its_first_record() {
    let source = Source::new(json!([approval("r1", "alice"), approval("r2", "alice")]));
    let t = setup(&source, "console");
    let out = t.cmd(&["preview", "approvals"]).now(T0).run();
    out.assert_status(0);
    let text = &out.stdout;
    let r1 = text.find("\nrecord r1:").expect(text);
    let r2 = text.find("\nrecord r2:").expect(text);
    let (first, second) = (&text[r1..r2], &text[r2..]);
    assert!(first.contains("to alice on console:"), "{text}");
    assert!(
        first.contains(r#""title":"Alice Doe: 2 approvals wait""#),
        "{text}"
    );
    assert!(
        second.contains("in the digest to alice on console, shown under record r1"),
        "{text}"
    );
    assert!(!second.contains("to alice on console:"), "{text}");
}

#[test]
fn a_record_whose_line_cannot_be_rendered_fails_alone_and_the_title_counts_the_rest() {
    let titled = |id: &str| {
        let mut r = approval(id, "alice");
        r["title"] = json!(format!("title {id}"));
        r
    };
    // r2 has no title: its own message renders, its digest line cannot.
    let source = Source::new(json!([titled("r1"), approval("r2", "alice"), titled("r3")]));
    let t = setup(&source, "console");
    let text = t.read("followups/approvals.yaml");
    t.write(
        "followups/approvals.yaml",
        &replace_once(
            &text,
            "line: \"@{followup.data.number} (",
            "line: \"@{followup.data.title} (",
        ),
    );
    let out = pass(&t, T0);
    let lines = sent(&out.assert_status(0).stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["digest"]["title"], "Alice Doe: 2 approvals wait");
    assert_eq!(
        lines_of(&lines[0]),
        ["title r1 (reminder 1)", "title r3 (reminder 1)"]
    );
    let failed = events(&t, &["--event", "notification.failed"]);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["record"], "r2");
    let detail = failed[0]["detail"].as_str().unwrap();
    assert!(detail.starts_with("digest line: "), "{detail}");
    assert!(detail.contains("followup.data.title"), "{detail}");
}

#[test]
fn a_killed_pass_repeats_at_most_the_digests_in_flight() {
    const CONCURRENCY: usize = 4;
    const KILLS: usize = 6;
    // 100 people with 3 records each: 100 digests.
    let records: Vec<Value> = (0..300)
        .map(|i| approval(&format!("r{i:03}"), &format!("u{:02}", i % 100)))
        .collect();
    let source = Source::new(json!(records));
    let t = setup(&source, "hook");
    let people: String = (0..100)
        .map(|i| format!("  - {{ id: u{i:02}, name: User {i} }}\n"))
        .collect();
    t.write("followups/tenant.yaml", &format!("{TENANT}{people}"));
    let count = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    let seen = count.clone();
    let hook = Server::start(move |_| {
        *seen.lock().unwrap() += 1;
        Reply::status(200).delay(std::time::Duration::from_millis(3))
    });
    let run = || {
        t.cmd(&["run-once", "--concurrency", &CONCURRENCY.to_string()])
            .now(T0)
            .env("HOOK_URL", hook.url("/notify"))
    };
    let mut mid_pass = 0;
    for _ in 0..KILLS {
        let before = *count.lock().unwrap();
        let mut child = run().spawn();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while *count.lock().unwrap() < before + 5
            && child.try_wait().unwrap().is_none()
            && std::time::Instant::now() < until
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if child.try_wait().unwrap().is_none() {
            mid_pass += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        mid_pass >= KILLS / 2,
        "only {mid_pass} kills hit a running pass"
    );
    run().run().assert_status(0);

    // Every record reached its person once at least; repeats are bounded.
    let mut per_record: std::collections::HashMap<String, usize> = Default::default();
    let requests = hook.requests();
    for r in &requests {
        for member in r.json()["digest"]["records"].as_array().unwrap() {
            *per_record
                .entry(member["record"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(per_record.len(), 300, "every record was in a digest");
    let digests: std::collections::HashSet<&str> = requests
        .iter()
        .filter_map(|r| r.header("idempotency-key"))
        .collect();
    let repeats = requests.len() - digests.len();
    eprintln!(
        "{mid_pass} kills: {} digests sent, {repeats} repeated",
        requests.len()
    );
    assert!(
        repeats <= mid_pass * CONCURRENCY,
        "{repeats} repeated digests after {mid_pass} kills with {CONCURRENCY} senders"
    );
    // Counted by record too, in case a repeat listed other records.
    let record_repeats: usize = per_record.values().map(|n| n - 1).sum();
    assert!(
        record_repeats <= mid_pass * CONCURRENCY * 3,
        "{record_repeats} records told again after {mid_pass} kills"
    );
    assert_eq!(events(&t, &["--event", "notification.sent"]).len(), 300);
}
