//! The follow-ups and tenants the scenarios run: ServiceNow-shaped pass
//! definitions polling the local server, and (for `validate`) a tenant the
//! size of a mid-sized service desk with definitions in the shapes
//! operators write.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// The tenant of the pass scenarios: a `file` channel, the sink as a
/// `webhook` channel, and the two approvers of the served records.
pub fn pass_tenant(dir: &Path, sink: &str) {
    fs::create_dir_all(dir.join("followups")).unwrap();
    let text = format!(
        "tenant: bench
channels:
  outbox: {{ type: file, path: outbox.jsonl }}
  hook: {{ type: webhook, url: \"{sink}\" }}
users:
  - {{ id: alice, name: Alice Doe, email: alice@example.com }}
  - {{ id: bob, name: Bob Roe, email: bob@example.com }}
"
    );
    fs::write(dir.join("followups/tenant.yaml"), text).unwrap();
}

/// A follow-up of approvals polled from `table` (a URL of the local
/// server), 1,000 records a page with offset pagination.
pub fn approvals(id: &str, table: &str, first_poll: &str, channel: &str) -> String {
    format!(
        "id: {id}
name: Bench {id}
polling:
  every: 30m
  first_poll: {first_poll}
  max_records: 200000
extraction:
  integrations:
    - request:
        url: \"{table}\"
        query: {{ sysparm_query: \"state=requested^ORDERBYsys_created_on\" }}
        headers: {{ Accept: application/json }}
      paginate: {{ type: offset, offset_param: sysparm_offset, limit_param: sysparm_limit, size: 1000, max_pages: 200 }}
  loop: \"$.result[*]\"
  reconciliation_id: \"$.sys_id\"
recipients:
  user: \"$.approver.value\"
message:
  channel: {channel}
  text: \"Hi @{{recipient.name}}, @{{followup.data.number}} waits for your approval: @{{followup.data.short_description}}\"
schedule:
  every: 1d
  attempts: 3
"
    )
}

/// Writes `definitions` (id, text) under `dir/followups`.
pub fn write_definitions(dir: &Path, definitions: &[(String, String)]) {
    for (id, text) in definitions {
        fs::write(dir.join(format!("followups/{id}.yaml")), text).unwrap();
    }
}

// ---------------------------------------------------------------------------
// The data: a tenant the size of a mid-sized service desk, and definitions
// in the shapes operators write (ServiceNow, Jira, Zendesk, Salesforce),
// with requests, auth, pagination, cards, escalations, windows and actions.

pub const USERS: usize = 400;
pub const GROUPS: usize = 40;

pub fn validate_tenant(dir: &Path, users: usize, groups: usize) {
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
pub fn realistic(i: usize) -> (String, String) {
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
