//! Microsoft Teams through a Workflows webhook (a room): a `message` with
//! one Adaptive Card 1.4 attachment — TextBlocks, a FactSet, an Image and
//! `Action.OpenUrl` buttons — naming every recipient of the attempt.
//! Workflows renders no card above 1.4, and its templates iterate
//! `attachments`, so a bare `text` would not show.

use std::time::Instant;

use serde_json::{Value, json};

use super::http::Endpoint;
use super::{Channel, Job, Outcome};

pub struct Teams(pub Endpoint);

impl Channel for Teams {
    fn payload(&self, job: &Job) -> Value {
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": card(job),
            }],
        })
    }

    fn deliver(&self, job: &Job, deadline: Option<Instant>) -> Outcome {
        self.0.deliver(job, &self.payload(job), deadline)
    }
}

fn text_block(text: &str) -> Value {
    json!({"type": "TextBlock", "text": text, "wrap": true})
}

/// The Adaptive Card of one delivery.
pub fn card(job: &Job) -> Value {
    let m = &job.message;
    let mut body = Vec::new();
    if let Some(d) = &m.digest {
        // A digest: its title, then one FactSet of its lines.
        let mut block = text_block(&d.title);
        block["weight"] = json!("Bolder");
        block["size"] = json!("Medium");
        body.push(block);
        let facts: Vec<Value> = d
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| json!({"title": format!("{}.", i + 1), "value": line}))
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
        if let Some(more) = d.more_line() {
            body.push(text_block(&more));
        }
    } else if let Some(title) = m.card.as_ref().and_then(|c| c.title.as_deref()) {
        let mut block = text_block(title);
        block["weight"] = json!("Bolder");
        block["size"] = json!("Medium");
        body.push(block);
    }
    if let Some(text) = m.text.as_ref().filter(|_| m.digest.is_none()) {
        body.push(text_block(text));
    }
    if let Some(card) = &m.card {
        if let Some(text) = &card.text {
            let mut block = text_block(text);
            block["isSubtle"] = json!(true);
            body.push(block);
        }
        if !card.fields.is_empty() {
            let facts: Vec<Value> = card
                .fields
                .iter()
                .map(|f| json!({"title": f.label, "value": f.value}))
                .collect();
            body.push(json!({"type": "FactSet", "facts": facts}));
        }
    }
    if let Some(image) = &m.image {
        let mut block = json!({"type": "Image", "url": image.url});
        if let Some(alt) = &image.alt {
            block["altText"] = json!(alt);
        }
        body.push(block);
    }
    let names: Vec<&str> = job
        .people()
        .into_iter()
        .filter_map(|p| {
            p.get("name")
                .or_else(|| p.get("id"))
                .and_then(Value::as_str)
        })
        .filter(|n| !n.is_empty())
        .collect();
    if !names.is_empty() {
        let mut block = text_block(&format!("For: {}", names.join(", ")));
        block["isSubtle"] = json!(true);
        block["spacing"] = json!("Small");
        body.push(block);
    }
    let actions: Vec<Value> = m
        .card
        .iter()
        .flat_map(|c| &c.actions)
        .map(|b| {
            let mut action = json!({"type": "Action.OpenUrl", "title": b.label, "url": b.url});
            match b.style.as_str() {
                "primary" => action["style"] = json!("positive"),
                "danger" => action["style"] = json!("destructive"),
                _ => {}
            }
            action
        })
        .collect();
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if !actions.is_empty() {
        card["actions"] = json!(actions);
    }
    card
}
