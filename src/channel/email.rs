//! The `email` channel over SMTP (lettre, rustls): `smtp://` upgrades
//! with STARTTLS when the server offers it (`?tls=required` insists),
//! `smtps://` is TLS from the first byte; user and password come from the
//! URL (`@{env.*}` in tenant.yaml). Each delivery is one message to the
//! recipient's `email`: multipart text and HTML, the card as HTML with its
//! links as buttons, the image linked, never attached. SMTP's 4xx is
//! transient, 5xx permanent.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde_json::{Value, json};

use super::limit::cut;
use super::settings::TOTAL_TIMEOUT;
use super::{Channel, Job, Outcome};
use crate::integration::error::Secrets;
use crate::message::Composed;

const SUBJECT_CHARS: usize = 200;

pub struct Email {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    from: Mailbox,
    secrets: Secrets,
}

impl Email {
    pub fn new(
        name: &str,
        smtp_url: &str,
        from: &str,
        ca_file: Option<&Path>,
        secrets: Secrets,
    ) -> Result<Email, String> {
        let bad = |why: &str| format!("channel `{name}`: `smtp_url` {why}");
        let (scheme, rest) = smtp_url
            .split_once("://")
            .ok_or_else(|| bad("is not a URL (`smtp://host:587` or `smtps://host:465`)"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) => (
                host,
                Some(port.parse::<u16>().map_err(|_| bad("has a bad port"))?),
            ),
            None => (hostport, None),
        };
        if host.is_empty() {
            return Err(bad("names no host"));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = userinfo.map(|u| {
            let (user, password) = u.split_once(':').unwrap_or((u, ""));
            Credentials::new(decode(user), decode(password))
        });
        let tls_param = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("tls="))
            .unwrap_or("opportunistic");
        let parameters =
            tls_parameters(host, ca_file).map_err(|e| format!("channel `{name}`: {e}"))?;
        let (tls, default_port) = match (scheme, tls_param) {
            ("smtp", "opportunistic") => (Tls::Opportunistic(parameters), 587),
            ("smtp", "required") => (Tls::Required(parameters), 587),
            ("smtps", _) => (Tls::Wrapper(parameters), 465),
            ("smtp", other) => {
                return Err(bad(&format!(
                    "has `tls={other}`; use `tls=required` (or nothing: STARTTLS when offered)"
                )));
            }
            (other, _) => return Err(bad(&format!("has scheme `{other}`; use `smtp` or `smtps`"))),
        };
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| format!("channel `{name}`: `from` is not an address ({e})"))?;
        Ok(Email {
            host: host.to_owned(),
            port: port.unwrap_or(default_port),
            tls,
            credentials,
            from,
            secrets,
        })
    }

    fn message(&self, job: &Job) -> Result<Message, String> {
        let to = recipient(job)?;
        let m = &job.message;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject(job))
            .message_id(Some(message_id(job, &self.from)));
        if let Some(parent) = parent(job, &self.from) {
            builder = builder.in_reply_to(parent.clone()).references(parent);
        }
        builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::plain(plain(m)))
                    .singlepart(SinglePart::html(html(m))),
            )
            .map_err(|e| format!("cannot build the message: {e}"))
    }
}

fn tls_parameters(host: &str, ca_file: Option<&Path>) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read `ca_file` {}: {e}", path.display()))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("`ca_file` {} is not a PEM certificate: {e}", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(|e| format!("TLS: {e}"))
}

/// The recipient's mailbox, with their name.
fn recipient(job: &Job) -> Result<Mailbox, String> {
    let email = job
        .recipient
        .get("email")
        .and_then(Value::as_str)
        .ok_or("the recipient has no `email`")?;
    let address = email
        .parse()
        .map_err(|e| format!("`{email}` is not an e-mail address ({e})"))?;
    let name = job.recipient.get("name").and_then(Value::as_str);
    Ok(Mailbox::new(name.map(str::to_owned), address))
}

/// This message's Message-ID: a hash of its delivery id at
/// `followup.<domain of from>`, stable across retries (a crash after the
/// send still threads). Attempt 1's is the conversation's root, which
/// later attempts can name without asking the store.
fn message_id(job: &Job, from: &Mailbox) -> String {
    format!(
        "<{}@followup.{}>",
        super::key_of(&job.delivery),
        from.email.domain()
    )
}

/// What a later attempt replies to: the conversation's first delivered
/// message, else attempt 1's Message-ID (sent but not recorded, or failed:
/// then the subject still groups it). None on attempt 1 or with
/// `thread: false`.
fn parent(job: &Job, from: &Mailbox) -> Option<String> {
    if job.attempt == 1 || !job.thread {
        return None;
    }
    let stored = job
        .reply_to
        .as_ref()
        .and_then(|r| r.get("message_id"))
        .and_then(Value::as_str);
    Some(match stored {
        Some(id) => id.to_owned(),
        None => format!(
            "<{}@followup.{}>",
            job.conversation_key(),
            from.email.domain()
        ),
    })
}

/// The card's title, or the text's first line, or the follow-up's name;
/// `Re: ` before it when it replies (one conversation per cycle).
fn subject(job: &Job) -> String {
    let line = first_line(job);
    if job.attempt > 1 && job.thread {
        format!("Re: {line}")
    } else {
        line
    }
}

fn first_line(job: &Job) -> String {
    let m = &job.message;
    let line = m
        .card
        .as_ref()
        .and_then(|c| c.title.as_deref())
        .or(m.text.as_deref())
        .and_then(|t| t.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or(&job.followup_name);
    cut(line.trim(), SUBJECT_CHARS)
}

fn plain(m: &Composed) -> String {
    let mut out = String::new();
    let mut para = |text: &str| {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(text);
    };
    if let Some(text) = &m.text {
        para(text);
    }
    if let Some(card) = &m.card {
        for text in [&card.title, &card.text].into_iter().flatten() {
            para(text);
        }
        let fields: Vec<String> = card
            .fields
            .iter()
            .map(|f| format!("{}: {}", f.label, f.value))
            .collect();
        if !fields.is_empty() {
            para(&fields.join("\n"));
        }
        let links: Vec<String> = card
            .actions
            .iter()
            .map(|b| format!("{}: {}", b.label, b.url))
            .collect();
        if !links.is_empty() {
            para(&links.join("\n"));
        }
    }
    if let Some(image) = &m.image {
        para(&image.url);
    }
    out.push('\n');
    out
}

/// HTML-escaped text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn paragraph(text: &str) -> String {
    format!("<p>{}</p>\n", escape(text).replace('\n', "<br>\n"))
}

fn html(m: &Composed) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif; line-height: 1.4\">\n",
    );
    if let Some(title) = m.card.as_ref().and_then(|c| c.title.as_deref()) {
        let _ = writeln!(out, "<h2>{}</h2>", escape(title));
    }
    if let Some(text) = &m.text {
        out.push_str(&paragraph(text));
    }
    if let Some(card) = &m.card {
        if let Some(text) = &card.text {
            out.push_str(&paragraph(text));
        }
        if !card.fields.is_empty() {
            out.push_str("<table cellpadding=\"4\">\n");
            for f in &card.fields {
                let _ = writeln!(
                    out,
                    "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                    escape(&f.label),
                    escape(&f.value)
                );
            }
            out.push_str("</table>\n");
        }
    }
    if let Some(image) = &m.image {
        let _ = writeln!(
            out,
            "<p><img src=\"{}\" alt=\"{}\" style=\"max-width: 100%\"></p>",
            escape(&image.url),
            escape(image.alt.as_deref().unwrap_or(""))
        );
    }
    let buttons: Vec<String> = m
        .card
        .iter()
        .flat_map(|c| &c.actions)
        .map(|b| {
            let color = match b.style.as_str() {
                "primary" => "#2e7d32",
                "danger" => "#c62828",
                _ => "#455a64",
            };
            format!(
                "<a href=\"{}\" style=\"display: inline-block; padding: 8px 16px; margin-right: 8px; \
                 background: {color}; color: #ffffff; text-decoration: none; border-radius: 4px\">{}</a>",
                escape(&b.url),
                escape(&b.label)
            )
        })
        .collect();
    if !buttons.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", buttons.join("\n"));
    }
    out.push_str("</body></html>\n");
    out
}

impl Channel for Email {
    fn threads(&self) -> bool {
        true
    }

    fn payload(&self, job: &Job) -> Value {
        json!({
            "from": self.from.to_string(),
            "to": recipient(job).map(|m| m.to_string()).unwrap_or_default(),
            "subject": subject(job),
            "message_id": message_id(job, &self.from),
            "in_reply_to": parent(job, &self.from),
            "text": plain(&job.message),
            "html": html(&job.message),
        })
    }

    fn deliver(&self, job: &Job, deadline: Option<Instant>) -> Outcome {
        let message = match self.message(job) {
            Ok(message) => message,
            Err(detail) => return Outcome::permanent(detail),
        };
        let timeout = match deadline {
            Some(d) => TOTAL_TIMEOUT.min(d.saturating_duration_since(Instant::now())),
            None => TOTAL_TIMEOUT,
        };
        if timeout < Duration::from_millis(1) {
            return Outcome::transient(
                "the pass ran out of time (--max-duration) before the e-mail",
            );
        }
        let mut transport = SmtpTransport::builder_dangerous(&self.host)
            .port(self.port)
            .tls(self.tls.clone())
            .timeout(Some(timeout));
        if let Some(credentials) = &self.credentials {
            transport = transport.credentials(credentials.clone());
        }
        match transport.build().send(&message) {
            Ok(_) => Outcome::Delivered(Some(json!({
                "message_id": message_id(job, &self.from),
            }))),
            Err(e) => {
                let detail = self.secrets.mask(&format!("SMTP: {e}"));
                if e.is_permanent() || e.is_tls() || e.is_client() {
                    Outcome::permanent(detail)
                } else {
                    Outcome::transient(detail)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Button, Card, Field};

    #[test]
    fn html_escapes_record_text_and_shows_links_as_buttons() {
        let m = Composed {
            text: Some("<script>alert(1)</script> & more".into()),
            card: Some(Card {
                title: Some("Approve <b>".into()),
                text: None,
                fields: vec![Field {
                    label: "By".into(),
                    value: "A & B".into(),
                }],
                actions: vec![Button {
                    label: "Approve".into(),
                    url: "https://x/?a=1&b=\"2\"".into(),
                    style: "primary".into(),
                }],
            }),
            image: None,
            digest: None,
        };
        let html = html(&m);
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("<h2>Approve &lt;b&gt;</h2>"));
        assert!(html.contains("<td>A &amp; B</td>"));
        assert!(
            html.contains("<a href=\"https://x/?a=1&amp;b=&quot;2&quot;\""),
            "{html}"
        );
        let text = plain(&m);
        assert!(text.contains("<script>alert(1)</script> & more"));
        assert!(text.contains("Approve: https://x/?a=1&b=\"2\""));
    }

    #[test]
    fn smtp_urls_are_read_with_their_tls_and_credentials() {
        let open = |url: &str| {
            Email::new(
                "mail",
                url,
                "Desk <desk@acme.com>",
                None,
                Secrets::default(),
            )
        };
        let e = open("smtp://user:p%40ss@mail.acme.com").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("mail.acme.com", 587));
        assert!(matches!(e.tls, Tls::Opportunistic(_)));
        assert!(e.credentials.is_some());
        assert!(matches!(
            open("smtp://h:2525?tls=required").unwrap().tls,
            Tls::Required(_)
        ));
        let e = open("smtps://h").unwrap();
        assert_eq!(e.port, 465);
        assert!(matches!(e.tls, Tls::Wrapper(_)));
        let error = |url: &str| open(url).err().expect("refused");
        assert!(error("http://h").contains("use `smtp` or `smtps`"));
        assert!(error("smtp://h:x").contains("bad port"));
        assert!(error("smtp://h?tls=never").contains("tls=never"));
    }
}
