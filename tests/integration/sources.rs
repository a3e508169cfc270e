//! Sources as the real systems serve them: servers that cap their pages
//! below what is asked, HTTP details (compression, proxies, BOMs, bad
//! JSON), and the shipped `examples/` run against local servers with each
//! system's response shape and paging.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::support::Test;
use crate::support::pass::{T0, event_names, events, pass, sent};
use crate::support::server::{Received, Reply, Server};

const TENANT: &str = "\
tenant: acme-test
channels:
  console: { type: console }
users:
  - { id: alice, name: Alice Doe, email: alice@example.com }
";

/// A ServiceNow table that returns at most `cap` records a page, whatever
/// `sysparm_limit` asks, with `X-Total-Count`; `/actions` takes actions.
struct CappedTable {
    server: Server,
    records: Arc<Mutex<Vec<Value>>>,
}

impl CappedTable {
    fn new(ids: &[&str], cap: usize) -> CappedTable {
        let records = Arc::new(Mutex::new(Vec::new()));
        let shared = records.clone();
        let server = Server::start(move |req| {
            if req.path.starts_with("/actions") {
                return Reply::json(200, json!({"ok": true}));
            }
            let all = shared.lock().unwrap().clone();
            let offset: usize = req.query("sysparm_offset").unwrap().parse().unwrap();
            let limit: usize = req.query("sysparm_limit").unwrap().parse().unwrap();
            let page: Vec<Value> = all
                .iter()
                .skip(offset)
                .take(limit.min(cap))
                .cloned()
                .collect();
            Reply::json(200, json!({"result": page}))
                .header("X-Total-Count", &all.len().to_string())
        });
        let table = CappedTable { server, records };
        table.set(ids);
        table
    }

    fn set(&self, ids: &[&str]) {
        *self.records.lock().unwrap() = ids
            .iter()
            .map(|id| json!({"sys_id": id, "number": format!("RITM-{id}"), "approver": {"value": "alice"}}))
            .collect();
    }

    /// The table requests (not actions) received since the last call.
    fn polls(&self, since: &mut usize) -> Vec<Received> {
        let all: Vec<Received> = self
            .server
            .requests()
            .into_iter()
            .filter(|r| !r.path.starts_with("/actions"))
            .collect();
        let new = all[*since..].to_vec();
        *since = all.len();
        new
    }

    fn resolved_actions(&self) -> Vec<Value> {
        self.server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/actions"))
            .map(Received::json)
            .collect()
    }
}

fn capped_definition(table: &CappedTable, paginate: &str) -> String {
    format!(
        "id: approvals
name: Pending approvals
polling:
  every: 30m
  resolve_after: 1
extraction:
  integrations:
    - id: approvals
      request:
        url: \"{}\"
      paginate: {paginate}
  loop: \"$.result[*]\"
  reconciliation_id: \"$.sys_id\"
recipients:
  user: \"$.approver.value\"
message:
  channel: console
  text: \"@{{followup.data.number}} waits for you.\"
schedule:
  every: 1d
  attempts: 3
on_resolved:
  - integration:
      request: {{ method: POST, url: \"{}\", body: {{ resolved: \"@{{followup.record_id}}\" }} }}
",
        table.server.url("/api/now/table/sysapproval_approver"),
        table.server.url("/actions/resolved"),
    )
}

/// Issue 7: offset paging moved by `size`, so a server capping its pages
/// at 3 while 100 were asked lost records, and when one record left, a
/// record still pending was resolved.
#[test]
fn a_capped_offset_source_loses_no_record_and_one_leaving_resolves_only_it() {
    let ids = ["a1", "a2", "a3", "a4", "a5", "a6", "a7"];
    for (paginate, requests_for) in [
        // Without a total: until the empty page.
        (
            "{ type: offset, offset_param: sysparm_offset, limit_param: sysparm_limit, size: 100 }",
            (|n: usize| n.div_ceil(3) + 1) as fn(usize) -> usize,
        ),
        // With ServiceNow's X-Total-Count: no empty page.
        (
            "{ type: offset, offset_param: sysparm_offset, limit_param: sysparm_limit, size: 100, total_header: X-Total-Count }",
            |n: usize| n.div_ceil(3),
        ),
    ] {
        let table = CappedTable::new(&ids, 3);
        let t = Test::new();
        t.write("followups/tenant.yaml", TENANT);
        t.write(
            "followups/approvals.yaml",
            &capped_definition(&table, paginate),
        );
        let mut seen = 0;

        let out = pass(&t, T0);
        out.assert_status(0);
        let records: Vec<String> = sent(&out.stdout)
            .iter()
            .map(|l| l["record"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(records, ids, "{paginate}");
        let polls = table.polls(&mut seen);
        assert_eq!(polls.len(), requests_for(7), "{paginate}");
        assert!(polls.len() <= 7usize.div_ceil(3) + 1);
        assert!(
            polls
                .iter()
                .all(|r| r.query("sysparm_limit") == Some("100"))
        );

        // a3 leaves: every later record moves up one place.
        table.set(&["a1", "a2", "a4", "a5", "a6", "a7"]);
        pass(&t, "2026-01-05T09:30:00Z").assert_status(0);
        assert_eq!(table.polls(&mut seen).len(), requests_for(6), "{paginate}");
        let resolved: Vec<Value> = events(&t, &["--event", "record.resolved"])
            .iter()
            .map(|e| e["record"].clone())
            .collect();
        assert_eq!(resolved, [json!("a3")], "{paginate}");
        assert_eq!(table.resolved_actions(), [json!({"resolved": "a3"})]);
        assert_eq!(
            event_names(&t, &["--event", "poll"]),
            ["poll.succeeded", "poll.succeeded"]
        );
    }
}

/// Issue 7: ServiceNow and Jira send `""` for an empty field, and
/// `@{followup.data.due_date ?? "no due date"}` rendered an empty value.
#[test]
fn an_empty_string_takes_the_fallback_and_the_docs_say_so() {
    let server = Server::start(|_| {
        Reply::json(
            200,
            json!({"result": [
                {"sys_id": "a1", "due_date": "", "approver": {"value": "alice"}},
                {"sys_id": "a2", "due_date": "2026-01-09", "approver": {"value": "alice"}},
                {"sys_id": "a3", "due_date": null, "approver": {"value": "alice"}},
            ]}),
        )
    });
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    t.write(
        "followups/approvals.yaml",
        &format!(
            "id: approvals
name: Pending approvals
polling: {{ every: 30m }}
extraction:
  integrations:
    - request: {{ url: \"{}\" }}
  loop: \"$.result[*]\"
  reconciliation_id: \"$.sys_id\"
recipients: {{ user: \"$.approver.value\" }}
message:
  channel: console
  text: \"Due: @{{followup.data.due_date ?? \\\"no due date\\\"}}\"
schedule: {{ every: 1d, attempts: 1 }}
",
            server.url("/api/now/table/sysapproval_approver")
        ),
    );
    t.run(&["validate"]).assert_status(0);
    let out = pass(&t, T0);
    let texts: Vec<Value> = sent(&out.assert_status(0).stdout)
        .iter()
        .map(|l| l["text"].clone())
        .collect();
    assert_eq!(
        texts,
        ["Due: no due date", "Due: 2026-01-09", "Due: no due date"]
    );

    let help = t.run(&["validate", "--help"]);
    assert!(
        help.stdout.contains(r#"missing, null or """#),
        "{}",
        help.stdout
    );
    let schema = t.run(&["schema"]).assert_status(0).json();
    let text = &schema["definitions"]["Message"]["properties"]["text"]["description"];
    assert!(
        text.as_str()
            .unwrap()
            .contains("the empty string counts as missing"),
        "{text}"
    );
}

/// Issue 7: the same requester's lookup URL was requested once per ticket.
#[test]
fn a_lookup_is_requested_once_per_pass_and_a_failed_one_is_not_retried() {
    let server = Server::start(|req| match req.path.as_str() {
        "/api/now/table/sysapproval_approver" => Reply::json(
            200,
            json!({"result": [
                {"sys_id": "a1", "approver": {"value": "u-alice"}},
                {"sys_id": "a2", "approver": {"value": "u-alice"}},
                {"sys_id": "a3", "approver": {"value": "u-down"}},
                {"sys_id": "a4", "approver": {"value": "u-alice"}},
                {"sys_id": "a5", "approver": {"value": "u-down"}},
            ]}),
        ),
        "/api/now/table/sys_user/u-alice" => {
            Reply::json(200, json!({"result": {"user_name": "alice"}}))
        }
        _ => Reply::json(503, json!({"error": {"message": "busy"}})),
    });
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    t.write(
        "followups/approvals.yaml",
        &format!(
            "id: approvals
name: Pending approvals
polling: {{ every: 30m }}
extraction:
  integrations:
    - request: {{ url: \"{base}/api/now/table/sysapproval_approver\" }}
  loop: \"$.result[*]\"
  reconciliation_id: \"$.sys_id\"
recipients:
  user: \"$.approver.value\"
  lookup:
    request: {{ url: \"{base}/api/now/table/sys_user/@{{lookup.value}}\" }}
    user: \"$.result.user_name\"
message: {{ channel: console, text: \"@{{followup.record_id}} waits\" }}
schedule: {{ every: 1d, attempts: 3 }}
",
            base = server.url("")
        ),
    );
    let out = pass(&t, T0);
    let records: Vec<Value> = sent(&out.assert_status(0).stdout)
        .iter()
        .map(|l| l["record"].clone())
        .collect();
    assert_eq!(records, ["a1", "a2", "a4"]);
    let lookups = |user: &str| {
        server
            .requests()
            .iter()
            .filter(|r| r.path == format!("/api/now/table/sys_user/{user}"))
            .count()
    };
    assert_eq!(lookups("u-alice"), 1);
    assert_eq!(
        lookups("u-down"),
        1,
        "a failed lookup is not retried in the pass"
    );
    let deferred = events(&t, &["--event", "notification.deferred"]);
    let deferred: Vec<&Value> = deferred.iter().map(|e| &e["record"]).collect();
    assert_eq!(deferred, ["a3", "a5"]);
    // The next pass asks again.
    pass(&t, "2026-01-05T09:10:00Z").assert_status(0);
    assert_eq!(lookups("u-down"), 2);
}
