//! How long `followup validate` takes, in a fresh process each time, as CI
//! and an editor's save hook run it.
//!
//! `cargo bench --bench validate` builds the binary with the bench
//! (release) profile, writes a tenant and 1,000 realistic definitions to a
//! temp dir, and times:
//! - `validate` of the 1,000 (goal: 200 ms), min and median of several runs;
//! - `validate` of one definition (goal: 5 ms; `amtool check-config` takes
//!   about 14 ms on the same kind of machine), median of many runs, beside
//!   the same tenant and beside a small one (20 users): parsing a tenant of
//!   400 users is most of the time of a single definition;
//! - `followup --version`, the floor a process start sets on this machine.
//!
//! The figures are printed against the goals; nothing here fails on speed
//! (a slow CI machine is not a bug), only on a definition that does not
//! validate, since then the bench would time the wrong thing.
//!
//! `FOLLOWUP_BENCH_BIN=PATH` times another build of followup (the one
//! before a change, say); `FOLLOWUP_BENCH_KEEP=DIR` leaves a copy of the
//! generated directories there, for a profiler.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary timed: cargo's build for this bench, or FOLLOWUP_BENCH_BIN.
fn bin() -> String {
    std::env::var("FOLLOWUP_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_followup").into())
}

const DEFINITIONS: usize = 1000;
const MANY_RUNS: usize = 15;
const ONE_RUNS: usize = 300;

const GOAL_MANY: Duration = Duration::from_millis(200);
const GOAL_ONE: Duration = Duration::from_millis(5);

fn main() {
    let many = tempfile::tempdir().expect("temp dir");
    write_tenant(many.path(), USERS, GROUPS);
    for i in 0..DEFINITIONS {
        let (id, text) = definition(i);
        fs::write(many.path().join(format!("followups/{id}.yaml")), text).unwrap();
    }
    let bytes: u64 = fs::read_dir(many.path().join("followups"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    expect_valid(many.path(), DEFINITIONS);

    let one = tempfile::tempdir().expect("temp dir");
    write_tenant(one.path(), USERS, GROUPS);
    let small = tempfile::tempdir().expect("temp dir");
    write_tenant(small.path(), 20, 2);
    let (id, text) = definition(0);
    for dir in [one.path(), small.path()] {
        fs::write(dir.join(format!("followups/{id}.yaml")), &text).unwrap();
        expect_valid(dir, 1);
    }

    if let Some(keep) = std::env::var_os("FOLLOWUP_BENCH_KEEP") {
        // For profiling: a copy of both directories, left in place.
        let keep = Path::new(&keep);
        for (from, to) in [
            (many.path(), "many"),
            (one.path(), "one"),
            (small.path(), "small"),
        ] {
            copy_dir(&from.join("followups"), &keep.join(to).join("followups"));
        }
    }
    let many_times = time(many.path(), &["validate"], MANY_RUNS);
    let one_times = time(one.path(), &["validate"], ONE_RUNS);
    let small_times = time(small.path(), &["validate"], ONE_RUNS);
    let floor = time(one.path(), &["--version"], ONE_RUNS);

    let mut report = String::new();
    let _ = writeln!(
        report,
        "\nfollowup validate ({}), {} threads available\n\
         {DEFINITIONS} definitions, {} KiB of YAML, and a tenant of {USERS} users and {GROUPS} groups;\n\
         each run a fresh process\n",
        bin(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        bytes / 1024
    );
    let _ = writeln!(
        report,
        "{:<40} {:>9} {:>9} {:>9}   goal",
        "", "min", "median", "max"
    );
    line(
        &mut report,
        "validate, 1,000 definitions",
        &many_times,
        Some(GOAL_MANY),
    );
    line(
        &mut report,
        "validate, 1 definition (400 users)",
        &one_times,
        Some(GOAL_ONE),
    );
    line(
        &mut report,
        "validate, 1 definition (20 users)",
        &small_times,
        Some(GOAL_ONE),
    );
    line(
        &mut report,
        "followup --version (process floor)",
        &floor,
        None,
    );
    let _ = writeln!(
        report,
        "\n(amtool check-config: about 14 ms for one file on the same kind of machine)"
    );
    print!("{report}");
}

/// Runs `followup ARGS` `runs` times after one warm-up; each run's wall time.
fn time(dir: &Path, args: &[&str], runs: usize) -> Vec<Duration> {
    let run = || {
        let start = Instant::now();
        let status = Command::new(bin())
            .args(args)
            .current_dir(dir)
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run followup");
        let elapsed = start.elapsed();
        assert!(
            status.success(),
            "followup {args:?} failed in {}",
            dir.display()
        );
        elapsed
    };
    run();
    let mut times: Vec<Duration> = (0..runs).map(|_| run()).collect();
    times.sort();
    times
}

fn line(report: &mut String, what: &str, sorted: &[Duration], goal: Option<Duration>) {
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    let median = sorted[sorted.len() / 2];
    let verdict = match goal {
        Some(goal) if median <= goal => format!("≤ {}: met", ms(goal)),
        Some(goal) => format!("≤ {}: MISSED", ms(goal)),
        None => String::new(),
    };
    let _ = writeln!(
        report,
        "{what:<40} {:>9} {:>9} {:>9}   {verdict}",
        ms(sorted[0]),
        ms(median),
        ms(sorted[sorted.len() - 1])
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Refuses to time a directory that does not validate cleanly.
fn expect_valid(dir: &Path, n: usize) {
    let out = Command::new(bin())
        .arg("validate")
        .current_dir(dir)
        .env_clear()
        .output()
        .expect("run followup");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let plural = if n == 1 { "" } else { "s" };
    assert!(
        out.status.success()
            && stderr == format!("{n} follow-up{plural} checked: 0 errors, 0 warnings\n"),
        "the generated definitions do not validate cleanly:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------
// The data: a tenant the size of a mid-sized service desk, and definitions
// in the shapes operators write (ServiceNow, Jira, Zendesk, Salesforce),
// with requests, auth, pagination, cards, escalations, windows and actions.

const USERS: usize = 400;
const GROUPS: usize = 40;

fn write_tenant(dir: &Path, users: usize, groups: usize) {
    fs::create_dir_all(dir.join("followups")).unwrap();
    let mut t = String::from(
        r#"# A generated tenant for the validate bench.
tenant: bench
attributes:
  servicenow_url: "https://acme.service-now.com"
  jira_url: "https://acme.atlassian.net"
  zendesk_url: "https://acme.zendesk.com"
  salesforce_url: "https://acme.my.salesforce.com"
channels:
  slack: { type: slack, bot_token: "@{env.SLACK_BOT_TOKEN}", rate: 1/s }
  slack-room: { type: slack, webhook_url: "@{env.SLACK_WEBHOOK_URL}" }
  teams: { type: teams, webhook_url: "@{env.TEAMS_WEBHOOK_URL}" }
  email: { type: email, smtp_url: "@{env.SMTP_URL}", from: "Service Desk <desk@acme.example>" }
  hook: { type: webhook, url: "https://bot.acme.example/notify", headers: { Authorization: "Bearer @{env.BOT_TOKEN}" }, signing_secret: "@{env.HOOK_SECRET}" }
  console: { type: console }
users:
"#,
    );
    let zones = [
        "Europe/Lisbon",
        "Europe/London",
        "America/New_York",
        "Asia/Tokyo",
    ];
    for u in 0..users {
        let _ = writeln!(
            t,
            "  - {{ id: user{u}, name: User Number {u}, email: user{u}@acme.example, slack: U{u:08}, teams: user{u}@acme.example, last_channel: {}, timezone: {} }}",
            if u % 2 == 0 { "slack" } else { "teams" },
            zones[u % zones.len()]
        );
    }
    t.push_str("groups:\n");
    for g in 0..groups {
        let members: Vec<String> = (0..10)
            .map(|k| format!("user{}", (g * 10 + k) % users))
            .collect();
        let _ = writeln!(
            t,
            "  - {{ id: group{g}, name: Group {g}, members: [{}] }}",
            members.join(", ")
        );
    }
    t.push_str("  - { id: everyone, name: Everyone, members: [group0, group1] }\n");
    fs::write(dir.join("followups/tenant.yaml"), t).unwrap();
}

/// Definition `i`: one of five shapes, with its own id, name and values.
fn definition(i: usize) -> (String, String) {
    let (kind, template) = TEMPLATES[i % TEMPLATES.len()];
    let id = format!("{kind}-{i:04}");
    let text = template
        .replace("{id}", &id)
        .replace("{n}", &i.to_string())
        // group0 and group1 are in every tenant of the bench.
        .replace("{group}", &format!("group{}", i % 2))
        .replace("{attempts}", &(1 + i % 10).to_string())
        .replace("{from}", &(1 + i % 10).min(2).to_string());
    (id, text)
}

const TEMPLATES: [(&str, &str); 5] = [
    (
        "sn-approvals",
        r##"# Remind approvers of requested items (ServiceNow).
id: {id}
name: ServiceNow approvals {n}
status: active
description: Remind approvers of requested items waiting for them.

polling:
  every: 30m
  resolve_after: 2

extraction:
  integrations:
    - id: requests
      request:
        url: "@{global.servicenow_url}/api/now/table/sysapproval_approver"
        query:
          sysparm_query: "state=requested^ORDERBYsys_created_on"
          sysparm_fields: "sys_id,approver,approver.email,sysapproval.number,sysapproval.short_description"
        headers: { Accept: application/json }
        auth: { type: basic, username: "@{env.SN_USER}", password: "@{env.SN_PASSWORD}" }
      paginate: { type: offset, offset_param: sysparm_offset, limit_param: sysparm_limit, size: 100 }
      attributes:
        local.instance: "$.result[0].sys_domain.value"
  loop: "$.result[?@.state == 'requested']"
  reconciliation_id: "$.sys_id"

recipients:
  user: "$['approver.email']"
  escalate:
    - from_attempt: {from}
      group: {group}
      channel: email
      text: "Escalation: @{followup.data['sysapproval.number']} has waited @{followup.attempt} reminders."

message:
  channel: last_used
  fallback_channel: email
  text: "Hi @{recipient.name}, @{followup.data['sysapproval.number']} waits for your approval."
  card:
    title: "Approval needed: @{followup.data['sysapproval.number']}"
    text: "@{followup.data['sysapproval.short_description']}"
    fields:
      - { label: Requested by, value: "@{followup.data.requested_by ?? \"someone\"}" }
    actions:
      - { label: Approve, url: "@{global.servicenow_url}/sysapproval_approver.do?sys_id=@{followup.data.sys_id}", style: primary }
      - { label: Reject, url: "@{global.servicenow_url}/sysapproval_approver.do?sys_id=@{followup.data.sys_id}", style: danger }

schedule:
  every: 1d
  attempts: {attempts}
  window: { days: mon-fri, hours: "08:00-18:00", timezone: Europe/Lisbon }

after_each_attempt:
  - set: { local.note: "Reminder @{followup.attempt} of @{followup.attempts} sent" }
  - integration:
      request:
        method: PATCH
        url: "@{global.servicenow_url}/api/now/table/sysapproval_approver/@{followup.data.sys_id}"
        auth: { type: basic, username: "@{env.SN_USER}", password: "@{env.SN_PASSWORD}" }
        body: { comments: "@{local.note}" }
"##,
    ),
    (
        "jira-new",
        r##"# New Jira Service Management requests to the analysts.
id: {id}
name: Jira new requests {n}
description: Announce new unassigned requests.

polling:
  every: 10m
  first_poll: record_only

extraction:
  integrations:
    - request:
        method: POST
        url: "@{global.jira_url}/rest/api/3/search/jql"
        auth: { type: basic, username: "@{env.JIRA_EMAIL}", password: "@{env.JIRA_TOKEN}" }
        body:
          jql: "project = HELP AND status = Open AND assignee IS EMPTY ORDER BY created"
          fields: [summary, status, priority, reporter, created]
          maxResults: 100
      paginate: { type: cursor, path: "$.nextPageToken", body_path: nextPageToken, stop_path: "$.isLast" }
  loop: "$.issues[*]"
  reconciliation_id: "$.id"

recipients:
  group: {group}

message:
  channel: slack-room
  text: "New @{followup.data.fields.priority.name} request @{followup.data.key}: @{followup.data.fields.summary}"
  card:
    title: "@{followup.data.key}: @{followup.data.fields.summary}"
    fields:
      - { label: Reporter, value: "@{followup.data.fields.reporter.displayName}" }
    actions:
      - { label: Open, url: "@{global.jira_url}/browse/@{followup.data.key}" }

schedule:
  every: 1h
  attempts: 2
"##,
    ),
    (
        "zendesk-pending",
        r##"# Tickets waiting for the requester (Zendesk status pending).
id: {id}
name: Zendesk pending {n}
status: inactive

polling:
  every: 1h 30m

extraction:
  integrations:
    - request:
        url: "@{global.zendesk_url}/api/v2/search/export"
        query: { query: "type:ticket status:pending", "filter[type]": ticket, "page[size]": "100" }
        auth: { type: bearer, token: "@{env.ZENDESK_TOKEN}" }
        timeouts: { connect: 5s, total: 30s }
        max_response: 8MiB
      paginate: { type: next_url, path: "$.links.next", stop_path: "$.meta.has_more" }
  loop: "$.results[*]"
  reconciliation_id: "$.id"

recipients:
  user: "$.requester_id"
  lookup:
    request:
      url: "@{global.zendesk_url}/api/v2/users/@{lookup.value}.json"
      auth: { type: bearer, token: "@{env.ZENDESK_TOKEN}" }
    user: "$.user.email"
    attributes: { local.requester_name: "$.user.name" }

message:
  channel: email
  text: "Hi @{local.requester_name ?? \"there\"}, ticket #@{followup.data.id} (@{followup.data.subject}) waits for your reply."

schedule:
  every: 2d
  attempts: 3
  max_sends_per_pass: 200

after_all_attempts:
  - integration:
      request:
        method: PUT
        url: "@{global.zendesk_url}/api/v2/tickets/@{followup.data.id}.json"
        auth: { type: bearer, token: "@{env.ZENDESK_TOKEN}" }
        body: { ticket: { status: solved, comment: { body: "Closed after @{followup.attempts} reminders.", public: true } } }
"##,
    ),
    (
        "sf-opportunities",
        r##"# New Salesforce opportunities to their owner and the leadership.
id: {id}
name: Salesforce opportunities {n}

polling:
  every: 15m

extraction:
  integrations:
    - request:
        url: "@{global.salesforce_url}/services/data/v62.0/query"
        query: { q: "SELECT Id, Name, Amount, StageName, Owner.Email FROM Opportunity WHERE CreatedDate = TODAY" }
        auth:
          type: oauth2_client_credentials
          token_url: "@{global.salesforce_url}/services/oauth2/token"
          client_id: "@{env.SF_CLIENT_ID}"
          client_secret: "@{env.SF_CLIENT_SECRET}"
          client_auth: form
      paginate: { type: next_url, path: "$.nextRecordsUrl", stop_path: "$.done" }
  loop: "$.records"
  reconciliation_id: "$.Id"

recipients:
  user: ["$.Owner.Email", user1]
  group: [{group}, everyone]

message:
  channel: teams
  card:
    title: "New opportunity: @{followup.data.Name}"
    fields:
      - { label: Amount, value: "@{followup.data.Amount}" }
      - { label: Stage, value: "@{followup.data.StageName}" }
    actions:
      - { label: Open, url: "@{global.salesforce_url}/lightning/r/Opportunity/@{followup.data.Id}/view", style: primary }
  image: { url: "https://acme.example/img/deal.png", alt: New deal }

schedule:
  every: 1d
  attempts: 1
"##,
    ),
    (
        "github-issues",
        r##"# Stale issues from a command (gh), to the webhook bot.
id: {id}
name: GitHub stale issues {n}

polling:
  every: 6h

extraction:
  integrations:
    - command: ["gh", "issue", "list", "--json", "number,title,author,updatedAt", "--label", "needs-info"]
      timeout: 30s
  loop: "$[*]"
  reconciliation_id: "$.number"

recipients:
  user: "$.author.login"

message:
  channel: hook
  fallback_channel: console
  text: "@{recipient.id}: issue #@{followup.data.number} (@{followup.data.title}) needs your information."

schedule:
  every: 1d
  attempts: {attempts}
  window: { days: "sat,sun", hours: "22:00-06:00", timezone: America/New_York }

on_resolved:
  - set: { global.last_answered: "@{followup.data.number}", custom.answered: "yes" }
"##,
    ),
];
