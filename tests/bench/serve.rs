//! The local servers of the scenarios, on 127.0.0.1: a ServiceNow-shaped
//! table API with offset pagination, and a webhook sink that counts the
//! requests it answers. HTTP/1.1 with keep-alive, one thread per
//! connection, as small as a test server can be so that the machine's
//! time goes to the pass.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub struct Server {
    pub base: String,
    shared: Arc<Shared>,
}

struct Shared {
    /// The records' JSON, built once: record `i` as first served.
    records: Vec<String>,
    /// Bumped to change every tenth record's data.
    epoch: AtomicU64,
    /// Requests answered by the webhook sink.
    hooks: AtomicUsize,
}

impl Server {
    /// Starts the server with `capacity` records ready.
    pub fn start(capacity: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            records: (0..capacity).map(|i| record(i, 0)).collect(),
            epoch: AtomicU64::new(0),
            hooks: AtomicUsize::new(0),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = serve(&s, stream);
                });
            }
        });
        Server { base, shared }
    }

    /// The URL of a table of the first `n` records (a follow-up's request).
    pub fn table(&self, n: usize) -> String {
        assert!(n <= self.shared.records.len());
        format!("{}/{n}/api/now/table/sysapproval_approver", self.base)
    }

    /// The sink's URL (the webhook channel).
    pub fn sink(&self) -> String {
        format!("{}/hook", self.base)
    }

    /// Changes every tenth record's data.
    pub fn change_tenth(&self) {
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Requests the sink has answered, since the last call.
    pub fn take_hooks(&self) -> usize {
        self.shared.hooks.swap(0, Ordering::SeqCst)
    }
}

/// Record `i` at `epoch`, shaped like a ServiceNow approval joined with
/// its request (about 650 bytes).
pub fn record(i: usize, epoch: u64) -> String {
    let who = if i.is_multiple_of(2) { "alice" } else { "bob" };
    format!(
        concat!(
            "{{\"sys_id\":\"{id:032x}\",\"number\":\"RITM{i:07}\",\"state\":\"requested\",",
            "\"approver\":{{\"value\":\"{who}\",\"link\":\"https://acme.service-now.com/api/now/table/sys_user/{who}\"}},",
            "\"short_description\":\"Laptop request number {i} (revision {epoch})\",",
            "\"description\":\"Please approve the standard laptop refresh for the requester; the asset is past its four-year life.\",",
            "\"sysapproval\":{{\"value\":\"{id:032x}\",\"link\":\"https://acme.service-now.com/api/now/table/sc_req_item/{id:032x}\"}},",
            "\"assignment_group\":{{\"value\":\"8a4dde73c6112278017a6a4baf547aa7\",\"link\":\"https://acme.service-now.com/api/now/table/sys_user_group/8a4dde73c6112278017a6a4baf547aa7\"}},",
            "\"priority\":\"4\",\"sys_created_on\":\"2026-01-0{day} 08:00:00\",\"sys_updated_on\":\"2026-01-0{day} 08:30:00\",",
            "\"due_date\":\"2026-02-01 00:00:00\",\"active\":\"true\"}}"
        ),
        id = i as u128 * 7919 + 1,
        i = i,
        who = who,
        epoch = epoch,
        day = 1 + i % 9,
    )
}

fn serve(s: &Shared, stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = std::io::BufWriter::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            if header == "\r\n" || header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let reply = if target.starts_with("/hook") {
            s.hooks.fetch_add(1, Ordering::SeqCst);
            "{}".to_owned()
        } else {
            page(s, &target)
        };
        write!(
            writer,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            reply.len()
        )?;
        writer.write_all(reply.as_bytes())?;
        writer.flush()?;
    }
}

/// The page `sysparm_offset` / `sysparm_limit` of the table `/N/...`.
fn page(s: &Shared, target: &str) -> String {
    let param = |name: &str| -> Option<usize> {
        let query = target.split_once('?')?.1;
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    let total: usize = target
        .trim_start_matches('/')
        .split('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let offset = param("sysparm_offset").unwrap_or(0).min(total);
    let end = (offset + param("sysparm_limit").unwrap_or(total)).min(total);
    let epoch = s.epoch.load(Ordering::SeqCst);
    let mut out = String::with_capacity((end - offset) * 700 + 16);
    out.push_str("{\"result\":[");
    for i in offset..end {
        if i > offset {
            out.push(',');
        }
        if epoch > 0 && i.is_multiple_of(10) {
            out.push_str(&record(i, epoch));
        } else {
            out.push_str(&s.records[i]);
        }
    }
    out.push_str("]}");
    out
}
