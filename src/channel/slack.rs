//! Slack: an incoming webhook (a room: one post per record and attempt,
//! naming its people) or the Web API with a bot token (`chat.postMessage`
//! to a person's Slack id, a direct message).
//!
//! Messages are Block Kit — header, sections with fields, image, URL
//! buttons — with a top-level `text` as the notification's fallback.
//! Slack's limits are met by cutting with an ellipsis (50 blocks, 3,000
//! characters a section, 150 a header, 2,000 a field, 75 a button label),
//! never by a rejected post. Inserted text was escaped for mrkdwn when it
//! was rendered, so record text cannot ping `<!channel>`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::http::{Post, body, by_status, failure_detail};
use super::limit::cut;
use super::registry::Client;
use super::{Channel, Closing, Job, Outcome};
use crate::integration::error::Secrets;
use crate::message::DigestBody;

const MAX_BLOCKS: usize = 50;
const SECTION_CHARS: usize = 3000;
const HEADER_CHARS: usize = 150;
const FIELD_CHARS: usize = 2000;
const FIELDS_PER_SECTION: usize = 10;
const BUTTON_CHARS: usize = 75;
const BUTTONS_PER_BLOCK: usize = 25;
const URL_CHARS: usize = 3000;
const TEXT_CHARS: usize = 40_000;

pub struct Slack {
    to: To,
    client: Arc<Client>,
    secrets: Secrets,
}

enum To {
    Webhook { url: String },
    Bot { token: String, api_url: String },
}

impl Slack {
    pub fn webhook(url: String, client: Arc<Client>, secrets: Secrets) -> Slack {
        Slack {
            to: To::Webhook { url },
            client,
            secrets,
        }
    }

    pub fn bot(token: String, api_url: String, client: Arc<Client>, secrets: Secrets) -> Slack {
        Slack {
            to: To::Bot {
                token,
                api_url: api_url.trim_end_matches('/').to_owned(),
            },
            client,
            secrets,
        }
    }
}

impl Channel for Slack {
    fn payload(&self, job: &Job) -> Value {
        match &self.to {
            To::Webhook { .. } => message(job, Some(&mentions(job))),
            To::Bot { .. } => {
                let parent = thread_parent(job);
                if let (Some(closing), Some((channel, ts))) = (job.closing, parent) {
                    return closed(job, closing, channel, ts);
                }
                let mut body = message(job, None);
                body["unfurl_links"] = json!(false);
                match parent {
                    // The DM's channel id, which the reply must name.
                    Some((channel, ts)) => {
                        body["channel"] = json!(channel);
                        body["thread_ts"] = json!(ts);
                        body["reply_broadcast"] = json!(false);
                    }
                    None => {
                        body["channel"] = json!(job.recipient.get("slack").unwrap_or(&Value::Null));
                    }
                }
                body
            }
        }
    }

    fn deliver(&self, job: &Job, deadline: Option<Instant>) -> Outcome {
        let bytes = body(&self.payload(job));
        match &self.to {
            To::Webhook { url } => {
                Post::json(&self.client, url, &bytes, &job.delivery, &self.secrets)
                    .deliver(deadline)
            }
            To::Bot { token, api_url } => {
                let method = match job.closing {
                    Some(_) => "chat.update",
                    None => "chat.postMessage",
                };
                let url = format!("{api_url}/{method}");
                let headers = [("Authorization".to_owned(), format!("Bearer {token}"))];
                let post = Post {
                    headers: &headers,
                    ..Post::json(&self.client, &url, &bytes, &job.delivery, &self.secrets)
                };
                let answer = match post.send(deadline) {
                    Ok(answer) if answer.status == 200 => answer,
                    Ok(answer) => return by_status(&answer, &self.secrets),
                    Err(outcome) => return outcome,
                };
                api_outcome(&answer.body).unwrap_or_else(|| {
                    Outcome::permanent(format!(
                        "Slack answered without `ok`: {}",
                        failure_detail(&answer, &self.secrets)
                    ))
                })
            }
        }
    }

    fn edits(&self) -> bool {
        matches!(self.to, To::Bot { .. })
    }

    fn threads(&self) -> bool {
        self.edits()
    }
}

/// The conversation's first message (its channel and `ts`), when this
/// delivery replies to it.
fn thread_parent(job: &Job) -> Option<(&str, &str)> {
    let parent = job.reply_to.as_ref().filter(|_| job.thread)?;
    let channel = parent.get("channel")?.as_str()?;
    let ts = parent.get("ts")?.as_str()?;
    Some((channel, ts))
}

/// The `chat.update` of a conversation's first message once its record
/// left the follow-up: a line saying so at the top, the message as it was
/// below, its buttons removed (there is nothing left to approve).
fn closed(job: &Job, closing: Closing, channel: &str, ts: &str) -> Value {
    let line = match closing {
        Closing::Resolved => "Resolved".to_owned(),
        Closing::Exhausted => format!(
            "No longer followed up: all {} reminders were sent",
            job.attempts
        ),
    };
    let mut body = message(job, None);
    let mut blocks: Vec<Value> = vec![section(&format!("*{line}*"))];
    blocks.extend(
        body["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["type"] != "actions")
            .cloned(),
    );
    blocks.truncate(MAX_BLOCKS);
    let text = format!("{line}: {}", body["text"].as_str().unwrap_or_default());
    body["text"] = json!(cut(&text, TEXT_CHARS));
    body["blocks"] = json!(blocks);
    body["channel"] = json!(channel);
    body["ts"] = json!(ts);
    body
}

/// The Web API answers 200 whatever happened; `ok` says. A message's
/// `channel` and `ts` are what a reply or an edit names.
fn api_outcome(body: &[u8]) -> Option<Outcome> {
    let answer: Value = serde_json::from_slice(body).ok()?;
    if answer.get("ok")?.as_bool()? {
        let reference = match (answer.get("channel"), answer.get("ts")) {
            (Some(Value::String(channel)), Some(Value::String(ts))) => {
                Some(json!({"channel": channel, "ts": ts}))
            }
            _ => None,
        };
        return Some(Outcome::Delivered(reference));
    }
    let error = answer
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("unknown_error");
    let detail = format!("Slack API error: {error}");
    Some(match error {
        "ratelimited" | "service_unavailable" | "internal_error" | "fatal_error" => {
            Outcome::transient(detail)
        }
        _ => Outcome::permanent(detail),
    })
}

/// Who a room's post names: `<@U…>` where their Slack id is known, their
/// name otherwise.
fn mentions(job: &Job) -> String {
    job.people()
        .into_iter()
        .map(|p| match p.get("slack").and_then(Value::as_str) {
            Some(id) => format!("<@{id}>"),
            None => escape(
                p.get("name")
                    .or_else(|| p.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
        })
        .filter(|m| !m.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tenant text (a person's name) as mrkdwn.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A digest: its title as the header, the people named, one section per
/// record while Slack's 50 blocks last, then "… and N more".
fn digest(d: &DigestBody, mentions: Option<&str>) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cut(&d.title, HEADER_CHARS), "emoji": true},
    })];
    if let Some(m) = mentions.filter(|m| !m.is_empty()) {
        blocks.push(section(m));
    }
    let room = MAX_BLOCKS - blocks.len();
    let shown = match d.lines.len() + usize::from(d.more > 0) > room {
        true => room - 1,
        false => d.lines.len(),
    };
    blocks.extend(d.lines[..shown].iter().map(|l| section(l)));
    let more = d.more + (d.lines.len() - shown);
    if more > 0 {
        blocks.push(json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("… and {more} more")}
        ]}));
    }
    let text = [mentions.unwrap_or_default(), d.title.as_str()]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    json!({"text": cut(&text, TEXT_CHARS), "blocks": blocks})
}

/// The message's blocks and fallback text; `mentions` opens a room's post.
fn message(job: &Job, mentions: Option<&str>) -> Value {
    let m = &job.message;
    if let Some(d) = &m.digest {
        return digest(d, mentions);
    }
    let card = m.card.as_ref();
    let lead = [mentions.filter(|s| !s.is_empty()), m.text.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n");
    let mut blocks = Vec::new();
    if let Some(title) = card.and_then(|c| c.title.as_deref()) {
        blocks.push(json!({
            "type": "header",
            "text": {"type": "plain_text", "text": cut(title, HEADER_CHARS), "emoji": true},
        }));
    }
    if !lead.is_empty() {
        blocks.push(section(&lead));
    }
    if let Some(card) = card {
        let mut fields = card.fields.chunks(FIELDS_PER_SECTION);
        let first = fields.next().unwrap_or_default();
        if card.text.is_some() || !first.is_empty() {
            let mut block = section(card.text.as_deref().unwrap_or(" "));
            if card.text.is_none() {
                block.as_object_mut().expect("an object").remove("text");
            }
            if !first.is_empty() {
                block["fields"] = field_texts(first);
            }
            blocks.push(block);
        }
        for more in fields {
            blocks.push(json!({"type": "section", "fields": field_texts(more)}));
        }
    }
    if let Some(image) = &m.image {
        let alt = image.alt.as_deref().unwrap_or("image");
        blocks.push(json!({
            "type": "image",
            "image_url": cut(&image.url, URL_CHARS),
            "alt_text": cut(alt, FIELD_CHARS),
        }));
    }
    let buttons: Vec<Value> = card
        .map(|c| c.actions.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut button = json!({
                "type": "button",
                "action_id": format!("link-{}", i + 1),
                "text": {"type": "plain_text", "text": cut(&b.label, BUTTON_CHARS), "emoji": true},
                "url": cut(&b.url, URL_CHARS),
            });
            if matches!(b.style.as_str(), "primary" | "danger") {
                button["style"] = json!(b.style);
            }
            button
        })
        .collect();
    for elements in buttons.chunks(BUTTONS_PER_BLOCK) {
        blocks.push(json!({"type": "actions", "elements": elements}));
    }
    if blocks.len() > MAX_BLOCKS {
        let over = blocks.len() - (MAX_BLOCKS - 1);
        blocks.truncate(MAX_BLOCKS - 1);
        blocks.push(json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("… and {over} more")}
        ]}));
    }
    let fallback = [
        lead.as_str(),
        card.and_then(|c| c.title.as_deref()).unwrap_or_default(),
        card.and_then(|c| c.text.as_deref()).unwrap_or_default(),
    ]
    .into_iter()
    .find(|t| !t.is_empty())
    .unwrap_or(&job.followup_name);
    json!({"text": cut(fallback, TEXT_CHARS), "blocks": blocks})
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}})
}

fn field_texts(fields: &[crate::message::Field]) -> Value {
    fields
        .iter()
        .map(|f| {
            let text = format!("*{}*\n{}", f.label, f.value);
            json!({"type": "mrkdwn", "text": cut(&text, FIELD_CHARS)})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::tests::job;
    use crate::message::{Button, Card, Composed, Field};

    #[test]
    fn long_texts_are_cut_to_slacks_limits() {
        let mut j = job();
        j.message = Composed {
            text: Some("t".repeat(5000)),
            card: Some(Card {
                title: Some("h".repeat(400)),
                text: None,
                fields: (0..25)
                    .map(|i| Field {
                        label: format!("l{i}"),
                        value: "v".repeat(3000),
                    })
                    .collect(),
                actions: vec![Button {
                    label: "b".repeat(100),
                    url: "https://x/".into(),
                    style: "primary".into(),
                }],
            }),
            image: None,
            digest: None,
        };
        let payload = message(&j, None);
        let blocks = payload["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(
            blocks[0]["text"]["text"].as_str().unwrap().chars().count(),
            150
        );
        assert_eq!(
            blocks[1]["text"]["text"].as_str().unwrap().chars().count(),
            3000
        );
        // 25 fields: sections of 10, 10 and 5.
        assert_eq!(blocks[2]["fields"].as_array().unwrap().len(), 10);
        assert_eq!(blocks[4]["fields"].as_array().unwrap().len(), 5);
        assert!(blocks[2].get("text").is_none());
        let field = blocks[2]["fields"][0]["text"].as_str().unwrap();
        assert_eq!(field.chars().count(), 2000);
        assert!(field.ends_with('…'));
        let button = &blocks[5]["elements"][0];
        assert_eq!(button["text"]["text"].as_str().unwrap().chars().count(), 75);
        assert_eq!(button["style"], "primary");
    }

    #[test]
    fn no_more_than_fifty_blocks() {
        let mut j = job();
        j.message.card = Some(Card {
            fields: (0..1000)
                .map(|i| Field {
                    label: format!("l{i}"),
                    value: "v".into(),
                })
                .collect(),
            ..Card::default()
        });
        let payload = message(&j, None);
        let blocks = payload["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 50);
        assert_eq!(blocks[49]["elements"][0]["text"], "… and 52 more");
    }

    #[test]
    fn a_digest_is_a_section_per_record_within_fifty_blocks() {
        let body = DigestBody {
            title: "60 approvals wait".into(),
            lines: (1..=50).map(|i| format!("RITM{i}")).collect(),
            more: 10,
            records: Vec::new(),
        };
        let payload = digest(&body, None);
        let blocks = payload["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 50);
        assert_eq!(blocks[0]["text"]["text"], "60 approvals wait");
        assert_eq!(blocks[1]["text"]["text"], "RITM1");
        assert_eq!(blocks[48]["text"]["text"], "RITM48");
        assert_eq!(blocks[49]["elements"][0]["text"], "… and 12 more");
        assert_eq!(payload["text"], "60 approvals wait");
    }

    #[test]
    fn a_room_names_people_by_slack_id_or_name() {
        let mut j = job();
        j.recipient = json!({"id": "room", "name": "Alice, Bob", "recipients": [
            {"id": "alice", "name": "Alice", "slack": "U1"},
            {"id": "bob", "name": "Bob <b>"},
        ]});
        assert_eq!(mentions(&j), "<@U1> Bob &lt;b&gt;");
        let payload = message(&j, Some(&mentions(&j)));
        assert_eq!(payload["text"], "<@U1> Bob &lt;b&gt;\nHello");
    }

    #[test]
    fn api_answers_sort_into_outcomes() {
        assert_eq!(
            api_outcome(br#"{"ok":true,"channel":"D1","ts":"1.2"}"#),
            Some(Outcome::Delivered(Some(
                json!({"channel": "D1", "ts": "1.2"})
            )))
        );
        assert_eq!(
            api_outcome(br#"{"ok":false,"error":"channel_not_found"}"#),
            Some(Outcome::permanent("Slack API error: channel_not_found"))
        );
        assert!(matches!(
            api_outcome(br#"{"ok":false,"error":"ratelimited"}"#),
            Some(Outcome::Transient { .. })
        ));
        assert_eq!(api_outcome(b"ok"), None);
    }
}
