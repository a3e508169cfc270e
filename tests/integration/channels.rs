//! The real channels, each against a local server of its service's shape:
//! what the service receives (method, path, headers, payload), how its
//! answers are read (429 with Retry-After, 4xx, `ok: false`, a hang), the
//! pool's concurrency, and a crash during a pass of many deliveries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::support::pass::{T0, events, sent};
use crate::support::server::{Received, Reply, Server};
use crate::support::smtp::SmtpSink;
use crate::support::{Cmd, Test};

const TENANT: &str = r#"tenant: acme-test
attributes: { desk_url: "https://desk.example.com" }
channels:
  slack: { type: slack, webhook_url: "@{env.SLACK_URL}" }
  slackbot: { type: slack, bot_token: "@{env.SLACK_TOKEN}", api_url: "@{env.SLACK_API}" }
  teams: { type: teams, webhook_url: "@{env.TEAMS_URL}" }
  gchat: { type: google_chat, webhook_url: "@{env.GCHAT_URL}" }
  hook: { type: webhook, url: "@{env.HOOK_URL}", headers: { Authorization: "Bearer @{env.HOOK_TOKEN}" }, signing_secret: "@{env.HOOK_SECRET}", timeout: 1s }
  email: { type: email, smtp_url: "@{env.SMTP_URL}", from: "Service Desk <desk@acme.test>" }
  pager: { type: command, command: ["./page.sh", "@{recipient.id}", "@{followup.data.number}"] }
users:
  - { id: alice, name: Alice Doe, email: alice@acme.test, slack: U0ALICE }
  - { id: bob, name: Bob Roe, email: bob@acme.test, slack: U0BOB }
  - { id: carol, name: Carol Poe, email: carol@acme.test }
"#;

/// The signing secret of `hook` (Standard Webhooks' `whsec_` and base64).
const HOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const HOOK_TOKEN: &str = "tok-hook-5ecret";
const SLACK_TOKEN: &str = "xoxb-test-5ecret";

/// Record text that must arrive escaped wherever it lands.
const HOSTILE: &str = "<!channel> & <script>alert(1)</script>";

fn record(id: &str, approvers: &[&str]) -> Value {
    json!({"sys_id": id, "number": format!("RITM-{id}"), "title": HOSTILE, "approvers": approvers})
}

/// A follow-up over `source` sending a card with buttons and an image on `channel`.
fn definition(source: &str, channel: &str) -> String {
    format!(
        r#"id: approvals
name: Pending approvals
polling: {{ every: 30m }}
extraction:
  integrations:
    - id: requests
      request: {{ url: "{source}" }}
  loop: "$.result[*]"
  reconciliation_id: "$.sys_id"
recipients:
  user: "$.approvers[*]"
message:
  channel: {channel}
  text: "@{{followup.data.number}} waits: @{{followup.data.title}}"
  card:
    title: "Approval needed: @{{followup.data.number}}"
    text: "@{{followup.data.title}}"
    fields: [ {{ label: Number, value: "@{{followup.data.number}}" }}, {{ label: Attempt, value: "@{{followup.attempt}} of @{{followup.attempts}}" }} ]
    actions:
      - {{ label: Approve, url: "@{{global.desk_url}}/approve?id=@{{followup.data.sys_id}}", style: primary }}
      - {{ label: Reject, url: "@{{global.desk_url}}/reject?id=@{{followup.data.sys_id}}", style: danger }}
  image: {{ url: "https://desk.example.com/banner.png", alt: Service desk }}
schedule: {{ every: 1d, attempts: 3 }}
"#
    )
}

/// A source of `records`.
fn source(records: Value) -> Server {
    Server::start(move |_| Reply::json(200, json!({ "result": records.clone() })))
}

struct Setup {
    t: Test,
    _source: Server,
}

fn setup(records: Value, channel: &str) -> Setup {
    let source = source(records);
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    t.write(
        "followups/approvals.yaml",
        &definition(&source.url("/items"), channel),
    );
    Setup { t, _source: source }
}

/// A pass at T0 with the channels' settings pointing at `server` (and
/// `smtp`, when given).
fn pass<'t>(t: &'t Test, server: &Server, smtp: Option<&SmtpSink>) -> Cmd<'t> {
    let mut cmd = t
        .cmd(&["run-once"])
        .now(T0)
        .env("SLACK_URL", server.url("/services/T0/B0/xyz"))
        .env("SLACK_TOKEN", SLACK_TOKEN)
        .env("SLACK_API", server.url("/api"))
        .env(
            "TEAMS_URL",
            server.url("/workflows/w1/triggers/manual/paths/invoke"),
        )
        .env("GCHAT_URL", server.url("/v1/spaces/S1/messages"))
        .env("HOOK_URL", server.url("/notify"))
        .env("HOOK_TOKEN", HOOK_TOKEN)
        .env("HOOK_SECRET", HOOK_SECRET);
    if let Some(smtp) = smtp {
        cmd = cmd.env(
            "SMTP_URL",
            format!("smtp://desk:pa55word@127.0.0.1:{}", smtp.port()),
        );
    }
    cmd
}

fn only(requests: &[Received]) -> &Received {
    assert_eq!(requests.len(), 1, "{requests:#?}");
    &requests[0]
}

#[test]
fn slack_webhook_gets_one_block_kit_post_per_record_naming_its_people_escaped() {
    let s = setup(json!([record("a1", &["alice", "carol"])]), "slack");
    let slack = Server::start(|_| Reply::text(200, "ok"));
    pass(&s.t, &slack, None).run().assert_status(0);

    let requests = slack.requests();
    let post = only(&requests);
    assert_eq!(post.method, "POST");
    assert_eq!(post.path, "/services/T0/B0/xyz");
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(
        post.header("idempotency-key"),
        Some("approvals/a1/1/1/slack/room")
    );
    let body = post.json();
    let escaped = "&lt;!channel&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;";
    // Alice by her Slack id, Carol (who has none) by her name.
    assert_eq!(
        body["text"],
        format!("<@U0ALICE> Carol Poe\nRITM-a1 waits: {escaped}")
    );
    assert!(!post.text().contains("<!channel>"), "{}", post.text());
    let blocks = body["blocks"].as_array().unwrap();
    let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["header", "section", "section", "image", "actions"]);
    assert_eq!(blocks[0]["text"]["text"], "Approval needed: RITM-a1");
    assert_eq!(blocks[2]["text"]["text"], escaped);
    assert_eq!(blocks[2]["fields"][1]["text"], "*Attempt*\n1 of 3");
    assert_eq!(
        blocks[3]["image_url"],
        "https://desk.example.com/banner.png"
    );
    let buttons = blocks[4]["elements"].as_array().unwrap();
    assert_eq!(buttons[0]["text"]["text"], "Approve");
    assert_eq!(buttons[0]["style"], "primary");
    assert_eq!(buttons[0]["url"], "https://desk.example.com/approve?id=a1");
    assert_eq!(buttons[1]["style"], "danger");
}

#[test]
fn slack_bot_sends_direct_messages_and_ok_false_fails_that_delivery_only() {
    let s = setup(
        json!([record("a1", &["alice", "bob", "carol"])]),
        "slackbot",
    );
    let slack = Server::start(|req| match req.json()["channel"].as_str() {
        Some("U0BOB") => Reply::json(200, json!({"ok": false, "error": "channel_not_found"})),
        _ => Reply::json(200, json!({"ok": true, "channel": "D01", "ts": "1.0001"})),
    });
    pass(&s.t, &slack, None).run().assert_status(0);

    let requests = slack.requests();
    assert_eq!(requests.len(), 2, "Carol has no Slack id: {requests:#?}");
    for r in &requests {
        assert_eq!(r.path, "/api/chat.postMessage");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {SLACK_TOKEN}").as_str())
        );
    }
    let channels: Vec<Value> = requests
        .iter()
        .map(|r| r.json()["channel"].clone())
        .collect();
    assert!(channels.contains(&json!("U0ALICE")) && channels.contains(&json!("U0BOB")));

    let sent_to: Vec<Value> = events(&s.t, &["--event", "notification.sent"])
        .iter()
        .map(|e| e["recipient"].clone())
        .collect();
    assert_eq!(sent_to, [json!("alice")]);
    let failed = events(&s.t, &["--event", "notification.failed"]);
    let bob = failed.iter().find(|e| e["recipient"] == "bob").unwrap();
    assert_eq!(bob["detail"], "Slack API error: channel_not_found");
    let carol = events(&s.t, &["--event", "recipient.unresolved"]);
    assert!(carol.iter().any(|e| e["recipient"] == "carol"), "{carol:?}");
    let history = s.t.run(&["history", "--format", "json"]).stdout;
    assert!(!history.contains(SLACK_TOKEN));
}

/// What Adaptive Card 1.4's schema requires of the elements followup
/// uses: their types, required properties, no property the schema lacks
/// (it sets `additionalProperties: false`) and the enums' values.
fn assert_adaptive_card_1_4(card: &Value) {
    let keys = |v: &Value, allowed: &[&str], what: &str| {
        for k in v.as_object().unwrap().keys() {
            assert!(allowed.contains(&k.as_str()), "{what} has `{k}`: {v}");
        }
    };
    keys(
        card,
        &["$schema", "type", "version", "body", "actions"],
        "AdaptiveCard",
    );
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    for block in card["body"].as_array().unwrap() {
        match block["type"].as_str().unwrap() {
            "TextBlock" => {
                keys(
                    block,
                    &[
                        "type", "text", "wrap", "weight", "size", "isSubtle", "spacing",
                    ],
                    "TextBlock",
                );
                assert!(block["text"].is_string());
                for (k, values) in [
                    ("weight", &["Default", "Lighter", "Bolder"][..]),
                    (
                        "size",
                        &["Default", "Small", "Medium", "Large", "ExtraLarge"][..],
                    ),
                    (
                        "spacing",
                        &[
                            "Default",
                            "None",
                            "Small",
                            "Medium",
                            "Large",
                            "ExtraLarge",
                            "Padding",
                        ][..],
                    ),
                ] {
                    if let Some(v) = block.get(k) {
                        assert!(values.contains(&v.as_str().unwrap()), "{k}: {v}");
                    }
                }
            }
            "FactSet" => {
                keys(block, &["type", "facts"], "FactSet");
                for fact in block["facts"].as_array().unwrap() {
                    keys(fact, &["title", "value"], "Fact");
                    assert!(fact["title"].is_string() && fact["value"].is_string());
                }
            }
            "Image" => {
                keys(block, &["type", "url", "altText"], "Image");
                assert!(block["url"].is_string());
            }
            other => panic!("an element followup does not send: {other}"),
        }
    }
    for action in card["actions"].as_array().unwrap() {
        keys(action, &["type", "title", "url", "style"], "Action.OpenUrl");
        assert_eq!(action["type"], "Action.OpenUrl");
        assert!(action["url"].is_string() && action["title"].is_string());
        let style = action["style"].as_str().unwrap();
        assert!(["default", "positive", "destructive"].contains(&style));
    }
}

#[test]
fn teams_gets_an_adaptive_card_1_4_in_a_workflows_message() {
    let s = setup(json!([record("a1", &["alice", "bob"])]), "teams");
    let teams = Server::start(|_| Reply::status(202));
    pass(&s.t, &teams, None).run().assert_status(0);

    let requests = teams.requests();
    let post = only(&requests);
    assert_eq!(post.path, "/workflows/w1/triggers/manual/paths/invoke");
    assert_eq!(
        post.header("idempotency-key"),
        Some("approvals/a1/1/1/teams/room")
    );
    let body = post.json();
    assert_eq!(body["type"], "message");
    let attachment = &body["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachment["content"];
    assert_adaptive_card_1_4(card);
    let texts: Vec<&str> = card["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect();
    assert_eq!(texts[0], "Approval needed: RITM-a1");
    assert!(texts.contains(&"For: Alice Doe, Bob Roe"), "{texts:?}");
    assert_eq!(
        card["body"][3]["facts"][0],
        json!({"title": "Number", "value": "RITM-a1"})
    );
    assert_eq!(card["actions"][0]["style"], "positive");
    assert_eq!(card["actions"][1]["style"], "destructive");
    let sent = events(&s.t, &["--event", "notification.sent"]);
    assert_eq!(sent.len(), 1);
}

#[test]
fn google_chat_gets_text_and_a_cards_v2_card() {
    let s = setup(json!([record("a1", &["alice"])]), "gchat");
    let chat = Server::start(|_| Reply::json(200, json!({"name": "spaces/S1/messages/m1"})));
    pass(&s.t, &chat, None).run().assert_status(0);

    let requests = chat.requests();
    let post = only(&requests);
    assert_eq!(post.path, "/v1/spaces/S1/messages");
    let body = post.json();
    assert_eq!(body["text"], format!("Alice Doe\nRITM-a1 waits: {HOSTILE}"));
    let card = &body["cardsV2"][0]["card"];
    assert_eq!(card["header"]["title"], "Approval needed: RITM-a1");
    let widgets = card["sections"][0]["widgets"].as_array().unwrap();
    assert_eq!(
        widgets[0],
        json!({"decoratedText": {"topLabel": "Number", "text": "RITM-a1"}})
    );
    assert_eq!(
        widgets[2]["image"]["imageUrl"],
        "https://desk.example.com/banner.png"
    );
    let buttons = widgets[3]["buttonList"]["buttons"].as_array().unwrap();
    assert_eq!(
        buttons[1],
        json!({"text": "Reject", "onClick": {"openLink": {"url": "https://desk.example.com/reject?id=a1"}}})
    );
}

/// Checks a Standard Webhooks signature as a receiver would.
fn verify_signature(r: &Received) -> bool {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(HOOK_SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    let (id, ts) = (
        r.header("webhook-id").unwrap(),
        r.header("webhook-timestamp").unwrap(),
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&r.body);
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    r.header("webhook-signature") == Some(expected.as_str())
}

#[test]
fn webhook_posts_the_envelope_signed_with_the_configured_headers() {
    let s = setup(json!([record("a1", &["alice", "bob"])]), "hook");
    let hook = Server::start(|_| Reply::status(204));
    pass(&s.t, &hook, None).run().assert_status(0);

    let mut requests = hook.requests();
    assert_eq!(requests.len(), 2, "one per person: {requests:#?}");
    requests.sort_by_key(|r| r.header("idempotency-key").map(str::to_owned));
    let r = &requests[0];
    assert_eq!(r.path, "/notify");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {HOOK_TOKEN}").as_str())
    );
    assert_eq!(
        r.header("idempotency-key"),
        Some("approvals/a1/1/1/hook/alice")
    );
    assert_eq!(r.header("webhook-id"), Some("approvals/a1/1/1/hook/alice"));
    assert!(verify_signature(r), "a bad signature: {r:#?}");
    // The real time of the send, not --now (2026-01-05).
    let ts: u64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(ts) < 300, "{ts} vs {now}");
    let envelope = r.json();
    for (key, value) in [
        ("delivery", json!("approvals/a1/1/1/hook/alice")),
        ("followup", json!("approvals")),
        ("record", json!("a1")),
        ("cycle", json!(1)),
        ("attempt", json!(1)),
        ("attempts", json!(3)),
        ("channel", json!("hook")),
        ("text", json!(format!("RITM-a1 waits: {HOSTILE}"))),
    ] {
        assert_eq!(envelope[key], value, "{key}: {envelope}");
    }
    assert_eq!(envelope["recipient"]["email"], "alice@acme.test");
    assert_eq!(envelope["card"]["title"], "Approval needed: RITM-a1");
    assert_eq!(
        envelope["image"]["url"],
        "https://desk.example.com/banner.png"
    );
    assert_eq!(envelope["data"]["number"], "RITM-a1");
    // A dry run prints the envelope it would post, and no secret.
    let dry = pass(&s.t, &hook, None)
        .args(["--dry-run"])
        .now("2026-01-06T09:05:00Z")
        .run();
    dry.assert_status(0);
    let lines = sent(&dry.stdout);
    assert_eq!(lines.len(), 2, "{}", dry.stdout);
    assert_eq!(lines[0]["dry_run"], true);
    assert_eq!(lines[0]["payload"]["data"]["number"], "RITM-a1");
    assert!(dry.stderr.contains("2 would send"), "{}", dry.stderr);
    assert!(!dry.stdout.contains(HOOK_TOKEN) && !dry.stdout.contains("MfKQ9r8G"));
    assert_eq!(hook.requests().len(), 2, "the dry run sent nothing");
}

#[test]
fn email_goes_over_smtp_as_text_and_html_and_smtp_codes_decide_the_outcome() {
    let s = setup(json!([record("a1", &["alice", "bob", "carol"])]), "email");
    let smtp = SmtpSink::with_rcpt(|to| match to {
        "bob@acme.test" => (451, "4.3.0 try again later"),
        "carol@acme.test" => (550, "5.1.1 no such user"),
        _ => (250, "OK"),
    });
    let none = Server::start(|_| Reply::status(500));
    pass(&s.t, &none, Some(&smtp)).run().assert_status(0);

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.from, "desk@acme.test");
    assert_eq!(mail.to, ["alice@acme.test"]);
    assert_eq!(mail.auth.as_deref(), Some("\0desk\0pa55word"));
    assert_eq!(
        mail.header("To").as_deref(),
        Some("\"Alice Doe\" <alice@acme.test>")
    );
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Approval needed: RITM-a1")
    );
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    assert!(mail.data.contains("Content-Type: text/plain"));
    assert!(mail.data.contains("Content-Type: text/html"));
    assert!(
        mail.data.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        mail.data
    );
    assert!(!mail.data.contains("<script>alert(1)</script>\r\n</p>"));
    assert!(
        mail.data
            .contains("href=3D\"https://desk.example.com/approve?id=3Da1\"")
            || mail
                .data
                .contains("href=\"https://desk.example.com/approve?id=a1\""),
        "{}",
        mail.data
    );

    let deferred = events(&s.t, &["--event", "notification.deferred"]);
    let bob = deferred
        .iter()
        .find(|e| e["recipient"] == "bob")
        .expect("bob waits");
    assert!(
        bob["detail"].as_str().unwrap().contains("try again later"),
        "{bob}"
    );
    let failed = events(&s.t, &["--event", "notification.failed"]);
    let carol = failed
        .iter()
        .find(|e| e["recipient"] == "carol")
        .expect("carol failed");
    assert!(
        carol["detail"].as_str().unwrap().contains("no such user"),
        "{carol}"
    );
    let history = s.t.run(&["history", "--format", "json"]).stdout;
    assert!(!history.contains("pa55word"));
}

#[test]
fn command_gets_its_argv_and_the_delivery_on_stdin_and_its_exit_decides() {
    let s = setup(json!([record("a1", &["alice", "bob"])]), "pager");
    s.t.write(
        "followups/page.sh",
        "#!/bin/sh\ncat > \"page-$1.json\"\necho \"$2\" > \"arg-$1.txt\"\n[ \"$1\" = bob ] && { echo 'no pager for bob' >&2; exit 3; }\nexit 0\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            s.t.path("followups/page.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let none = Server::start(|_| Reply::status(500));
    pass(&s.t, &none, None).run().assert_status(0);

    let stdin: Value = serde_json::from_str(&s.t.read("followups/page-alice.json")).unwrap();
    assert_eq!(stdin["delivery"], "approvals/a1/1/1/pager/alice");
    assert_eq!(stdin["recipient"]["id"], "alice");
    assert!(s.t.read("followups/page-alice.json").ends_with("}\n"));
    assert_eq!(s.t.read("followups/arg-alice.txt"), "RITM-a1\n");
    let failed = events(&s.t, &["--event", "notification.failed"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["recipient"], "bob");
    assert_eq!(
        failed[0]["detail"],
        "`./page.sh` exited with status 3: no pager for bob"
    );
}

#[test]
fn a_429_with_retry_after_is_retried_in_the_same_pass() {
    let s = setup(json!([record("a1", &["alice"])]), "hook");
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let hook = Server::start(move |_| match seen.fetch_add(1, Ordering::SeqCst) {
        0 => Reply::text(429, "slow down").header("Retry-After", "1"),
        _ => Reply::status(200),
    });
    let out = pass(&s.t, &hook, None).run();
    out.assert_status(0);
    assert_eq!(hook.requests().len(), 2);
    assert!(
        out.stderr.contains("1 delivered, 0 failed, 0 pending"),
        "{}",
        out.stderr
    );
    let sent = events(&s.t, &["--event", "notification.sent"]);
    assert_eq!(sent.len(), 1);
}

#[test]
fn a_400_fails_with_the_services_text_and_a_hang_times_out_while_others_go_out() {
    let records = json!([
        record("a1", &["alice"]),
        record("a2", &["bob"]),
        record("a3", &["carol"])
    ]);
    let s = setup(records, "hook");
    let hook = Server::start(|req| match req.json()["record"].as_str() {
        Some("a1") => Reply::text(400, "invalid_payload: field `x` is required"),
        Some("a2") => Reply::status(200).delay(Duration::from_secs(4)),
        _ => Reply::status(200),
    });
    pass(&s.t, &hook, None).run().assert_status(0);

    let failed = events(&s.t, &["--event", "notification.failed"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["record"], "a1");
    assert_eq!(
        failed[0]["detail"],
        "HTTP 400 Bad Request: invalid_payload: field `x` is required"
    );
    // The channel's `timeout: 1s`: a2 waits for a later pass.
    let deferred = events(&s.t, &["--event", "notification.deferred"]);
    assert_eq!(deferred.len(), 1, "{deferred:?}");
    assert_eq!(deferred[0]["record"], "a2");
    assert!(
        deferred[0]["detail"]
            .as_str()
            .unwrap()
            .contains("timed out after 1s")
    );
    let sent = events(&s.t, &["--event", "notification.sent"]);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["record"], "a3");
}

#[test]
fn a_channel_is_skipped_after_three_transient_failures_in_a_row() {
    let records: Vec<Value> = (1..=6)
        .map(|i| record(&format!("a{i}"), &["alice"]))
        .collect();
    let s = setup(json!(records), "hook");
    let hook = Server::start(|_| Reply::text(503, "down"));
    pass(&s.t, &hook, None)
        .args(["--concurrency", "1"])
        .run()
        .assert_status(0);
    assert_eq!(hook.requests().len(), 3);
    let deferred = events(&s.t, &["--event", "notification.deferred"]);
    assert_eq!(deferred.len(), 6);
    let skipped = deferred
        .iter()
        .filter(|e| {
            e["detail"]
                .as_str()
                .unwrap()
                .contains("skipped for the rest of the pass")
        })
        .count();
    assert_eq!(skipped, 3);
}

/// A sink that answers after `delay` and remembers the most requests it
/// had in hand at once.
fn slow_sink(delay: Duration) -> (Server, Arc<AtomicUsize>) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (now, max) = (in_flight.clone(), most.clone());
    let server = Server::start(move |_| {
        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(delay);
        now.fetch_sub(1, Ordering::SeqCst);
        Reply::status(200)
    });
    (server, most)
}

#[test]
fn the_pool_sends_at_most_concurrency_deliveries_at_once() {
    let records: Vec<Value> = (1..=40)
        .map(|i| record(&format!("a{i}"), &["alice"]))
        .collect();
    let s = setup(json!(records), "hook");
    let (sink, most) = slow_sink(Duration::from_millis(250));
    let out = pass(&s.t, &sink, None).run();
    out.assert_status(0);
    assert!(out.stderr.contains("40 delivered"), "{}", out.stderr);
    assert_eq!(most.load(Ordering::SeqCst), 8, "the default --concurrency");

    let records: Vec<Value> = (1..=4)
        .map(|i| record(&format!("b{i}"), &["alice"]))
        .collect();
    let s = setup(json!(records), "hook");
    let (sink, most) = slow_sink(Duration::from_millis(30));
    pass(&s.t, &sink, None)
        .args(["--concurrency", "1"])
        .run()
        .assert_status(0);
    assert_eq!(sink.requests().len(), 4);
    assert_eq!(most.load(Ordering::SeqCst), 1);
}

/// SIGKILL during a pass of many webhook deliveries, 20 times over (more
/// with `FOLLOWUP_KILLS`, as `scripts/crash-soak` does), then a pass that
/// finishes: every delivery reached the sink, none more often than the
/// kills allow, and the database is sound.
#[test]
fn a_killed_pass_loses_no_delivery_and_repeats_at_most_the_pool_per_kill() {
    const CONCURRENCY: usize = 4;
    let kills: usize = std::env::var("FOLLOWUP_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(20);
    let records_count = 300.max(kills * 12);
    let records: Vec<Value> = (1..=records_count)
        .map(|i| record(&format!("r{i}"), &["alice"]))
        .collect();
    let s = setup(json!(records), "hook");
    let count = Arc::new(Mutex::new(0usize));
    let seen = count.clone();
    let sink = Server::start(move |_| {
        *seen.lock().unwrap() += 1;
        Reply::status(200).delay(Duration::from_millis(2))
    });
    let mut mid_pass = 0;
    for _ in 0..kills {
        let before = *count.lock().unwrap();
        let mut child = pass(&s.t, &sink, None)
            .args(["--concurrency", &CONCURRENCY.to_string()])
            .spawn();
        // Kill once this pass has sent some deliveries (or finished).
        let until = std::time::Instant::now() + Duration::from_secs(30);
        while *count.lock().unwrap() < before + 10
            && child.try_wait().unwrap().is_none()
            && std::time::Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        if child.try_wait().unwrap().is_none() {
            mid_pass += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        mid_pass >= kills / 2,
        "only {mid_pass} kills hit a running pass"
    );
    pass(&s.t, &sink, None).run().assert_status(0);

    let mut per_id: std::collections::HashMap<String, usize> = Default::default();
    for r in sink.requests() {
        *per_id
            .entry(r.header("idempotency-key").unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(
        per_id.len(),
        records_count,
        "every record's delivery arrived"
    );
    let repeats: usize = per_id.values().map(|n| n - 1).sum();
    eprintln!("{mid_pass} kills during a pass: {repeats} deliveries repeated");
    assert!(
        repeats <= mid_pass * CONCURRENCY,
        "{repeats} repeats after {mid_pass} kills with {CONCURRENCY} senders"
    );
    let status = s.t.run(&["explain", "approvals", "r1"]);
    assert!(status.stdout.contains("delivered"), "{}", status.stdout);
    // Each delivery is recorded sent once, whatever reached the sink twice.
    let sent = events(&s.t, &["--event", "notification.sent"]);
    assert_eq!(sent.len(), records_count);
    let db = rusqlite::Connection::open(s.t.path("followup.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// A sink that holds each request for `delay` and counts each delivery id.
fn counting_sink(
    delay: Duration,
) -> (Server, Arc<Mutex<std::collections::HashMap<String, usize>>>) {
    let ids = Arc::new(Mutex::new(std::collections::HashMap::new()));
    let seen = ids.clone();
    let server = Server::start(move |req| {
        let id = req.header("idempotency-key").unwrap_or_default().to_owned();
        *seen.lock().unwrap().entry(id).or_insert(0) += 1;
        Reply::status(200).delay(delay)
    });
    (server, ids)
}

#[test]
fn of_four_passes_started_at_once_one_sends_and_the_others_exit_75() {
    let records: Vec<Value> = (1..=12)
        .map(|i| record(&format!("o{i}"), &["alice"]))
        .collect();
    let s = setup(json!(records), "hook");
    let (sink, ids) = counting_sink(Duration::from_millis(200));
    let children: Vec<_> = (0..4).map(|_| pass(&s.t, &sink, None).spawn()).collect();
    let mut codes: Vec<i32> = children
        .into_iter()
        .map(|mut c| c.wait().unwrap().code().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, [0, 75, 75, 75]);
    let ids = ids.lock().unwrap();
    assert_eq!(ids.len(), 12);
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");
}

#[test]
fn a_pass_started_while_another_is_inside_a_delivery_exits_75_and_touches_nothing() {
    let s = setup(
        json!([record("a1", &["alice"]), record("a2", &["bob"])]),
        "hook",
    );
    let (sink, ids) = counting_sink(Duration::from_millis(1500));
    let mut first = pass(&s.t, &sink, None).spawn();
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while ids.lock().unwrap().is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!ids.lock().unwrap().is_empty(), "the first pass never sent");
    let before = s.t.snapshot("");
    let second = pass(&s.t, &sink, None).run();
    second.assert_status(75);
    // Only the first pass's own writes (its WAL) may have moved meanwhile.
    let after = s.t.snapshot("");
    let changed: Vec<_> = before
        .iter()
        .filter(|(path, bytes)| after.get(*path) != Some(bytes))
        .map(|(path, _)| path.display().to_string())
        .filter(|p| !p.contains("followup.db"))
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
    assert_eq!(first.wait().unwrap().code(), Some(0));
    let ids = ids.lock().unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");
}

#[test]
fn a_webhook_that_resets_the_connection_leaves_the_delivery_pending_for_the_next_pass() {
    let s = setup(json!([record("a1", &["alice"])]), "hook");
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    // The request is read, then the connection closes with no answer.
    let hook = Server::start(move |_| match seen.fetch_add(1, Ordering::SeqCst) {
        0 => Reply::hang_up(),
        _ => Reply::status(200),
    });
    pass(&s.t, &hook, None).run().assert_status(0);
    let deferred = events(&s.t, &["--event", "notification.deferred"]);
    assert_eq!(deferred.len(), 1, "{deferred:?}");
    assert!(events(&s.t, &["--event", "notification.sent"]).is_empty());

    pass(&s.t, &hook, None)
        .now("2026-01-05T09:40:00Z")
        .run()
        .assert_status(0);
    assert_eq!(hook.requests().len(), 2);
    let sent = events(&s.t, &["--event", "notification.sent"]);
    assert_eq!(sent.len(), 1, "sent once, counted once: {sent:?}");
    let closed = events(&s.t, &["--event", "attempt.closed"]);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["detail"], "1 of 1 delivered");
}

#[test]
fn google_chat_attempts_of_one_cycle_share_one_thread_key() {
    let s = setup(json!([record("a1", &["alice"])]), "gchat");
    let chat = Server::start(|_| Reply::json(200, json!({"name": "spaces/S1/messages/m1"})));
    pass(&s.t, &chat, None).run().assert_status(0);
    pass(&s.t, &chat, None)
        .now("2026-01-06T09:05:00Z")
        .run()
        .assert_status(0);

    let requests = chat.requests();
    assert_eq!(requests.len(), 2, "attempts 1 and 2: {requests:#?}");
    let keys: Vec<Value> = requests
        .iter()
        .map(|r| r.json()["thread"]["threadKey"].clone())
        .collect();
    assert!(keys[0].is_string(), "{keys:?}");
    assert_eq!(keys[0], keys[1], "one thread across attempts");
    for r in &requests {
        assert!(
            r.query.contains(&(
                "messageReplyOption".to_owned(),
                "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD".to_owned()
            )),
            "{:?}",
            r.query
        );
    }
}

#[test]
fn email_attempt_2_replies_to_attempt_1s_message_id() {
    let s = setup(json!([record("a1", &["alice"])]), "email");
    let smtp = SmtpSink::with_rcpt(|_| (250, "OK"));
    let none = Server::start(|_| Reply::status(500));
    pass(&s.t, &none, Some(&smtp)).run().assert_status(0);
    pass(&s.t, &none, Some(&smtp))
        .now("2026-01-06T09:05:00Z")
        .run()
        .assert_status(0);

    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "{mails:#?}");
    let id = mails[0]
        .header("Message-ID")
        .expect("attempt 1 has a Message-ID");
    assert!(id.ends_with("@followup.acme.test>"), "{id}");
    assert_eq!(mails[1].header("In-Reply-To").as_deref(), Some(id.as_str()));
    assert_eq!(mails[1].header("References").as_deref(), Some(id.as_str()));
    assert_eq!(
        mails[1].header("Subject").as_deref(),
        Some("Re: Approval needed: RITM-a1")
    );
}
