//! `followup preview ID [--response FILE] [--record RID]`: what a pass would
//! do for one follow-up, record by record. It is `run-once --dry-run --only
//! ID` (the same pass, against an in-memory copy of the database), with
//! two differences a preview needs: the follow-up is polled whether or not
//! its poll is due (and even when inactive), and `--response` stands a saved
//! answer in for its first integration. The payloads shown are the dry-run
//! channel's lines, exactly what `run-once --dry-run` prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

use serde_json::Value;

use crate::channel::dry_run;
use crate::cli::{Paths, PreviewArgs};
use crate::commands::explain;
use crate::commands::run_once::{self, recipient_paths};
use crate::commands::validate::plural;
use crate::definition::followup::Source;
use crate::definition::model::Status;
use crate::exit;
use crate::pass::{self, PollOutcome};
use crate::store::{Event, EventKind, RecordState, Store};

pub fn run(paths: &Paths, args: &PreviewArgs) -> anyhow::Result<ExitCode> {
    let Some(mut catalog) = run_once::load(paths)? else {
        return Ok(ExitCode::from(exit::FAILURE));
    };
    let entry = catalog.entries.iter_mut().find(|e| {
        e.id() == args.id
            || e.raw
                .as_ref()
                .is_some_and(|r| r.name.eq_ignore_ascii_case(&args.id))
    });
    let Some(entry) = entry else {
        return Err(crate::commands::unknown_followup(&catalog, &args.id));
    };
    let Some(f) = entry.followup.as_mut() else {
        crate::log::error(
            None,
            &format!(
                "{} is invalid: nothing to preview; run `followup validate`",
                entry.file.display()
            ),
        );
        return Ok(ExitCode::from(exit::FAILURE));
    };
    // A preview of an inactive follow-up shows what activating it would do.
    f.status = Status::Active;
    if let Some(response) = &args.response {
        if !response.is_file() {
            return Err(exit::usage(format!("{}: no such file", response.display())));
        }
        let first = f
            .extraction
            .integrations
            .first_mut()
            .expect("rules require an integration");
        first.source = Source::File(response.clone());
        first.paginate = None;
    }
    let id = f.id.clone();
    let max_attempts = f.schedule.attempts;

    let store = Store::in_memory_copy(&paths.db())?;
    // Polled whether or not its poll is due: a preview is about this poll.
    let mut state = store.followup_state(&id)?;
    if state.last_poll_at.is_some() {
        state.last_poll_at = None;
        store.save_followup_state(&state)?;
    }
    let options = pass::Options {
        now: args.now.get(),
        dry_run: true,
        only: Some(id.clone()),
        max_duration: std::time::Duration::from_secs(240),
        concurrency: 8,
    };
    dry_run::collect();
    let run = run_once::run_pass(paths, &mut catalog, &store, &options)?;
    // Each line as the dry-run printed it, and parsed to group it.
    let lines: Vec<(String, Value)> = dry_run::take()
        .into_iter()
        .filter_map(|l| Some((serde_json::from_str(&l).ok()?, l)))
        .map(|(v, l)| (l, v))
        .collect();
    let f = catalog
        .entries
        .iter()
        .find_map(|e| e.followup.as_ref().filter(|f| f.id == id))
        .expect("previewed above");

    let mut out = String::new();
    let report = run.report.followups.first();
    let poll = match report.map(|r| &r.poll) {
        Some(PollOutcome::Succeeded { records }) => {
            format!("polled {records} record{}", plural(*records))
        }
        Some(PollOutcome::Failed(why)) => format!("the poll fails: {why}"),
        Some(PollOutcome::Skipped(why)) => format!("skipped: {why}"),
        Some(PollOutcome::NotDue) | None => "not polled".to_owned(),
    };
    writeln!(out, "{id} ({}): {poll}", f.name)?;

    // Every record the pass touched, and every one it keeps following.
    let mut events: BTreeMap<String, Vec<&Event>> = BTreeMap::new();
    for e in &run.events {
        if let Some(r) = &e.record {
            events.entry(r.clone()).or_default().push(e);
        }
    }
    let mut ids: Vec<String> = store
        .tracked(&id)?
        .into_iter()
        .filter(|(_, t)| t.state != RecordState::Resolved)
        .map(|(rid, _)| rid)
        .chain(events.keys().cloned())
        .collect();
    ids.sort();
    ids.dedup();
    if let Some(only) = &args.record {
        if !ids.contains(only) {
            return Err(exit::with_status(
                exit::FAILURE,
                format!("the poll of `{id}` finds no record `{only}`"),
            ));
        }
        ids.retain(|r| r == only);
    }
    let state = store.followup_state(&id)?;
    let now = options.now.as_second();
    for rid in &ids {
        let Some(record) = store.record(&id, rid)? else {
            // Dropped in this pass: a baselined record gone from the poll.
            writeln!(
                out,
                "\nrecord {rid}: nothing: it left the poll before it was followed up"
            )?;
            continue;
        };
        let mine: &[&Event] = events.get(rid).map_or(&[], Vec::as_slice);
        let has = |kind: EventKind| mine.iter().find(|e| e.event == kind.as_str());
        let mut doing = Vec::new();
        if has(EventKind::RecordOpened).is_some() {
            doing.push(format!("open (cycle {})", record.cycle));
        }
        if has(EventKind::RecordBaselined).is_some() {
            doing.push("remember only (first_poll: record_only): never followed up".to_owned());
        }
        if let Some(e) = has(EventKind::AttemptStarted) {
            let n = e.attempt.unwrap_or(record.attempts);
            let verb = if n > 1 { "continue" } else { "notify" };
            doing.push(format!("{verb}: attempt {n} of {max_attempts}"));
        } else if has(EventKind::NotificationSent).is_some() {
            doing.push("retry the pending deliveries of its attempt".to_owned());
        }
        if has(EventKind::RecordResolved).is_some() {
            doing.push("resolve: gone from the poll".to_owned());
        }
        if has(EventKind::AttemptsExhausted).is_some() {
            doing.push(format!("exhaust: all {max_attempts} attempts made"));
        }
        if doing.is_empty() {
            doing.push(format!(
                "nothing: {}",
                explain::why(Some(f), &state, &record, now)
            ));
        }
        writeln!(out, "\nrecord {rid}: {}", doing.join("; "))?;
        for e in mine
            .iter()
            .filter(|e| e.event == EventKind::RecipientUnresolved.as_str())
        {
            writeln!(
                out,
                "  reaches nobody: {} (recipients: {})",
                e.detail.as_deref().unwrap_or_default(),
                recipient_paths(f)
            )?;
        }
        for e in mine
            .iter()
            .filter(|e| e.event == EventKind::NotificationFailed.as_str())
        {
            writeln!(
                out,
                "  fails to {} on {}: {}",
                e.recipient.as_deref().unwrap_or("?"),
                e.channel.as_deref().unwrap_or("?"),
                e.detail.as_deref().unwrap_or_default()
            )?;
        }
        // A digest is shown whole under its first record; its others say
        // where it is.
        for line in lines.iter().map(|(_, l)| l).filter(|l| {
            l["record"].as_str() != Some(rid.as_str())
                && l["digest"]["records"]
                    .as_array()
                    .is_some_and(|rs| rs.iter().any(|r| r["record"].as_str() == Some(rid)))
        }) {
            writeln!(
                out,
                "  in the digest to {} on {}, shown under record {}",
                line["recipient"]["id"].as_str().unwrap_or("?"),
                line["channel"].as_str().unwrap_or("?"),
                line["record"].as_str().unwrap_or("?")
            )?;
        }
        for (text, line) in lines
            .iter()
            .filter(|(_, l)| l["record"].as_str() == Some(rid.as_str()))
        {
            match line.get("action") {
                Some(action) => writeln!(
                    out,
                    "  action {}: {}",
                    action.as_str().unwrap_or_default(),
                    line["outcome"].as_str().unwrap_or_default()
                )?,
                None => {
                    writeln!(
                        out,
                        "  to {} on {}:",
                        line["recipient"]["id"].as_str().unwrap_or("?"),
                        line["channel"].as_str().unwrap_or("?")
                    )?;
                    writeln!(out, "    {text}")?;
                }
            }
        }
    }
    if ids.is_empty() {
        writeln!(out, "\nno records")?;
    }
    std::io::stdout().write_all(out.as_bytes())?;
    let failed = matches!(
        report.map(|r| &r.poll),
        Some(PollOutcome::Failed(_) | PollOutcome::Skipped(_))
    );
    Ok(if failed {
        ExitCode::from(exit::FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}
