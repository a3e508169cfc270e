//! A `request` integration rendered once, then sent page by page: the URL
//! and `query` (percent-encoded), headers, the JSON body, auth (with one new
//! OAuth2 token and one retry on a 401), and the response read as JSON.

use serde_json::Value;

use super::auth::Credentials;
use super::document::Document;
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

/// One page: its JSON and the response it came in (for `Link`; its body
/// moved into the document).
pub(super) struct Page {
    pub json: Document,
    pub response: Incoming,
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

    /// The request as it would be sent, for the lookup cache: method, URL,
    /// headers and body (rendered secrets included: it stays in memory).
    pub fn cache_key(&self) -> Vec<String> {
        let mut key = vec![self.request.method.as_str().to_owned(), self.url.clone()];
        for (name, value) in &self.headers {
            key.push(format!("{}: {value}", name.to_ascii_lowercase()));
        }
        key.push(self.body.as_ref().map(Value::to_string).unwrap_or_default());
        key
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
            let response =
                send(http, &outgoing).map_err(|e| Failure::Send(e.masked(&self.secrets)))?;
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
            let mut response = response;
            let body = std::mem::take(&mut response.body);
            let json = Document::checked(body, &self.secrets)?;
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
