//! A forward proxy on 127.0.0.1 for tests: it records the request line of
//! every request it gets (`CONNECT host:port HTTP/1.1`, or an absolute-form
//! `GET http://host/... HTTP/1.1`) and then either refuses it (403) or
//! tunnels a CONNECT to one upstream address, whatever host was asked for:
//! the test's names need no DNS.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

pub struct Proxy {
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Tunnels every CONNECT to `upstream`; `None` refuses every request.
    pub fn start(upstream: Option<SocketAddr>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (lines, stop) = (lines.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let lines = lines.clone();
                    thread::spawn(move || serve(stream, &lines, upstream));
                }
            })
        };
        Proxy {
            addr,
            lines,
            stop,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`, for `HTTP_PROXY` and `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request lines received so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve(mut client: TcpStream, lines: &Mutex<Vec<String>>, upstream: Option<SocketAddr>) {
    let mut reader = BufReader::new(client.try_clone().expect("clone the stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    // The rest of the head.
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
    }
    lines.lock().unwrap().push(line.trim_end().to_owned());
    let Some(upstream) = upstream.filter(|_| line.starts_with("CONNECT ")) else {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    // `reader` hands on first what it has buffered past the head.
    let (mut to_server, mut from_server) = (server.try_clone().unwrap(), server);
    let mut to_client = client.try_clone().unwrap();
    let up = thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut from_server, &mut to_client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = up.join();
}
