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
    /// Bytes dropped from the start as received (a BOM), so that error
    /// offsets count from the start of what the server sent.
    dropped: usize,
    /// The start of the document, secrets masked, for error messages.
    excerpt: Option<String>,
    tree: OnceCell<Value>,
}

impl Document {
    /// A received body; an empty one (a 204 to an action) is `null`. A
    /// UTF-8 byte order mark at the start is dropped (Windows tools and
    /// some .NET APIs write one; JSON forbids it). Only UTF-8 is checked
    /// here: JSON syntax is checked by whoever reads it.
    pub(super) fn checked(mut body: Vec<u8>, secrets: &Secrets) -> Result<Document, Failure> {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        let dropped = if body.starts_with(BOM) {
            body.drain(..BOM.len());
            BOM.len()
        } else {
            0
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Document::from_value(Value::Null));
        }
        if let Err(e) = std::str::from_utf8(&body) {
            return Err(Failure::Json {
                error: format!(
                    "invalid UTF-8 at {}",
                    position(&body, e.valid_up_to(), dropped)
                ),
                excerpt: Some(excerpt(&body, secrets)),
            });
        }
        Ok(Document {
            excerpt: Some(excerpt(&body, secrets)),
            bytes: body,
            dropped,
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
            dropped: 0,
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
        let tree = serde_json::from_slice(&self.bytes).map_err(|e| self.not_json(&e))?;
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
                serde_json::from_slice(&self.bytes).map_err(|e| self.not_json(&e))?;
            if let Some(leaf) = path.walk_raw(root) {
                let leaf = leaf.map_err(|error| Failure::Json {
                    error,
                    excerpt: self.excerpt.clone(),
                })?;
                return Ok(leaf
                    .and_then(|l| serde_json::from_str::<Value>(l.get()).ok())
                    .filter(|v| !v.is_null()));
            }
        }
        Ok(path.first(self.json()?).cloned())
    }

    /// The failure for a document found not to be JSON: `invalid JSON at
    /// byte 1234 (line 3, column 7): expected value`.
    pub fn not_json(&self, e: &serde_json::Error) -> Failure {
        // serde_json's text ends with " at line L column C": say it once,
        // with the byte offset a `curl | head -c` or `dd skip=` can find.
        let text = e.to_string();
        let what = text
            .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
            .unwrap_or(&text);
        let line_start: usize = self
            .bytes
            .split_inclusive(|b| *b == b'\n')
            .take(e.line().saturating_sub(1))
            .map(<[u8]>::len)
            .sum();
        let at = (line_start + e.column().saturating_sub(1)).min(self.bytes.len());
        Failure::Json {
            error: format!(
                "invalid JSON at {}: {what}",
                position(&self.bytes, at, self.dropped)
            ),
            excerpt: self.excerpt.clone(),
        }
    }
}

/// `byte N (line L, column C)` of the byte at `at` in `bytes`, which had
/// `dropped` bytes before it as received; lines and columns count from 1,
/// columns in bytes (as serde_json counts them).
fn position(bytes: &[u8], at: usize, dropped: usize) -> String {
    let before = &bytes[..at];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = at
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    format!("byte {} (line {line}, column {column})", at + dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(bytes: &[u8]) -> Document {
        Document::checked(bytes.to_vec(), &Secrets::default()).unwrap()
    }

    #[test]
    fn a_byte_order_mark_is_dropped_and_offsets_count_it() {
        let page = document(b"\xEF\xBB\xBF{\"result\": [1]}");
        assert_eq!(page.bytes(), br#"{"result": [1]}"#);
        assert_eq!(page.into_json().unwrap(), json!({"result": [1]}));
        // Only at the start.
        let inside = document(b"{\"a\": 1,\xEF\xBB\xBF}");
        assert!(inside.json().is_err());
        // Byte 12 of what was received: the BOM counts.
        let bad = document(b"\xEF\xBB\xBF{\"result\": ]}");
        assert_eq!(
            bad.json().unwrap_err().to_string(),
            "invalid JSON at byte 14 (line 1, column 12): expected value; it starts: {\"result\": ]}"
        );
        assert_eq!(document(b"\xEF\xBB\xBF").into_json().unwrap(), Value::Null);
    }

    #[test]
    fn a_syntax_error_says_the_byte_line_and_column() {
        let page = document(b"{\"result\": [\n  {\"id\": 1},\n  {\"id\": 2\n]}");
        let err = page.json().unwrap_err().to_string();
        // Byte 37 is the `]` where a `,` or `}` was expected.
        assert_eq!(&page.bytes()[37..38], b"]");
        assert!(
            err.starts_with(
                "invalid JSON at byte 37 (line 4, column 1): expected `,` or `}`; it starts: "
            ),
            "{err}"
        );
        let cut = document(br#"{"result": [1, 2"#);
        // At the end, serde_json points at the last byte.
        let err = cut.json().unwrap_err().to_string();
        assert_eq!(
            err.split(';').next().unwrap(),
            "invalid JSON at byte 15 (line 1, column 16): EOF while parsing a list"
        );
    }
}
