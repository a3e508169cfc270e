//! The one HTTP primitive: integrations, OAuth2 token requests and (later)
//! the HTTP channels all go through [`send`].
//!
//! It never turns a status into an error (the caller reads status and body),
//! bounds every response while reading it, caps every timeout by the pass's
//! deadline, and sorts transport failures into kinds a caller can act on
//! (transient or not). It never puts a URL, a header or a body in an error:
//! they may hold secrets.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use ureq::Agent;
use ureq::http::{self, Response};

use super::auth::TokenCache;

/// Limits of a request when nothing else is said (DESIGN.md: `timeouts`,
/// `max_response`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_MAX_RESPONSE: u64 = 16 << 20;

/// The HTTP state of one pass: one agent per distinct `ca_file` (each keeps
/// its own connections), the OAuth2 tokens fetched so far, the lookups
/// answered so far, and the pass's deadline, which caps every timeout.
pub struct Http {
    agents: HashMap<Option<PathBuf>, Agent>,
    pub(super) tokens: TokenCache,
    /// Lookup answers by rendered request (see `fetch_lookup`).
    pub(super) lookups: HashMap<Vec<String>, super::LookupResult>,
    deadline: Option<Instant>,
}

impl Http {
    pub fn new(deadline: Option<Instant>) -> Http {
        Http {
            agents: HashMap::new(),
            tokens: TokenCache::default(),
            lookups: HashMap::new(),
            deadline,
        }
    }

    /// How long a step that may take `limit` may take now: `limit`, or less
    /// when the pass ends sooner; `None` when the pass's time is up.
    pub fn budget(&self, limit: Duration) -> Option<Budget> {
        budget(self.deadline, limit)
    }

    fn agent(&mut self, ca_file: Option<&Path>) -> Result<Agent, SendError> {
        let key = ca_file.map(Path::to_path_buf);
        if let Some(agent) = self.agents.get(&key) {
            return Ok(agent.clone());
        }
        let agent = new_agent(ca_file).map_err(|e| SendError::Invalid(format!("{e:#}")))?;
        self.agents.insert(key, agent.clone());
        Ok(agent)
    }
}

/// How long a step that may take `limit` may take now, given the pass's
/// `deadline`; `None` when the pass's time is up.
pub fn budget(deadline: Option<Instant>, limit: Duration) -> Option<Budget> {
    let Some(deadline) = deadline else {
        return Some(Budget {
            time: limit,
            by_deadline: false,
        });
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left < Duration::from_millis(1) {
        return None;
    }
    Some(Budget {
        time: limit.min(left),
        by_deadline: left < limit,
    })
}

/// A time limit, and whether the pass's deadline is what set it.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Duration,
    pub by_deadline: bool,
}

/// An agent (its own pool of keep-alive connections) trusting the default
/// roots and `ca_file`. Agents are cheap to clone and shared by threads.
pub fn new_agent(ca_file: Option<&Path>) -> anyhow::Result<Agent> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(path) = ca_file {
        // On top of the default (Mozilla) roots, not instead of them: an
        // operator adds an internal CA without losing the public ones.
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read `ca_file` {}", path.display()))?;
        let mut roots: Vec<ureq::tls::Certificate<'static>> =
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| ureq::tls::Certificate::from_der(der.as_ref()))
                .collect();
        let before = roots.len();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => roots.push(cert),
                Ok(_) => {}
                Err(e) => anyhow::bail!("`ca_file` {} is not valid PEM: {e}", path.display()),
            }
        }
        anyhow::ensure!(
            roots.len() > before,
            "`ca_file` {} holds no PEM certificate",
            path.display()
        );
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
    }
    Ok(Agent::config_builder()
        // The caller reads every status itself, with the body.
        .http_status_as_error(false)
        // A redirect would carry the request's headers (an API key, say) to
        // wherever it points; a 3xx is answered like any other status.
        .max_redirects(0)
        // The channels' senders each keep a connection per host alive
        // (`--concurrency` is at most 32).
        .max_idle_connections(64)
        .max_idle_connections_per_host(32)
        .tls_config(tls.build())
        .user_agent(concat!("followup/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent())
}

/// One HTTP request.
#[derive(Clone)]
pub struct Outgoing {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    /// The most bytes of response body read; more is [`SendError::TooLarge`].
    pub max_response: u64,
    /// An extra trusted CA (PEM) on top of the default roots.
    pub ca_file: Option<PathBuf>,
}

/// The URL and header values may hold secrets: `{:?}` shows neither.
impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Outgoing")
            .field("method", &self.method)
            .field("headers", &names)
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .field("max_response", &self.max_response)
            .finish_non_exhaustive()
    }
}

impl Outgoing {
    /// A request with the default limits.
    pub fn new(method: &str, url: impl Into<String>) -> Outgoing {
        Outgoing {
            method: method.to_owned(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            max_response: DEFAULT_MAX_RESPONSE,
            ca_file: None,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Outgoing {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Whether a header named `name` is set (case-insensitive).
    pub fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    }
}

/// A response: any status, the body read in full (within `max_response`).
#[derive(Debug, Clone)]
pub struct Incoming {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Incoming {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Every header named `name`, in order (`Link` may come several times).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn status_line(status: u16) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    match reason {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// Why a request got no response. None of them holds the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The pass's time (`--max-duration`) was up before the request started.
    Deadline,
    /// Connecting, or the whole exchange, took longer than allowed.
    Timeout {
        after: Duration,
        connecting: bool,
        /// The pass's deadline, not the request's own limit, set `after`.
        by_deadline: bool,
    },
    /// No connection: refused, unreachable, unknown host.
    Connect(String),
    /// The connection broke, or the server's answer was not HTTP.
    Transport(String),
    /// The body is larger than `max_response`.
    TooLarge { limit: u64 },
    /// The server's certificate was not trusted, or TLS failed.
    Tls(String),
    /// The request cannot be sent as given: a bad URL or header after
    /// rendering, an unreadable `ca_file`.
    Invalid(String),
}

impl SendError {
    /// The error with the secrets of its request masked: transport and TLS
    /// messages may quote a host or URL built from `env.*`.
    pub fn masked(self, secrets: &super::error::Secrets) -> SendError {
        match self {
            SendError::Connect(s) => SendError::Connect(secrets.mask(&s)),
            SendError::Transport(s) => SendError::Transport(secrets.mask(&s)),
            SendError::Tls(s) => SendError::Tls(secrets.mask(&s)),
            SendError::Invalid(s) => SendError::Invalid(secrets.mask(&s)),
            other => other,
        }
    }

    /// Worth trying again later (DESIGN.md, "Responses": timeouts and
    /// connection errors are transient).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SendError::Deadline
                | SendError::Timeout { .. }
                | SendError::Connect(_)
                | SendError::Transport(_)
        )
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Deadline => {
                f.write_str("the pass ran out of time (--max-duration) before the request")
            }
            SendError::Timeout {
                after,
                connecting,
                by_deadline,
            } => {
                let what = if *connecting {
                    "connecting"
                } else {
                    "the request"
                };
                write!(
                    f,
                    "{what} timed out after {}",
                    humantime::format_duration(*after)
                )?;
                if *by_deadline {
                    f.write_str(" (the end of the pass, --max-duration)")?;
                }
                Ok(())
            }
            SendError::Connect(e) => write!(f, "cannot connect: {e}"),
            SendError::Transport(e) => write!(f, "connection error: {e}"),
            SendError::TooLarge { limit } => {
                write!(
                    f,
                    "the response is larger than max_response ({limit} bytes)"
                )
            }
            SendError::Tls(e) => write!(f, "TLS: {e}"),
            SendError::Invalid(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for SendError {}

/// Sends one request and reads the whole response, whatever its status.
pub fn send(http: &mut Http, request: &Outgoing) -> Result<Incoming, SendError> {
    let agent = http.agent(request.ca_file.as_deref())?;
    exchange(&agent, http.deadline, request)
}

/// Sends one request through `agent` within the pass's `deadline`: what
/// [`send`] does, for callers on any thread that keep their own agent
/// (the channels' senders). `request.ca_file` is the agent's business.
pub fn exchange(
    agent: &Agent,
    deadline: Option<Instant>,
    request: &Outgoing,
) -> Result<Incoming, SendError> {
    let budget = budget(deadline, request.total_timeout).ok_or(SendError::Deadline)?;
    let connect = request.connect_timeout.min(budget.time);

    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let limits = Limits {
        connect,
        total: budget,
    };
    // Two calls because the body's type decides whether one is sent at all:
    // a GET carries no `Content-Length: 0`.
    let response = match &request.body {
        Some(body) => run(agent, builder.body(body.as_slice()), limits),
        None => run(agent, builder.body(()), limits),
    };
    let mut response = response?;

    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let announced = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > request.max_response) {
        return Err(SendError::TooLarge {
            limit: request.max_response,
        });
    }
    let body = read_bounded(&mut response, request.max_response, limits)?;
    Ok(Incoming {
        status,
        headers,
        body,
    })
}

#[derive(Clone, Copy)]
struct Limits {
    connect: Duration,
    total: Budget,
}

fn run<S: ureq::AsSendBody>(
    agent: &Agent,
    request: Result<http::Request<S>, http::Error>,
    limits: Limits,
) -> Result<Response<ureq::Body>, SendError> {
    // `http::Error` says what is wrong (a bad header value, say) without the value.
    let request = request.map_err(|e| SendError::Invalid(format!("invalid request: {e}")))?;
    let request = agent
        .configure_request(request)
        .timeout_connect(Some(limits.connect))
        // End to end, the body included.
        .timeout_global(Some(limits.total.time))
        .build();
    agent.run(request).map_err(|e| from_ureq(&e, limits))
}

/// Reads at most `limit` bytes; one more is an error, whatever
/// `Content-Length` said (a server may send none, or lie).
fn read_bounded(
    response: &mut Response<ureq::Body>,
    limit: u64,
    limits: Limits,
) -> Result<Vec<u8>, SendError> {
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(limit.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|e| from_io(&e, limits))?;
    if body.len() as u64 > limit {
        return Err(SendError::TooLarge { limit });
    }
    Ok(body)
}

/// An I/O error while sending or reading: ureq wraps its own errors in
/// them when the body is read.
fn from_io(e: &std::io::Error, limits: Limits) -> SendError {
    use std::io::ErrorKind;
    if let Some(inner) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
    {
        return from_ureq(inner, limits);
    }
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => SendError::Timeout {
            after: limits.total.time,
            connecting: false,
            by_deadline: limits.total.by_deadline,
        },
        ErrorKind::ConnectionRefused
        | ErrorKind::AddrNotAvailable
        | ErrorKind::NetworkUnreachable
        | ErrorKind::HostUnreachable => SendError::Connect(e.to_string()),
        // rustls reports a refused certificate (and any TLS failure) through
        // the stream as invalid data; nothing else on the wire does.
        ErrorKind::InvalidData => SendError::Tls(e.to_string()),
        _ => SendError::Transport(e.to_string()),
    }
}

fn from_ureq(e: &ureq::Error, limits: Limits) -> SendError {
    use ureq::Error as E;
    match e {
        E::Timeout(which) => {
            let connecting = matches!(which, ureq::Timeout::Connect | ureq::Timeout::Resolve);
            SendError::Timeout {
                after: if connecting {
                    limits.connect
                } else {
                    limits.total.time
                },
                connecting,
                by_deadline: limits.total.by_deadline
                    && (!connecting || limits.connect == limits.total.time),
            }
        }
        E::HostNotFound => SendError::Connect("host not found".into()),
        E::ConnectionFailed => SendError::Connect("connection failed".into()),
        E::ConnectProxyFailed(why) => SendError::Connect(format!("proxy: {why}")),
        E::Io(io) => from_io(io, limits),
        E::BodyExceedsLimit(limit) => SendError::TooLarge { limit: *limit },
        E::Tls(why) => SendError::Tls((*why).to_owned()),
        E::Pem(why) => SendError::Tls(format!("{why:?}")),
        E::Rustls(why) => SendError::Tls(why.to_string()),
        // Its text is the URL, which may hold a secret.
        E::BadUri(_) => SendError::Invalid("the URL is not a valid http(s) URL".into()),
        E::Http(why) => SendError::Invalid(format!("invalid request: {why}")),
        E::RequireHttpsOnly(_) => SendError::Invalid("the URL is not https".into()),
        other => SendError::Transport(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration::test_server::{Reply, Server};
    use serde_json::json;

    #[test]
    fn sends_method_headers_and_body_and_reads_any_status() {
        let server =
            Server::start(|_| Reply::json(418, json!({"tea": true})).header("X-Seen", "yes"));
        let mut http = Http::new(None);
        let request = Outgoing::new("PUT", server.url("/hook"))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", "a/b/1");
        let request = Outgoing {
            body: Some(br#"{"x":1}"#.to_vec()),
            ..request
        };
        let response = send(&mut http, &request).unwrap();
        assert_eq!(response.status, 418);
        assert!(!response.is_success());
        assert_eq!(response.headers_named("x-seen").next(), Some("yes"));
        assert_eq!(response.body, br#"{"tea":true}"#);
        let received = &server.requests()[0];
        assert_eq!(received.method, "PUT");
        assert_eq!(received.path, "/hook");
        assert_eq!(received.header("Idempotency-Key"), Some("a/b/1"));
        assert_eq!(received.json(), json!({"x": 1}));
    }

    #[test]
    fn a_get_without_body_sends_no_content_length() {
        let server = Server::start(|_| Reply::status(204));
        send(&mut Http::new(None), &Outgoing::new("GET", server.url("/"))).unwrap();
        assert_eq!(server.requests()[0].header("content-length"), None);
    }

    #[test]
    fn a_slow_server_times_out() {
        let server =
            Server::start(|_| Reply::json(200, json!({})).delay(Duration::from_millis(800)));
        let mut request = Outgoing::new("GET", server.url("/slow"));
        request.total_timeout = Duration::from_millis(150);
        let started = Instant::now();
        let err = send(&mut Http::new(None), &request).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_millis(700),
            "{:?}",
            started.elapsed()
        );
        assert!(
            matches!(
                err,
                SendError::Timeout {
                    connecting: false,
                    by_deadline: false,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.is_transient());
        assert_eq!(err.to_string(), "the request timed out after 150ms");
    }

    #[test]
    fn the_pass_deadline_caps_the_timeout() {
        let server =
            Server::start(|_| Reply::json(200, json!({})).delay(Duration::from_millis(800)));
        let mut http = Http::new(Some(Instant::now() + Duration::from_millis(150)));
        let err = send(&mut http, &Outgoing::new("GET", server.url("/slow"))).unwrap_err();
        assert!(
            matches!(
                err,
                SendError::Timeout {
                    by_deadline: true,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("--max-duration"), "{err}");

        let mut over = Http::new(Some(Instant::now()));
        let err = send(&mut over, &Outgoing::new("GET", server.url("/"))).unwrap_err();
        assert_eq!(err, SendError::Deadline);
    }

    #[test]
    fn max_response_is_enforced_while_reading() {
        let big = vec![b'x'; 64 * 1024];
        let server = Server::start(move |req| match req.path.as_str() {
            "/announced" => Reply::bytes(200, big.clone()),
            // No Content-Length: only reading can tell.
            _ => Reply::bytes(200, big.clone()).without_length(),
        });
        let mut http = Http::new(None);
        for path in ["/announced", "/unannounced"] {
            let mut request = Outgoing::new("GET", server.url(path));
            request.max_response = 1000;
            let err = send(&mut http, &request).unwrap_err();
            assert_eq!(err, SendError::TooLarge { limit: 1000 }, "{path}");
            assert!(!err.is_transient());
        }
        let mut request = Outgoing::new("GET", server.url("/unannounced"));
        request.max_response = 64 * 1024;
        assert_eq!(send(&mut http, &request).unwrap().body.len(), 64 * 1024);
    }

    #[test]
    fn connection_failures_are_transient_and_name_no_url() {
        // Bind, learn the port, close: nothing listens there any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/x?token=s3cret");
        let err = send(&mut Http::new(None), &Outgoing::new("GET", url)).unwrap_err();
        assert!(matches!(err, SendError::Connect(_)), "{err:?}");
        assert!(err.is_transient());
        assert!(!err.to_string().contains("s3cret"), "{err}");

        let server = Server::start(|_| Reply::hang_up());
        let err = send(&mut Http::new(None), &Outgoing::new("GET", server.url("/"))).unwrap_err();
        assert!(err.is_transient(), "{err:?}");

        let err = send(
            &mut Http::new(None),
            &Outgoing::new("GET", "notaurl://s3cret@x"),
        )
        .unwrap_err();
        assert!(!err.is_transient(), "{err:?}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn a_bad_ca_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for (path, says) in [
            (&missing, "cannot read `ca_file`"),
            (&empty, "holds no PEM certificate"),
        ] {
            let mut request = Outgoing::new("GET", "https://127.0.0.1:1/");
            request.ca_file = Some(path.clone());
            let err = send(&mut Http::new(None), &request).unwrap_err();
            assert!(err.to_string().contains(says), "{err}");
            assert!(!err.is_transient());
        }
    }

    #[test]
    fn tls_is_verified_and_ca_file_adds_a_trusted_ca() {
        use crate::integration::test_tls::{TlsServer, ca_file};
        let server = TlsServer::start();
        let mut http = Http::new(None);
        // The test CA is in no default root store: verification refuses it.
        let err = send(&mut http, &Outgoing::new("GET", server.url("/"))).unwrap_err();
        assert!(matches!(err, SendError::Tls(_)), "{err:?}");
        assert!(!err.is_transient());
        assert!(err.to_string().contains("UnknownIssuer"), "{err}");

        let mut request = Outgoing::new("GET", server.url("/"));
        request.ca_file = Some(ca_file());
        let response = send(&mut http, &request).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, br#"{"ok":true}"#);
    }
}
