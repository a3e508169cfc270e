//! Why an integration failed, in one line that names the integration, the
//! page and what happened, and never holds a secret: a request is named by
//! its URL *template* (`GET @{global.sn}/api/now/table/x`), never by the
//! rendered URL, its headers or its auth, and quoted response text has every
//! secret of the request masked.

use std::fmt;
use std::time::Duration;

use super::http::{SendError, status_line};
use crate::template::Missing;

/// How much of a response or of stderr an error quotes.
const EXCERPT_CHARS: usize = 200;

#[derive(Debug)]
pub struct IntegrationError {
    /// The integration's id (`#N` when it has none, `lookup` for a lookup).
    pub integration: String,
    /// What ran, as written: `GET @{global.sn}/api/x`, `file data.json`,
    /// `command gh issue list`.
    pub what: String,
    /// The page (1-based) of a paginated request.
    pub page: Option<usize>,
    pub failure: Failure,
}

#[derive(Debug)]
pub enum Failure {
    /// A template names a value the scopes do not hold.
    Render(Missing),
    /// No response.
    Send(SendError),
    /// A response outside 2xx.
    Status {
        status: u16,
        excerpt: String,
    },
    /// A response, file or stdout that is not JSON.
    Json {
        error: String,
        excerpt: Option<String>,
    },
    /// The OAuth2 token request failed.
    Token {
        token_url: String,
        failure: Box<Failure>,
    },
    /// There is a next page, and `max_pages` pages were read already.
    MaxPages {
        max_pages: u32,
    },
    /// Pagination cannot go on (a cursor that is not a string, say).
    Paginate(String),
    /// What the caller's `on_page` said of a page.
    Page(anyhow::Error),
    /// A local file cannot be read.
    File(String),
    /// A command could not start.
    Spawn(String),
    /// A command exited with a status other than 0.
    Exit {
        status: String,
        stderr: String,
    },
    /// A command outlived its `timeout` (or the pass's end) and was killed.
    CommandTimeout {
        after: Duration,
        by_deadline: bool,
        stderr: String,
    },
    /// A command wrote more than the bound on stdout and was killed.
    CommandTooLarge {
        limit: u64,
    },
    Other(String),
}

impl Failure {
    /// Worth trying again later: no response, 429 or 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            Failure::Send(e) => e.is_transient(),
            Failure::Status { status, .. } => *status == 429 || *status >= 500,
            Failure::Token { failure, .. } => failure.is_transient(),
            _ => false,
        }
    }
}

impl IntegrationError {
    pub fn is_transient(&self) -> bool {
        self.failure.is_transient()
    }
}

impl fmt::Display for IntegrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "integration `{}` ({})", self.integration, self.what)?;
        if let Some(page) = self.page {
            write!(f, ", page {page}")?;
        }
        write!(f, ": {}", self.failure)
    }
}

impl std::error::Error for IntegrationError {}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_excerpt = |f: &mut fmt::Formatter<'_>, excerpt: &str| {
            if excerpt.is_empty() {
                Ok(())
            } else {
                write!(f, ": {excerpt}")
            }
        };
        match self {
            Failure::Render(missing) => missing.fmt(f),
            Failure::Send(e) => e.fmt(f),
            Failure::Status { status, excerpt } => {
                write!(f, "HTTP {}", status_line(*status))?;
                if (300..400).contains(status) {
                    f.write_str(" (followup follows no redirect: use the URL it points to)")?;
                }
                with_excerpt(f, excerpt)
            }
            Failure::Json { error, excerpt } => {
                write!(f, "not JSON ({error})")?;
                with_excerpt(f, excerpt.as_deref().unwrap_or_default())
            }
            Failure::Token { token_url, failure } => {
                write!(f, "OAuth2 token request to {token_url}: {failure}")
            }
            Failure::MaxPages { max_pages } => write!(
                f,
                "there is a next page beyond max_pages ({max_pages}); raise `max_pages` or narrow the query"
            ),
            Failure::Paginate(why) | Failure::File(why) | Failure::Other(why) => f.write_str(why),
            Failure::Page(e) => write!(f, "{e:#}"),
            Failure::Spawn(why) => write!(f, "cannot run: {why}"),
            Failure::Exit { status, stderr } => {
                write!(f, "{status}")?;
                with_excerpt(f, stderr)
            }
            Failure::CommandTimeout {
                after,
                by_deadline,
                stderr,
            } => {
                let after = humantime::format_duration(*after);
                if *by_deadline {
                    write!(
                        f,
                        "killed after {after}, at the end of the pass (--max-duration)"
                    )?;
                } else {
                    write!(f, "killed after its timeout of {after}")?;
                }
                with_excerpt(f, stderr)
            }
            Failure::CommandTooLarge { limit } => {
                write!(f, "killed: stdout is larger than {limit} bytes")
            }
        }
    }
}

/// Values that must never appear in an error: rendered auth values,
/// tokens, the values of `env.*` a request uses.
#[derive(Default, Clone)]
pub struct Secrets {
    /// Every form of every secret.
    forms: Vec<String>,
    /// How many secrets they are the forms of.
    count: usize,
}

/// Says how many, never which.
impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} masked)", self.count)
    }
}

impl Secrets {
    /// Masks `secret` and every form it takes on the way out: a server
    /// quotes back what it received, encoded the way it received it (a
    /// proxy's error page the percent-encoded URL, a token endpoint the
    /// form body, an API its JSON-escaped input, a header its base64).
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() || self.forms.iter().any(|f| f == secret) {
            return;
        }
        self.count += 1;
        for form in encoded_forms(secret) {
            if !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
    }

    /// `text` with every secret replaced by `***`; longest first, so that
    /// a secret inside another is not left half-masked.
    pub fn mask(&self, text: &str) -> String {
        let mut secrets: Vec<&String> = self.forms.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.into_iter().fold(text.to_owned(), |text, secret| {
            text.replace(secret.as_str(), "***")
        })
    }
}

/// `secret` as it is and as every encoding that may quote it writes it:
/// percent-encoded (space as `%20` or `+`, hex in either case, `*` and `~`
/// left or not), JSON-escaped (`/` as it is or as `\/`), base64 (standard
/// and URL-safe, with and without padding).
fn encoded_forms(secret: &str) -> Vec<String> {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // RFC 3986's unreserved set, and WHATWG's form set (which keeps `*`
    // and encodes `~`).
    const URI: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    const FORM: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    let mut forms = vec![secret.to_owned()];
    for set in [URI, FORM] {
        let encoded = utf8_percent_encode(secret, set).to_string();
        forms.push(encoded.replace("%20", "+"));
        forms.push(lower_hex(&encoded));
        forms.push(encoded);
    }
    let json = serde_json::to_string(secret).expect("a string serializes");
    let json = &json[1..json.len() - 1];
    forms.push(json.replace('/', "\\/"));
    forms.push(json.to_owned());
    let standard = crate::integration::auth::base64(secret.as_bytes());
    let url_safe = standard.replace('+', "-").replace('/', "_");
    for b64 in [standard, url_safe] {
        forms.push(b64.trim_end_matches('=').to_owned());
        forms.push(b64);
    }
    forms.retain(|f| !f.is_empty());
    forms
}

/// `%2F` as `%2f`: decoders accept both, and some servers echo the lower.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i..i + 3).unwrap_or(&rest[i..]);
        out.push_str(&code.to_ascii_lowercase());
        rest = &rest[i + code.len()..];
    }
    out.push_str(rest);
    out
}

/// The start of a body or of stderr, on one line, secrets masked.
pub fn excerpt(bytes: &[u8], secrets: &Secrets) -> String {
    excerpt_of(bytes, secrets, EXCERPT_CHARS)
}

/// [`excerpt`] with at most `chars` characters.
pub fn excerpt_of(bytes: &[u8], secrets: &Secrets, chars: usize) -> String {
    // Mask before cutting, so that a secret across the cut is not half shown.
    let head = &bytes[..bytes.len().min(16 * 1024)];
    let text = secrets.mask(&String::from_utf8_lossy(head));
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_single_lines_without_secrets() {
        let mut secrets = Secrets::default();
        secrets.add("hunter2");
        secrets.add("Basic aHVudGVyMg==");
        let body =
            b"{\n  \"error\": \"bad password hunter2\",\n  \"auth\": \"Basic aHVudGVyMg==\"\n}";
        assert_eq!(
            excerpt(body, &secrets),
            r#"{ "error": "bad password ***", "auth": "***" }"#
        );
        let long = "é".repeat(500);
        let cut = excerpt(long.as_bytes(), &Secrets::default());
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt(&[0xff, b'a'], &Secrets::default()), "\u{fffd}a");
    }

    #[test]
    fn every_encoded_form_of_a_secret_is_masked() {
        let secret = "p@ss w/rd+\"ü~*";
        let mut secrets = Secrets::default();
        secrets.add(secret);
        let forms = [
            secret.to_owned(),
            "p%40ss%20w%2Frd%2B%22%C3%BC~%2A".to_owned(),
            "p%40ss+w%2Frd%2B%22%C3%BC~%2A".to_owned(),
            "p%40ss%20w%2frd%2b%22%c3%bc~%2a".to_owned(),
            "p%40ss+w%2Frd%2B%22%C3%BC%7E*".to_owned(),
            r#"p@ss w/rd+\"ü~*"#.to_owned(),
            r#"p@ss w\/rd+\"ü~*"#.to_owned(),
            crate::integration::auth::base64(secret.as_bytes()),
            crate::integration::auth::base64(secret.as_bytes())
                .replace('+', "-")
                .replace('/', "_"),
        ];
        for form in forms {
            let masked = secrets.mask(&format!("before {form} after"));
            assert_eq!(masked, "before *** after", "form {form}");
        }
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let mut secrets = Secrets::default();
        secrets.add("hunter2");
        assert_eq!(format!("{secrets:?}"), "Secrets(1 masked)");
        let request = crate::integration::http::Outgoing::new("GET", "https://h/x?key=hunter2")
            .header("Authorization", "Bearer hunter2");
        assert!(!format!("{request:?}").contains("hunter2"));
    }

    #[test]
    fn display_names_integration_page_and_cause() {
        let err = IntegrationError {
            integration: "requests".into(),
            what: "GET @{global.sn}/api/now/table/x".into(),
            page: Some(3),
            failure: Failure::Status {
                status: 503,
                excerpt: "busy".into(),
            },
        };
        assert_eq!(
            err.to_string(),
            "integration `requests` (GET @{global.sn}/api/now/table/x), page 3: HTTP 503 Service Unavailable: busy"
        );
        assert!(err.is_transient());
    }
}
