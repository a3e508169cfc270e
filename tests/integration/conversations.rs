//! Conversations: the attempts of one record's cycle on one channel and
//! target form one conversation. Slack's Web API threads later attempts
//! on attempt 1's `ts` and edits that first message when the record is
//! resolved or exhausted; e-mail and Google Chat thread; `thread: false`
//! turns it all off. Each against a local server of the service's shape.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::support::pass::{Source, T0, approval, definition, events};
use crate::support::server::{Received, Reply, Server};
use crate::support::smtp::SmtpSink;
use crate::support::{Test, replace_once};

const TENANT: &str = r#"tenant: acme-test
channels:
  slackbot: { type: slack, bot_token: "@{env.SLACK_TOKEN}", api_url: "@{env.SLACK_API}" }
  gchat: { type: google_chat, webhook_url: "@{env.GCHAT_URL}" }
  email: { type: email, smtp_url: "@{env.SMTP_URL}", from: "Service Desk <desk@acme.test>" }
users:
  - { id: alice, name: Alice Doe, email: alice@acme.test, slack: U0ALICE }
"#;

/// The passes of a record's life: attempts 1 and 2, then two polls
/// without it (`resolve_after: 2`): resolved at the second.
const DAY1: &str = "2026-01-06T09:00:00Z";
const GONE1: &str = "2026-01-06T09:40:00Z";
const GONE2: &str = "2026-01-06T10:20:00Z";

/// A local Slack Web API: `chat.postMessage` answers in the DM `D0ALICE`
/// with a new `ts` each time; `chat.update` answers with `update`.
fn slack_api(update: Value) -> Server {
    let posts = AtomicUsize::new(0);
    Server::start(move |req| match req.path.as_str() {
        "/api/chat.postMessage" => {
            let n = posts.fetch_add(1, Ordering::SeqCst) + 1;
            Reply::json(
                200,
                json!({"ok": true, "channel": "D0ALICE", "ts": format!("1767600000.00000{n}")}),
            )
        }
        "/api/chat.update" => Reply::json(200, update.clone()),
        _ => Reply::json(200, json!({"ok": false, "error": "unknown_method"})),
    })
}

struct Setup {
    t: Test,
    source: Source,
    server: Server,
    smtp: SmtpSink,
}

/// One record for Alice on `channel`, with `conversation` (YAML) under
/// `message` when given.
fn setup(channel: &str, conversation: &str, server: Server) -> Setup {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    let text = definition(&source.url(), "  every: 1d\n  attempts: 3", "");
    let message = format!("  channel: {channel}\n{conversation}");
    t.write(
        "followups/approvals.yaml",
        &replace_once(&text, "  channel: console\n", &message),
    );
    let smtp = SmtpSink::start();
    Setup {
        t,
        source,
        server,
        smtp,
    }
}

impl Setup {
    fn pass(&self, now: &str) {
        self.t
            .cmd(&["run-once"])
            .now(now)
            .env("SLACK_TOKEN", "xoxb-test-5ecret")
            .env("SLACK_API", self.server.url("/api"))
            .env("GCHAT_URL", self.server.url("/v1/spaces/S1/messages"))
            .env("SMTP_URL", format!("smtp://127.0.0.1:{}", self.smtp.port()))
            .run()
            .assert_status(0);
    }

    /// Attempts 1 and 2, then the record leaves the poll and is resolved.
    fn attempt_twice_then_resolve(&self) {
        self.pass(T0);
        self.pass(DAY1);
        self.source.records(json!([]));
        self.pass(GONE1);
        self.pass(GONE2);
    }

    fn calls(&self, method: &str) -> Vec<Received> {
        let path = format!("/api/{method}");
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    fn explain(&self) -> String {
        let out = self.t.run(&["explain", "approvals", "a1"]);
        out.assert_status(0);
        out.stdout.clone()
    }
}

#[test]
fn slack_attempt_2_replies_in_attempt_1s_thread_and_the_resolution_edits_attempt_1() {
    let s = setup("slackbot", "", slack_api(json!({"ok": true})));
    s.pass(T0);
    s.pass(DAY1);
    let posts = s.calls("chat.postMessage");
    assert_eq!(posts.len(), 2, "{posts:#?}");
    let (first, second) = (posts[0].json(), posts[1].json());
    assert_eq!(first["channel"], "U0ALICE", "attempt 1 opens the DM");
    assert!(first.get("thread_ts").is_none(), "{first}");
    // The reply names the DM's channel, as Slack answered it.
    assert_eq!(second["channel"], "D0ALICE");
    assert_eq!(second["thread_ts"], "1767600000.000001");
    assert_eq!(second["reply_broadcast"], false);
    assert!(
        s.explain().contains(
            r#"cycle 1 on slackbot to alice: first message approvals/a1/1/1/slackbot/alice {"channel":"D0ALICE","ts":"1767600000.000001"}, open"#
        ),
        "{}",
        s.explain()
    );

    s.source.records(json!([]));
    s.pass(GONE1);
    assert!(s.calls("chat.update").is_empty(), "not resolved yet");
    s.pass(GONE2);
    let updates = s.calls("chat.update");
    assert_eq!(updates.len(), 1, "{updates:#?}");
    let edit = updates[0].json();
    assert_eq!(edit["channel"], "D0ALICE");
    assert_eq!(edit["ts"], "1767600000.000001");
    let text = edit["text"].as_str().unwrap();
    assert!(text.starts_with("Resolved"), "{text}");
    assert!(text.contains("RITM-a1"), "the message as it was: {text}");
    let blocks = edit["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["text"]["text"], "*Resolved*");
    assert!(blocks.iter().all(|b| b["type"] != "actions"), "{blocks:#?}");
    let updated = events(&s.t, &["--event", "conversation.updated"]);
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert!(
        s.explain().contains("resolved at 2026-01-06T10:20:00Z"),
        "{}",
        s.explain()
    );

    // Nothing more is edited in later passes.
    s.pass("2026-01-07T09:00:00Z");
    assert_eq!(s.calls("chat.update").len(), 1);
    assert_eq!(s.calls("chat.postMessage").len(), 2);
}

#[test]
fn slack_with_thread_false_neither_threads_nor_edits() {
    let s = setup(
        "slackbot",
        "  conversation: { thread: false }\n",
        slack_api(json!({"ok": true})),
    );
    s.attempt_twice_then_resolve();
    let posts = s.calls("chat.postMessage");
    assert_eq!(posts.len(), 2, "{posts:#?}");
    for p in &posts {
        let body = p.json();
        assert_eq!(body["channel"], "U0ALICE");
        assert!(body.get("thread_ts").is_none(), "{body}");
    }
    assert!(s.calls("chat.update").is_empty());
    assert!(!s.explain().contains("conversations:"), "{}", s.explain());
}

#[test]
fn slack_with_update_on_resolved_false_threads_but_leaves_the_first_message() {
    let s = setup(
        "slackbot",
        "  conversation: { update_on_resolved: false }\n",
        slack_api(json!({"ok": true})),
    );
    s.attempt_twice_then_resolve();
    let posts = s.calls("chat.postMessage");
    assert_eq!(posts[1].json()["thread_ts"], "1767600000.000001");
    assert!(s.calls("chat.update").is_empty());
    assert!(
        s.explain().contains("update_on_resolved: false"),
        "{}",
        s.explain()
    );
}

#[test]
fn a_failed_edit_is_one_event_and_never_tried_again() {
    let s = setup(
        "slackbot",
        "",
        slack_api(json!({"ok": false, "error": "cant_update_message"})),
    );
    s.attempt_twice_then_resolve();
    s.pass("2026-01-06T11:00:00Z");
    s.pass("2026-01-07T09:00:00Z");
    assert_eq!(s.calls("chat.update").len(), 1);
    let failed = events(&s.t, &["--event", "conversation.update_failed"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    let detail = failed[0]["detail"].as_str().unwrap();
    assert!(detail.contains("cant_update_message"), "{detail}");
}

#[test]
fn exhaustion_edits_the_first_message_to_say_it_is_no_longer_followed_up() {
    let s = setup("slackbot", "", slack_api(json!({"ok": true})));
    let text = s.t.read("followups/approvals.yaml");
    s.t.write(
        "followups/approvals.yaml",
        &replace_once(&text, "attempts: 3", "attempts: 2"),
    );
    s.pass(T0);
    s.pass(DAY1);
    // A day after the last attempt, the record is exhausted.
    s.pass("2026-01-07T09:00:00Z");
    let updates = s.calls("chat.update");
    assert_eq!(updates.len(), 1, "{updates:#?}");
    let text = updates[0].json()["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("No longer followed up"), "{text}");
}

#[test]
fn google_chat_with_thread_false_sends_no_thread_key() {
    let s = setup(
        "gchat",
        "  conversation: { thread: false }\n",
        Server::start(|_| Reply::json(200, json!({"name": "spaces/S1/messages/m1"}))),
    );
    s.pass(T0);
    s.pass(DAY1);
    let requests = s.server.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert!(r.json().get("thread").is_none(), "{}", r.text());
        assert_eq!(r.query("messageReplyOption"), None);
    }
}

#[test]
fn email_threads_on_the_first_message_and_a_resolution_sends_no_mail() {
    let s = setup("email", "", Server::start(|_| Reply::status(500)));
    s.attempt_twice_then_resolve();
    let mails = s.smtp.mails();
    assert_eq!(mails.len(), 2, "nothing on resolution: {mails:#?}");
    let id = mails[0].header("Message-ID").unwrap();
    assert_eq!(mails[1].header("In-Reply-To"), Some(id.clone()));
    assert_ne!(mails[1].header("Message-ID"), Some(id.clone()));
    assert!(
        s.explain().contains(&format!(r#"{{"message_id":"{id}"}}"#)),
        "{}",
        s.explain()
    );
}

#[test]
fn email_with_thread_false_sends_separate_mails() {
    let s = setup(
        "email",
        "  conversation: { thread: false }\n",
        Server::start(|_| Reply::status(500)),
    );
    s.pass(T0);
    s.pass(DAY1);
    let mails = s.smtp.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].header("In-Reply-To"), None);
    let subject = mails[1].header("Subject").unwrap();
    assert!(!subject.starts_with("Re:"), "{subject}");
}

#[test]
fn a_database_from_before_conversations_upgrades_and_threads() {
    let s = setup("slackbot", "", slack_api(json!({"ok": true})));
    s.pass(T0);
    // Make it the schema of the previous version: no conversations table.
    {
        let db = rusqlite::Connection::open(s.t.path("followup.db")).unwrap();
        db.execute_batch("DROP TABLE conversations; PRAGMA user_version = 2;")
            .unwrap();
    }
    assert!(!s.explain().contains("conversations:"));
    s.pass(DAY1);
    let db = rusqlite::Connection::open(s.t.path("followup.db")).unwrap();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
    // Attempt 1's reference went with the old schema: attempt 2 starts the
    // conversation, and attempt 3 replies to it.
    s.pass("2026-01-07T09:00:00Z");
    let posts = s.calls("chat.postMessage");
    assert_eq!(posts.len(), 3);
    assert!(posts[1].json().get("thread_ts").is_none());
    assert_eq!(posts[2].json()["thread_ts"], "1767600000.000002");
}

#[test]
fn an_unknown_conversation_key_is_an_error_at_its_place() {
    let s = setup(
        "slackbot",
        "  conversation: { threads: false }\n",
        slack_api(json!({})),
    );
    let out = s.t.run(&["validate"]);
    out.assert_status(1);
    assert!(
        out.stderr.contains(
            "error: unknown key `threads` in `message.conversation`; did you mean `thread`?"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn dry_run_shows_the_reply_and_the_edit_it_would_send() {
    let s = setup("slackbot", "", slack_api(json!({"ok": true})));
    s.pass(T0);
    let dry = |now: &str| {
        let out =
            s.t.cmd(&["run-once", "--dry-run"])
                .now(now)
                .env("SLACK_TOKEN", "xoxb-test-5ecret")
                .env("SLACK_API", s.server.url("/api"))
                .run();
        out.assert_status(0);
        crate::support::pass::sent(&out.stdout)
    };
    let lines = dry(DAY1);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["payload"]["thread_ts"], "1767600000.000001");
    s.pass(DAY1);
    s.source.records(json!([]));
    s.pass(GONE1);
    let lines = dry(GONE2);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["edits_first_message"], "resolved");
    assert_eq!(lines[0]["payload"]["ts"], "1767600000.000001");
    assert!(s.calls("chat.update").is_empty(), "a dry run sends nothing");
}
