//! Step 3's first half: run a follow-up's integrations in order, define
//! their attributes, and take the records from the last one's response,
//! page by page, each with its reconciliation ID.
//!
//! Every cause of a failed poll is here: a failed integration (transport,
//! non-2xx, bad JSON, too large, too many pages), a loop element that is
//! absent or not an array on any page, a record without a string or
//! integer ID, more than `max_records` records. A failed poll resolves and
//! notifies nothing.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::{Pass, PollOutcome, reconcile};
use crate::definition::followup::Followup;
use crate::integration;
use crate::store::{Event, EventKind, FollowupState, Polled, hash};
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
    pub(super) fn poll_and_reconcile(
        &mut self,
        f: &Followup,
        state: &mut FollowupState,
        report: &mut super::FollowupReport,
    ) -> anyhow::Result<PollOutcome> {
        state.last_poll_at = Some(self.now);
        let result = match self.poll(f) {
            Ok(result) => result,
            Err(detail) => {
                state.last_poll_ok = Some(false);
                state.last_poll_detail = Some(detail.clone());
                self.store.atomically(|store| {
                    store.save_followup_state(state)?;
                    store.add_event(
                        &Event::new(EventKind::PollFailed, self.now, &f.id).detail(&detail),
                    )
                })?;
                return Ok(PollOutcome::Failed(detail));
            }
        };
        let records = result.records.len();
        match reconcile::reconcile(self, f, state, result, report)? {
            Some(why) => Ok(PollOutcome::Skipped(why)),
            None => Ok(PollOutcome::Succeeded { records }),
        }
    }

    fn poll(&mut self, f: &Followup) -> Result<PollResult, String> {
        let followup_scope = json!({ "id": f.id, "name": f.name });
        let mut locals = Map::new();
        let mut records = Vec::new();
        let mut duplicates = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let last = f.extraction.integrations.len().saturating_sub(1);
        for (i, integration) in f.extraction.integrations.iter().enumerate() {
            let local_scope = Value::Object(locals.clone());
            let scopes = Scopes {
                followup: Some(&followup_scope),
                local: Some(&local_scope),
                global: Some(&self.globals),
                env: true,
                ..Scopes::default()
            };
            let mut defined = Map::new();
            let mut on_page = |page_index: usize, page: Value| -> anyhow::Result<usize> {
                if page_index == 0 {
                    for (name, path) in &integration.attributes {
                        if let Some(v) = path.first(&page) {
                            defined.insert(name.clone(), v.clone());
                        }
                    }
                }
                if i != last {
                    // Only the first page of an earlier integration matters:
                    // its attributes. Zero records stops its pagination.
                    return Ok(0);
                }
                let found = f
                    .extraction
                    .loop_path
                    .records(&page)
                    .map_err(|e| anyhow::anyhow!("page {}: {e}", page_index + 1))?;
                let on_page = found.len();
                for (n, record) in found.into_iter().enumerate() {
                    let id = match f.extraction.reconciliation_id.first(record) {
                        Some(Value::String(s)) if !s.is_empty() => s.clone(),
                        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
                        other => anyhow::bail!(
                            "page {}, record {}: no string or integer ID at `{}` (found {})",
                            page_index + 1,
                            n + 1,
                            f.extraction.reconciliation_id.source(),
                            other.map_or("nothing", crate::path::describe)
                        ),
                    };
                    if !seen.insert(id.clone()) {
                        duplicates.push(id);
                        continue;
                    }
                    if records.len() as u64 >= f.polling.max_records {
                        anyhow::bail!(
                            "more than {} records (`polling.max_records`): a broken query must not message everyone",
                            f.polling.max_records
                        );
                    }
                    let data = record.to_string();
                    records.push(Polled {
                        id,
                        hash: hash(data.as_bytes()),
                        data,
                    });
                }
                Ok(on_page)
            };
            integration::fetch(&mut self.http, integration, &scopes, &mut on_page)
                .map_err(|e| format!("integration `{}`: {e}", integration.id))?;
            locals.extend(defined);
        }
        Ok(PollResult {
            records,
            duplicates,
            locals,
        })
    }
}
