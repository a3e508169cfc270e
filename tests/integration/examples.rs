//! The follow-ups in `examples/<system>/`, one per real system: each
//! validates as shipped, and runs against a local server that answers with
//! that system's shapes, auth and paging over three pages. Every record
//! must arrive exactly once, in the exact number of requests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::pass::{T0, event_names, sent};
use crate::support::server::{Received, Reply, Server};
use crate::support::{Output, Test};

fn example_dir(system: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(system)
}

/// `followup validate` over the shipped directory is clean, and a copy of
/// it is set up in a new test dir.
fn example(system: &str) -> Test {
    let dir = example_dir(system);
    Test::new()
        .run(&["--dir", dir.to_str().unwrap(), "validate"])
        .assert_status(0)
        .assert_stdout("")
        .assert_stderr("1 follow-up checked: 0 errors, 0 warnings\n");
    let t = Test::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        t.write(
            &format!("followups/{name}"),
            &std::fs::read_to_string(&path).unwrap(),
        );
    }
    t
}

fn run(t: &Test, now: &str, env: &[(&str, String)]) -> Output {
    let mut cmd = t.cmd(&["run-once"]).now(now);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let out = cmd.run();
    out.assert_status(0);
    assert!(out.stderr.contains(" 0 failed,"), "{}", out.stderr);
    out
}

/// The records the console got, each exactly once.
#[track_caller]
fn records_once(out: &Output) -> BTreeSet<String> {
    let records: Vec<String> = sent(&out.stdout)
        .iter()
        .map(|l| l["record"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<String> = records.iter().cloned().collect();
    assert_eq!(unique.len(), records.len(), "a record twice: {records:?}");
    unique
}

fn set(ids: impl IntoIterator<Item = impl ToString>) -> BTreeSet<String> {
    ids.into_iter().map(|id| id.to_string()).collect()
}

/// `http://host` of the server a request reached, for absolute next links.
fn origin(req: &Received) -> String {
    format!("http://{}", req.header("host").unwrap())
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn servicenow_approvals_page_by_offset_up_to_x_total_count() {
    const TOTAL: usize = 250;
    let server = Server::start(|req| {
        let offset: usize = req.query("sysparm_offset").unwrap().parse().unwrap();
        let limit: usize = req.query("sysparm_limit").unwrap().parse().unwrap();
        let result: Vec<Value> = (offset..TOTAL.min(offset + limit))
            .map(|i| {
                json!({
                    "sys_id": format!("{i:032x}"),
                    "state": "requested",
                    "approver": "46d44a23a9fe19810012d100cca80666",
                    "approver.email": if i.is_multiple_of(2) { "beth.anglin@example.com" } else { "david.loo@example.com" },
                    "approver.name": "Beth Anglin",
                    "sysapproval.number": format!("RITM{:07}", 10000 + i),
                    "sysapproval.short_description": "New laptop",
                    "source_table": "sc_req_item",
                    "due_date": "",
                    "sys_created_on": "2024-05-01 09:12:44",
                })
            })
            .collect();
        Reply::json(200, json!({ "result": result }))
            .header("X-Total-Count", &TOTAL.to_string())
            .header("Content-Type", "application/json;charset=UTF-8")
    });
    let t = example("servicenow");
    let out = run(
        &t,
        T0,
        &[
            ("SN_URL", server.url("")),
            ("SN_USER", "followup".into()),
            ("SN_PASSWORD", "pa ss".into()),
        ],
    );
    assert_eq!(
        records_once(&out),
        set((0..TOTAL).map(|i| format!("{i:032x}")))
    );
    let lines = sent(&out.stdout);
    assert_eq!(
        lines[1]["text"],
        "Hi David Loo, RITM0010001 (New laptop) waits for your approval (due whenever you can)."
    );

    let requests = server.requests();
    let offsets: Vec<&str> = requests
        .iter()
        .map(|r| r.query("sysparm_offset").unwrap())
        .collect();
    // Three pages, no fourth: X-Total-Count said 250.
    assert_eq!(offsets, ["0", "100", "200"]);
    for r in &requests {
        assert_eq!(r.path, "/api/now/table/sysapproval_approver");
        assert_eq!(r.query("sysparm_limit"), Some("100"));
        assert_eq!(
            r.query("sysparm_query"),
            Some("state=requested^ORDERBYsys_created_on")
        );
        assert!(
            r.query("sysparm_fields")
                .unwrap()
                .contains("approver.email")
        );
        assert_eq!(
            r.header("authorization"),
            Some(basic("followup", "pa ss").as_str())
        );
    }
}

#[test]
fn jira_issues_page_by_next_page_token_and_are_known_by_id_not_key() {
    use std::sync::{Arc, Mutex};
    // The project issues are moved to, from the second pass on.
    let project = Arc::new(Mutex::new("ITSM"));
    let shared = project.clone();
    let server = Server::start(move |req| {
        let page: usize = match req.query("nextPageToken") {
            None => 1,
            Some(token) => token.trim_start_matches("tok-").parse().unwrap(),
        };
        let project = *shared.lock().unwrap();
        let issues: Vec<Value> = (0..2)
            .map(|i| {
                let n = (page - 1) * 2 + i;
                json!({
                    "id": format!("{}", 10000 + n),
                    "key": format!("{project}-{}", 100 + n),
                    "fields": {
                        "summary": format!("Issue {n}"),
                        "status": {"name": "Waiting for customer"},
                        "reporter": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Abel Tuter", "emailAddress": "abel.tuter@example.com"},
                        "assignee": if n == 0 { Value::Null } else { json!({"displayName": "Mia Krystof"}) },
                        "updated": "2024-05-01T09:15:02.311+0000",
                    }
                })
            })
            .collect();
        let mut body = json!({ "issues": issues, "isLast": page == 3 });
        if page < 3 {
            body["nextPageToken"] = json!(format!("tok-{}", page + 1));
        }
        Reply::json(200, body)
    });
    let t = example("jira");
    let env = [
        ("JIRA_URL", server.url("")),
        ("JIRA_EMAIL", "bot@acme.example".into()),
        ("JIRA_API_TOKEN", "atl-token".into()),
    ];
    let out = run(&t, T0, &env);
    assert_eq!(records_once(&out), set(10000..10006));
    let lines = sent(&out.stdout);
    assert_eq!(
        lines[0]["text"],
        "Hi Abel Tuter, ITSM-100 (Issue 0) waits for your answer to the service desk."
    );
    let requests = server.requests();
    let tokens: Vec<Option<&str>> = requests.iter().map(|r| r.query("nextPageToken")).collect();
    assert_eq!(tokens, [None, Some("tok-2"), Some("tok-3")]);
    for r in &requests {
        assert_eq!(r.path, "/rest/api/3/search/jql");
        assert_eq!(
            r.query("jql"),
            Some("status = \"Waiting for customer\" ORDER BY created ASC")
        );
        assert_eq!(r.query("maxResults"), Some("100"));
        assert_eq!(
            r.header("authorization"),
            Some(basic("bot@acme.example", "atl-token").as_str())
        );
    }

    // Every issue moves to another project: new keys, same ids. Nothing is
    // resolved and nothing starts over.
    *project.lock().unwrap() = "HELP";
    let out = run(&t, "2026-01-05T10:00:00Z", &env);
    assert_eq!(out.stdout, "");
    assert_eq!(server.requests().len(), 6);
    let later = run(&t, "2026-01-05T11:00:00Z", &env);
    assert_eq!(later.stdout, "");
    assert!(event_names(&t, &["--event", "record.resolved"]).is_empty());
    assert_eq!(event_names(&t, &["--event", "record.opened"]).len(), 6);
}

#[test]
fn zendesk_pending_tickets_page_by_cursor_while_has_more() {
    let server = Server::start(|req| {
        if let Some(user) = req.path.strip_prefix("/api/v2/users/") {
            let id: u64 = user.trim_end_matches(".json").parse().unwrap();
            return Reply::json(
                200,
                json!({"user": {"id": id, "name": format!("Requester {id}"), "email": format!("requester{id}@example.com")}}),
            );
        }
        let page: usize = match req.query("page[after]") {
            None => 1,
            Some(cursor) => cursor.trim_start_matches("cursor-").parse().unwrap(),
        };
        let results: Vec<Value> = (0..2)
            .map(|i| {
                let n = (page - 1) * 2 + i;
                json!({
                    "id": 35436 + n,
                    "subject": format!("Ticket {n}"),
                    "status": "pending",
                    "requester_id": 20978390 + n % 3,
                    "assignee_id": 235323,
                    "result_type": "ticket",
                })
            })
            .collect();
        // Zendesk sends a cursor and a next link on the last page too:
        // only has_more says it is the last.
        let next = format!("cursor-{}", page + 1);
        Reply::json(
            200,
            json!({
                "results": results,
                "facets": null,
                "meta": {"has_more": page < 3, "after_cursor": next, "before_cursor": null},
                "links": {"next": format!("{}/api/v2/search/export?page%5Bafter%5D={next}", origin(req)), "prev": null},
            }),
        )
    });
    let t = example("zendesk");
    let out = run(
        &t,
        T0,
        &[
            ("ZENDESK_URL", server.url("")),
            ("ZENDESK_USER", "bot@acme.example/token".into()),
            ("ZENDESK_API_TOKEN", "zd-token".into()),
        ],
    );
    assert_eq!(records_once(&out), set(35436..35442));
    let to: BTreeSet<String> = sent(&out.stdout)
        .iter()
        .map(|l| l["recipient"]["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        to,
        set((20978390..20978393).map(|id| format!("requester{id}@example.com")))
    );
    assert_eq!(
        sent(&out.stdout)[1]["text"],
        "Hi Requester 20978391, your ticket #35437 (Ticket 1) waits for your reply."
    );

    let requests = server.requests();
    let (searches, lookups): (Vec<&Received>, Vec<&Received>) = requests
        .iter()
        .partition(|r| r.path == "/api/v2/search/export");
    let cursors: Vec<Option<&str>> = searches.iter().map(|r| r.query("page[after]")).collect();
    assert_eq!(cursors, [None, Some("cursor-2"), Some("cursor-3")]);
    for r in &searches {
        assert_eq!(r.query("query"), Some("type:ticket status:pending"));
        assert_eq!(r.query("filter[type]"), Some("ticket"));
        assert_eq!(r.query("page[size]"), Some("100"));
    }
    // One lookup per requester, not per ticket.
    let mut looked_up: Vec<&str> = lookups.iter().map(|r| r.path.as_str()).collect();
    looked_up.sort();
    assert_eq!(
        looked_up,
        [
            "/api/v2/users/20978390.json",
            "/api/v2/users/20978391.json",
            "/api/v2/users/20978392.json"
        ]
    );
    assert_eq!(requests.len(), 6);
    let auth = basic("bot@acme.example/token", "zd-token");
    assert!(
        requests
            .iter()
            .all(|r| r.header("authorization") == Some(auth.as_str()))
    );
}

#[test]
fn salesforce_work_items_get_a_token_then_follow_relative_next_records_urls() {
    let server = Server::start(|req| {
        if req.path == "/services/oauth2/token" {
            return Reply::json(
                200,
                json!({
                    "access_token": "00DRO000000XXXX!AQ0AQ.token",
                    "scope": "api",
                    "instance_url": origin(req),
                    "token_type": "Bearer",
                    "issued_at": "1714554720000",
                }),
            );
        }
        let page: usize = match req
            .path
            .strip_prefix("/services/data/v62.0/query/01gRO0000016PIAYA2-")
        {
            None => 1,
            Some(n) => n.parse::<usize>().unwrap() / 2 + 1,
        };
        let records: Vec<Value> = (0..2)
            .map(|i| {
                let n = (page - 1) * 2 + i;
                json!({
                    "attributes": {"type": "ProcessInstanceWorkitem", "url": format!("/services/data/v62.0/sobjects/ProcessInstanceWorkitem/04iRO00000000{n}YAK")},
                    "Id": format!("04iRO00000000{n}YAK"),
                    "ActorId": "005RO000001XyZaYAK",
                    "Actor": {"attributes": {"type": "Name"}, "Name": "Beth Anglin", "Email": "beth.anglin@example.com"},
                    "ProcessInstance": {"attributes": {"type": "ProcessInstance"}, "Status": "Pending", "TargetObjectId": "006RO00000ABC12YAA", "TargetObject": {"attributes": {"type": "Name"}, "Name": format!("Deal {n}")}},
                    "CreatedDate": "2024-05-01T09:12:44.000+0000",
                    "ElapsedTimeInDays": 1.25,
                })
            })
            .collect();
        let mut body = json!({"totalSize": 6, "done": page == 3, "records": records});
        if page < 3 {
            body["nextRecordsUrl"] = json!(format!(
                "/services/data/v62.0/query/01gRO0000016PIAYA2-{}",
                page * 2
            ));
        }
        Reply::json(200, body)
    });
    let t = example("salesforce");
    let out = run(
        &t,
        T0,
        &[
            ("SALESFORCE_URL", server.url("")),
            ("SF_CLIENT_ID", "3MVG9.client".into()),
            ("SF_CLIENT_SECRET", "sf-secret".into()),
        ],
    );
    assert_eq!(
        records_once(&out),
        set((0..6).map(|n| format!("04iRO00000000{n}YAK")))
    );
    assert_eq!(
        sent(&out.stdout)[0]["text"],
        "Hi Beth Anglin, Deal 0 waits for your approval (pending for 1.25 days)."
    );

    let requests = server.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    // One token for the pass, then three pages.
    assert_eq!(
        paths,
        [
            "/services/oauth2/token",
            "/services/data/v62.0/query",
            "/services/data/v62.0/query/01gRO0000016PIAYA2-2",
            "/services/data/v62.0/query/01gRO0000016PIAYA2-4",
        ]
    );
    let token = &requests[0];
    assert_eq!(token.method, "POST");
    let form = token.form();
    assert!(
        form.contains(&("grant_type".into(), "client_credentials".into())),
        "{form:?}"
    );
    let credentials = form.contains(&("client_secret".into(), "sf-secret".into()))
        || token.header("authorization") == Some(basic("3MVG9.client", "sf-secret").as_str());
    assert!(credentials, "{form:?}");
    assert!(requests[1].query("q").unwrap().starts_with(
        "SELECT Id, ActorId, Actor.Name, Actor.Email, ProcessInstance.TargetObjectId"
    ));
    for r in &requests[1..] {
        assert_eq!(
            r.header("authorization"),
            Some("Bearer 00DRO000000XXXX!AQ0AQ.token")
        );
    }
}

#[test]
fn github_issues_page_by_link_header_and_pull_requests_are_dropped() {
    let server = Server::start(|req| {
        let page: usize = req.query("page").map_or(1, |p| p.parse().unwrap());
        let mut items: Vec<Value> = (0..2)
            .map(|i| {
                let n = (page - 1) * 2 + i;
                json!({
                    "id": 2248760000u64 + n as u64,
                    "number": 41 + n,
                    "title": format!("Issue {n}"),
                    "html_url": format!("https://github.com/octo-org/helpdesk/issues/{}", 41 + n),
                    "user": {"login": if n.is_multiple_of(2) { "abel-tuter" } else { "mia-krystof" }},
                    "labels": [{"name": "needs-info"}],
                    "state": "open",
                })
            })
            .collect();
        // A pull request on every page: it has `pull_request`.
        items.push(json!({
            "id": 2248769000u64 + page as u64,
            "number": 900 + page,
            "title": "Bump dependency",
            "html_url": format!("https://github.com/octo-org/helpdesk/pull/{}", 900 + page),
            "user": {"login": "abel-tuter"},
            "pull_request": {"url": "https://api.github.com/repos/octo-org/helpdesk/pulls/1"},
        }));
        let base = format!(
            "{}/repositories/1300192/issues?state=open&labels=needs-info&per_page=100",
            origin(req)
        );
        let mut links = vec![format!("<{base}&page=3>; rel=\"last\"")];
        if page < 3 {
            links.insert(0, format!("<{base}&page={}>; rel=\"next\"", page + 1));
        }
        Reply::json(200, Value::Array(items)).header("Link", &links.join(", "))
    });
    let t = example("github");
    let out = run(
        &t,
        T0,
        &[
            ("GITHUB_URL", server.url("")),
            ("GITHUB_TOKEN", "github_pat_x".into()),
        ],
    );
    assert_eq!(records_once(&out), set(2248760000u64..2248760006));
    assert_eq!(
        sent(&out.stdout)[1]["text"],
        "Hi Mia Krystof, issue #42 (Issue 1) waits for the information asked for: https://github.com/octo-org/helpdesk/issues/42"
    );

    let requests = server.requests();
    let targets: Vec<(&str, Option<&str>)> = requests
        .iter()
        .map(|r| (r.path.as_str(), r.query("page")))
        .collect();
    assert_eq!(
        targets,
        [
            ("/repos/octo-org/helpdesk/issues", None),
            ("/repositories/1300192/issues", Some("2")),
            ("/repositories/1300192/issues", Some("3")),
        ]
    );
    assert_eq!(requests[0].query("labels"), Some("needs-info"));
    for r in &requests {
        assert_eq!(r.header("authorization"), Some("Bearer github_pat_x"));
        assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
    }
}

/// The README's Sources section links every example, and every link
/// points at a file that is there.
#[test]
fn the_readme_links_every_example() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let sources = readme
        .split("\n## Sources\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Sources section");
    let mut systems: Vec<String> = std::fs::read_dir(repo.join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("tenant.yaml").exists())
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    systems.sort();
    assert_eq!(
        systems,
        ["github", "jira", "salesforce", "servicenow", "zendesk"]
    );
    for system in &systems {
        let link = format!("](examples/{system}/");
        let at = sources
            .find(&link)
            .unwrap_or_else(|| panic!("no link to examples/{system}"));
        let target = &sources[at + 2..];
        let target = &target[..target.find(')').unwrap()];
        assert!(repo.join(target).is_file(), "{target}");
    }
}
