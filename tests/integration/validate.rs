//! `followup validate`: every rule of the definition format, each with a
//! definition that breaks it and the exact `file:line:col: error: message`
//! it must produce, and a passing counterpart where the edge matters.
//!
//! Most tests edit one line or two of [`BASE`], a valid definition; its line
//! numbers are the ones the expected diagnostics name.

use crate::support::{Edit, Output, Test};

/// A small tenant: two channels, two users, one group, one attribute.
pub const TENANT: &str = r#"tenant: test
attributes:
  servicenow_url: https://sn.example.com
channels:
  console: { type: console }
  email: { type: email, smtp_url: "@{env.SMTP_URL}", from: "Desk <desk@example.com>" }
users:
  - { id: alice, name: Alice Doe, email: alice@example.com }
  - { id: bob, name: Bob Roe, email: bob@example.com }
groups:
  - { id: cab, name: Change Advisory Board, members: [alice, bob] }
"#;

/// A valid definition, `followups/approvals.yaml`. Line numbers:
/// 1 id, 4 polling.every, 7 the integration, 8 loop, 9 reconciliation_id,
/// 11 recipients.user, 13 message.channel, 14 message.text,
/// 16 schedule.every, 17 schedule.attempts.
pub const BASE: &str = r#"id: approvals
name: Approvals
polling:
  every: 30m
extraction:
  integrations:
    - file: data.json
  loop: "$.result[*]"
  reconciliation_id: "$.sys_id"
recipients:
  user: "$.approver"
message:
  channel: console
  text: "Hi @{recipient.name}, @{followup.data.number} waits."
schedule:
  every: 1d
  attempts: 3
"#;

const FILE: &str = "followups/approvals.yaml";
const CLEAN: &str = "1 follow-up checked: 0 errors, 0 warnings\n";

/// A test dir with the test tenant, the data file the definitions read, and
/// `definition` as `followups/approvals.yaml`.
fn with_definition(definition: &str) -> Test {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT)
        .write("followups/data.json", r#"{"result": []}"#)
        .write(FILE, definition);
    t
}

/// [`BASE`] with each `(from, to)` replaced once.
#[track_caller]
pub fn edit(edits: &[(&str, &str)]) -> String {
    edits.iter().fold(BASE.to_owned(), |text, (from, to)| {
        assert!(text.contains(from), "`{from}` is not in the definition");
        text.replacen(from, to, 1)
    })
}

/// The diagnostic lines of a text run: stderr without its summary line.
pub fn diagnostics(out: &Output) -> Vec<&str> {
    let mut lines: Vec<&str> = out.stderr.lines().collect();
    let summary = lines.pop().unwrap_or_default();
    assert!(
        summary.contains(" checked: "),
        "the last line of stderr is not the summary: {summary:?}\n{}",
        out.stderr
    );
    lines
}

/// BASE edited fails validation with exactly these diagnostics.
#[track_caller]
fn assert_invalid(edits: &[(&str, &str)], expected: &[&str]) {
    let t = with_definition(&edit(edits));
    let out = t.run(&["validate"]);
    out.assert_status(1);
    assert_eq!(diagnostics(&out), expected, "\n{}", out.stderr);
    assert_eq!(out.stdout, "", "text diagnostics go to stderr");
}

/// BASE edited validates without an error or a warning.
#[track_caller]
fn assert_valid(edits: &[(&str, &str)]) {
    let t = with_definition(&edit(edits));
    t.run(&["validate"]).assert_status(0).assert_stderr(CLEAN);
}

#[test]
fn the_base_definition_is_valid() {
    assert_valid(&[]);
}

// ---------------------------------------------------------------------------
// Frequencies: 10 minutes .. 5 days, humantime or a bare number of minutes.

#[test]
fn polling_more_often_than_every_10_minutes_is_refused() {
    assert_invalid(
        &[("every: 30m", "every: 9m")],
        &[
            "followups/approvals.yaml:4:10: error: polling frequency `9m` is out of range: it must be between 10m and 5d (7200 minutes)",
        ],
    );
    assert_invalid(
        &[("every: 30m", "every: 9")],
        &[
            "followups/approvals.yaml:4:10: error: polling frequency `9` is out of range: it must be between 10m and 5d (7200 minutes)",
        ],
    );
}

#[test]
fn notifying_less_often_than_every_5_days_is_refused() {
    assert_invalid(
        &[("every: 1d", "every: 5d 1m")],
        &[
            "followups/approvals.yaml:16:10: error: notification frequency `5d 1m` is out of range: it must be between 10m and 5d (7200 minutes)",
        ],
    );
    assert_invalid(
        &[("every: 1d", "every: 7201")],
        &[
            "followups/approvals.yaml:16:10: error: notification frequency `7201` is out of range: it must be between 10m and 5d (7200 minutes)",
        ],
    );
}

#[test]
fn frequencies_of_exactly_10_minutes_and_5_days_pass() {
    assert_valid(&[("every: 30m", "every: 10m"), ("every: 1d", "every: 5d")]);
    assert_valid(&[("every: 30m", "every: 10"), ("every: 1d", "every: 7200")]);
    assert_valid(&[("every: 30m", "every: 5d"), ("every: 1d", "every: 5d")]);
}

#[test]
fn frequencies_take_humantime_or_minutes() {
    // 90 minutes both ways: equal, so no warning either.
    assert_valid(&[("every: 30m", "every: 90"), ("every: 1d", "every: 1h 30m")]);
    assert_valid(&[("every: 30m", "every: \"90\"")]);
    assert_valid(&[("every: 30m", "every: 600s")]);
}

#[test]
fn a_frequency_that_is_not_a_duration() {
    assert_invalid(
        &[("every: 30m", "every: soon")],
        &[
            "followups/approvals.yaml:4:10: error: `soon` is not a duration (expected number at 0); write e.g. `30s`, `10m`, `1h 30m`, `5d`",
        ],
    );
    assert_invalid(
        &[("every: 1d", "every: 1.5")],
        &[
            "followups/approvals.yaml:16:10: error: `1.5` is not a duration (time unit needed, for example 1sec or 1ms); write e.g. `30s`, `10m`, `1h 30m`, `5d`",
        ],
    );
}

#[test]
fn notifying_more_often_than_polling_is_a_warning_that_does_not_fail() {
    let t = with_definition(&edit(&[
        ("every: 30m", "every: 1h"),
        ("every: 1d", "every: 10m"),
    ]));
    t.run(&["validate"]).assert_status(0).assert_stderr(
        "followups/approvals.yaml:16:10: warning: notification frequency `10m` is shorter than the polling frequency `1h`: records are re-read only every 1h\n\
         1 follow-up checked: 0 errors, 1 warning\n",
    );
}

// ---------------------------------------------------------------------------
// Counts: attempts 1..10, resolve_after 1..10, from_attempt 1..attempts.

#[test]
fn attempts_from_1_to_10() {
    assert_invalid(
        &[("attempts: 3", "attempts: 0")],
        &["followups/approvals.yaml:17:13: error: `attempts` is 0; it must be between 1 and 10"],
    );
    assert_invalid(
        &[("attempts: 3", "attempts: 11")],
        &["followups/approvals.yaml:17:13: error: `attempts` is 11; it must be between 1 and 10"],
    );
    assert_valid(&[("attempts: 3", "attempts: 1")]);
    assert_valid(&[("attempts: 3", "attempts: 10")]);
}

#[test]
fn attempts_must_be_a_whole_number() {
    assert_invalid(
        &[("attempts: 3", "attempts: -1")],
        &[
            "followups/approvals.yaml:17:13: error: schedule.attempts: expected a whole number, 0 or more, found `-1`",
        ],
    );
    assert_invalid(
        &[("attempts: 3", "attempts: three")],
        &[
            "followups/approvals.yaml:17:13: error: schedule.attempts: expected a whole number, 0 or more, found a string",
        ],
    );
}

#[test]
fn resolve_after_from_1_to_10() {
    assert_invalid(
        &[("every: 30m", "every: 30m\n  resolve_after: 0")],
        &[
            "followups/approvals.yaml:5:18: error: `resolve_after` is 0; it must be between 1 and 10 polls",
        ],
    );
    assert_invalid(
        &[("every: 30m", "every: 30m\n  resolve_after: 11")],
        &[
            "followups/approvals.yaml:5:18: error: `resolve_after` is 11; it must be between 1 and 10 polls",
        ],
    );
    assert_valid(&[("every: 30m", "every: 30m\n  resolve_after: 1")]);
    assert_valid(&[("every: 30m", "every: 30m\n  resolve_after: 10")]);
}

const RUNG: &str = "user: \"$.approver\"\n  escalate:\n    - from_attempt: N\n      group: cab";

#[test]
fn an_escalation_starts_within_the_attempts() {
    for n in ["0", "4"] {
        assert_invalid(
            &[("user: \"$.approver\"", &RUNG.replace('N', n))],
            &[&format!(
                "followups/approvals.yaml:13:21: error: `from_attempt` is {n}; it must be between 1 and `schedule.attempts` (3)"
            )],
        );
    }
    assert_valid(&[("user: \"$.approver\"", &RUNG.replace('N', "1"))]);
    assert_valid(&[("user: \"$.approver\"", &RUNG.replace('N', "3"))]);
}

#[test]
fn an_escalation_is_checked_even_when_the_schedule_has_another_error() {
    assert_invalid(
        &[
            ("user: \"$.approver\"", &RUNG.replace('N', "4")),
            ("every: 1d", "every: soon"),
        ],
        &[
            "followups/approvals.yaml:13:21: error: `from_attempt` is 4; it must be between 1 and `schedule.attempts` (3)",
            "followups/approvals.yaml:19:10: error: `soon` is not a duration (expected number at 0); write e.g. `30s`, `10m`, `1h 30m`, `5d`",
        ],
    );
}

// ---------------------------------------------------------------------------
// Extraction: loop and reconciliation_id valid JSONPath; record_type json.

#[test]
fn the_loop_is_required() {
    assert_invalid(
        &[("  loop: \"$.result[*]\"\n", "")],
        &["followups/approvals.yaml:6:3: error: extraction: missing required key `loop`"],
    );
}

#[test]
fn the_reconciliation_id_is_required() {
    assert_invalid(
        &[("  reconciliation_id: \"$.sys_id\"\n", "")],
        &[
            "followups/approvals.yaml:6:3: error: extraction: missing required key `reconciliation_id`",
        ],
    );
}

#[test]
fn the_loop_and_the_id_are_jsonpaths() {
    assert_invalid(
        &[
            ("loop: \"$.result[*]\"", "loop: \"$.result[\""),
            (
                "reconciliation_id: \"$.sys_id\"",
                "reconciliation_id: sys_id",
            ),
        ],
        &[
            // At the offending character: just past the `[`.
            "followups/approvals.yaml:8:18: error: `$.result[` is not a JSONPath: the bracket `[` at character 9 is never closed",
            "followups/approvals.yaml:9:22: error: `sys_id` is not a JSONPath: it must start with `$` (e.g. `$.sys_id`)",
        ],
    );
    // In a plain scalar too: at the `=` of `=!`.
    assert_invalid(
        &[(
            "reconciliation_id: \"$.sys_id\"",
            "reconciliation_id: $.sys_id[?@ =! 1]",
        )],
        &[
            "followups/approvals.yaml:9:34: error: `$.sys_id[?@ =! 1]` is not a JSONPath: expected segment, name segment, index segment, or comp op at character 13",
        ],
    );
    // A filter makes the extraction conditional.
    assert_valid(&[(
        "loop: \"$.result[*]\"",
        "loop: \"$.result[?@.active == 'true']\"",
    )]);
}

#[test]
fn the_record_type_is_json() {
    assert_invalid(
        &[(
            "reconciliation_id: \"$.sys_id\"",
            "reconciliation_id: \"$.sys_id\"\n  record_type: xml",
        )],
        &[
            "followups/approvals.yaml:10:16: error: extraction.record_type: unknown value `xml`; expected `json`",
        ],
    );
    assert_valid(&[(
        "reconciliation_id: \"$.sys_id\"",
        "reconciliation_id: \"$.sys_id\"\n  record_type: json",
    )]);
}

// ---------------------------------------------------------------------------
// Recipients: a user or a group; a literal group exists; no cycles.

#[test]
fn recipients_need_a_user_or_a_group() {
    assert_invalid(
        &[("  user: \"$.approver\"", "  escalate: []")],
        &[
            "followups/approvals.yaml:11:3: error: `recipients` needs at least one of `user` and `group`",
        ],
    );
    assert_valid(&[(
        "user: \"$.approver\"",
        "group: \"$.assignment_group.value\"",
    )]);
    assert_valid(&[("user: \"$.approver\"", "group: cab")]);
    assert_valid(&[("user: \"$.approver\"", "user: [alice, \"$.approver\"]")]);
}

#[test]
fn a_literal_group_must_exist_in_the_tenant() {
    assert_invalid(
        &[("user: \"$.approver\"", "group: cabb")],
        &[
            "followups/approvals.yaml:11:10: error: group `cabb` is not defined in tenant.yaml; did you mean `cab`?",
        ],
    );
    // In a list, the item that is wrong.
    assert_invalid(
        &[("user: \"$.approver\"", "group: [cab, nobody]")],
        &["followups/approvals.yaml:11:16: error: group `nobody` is not defined in tenant.yaml"],
    );
    // In an escalation rung too.
    assert_invalid(
        &[(
            "user: \"$.approver\"",
            "user: \"$.approver\"\n  escalate:\n    - from_attempt: 2\n      group: managers",
        )],
        &["followups/approvals.yaml:14:14: error: group `managers` is not defined in tenant.yaml"],
    );
}

#[test]
fn an_escalation_rung_needs_someone() {
    assert_invalid(
        &[(
            "user: \"$.approver\"",
            "user: \"$.approver\"\n  escalate:\n    - from_attempt: 2\n      channel: email",
        )],
        &[
            "followups/approvals.yaml:13:7: error: an escalation rung needs at least one of `user` and `group`",
        ],
    );
}

#[test]
fn groups_may_not_contain_themselves() {
    let t = with_definition(BASE);
    t.write(
        "followups/tenant.yaml",
        &TENANT.replace_once(
            "  - { id: cab, name: Change Advisory Board, members: [alice, bob] }\n",
            "  - { id: cab, members: [alice, leads] }\n  - { id: leads, members: [bob, cab] }\n",
        ),
    );
    let out = t.run(&["validate"]);
    out.assert_status(1);
    assert_eq!(
        diagnostics(&out),
        [
            "followups/tenant.yaml:11:33: error: group `cab` contains itself through `leads`",
            "followups/tenant.yaml:12:33: error: group `leads` contains itself through `cab`",
        ]
    );
}

#[test]
fn group_members_are_users_or_groups() {
    let t = with_definition(BASE);
    t.write(
        "followups/tenant.yaml",
        &TENANT.replace_once("members: [alice, bob]", "members: [alice, bobb]"),
    );
    let out = t.run(&["validate"]);
    out.assert_status(1);
    assert_eq!(
        diagnostics(&out),
        [
            "followups/tenant.yaml:11:62: error: `bobb` is neither a user nor a group; did you mean `bob`?"
        ]
    );
}

// ---------------------------------------------------------------------------
// Message: text, card or image; a channel of the tenant, or last_used.

#[test]
fn a_message_needs_text_card_or_image() {
    let no_text = (
        "  text: \"Hi @{recipient.name}, @{followup.data.number} waits.\"\n",
        "",
    );
    assert_invalid(
        &[no_text],
        &[
            "followups/approvals.yaml:13:3: error: a message needs at least one of `text`, `card` and `image`",
        ],
    );
    assert_valid(&[(
        no_text.0,
        "  card: { title: \"@{followup.data.number}\" }\n",
    )]);
    assert_valid(&[(
        no_text.0,
        "  image: { url: \"https://example.com/banner.png\", alt: Banner }\n",
    )]);
}

#[test]
fn an_empty_card_is_refused() {
    assert_invalid(
        &[("channel: console", "channel: console\n  card: {}")],
        &[
            "followups/approvals.yaml:14:9: error: a card needs at least one of `title`, `text`, `fields` and `actions`",
        ],
    );
}

#[test]
fn the_channel_must_exist_in_the_tenant() {
    assert_invalid(
        &[("channel: console", "channel: slack")],
        &[
            "followups/approvals.yaml:13:12: error: channel `slack` is not defined in tenant.yaml (defined: console, email)",
        ],
    );
    assert_invalid(
        &[("channel: console", "channel: consol")],
        &[
            "followups/approvals.yaml:13:12: error: channel `consol` is not defined in tenant.yaml (defined: console, email); did you mean `console`?",
        ],
    );
    assert_invalid(
        &[(
            "channel: console",
            "channel: console\n  fallback_channel: sms",
        )],
        &[
            "followups/approvals.yaml:14:21: error: channel `sms` is not defined in tenant.yaml (defined: console, email)",
        ],
    );
}

#[test]
fn last_used_needs_a_fallback_channel() {
    assert_invalid(
        &[("channel: console", "channel: last_used")],
        &[
            "followups/approvals.yaml:13:12: error: `channel: last_used` needs a `fallback_channel` for users who never chatted",
        ],
    );
    assert_valid(&[(
        "channel: console",
        "channel: last_used\n  fallback_channel: email",
    )]);
}

#[test]
fn an_escalation_channel_must_exist_in_the_tenant() {
    assert_invalid(
        &[(
            "user: \"$.approver\"",
            "user: \"$.approver\"\n  escalate:\n    - { from_attempt: 2, group: cab, channel: teams }",
        )],
        &[
            "followups/approvals.yaml:13:47: error: channel `teams` is not defined in tenant.yaml (defined: console, email)",
        ],
    );
}

// ---------------------------------------------------------------------------
// Templates: each parses and names a known scope; env.* only where secrets
// belong; a global.* set by an action is not also in tenant.yaml.

const TEXT: &str = "text: \"Hi @{recipient.name}, @{followup.data.number} waits.\"";

#[test]
fn a_template_must_parse() {
    assert_invalid(
        &[(TEXT, "text: \"Hi @{recipient.name\"")],
        &[
            "followups/approvals.yaml:14:13: error: bad template: `@{` is not closed by `}` (in `@{recipient.name`)",
        ],
    );
    assert_invalid(
        &[(TEXT, "text: \"@{followup.data.x | upper}\"")],
        &[
            "followups/approvals.yaml:14:10: error: bad template: unknown filter `upper`; the only filter is `raw` (in `@{followup.data.x | upper}`)",
        ],
    );
    assert_valid(&[(
        TEXT,
        r#"text: '@{followup.data["approver.name"] ?? "Hello"}, @{followup.data.items[0].name | raw}'"#,
    )]);
    // Every bad insert of one string is reported, not only the first.
    assert_invalid(
        &[(
            TEXT,
            "text: \"@{followup.data.x | upper} @{recipient.name} @{user.name} @{x\"",
        )],
        &[
            "followups/approvals.yaml:14:10: error: bad template: unknown filter `upper`; the only filter is `raw` (in `@{followup.data.x | upper}`)",
            "followups/approvals.yaml:14:55: error: bad template: unknown scope `user`; a path starts with one of followup, recipient, lookup, digest, local, global, custom, env (in `@{user.name}`)",
            "followups/approvals.yaml:14:68: error: bad template: unknown scope `x`; a path starts with one of followup, recipient, lookup, digest, local, global, custom, env (in `@{x`)",
        ],
    );
}

#[test]
fn a_template_names_a_known_scope() {
    assert_invalid(
        &[(TEXT, "text: \"Hi @{user.name}\"")],
        &[
            "followups/approvals.yaml:14:13: error: bad template: unknown scope `user`; a path starts with one of followup, recipient, lookup, digest, local, global, custom, env (in `@{user.name}`)",
        ],
    );
    assert_invalid(
        &[(TEXT, "text: \"Hi @{lookup.value}\"")],
        &[
            "followups/approvals.yaml:14:13: error: `@{lookup.value}`: `lookup.*` is not available in a message; available here: followup, recipient, local, global, custom",
        ],
    );
    assert_invalid(
        &[(TEXT, "text: \"@{followup.nme}\"")],
        &[
            "followups/approvals.yaml:14:10: error: `@{followup.nme}`: `followup.nme` is not available in a message; available here: followup.id, followup.name, followup.data, followup.record_id, followup.cycle, followup.attempt, followup.attempts; did you mean `followup.name`?",
        ],
    );
}

/// A recipient is a tenant user (or a room): a name it never has would
/// fail every delivery at run time, so it is an error now, fallback or not.
#[test]
fn a_recipient_field_is_one_a_recipient_has() {
    assert_invalid(
        &[(
            TEXT,
            "text: \"Hi @{recipient.nam}, @{recipient.mail ?? \\\"you\\\"} @{recipient.slack} @{recipient.timezone}\"",
        )],
        &[
            "followups/approvals.yaml:14:13: error: `@{recipient.nam}`: a recipient has no `nam`; it has recipient.id, recipient.name, recipient.email, recipient.slack, recipient.teams, recipient.google_chat, recipient.phone, recipient.last_channel, recipient.timezone, recipient.recipients; did you mean `recipient.name`?",
            "followups/approvals.yaml:14:31: error: `@{recipient.mail}`: a recipient has no `mail`; it has recipient.id, recipient.name, recipient.email, recipient.slack, recipient.teams, recipient.google_chat, recipient.phone, recipient.last_channel, recipient.timezone, recipient.recipients; did you mean `recipient.email`?",
        ],
    );
}

#[test]
fn a_record_is_not_known_while_polling() {
    assert_invalid(
        &[(
            "    - file: data.json",
            "    - request: { url: \"https://x.example.com/@{followup.data.id}\" }",
        )],
        &[
            "followups/approvals.yaml:7:46: error: `@{followup.data.id}`: `followup.data` is not available in an extraction; available here: followup.id, followup.name",
        ],
    );
}

#[test]
fn env_is_refused_in_messages_bodies_and_actions() {
    assert_invalid(
        &[(TEXT, "text: \"token @{env.TOKEN}\"")],
        &[
            "followups/approvals.yaml:14:16: error: `@{env.TOKEN}`: `env.*` is allowed only in `url`, `headers`, `auth` and channel settings, so that secrets never reach a message, a body or the history",
        ],
    );
    assert_invalid(
        &[(
            "    - file: data.json",
            "    - request:\n        url: https://x.example.com\n        method: POST\n        body: { q: { token: \"@{env.TOKEN}\" } }",
        )],
        &[
            "followups/approvals.yaml:10:30: error: `@{env.TOKEN}`: `env.*` is allowed only in `url`, `headers`, `auth` and channel settings, so that secrets never reach a message, a body or the history",
        ],
    );
    assert_invalid(
        &[(
            "attempts: 3",
            "attempts: 3\nafter_each_attempt:\n  - set: { local.note: \"@{env.TOKEN}\" }",
        )],
        &[
            "followups/approvals.yaml:19:25: error: `@{env.TOKEN}`: `env.*` is allowed only in `url`, `headers`, `auth` and channel settings, so that secrets never reach a message, a body or the history",
        ],
    );
}

#[test]
fn env_is_allowed_in_url_headers_and_auth() {
    assert_valid(&[(
        "    - file: data.json",
        "    - request:\n        url: \"https://@{env.SN_HOST}/api/now/table/x\"\n        headers: { X-Api-Key: \"@{env.SN_KEY}\" }\n        auth: { type: basic, username: \"@{env.SN_USER}\", password: \"@{env.SN_PASSWORD}\" }",
    )]);
}

#[test]
fn a_global_must_be_given_or_set() {
    assert_invalid(
        &[(TEXT, "text: \"See @{global.jira_url}\"")],
        &[
            "followups/approvals.yaml:14:9: error: `global.jira_url` is not an attribute of tenant.yaml and no action sets it; add it to tenant.yaml's `attributes` or give a fallback (`@{global.jira_url ?? \"...\"}`)",
        ],
    );
    assert_valid(&[(TEXT, "text: \"See @{global.servicenow_url}\"")]);
    assert_valid(&[(TEXT, "text: 'See @{global.jira_url ?? \"Jira\"}'")]);
}

#[test]
fn a_global_set_by_an_action_may_be_read_by_another_follow_up() {
    let t = with_definition(&edit(&[(TEXT, "text: \"Last: @{global.last_approval}\"")]));
    t.write(
        "followups/setter.yaml",
        &(BASE
            .replace_once("id: approvals", "id: setter")
            .replace_once("name: Approvals", "name: Setter")
            + "after_each_attempt:\n  - set: { global.last_approval: \"@{followup.data.number}\" }\n"),
    );
    t.run(&["validate"])
        .assert_status(0)
        .assert_stderr("2 follow-ups checked: 0 errors, 0 warnings\n");
}

#[test]
fn an_action_may_not_set_a_global_given_in_the_tenant() {
    assert_invalid(
        &[(
            "attempts: 3",
            "attempts: 3\nafter_each_attempt:\n  - set: { global.servicenow_url: \"https://other\" }",
        )],
        &[
            "followups/approvals.yaml:19:12: error: `global.servicenow_url` is given in tenant.yaml, so an action may not set it: remove it from tenant.yaml's attributes or set another name",
        ],
    );
}

#[test]
fn a_set_names_its_scope() {
    assert_invalid(
        &[(
            "attempts: 3",
            "attempts: 3\nafter_each_attempt:\n  - set: { note: x }",
        )],
        &[
            "followups/approvals.yaml:19:12: error: `note` must be named `local.NAME`, `global.NAME` or `custom.NAME`",
        ],
    );
}

// ---------------------------------------------------------------------------
// id and name.

#[test]
fn the_id_is_lowercase_letters_digits_and_dashes() {
    let t = with_definition(&edit(&[("id: approvals", "id: Approvals_1")]));
    t.write("followups/data.json", "{}");
    std::fs::rename(t.path(FILE), t.path("followups/Approvals_1.yaml")).unwrap();
    let out = t.run(&["validate"]);
    out.assert_status(1);
    assert_eq!(
        diagnostics(&out),
        [
            "followups/Approvals_1.yaml:1:5: error: id `Approvals_1` must match [a-z0-9][a-z0-9-]* (lowercase letters, digits, dashes)"
        ]
    );
}

#[test]
fn the_id_is_the_file_stem() {
    assert_invalid(
        &[("id: approvals", "id: approval")],
        &[
            "followups/approvals.yaml:1:5: error: id `approval` must equal the file's name: rename the file to `approval.yaml` or the id to `approvals`",
        ],
    );
}

#[test]
fn names_are_unique_whatever_their_case() {
    let t = with_definition(BASE);
    t.write(
        "followups/reminders.yaml",
        &BASE
            .replace_once("id: approvals", "id: reminders")
            .replace_once("name: Approvals", "name: APPROVALS"),
    );
    let out = t.run(&["validate"]);
    out.assert_status(1);
    assert_eq!(
        diagnostics(&out),
        [
            "followups/reminders.yaml:2:7: error: name `APPROVALS` is already used by `approvals` (followups/approvals.yaml:2:7); names are unique, whatever their case"
        ]
    );
}

#[test]
fn the_name_is_required_and_not_empty() {
    assert_invalid(
        &[("name: Approvals", "name: \"  \"")],
        &["followups/approvals.yaml:2:7: error: `name` must not be empty"],
    );
    assert_invalid(
        &[("name: Approvals\n", "")],
        &["followups/approvals.yaml:1:1: error: missing required key `name`"],
    );
}

// ---------------------------------------------------------------------------
// Integrations: exactly one of request / file / command; auth; pagination;
// the window.

const INTEGRATION: &str = "    - file: data.json";

#[test]
fn an_integration_is_exactly_one_kind() {
    assert_invalid(
        &[(
            INTEGRATION,
            "    - file: data.json\n      command: [cat, data.json]",
        )],
        &[
            "followups/approvals.yaml:8:7: error: an integration takes exactly one of `request`, `file` and `command`, not both `file` and `command`",
        ],
    );
    assert_invalid(
        &[(INTEGRATION, "    - id: nothing")],
        &[
            "followups/approvals.yaml:7:7: error: an integration needs one of `request` (HTTP), `file` (a local JSON file) or `command` (argv)",
        ],
    );
    assert_invalid(
        &[(
            "  integrations:\n    - file: data.json",
            "  integrations: []",
        )],
        &[
            "followups/approvals.yaml:6:17: error: `integrations` needs at least one integration: a `request`, `file` or `command`",
        ],
    );
}

#[test]
fn a_request_is_http_or_https() {
    assert_invalid(
        &[(
            INTEGRATION,
            "    - request: { url: \"ftp://x.example.com/a\" }",
        )],
        &[
            "followups/approvals.yaml:7:23: error: `ftp://x.example.com/a` is not an http:// or https:// URL (use `file:` for a local file)",
        ],
    );
    assert_invalid(
        &[(INTEGRATION, "    - request: { url: x.example.com/a }")],
        &[
            "followups/approvals.yaml:7:23: error: `x.example.com/a` is not an http:// or https:// URL (use `file:` for a local file)",
        ],
    );
    assert_valid(&[(
        INTEGRATION,
        "    - request: { url: \"http://127.0.0.1:8080/a\" }",
    )]);
    // A URL that starts with a tenant attribute is checked through it.
    assert_valid(&[(
        INTEGRATION,
        "    - request: { url: \"@{global.servicenow_url}/api/now/table/x\" }",
    )]);
}

#[test]
fn a_url_that_starts_with_an_attribute_is_checked_through_it() {
    let t = with_definition(&edit(&[(
        INTEGRATION,
        "    - request: { url: \"@{global.servicenow_url}/api/now/table/x\" }",
    )]));
    t.write(
        "followups/tenant.yaml",
        &TENANT.replace_once(
            "servicenow_url: https://sn.example.com",
            "servicenow_url: sn.example.com",
        ),
    );
    let out = t.run(&["validate"]);
    out.assert_status(1);
    assert_eq!(
        diagnostics(&out),
        [
            "followups/approvals.yaml:7:23: error: `@{global.servicenow_url}/api/now/table/x` is not an http:// or https:// URL (use `file:` for a local file)"
        ]
    );
}

#[test]
fn a_command_needs_a_program() {
    assert_invalid(
        &[(INTEGRATION, "    - command: []")],
        &["followups/approvals.yaml:7:16: error: `command` needs at least the program to run"],
    );
    assert_invalid(
        &[(INTEGRATION, "    - command: [\"\", x]")],
        &["followups/approvals.yaml:7:16: error: `command` needs at least the program to run"],
    );
    assert_valid(&[(
        INTEGRATION,
        "    - command: [cat, data.json]\n      timeout: 10s",
    )]);
}

#[test]
fn a_timeout_is_for_commands() {
    assert_invalid(
        &[(INTEGRATION, "    - file: data.json\n      timeout: 10s")],
        &[
            "followups/approvals.yaml:8:7: error: `timeout` applies only to a `command`; a request has `timeouts`",
        ],
    );
}

#[test]
fn a_missing_file_is_a_warning() {
    let t = with_definition(&edit(&[(INTEGRATION, "    - file: ../data/later.json")]));
    t.run(&["validate"]).assert_status(0).assert_stderr(
        "followups/approvals.yaml:7:13: warning: `followups/../data/later.json` does not exist (yet)\n\
         1 follow-up checked: 0 errors, 1 warning\n",
    );
}

const REQUEST: &str = "    - request:\n        url: https://x.example.com/api\n";

#[test]
fn auth_types_and_their_keys() {
    assert_invalid(
        &[(
            INTEGRATION,
            &format!("{REQUEST}        auth: {{ type: digest }}"),
        )],
        &[
            "followups/approvals.yaml:9:23: error: extraction.integrations[0].request.auth.type: unknown value `digest`; expected one of `basic`, `bearer`, `oauth2_client_credentials`",
        ],
    );
    assert_invalid(
        &[(
            INTEGRATION,
            &format!("{REQUEST}        auth: {{ type: basic, username: \"@{{env.U}}\" }}"),
        )],
        &["followups/approvals.yaml:9:15: error: auth type `basic` needs `password`"],
    );
    assert_invalid(
        &[(
            INTEGRATION,
            &format!(
                "{REQUEST}        auth: {{ type: bearer, token: \"@{{env.T}}\", username: me }}"
            ),
        )],
        &[
            "followups/approvals.yaml:9:50: error: key `username` does not apply to auth type `bearer`",
        ],
    );
    assert_invalid(
        &[(
            INTEGRATION,
            &format!(
                "{REQUEST}        auth:\n          type: oauth2_client_credentials\n          client_id: \"@{{env.ID}}\""
            ),
        )],
        &[
            "followups/approvals.yaml:10:11: error: auth type `oauth2_client_credentials` needs `client_secret`",
            "followups/approvals.yaml:10:11: error: auth type `oauth2_client_credentials` needs `token_url`",
        ],
    );
    assert_valid(&[(
        INTEGRATION,
        &format!(
            "{REQUEST}        auth:\n          type: oauth2_client_credentials\n          token_url: https://login.example.com/token\n          client_id: \"@{{env.ID}}\"\n          client_secret: \"@{{env.SECRET}}\"\n          client_auth: form"
        ),
    )]);
}

#[test]
fn pagination_types_and_their_keys() {
    let paginate = |p: &str| format!("{REQUEST}      paginate: {p}");
    assert_invalid(
        &[(INTEGRATION, &paginate("{ type: page }"))],
        &[
            "followups/approvals.yaml:9:25: error: extraction.integrations[0].paginate.type: unknown value `page`; expected one of `offset`, `cursor`, `next_url`, `link_header`",
        ],
    );
    assert_invalid(
        &[(
            INTEGRATION,
            &paginate("{ type: offset, offset_param: o, size: 100 }"),
        )],
        &["followups/approvals.yaml:9:17: error: pagination type `offset` needs `limit_param`"],
    );
    assert_invalid(
        &[(
            INTEGRATION,
            &paginate("{ type: next_url, path: \"$.next\", param: p }"),
        )],
        &[
            "followups/approvals.yaml:9:51: error: key `param` does not apply to pagination type `next_url`",
        ],
    );
    assert_invalid(
        &[(
            INTEGRATION,
            &paginate("{ type: cursor, path: \"$.next\", param: p, body_path: after }"),
        )],
        &[
            "followups/approvals.yaml:9:59: error: pagination type `cursor` needs exactly one of `param` (a query parameter) and `body_path` (a key of the POST body)",
        ],
    );
    assert_valid(&[(
        INTEGRATION,
        &paginate(
            "{ type: offset, offset_param: sysparm_offset, limit_param: sysparm_limit, size: 100 }",
        ),
    )]);
    assert_valid(&[(
        INTEGRATION,
        &paginate("{ type: cursor, path: \"$.paging.next.after\", body_path: after }"),
    )]);
    assert_valid(&[(
        INTEGRATION,
        &paginate("{ type: link_header, max_pages: 5 }"),
    )]);
}

#[test]
fn stop_path_and_more_path_exclude_each_other_as_do_the_two_totals() {
    let paginate = |p: &str| format!("{REQUEST}      paginate: {p}");
    assert_invalid(
        &[(
            INTEGRATION,
            &paginate(
                "{ type: next_url, path: \"$.links.next\", stop_path: \"$.done\", more_path: \"$.meta.has_more\" }",
            ),
        )],
        &[
            "followups/approvals.yaml:9:78: error: give at most one of `stop_path` (stop when it selects true) and `more_path` (go on only while it selects true)",
        ],
    );
    assert_invalid(
        &[(
            INTEGRATION,
            &paginate(
                "{ type: offset, offset_param: o, limit_param: l, size: 100, total_path: \"$.total\", total_header: X-Total-Count }",
            ),
        )],
        &[
            "followups/approvals.yaml:9:100: error: give at most one of `total_path` (the total in the body) and `total_header` (the total in a response header)",
        ],
    );
    assert_invalid(
        &[(
            INTEGRATION,
            &paginate(
                "{ type: offset, offset_param: o, limit_param: l, size: 100, more_path: \"$.more\" }",
            ),
        )],
        &[
            "followups/approvals.yaml:9:77: error: key `more_path` does not apply to pagination type `offset`",
        ],
    );
    for valid in [
        "{ type: cursor, path: \"$.meta.after_cursor\", param: \"page[after]\", more_path: \"$.meta.has_more\" }",
        "{ type: next_url, path: \"$.links.next\", more_path: \"$.meta.has_more\" }",
        "{ type: offset, offset_param: sysparm_offset, limit_param: sysparm_limit, size: 100, total_header: X-Total-Count }",
    ] {
        assert_valid(&[(INTEGRATION, &paginate(valid))]);
    }
}

#[test]
fn pagination_is_for_requests() {
    assert_invalid(
        &[(
            INTEGRATION,
            "    - file: data.json\n      paginate: { type: link_header }",
        )],
        &["followups/approvals.yaml:8:7: error: `paginate` applies only to a `request`"],
    );
}

const WINDOW: &str = "attempts: 3\n  window: { days: DAYS, hours: \"HOURS\", timezone: TZ }";

fn window(days: &str, hours: &str, tz: &str) -> String {
    WINDOW
        .replace_once("DAYS", days)
        .replace_once("HOURS", hours)
        .replace_once("TZ", tz)
}

#[test]
fn a_window_has_days_hours_and_an_iana_timezone() {
    assert_invalid(
        &[("attempts: 3", &window("mon-fry", "8-18", "Europe/Lisbonn"))],
        &[
            "followups/approvals.yaml:18:19: error: `fry` is not a day or range of days; write e.g. `mon-fri`, `sat,sun`, `daily`",
            "followups/approvals.yaml:18:35: error: `8-18` is not a range of hours; write e.g. `08:00-18:00` or `22:00-06:00`",
            "followups/approvals.yaml:18:53: error: `Europe/Lisbonn` is not an IANA time zone (e.g. `Europe/Lisbon`, `America/New_York`, `UTC`)",
        ],
    );
    assert_invalid(
        &[("attempts: 3", &window("daily", "08:00-08:00", "UTC"))],
        &["followups/approvals.yaml:18:33: error: `08:00-08:00` is an empty range of hours"],
    );
    assert_valid(&[(
        "attempts: 3",
        &window("mon-fri", "08:00-18:00", "Europe/Lisbon"),
    )]);
    assert_valid(&[(
        "attempts: 3",
        &window("\"sat,sun\"", "22:00-06:00", "America/New_York"),
    )]);
}

// ---------------------------------------------------------------------------
// Unknown keys, and where errors land.

#[test]
fn an_unknown_key_is_an_error_with_a_hint() {
    assert_invalid(
        &[("every: 30m", "evry: 30m")],
        &[
            "followups/approvals.yaml:4:3: error: polling: missing required key `every`",
            "followups/approvals.yaml:4:3: error: unknown key `evry` in `polling`; did you mean `every`?",
        ],
    );
}

#[test]
fn every_unknown_key_is_reported_in_one_run() {
    assert_invalid(
        &[
            (
                "id: approvals",
                "id: approvals\ndescripton: Remind approvers",
            ),
            ("channel: console", "channel: console\n  txt: hello"),
            ("attempts: 3", "attempts: 3\n  colour: blue"),
        ],
        &[
            "followups/approvals.yaml:2:1: error: unknown key `descripton`; did you mean `description`?",
            "followups/approvals.yaml:15:3: error: unknown key `txt` in `message`; did you mean `text`?",
            "followups/approvals.yaml:20:3: error: unknown key `colour` in `schedule`",
        ],
    );
}

#[test]
fn a_wrong_type_is_reported_at_the_value() {
    assert_invalid(
        &[("every: 30m", "every: [30m]")],
        &["followups/approvals.yaml:4:10: error: polling.every: expected a string, found a list"],
    );
    assert_invalid(
        &[(
            "channel: console",
            "channel: console\n  card: { actions: [ { label: Open, url: \"https://x\", style: loud } ] }",
        )],
        &[
            "followups/approvals.yaml:14:62: error: message.card.actions[0].style: unknown value `loud`; expected one of `default`, `primary`, `danger`",
        ],
    );
    assert_invalid(
        &[("user: \"$.approver\"", "user: { id: alice }")],
        &[
            "followups/approvals.yaml:11:9: error: recipients.user: expected a string or a list of strings, found a mapping",
        ],
    );
    assert_invalid(
        &[("attempts: 3", "attempts: 99999999999")],
        &[
            "followups/approvals.yaml:17:13: error: schedule.attempts: expected a whole number from 0 to 4294967295, found `99999999999`",
        ],
    );
}

#[test]
fn an_action_is_exactly_one_of_set_and_integration() {
    assert_invalid(
        &[(
            "attempts: 3",
            "attempts: 3\nafter_all_attempts:\n  - set: { local.a: x }\n    integration: { command: [\"true\"] }",
        )],
        &[
            "followups/approvals.yaml:20:5: error: an action takes exactly one of `set` and `integration`, not both",
        ],
    );
    assert_valid(&[(
        "attempts: 3",
        "attempts: 3\nafter_all_attempts:\n  - integration: { command: [\"true\"] }\non_resolved:\n  - set: { local.done: \"yes\" }",
    )]);
}

// ---------------------------------------------------------------------------
// The run: every file at once; formats; exit statuses; paths.

/// A directory with one valid and two invalid definitions.
fn three_files() -> Test {
    let t = with_definition(&edit(&[
        ("every: 30m", "every: 5m"),
        ("attempts: 3", "attempts: 12"),
    ]));
    t.write(
        "followups/closing.yaml",
        &BASE
            .replace_once("id: approvals", "id: closing")
            .replace_once("name: Approvals", "name: Closing")
            .replace_once("channel: console", "channel: pager"),
    );
    t.write(
        "followups/good.yaml",
        &BASE
            .replace_once("id: approvals", "id: good")
            .replace_once("name: Approvals", "name: Good"),
    );
    t
}

#[test]
fn every_error_of_every_file_in_one_run() {
    let out = three_files().run(&["validate"]);
    out.assert_status(1).assert_stderr(
        "followups/approvals.yaml:4:10: error: polling frequency `5m` is out of range: it must be between 10m and 5d (7200 minutes)\n\
         followups/approvals.yaml:17:13: error: `attempts` is 12; it must be between 1 and 10\n\
         followups/closing.yaml:13:12: error: channel `pager` is not defined in tenant.yaml (defined: console, email)\n\
         3 follow-ups checked: 3 errors, 0 warnings\n",
    );
    assert_eq!(out.stdout, "");
}

/// A value of the wrong type does not hide the file's other errors: the
/// rules still check the rest, and say nothing more of the wrong value.
#[test]
fn a_wrong_type_does_not_hide_the_other_errors_of_its_file() {
    let t = with_definition(&edit(&[
        ("every: 30m", "every: 5m"),
        ("loop: \"$.result[*]\"", "loop: { path: x }"),
        ("channel: console", "channel: pager"),
        ("every: 1d", "every: [1d]"),
        ("attempts: 3", "attempts: three"),
    ]));
    let out = t.run(&["validate"]);
    out.assert_status(1).assert_stderr(
        "followups/approvals.yaml:4:10: error: polling frequency `5m` is out of range: it must be between 10m and 5d (7200 minutes)\n\
         followups/approvals.yaml:8:9: error: extraction.loop: expected a string, found a mapping\n\
         followups/approvals.yaml:13:12: error: channel `pager` is not defined in tenant.yaml (defined: console, email)\n\
         followups/approvals.yaml:16:10: error: schedule.every: expected a string, found a list\n\
         followups/approvals.yaml:17:13: error: schedule.attempts: expected a whole number, 0 or more, found a string\n\
         1 follow-up checked: 5 errors, 0 warnings\n",
    );
}

#[test]
fn json_format() {
    let out = three_files().run(&["validate", "--format", "json"]);
    out.assert_status(1);
    assert_eq!(
        out.json(),
        serde_json::json!([
            {
                "file": "followups/approvals.yaml", "line": 4, "column": 10,
                "severity": "error", "code": "frequency-range",
                "message": "polling frequency `5m` is out of range: it must be between 10m and 5d (7200 minutes)"
            },
            {
                "file": "followups/approvals.yaml", "line": 17, "column": 13,
                "severity": "error", "code": "attempts-range",
                "message": "`attempts` is 12; it must be between 1 and 10"
            },
            {
                "file": "followups/closing.yaml", "line": 13, "column": 12,
                "severity": "error", "code": "unknown-channel",
                "message": "channel `pager` is not defined in tenant.yaml (defined: console, email)"
            }
        ])
    );
    // The summary stays on stderr, so that stdout is only JSON.
    assert_eq!(out.stderr, "3 follow-ups checked: 3 errors, 0 warnings\n");
}

#[test]
fn json_format_of_a_valid_directory_is_an_empty_array() {
    with_definition(BASE)
        .run(&["validate", "--format", "json"])
        .assert_status(0)
        .assert_stdout("[]\n");
}

#[test]
fn json_format_carries_warnings() {
    let t = with_definition(&edit(&[("every: 1d", "every: 10m")]));
    let out = t.run(&["validate", "--format=json"]);
    out.assert_status(0);
    assert_eq!(
        out.json(),
        serde_json::json!([{
            "file": "followups/approvals.yaml", "line": 16, "column": 10,
            "severity": "warning", "code": "frequency-order",
            "message": "notification frequency `10m` is shorter than the polling frequency `30m`: records are re-read only every 30m"
        }])
    );
}

#[test]
fn github_format() {
    three_files()
        .run(&["validate", "--format", "github"])
        .assert_status(1)
        .assert_stdout(
            "::error file=followups/approvals.yaml,line=4,col=10,title=frequency-range::polling frequency `5m` is out of range: it must be between 10m and 5d (7200 minutes)\n\
             ::error file=followups/approvals.yaml,line=17,col=13,title=attempts-range::`attempts` is 12; it must be between 1 and 10\n\
             ::error file=followups/closing.yaml,line=13,col=12,title=unknown-channel::channel `pager` is not defined in tenant.yaml (defined: console, email)\n",
        );
}

#[test]
fn exit_status_2_for_bad_usage() {
    let t = with_definition(BASE);
    let out = t.run(&["validate", "--pedantic"]);
    out.assert_status(2);
    assert!(
        out.stderr.contains("unexpected argument '--pedantic'"),
        "{}",
        out.stderr
    );
    let out = t.run(&["validate", "--format", "xml"]);
    out.assert_status(2);
    assert!(out.stderr.contains("invalid value 'xml'"), "{}", out.stderr);
    t.run(&["validate", "followups/nothing.yaml"])
        .assert_status(2)
        .assert_stderr("error: followups/nothing.yaml: no such file or directory\n");
    t.run(&["--dir", "elsewhere", "validate"])
        .assert_status(2)
        .assert_stderr(
            "error: the definitions directory elsewhere does not exist; give `--dir DIR` (or FOLLOWUP_DIR)\n",
        );
}

#[test]
fn the_directory_comes_from_dir_or_the_environment() {
    let t = with_definition(&edit(&[("attempts: 3", "attempts: 0")]));
    std::fs::rename(t.path("followups"), t.path("defs")).unwrap();
    let expected = "defs/approvals.yaml:17:13: error: `attempts` is 0; it must be between 1 and 10\n\
                    1 follow-up checked: 1 error, 0 warnings\n";
    t.run(&["--dir", "defs", "validate"])
        .assert_status(1)
        .assert_stderr(expected);
    t.run(&["validate", "--dir", "defs"])
        .assert_status(1)
        .assert_stderr(expected);
    t.cmd(&["validate"])
        .env("FOLLOWUP_DIR", "defs")
        .run()
        .assert_status(1)
        .assert_stderr(expected);
}

#[test]
fn validate_one_file_reports_only_that_file() {
    let t = three_files();
    t.run(&["validate", "followups/closing.yaml"])
        .assert_status(1)
        .assert_stderr(
            "followups/closing.yaml:13:12: error: channel `pager` is not defined in tenant.yaml (defined: console, email)\n\
             1 follow-up checked: 1 error, 0 warnings\n",
        );
    t.run(&["validate", "followups/good.yaml"])
        .assert_status(0)
        .assert_stderr(CLEAN);
}

#[test]
fn a_file_of_the_directory_named_another_way_is_read_once() {
    // Read twice, it would clash with itself (same id, same name).
    let t = with_definition(BASE);
    let dir = t.path("followups");
    let dir = dir.to_str().unwrap();
    t.run(&["--dir", dir, "validate", "followups/approvals.yaml"])
        .assert_status(0)
        .assert_stderr(CLEAN);
    t.run(&["validate", "./followups/approvals.yaml"])
        .assert_status(0)
        .assert_stderr(CLEAN);
}

#[test]
fn validate_a_file_outside_the_directory_against_its_tenant() {
    let t = with_definition(BASE);
    t.write(
        "drafts/approvals-copy.yaml",
        &BASE.replace_once("id: approvals", "id: approvals-copy"),
    );
    // Its name is taken by followups/approvals.yaml: names are unique
    // across the directory, drafts included.
    t.run(&["validate", "drafts/approvals-copy.yaml"])
        .assert_status(1)
        .assert_stderr(
            "drafts/approvals-copy.yaml:2:7: error: name `Approvals` is already used by `approvals` (followups/approvals.yaml:2:7); names are unique, whatever their case\n\
             drafts/approvals-copy.yaml:7:13: warning: `drafts/data.json` does not exist (yet)\n\
             1 follow-up checked: 1 error, 1 warning\n",
        );
}

#[test]
fn an_invalid_tenant_fails_validation() {
    let t = with_definition(BASE);
    t.write(
        "followups/tenant.yaml",
        &TENANT.replace_once(
            "console: { type: console }",
            "console: { type: console, path: out.jsonl }",
        ),
    );
    // The tenant's error, and no echo of it in the definition that uses
    // the broken channel.
    t.run(&["validate"]).assert_status(1).assert_stderr(
        "followups/tenant.yaml:5:29: error: key `path` does not apply to a `console` channel\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
    // Also when only a definition is asked for: nothing runs without the tenant.
    t.run(&["validate", FILE]).assert_status(1).assert_stderr(
        "followups/tenant.yaml:5:29: error: key `path` does not apply to a `console` channel\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn a_tenant_that_does_not_parse_is_not_echoed_by_every_definition() {
    let t = with_definition(&edit(&[("user: \"$.approver\"", "group: cab")]));
    t.write("followups/tenant.yaml", "tenant: [test\n");
    t.run(&["validate"]).assert_status(1).assert_stderr(
        "followups/tenant.yaml:2:1: error: while parsing a flow sequence, expected ',' or ']'\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn a_missing_tenant_file() {
    let t = with_definition(BASE);
    std::fs::remove_file(t.path("followups/tenant.yaml")).unwrap();
    t.run(&["validate"]).assert_status(1).assert_stderr(
        "followups/tenant.yaml:1:1: error: tenant file not found: follow-ups need tenant.yaml (channels, users, groups, attributes); create it, or point `--tenant` at it\n\
         1 follow-up checked: 1 error, 0 warnings\n",
    );
}

#[test]
fn the_tenant_comes_from_tenant_anywhere() {
    let t = with_definition(BASE);
    std::fs::rename(t.path("followups/tenant.yaml"), t.path("tenant-prod.yaml")).unwrap();
    t.run(&["validate", "--tenant", "tenant-prod.yaml"])
        .assert_status(0)
        .assert_stderr(CLEAN);
    t.run(&["--tenant", "tenant-prod.yaml", "validate"])
        .assert_status(0)
        .assert_stderr(CLEAN);
    t.cmd(&["validate"])
        .env("FOLLOWUP_TENANT", "tenant-prod.yaml")
        .run()
        .assert_status(0)
        .assert_stderr(CLEAN);
}

#[test]
fn a_tenant_in_the_directory_under_another_name_is_not_a_definition() {
    let t = with_definition(BASE);
    std::fs::rename(
        t.path("followups/tenant.yaml"),
        t.path("followups/prod.yaml"),
    )
    .unwrap();
    t.run(&["validate", "--tenant", "followups/prod.yaml"])
        .assert_status(0)
        .assert_stderr(CLEAN);
    t.run(&["validate", "--tenant", "./followups/prod.yaml"])
        .assert_status(0)
        .assert_stderr(CLEAN);
    // Nor a link to it.
    #[cfg(unix)]
    {
        std::fs::rename(t.path("followups/prod.yaml"), t.path("tenant-prod.yaml")).unwrap();
        std::os::unix::fs::symlink("../tenant-prod.yaml", t.path("followups/current.yaml"))
            .unwrap();
        t.run(&["validate", "--tenant", "tenant-prod.yaml"])
            .assert_status(0)
            .assert_stderr(CLEAN);
    }
}

// ---------------------------------------------------------------------------
// The tenant's own rules.

/// The test tenant edited, with BASE beside it; validate's diagnostics.
#[track_caller]
fn assert_tenant_invalid(from: &str, to: &str, expected: &[&str]) {
    assert!(TENANT.contains(from), "`{from}` is not in the tenant");
    let t = with_definition(BASE);
    t.write("followups/tenant.yaml", &TENANT.replacen(from, to, 1));
    let out = t.run(&["validate"]);
    out.assert_status(1);
    assert_eq!(diagnostics(&out), expected, "\n{}", out.stderr);
}

#[test]
fn tenant_channels_have_a_known_type_and_its_keys() {
    assert_tenant_invalid(
        "console: { type: console }",
        "console: { type: sms }",
        &[
            "followups/tenant.yaml:5:20: error: channels.console.type: unknown value `sms`; expected one of `slack`, `teams`, `google_chat`, `email`, `webhook`, `console`, `file`, `command`",
        ],
    );
    assert_tenant_invalid(
        "from: \"Desk <desk@example.com>\"",
        "frm: desk@example.com",
        &[
            "followups/tenant.yaml:6:10: error: an `email` channel needs `from`",
            "followups/tenant.yaml:6:54: error: unknown key `frm` in `channels.email`; did you mean `from`?",
        ],
    );
    assert_tenant_invalid(
        "console: { type: console }",
        "console: { type: slack, webhook_url: \"@{env.A}\", bot_token: \"@{env.B}\" }",
        &[
            "followups/tenant.yaml:5:52: error: a `slack` channel needs exactly one of `webhook_url` (a room) and `bot_token` (direct messages)",
        ],
    );
}

#[test]
fn tenant_users_are_unique_and_their_last_channel_exists() {
    assert_tenant_invalid(
        "  - { id: bob, name: Bob Roe, email: bob@example.com }\n",
        "  - { id: bob, name: Bob Roe, email: bob@example.com }\n  - { id: alice, last_channel: slack }\n",
        &[
            "followups/tenant.yaml:10:11: error: user `alice` is defined twice",
            "followups/tenant.yaml:10:32: error: channel `slack` is not defined in `channels`",
        ],
    );
}

#[test]
fn a_literal_secret_in_the_tenant_is_a_warning() {
    let t = with_definition(BASE);
    t.write(
        "followups/tenant.yaml",
        &TENANT.replace_once(
            "console: { type: console }",
            "console: { type: console }\n  slack: { type: slack, webhook_url: \"https://hooks.slack.com/services/T0/B0/x\" }",
        ),
    );
    t.run(&["validate"]).assert_status(0).assert_stderr(
        "followups/tenant.yaml:6:38: warning: `webhook_url` of channel `slack` is written literally; keep secrets in the environment: `@{env.NAME}`\n\
         1 follow-up checked: 0 errors, 1 warning\n",
    );
}

// ---------------------------------------------------------------------------
// `local.*`: read only after the step that defines it.

#[test]
fn a_local_that_nothing_defines_fails_at_its_place() {
    assert_invalid(
        &[("@{followup.data.number} waits.", "@{local.nope} waits.")],
        &[
            "followups/approvals.yaml:14:32: error: `@{local.nope}`: nothing defines `local.nope`: define it in an integration's or the lookup's `attributes`, or with a `set` before it is read",
        ],
    );
    // A fallback says it may be missing: no error.
    assert_valid(&[(
        "@{followup.data.number} waits.",
        "@{local.nope ?? \\\"-\\\"} waits.",
    )]);
}

#[test]
fn a_local_is_read_only_after_the_step_that_defines_it() {
    // Defined by the extraction: the message reads it.
    assert_valid(&[
        (
            "    - file: data.json",
            "    - file: data.json\n      attributes: { local.region: \"$.region\" }",
        ),
        ("@{followup.data.number} waits.", "@{local.region} waits."),
    ]);
    // Defined only by an action, which runs after the message is sent.
    assert_invalid(
        &[
            ("@{followup.data.number} waits.", "@{local.note} waits."),
            (
                "  attempts: 3\n",
                "  attempts: 3\nafter_each_attempt:\n  - set: { local.note: \"x\" }\n  - set: { local.again: \"@{local.note}\" }\n",
            ),
        ],
        &[
            "followups/approvals.yaml:14:32: error: `@{local.note}`: `local.note` is defined by `after_each_attempt[0]`, which runs later than a message; give a fallback (`@{local.note ?? \"...\"}`) or define it earlier",
        ],
    );
    // An earlier integration's attribute for a later one, not the other way.
    assert_invalid(
        &[(
            "    - file: data.json",
            "    - request: { url: \"https://x.example.com/@{local.later}\" }\n    - file: data.json\n      attributes: { local.later: \"$.x\" }",
        )],
        &[
            "followups/approvals.yaml:7:46: error: `@{local.later}`: `local.later` is defined by extraction integration `#2`, which runs later than an extraction; give a fallback (`@{local.later ?? \"...\"}`) or define it earlier",
        ],
    );
}

#[test]
fn strict_makes_warnings_fail_and_the_tenant_errors_come_first() {
    let t = with_definition(&edit(&[("  every: 1d", "  every: 10m")]));
    let out = t.run(&["validate"]);
    out.assert_status(0);
    assert!(out.stderr.contains("warning:"), "{}", out.stderr);
    t.run(&["validate", "--strict"]).assert_status(1);

    // A tenant typo explains the errors after it.
    t.write(
        "followups/tenant.yaml",
        &TENANT.replace("channels:", "chanels:"),
    );
    let out = t.run(&["validate"]);
    out.assert_status(1);
    let lines = diagnostics(&out);
    assert!(
        lines[0].starts_with("followups/tenant.yaml:4:1: error: unknown key `chanels`"),
        "{}",
        out.stderr
    );
    assert!(
        lines
            .iter()
            .skip(1)
            .any(|l| l.starts_with("followups/approvals.yaml")),
        "{}",
        out.stderr
    );
}

#[test]
fn dash_reads_one_definition_from_stdin() {
    let t = with_definition(BASE);
    t.cmd(&["validate", "-"])
        .stdin(BASE)
        .run()
        .assert_status(0)
        .assert_stderr(CLEAN);
    let out = t
        .cmd(&["validate", "-"])
        .stdin(edit(&[("attempts: 3", "attempts: 12")]))
        .run();
    out.assert_status(1);
    assert_eq!(
        diagnostics(&out),
        ["<stdin>:17:13: error: `attempts` is 12; it must be between 1 and 10"]
    );
    // The file on disk is not what was checked, and is untouched.
    assert_eq!(t.read(FILE), BASE);
    t.run(&["validate", "-", FILE]).assert_status(2);
}
