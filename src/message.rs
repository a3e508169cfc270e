//! The channel-neutral message: a definition's `message` rendered for one
//! delivery. Channels turn it into their own payload (console and file
//! write it as it is; Slack, Teams and e-mail shape it their way).

use serde::{Deserialize, Serialize};

use crate::definition::followup::{self, Message};
use crate::template::{Encoding, Missing, Scopes, Template};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Composed {
    pub text: Option<String>,
    pub card: Option<Card>,
    pub image: Option<Image>,
    /// A digest's parts (its `text` is them as plain lines, for channels
    /// that show no more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestBody>,
}

/// `message.digest` rendered for one target: the title, a line per record
/// (at most [`DIGEST_LINES`]), how many more there were, and which
/// records and attempts it tells of.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DigestBody {
    pub title: String,
    pub lines: Vec<String>,
    pub more: usize,
    pub records: Vec<DigestRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestRecord {
    pub record: String,
    pub attempt: i64,
    pub delivery: String,
}

/// A digest lists at most this many records, then "… and N more".
pub const DIGEST_LINES: usize = 50;

impl DigestBody {
    /// "… and N more", when lines were left out.
    pub fn more_line(&self) -> Option<String> {
        (self.more > 0).then(|| format!("… and {} more", self.more))
    }

    /// The title, the lines and the more line, one a line.
    pub fn plain(&self) -> String {
        std::iter::once(self.title.clone())
            .chain(self.lines.iter().cloned())
            .chain(self.more_line())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub title: Option<String>,
    pub text: Option<String>,
    pub fields: Vec<Field>,
    pub actions: Vec<Button>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub url: String,
    pub style: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub url: String,
    pub alt: Option<String>,
}

/// Renders a message; `text` replaces the message's text (an escalation
/// rung's own text). `encoding` is how the channel wants inserted text
/// escaped; URLs are always encoded as URLs. A missing value fails the
/// whole message: nothing half-rendered is sent.
pub fn compose(
    message: &Message,
    text: Option<&Template>,
    scopes: &Scopes,
    encoding: Encoding,
) -> Result<Composed, Missing> {
    let render = |t: &Template| t.render(scopes, encoding);
    let optional = |t: Option<&Template>| t.map(render).transpose();
    Ok(Composed {
        text: optional(text.or(message.text.as_ref()))?,
        card: message
            .card
            .as_ref()
            .map(|card| compose_card(card, scopes, encoding))
            .transpose()?,
        image: message
            .image
            .as_ref()
            .map(|image| -> Result<Image, Missing> {
                Ok(Image {
                    url: image.url.render(scopes, Encoding::Url)?,
                    alt: optional(image.alt.as_ref())?,
                })
            })
            .transpose()?,
        digest: None,
    })
}

fn compose_card(
    card: &followup::Card,
    scopes: &Scopes,
    encoding: Encoding,
) -> Result<Card, Missing> {
    let render = |t: &Template| t.render(scopes, encoding);
    Ok(Card {
        title: card.title.as_ref().map(render).transpose()?,
        text: card.text.as_ref().map(render).transpose()?,
        fields: card
            .fields
            .iter()
            .map(|(label, value)| {
                Ok(Field {
                    label: render(label)?,
                    value: render(value)?,
                })
            })
            .collect::<Result<_, Missing>>()?,
        actions: card
            .actions
            .iter()
            .map(|b| {
                Ok(Button {
                    label: render(&b.label)?,
                    url: b.url.render(scopes, Encoding::Url)?,
                    style: serde_json::to_value(b.style)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<_, Missing>>()?,
    })
}
