//! `followup status`: per follow-up its last poll and outcome, its records
//! by state and what is due next; state left by deleted follow-ups too.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{Paths, StatusArgs};
use crate::clock::format_seconds;
use crate::commands::table::{self, Table};
use crate::definition::load::Catalog;
use crate::definition::model::Status;
use crate::pass::due;
use crate::store::{FollowupState, RecordState, Seconds, Store};

#[derive(Serialize, Default)]
struct Row {
    followup: String,
    status: String,
    last_poll: Option<String>,
    outcome: String,
    /// Why the last poll failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    open: i64,
    exhausted: i64,
    resolved: i64,
    baselined: i64,
    next_poll: Option<String>,
    next_attempt: Option<String>,
}

pub fn run(paths: &Paths, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&paths.dir(), &paths.tenant())?;
    let store = Store::open_read_only(&paths.db())?;
    let states: BTreeMap<String, FollowupState> = match &store {
        Some(s) => s
            .followup_states()?
            .into_iter()
            .map(|st| (st.id.clone(), st))
            .collect(),
        None => BTreeMap::new(),
    };
    let now = args.now.get().as_second();
    let mut rows = Vec::new();
    for entry in &catalog.entries {
        let id = entry.id();
        let state = states.get(&id);
        let mut row = Row {
            followup: id.clone(),
            status: match (&entry.raw, &entry.followup) {
                (Some(raw), Some(_)) => raw.status.as_str().to_owned(),
                _ => "invalid".to_owned(),
            },
            ..Row::default()
        };
        fill(&mut row, state, store.as_ref(), &id)?;
        if let Some(f) = entry
            .followup
            .as_ref()
            .filter(|f| f.status == Status::Active)
        {
            let when = |at: Seconds| match due::is_due(at, now) {
                true => "now".to_owned(),
                false => format_seconds(at),
            };
            let last_poll = state.and_then(|s| s.last_poll_at);
            row.next_poll = Some(
                due::next_poll(last_poll, f.polling.every).map_or_else(|| "now".to_owned(), when),
            );
            let polled_ok =
                state.is_some_and(|s| s.last_poll_ok == Some(true) && s.identity_changed.is_none());
            row.next_attempt = match &store {
                // Nothing is sent until a poll succeeds.
                Some(_) if !polled_ok => Some("after a successful poll".to_owned()),
                Some(store) => store
                    .next_due(
                        &id,
                        i64::from(f.schedule.attempts),
                        f.schedule.every.as_secs() as i64,
                    )?
                    .map(|at| match f.schedule.window.as_ref() {
                        // Due, but outside the window: when it opens.
                        Some(w) if due::is_due(at, now) => jiff::Timestamp::from_second(now)
                            .ok()
                            .and_then(|t| w.next_open(t))
                            .map_or_else(|| "never (window)".to_owned(), |t| when(t.as_second())),
                        _ => when(at),
                    }),
                None => None,
            };
        }
        rows.push(row);
    }
    for (id, state) in &states {
        if catalog.entries.iter().any(|e| &e.id() == id) {
            continue;
        }
        let mut row = Row {
            followup: id.clone(),
            status: "deleted".to_owned(),
            ..Row::default()
        };
        fill(&mut row, Some(state), store.as_ref(), id)?;
        rows.push(row);
    }
    table::print(args.format, &rows, || {
        let mut table = Table::new([
            "FOLLOWUP",
            "STATUS",
            "LAST POLL",
            "OUTCOME",
            "OPEN",
            "EXHAUSTED",
            "RESOLVED",
            "NEXT POLL",
            "NEXT ATTEMPT",
        ]);
        for r in &rows {
            table.row([
                r.followup.clone(),
                r.status.clone(),
                r.last_poll.clone().unwrap_or_else(|| "never".into()),
                r.outcome.clone(),
                r.open.to_string(),
                r.exhausted.to_string(),
                r.resolved.to_string(),
                r.next_poll.clone().unwrap_or_else(|| "-".into()),
                r.next_attempt.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        table
    })?;
    Ok(ExitCode::SUCCESS)
}

fn fill(
    row: &mut Row,
    state: Option<&FollowupState>,
    store: Option<&Store>,
    id: &str,
) -> anyhow::Result<()> {
    if let Some(s) = state {
        row.last_poll = s.last_poll_at.map(format_seconds);
        row.outcome = match (&s.identity_changed, s.last_poll_ok) {
            (Some(_), _) => "identity changed: reset needed".to_owned(),
            (None, Some(true)) => "succeeded".to_owned(),
            (None, Some(false)) => {
                // The table's column holds the outcome; why is in the JSON
                // (`detail`), in `explain` and in `history`.
                row.detail = s.last_poll_detail.clone();
                "failed".to_owned()
            }
            (None, None) => "-".to_owned(),
        };
    } else {
        row.outcome = "-".to_owned();
    }
    if let Some(store) = store {
        let counts = store.record_counts(id)?;
        let count = |s| counts.get(&s).copied().unwrap_or(0);
        row.open = count(RecordState::Open);
        row.exhausted = count(RecordState::Exhausted);
        row.resolved = count(RecordState::Resolved);
        row.baselined = count(RecordState::Baselined);
    }
    Ok(())
}
