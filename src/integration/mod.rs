//! Running integrations: one call to an external system, a `request`
//! (HTTP/HTTPS, with auth and pagination), a local `file` or a `command`,
//! whose answer is JSON.
//!
//! The pass calls [`fetch`] for an extraction's integrations (page by page),
//! [`fetch_lookup`] for lookups (once per pass for each rendered request)
//! and [`fetch_source`] for actions; channels use [`send`] directly. All of them share one [`Http`] per pass. What may fail comes
//! back as an [`IntegrationError`] that names the integration and the page
//! and never holds a secret.

mod auth;
pub(crate) mod command;
mod document;
pub mod error;
mod file;
pub mod http;
mod paginate;
mod request;
#[cfg(test)]
mod tests;
mod url;

#[cfg(test)]
#[path = "../../tests/integration/support/server.rs"]
mod test_server;
#[cfg(test)]
#[path = "../../tests/integration/support/tls.rs"]
mod test_tls;

use std::sync::Arc;

use serde_json::Value;

pub use error::{Failure, IntegrationError};
pub use http::Http;

use crate::definition::followup::{Integration, Paginate, Request, Source};
use crate::template::{self, Scopes};
pub use document::Document;
use paginate::Next;
use request::Prepared;

/// Runs one integration and hands each page's JSON to `on_page(index,
/// json)`, in order, from index 0. `file` and `command` have one page.
///
/// `on_page` returns how many items the page holds: the length of the loop
/// element's array *before* any filter, so that `offset` pagination stops on
/// a page that is really empty, not on one whose items a filter dropped.
/// An error from `on_page` stops the integration and is reported with its
/// page.
pub fn fetch(
    http: &mut Http,
    integration: &Integration,
    scopes: &Scopes,
    on_page: &mut dyn FnMut(usize, &Document) -> anyhow::Result<usize>,
) -> Result<(), IntegrationError> {
    let error = |page: Option<usize>, failure| IntegrationError {
        integration: integration.id.clone(),
        what: describe(&integration.source),
        page,
        failure,
    };
    match &integration.source {
        Source::Request(request) => fetch_pages(
            http,
            request,
            integration.paginate.as_ref(),
            scopes,
            on_page,
        )
        .map_err(|(page, failure)| error(page, failure)),
        other => {
            let json = fetch_one(http, other, scopes).map_err(|f| error(None, f))?;
            on_page(0, &json).map_err(|e| error(None, Failure::Page(e)))?;
            Ok(())
        }
    }
}

/// Runs a source with no pagination (a lookup, an action) and returns its
/// JSON; an empty 2xx body (a 204) is `null`. `id` names it in errors (an
/// action's integration id, `lookup`).
pub fn fetch_source(
    http: &mut Http,
    id: &str,
    source: &Source,
    scopes: &Scopes,
) -> Result<Value, IntegrationError> {
    fetch_one(http, source, scopes)
        .and_then(Document::into_json)
        .map_err(|failure| IntegrationError {
            integration: id.to_owned(),
            what: describe(source),
            page: None,
            failure,
        })
}

/// A lookup's answer, or why it failed; shared by the lookups of one pass
/// that render to the same request.
pub type LookupResult = Result<Value, Arc<IntegrationError>>;

/// Runs a lookup (no pagination) and returns its JSON, at most once per
/// pass for each rendered request: the same requester on a hundred
/// tickets is looked up once. A failure is remembered too, so a lookup that
/// failed is not tried again within the pass (a down directory would
/// otherwise be asked once per record).
pub fn fetch_lookup(http: &mut Http, source: &Source, scopes: &Scopes) -> LookupResult {
    let error = |failure| {
        Arc::new(IntegrationError {
            integration: "lookup".into(),
            what: describe(source),
            page: None,
            failure,
        })
    };
    // The key is the request as it would be sent: method, URL with query,
    // headers and body (a command's argv, a file's path).
    let (key, prepared) = match source {
        Source::Request(request) => {
            let prepared = Prepared::render(request, scopes).map_err(error)?;
            (prepared.cache_key(), Some(prepared))
        }
        Source::File(path) => (vec!["file".into(), path.display().to_string()], None),
        Source::Command { argv, .. } => {
            let mut key = vec!["command".to_owned()];
            for arg in argv {
                key.push(
                    arg.render(scopes, template::Encoding::Plain)
                        .map_err(|e| error(Failure::Render(e)))?,
                );
            }
            (key, None)
        }
    };
    if let Some(answer) = http.lookups.get(&key) {
        return answer.clone();
    }
    let answer = match prepared {
        Some(mut prepared) => {
            let (url, body) = (prepared.url.clone(), prepared.body.clone());
            prepared
                .send(http, &url, body.as_ref())
                .and_then(|page| page.json.into_json())
        }
        None => fetch_one(http, source, scopes).and_then(Document::into_json),
    }
    .map_err(error);
    http.lookups.insert(key, answer.clone());
    answer
}

fn fetch_one(http: &mut Http, source: &Source, scopes: &Scopes) -> Result<Document, Failure> {
    match source {
        Source::Request(request) => {
            let mut prepared = Prepared::render(request, scopes)?;
            let (url, body) = (prepared.url.clone(), prepared.body.clone());
            Ok(prepared.send(http, &url, body.as_ref())?.json)
        }
        Source::File(path) => file::read(path),
        Source::Command { argv, timeout, dir } => command::run(http, argv, *timeout, dir, scopes),
    }
}

/// The page loop; a failure comes with the page (1-based) it concerns,
/// when the request is paginated.
fn fetch_pages(
    http: &mut Http,
    request: &Request,
    paginate: Option<&Paginate>,
    scopes: &Scopes,
    on_page: &mut dyn FnMut(usize, &Document) -> anyhow::Result<usize>,
) -> Result<(), (Option<usize>, Failure)> {
    let page_number = |index: usize| paginate.map(|_| index + 1);
    let mut prepared = Prepared::render(request, scopes).map_err(|f| (None, f))?;
    let (base_url, base_body) = (prepared.url.clone(), prepared.body.clone());
    let mut target = paginate::first(paginate, &base_url, base_body.as_ref());
    let (mut index, mut offset) = (0, 0u64);
    loop {
        let at = |failure| (page_number(index), failure);
        let page = prepared
            .send(http, &target.url, target.body.as_ref())
            .map_err(at)?;
        let Some(p) = paginate else {
            on_page(index, &page.json).map_err(|e| at(Failure::Page(e)))?;
            return Ok(());
        };
        // What the page says of the next is read before `on_page` takes it.
        let next = paginate::next(p, &page, &base_url, base_body.as_ref(), &target).map_err(at)?;
        let items = on_page(index, &page.json).map_err(|e| at(Failure::Page(e)))?;
        let next = match next {
            Next::Done => return Ok(()),
            Next::Page(next) => next,
            // The next offset counts what the server returned, not what
            // was asked for: a server that caps its pages below `size`
            // (ServiceNow, Jira and Zendesk all do) loses nothing. A short
            // page is not the last; only an empty one, or the total, is.
            Next::Offset { total } => {
                offset += items as u64;
                if items == 0 || total.is_some_and(|total| offset >= total) {
                    return Ok(());
                }
                paginate::at_offset(p, offset, &base_url, base_body.as_ref())
                    .expect("offset pagination")
            }
        };
        if index + 1 >= p.max_pages as usize {
            return Err((
                page_number(index + 1),
                Failure::MaxPages {
                    max_pages: p.max_pages,
                },
            ));
        }
        target = next;
        index += 1;
    }
}

/// What ran, as written, for messages: never a rendered value.
fn describe(source: &Source) -> String {
    match source {
        Source::Request(request) => {
            format!("{} {}", request.method.as_str(), request.url.source())
        }
        Source::File(path) => format!("file {}", path.display()),
        Source::Command { argv, .. } => {
            let argv: Vec<&str> = argv.iter().map(|t| t.source()).collect();
            format!("command {}", argv.join(" "))
        }
    }
}
