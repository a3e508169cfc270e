//! Step 3's first half: run a follow-up's integrations in order, define
//! their attributes, and take the records from the last one's response,
//! page by page, each with its reconciliation ID.
//!
//! Every cause of a failed poll is here: a failed integration (transport,
//! non-2xx, bad JSON, too large, too many pages), a loop element that is
//! absent or not an array on any page, a record without a string or
//! integer ID, more than `max_records` records. A failed poll resolves and
//! notifies nothing.

use serde_json::{Map, Value, json};

use super::Pass;
use crate::definition::followup::Followup;
use crate::hashing::{DigestKey, IdMap, IdSet};
use crate::integration::{self, Document};
use crate::store::{Polled, RecordState, Tracked};
use crate::template::Scopes;

pub struct PollResult {
    /// The records, in the order found, each ID once.
    pub records: Vec<Polled>,
    /// IDs found again after their first record (the first wins).
    pub duplicates: Vec<String>,
    /// The extraction attributes (`local.*`).
    pub locals: Map<String, Value>,
}

impl Pass<'_> {
    pub(super) fn poll(
        &mut self,
        f: &Followup,
        tracked: &IdMap<Tracked>,
    ) -> Result<PollResult, String> {
        let followup_scope = json!({ "id": f.id, "name": f.name });
        let mut locals = Map::new();
        let (last, earlier) = f
            .extraction
            .integrations
            .split_last()
            .expect("rules require at least one integration");
        // Earlier integrations only define attributes, from their first
        // page: they are not paginated.
        for integration in earlier {
            let local_scope = Value::Object(locals.clone());
            let scopes = scopes(&followup_scope, &local_scope, &self.globals);
            let page = integration::fetch_source(
                &mut self.http,
                &integration.id,
                &integration.source,
                &scopes,
            )
            .map_err(|e| e.to_string())?;
            define(&integration.attributes, &page, &mut locals);
        }

        let local_scope = Value::Object(locals.clone());
        let scopes = scopes(&followup_scope, &local_scope, &self.globals);
        let mut found = Found {
            key: self.digest_key,
            tracked,
            records: Vec::new(),
            max_records: f.polling.max_records,
        };
        let mut defined = Map::new();
        let mut on_page = |page_index: usize, page: &Document| -> anyhow::Result<usize> {
            if page_index == 0 && !last.attributes.is_empty() {
                define(
                    &last.attributes,
                    page.json().map_err(|e| anyhow::anyhow!("{e}"))?,
                    &mut defined,
                );
            }
            found.page(f, page_index + 1, page)
        };
        integration::fetch(&mut self.http, last, &scopes, &mut on_page)
            .map_err(|e| e.to_string())?;
        locals.extend(defined);
        let (records, duplicates) = first_of_each(found.records);
        Ok(PollResult {
            records,
            duplicates,
            locals,
        })
    }
}

/// The scopes of an extraction's requests.
fn scopes<'s>(followup: &'s Value, local: &'s Value, global: &'s Value) -> Scopes<'s> {
    Scopes {
        followup: Some(followup),
        local: Some(local),
        global: Some(global),
        env: true,
        ..Scopes::default()
    }
}

/// `local.NAME` attributes from a response.
fn define(
    attributes: &[(String, crate::path::JsonPath)],
    response: &Value,
    into: &mut Map<String, Value>,
) {
    for (name, path) in attributes {
        if let Some(v) = path.first(response) {
            into.insert(name.clone(), v.clone());
        }
    }
}

/// Keeps the first record of each ID; returns the IDs of those dropped.
fn first_of_each(mut records: Vec<Polled>) -> (Vec<Polled>, Vec<String>) {
    let first: Vec<bool> = {
        let mut seen = IdSet::with_capacity_and_hasher(records.len(), Default::default());
        records.iter().map(|p| seen.insert(p.id.as_str())).collect()
    };
    let mut duplicates = Vec::new();
    let mut keep = first.into_iter();
    records.retain(|p| {
        let keep = keep.next().unwrap_or(true);
        if !keep {
            duplicates.push(p.id.clone());
        }
        keep
    });
    (records, duplicates)
}

/// The records a poll has found so far.
struct Found<'t> {
    key: DigestKey,
    tracked: &'t IdMap<Tracked>,
    records: Vec<Polled>,
    max_records: u64,
}

impl Found<'_> {
    /// Takes the records of one page; returns how many items its loop
    /// element held (before any filter).
    fn page(&mut self, f: &Followup, page_no: usize, page: &Document) -> anyhow::Result<usize> {
        // The common shape (`$.result[*]` with `$.sys_id`) is read from the
        // bytes: no tree for a page of 100,000 records.
        if let Some(raw) = f.extraction.loop_path.raw_records(page.bytes()) {
            let raw = raw
                .map_err(|e| anyhow::anyhow!("{}", page.not_json(&e)))?
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let items = raw.len();
            for (n, record) in raw.into_iter().enumerate() {
                let id = match f.extraction.reconciliation_id.walk_raw(record) {
                    Some(leaf) => leaf
                        .map_err(|e| anyhow::anyhow!("page {page_no}, record {}: {e}", n + 1))?
                        .and_then(|l| serde_json::from_str::<Value>(l.get()).ok()),
                    None => {
                        let tree: Value = serde_json::from_str(record.get())?;
                        f.extraction.reconciliation_id.first(&tree).cloned()
                    }
                };
                self.add(f, id, record.get(), page_no, n + 1)?;
            }
            return Ok(items);
        }
        let tree = page.json().map_err(|e| anyhow::anyhow!("{e}"))?;
        let (records, items) = f
            .extraction
            .loop_path
            .records(tree)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (n, record) in records.into_iter().enumerate() {
            let id = f.extraction.reconciliation_id.first(record).cloned();
            self.add(f, id, &record.to_string(), page_no, n + 1)?;
        }
        Ok(items)
    }

    /// Adds one record, given its ID value and its JSON text.
    fn add(
        &mut self,
        f: &Followup,
        id: Option<Value>,
        data: &str,
        page: usize,
        n: usize,
    ) -> anyhow::Result<()> {
        let id = match id {
            Some(Value::String(s)) if !s.is_empty() => s,
            Some(Value::Number(number)) if number.is_i64() || number.is_u64() => number.to_string(),
            other => anyhow::bail!(
                "page {page}, record {n}: no string or integer ID at `{}` (found {})",
                f.extraction.reconciliation_id.source(),
                other.as_ref().map_or("nothing", crate::path::describe)
            ),
        };
        // Duplicates count too: it is the size of the answer that tells a
        // broken query.
        if self.records.len() as u64 >= self.max_records {
            anyhow::bail!(
                "more than {} records (`polling.max_records`): a broken query must not message everyone",
                self.max_records
            );
        }
        let hash = self.key.digest(data.as_bytes());
        // A known record whose data did not change needs no copy of it.
        let unchanged = self
            .tracked
            .get(&id)
            .is_some_and(|t| t.state != RecordState::Resolved && t.hash == hash && t.absent == 0);
        self.records.push(Polled {
            id,
            hash,
            data: (!unchanged).then(|| data.to_owned()),
        });
        Ok(())
    }
}
