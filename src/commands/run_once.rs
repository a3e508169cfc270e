//! `followup run-once`: one pass (DESIGN.md, "The pass"), and what it tells
//! the operator on stderr: a line per follow-up that did something, the
//! warnings nobody would otherwise see, and one summary line.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{Paths, RunOnceArgs};
use crate::clock::format_seconds;
use crate::commands::validate::plural;
use crate::definition::followup::{Followup, Selector};
use crate::definition::load::Catalog;
use crate::definition::model::Status;
use crate::exit;
use crate::log;
use crate::pass::{self, PollOutcome};
use crate::store::lock::PassLock;
use crate::store::{Event, EventFilter, EventKind, Store};

pub fn run(paths: &Paths, args: &RunOnceArgs) -> anyhow::Result<ExitCode> {
    let db = paths.db();
    // 1. The pass lock first: a second pass touches nothing, not even the
    // definitions. A dry run writes nothing, the lock included.
    let _lock = if args.dry_run {
        None
    } else {
        Some(PassLock::acquire(&db)?)
    };

    // 2. The tenant and the definitions.
    let Some(mut catalog) = load(paths)? else {
        return Ok(ExitCode::from(exit::FAILURE));
    };
    // `--only`, by id or name, resolved once to an id.
    let only = match &args.only {
        None => None,
        Some(key) => match only(&catalog, key)? {
            Some(id) => Some(id),
            None => return Ok(ExitCode::from(exit::FAILURE)),
        },
    };
    let invalid: Vec<String> = catalog
        .entries
        .iter()
        .filter(|e| e.followup.is_none() && only.as_ref().is_none_or(|o| &e.id() == o))
        .map(|e| e.id())
        .collect();
    for id in &invalid {
        log::warn(Some(id), "invalid: skipped; run `followup validate`");
    }

    let store = if args.dry_run {
        Store::in_memory_copy(&db)?
    } else {
        Store::open(&db)?
    };
    // A retention longer than the time since 1970 keeps everything.
    let retain_before = args.retain.and_then(|retain| {
        let back = i64::try_from(retain.as_secs()).ok()?;
        args.now.get().as_second().checked_sub(back)
    });
    if let Some(before) = retain_before.filter(|_| !args.dry_run) {
        let (events, attempts, records) = store.atomically(|s| s.prune(before))?;
        if events + attempts + records > 0 {
            log::info(
                None,
                &format!(
                    "forgot what is older than {}: {events} events, {attempts} closed attempts, {records} resolved records",
                    format_seconds(before)
                ),
            );
        }
    }
    let options = pass::Options {
        now: args.now.get(),
        dry_run: args.dry_run,
        only,
        max_duration: args.max_duration,
        concurrency: usize::from(args.concurrency),
    };
    let started = std::time::Instant::now();
    let run = run_pass(paths, &mut catalog, &store, &options)?;
    if !args.dry_run {
        store.checkpoint()?;
        if let Some(path) = &args.metrics_file {
            let now = options.now.as_second();
            let report = &run.report;
            crate::metrics::write(path, &catalog, &store, report, now, started.elapsed())?;
        }
    }
    summarize(&catalog, &run, started.elapsed(), args.dry_run);
    let ok = run.report.ok() && invalid.is_empty();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILURE)
    })
}

/// The tenant and the definitions, their diagnostics logged; `None` when
/// the tenant is invalid and nothing may run.
pub fn load(paths: &Paths) -> anyhow::Result<Option<Catalog>> {
    let catalog = Catalog::load(&paths.dir(), &paths.tenant())?;
    for d in &catalog.diagnostics {
        log::diagnostic(d);
    }
    if !catalog.tenant_ok {
        log::error(None, "the tenant is invalid: nothing runs");
        return Ok(None);
    }
    Ok(Some(catalog))
}

/// `--only KEY` as an id; `None` (said why) when it names an invalid one.
pub fn only(catalog: &Catalog, key: &str) -> anyhow::Result<Option<String>> {
    let entry = catalog
        .find(key)
        .ok_or_else(|| crate::commands::unknown_followup(catalog, key))?;
    match &entry.followup {
        None => {
            log::error(
                None,
                &format!("{} is invalid: nothing runs", entry.file.display()),
            );
            return Ok(None);
        }
        Some(f) if f.status == Status::Inactive => {
            log::warn(Some(&f.id), "inactive: nothing runs");
        }
        Some(_) => {}
    }
    Ok(Some(entry.id()))
}

/// A pass and what it wrote: its report and its events.
pub struct Run {
    pub report: pass::Report,
    pub events: Vec<Event>,
}

/// The pass itself, shared by `run-once` and `preview`: the users' recorded
/// chats go into the tenant first (`last_used`), and the pass's events are
/// read back for what it tells the operator.
pub fn run_pass(
    paths: &Paths,
    catalog: &mut Catalog,
    store: &Store,
    options: &pass::Options,
) -> anyhow::Result<Run> {
    let written = crate::last_used::tenant_written(&paths.tenant());
    crate::last_used::apply(&mut catalog.tenant, &store.users_seen()?, written);
    let now = options.now.as_second();
    if let Some(last) = store.last_pass_at()?.filter(|last| *last > now) {
        log::warn(
            None,
            &format!(
                "the clock ({}) is earlier than the last pass ({}): nothing falls due until the clock passes it; \
                 give a later --now, or another --db to replay from the start",
                format_seconds(now),
                format_seconds(last)
            ),
        );
    }
    let seq = store.last_event_seq()?;
    let report = pass::run(catalog, store, options)?;
    let events = store.events(&EventFilter {
        after_seq: Some(seq),
        ..EventFilter::default()
    })?;
    Ok(Run { report, events })
}

/// The attempts of this pass that reached nobody: started, with recipients
/// that resolved to no one, and no notification sent. By follow-up, each
/// with its record and the detail of its first unresolved value.
pub fn unreached(events: &[Event]) -> BTreeMap<String, Vec<(String, String)>> {
    let key = |e: &Event| {
        (
            e.followup.clone().unwrap_or_default(),
            e.record.clone().unwrap_or_default(),
            e.cycle,
            e.attempt,
        )
    };
    let sent: HashSet<_> = events
        .iter()
        .filter(|e| e.event == EventKind::NotificationSent.as_str())
        .map(key)
        .collect();
    let mut seen = HashSet::new();
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e.event == EventKind::RecipientUnresolved.as_str())
    {
        let k = key(e);
        if sent.contains(&k) || !seen.insert(k.clone()) {
            continue;
        }
        out.entry(k.0)
            .or_default()
            .push((k.1, e.detail.clone().unwrap_or_default()));
    }
    out
}

/// Where a follow-up looks for its recipients, for a warning that they
/// matched nothing.
pub fn recipient_paths(f: &Followup) -> String {
    let show = |kind: &str, s: &Selector| match s {
        Selector::Path(p) => format!("{kind} `{}`", p.source()),
        Selector::Literal(l) => format!("{kind} `{l}`"),
    };
    let all: Vec<String> = f
        .recipients
        .users
        .iter()
        .map(|s| show("user", s))
        .chain(f.recipients.groups.iter().map(|s| show("group", s)))
        .collect();
    all.join(" and ")
}

/// One line per event, for `-v`.
fn event_line(e: &Event) -> String {
    let mut line = e.event.clone();
    if let Some(r) = &e.record {
        line.push_str(&format!(" record {r}"));
    }
    if let Some(a) = e.attempt {
        line.push_str(&format!(" attempt {a}"));
    }
    if let Some(r) = &e.recipient {
        line.push_str(&format!(" to {r}"));
    }
    if let Some(c) = &e.channel {
        line.push_str(&format!(" on {c}"));
    }
    if let Some(d) = &e.detail {
        line.push_str(&format!(": {d}"));
    }
    line
}

/// A line per follow-up that did something (every one with `-v`), the
/// warnings, and one summary line.
fn summarize(catalog: &Catalog, run: &Run, took: Duration, dry_run: bool) {
    // A dry run sends nothing: it says what it would.
    let delivered = match dry_run {
        true => "would send",
        false => "delivered",
    };
    let unreached = unreached(&run.events);
    let mut totals = [0usize; 6];
    for f in &run.report.followups {
        let id = f.id.as_str();
        for e in run
            .events
            .iter()
            .filter(|e| e.followup.as_deref() == Some(id))
        {
            if log::enabled(log::Level::Debug) {
                log::debug(Some(id), &event_line(e));
            }
        }
        let nobody = unreached.get(id).map_or(0, Vec::len);
        let mut line = match &f.poll {
            PollOutcome::NotDue => "poll not due".to_owned(),
            PollOutcome::Succeeded { records } => {
                // A `record_only` baseline opens nothing: say what it did.
                let baselined = match f.baselined {
                    0 => String::new(),
                    n => format!(", {n} baselined"),
                };
                format!(
                    "polled {records} record{} ({} opened{baselined}, {} resolved)",
                    plural(*records),
                    f.opened,
                    f.resolved
                )
            }
            PollOutcome::Failed(why) => format!("poll failed: {why}"),
            PollOutcome::Skipped(why) => format!("skipped by the identity guard: {why}"),
        };
        let busy = f.attempts + f.delivered + f.failed + f.pending + f.exhausted > 0;
        if busy {
            line.push_str(&format!(
                "; {} attempt{} started, {} {delivered}, {} failed, {} pending, {} exhausted",
                f.attempts,
                plural(f.attempts),
                f.delivered,
                f.failed,
                f.pending,
                f.exhausted
            ));
            if nobody > 0 {
                line.push_str(&format!(", {nobody} reached nobody"));
            }
        }
        if let Some(why) = &f.first_failure {
            line.push_str(&format!(" (first failure: {why})"));
        }
        match &f.poll {
            PollOutcome::Failed(_) => log::error(Some(id), &line),
            PollOutcome::Skipped(_) => log::warn(Some(id), &line),
            PollOutcome::NotDue if !busy => log::debug(Some(id), &line),
            _ => log::info(Some(id), &line),
        }
        if let Some(records) = unreached.get(id) {
            let paths = catalog
                .entries
                .iter()
                .find_map(|e| e.followup.as_ref().filter(|g| g.id == id))
                .map(recipient_paths)
                .unwrap_or_default();
            let (record, detail) = &records[0];
            log::warn(
                Some(id),
                &format!(
                    "{nobody} attempt{} reached nobody (record {record}: {detail}); the recipients are {paths}",
                    if nobody == 1 { "" } else { "s" }
                ),
            );
        }
        let polled = usize::from(matches!(f.poll, PollOutcome::Succeeded { .. }));
        for (total, n) in
            totals
                .iter_mut()
                .zip([polled, f.attempts, f.delivered, f.failed, f.pending, nobody])
        {
            *total += n;
        }
    }
    if !run.report.unfinished.is_empty() {
        log::warn(
            None,
            &format!(
                "--max-duration reached: {} left for the next pass",
                run.report.unfinished.join(", ")
            ),
        );
    }
    let [polled, attempts, sent, failed, pending, nobody] = totals;
    log::info(
        None,
        &format!(
            "pass: {} follow-up{}, {polled} polled, {attempts} attempt{}, {sent} {delivered}, {failed} failed, {pending} pending, {nobody} reached nobody, in {} ms",
            run.report.followups.len(),
            plural(run.report.followups.len()),
            plural(attempts),
            took.as_millis()
        ),
    );
}
