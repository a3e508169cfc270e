//! A request's `auth`: basic, bearer, and OAuth2 client credentials.
//!
//! An OAuth2 token is fetched at most once per pass for each token URL,
//! client and scope, kept in [`Http`] (memory only), and fetched again once
//! when the API answers 401. No token, secret or password is ever written
//! anywhere or put in an error.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::error::{Failure, Secrets, excerpt};
use super::http::{Http, Outgoing, send};
use crate::definition::followup::{Auth, Request};
use crate::definition::model::ClientAuth;
use crate::template::{Encoding, Scopes};

/// What `application/x-www-form-urlencoded` leaves as it is (a space is
/// sent as `%20`, which every form decoder reads).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// The most a token response may weigh; tokens are small.
const MAX_TOKEN_RESPONSE: u64 = 1 << 20;

/// A token whose `expires_in` ends sooner than this is fetched anew before
/// use: a request must not start with a token about to expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// OAuth2 tokens fetched in this pass.
#[derive(Default)]
pub struct TokenCache {
    tokens: HashMap<TokenKey, Token>,
}

/// Tokens differ by endpoint, client and scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    token_url: String,
    client_id: String,
    scope: Option<String>,
}

struct Token {
    access_token: String,
    expires: Option<Instant>,
}

/// An `auth` rendered for one request; it knows how to fetch a token again.
pub(super) enum Credentials {
    /// A ready `Authorization` header value.
    Header(String),
    OAuth2(OAuth2),
}

pub(super) struct OAuth2 {
    key: TokenKey,
    client_secret: String,
    client_auth: ClientAuth,
    /// The template, for messages.
    token_url_source: String,
}

impl Credentials {
    /// Renders `auth`; every rendered value is a secret.
    pub fn render(
        auth: &Auth,
        scopes: &Scopes,
        secrets: &mut Secrets,
    ) -> Result<Credentials, Failure> {
        let plain = |t: &crate::template::Template| {
            t.render(scopes, Encoding::Plain).map_err(Failure::Render)
        };
        Ok(match auth {
            Auth::Basic { username, password } => {
                let (username, password) = (plain(username)?, plain(password)?);
                secrets.add(&password);
                let value = format!(
                    "Basic {}",
                    base64(format!("{username}:{password}").as_bytes())
                );
                secrets.add(&value);
                Credentials::Header(value)
            }
            Auth::Bearer { token } => {
                let token = plain(token)?;
                secrets.add(&token);
                Credentials::Header(format!("Bearer {token}"))
            }
            Auth::OAuth2ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
                client_auth,
            } => {
                let client_secret = plain(client_secret)?;
                secrets.add(&client_secret);
                Credentials::OAuth2(OAuth2 {
                    key: TokenKey {
                        token_url: token_url
                            .render(scopes, Encoding::Url)
                            .map_err(Failure::Render)?,
                        client_id: plain(client_id)?,
                        scope: scope.as_ref().map(plain).transpose()?,
                    },
                    client_secret,
                    client_auth: *client_auth,
                    token_url_source: token_url.source().to_owned(),
                })
            }
        })
    }

    /// The `Authorization` header value, fetching a token when none is
    /// cached (or `fresh` asks for a new one, after a 401).
    pub fn header(
        &self,
        http: &mut Http,
        request: &Request,
        fresh: bool,
        secrets: &mut Secrets,
    ) -> Result<String, Failure> {
        let oauth = match self {
            Credentials::Header(value) => return Ok(value.clone()),
            Credentials::OAuth2(oauth) => oauth,
        };
        let cached = http.tokens.tokens.get(&oauth.key).filter(|token| {
            !fresh
                && token
                    .expires
                    .is_none_or(|at| at > Instant::now() + EXPIRY_MARGIN)
        });
        let access_token = match cached {
            Some(token) => token.access_token.clone(),
            None => {
                let token = fetch_token(http, oauth, request, secrets)?;
                let access_token = token.access_token.clone();
                http.tokens.tokens.insert(oauth.key.clone(), token);
                access_token
            }
        };
        secrets.add(&access_token);
        Ok(format!("Bearer {access_token}"))
    }

    /// Whether a 401 may be cured by a new token.
    pub fn refreshable(&self) -> bool {
        matches!(self, Credentials::OAuth2(_))
    }
}

/// The client credentials grant (RFC 6749 §4.4).
fn fetch_token(
    http: &mut Http,
    oauth: &OAuth2,
    request: &Request,
    secrets: &mut Secrets,
) -> Result<Token, Failure> {
    let form = |s: &str| utf8_percent_encode(s, FORM).to_string();
    let mut body = String::from("grant_type=client_credentials");
    if let Some(scope) = &oauth.key.scope {
        body.push_str(&format!("&scope={}", form(scope)));
    }
    let mut outgoing = Outgoing::new("POST", oauth.key.token_url.clone())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json");
    match oauth.client_auth {
        // RFC 6749 §2.3.1: both are form-encoded before they are joined.
        ClientAuth::Basic => {
            let pair = format!(
                "{}:{}",
                form(&oauth.key.client_id),
                form(&oauth.client_secret)
            );
            let value = format!("Basic {}", base64(pair.as_bytes()));
            secrets.add(&value);
            outgoing = outgoing.header("Authorization", value);
        }
        ClientAuth::Form => {
            body.push_str(&format!(
                "&client_id={}&client_secret={}",
                form(&oauth.key.client_id),
                form(&oauth.client_secret)
            ));
        }
    }
    outgoing.body = Some(body.into_bytes());
    outgoing.connect_timeout = request.connect_timeout;
    outgoing.total_timeout = request.total_timeout;
    outgoing.max_response = MAX_TOKEN_RESPONSE;
    outgoing.ca_file = request.ca_file.clone();

    let what = |failure: Failure| Failure::Token {
        token_url: oauth.token_url_source.clone(),
        failure: Box::new(failure),
    };
    let response = send(http, &outgoing).map_err(|e| what(Failure::Send(e.masked(secrets))))?;
    if !response.is_success() {
        // An error body says why (`invalid_client`); it holds no token.
        return Err(what(Failure::Status {
            status: response.status,
            excerpt: excerpt(&response.body, secrets),
        }));
    }
    // A 2xx body holds the token: never quote it.
    let parsed: Value = serde_json::from_slice(&response.body).map_err(|e| {
        what(Failure::Other(format!(
            "the token response is not JSON (line {}, column {})",
            e.line(),
            e.column()
        )))
    })?;
    let access_token = parsed
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            what(Failure::Other(
                "the token response has no `access_token`".into(),
            ))
        })?;
    let expires = parsed
        .get("expires_in")
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
        .and_then(|secs| Instant::now().checked_add(Duration::from_secs(secs)));
    Ok(Token {
        access_token: access_token.to_owned(),
        expires,
    })
}

/// Standard base64 with padding (RFC 4648 §4); a few lines instead of a crate.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }
}
