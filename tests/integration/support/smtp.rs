//! A small SMTP server on 127.0.0.1 for the e-mail channel's tests: it
//! speaks enough of RFC 5321 for a client (EHLO with no STARTTLS, AUTH
//! PLAIN, MAIL, RCPT, DATA, QUIT), keeps every message it accepted, and
//! answers RCPT with the code a test chooses per address.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// One message as received: the envelope and the data as sent.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    /// The decoded `user\0password` of AUTH PLAIN, when given.
    pub auth: Option<String>,
}

impl Mail {
    /// The first header named `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = &mut value {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }
}

type Rcpt = dyn Fn(&str) -> (u16, &'static str) + Send + Sync;

pub struct SmtpSink {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    /// A sink that accepts every recipient.
    pub fn start() -> SmtpSink {
        SmtpSink::with_rcpt(|_| (250, "OK"))
    }

    /// A sink that answers RCPT TO with what `rcpt` says of the address.
    pub fn with_rcpt(
        rcpt: impl Fn(&str) -> (u16, &'static str) + Send + Sync + 'static,
    ) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let rcpt: Arc<Rcpt> = Arc::new(rcpt);
        let kept = mails.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (kept, rcpt) = (kept.clone(), rcpt.clone());
                thread::spawn(move || {
                    let _ = session(stream, &kept, &*rcpt);
                });
            }
        });
        SmtpSink { port, mails }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

fn session(stream: TcpStream, kept: &Mutex<Vec<Mail>>, rcpt: &Rcpt) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut say = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    say("220 sink.test ESMTP ready")?;
    let mut mail = Mail {
        from: String::new(),
        to: Vec::new(),
        data: String::new(),
        auth: None,
    };
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            say("250-sink.test")?;
            say("250-AUTH PLAIN")?;
            say("250 8BITMIME")?;
        } else if upper.starts_with("AUTH PLAIN ") {
            mail.auth = base64_decode(&command["AUTH PLAIN ".len()..]);
            say("235 2.7.0 Authentication successful")?;
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = address(command);
            say("250 2.1.0 OK")?;
        } else if upper.starts_with("RCPT TO:") {
            let to = address(command);
            let (code, text) = rcpt(&to);
            if code == 250 {
                mail.to.push(to);
            }
            say(&format!("{code} {text}"))?;
        } else if upper == "DATA" {
            say("354 End data with <CR><LF>.<CR><LF>")?;
            let mut data = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            mail.data = data;
            kept.lock().unwrap().push(mail.clone());
            mail.to.clear();
            say("250 2.0.0 queued")?;
        } else if upper == "RSET" || upper == "NOOP" {
            say("250 OK")?;
        } else if upper == "QUIT" {
            say("221 bye")?;
            return Ok(());
        } else {
            say("502 5.5.2 not implemented")?;
        }
    }
}

/// `MAIL FROM:<a@b> SIZE=…` → `a@b`.
fn address(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..]
        .find('>')
        .map_or(command.len(), |i| start + i);
    command[start..end].to_owned()
}

fn base64_decode(text: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}
