//! A small HTTP/1.1 server on 127.0.0.1 for tests: it records every request
//! and answers through a handler, which may misbehave on purpose (slow,
//! 5xx, huge bodies, a closed connection, a body longer than announced).
//!
//! std only; one thread per connection; every answer says
//! `Connection: close`, so that no test depends on connection reuse.
//! Used by the integration-test binary and, through `#[path]`, by the unit
//! tests of `src/integration`.

// Each user of this file needs a different part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    /// The request target as sent: path and query, still encoded.
    pub target: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// Query parameters in order, percent-decoded (`+` is a space).
    pub query: Vec<(String, String)>,
    /// Header names as sent; look them up with [`Received::header`].
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter named `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (failing the test) when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("request body is not JSON ({e}): {}", self.text()))
    }

    /// The body as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        parse_pairs(&self.text())
    }
}

/// What the handler answers.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delay: Duration,
    /// Announce this length instead of the body's own (`None`: no
    /// `Content-Length`, the body ends when the connection closes).
    content_length: Option<Option<u64>>,
    /// Close the connection without answering.
    hang_up: bool,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            content_length: None,
            hang_up: false,
        }
    }

    pub fn json(status: u16, value: serde_json::Value) -> Reply {
        Reply::bytes(status, value.to_string().into_bytes())
            .header("Content-Type", "application/json")
    }

    pub fn text(status: u16, text: &str) -> Reply {
        Reply::bytes(status, text.as_bytes().to_vec()).header("Content-Type", "text/plain")
    }

    pub fn bytes(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            body,
            ..Reply::status(status)
        }
    }

    /// Closes the connection as soon as the request is read, with no answer.
    pub fn hang_up() -> Reply {
        Reply {
            hang_up: true,
            ..Reply::status(0)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Waits this long before answering (a slow server).
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Announces `length` bytes whatever the body holds: with a shorter
    /// body, the connection closes in the middle of the announced one.
    pub fn announce(mut self, length: u64) -> Reply {
        self.content_length = Some(Some(length));
        self
    }

    /// Sends no `Content-Length`: the body ends when the connection closes,
    /// so a client cannot know its size in advance.
    pub fn without_length(mut self) -> Reply {
        self.content_length = Some(None);
        self
    }

    fn write_to(&self, stream: &mut TcpStream) -> std::io::Result<()> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        match self.content_length {
            None => head.push_str(&format!("Content-Length: {}\r\n", self.body.len())),
            Some(Some(n)) => head.push_str(&format!("Content-Length: {n}\r\n")),
            Some(None) => {}
        }
        head.push_str("Connection: close\r\n\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(&self.body)?;
        stream.flush()
    }
}

type Handler = dyn Fn(&Received) -> Reply + Send + Sync;

/// The server; it stops when dropped.
pub struct Server {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(handler: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let accept = {
            let (received, stop) = (received.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (received, handler) = (received.clone(), handler.clone());
                    thread::spawn(move || serve(stream, &received, &*handler));
                }
            })
        };
        Server {
            addr,
            received,
            stop,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve(mut stream: TcpStream, received: &Mutex<Vec<Received>>, handler: &Handler) {
    // A client that never finishes its request must not keep a thread forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&stream) else {
        return;
    };
    received.lock().unwrap().push(request.clone());
    let reply = handler(&request);
    thread::sleep(reply.delay);
    if !reply.hang_up {
        // The client may have given up already (a timeout test): ignore.
        let _ = reply.write_to(&mut stream);
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn read_request(stream: &TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        target: target.to_owned(),
        path: decode(path, false),
        query: parse_pairs(query),
        headers,
        body,
    })
}

fn parse_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

/// Percent-decoding; `+` is a space in query strings and forms.
fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |i: usize| bytes.get(i).and_then(|b| (*b as char).to_digit(16));
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
            continue;
        }
        out.push(match bytes[i] {
            b'+' if plus_is_space => b' ',
            b => b,
        });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
