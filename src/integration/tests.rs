//! `fetch` and `fetch_source` against the local test server, with the
//! shapes of the services followup polls (ServiceNow, Jira, Zendesk,
//! Salesforce, HubSpot, GitHub), written here from their documented forms.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::test_server::{Received, Reply, Server};
use super::*;
use crate::definition::followup::{Auth, Body, CursorTarget, LastPage, PaginateKind, Total};
use crate::definition::model::{ClientAuth, Method};
use crate::path::JsonPath;
use crate::template::Template;

fn t(source: &str) -> Template {
    Template::parse(source).unwrap()
}

fn request(url: &str) -> Request {
    Request {
        method: Method::Get,
        url: t(url),
        query: Vec::new(),
        headers: Vec::new(),
        body: None,
        auth: None,
        connect_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(10),
        max_response: 1 << 20,
        ca_file: None,
    }
}

/// A body as the definition compiles it: each string leaf a template.
fn body(value: Value) -> Body {
    match value {
        Value::String(s) => Body::Template(t(&s)),
        Value::Array(items) => Body::Array(items.into_iter().map(body).collect()),
        Value::Object(map) => Body::Object(map.into_iter().map(|(k, v)| (k, body(v))).collect()),
        other => Body::Literal(other),
    }
}

fn integration(request: Request, paginate: Option<PaginateKind>, max_pages: u32) -> Integration {
    Integration {
        id: "requests".into(),
        source: Source::Request(Box::new(request)),
        paginate: paginate.map(|kind| Paginate { kind, max_pages }),
        attributes: Vec::new(),
    }
}

fn path(source: &str) -> JsonPath {
    JsonPath::parse(source).unwrap()
}

/// `global.base` is the server's URL, as `global.servicenow_url` would be.
fn global(server: &Server) -> Value {
    json!({"base": server.url(""), "user": "svc-followup", "password": "hunter2-pw"})
}

fn scopes(global: &Value) -> Scopes<'_> {
    Scopes {
        global: Some(global),
        env: true,
        ..Scopes::default()
    }
}

/// Runs `fetch`; returns every page's JSON, counting items at `items`
/// (the loop element's array) as the pass would.
fn pages(
    integration: &Integration,
    global: &Value,
    items: &str,
) -> Result<Vec<Value>, IntegrationError> {
    pages_with(&mut Http::new(None), integration, global, items)
}

fn pages_with(
    http: &mut Http,
    integration: &Integration,
    global: &Value,
    items: &str,
) -> Result<Vec<Value>, IntegrationError> {
    let items = path(items);
    let mut seen = Vec::new();
    fetch(http, integration, &scopes(global), &mut |index, page| {
        assert_eq!(index, seen.len(), "pages come in order");
        let json = page.json().map_err(|e| anyhow::anyhow!("{e}"))?;
        let count = items
            .first(json)
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        seen.push(json.clone());
        Ok(count)
    })?;
    Ok(seen)
}

fn query_of(requests: &[Received], name: &str) -> Vec<Option<String>> {
    requests
        .iter()
        .map(|r| r.query(name).map(str::to_owned))
        .collect()
}

// ---- the request -----------------------------------------------------------

#[test]
fn a_request_renders_url_query_headers_and_a_typed_json_body() {
    let server = Server::start(|_| Reply::json(200, json!({"result": []})));
    let global = global(&server);
    let local = json!({"group": "Service Desk/EU", "limit": 50, "states": ["new", "open"]});
    let scopes = Scopes {
        global: Some(&global),
        local: Some(&local),
        ..Scopes::default()
    };
    let mut req = request("@{global.base}/api/groups/@{local.group}/search");
    req.method = Method::Post;
    req.query = vec![(
        "sysparm_query".into(),
        t("state=requested^ORDERBYsys_created_on"),
    )];
    req.headers = vec![("X-Group".into(), t("@{local.group}"))];
    req.body = Some(body(json!({
        "limit": "@{local.limit}",
        "states": "@{local.states}",
        "title": "Group @{local.group}",
        "archived": false,
    })));
    let source = Source::Request(Box::new(req));
    fetch_source(&mut Http::new(None), "search", &source, &scopes).unwrap();

    let got = &server.requests()[0];
    assert_eq!(got.method, "POST");
    // The value is one path segment: its `/` is encoded, not a new segment.
    assert_eq!(
        got.target,
        "/api/groups/Service%20Desk%2FEU/search?sysparm_query=state%3Drequested%5EORDERBYsys_created_on"
    );
    assert_eq!(got.path, "/api/groups/Service Desk/EU/search");
    assert_eq!(
        got.query,
        vec![(
            "sysparm_query".into(),
            "state=requested^ORDERBYsys_created_on".into()
        )]
    );
    assert_eq!(got.header("X-Group"), Some("Service Desk/EU"));
    assert_eq!(got.header("Accept"), Some("application/json"));
    assert_eq!(got.header("Content-Type"), Some("application/json"));
    assert_eq!(
        got.json(),
        json!({"limit": 50, "states": ["new", "open"], "title": "Group Service Desk/EU", "archived": false})
    );
}

#[test]
fn a_definition_may_set_its_own_accept() {
    let server = Server::start(|_| Reply::json(200, json!([])));
    let global = global(&server);
    let mut req = request("@{global.base}/repos/o/r/issues");
    req.headers = vec![("Accept".into(), t("application/vnd.github+json"))];
    fetch_source(
        &mut Http::new(None),
        "issues",
        &Source::Request(Box::new(req)),
        &scopes(&global),
    )
    .unwrap();
    let got = &server.requests()[0];
    let accepts: Vec<_> = got
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("accept"))
        .collect();
    assert_eq!(accepts.len(), 1);
    assert_eq!(got.header("accept"), Some("application/vnd.github+json"));
}

#[test]
fn a_missing_value_fails_before_anything_is_sent() {
    let server = Server::start(|_| Reply::json(200, json!({})));
    let global = global(&server);
    let err = pages(
        &integration(request("@{global.base}/x/@{local.nothing}"), None, 1),
        &global,
        "$.result",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `requests` (GET @{global.base}/x/@{local.nothing}): no value for `@{local.nothing}`"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn an_empty_2xx_body_is_null_for_an_action() {
    let server = Server::start(|_| Reply::status(204));
    let global = global(&server);
    let mut req = request("@{global.base}/api/now/table/sysapproval_approver/a1");
    req.method = Method::Patch;
    req.body = Some(body(json!({"comments": "Reminder 1 of 3 sent"})));
    let got = fetch_source(
        &mut Http::new(None),
        "#1",
        &Source::Request(Box::new(req)),
        &scopes(&global),
    )
    .unwrap();
    assert_eq!(got, Value::Null);
    assert_eq!(
        server.requests()[0].json(),
        json!({"comments": "Reminder 1 of 3 sent"})
    );
}

// ---- failures ---------------------------------------------------------------

#[test]
fn a_non_2xx_fails_with_the_status_and_an_excerpt_of_the_body() {
    let server = Server::start(|_| {
        Reply::json(
            401,
            json!({"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"}),
        )
    });
    let global = global(&server);
    let paginate = PaginateKind::Offset {
        offset_param: "sysparm_offset".into(),
        limit_param: "sysparm_limit".into(),
        size: 100,
        total: None,
    };
    let err = pages(
        &integration(
            request("@{global.base}/api/now/table/sysapproval_approver"),
            Some(paginate),
            10,
        ),
        &global,
        "$.result",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `requests` (GET @{global.base}/api/now/table/sysapproval_approver), page 1: HTTP 401 Unauthorized: \
         {\"error\":{\"detail\":\"Required to provide Auth information\",\"message\":\"User Not Authenticated\"},\"status\":\"failure\"}"
    );
    assert!(!err.is_transient());
}

#[test]
fn a_redirect_is_not_followed() {
    let server = Server::start(|req| match req.path.as_str() {
        "/old" => Reply::status(301).header("Location", "/new"),
        _ => Reply::json(200, json!({})),
    });
    let global = global(&server);
    let mut req = request("@{global.base}/old");
    req.headers = vec![("X-Api-Key".into(), t("@{global.password}"))];
    let err = pages(&integration(req, None, 1), &global, "$").unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `requests` (GET @{global.base}/old): HTTP 301 Moved Permanently \
         (followup follows no redirect: use the URL it points to)"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_5xx_or_429_is_transient() {
    let server = Server::start(|req| match req.path.as_str() {
        "/busy" => Reply::text(503, "try later").header("Retry-After", "1"),
        _ => Reply::text(429, "slow down"),
    });
    let global = global(&server);
    for path in ["/busy", "/limited"] {
        let err = pages(
            &integration(request(&format!("@{{global.base}}{path}")), None, 1),
            &global,
            "$",
        )
        .unwrap_err();
        assert!(err.is_transient(), "{err}");
    }
}

#[test]
fn a_response_that_is_not_json_says_where_and_shows_its_start() {
    let server = Server::start(|req| match req.path.as_str() {
        "/login" => Reply::text(200, "<!DOCTYPE html>\n<html><title>Log in</title></html>"),
        _ => Reply::bytes(200, b"{\"name\": \"Jos\xe9\"}".to_vec()),
    });
    let global = global(&server);
    let err = pages(
        &integration(request("@{global.base}/login"), None, 1),
        &global,
        "$",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `requests` (GET @{global.base}/login): not JSON (expected value at line 1 column 1): \
         <!DOCTYPE html> <html><title>Log in</title></html>"
    );
    // Not UTF-8: an error, not a panic.
    let err = pages(
        &integration(request("@{global.base}/latin1"), None, 1),
        &global,
        "$",
    )
    .unwrap_err();
    assert!(err.to_string().contains("not JSON"), "{err}");
}

#[test]
fn a_slow_server_times_out_and_the_error_names_no_rendered_url() {
    let server = Server::start(|_| Reply::json(200, json!({})).delay(Duration::from_millis(800)));
    let global = global(&server);
    let mut req = request("@{global.base}/api?token=@{global.password}");
    req.total_timeout = Duration::from_millis(200);
    let err = pages(&integration(req, None, 1), &global, "$").unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `requests` (GET @{global.base}/api?token=@{global.password}): the request timed out after 200ms"
    );
    assert!(err.is_transient());
}

#[test]
fn a_page_over_max_response_fails_that_page() {
    let server = Server::start(|req| {
        let offset: usize = req.query("offset").unwrap().parse().unwrap();
        // The second page is huge, and says so only by sending it.
        let filler = if offset == 0 {
            String::new()
        } else {
            "x".repeat(300_000)
        };
        Reply::json(200, json!({"items": [{"id": offset, "note": filler}]})).without_length()
    });
    let global = global(&server);
    let mut req = request("@{global.base}/items");
    req.max_response = 100_000;
    let paginate = PaginateKind::Offset {
        offset_param: "offset".into(),
        limit_param: "limit".into(),
        size: 1,
        total: None,
    };
    let err = pages(&integration(req, Some(paginate), 10), &global, "$.items").unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `requests` (GET @{global.base}/items), page 2: the response is larger than max_response (100000 bytes)"
    );
}

#[test]
fn a_closed_connection_is_a_transient_failure() {
    let server = Server::start(|_| Reply::hang_up());
    let global = global(&server);
    let err = pages(
        &integration(request("@{global.base}/x"), None, 1),
        &global,
        "$",
    )
    .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(
        err.to_string()
            .starts_with("integration `requests` (GET @{global.base}/x): "),
        "{err}"
    );
}

#[test]
fn an_error_from_on_page_is_reported_with_its_page() {
    let server = Server::start(|req| {
        let next = req
            .query("page")
            .map_or(2, |p| p.parse::<u32>().unwrap() + 1);
        Reply::json(
            200,
            json!({"records": [], "next": format!("/q?page={next}")}),
        )
    });
    let global = global(&server);
    let paginate = PaginateKind::NextUrl {
        path: path("$.next"),
        end: None,
    };
    let it = integration(request("@{global.base}/q"), Some(paginate), 10);
    let err = fetch(
        &mut Http::new(None),
        &it,
        &scopes(&global),
        &mut |index, _| {
            anyhow::ensure!(
                index < 1,
                "the loop element `$.result[*]` is absent from the response"
            );
            Ok(1)
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `requests` (GET @{global.base}/q), page 2: the loop element `$.result[*]` is absent from the response"
    );
}

// ---- pagination ---------------------------------------------------------------

/// A ServiceNow table of `n` approvals, served by `sysparm_offset` and
/// `sysparm_limit`, with ServiceNow's `X-Total-Count`.
fn servicenow(n: usize) -> Server {
    Server::start(move |req| {
        let offset: usize = req.query("sysparm_offset").unwrap().parse().unwrap();
        let limit: usize = req.query("sysparm_limit").unwrap().parse().unwrap();
        let result: Vec<Value> = (offset..n.min(offset + limit))
            .map(|i| json!({"sys_id": format!("sys{i}"), "number": format!("RITM00100{i:02}"), "state": "requested"}))
            .collect();
        Reply::json(200, json!({"result": result})).header("X-Total-Count", &n.to_string())
    })
}

#[test]
fn offset_pagination_reads_until_an_empty_page() {
    let server = servicenow(5);
    let global = global(&server);
    let mut req = request("@{global.base}/api/now/table/sysapproval_approver");
    req.query = vec![("sysparm_query".into(), t("state=requested"))];
    let paginate = PaginateKind::Offset {
        offset_param: "sysparm_offset".into(),
        limit_param: "sysparm_limit".into(),
        size: 2,
        total: None,
    };
    let got = pages(&integration(req, Some(paginate), 10), &global, "$.result").unwrap();
    let ids: Vec<&str> = got
        .iter()
        .flat_map(|p| p["result"].as_array().unwrap())
        .map(|r| r["sys_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sys0", "sys1", "sys2", "sys3", "sys4"]);
    let requests = server.requests();
    // The short third page does not end it (a server may cap the limit);
    // the empty fourth, at the offset after the last record, does.
    assert_eq!(
        query_of(&requests, "sysparm_offset"),
        [
            Some("0".into()),
            Some("2".into()),
            Some("4".into()),
            Some("5".into())
        ]
    );
    assert!(
        requests
            .iter()
            .all(|r| r.query("sysparm_limit") == Some("2"))
    );
    assert!(
        requests
            .iter()
            .all(|r| r.query("sysparm_query") == Some("state=requested"))
    );
}

#[test]
fn offset_pagination_stops_at_total_path() {
    // Jira's legacy search: startAt, maxResults, total.
    let server = Server::start(|req| {
        let start: u64 = req.query("startAt").unwrap().parse().unwrap();
        let issues: Vec<Value> = (start..5.min(start + 2))
            .map(|i| json!({"key": format!("ITSM-{}", 100 + i)}))
            .collect();
        Reply::json(
            200,
            json!({"startAt": start, "maxResults": 2, "total": 5, "issues": issues}),
        )
    });
    let global = global(&server);
    let paginate = PaginateKind::Offset {
        offset_param: "startAt".into(),
        limit_param: "maxResults".into(),
        size: 2,
        total: Some(Total::Path(path("$.total"))),
    };
    let got = pages(
        &integration(
            request("@{global.base}/rest/api/3/search"),
            Some(paginate),
            10,
        ),
        &global,
        "$.issues",
    )
    .unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(
        query_of(&server.requests(), "startAt"),
        [Some("0".into()), Some("2".into()), Some("4".into())]
    );
}

#[test]
fn cursor_pagination_as_jira_sends_next_page_token_until_is_last() {
    let server = Server::start(|req| match req.query("nextPageToken") {
        None => Reply::json(
            200,
            json!({"issues": [{"key": "ITSM-101"}, {"key": "ITSM-102"}], "nextPageToken": "CAEaAggD", "isLast": false}),
        ),
        Some("CAEaAggD") => Reply::json(
            200,
            json!({"issues": [{"key": "ITSM-103"}], "nextPageToken": "CAEaAggE", "isLast": true}),
        ),
        Some(other) => Reply::text(400, &format!("unexpected token {other}")),
    });
    let global = global(&server);
    let mut req = request("@{global.base}/rest/api/3/search/jql");
    req.query = vec![("jql".into(), t("status = \"Waiting for approval\""))];
    let paginate = PaginateKind::Cursor {
        path: path("$.nextPageToken"),
        param: CursorTarget::Query("nextPageToken".into()),
        end: Some(LastPage::Stop(path("$.isLast"))),
    };
    let got = pages(&integration(req, Some(paginate), 10), &global, "$.issues").unwrap();
    assert_eq!(got.len(), 2);
    let requests = server.requests();
    assert_eq!(
        query_of(&requests, "nextPageToken"),
        [None, Some("CAEaAggD".into())]
    );
    assert!(
        requests
            .iter()
            .all(|r| r.query("jql") == Some("status = \"Waiting for approval\""))
    );
}

#[test]
fn cursor_pagination_stops_when_the_cursor_is_gone_or_empty() {
    for last in [
        json!({"tickets": [], "after": null}),
        json!({"tickets": [], "after": ""}),
        json!({"tickets": []}),
    ] {
        let server = Server::start(move |req| match req.query("after") {
            None => Reply::json(200, json!({"tickets": [{"id": 1}], "after": 17})),
            Some(_) => Reply::json(200, last.clone()),
        });
        let global = global(&server);
        let paginate = PaginateKind::Cursor {
            path: path("$.after"),
            param: CursorTarget::Query("after".into()),
            end: None,
        };
        pages(
            &integration(request("@{global.base}/t"), Some(paginate), 10),
            &global,
            "$.tickets",
        )
        .unwrap();
        // A number is a cursor too.
        assert_eq!(
            query_of(&server.requests(), "after"),
            [None, Some("17".into())]
        );
    }
}

#[test]
fn cursor_pagination_in_a_post_body_as_hubspot_search() {
    let server = Server::start(|req| {
        let after = req.json().get("after").cloned();
        match after.as_ref().and_then(Value::as_str) {
            None => Reply::json(
                200,
                json!({"total": 3, "results": [{"id": "1"}, {"id": "2"}], "paging": {"next": {"after": "2"}}}),
            ),
            Some("2") => Reply::json(200, json!({"total": 3, "results": [{"id": "3"}]})),
            Some(other) => Reply::text(400, &format!("bad after {other}")),
        }
    });
    let global = global(&server);
    let mut req = request("@{global.base}/crm/v3/objects/deals/search");
    req.method = Method::Post;
    req.body = Some(body(json!({
        "filterGroups": [{"filters": [{"propertyName": "dealstage", "operator": "EQ", "value": "appointmentscheduled"}]}],
        "limit": 2,
    })));
    let paginate = PaginateKind::Cursor {
        path: path("$.paging.next.after"),
        param: CursorTarget::Body("after".into()),
        end: None,
    };
    let got = pages(&integration(req, Some(paginate), 10), &global, "$.results").unwrap();
    assert_eq!(got.len(), 2);
    let bodies: Vec<Value> = server.requests().iter().map(Received::json).collect();
    assert_eq!(bodies[0].get("after"), None);
    assert_eq!(bodies[1]["after"], json!("2"));
    assert_eq!(bodies[1]["limit"], json!(2));
    assert_eq!(bodies[0]["filterGroups"], bodies[1]["filterGroups"]);
}

#[test]
fn next_url_pagination_as_salesforce_resolves_relative_urls() {
    let server = Server::start(|req| match req.path.as_str() {
        "/services/data/v62.0/query" => Reply::json(
            200,
            json!({
                "totalSize": 3, "done": false,
                "nextRecordsUrl": "/services/data/v62.0/query/01gRO0000016PIAYA2-2",
                "records": [{"Id": "04iRO000000AbCdYAK"}, {"Id": "04iRO000000AbCeYAK"}],
            }),
        ),
        "/services/data/v62.0/query/01gRO0000016PIAYA2-2" => Reply::json(
            200,
            json!({
                "totalSize": 3, "done": true, "records": [{"Id": "04iRO000000AbCfYAK"}],
            }),
        ),
        other => Reply::text(404, other),
    });
    let global = global(&server);
    let mut req = request("@{global.base}/services/data/v62.0/query");
    req.query = vec![("q".into(), t("SELECT Id FROM ProcessInstanceWorkitem"))];
    let paginate = PaginateKind::NextUrl {
        path: path("$.nextRecordsUrl"),
        end: Some(LastPage::Stop(path("$.done"))),
    };
    let got = pages(&integration(req, Some(paginate), 10), &global, "$.records").unwrap();
    assert_eq!(got.len(), 2);
    let requests = server.requests();
    assert_eq!(
        requests[1].path,
        "/services/data/v62.0/query/01gRO0000016PIAYA2-2"
    );
    // The next URL carries the state; `query` is not added again.
    assert_eq!(requests[1].query, vec![]);
}

#[test]
fn next_url_pagination_as_zendesk_goes_on_while_has_more() {
    // Zendesk's cursor pages keep `links.next` on the last page; only
    // `meta.has_more` says it is the last.
    let server = Server::start(|req| {
        let base = format!("http://{}", req.header("host").unwrap());
        let after = req.query("page[after]");
        let (tickets, more) = match after {
            None => (json!([{"id": 35436}, {"id": 35440}]), true),
            _ => (json!([{"id": 35441}]), false),
        };
        Reply::json(
            200,
            json!({
                "tickets": tickets,
                "meta": {"has_more": more, "after_cursor": "xxx", "before_cursor": "yyy"},
                "links": {"next": format!("{base}/api/v2/tickets.json?page%5Bafter%5D=xxx&page%5Bsize%5D=100"), "prev": null},
            }),
        )
    });
    let global = global(&server);
    let mut req = request("@{global.base}/api/v2/tickets.json");
    req.query = vec![("page[size]".into(), t("100"))];
    let paginate = PaginateKind::NextUrl {
        path: path("$.links.next"),
        end: Some(LastPage::More(path("$.meta.has_more"))),
    };
    let got = pages(&integration(req, Some(paginate), 10), &global, "$.tickets").unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        query_of(&server.requests(), "page[after]"),
        [None, Some("xxx".into())]
    );
}

#[test]
fn link_header_pagination_as_github() {
    let server = Server::start(|req| {
        let base = format!("http://{}", req.header("host").unwrap());
        match req.query("page") {
            None => Reply::json(200, json!([{"number": 41}, {"number": 42}])).header(
                "Link",
                &format!(r#"<{base}/repositories/1300192/issues?labels=needs-approval&per_page=2&page=2>; rel="next", <{base}/repositories/1300192/issues?labels=needs-approval&per_page=2&page=3>; rel="last""#),
            ),
            // A relative target resolves against this page's URL.
            Some("2") => Reply::json(200, json!([{"number": 43}, {"number": 44}]))
                .header("Link", r#"<issues?labels=needs-approval&per_page=2&page=3>; rel="next""#)
                .header("Link", r#"</repositories/1300192/issues?page=1>; rel="first""#),
            Some(_) => Reply::json(200, json!([{"number": 45}]))
                .header("Link", r#"</repositories/1300192/issues?page=1>; rel="first", </repositories/1300192/issues?page=2>; rel="prev""#),
        }
    });
    let global = global(&server);
    let mut req = request("@{global.base}/repos/octo-org/helpdesk/issues");
    req.query = vec![
        ("labels".into(), t("needs-approval")),
        ("per_page".into(), t("2")),
    ];
    let got = pages(
        &integration(req, Some(PaginateKind::LinkHeader), 10),
        &global,
        "$",
    )
    .unwrap();
    assert_eq!(got.len(), 3);
    let requests = server.requests();
    assert_eq!(requests[0].path, "/repos/octo-org/helpdesk/issues");
    assert_eq!(requests[1].path, "/repositories/1300192/issues");
    assert_eq!(requests[2].path, "/repositories/1300192/issues");
    assert_eq!(
        query_of(&requests, "page"),
        [None, Some("2".into()), Some("3".into())]
    );
}

// ---- servers that cap their pages ---------------------------------------------
//
// ServiceNow, Jira and Zendesk all return fewer records than asked for when
// the page size asked is above their cap. Each paging type must still find
// every record. Here: 7 records, 100 asked for, at most 3 returned.

const CAPPED: usize = 7;
const CAP: usize = 3;

/// The records from `start`, at most `CAP` of the `limit` asked for.
fn capped_page(start: usize, limit: usize) -> (Vec<Value>, usize) {
    let end = CAPPED.min(start + limit.min(CAP));
    let records = (start..end)
        .map(|i| json!({"id": format!("r{i}")}))
        .collect();
    (records, end)
}

/// The ids of every page's records at `items`, in order.
fn ids(pages: &[Value], items: &str) -> Vec<String> {
    let items = path(items);
    pages
        .iter()
        .flat_map(|p| items.first(p).unwrap().as_array().unwrap().clone())
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn all_capped() -> Vec<String> {
    (0..CAPPED).map(|i| format!("r{i}")).collect()
}

#[test]
fn offset_pagination_against_a_capped_server_finds_every_record() {
    let server = Server::start(|req| {
        let offset: usize = req.query("sysparm_offset").unwrap().parse().unwrap();
        let limit: usize = req.query("sysparm_limit").unwrap().parse().unwrap();
        let (result, _) = capped_page(offset, limit);
        Reply::json(200, json!({"result": result, "total": CAPPED}))
            .header("X-Total-Count", &CAPPED.to_string())
    });
    let global = global(&server);
    let offset = |total| PaginateKind::Offset {
        offset_param: "sysparm_offset".into(),
        limit_param: "sysparm_limit".into(),
        size: 100,
        total,
    };
    let url = "@{global.base}/api/now/table/sysapproval_approver";
    // Without a total: until the empty page, ceil(7/3) + 1 requests.
    let got = pages(
        &integration(request(url), Some(offset(None)), 10),
        &global,
        "$.result",
    )
    .unwrap();
    assert_eq!(ids(&got, "$.result"), all_capped());
    let offsets = |requests: &[Received]| query_of(requests, "sysparm_offset");
    let asked = |list: &[&str]| list.iter().map(|o| Some(o.to_string())).collect::<Vec<_>>();
    assert_eq!(offsets(&server.requests()), asked(&["0", "3", "6", "7"]));
    // With the total in a header or in the body: no empty page.
    for (i, total) in [
        Total::Header("x-total-count".into()),
        Total::Path(path("$.total")),
    ]
    .into_iter()
    .enumerate()
    {
        let got = pages(
            &integration(request(url), Some(offset(Some(total))), 10),
            &global,
            "$.result",
        )
        .unwrap();
        assert_eq!(ids(&got, "$.result"), all_capped());
        let requests = server.requests();
        let from = 4 + i * 3;
        assert_eq!(offsets(&requests[from..]), asked(&["0", "3", "6"]));
    }
}

#[test]
fn a_total_header_that_is_absent_or_not_a_count_fails_the_poll() {
    for (header, says) in [
        (
            None,
            "`total_header` `X-Total-Count` is absent from the response",
        ),
        (
            Some("many"),
            "`total_header` `X-Total-Count` is a string, not a count",
        ),
    ] {
        let server = Server::start(move |_| {
            let reply = Reply::json(200, json!({"result": [{"id": "r0"}]}));
            match header {
                Some(value) => reply.header("X-Total-Count", value),
                None => reply,
            }
        });
        let global = global(&server);
        let paginate = PaginateKind::Offset {
            offset_param: "sysparm_offset".into(),
            limit_param: "sysparm_limit".into(),
            size: 100,
            total: Some(Total::Header("X-Total-Count".into())),
        };
        let err = pages(
            &integration(request("@{global.base}/t"), Some(paginate), 10),
            &global,
            "$.result",
        )
        .unwrap_err();
        assert!(err.to_string().ends_with(says), "{err}");
    }
}

#[test]
fn cursor_pagination_against_a_capped_server_finds_every_record() {
    // Jira's enhanced search: `maxResults` 100 asked, 3 given.
    let server = Server::start(|req| {
        let start: usize = req.query("nextPageToken").map_or(0, |t| t.parse().unwrap());
        let limit: usize = req.query("maxResults").unwrap().parse().unwrap();
        let (issues, end) = capped_page(start, limit);
        let mut page = json!({"issues": issues, "isLast": end == CAPPED});
        if end < CAPPED {
            page["nextPageToken"] = json!(end.to_string());
        }
        Reply::json(200, page)
    });
    let global = global(&server);
    let mut req = request("@{global.base}/rest/api/3/search/jql");
    req.query = vec![("maxResults".into(), t("100"))];
    let paginate = PaginateKind::Cursor {
        path: path("$.nextPageToken"),
        param: CursorTarget::Query("nextPageToken".into()),
        end: Some(LastPage::Stop(path("$.isLast"))),
    };
    let got = pages(&integration(req, Some(paginate), 10), &global, "$.issues").unwrap();
    assert_eq!(ids(&got, "$.issues"), all_capped());
    assert_eq!(server.requests().len(), CAPPED.div_ceil(CAP));
}

#[test]
fn next_url_pagination_against_a_capped_server_finds_every_record() {
    // Zendesk: `page[size]=100` asked, 3 given, `meta.has_more` to go on.
    let server = Server::start(|req| {
        let start: usize = req.query("page[after]").map_or(0, |t| t.parse().unwrap());
        let limit: usize = req.query("page[size]").unwrap().parse().unwrap();
        let (tickets, end) = capped_page(start, limit);
        Reply::json(
            200,
            json!({
                "tickets": tickets,
                "meta": {"has_more": end < CAPPED, "after_cursor": end.to_string()},
                "links": {"next": format!("/api/v2/tickets.json?page%5Bsize%5D={limit}&page%5Bafter%5D={end}")},
            }),
        )
    });
    let global = global(&server);
    let mut req = request("@{global.base}/api/v2/tickets.json");
    req.query = vec![("page[size]".into(), t("100"))];
    let paginate = PaginateKind::NextUrl {
        path: path("$.links.next"),
        end: Some(LastPage::More(path("$.meta.has_more"))),
    };
    let got = pages(&integration(req, Some(paginate), 10), &global, "$.tickets").unwrap();
    assert_eq!(ids(&got, "$.tickets"), all_capped());
    assert_eq!(server.requests().len(), CAPPED.div_ceil(CAP));
}

#[test]
fn link_header_pagination_against_a_capped_server_finds_every_record() {
    // GitHub: `per_page=100` asked, 3 given (a proxy or an enterprise cap).
    let server = Server::start(|req| {
        let page: usize = req.query("page").map_or(1, |p| p.parse().unwrap());
        let limit: usize = req.query("per_page").unwrap().parse().unwrap();
        let (issues, end) = capped_page((page - 1) * CAP, limit);
        let reply = Reply::json(200, Value::Array(issues));
        if end < CAPPED {
            reply.header(
                "Link",
                &format!(r#"<?per_page={limit}&page={}>; rel="next""#, page + 1),
            )
        } else {
            reply
        }
    });
    let global = global(&server);
    let mut req = request("@{global.base}/repos/o/r/issues");
    req.query = vec![("per_page".into(), t("100"))];
    let got = pages(
        &integration(req, Some(PaginateKind::LinkHeader), 10),
        &global,
        "$",
    )
    .unwrap();
    assert_eq!(ids(&got, "$"), all_capped());
    assert_eq!(server.requests().len(), CAPPED.div_ceil(CAP));
}

#[test]
fn a_next_page_beyond_max_pages_fails() {
    // A server that always has a next page.
    let server = Server::start(|req| {
        let page: u32 = req.query("page").map_or(1, |p| p.parse().unwrap());
        Reply::json(200, json!([{"n": page}]))
            .header("Link", &format!(r#"<?page={}>; rel="next""#, page + 1))
    });
    let global = global(&server);
    let it = integration(
        request("@{global.base}/issues"),
        Some(PaginateKind::LinkHeader),
        3,
    );
    let err = pages(&it, &global, "$").unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `requests` (GET @{global.base}/issues), page 4: there is a next page beyond max_pages (3); raise `max_pages` or narrow the query"
    );
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn offset_pagination_counts_against_max_pages_too() {
    let server = servicenow(10);
    let global = global(&server);
    let paginate = PaginateKind::Offset {
        offset_param: "sysparm_offset".into(),
        limit_param: "sysparm_limit".into(),
        size: 2,
        total: None,
    };
    let it = integration(request("@{global.base}/api/now/table/x"), Some(paginate), 2);
    let err = pages(&it, &global, "$.result").unwrap_err();
    assert!(
        matches!(err.failure, Failure::MaxPages { max_pages: 2 }),
        "{err}"
    );
    assert_eq!(err.page, Some(3));
}

#[test]
fn a_next_page_on_another_host_gets_no_credentials() {
    let server = Server::start(|_| {
        Reply::json(
            200,
            json!({"records": [{"Id": "1"}], "nextRecordsUrl": "http://evil.example/steal"}),
        )
    });
    let global = global(&server);
    let mut req = request("@{global.base}/services/data/v62.0/query");
    req.auth = Some(Auth::Bearer {
        token: t("@{global.password}"),
    });
    let paginate = PaginateKind::NextUrl {
        path: path("$.nextRecordsUrl"),
        end: None,
    };
    let err = pages(&integration(req, Some(paginate), 10), &global, "$.records").unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `requests` (GET @{global.base}/services/data/v62.0/query), page 1: the next page's URL from `$.nextRecordsUrl` \
         is on another host than the request; followup sends the request's credentials nowhere else"
    );
    assert_eq!(server.requests().len(), 1);
}

// ---- auth ---------------------------------------------------------------------

#[test]
fn basic_and_bearer_auth() {
    let server = Server::start(|_| Reply::json(200, json!({"result": []})));
    let global = global(&server);
    let mut req = request("@{global.base}/api/now/table/x");
    req.auth = Some(Auth::Basic {
        username: t("@{global.user}"),
        password: t("@{global.password}"),
    });
    pages(&integration(req.clone(), None, 1), &global, "$.result").unwrap();
    req.auth = Some(Auth::Bearer {
        token: t("@{global.password}"),
    });
    // `auth` wins over an Authorization header written by hand.
    req.headers = vec![("Authorization".into(), t("Token nope"))];
    pages(&integration(req, None, 1), &global, "$.result").unwrap();
    let requests = server.requests();
    // base64("svc-followup:hunter2-pw")
    assert_eq!(
        requests[0].header("authorization"),
        Some("Basic c3ZjLWZvbGxvd3VwOmh1bnRlcjItcHc=")
    );
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer hunter2-pw")
    );
    assert_eq!(
        requests[1]
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .count(),
        1
    );
}

/// A token endpoint and an API behind it: tokens are `tok-1`, `tok-2`…;
/// the API accepts tokens from `accepted_from` on.
fn oauth_server(accepted_from: usize) -> Server {
    let issued = Arc::new(AtomicUsize::new(0));
    Server::start(move |req| match req.path.as_str() {
        "/oauth2/token" => {
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            Reply::json(
                200,
                json!({"access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": 3600, "scope": "api"}),
            )
        }
        _ => {
            let token = req.header("authorization").unwrap_or_default();
            let n: usize = token
                .strip_prefix("Bearer tok-")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if n >= accepted_from {
                Reply::json(200, json!({"records": [{"Id": "1"}]}))
            } else {
                Reply::json(
                    401,
                    json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
                )
            }
        }
    })
}

fn oauth(client_auth: ClientAuth) -> Auth {
    Auth::OAuth2ClientCredentials {
        token_url: t("@{global.base}/oauth2/token"),
        client_id: t("@{global.user}"),
        client_secret: t("@{global.password}"),
        scope: Some(t("api refresh")),
        client_auth,
    }
}

#[test]
fn an_oauth2_token_is_fetched_once_per_pass() {
    let server = oauth_server(1);
    let global = global(&server);
    let mut req = request("@{global.base}/services/data/v62.0/query");
    req.auth = Some(oauth(ClientAuth::Basic));
    let it = integration(req, None, 1);
    let mut http = Http::new(None);
    pages_with(&mut http, &it, &global, "$.records").unwrap();
    pages_with(&mut http, &it, &global, "$.records").unwrap();

    let requests = server.requests();
    let token_requests: Vec<&Received> = requests
        .iter()
        .filter(|r| r.path == "/oauth2/token")
        .collect();
    assert_eq!(token_requests.len(), 1);
    let token = token_requests[0];
    assert_eq!(token.method, "POST");
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // base64("svc-followup:hunter2-pw")
    assert_eq!(
        token.header("authorization"),
        Some("Basic c3ZjLWZvbGxvd3VwOmh1bnRlcjItcHc=")
    );
    assert_eq!(
        token.form(),
        vec![
            ("grant_type".into(), "client_credentials".into()),
            ("scope".into(), "api refresh".into())
        ]
    );
    let api: Vec<&Received> = requests
        .iter()
        .filter(|r| r.path != "/oauth2/token")
        .collect();
    assert_eq!(api.len(), 2);
    assert!(
        api.iter()
            .all(|r| r.header("authorization") == Some("Bearer tok-1"))
    );

    // A new pass fetches a new token.
    pages_with(&mut Http::new(None), &it, &global, "$.records").unwrap();
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.path == "/oauth2/token")
            .count(),
        2
    );
}

#[test]
fn a_token_about_to_expire_is_fetched_again() {
    let issued = Arc::new(AtomicUsize::new(0));
    let server = Server::start(move |req| match req.path.as_str() {
        "/oauth2/token" => {
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            // Shorter than the safety margin: stale as soon as it is cached.
            Reply::json(
                200,
                json!({"access_token": format!("tok-{n}"), "expires_in": 5}),
            )
        }
        _ => Reply::json(200, json!({"records": []})),
    });
    let global = global(&server);
    let mut req = request("@{global.base}/api");
    req.auth = Some(oauth(ClientAuth::Basic));
    let it = integration(req, None, 1);
    let mut http = Http::new(None);
    pages_with(&mut http, &it, &global, "$.records").unwrap();
    pages_with(&mut http, &it, &global, "$.records").unwrap();
    let api: Vec<Option<String>> = server
        .requests()
        .iter()
        .filter(|r| r.path == "/api")
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(
        api,
        [Some("Bearer tok-1".into()), Some("Bearer tok-2".into())]
    );
}

#[test]
fn oauth2_client_credentials_in_the_form() {
    let server = oauth_server(1);
    let global = global(&server);
    let mut req = request("@{global.base}/api");
    req.auth = Some(oauth(ClientAuth::Form));
    pages(&integration(req, None, 1), &global, "$.records").unwrap();
    let token = &server.requests()[0];
    assert_eq!(token.header("authorization"), None);
    assert_eq!(
        token.form(),
        vec![
            ("grant_type".into(), "client_credentials".into()),
            ("scope".into(), "api refresh".into()),
            ("client_id".into(), "svc-followup".into()),
            ("client_secret".into(), "hunter2-pw".into()),
        ]
    );
}

#[test]
fn a_401_gets_one_new_token_and_one_retry() {
    // The first token is refused (revoked, say); the second works.
    let server = oauth_server(2);
    let global = global(&server);
    let mut req = request("@{global.base}/api");
    req.auth = Some(oauth(ClientAuth::Basic));
    pages(&integration(req, None, 1), &global, "$.records").unwrap();
    let paths: Vec<(String, Option<String>)> = server
        .requests()
        .iter()
        .map(|r| (r.path.clone(), r.header("authorization").map(str::to_owned)))
        .collect();
    assert_eq!(
        paths,
        [
            (
                "/oauth2/token".into(),
                Some("Basic c3ZjLWZvbGxvd3VwOmh1bnRlcjItcHc=".into())
            ),
            ("/api".into(), Some("Bearer tok-1".into())),
            (
                "/oauth2/token".into(),
                Some("Basic c3ZjLWZvbGxvd3VwOmh1bnRlcjItcHc=".into())
            ),
            ("/api".into(), Some("Bearer tok-2".into())),
        ]
    );
}

#[test]
fn a_second_401_fails_without_another_token() {
    let server = oauth_server(usize::MAX);
    let global = global(&server);
    let mut req = request("@{global.base}/api");
    req.auth = Some(oauth(ClientAuth::Basic));
    let err = pages(&integration(req, None, 1), &global, "$.records").unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `requests` (GET @{global.base}/api): HTTP 401 Unauthorized: \
         [{\"errorCode\":\"INVALID_SESSION_ID\",\"message\":\"Session expired or invalid\"}]"
    );
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn a_failed_token_request_names_the_token_url_template() {
    let server = Server::start(|_| {
        Reply::json(
            401,
            json!({"error": "invalid_client", "error_description": "client hunter2-pw unknown"}),
        )
    });
    let global = global(&server);
    let mut req = request("@{global.base}/api");
    req.auth = Some(oauth(ClientAuth::Basic));
    let err = pages(&integration(req, None, 1), &global, "$.records").unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `requests` (GET @{global.base}/api): OAuth2 token request to @{global.base}/oauth2/token: \
         HTTP 401 Unauthorized: {\"error\":\"invalid_client\",\"error_description\":\"client *** unknown\"}"
    );
}

#[test]
fn a_token_response_without_a_token_is_not_quoted() {
    let server = Server::start(|_| Reply::json(200, json!({"token": "hunter2-leaked"})));
    let global = global(&server);
    let mut req = request("@{global.base}/api");
    req.auth = Some(oauth(ClientAuth::Basic));
    let err = pages(&integration(req, None, 1), &global, "$").unwrap_err();
    assert!(
        err.to_string()
            .ends_with("the token response has no `access_token`"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn secrets_never_appear_in_errors() {
    // A server that echoes back what it got, credentials included.
    let server = Server::start(|req| {
        Reply::text(
            400,
            &format!(
                "bad request {} {}?{:?}",
                req.header("authorization").unwrap_or_default(),
                req.path,
                req.query
            ),
        )
    });
    let global = global(&server);
    // `env.*` is the place for secrets; CARGO_MANIFEST_DIR stands for one,
    // being set for every test run.
    let secret = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let mut req = request("@{global.base}/api");
    req.query = vec![("api_key".into(), t("@{env.CARGO_MANIFEST_DIR}"))];
    req.auth = Some(Auth::Basic {
        username: t("@{global.user}"),
        password: t("@{global.password}"),
    });
    let err = pages(&integration(req, None, 1), &global, "$")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("integration `requests` (GET @{global.base}/api): HTTP 400 Bad Request: bad request *** /api?"), "{err}");
    for leaked in [
        "hunter2-pw",
        "c3ZjLWZvbGxvd3VwOmh1bnRlcjItcHc=",
        secret.as_str(),
    ] {
        assert!(!err.contains(leaked), "{leaked} in {err}");
    }
}

// ---- file and command -----------------------------------------------------------

#[test]
fn file_and_command_integrations_are_one_page() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("approvals.json");
    std::fs::write(&file, r#"{"result": [{"sys_id": "a1"}]}"#).unwrap();
    let global = json!({});
    for source in [
        Source::File(file.clone()),
        Source::Command {
            argv: vec![t("cat"), t("approvals.json")],
            timeout: Duration::from_secs(5),
            dir: dir.path().to_path_buf(),
        },
    ] {
        let it = Integration {
            id: "approvals".into(),
            source,
            paginate: None,
            attributes: Vec::new(),
        };
        let got = pages(&it, &global, "$.result").unwrap();
        assert_eq!(got, [json!({"result": [{"sys_id": "a1"}]})]);
    }
}

#[test]
fn file_and_command_failures_name_the_integration() {
    let dir = tempfile::tempdir().unwrap();
    let missing: PathBuf = dir.path().join("missing.json");
    let err = fetch_source(
        &mut Http::new(None),
        "approvals",
        &Source::File(missing.clone()),
        &Scopes::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "integration `approvals` (file {}): the file does not exist",
            missing.display()
        )
    );
    let command = Source::Command {
        argv: vec![t("sh"), t("-c"), t("echo 'gh: auth required' >&2; exit 1")],
        timeout: Duration::from_secs(5),
        dir: dir.path().to_path_buf(),
    };
    let err =
        fetch_source(&mut Http::new(None), "issues", &command, &Scopes::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "integration `issues` (command sh -c echo 'gh: auth required' >&2; exit 1): exited with status 1: gh: auth required"
    );
}

// ---- lookups ------------------------------------------------------------------

#[test]
fn a_lookup_is_sent_once_per_pass_for_each_method_url_and_body() {
    let server = Server::start(|req| match req.path.as_str() {
        "/down" => Reply::json(503, json!({"error": "maintenance"})),
        _ => Reply::json(200, json!({"user": req.text()})),
    });
    let global = global(&server);
    let mut http = Http::new(None);
    let mut lookup = |method: Method, path: &str, body_text: Option<&str>| {
        let mut req = request(&format!("@{{global.base}}{path}"));
        req.method = method;
        req.body = body_text.map(|b| body(json!({ "q": b })));
        fetch_lookup(&mut http, &Source::Request(Box::new(req)), &scopes(&global))
    };
    let first = lookup(Method::Get, "/users/alice", None).unwrap();
    assert_eq!(lookup(Method::Get, "/users/alice", None).unwrap(), first);
    lookup(Method::Get, "/users/bob", None).unwrap();
    lookup(Method::Post, "/users/alice", None).unwrap();
    lookup(Method::Post, "/search", Some("alice")).unwrap();
    let bob = lookup(Method::Post, "/search", Some("bob")).unwrap();
    assert_eq!(bob, json!({"user": r#"{"q":"bob"}"#}));
    lookup(Method::Post, "/search", Some("bob")).unwrap();
    // A failure is remembered: not asked again within the pass.
    for _ in 0..3 {
        let err = lookup(Method::Get, "/down", None).unwrap_err();
        assert!(err.is_transient());
        assert!(err.to_string().contains("HTTP 503"), "{err}");
    }
    let asked: Vec<(String, String)> = server
        .requests()
        .iter()
        .map(|r| (r.method.clone(), format!("{} {}", r.path, r.text())))
        .collect();
    assert_eq!(
        asked,
        [
            ("GET".into(), "/users/alice ".into()),
            ("GET".into(), "/users/bob ".into()),
            ("POST".into(), "/users/alice ".into()),
            ("POST".into(), r#"/search {"q":"alice"}"#.into()),
            ("POST".into(), r#"/search {"q":"bob"}"#.into()),
            ("GET".into(), "/down ".into()),
        ]
    );
    // A new pass asks again.
    let mut http = Http::new(None);
    let req = request("@{global.base}/users/alice");
    fetch_lookup(&mut http, &Source::Request(Box::new(req)), &scopes(&global)).unwrap();
    assert_eq!(server.requests().len(), 7);
}
