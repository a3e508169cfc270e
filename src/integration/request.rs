//! A `request` integration rendered once, then sent page by page: the URL
//! and `query` (percent-encoded), headers, the JSON body, auth (with one new
//! OAuth2 token and one retry on a 401), and the response read as JSON.

use std::cell::OnceCell;

use serde::de::IgnoredAny;
use serde_json::Value;

use super::auth::Credentials;
use super::error::{Failure, Secrets, excerpt};
use super::http::{Http, Incoming, Outgoing, send};
use super::url;
use crate::definition::followup::{Auth, Body, Request};
use crate::template::{Encoding, Missing, Scope, Scopes, Template};

/// A request with its templates rendered.
pub(super) struct Prepared<'r> {
    pub request: &'r Request,
    /// The rendered URL with `query` added; pagination adds its own
    /// parameters to it.
    pub url: String,
    headers: Vec<(String, String)>,
    pub body: Option<Value>,
    credentials: Option<Credentials>,
    pub secrets: Secrets,
}

/// One page: its JSON and the response it came in (for `Link`).
pub(super) struct Page {
    pub json: Document,
    pub response: Incoming,
}

/// A JSON document as received: its bytes, checked to be JSON when they
/// arrive, and parsed into a tree only when someone asks. The poll reads
/// large pages straight from the bytes, without a tree.
#[derive(Debug)]
pub struct Document {
    bytes: Vec<u8>,
    tree: OnceCell<Value>,
}

impl Document {
    /// Checks that `body` is one JSON value; an empty body (a 204 to an
    /// action) is `null`.
    pub(super) fn checked(body: Vec<u8>, secrets: &Secrets) -> Result<Document, Failure> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Document::from_value(Value::Null));
        }
        // A syntax check that allocates nothing: the tree may never be
        // needed. Skipping strings does not look at their bytes, so UTF-8
        // is checked first.
        let text = std::str::from_utf8(&body).map_err(|e| {
            let before = &body[..e.valid_up_to()];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let column = before.len()
                - before
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1)
                + 1;
            Failure::Json {
                error: format!("invalid UTF-8 at line {line} column {column}"),
                excerpt: Some(excerpt(&body, secrets)),
            }
        })?;
        serde_json::from_str::<IgnoredAny>(text).map_err(|e| Failure::Json {
            error: e.to_string(),
            excerpt: Some(excerpt(&body, secrets)),
        })?;
        Ok(Document {
            bytes: body,
            tree: OnceCell::new(),
        })
    }

    pub fn from_value(value: Value) -> Document {
        Document {
            bytes: value.to_string().into_bytes(),
            tree: OnceCell::from(value),
        }
    }

    /// The document as sent, checked to be JSON.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The document as a tree, parsed at the first call.
    pub fn json(&self) -> &Value {
        self.tree.get_or_init(|| {
            // `checked` made sure the bytes are JSON.
            serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
        })
    }

    pub fn into_json(self) -> Value {
        match self.tree.into_inner() {
            Some(value) => value,
            None => serde_json::from_slice(&self.bytes).unwrap_or(Value::Null),
        }
    }
}

impl<'r> Prepared<'r> {
    pub fn render(request: &'r Request, scopes: &Scopes) -> Result<Prepared<'r>, Failure> {
        let mut secrets = Secrets::default();
        // `env.*` is where secrets live; whatever the request takes from it
        // is masked in anything quoted back.
        for template in templates_of(request) {
            for insert in template.inserts() {
                if let (Scope::Env, Some(name)) = (insert.path.scope, insert.path.name())
                    && let Ok(value) = std::env::var(name)
                {
                    secrets.add(&value);
                }
            }
        }
        let render = |t: &Template| t.render(scopes, Encoding::Plain).map_err(Failure::Render);
        let base = request
            .url
            .render(scopes, Encoding::Url)
            .map_err(Failure::Render)?;
        let query = request
            .query
            .iter()
            .map(|(name, value)| Ok((name.as_str(), render(value)?)))
            .collect::<Result<Vec<_>, Failure>>()?;
        let url = url::with_query(&base, query.iter().map(|(k, v)| (*k, v.as_str())));
        let headers = request
            .headers
            .iter()
            .map(|(name, value)| Ok((name.clone(), render(value)?)))
            .collect::<Result<Vec<_>, Failure>>()?;
        let body = match &request.body {
            Some(body) => Some(render_body(body, scopes).map_err(Failure::Render)?),
            None => None,
        };
        let credentials = match &request.auth {
            Some(auth) => Some(Credentials::render(auth, scopes, &mut secrets)?),
            None => None,
        };
        Ok(Prepared {
            request,
            url,
            headers,
            body,
            credentials,
            secrets,
        })
    }

    /// Sends one page's request; a non-2xx or a body that is not JSON is a
    /// failure.
    pub fn send(
        &mut self,
        http: &mut Http,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Page, Failure> {
        let request = self.request;
        let mut outgoing = Outgoing::new(request.method.as_str(), url);
        outgoing.headers = self.headers.clone();
        if !outgoing.has_header("accept") {
            outgoing
                .headers
                .push(("Accept".into(), "application/json".into()));
        }
        if let Some(body) = body {
            if !outgoing.has_header("content-type") {
                outgoing
                    .headers
                    .push(("Content-Type".into(), "application/json".into()));
            }
            outgoing.body = Some(body.to_string().into_bytes());
        }
        outgoing.connect_timeout = request.connect_timeout;
        outgoing.total_timeout = request.total_timeout;
        outgoing.max_response = request.max_response;
        outgoing.ca_file = request.ca_file.clone();

        let mut fresh_token = false;
        loop {
            if let Some(credentials) = &self.credentials {
                let value = credentials.header(http, request, fresh_token, &mut self.secrets)?;
                // `auth` decides; an `Authorization` in `headers` gives way.
                outgoing
                    .headers
                    .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
                outgoing.headers.push(("Authorization".into(), value));
            }
            let response = send(http, &outgoing).map_err(Failure::Send)?;
            let refreshable = self
                .credentials
                .as_ref()
                .is_some_and(Credentials::refreshable);
            if response.status == 401 && refreshable && !fresh_token {
                // The token may have been revoked or expired early: one new
                // token, one more try.
                fresh_token = true;
                continue;
            }
            if !response.is_success() {
                return Err(Failure::Status {
                    status: response.status,
                    excerpt: excerpt(&response.body, &self.secrets),
                });
            }
            let json = Document::checked(response.body.clone(), &self.secrets)?;
            return Ok(Page { json, response });
        }
    }
}

/// Every template of a request, wherever it is.
fn templates_of(request: &Request) -> Vec<&Template> {
    let mut all = vec![&request.url];
    all.extend(request.query.iter().map(|(_, t)| t));
    all.extend(request.headers.iter().map(|(_, t)| t));
    match &request.auth {
        Some(Auth::Basic { username, password }) => all.extend([username, password]),
        Some(Auth::Bearer { token }) => all.push(token),
        Some(Auth::OAuth2ClientCredentials {
            token_url,
            client_id,
            client_secret,
            scope,
            ..
        }) => all.extend(
            [token_url, client_id, client_secret]
                .into_iter()
                .chain(scope),
        ),
        None => {}
    }
    all
}

/// A body written as YAML, rendered: each string leaf a template, and a
/// leaf that is exactly one `@{path}` keeps the JSON type of its value.
pub(super) fn render_body(body: &Body, scopes: &Scopes) -> Result<Value, Missing> {
    Ok(match body {
        Body::Template(template) => template.render_value(scopes)?,
        Body::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| render_body(item, scopes))
                .collect::<Result<_, _>>()?,
        ),
        Body::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, value)| Ok((key.clone(), render_body(value, scopes)?)))
                .collect::<Result<_, Missing>>()?,
        ),
        Body::Literal(value) => value.clone(),
    })
}
