//! Pagination: which request comes after a page, if any.
//!
//! - `offset`: `limit_param` = size, `offset_param` = 0, then the previous
//!   offset plus the items the page held (a server that caps its pages
//!   below `size` loses nothing); stops on a page with no items, or once the
//!   offset reaches the total (`total_path` in the body, `total_header` in
//!   the response), never on a short page;
//! - `cursor`: the value at `path` goes in the next request, as the query
//!   parameter `param` or at `body_path` in the JSON body;
//! - `next_url`: the URL at `path`;
//! - `link_header`: the `Link` header's `rel="next"` (RFC 8288).
//!
//! `cursor` and `next_url` stop when the value is absent, null or empty,
//! when `stop_path` selects true, or when `more_path` does not. A next page's URL is resolved against the URL of
//! the page that named it and must stay on the first request's origin: the
//! request's credentials go to no other host. A next page beyond `max_pages`
//! fails the integration rather than quietly dropping records.

use serde_json::Value;

use super::document::Document;
use super::error::Failure;
use super::request::Page;
use super::url;
use crate::definition::followup::{CursorTarget, LastPage, Paginate, PaginateKind, Total};
use crate::path::{JsonPath, describe};

/// Where a page's request goes and what it carries.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Target {
    pub url: String,
    pub body: Option<Value>,
}

/// The first page's request: the prepared URL and body, at offset 0 for
/// `offset`.
pub(super) fn first(paginate: Option<&Paginate>, url: &str, body: Option<&Value>) -> Target {
    match paginate {
        Some(p) => at_offset(p, 0, url, body).unwrap_or_else(|| Target {
            url: url.to_owned(),
            body: body.cloned(),
        }),
        None => Target {
            url: url.to_owned(),
            body: body.cloned(),
        },
    }
}

/// The request for `offset`, for `offset` pagination (`None` for others).
pub(super) fn at_offset(
    paginate: &Paginate,
    offset: u64,
    url: &str,
    body: Option<&Value>,
) -> Option<Target> {
    let PaginateKind::Offset {
        offset_param,
        limit_param,
        size,
        ..
    } = &paginate.kind
    else {
        return None;
    };
    Some(Target {
        url: offset_url(url, offset_param, limit_param, offset, *size),
        body: body.cloned(),
    })
}

fn offset_url(url: &str, offset_param: &str, limit_param: &str, offset: u64, size: u64) -> String {
    let (offset, size) = (offset.to_string(), size.to_string());
    url::with_query(
        url,
        [
            (offset_param, offset.as_str()),
            (limit_param, size.as_str()),
        ],
    )
}

/// What one page says of the next, read before the page goes to the caller.
pub(super) enum Next {
    Done,
    /// `offset`: the next offset is this page's plus the items it held;
    /// go on unless it held none or that reaches `total`.
    Offset {
        total: Option<u64>,
    },
    Page(Target),
}

/// The request after `page`, or `Done`.
///
/// `base_url` and `base_body` are the prepared request's; `current` is the
/// request that fetched `page`.
pub(super) fn next(
    paginate: &Paginate,
    page: &Page,
    base_url: &str,
    base_body: Option<&Value>,
    current: &Target,
) -> Result<Next, Failure> {
    // What the page says is read from its bytes: a tree is built only for
    // paths that need one (filters, wildcards).
    let json = &page.json;
    match &paginate.kind {
        PaginateKind::Offset { total: None, .. } => Ok(Next::Offset { total: None }),
        PaginateKind::Offset {
            total: Some(total), ..
        } => Ok(Next::Offset {
            total: Some(total_of(total, page)?),
        }),
        PaginateKind::Cursor { path, param, end } => {
            if is_last(end.as_ref(), json)? {
                return Ok(Next::Done);
            }
            let Some(cursor) = text_at(path, json, "cursor")? else {
                return Ok(Next::Done);
            };
            Ok(Next::Page(match param {
                CursorTarget::Query(name) => Target {
                    url: url::with_query(base_url, [(name.as_str(), cursor.as_str())]),
                    body: base_body.cloned(),
                },
                CursorTarget::Body(at) => Target {
                    url: base_url.to_owned(),
                    body: Some(with_body_value(base_body, at, Value::String(cursor))?),
                },
            }))
        }
        PaginateKind::NextUrl { path, end } => {
            if is_last(end.as_ref(), json)? {
                return Ok(Next::Done);
            }
            match text_at(path, json, "next page URL")? {
                None => Ok(Next::Done),
                Some(next) => Ok(Next::Page(Target {
                    url: next_url(
                        &current.url,
                        base_url,
                        &next,
                        &format!("`{}`", path.source()),
                    )?,
                    body: base_body.cloned(),
                })),
            }
        }
        PaginateKind::LinkHeader => {
            let link = page.response.headers_named("link").find_map(next_link);
            match link {
                None => Ok(Next::Done),
                Some(next) => Ok(Next::Page(Target {
                    url: next_url(&current.url, base_url, &next, "the `Link` header")?,
                    body: base_body.cloned(),
                })),
            }
        }
    }
}

/// The total number of records: at `total_path` in the body, or in
/// `total_header`; a number, or digits in a string. Absent is a failure:
/// guessing could end the poll early, and records missing from a
/// successful poll get resolved.
fn total_of(total: &Total, page: &Page) -> Result<u64, Failure> {
    let (key, name, value) = match total {
        Total::Path(path) => (
            "total_path",
            path.source(),
            page.json.select(path)?.map(|v| match v {
                Value::String(s) => Value::String(s.trim().to_owned()),
                other => other,
            }),
        ),
        Total::Header(header) => (
            "total_header",
            header.as_str(),
            page.response
                .headers_named(header)
                .next()
                .map(|v| Value::String(v.trim().to_owned())),
        ),
    };
    let value = value.ok_or_else(|| {
        Failure::Paginate(format!("`{key}` `{name}` is absent from the response"))
    })?;
    value
        .as_u64()
        .or_else(|| value.as_str()?.parse().ok())
        .ok_or_else(|| {
            Failure::Paginate(format!(
                "`{key}` `{name}` is {}, not a count",
                describe(&value)
            ))
        })
}

/// Whether this page is the last by `stop_path` or `more_path`.
fn is_last(end: Option<&LastPage>, json: &Document) -> Result<bool, Failure> {
    match end {
        None => Ok(false),
        Some(LastPage::Stop(path)) => Ok(truth(path, json, "stop_path")?.unwrap_or(false)),
        // Absent is a failure, not the last page: a misspelt `more_path`
        // would otherwise end every poll after page 1, and the records of
        // the pages never read would be resolved.
        Some(LastPage::More(path)) => match truth(path, json, "more_path")? {
            Some(more) => Ok(!more),
            None => Err(Failure::Paginate(format!(
                "`more_path` `{}` is absent from the response",
                path.source()
            ))),
        },
    }
}

/// What `path` says, as a yes or no: `true` (or `"true"`), or a filter in
/// it selecting something (an object or array, as `$[?@.has_more ==
/// false]` does), is yes; `false` (or `"false"`) is no; null or nothing is
/// `None`; any other value fails, rather than guess.
fn truth(path: &JsonPath, json: &Document, key: &str) -> Result<Option<bool>, Failure> {
    match json.select(path)?.as_ref() {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Object(_) | Value::Array(_)) => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(Failure::Paginate(format!(
            "`{key}` `{}` is {} ({other}), neither true nor false",
            path.source(),
            describe(other)
        ))),
    }
}

/// A cursor or URL: a string or a number; absent, null or `""` is none.
fn text_at(path: &JsonPath, json: &Document, what: &str) -> Result<Option<String>, Failure> {
    match json.select(path)?.as_ref() {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(Failure::Paginate(format!(
            "the {what} at `{}` is {}, not a string",
            path.source(),
            describe(other)
        ))),
    }
}

/// The body with `value` at `at`, a dotted key path (`after`,
/// `page.after`); objects on the way are created.
fn with_body_value(body: Option<&Value>, at: &str, value: Value) -> Result<Value, Failure> {
    let mut body = body
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let mut slot = &mut body;
    for key in at.split('.') {
        let Value::Object(map) = slot else {
            return Err(Failure::Paginate(format!(
                "`body_path` `{at}` needs a JSON object there in the body, which has {}",
                describe(slot)
            )));
        };
        slot = map
            .entry(key.to_owned())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    *slot = value;
    Ok(body)
}

/// A next page's URL, resolved against the current page's URL and kept on
/// the first request's origin. Errors never show the URL: it may carry the
/// request's secrets.
fn next_url(current: &str, first: &str, next: &str, from: &str) -> Result<String, Failure> {
    let resolved = url::resolve(current, next).ok_or_else(|| {
        Failure::Paginate(format!("the next page's URL from {from} is not a URL"))
    })?;
    if url::origin(&resolved).is_none() || url::origin(&resolved) != url::origin(first) {
        return Err(Failure::Paginate(format!(
            "the next page's URL from {from} is on another host than the request; \
             followup sends the request's credentials nowhere else"
        )));
    }
    Ok(resolved)
}

/// The target of `rel="next"` in one `Link` header value (RFC 8288): links
/// are `<uri>; param; param`, comma-separated; `rel` may list several
/// relation types, quoted or not.
pub(super) fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        rest = &rest[end + 1..];
        // The parameters run to the next link, which starts with `<`.
        let params_end = rest.find('<').unwrap_or(rest.len());
        let is_next = rest[..params_end].split(';').any(|param| {
            let Some((name, value)) = param.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.to_owned());
        }
        rest = &rest[params_end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_as_github_and_servicenow_send_them() {
        let github = r#"<https://api.github.com/repositories/1300192/issues?page=2>; rel="next", <https://api.github.com/repositories/1300192/issues?page=9>; rel="last""#;
        assert_eq!(
            next_link(github).as_deref(),
            Some("https://api.github.com/repositories/1300192/issues?page=2")
        );
        let servicenow = r#"<https://x.service-now.com/api/now/table/t?sysparm_offset=0>;rel="first",<https://x.service-now.com/api/now/table/t?sysparm_offset=2>;rel="next",<https://x.service-now.com/api/now/table/t?sysparm_offset=136>;rel="last""#;
        assert_eq!(
            next_link(servicenow).as_deref(),
            Some("https://x.service-now.com/api/now/table/t?sysparm_offset=2")
        );
        assert_eq!(
            next_link(r#"</p/3>; rel="prev next""#).as_deref(),
            Some("/p/3")
        );
        assert_eq!(next_link("</p/3>; rel=next").as_deref(), Some("/p/3"));
        assert_eq!(next_link(r#"</p/1>; rel="prev", </p/9>; rel="last""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn stop_path_true_a_filter_match_or_fail() {
        let last = |end: LastPage, json: Value| {
            let document = Document::from_value(json.clone());
            let raw =
                Document::checked(json.to_string().into_bytes(), &Default::default()).unwrap();
            let from_tree = is_last(Some(&end), &document);
            // Read from the bytes or from a tree, the answer is the same.
            let from_bytes = is_last(Some(&end), &raw);
            assert_eq!(
                from_tree.as_ref().ok(),
                from_bytes.as_ref().ok(),
                "{from_tree:?} {from_bytes:?}"
            );
            from_tree
        };
        let stop = |path: &str, json| last(LastPage::Stop(JsonPath::parse(path).unwrap()), json);
        use serde_json::json;
        assert!(stop("$.isLast", json!({"isLast": true})).unwrap());
        assert!(!stop("$.isLast", json!({"isLast": false})).unwrap());
        assert!(!stop("$.isLast", json!({})).unwrap());
        assert!(stop("$.done", json!({"done": "true"})).unwrap());
        // A filter can say it too.
        let zendesk = |more| json!({"meta": {"has_more": more, "after_cursor": "x"}});
        assert!(stop("$[?@.has_more == false]", zendesk(false)).unwrap());
        assert!(!stop("$[?@.has_more == false]", zendesk(true)).unwrap());
        let err = stop("$.isLast", json!({"isLast": 1})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`stop_path` `$.isLast` is a number (1), neither true nor false"
        );
    }

    #[test]
    fn more_path_goes_on_only_while_true_and_fails_when_absent() {
        use serde_json::json;
        let more = |json: Value| {
            is_last(
                Some(&LastPage::More(JsonPath::parse("$.meta.has_more").unwrap())),
                &Document::from_value(json),
            )
        };
        assert!(!more(json!({"meta": {"has_more": true}})).unwrap());
        assert!(more(json!({"meta": {"has_more": false}})).unwrap());
        assert!(more(json!({"meta": {"has_more": "false"}})).unwrap());
        // A misspelt path must not end the poll after page 1 as if done.
        let err = more(json!({"meta": {"hasMore": true}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`more_path` `$.meta.has_more` is absent from the response"
        );
    }

    #[test]
    fn a_cursor_goes_into_the_body_at_a_dotted_path() {
        use serde_json::json;
        let body = json!({"filterGroups": [], "limit": 100});
        assert_eq!(
            with_body_value(Some(&body), "after", json!("123")).unwrap(),
            json!({"filterGroups": [], "limit": 100, "after": "123"})
        );
        assert_eq!(
            with_body_value(None, "page.after", json!("c2")).unwrap(),
            json!({"page": {"after": "c2"}})
        );
        assert!(with_body_value(Some(&json!([1])), "after", json!("c")).is_err());
    }
}
