//! `followup explain ID RECORD`: why a record was or was not notified.

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

use crate::cli::{ExplainArgs, Paths};
use crate::clock::format_seconds;
use crate::definition::followup::Followup;
use crate::definition::load::Catalog;
use crate::definition::model::Status;
use crate::exit;
use crate::pass::due;
use crate::store::{
    DeliveryState, EventFilter, EventKind, FollowupState, Record, RecordState, Seconds, Store,
};

pub fn run(paths: &Paths, args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&paths.dir(), &paths.tenant())?;
    let id = catalog
        .find(&args.id)
        .map(|e| e.id())
        .unwrap_or_else(|| args.id.clone());
    let entry = catalog.entries.iter().find(|e| e.id() == id);
    let store = Store::open_read_only(&paths.db())?;
    let record = match &store {
        Some(s) => s.record(&id, &args.record)?,
        None => None,
    };
    let (Some(store), Some(record)) = (store, record) else {
        if entry.is_none() {
            return Err(crate::commands::unknown_followup(&catalog, &args.id));
        }
        return Err(exit::with_status(
            exit::FAILURE,
            format!(
                "follow-up `{id}` has no record `{}`: no poll has found it (see `followup history --followup {id} --event poll`), a baseline dropped it, or the follow-up was reset",
                args.record
            ),
        ));
    };
    let now = args.now.get().as_second();
    let state = store.followup_state(&id)?;
    let f = entry.and_then(|e| e.followup.as_ref());
    let mut out = String::new();
    let name = f.map(|f| format!(" ({})", f.name)).unwrap_or_default();
    writeln!(out, "record {} of {id}{name}", record.id)?;
    writeln!(
        out,
        "  state:     {}, cycle {}",
        record.state.as_str(),
        record.cycle
    )?;
    let max = f.map(|f| i64::from(f.schedule.attempts));
    writeln!(
        out,
        "  attempts:  {}{}",
        record.attempts,
        max.map(|m| format!(" of {m}")).unwrap_or_default()
    )?;
    writeln!(out, "  opened:    {}", format_seconds(record.opened_at))?;
    writeln!(out, "  updated:   {}", format_seconds(record.changed_at))?;
    if let Some(at) = record.last_attempt_at {
        writeln!(out, "  attempted: {}", format_seconds(at))?;
    }
    match state.last_poll_at {
        Some(at) => writeln!(
            out,
            "  last poll: {} ({})",
            format_seconds(at),
            match state.last_poll_ok {
                Some(true) => "succeeded".to_owned(),
                _ => format!(
                    "failed: {}",
                    state.last_poll_detail.as_deref().unwrap_or("?")
                ),
            }
        )?,
        None => writeln!(out, "  last poll: never")?,
    }
    if record.absent > 0 {
        writeln!(
            out,
            "  absent from the last {} successful poll(s)",
            record.absent
        )?;
    }

    let deliveries = store.record_deliveries(&id, &record.id)?;
    if !deliveries.is_empty() {
        writeln!(out, "  deliveries:")?;
        for d in &deliveries {
            writeln!(
                out,
                "    cycle {} attempt {}: {} to {} on {}: {} at {} after {} tr{}{}",
                d.cycle,
                d.attempt,
                d.id,
                d.target,
                d.channel,
                d.state.as_str(),
                format_seconds(d.updated_at),
                d.tries,
                if d.tries == 1 { "y" } else { "ies" },
                d.detail
                    .as_deref()
                    .map(|x| format!(" ({x})"))
                    .unwrap_or_default()
            )?;
        }
    }

    let conversations = store.record_conversations(&id, &record.id)?;
    if !conversations.is_empty() {
        writeln!(out, "  conversations:")?;
        for c in &conversations {
            let state = match (c.state.as_str(), &c.ended) {
                ("open", _) => "open: later attempts reply to it".to_owned(),
                ("closing", Some(ended)) => format!("{ended}: its first message is to be edited"),
                (_, ended) => format!(
                    "{} at {}{}",
                    ended.as_deref().unwrap_or("closed"),
                    format_seconds(c.updated_at),
                    c.detail
                        .as_deref()
                        .map(|x| format!(" ({x})"))
                        .unwrap_or_default()
                ),
            };
            writeln!(
                out,
                "    cycle {} on {} to {}: first message {} {}, {state}",
                c.cycle, c.channel, c.target, c.delivery, c.reference
            )?;
        }
    }

    // Attempts of this cycle that reached nobody: their deliveries say
    // nothing (there are none), their `recipient.unresolved` events do.
    let unresolved = store.events(&EventFilter {
        followup: Some(id.clone()),
        record: Some(record.id.clone()),
        event: Some(EventKind::RecipientUnresolved.as_str().to_owned()),
        ..EventFilter::default()
    })?;
    let mut told = std::collections::BTreeSet::new();
    for e in unresolved.iter().filter(|e| e.cycle == Some(record.cycle)) {
        let Some(attempt) = e.attempt else { continue };
        let delivered = deliveries.iter().any(|d| {
            d.cycle == record.cycle && d.attempt == attempt && d.state == DeliveryState::Delivered
        });
        if !delivered && told.insert(attempt) {
            writeln!(
                out,
                "  attempt {attempt} reached nobody: {}",
                e.detail.as_deref().unwrap_or("no recipient resolved")
            )?;
        }
    }

    let why = why(f, &state, &record, now);
    writeln!(out, "  why:       {why}")?;
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Why a record was or was not notified, in the order the pass decides.
pub fn why(f: Option<&Followup>, state: &FollowupState, record: &Record, now: Seconds) -> String {
    let id = &state.id;
    match f {
        None => "its definition is gone or invalid: nothing is sent until it is fixed".to_owned(),
        Some(f) if f.status == Status::Inactive => "the follow-up is inactive: nothing is polled or sent".to_owned(),
        Some(_) if state.identity_changed.is_some() => format!(
            "the follow-up is blocked since a poll found none of the tracked records; run `followup reset {id}`"
        ),
        Some(_) if state.last_poll_ok != Some(true) => {
            "the latest poll failed: nothing is sent until a poll succeeds".to_owned()
        }
        Some(f) => match record.state {
            RecordState::Baselined => {
                "it was there when the follow-up started (`first_poll: record_only`): it is remembered, never followed up".to_owned()
            }
            RecordState::Resolved => "it left the poll and was resolved; its return opens a new cycle".to_owned(),
            RecordState::Exhausted => format!("all {} attempts were made; nothing more is sent while it stays", record.attempts),
            RecordState::Open => {
                let next = due::next_attempt(record, f.schedule.every);
                let spent = record.attempts >= i64::from(f.schedule.attempts);
                let window = f.schedule.window.as_ref();
                let window_note = window
                    .map(|w| format!(" (window {})", w.describe()))
                    .unwrap_or_default();
                if spent {
                    format!("every attempt is made; it is exhausted at {} if still open", format_seconds(next))
                } else if !due::is_due(next, now) {
                    format!("attempt {} is due at {}{window_note}", record.attempts + 1, format_seconds(next))
                } else if let Some(w) = window.filter(|w| !w.contains(jiff::Timestamp::from_second(now).unwrap_or_default())) {
                    let opens = w
                        .next_open(jiff::Timestamp::from_second(now).unwrap_or_default())
                        .map(|t| format_seconds(t.as_second()))
                        .unwrap_or_else(|| "never".into());
                    format!("attempt {} is due but waits for the window {} (opens {opens})", record.attempts + 1, w.describe())
                } else {
                    format!("attempt {} is due now: the next pass sends it", record.attempts + 1)
                }
            }
        },
    }
}
