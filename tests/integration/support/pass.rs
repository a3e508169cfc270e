//! What the run-once tests share: a local source whose answer a test
//! changes between passes, a definition polling it, and readers of what a
//! pass sent and wrote.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::server::{Reply, Server};
use super::{Output, Test};

/// The first pass of most scenarios: a Monday, 09:00 UTC.
pub const T0: &str = "2026-01-05T09:00:00Z";

/// A schedule: every day, three attempts.
pub const DAILY_3: &str = "  every: 1d\n  attempts: 3";

/// A source whose answer the test changes between passes; `/actions...`
/// answers 200 to actions.
pub struct Source {
    pub server: Server,
    answer: Arc<Mutex<Reply>>,
}

impl Source {
    pub fn new(records: Value) -> Source {
        let answer = Arc::new(Mutex::new(Reply::json(200, json!({ "result": records }))));
        let shared = answer.clone();
        let server = Server::start(move |req| {
            if req.path.starts_with("/actions") {
                return Reply::json(200, json!({"ok": true}));
            }
            shared.lock().unwrap().clone()
        });
        Source { server, answer }
    }

    pub fn records(&self, records: Value) {
        self.reply(Reply::json(200, json!({ "result": records })));
    }

    pub fn reply(&self, reply: Reply) {
        *self.answer.lock().unwrap() = reply;
    }

    pub fn url(&self) -> String {
        self.server.url("/api/now/table/sysapproval_approver")
    }

    /// The bodies of the requests made to `/actions...`.
    pub fn actions(&self) -> Vec<Value> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/actions"))
            .map(|r| r.json())
            .collect()
    }
}

/// A ServiceNow-like approval record.
pub fn approval(id: &str, approver: &str) -> Value {
    json!({"sys_id": id, "number": format!("RITM-{id}"), "approver": {"value": approver}})
}

/// A definition polling `url`, with `schedule` as its schedule's body and
/// `extra` YAML appended at the top level.
pub fn definition(url: &str, schedule: &str, extra: &str) -> String {
    format!(
        "id: approvals
name: Pending approvals
polling:
  every: 30m
  resolve_after: 2
extraction:
  integrations:
    - id: requests
      request:
        url: \"{url}\"
        query: {{ sysparm_query: \"state=requested\" }}
  loop: \"$.result[*]\"
  reconciliation_id: \"$.sys_id\"
recipients:
  user: \"$.approver.value\"
message:
  channel: console
  text: \"Hi @{{recipient.name}}, @{{followup.data.number}} waits (reminder @{{followup.attempt}} of @{{followup.attempts}}).\"
schedule:
{schedule}
{extra}"
    )
}

/// The JSON lines of a console stdout or a file channel's outbox.
pub fn sent(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// (record, attempt, recipient) of each line, for compact assertions.
pub fn who(lines: &[Value]) -> Vec<(String, i64, String)> {
    lines
        .iter()
        .map(|l| {
            (
                l["record"].as_str().unwrap().to_owned(),
                l["attempt"].as_i64().unwrap(),
                l["recipient"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// One pass at `now`.
pub fn pass(t: &Test, now: &str) -> Output {
    t.cmd(&["run-once"]).now(now).run()
}

/// The events `history` shows with these filters.
pub fn events(t: &Test, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["history", "--format", "json"];
    all.extend_from_slice(args);
    t.run(&all)
        .assert_status(0)
        .json()
        .as_array()
        .unwrap()
        .clone()
}

pub fn event_names(t: &Test, args: &[&str]) -> Vec<String> {
    events(t, args)
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}
