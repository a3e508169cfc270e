//! Google Chat through a space's webhook (a room): `text`, naming the
//! attempt's people, and a `cardsV2` card — header, decoratedText fields,
//! an image, a buttonList of openLink buttons.

use std::time::Instant;

use serde_json::{Value, json};

use super::http::{Endpoint, Post, body};
use super::limit::cut;
use super::{Channel, Job, Outcome};

/// Google Chat takes at most 100 widgets a card and 32,000 bytes a message.
const MAX_WIDGETS: usize = 100;
const TEXT_CHARS: usize = 4000;

pub struct GoogleChat(pub Endpoint);

impl Channel for GoogleChat {
    fn payload(&self, job: &Job) -> Value {
        let m = &job.message;
        let people: Vec<String> = job
            .people()
            .into_iter()
            .filter_map(|p| match p.get("google_chat").and_then(Value::as_str) {
                Some(id) => Some(format!("<users/{}>", id.trim_start_matches("users/"))),
                None => p
                    .get("name")
                    .or_else(|| p.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
            .filter(|n| !n.is_empty())
            .collect();
        let text = [people.join(" "), m.text.clone().unwrap_or_default()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        let mut payload = json!({ "text": cut(&text, TEXT_CHARS) });
        if job.thread {
            payload["thread"] = json!({ "threadKey": job.conversation_key() });
        }
        if m.card.is_some() || m.image.is_some() {
            payload["cardsV2"] = json!([{ "cardId": "followup", "card": card(job) }]);
        }
        payload
    }

    fn deliver(&self, job: &Job, deadline: Option<Instant>) -> Outcome {
        let e = &self.0;
        let bytes = body(&self.payload(job));
        if !job.thread {
            return Post::json(&e.client, &e.url, &bytes, &job.delivery, &e.secrets)
                .deliver(deadline);
        }
        let sep = if e.url.contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}messageReplyOption={REPLY_OPTION}", e.url);
        match Post::json(&e.client, &url, &bytes, &job.delivery, &e.secrets).deliver(deadline) {
            Outcome::Delivered(_) => Outcome::Delivered(Some(json!({
                "thread_key": job.conversation_key(),
            }))),
            other => other,
        }
    }

    fn threads(&self) -> bool {
        true
    }
}

/// Replies to the thread of the key, or starts it: attempts of one record's
/// cycle share one thread.
const REPLY_OPTION: &str = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD";

fn card(job: &Job) -> Value {
    let m = &job.message;
    let mut widgets = Vec::new();
    let mut card = json!({});
    if let Some(c) = &m.card {
        if let Some(title) = &c.title {
            card["header"] = json!({ "title": title });
            if let Some(text) = &c.text {
                card["header"]["subtitle"] = json!(text);
            }
        } else if let Some(text) = &c.text {
            widgets.push(json!({ "textParagraph": { "text": text } }));
        }
        for f in &c.fields {
            widgets.push(json!({ "decoratedText": { "topLabel": f.label, "text": f.value } }));
        }
    }
    if let Some(image) = &m.image {
        widgets.push(json!({ "image": {
            "imageUrl": image.url,
            "altText": image.alt.as_deref().unwrap_or("image"),
        }}));
    }
    let buttons: Vec<Value> = m
        .card
        .iter()
        .flat_map(|c| &c.actions)
        .map(|b| json!({ "text": b.label, "onClick": { "openLink": { "url": b.url } } }))
        .collect();
    let room_for = MAX_WIDGETS - usize::from(!buttons.is_empty());
    if widgets.len() > room_for {
        let over = widgets.len() - (room_for - 1);
        widgets.truncate(room_for - 1);
        widgets.push(json!({ "textParagraph": { "text": format!("… and {over} more") } }));
    }
    if !buttons.is_empty() {
        widgets.push(json!({ "buttonList": { "buttons": buttons } }));
    }
    if !widgets.is_empty() {
        card["sections"] = json!([{ "widgets": widgets }]);
    }
    card
}
