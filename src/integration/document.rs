//! A JSON document as received: its bytes, checked to be UTF-8, parsed into
//! a tree only when someone asks. The poll reads large pages straight from
//! the bytes (`LoopPath::raw_records`), which parses them once, without a
//! tree; pagination and small answers ask for the tree.

use std::cell::OnceCell;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::path::JsonPath;

use super::error::{Failure, Secrets, excerpt};

#[derive(Debug)]
pub struct Document {
    bytes: Vec<u8>,
    /// The start of the document, secrets masked, for error messages.
    excerpt: Option<String>,
    tree: OnceCell<Value>,
}

impl Document {
    /// A received body; an empty one (a 204 to an action) is `null`. Only
    /// UTF-8 is checked here: JSON syntax is checked by whoever reads it.
    pub(super) fn checked(body: Vec<u8>, secrets: &Secrets) -> Result<Document, Failure> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Document::from_value(Value::Null));
        }
        if let Err(e) = std::str::from_utf8(&body) {
            let before = &body[..e.valid_up_to()];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let column = before.len()
                - before
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1)
                + 1;
            return Err(Failure::Json {
                error: format!("invalid UTF-8 at line {line} column {column}"),
                excerpt: Some(excerpt(&body, secrets)),
            });
        }
        Ok(Document {
            excerpt: Some(excerpt(&body, secrets)),
            bytes: body,
            tree: OnceCell::new(),
        })
    }

    /// A local file's document: errors show no excerpt, the file is the
    /// operator's own.
    pub(super) fn local(body: Vec<u8>) -> Result<Document, Failure> {
        let mut document = Document::checked(body, &Secrets::default()).map_err(|e| match e {
            Failure::Json { error, .. } => Failure::Json {
                error,
                excerpt: None,
            },
            other => other,
        })?;
        document.excerpt = None;
        Ok(document)
    }

    pub fn from_value(value: Value) -> Document {
        Document {
            bytes: value.to_string().into_bytes(),
            excerpt: None,
            tree: OnceCell::from(value),
        }
    }

    /// The document as received (UTF-8, not yet known to be JSON).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The document as a tree, parsed at the first call.
    pub fn json(&self) -> Result<&Value, Failure> {
        if let Some(tree) = self.tree.get() {
            return Ok(tree);
        }
        let tree = serde_json::from_slice(&self.bytes).map_err(|e| self.not_json(e.to_string()))?;
        Ok(self.tree.get_or_init(|| tree))
    }

    pub fn into_json(self) -> Result<Value, Failure> {
        self.json()?;
        Ok(self.tree.into_inner().unwrap_or(Value::Null))
    }

    /// The first value `path` selects (not null). A singular path is
    /// walked over the bytes, without building the tree, unless the tree is
    /// already there.
    pub fn select(&self, path: &JsonPath) -> Result<Option<Value>, Failure> {
        if self.tree.get().is_none() {
            let root: &RawValue =
                serde_json::from_slice(&self.bytes).map_err(|e| self.not_json(e.to_string()))?;
            if let Some(leaf) = path.walk_raw(root) {
                let leaf = leaf.map_err(|e| self.not_json(e))?;
                return Ok(leaf
                    .and_then(|l| serde_json::from_str::<Value>(l.get()).ok())
                    .filter(|v| !v.is_null()));
            }
        }
        Ok(path.first(self.json()?).cloned())
    }

    /// The failure for a document found not to be JSON.
    pub fn not_json(&self, error: String) -> Failure {
        Failure::Json {
            error,
            excerpt: self.excerpt.clone(),
        }
    }
}
