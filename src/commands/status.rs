//! `followup status`: per follow-up its last poll and outcome, its records
//! by state and what is due next; state left by deleted follow-ups too.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{Paths, StatusArgs, TableFormat};
use crate::clock::format_seconds;
use crate::commands::table::Table;
use crate::definition::load::Catalog;
use crate::store::{FollowupState, RecordState, Store};

#[derive(Serialize, Default)]
struct Row {
    followup: String,
    status: String,
    last_poll: Option<String>,
    outcome: String,
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
        if let (Some(f), Some(store)) = (&entry.followup, &store) {
            let polled = state.and_then(|s| s.last_poll_at);
            row.next_poll = Some(match polled {
                Some(last) => format_seconds((last + f.polling.every.as_secs() as i64).max(now)),
                None => "now".to_owned(),
            });
            let every = f.schedule.every.as_secs() as i64;
            row.next_attempt = store
                .next_due(&id, i64::from(f.schedule.attempts), every)?
                .map(|at| {
                    if at <= now {
                        "now".to_owned()
                    } else {
                        format_seconds(at)
                    }
                });
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
    let mut out = std::io::stdout().lock();
    match args.format {
        TableFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        TableFormat::Table => {
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
            out.write_all(table.render().as_bytes())?;
        }
    }
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
            (None, Some(false)) => format!(
                "failed: {}",
                s.last_poll_detail.as_deref().unwrap_or_default()
            ),
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
