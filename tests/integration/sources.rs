//! Sources as the real systems serve them: servers that cap their pages
//! below what is asked, and HTTP details (compression, proxies, BOMs, bad
//! JSON). The shipped `examples/` are run in `examples.rs`.

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

// --- HTTP details: every request integration, against local servers ---

/// A follow-up polling `@{env.SN_URL}/api/now/table/incident`, `next_url`
/// paging on `$.next`.
const INCIDENTS: &str = "id: incidents
name: Incidents on hold
polling: { every: 30m }
extraction:
  integrations:
    - id: incidents
      request: { url: \"@{env.SN_URL}/api/now/table/incident\" }
      paginate: { type: next_url, path: \"$.next\" }
  loop: \"$.result[*]\"
  reconciliation_id: \"$.sys_id\"
recipients: { user: alice }
message: { channel: console, text: \"@{followup.record_id} is on hold\" }
schedule: { every: 1d, attempts: 1 }
";

fn incidents_test() -> Test {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    t.write("followups/incidents.yaml", INCIDENTS);
    t
}

/// Page `n` (1-based) of three, each with one record, `$.next` naming the
/// next.
fn incident_page(n: u32) -> Vec<u8> {
    let next = if n < 3 {
        json!(format!("/api/now/table/incident?page={}", n + 1))
    } else {
        Value::Null
    };
    json!({"result": [{"sys_id": format!("i{n}")}], "next": next})
        .to_string()
        .into_bytes()
}

fn page_number(req: &Received) -> u32 {
    req.query("page").map_or(1, |p| p.parse().unwrap())
}

fn records_sent(out: &crate::support::Output) -> Vec<String> {
    sent(&out.stdout)
        .iter()
        .map(|l| l["record"].as_str().unwrap().to_owned())
        .collect()
}

fn compress(coding: &str, data: &[u8]) -> Vec<u8> {
    use flate2::Compression;
    use std::io::Write;
    match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        _ => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
    }
}

/// Issue 7: gzip and deflate are asked for and decoded, and every request
/// says it is followup.
#[test]
fn gzip_and_deflate_pages_are_decoded_and_requests_carry_the_user_agent() {
    let server = Server::start(|req| {
        let n = page_number(req);
        let page = incident_page(n);
        match n {
            1 => Reply::bytes(200, compress("gzip", &page)).header("Content-Encoding", "gzip"),
            2 => Reply::bytes(200, compress("zlib", &page)).header("Content-Encoding", "deflate"),
            _ => Reply::bytes(200, page),
        }
        .header("Content-Type", "application/json")
    });
    let t = incidents_test();
    let out = t
        .cmd(&["run-once"])
        .now(T0)
        .env("SN_URL", server.url(""))
        .run();
    out.assert_status(0);
    assert_eq!(records_sent(&out), ["i1", "i2", "i3"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for req in &requests {
        assert_eq!(req.header("accept-encoding"), Some("gzip, deflate"));
        assert_eq!(
            req.header("user-agent"),
            Some(concat!("followup/", env!("CARGO_PKG_VERSION")))
        );
    }
}

/// Issue 7: a gzip bomb (4 GiB of zeros in 4 MiB) fails the poll at
/// `max_response` with a clear error, in a process that may not use more
/// than 2 GiB of address space.
#[test]
fn a_gzip_bomb_fails_the_poll_cleanly_within_max_response() {
    let member = compress("gzip", &vec![0; 1 << 20]);
    let bomb: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 4096)
        .collect();
    assert!(bomb.len() < 8 << 20, "{}", bomb.len());
    let bomb = Arc::new(bomb);
    let server =
        Server::start(move |_| Reply::bytes(200, bomb.to_vec()).header("Content-Encoding", "gzip"));
    let t = incidents_test();
    let out = t
        .cmd(&["run-once"])
        .now(T0)
        .env("SN_URL", server.url(""))
        .shell_prefix("ulimit -v 2097152")
        .run();
    out.assert_status(1).assert_stdout("");
    assert!(
        out.stderr.contains(
            "integration `incidents` (GET @{env.SN_URL}/api/now/table/incident), page 1: \
             the response is larger than max_response (16777216 bytes) once decompressed (gzip)"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(event_names(&t, &["--event", "poll"]), ["poll.failed"]);
}

/// Issue 7: a body starting with a UTF-8 byte order mark is JSON.
#[test]
fn a_byte_order_mark_before_the_json_is_dropped() {
    let server = Server::start(|req| {
        let mut body = b"\xEF\xBB\xBF".to_vec();
        body.extend(incident_page(page_number(req)));
        Reply::bytes(200, body).header("Content-Type", "application/json; charset=utf-8")
    });
    let t = incidents_test();
    let out = t
        .cmd(&["run-once"])
        .now(T0)
        .env("SN_URL", server.url(""))
        .run();
    out.assert_status(0);
    assert_eq!(records_sent(&out), ["i1", "i2", "i3"]);
}

/// Issue 7: bad JSON names the integration, the page and the byte.
#[test]
fn bad_json_names_the_integration_the_page_and_the_byte() {
    const BROKEN: &str = r#"{"result": [{"sys_id": "i2", "state": }], "next": null}"#;
    let server = Server::start(|req| match page_number(req) {
        2 => Reply::text(200, BROKEN),
        n => Reply::bytes(200, incident_page(n)),
    });
    let t = incidents_test();
    let out = t
        .cmd(&["run-once"])
        .now(T0)
        .env("SN_URL", server.url(""))
        .run();
    out.assert_status(1).assert_stdout("");
    let byte = BROKEN.find(": }").unwrap() + 2;
    let expected = format!(
        "integration `incidents` (GET @{{env.SN_URL}}/api/now/table/incident), page 2: \
         invalid JSON at byte {byte} (line 1, column {}): expected value; it starts: {BROKEN}",
        byte + 1
    );
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    let failed = events(&t, &["--event", "poll.failed"]);
    assert!(
        failed[0]["detail"].as_str().unwrap().contains(&expected),
        "{}",
        failed[0]
    );
}

/// Issue 7: `HTTP_PROXY`/`HTTPS_PROXY` (either case) carry requests of
/// their scheme; `NO_PROXY` and loopback go direct.
#[test]
fn proxy_variables_are_honoured_and_no_proxy_goes_direct() {
    use crate::support::proxy::Proxy;
    let server = Server::start(|req| Reply::bytes(200, incident_page(page_number(req))));
    let upstream: std::net::SocketAddr = server
        .url("")
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let port = upstream.port();
    let t = incidents_test();
    let run = |env: &[(&str, String)]| {
        let mut cmd = t.cmd(&["run-once", "--db", "proxy.db"]).now(T0);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        let out = cmd.run();
        std::fs::remove_file(t.path("proxy.db")).unwrap();
        out
    };
    let host = format!("acme.service-now.invalid:{port}");

    // Through the proxy: a name no DNS knows reaches the server.
    for name in ["HTTP_PROXY", "http_proxy"] {
        let proxy = Proxy::start(Some(upstream));
        let before = server.requests().len();
        let out = run(&[("SN_URL", format!("http://{host}")), (name, proxy.url())]);
        out.assert_status(0);
        assert_eq!(records_sent(&out), ["i1", "i2", "i3"], "{name}");
        // ureq tunnels plain http too: one CONNECT per connection.
        assert_eq!(
            proxy.lines(),
            vec![format!("CONNECT {host} HTTP/1.1"); 3],
            "{name}"
        );
        let through = &server.requests()[before..];
        assert!(
            through
                .iter()
                .all(|r| r.header("host") == Some(host.as_str()))
        );
    }

    // NO_PROXY: direct, so the unknown name fails to resolve; the proxy
    // saw nothing.
    let proxy = Proxy::start(Some(upstream));
    let out = run(&[
        ("SN_URL", format!("http://{host}")),
        ("HTTP_PROXY", proxy.url()),
        ("NO_PROXY", "localhost,.service-now.invalid".into()),
    ]);
    out.assert_status(1);
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
    assert_eq!(proxy.lines(), Vec::<String>::new());

    // Loopback never goes through a proxy.
    let out = run(&[("SN_URL", server.url("")), ("HTTP_PROXY", proxy.url())]);
    out.assert_status(0);
    assert_eq!(records_sent(&out), ["i1", "i2", "i3"]);
    assert_eq!(proxy.lines(), Vec::<String>::new());

    // https goes to HTTPS_PROXY, not HTTP_PROXY; a refusal is a clear error.
    let refusing = Proxy::start(None);
    let out = run(&[
        ("SN_URL", "https://acme.service-now.invalid".into()),
        ("HTTPS_PROXY", refusing.url()),
        ("HTTP_PROXY", proxy.url()),
    ]);
    out.assert_status(1);
    assert!(
        out.stderr
            .contains("page 1: cannot connect: proxy: proxy server responded 403"),
        "{}",
        out.stderr
    );
    assert_eq!(
        refusing.lines(),
        ["CONNECT acme.service-now.invalid:443 HTTP/1.1"]
    );
    assert_eq!(proxy.lines(), Vec::<String>::new());

    // A proxy variable that is no URL names itself, not its value.
    let out = run(&[
        ("SN_URL", format!("http://{host}")),
        ("HTTP_PROXY", "http://user:s3cret@[bad".into()),
    ]);
    out.assert_status(1);
    assert!(
        out.stderr
            .contains("the environment variable HTTP_PROXY is not a proxy URL"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("s3cret"));
}
