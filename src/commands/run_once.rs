//! `followup run-once`: one pass (DESIGN.md, "The pass").

use std::process::ExitCode;

use crate::cli::{Paths, RunOnceArgs};
use crate::definition::load::Catalog;
use crate::definition::model::Status;
use crate::exit;
use crate::pass::{self, PollOutcome};
use crate::store::Store;
use crate::store::lock::PassLock;

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
    let catalog = Catalog::load(&paths.dir(), &paths.tenant())?;
    for d in &catalog.diagnostics {
        eprintln!("{d}");
    }
    if !catalog.tenant_ok {
        eprintln!("error: the tenant is invalid: nothing runs");
        return Ok(ExitCode::from(exit::FAILURE));
    }
    // `--only`, by id or name, resolved once to an id.
    let only = match &args.only {
        None => None,
        Some(key) => {
            let entry = catalog
                .find(key)
                .ok_or_else(|| crate::commands::unknown_followup(&catalog, key))?;
            match &entry.followup {
                None => {
                    eprintln!("error: {} is invalid: nothing runs", entry.file.display());
                    return Ok(ExitCode::from(exit::FAILURE));
                }
                Some(f) if f.status == Status::Inactive => {
                    eprintln!("warning: follow-up `{}` is inactive: nothing runs", f.id);
                }
                Some(_) => {}
            }
            Some(entry.id())
        }
    };
    let invalid: Vec<String> = catalog
        .entries
        .iter()
        .filter(|e| e.followup.is_none() && only.as_ref().is_none_or(|o| &e.id() == o))
        .map(|e| e.id())
        .collect();
    for id in &invalid {
        eprintln!("warning: follow-up `{id}` is invalid and was skipped");
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
            eprintln!(
                "forgot what is older than {}: {events} events, {attempts} closed attempts, {records} resolved records",
                crate::clock::format_seconds(before)
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
    let report = pass::run(&catalog, &store, &options)?;
    if !args.dry_run {
        store.checkpoint()?;
        if let Some(path) = &args.metrics_file {
            let now = options.now.as_second();
            crate::metrics::write(path, &catalog, &store, &report, now, started.elapsed())?;
        }
    }
    summarize(&report, args.dry_run);
    let ok = report.ok() && invalid.is_empty();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILURE)
    })
}

/// One line per follow-up on stderr.
fn summarize(report: &pass::Report, dry_run: bool) {
    for f in &report.followups {
        let poll = match &f.poll {
            PollOutcome::NotDue => "poll not due".to_owned(),
            PollOutcome::Succeeded { records } => format!(
                "polled {records} records ({} opened, {} resolved)",
                f.opened, f.resolved
            ),
            PollOutcome::Failed(why) => format!("poll failed: {why}"),
            PollOutcome::Skipped(why) => format!("skipped: {why}"),
        };
        let mut line = format!("{}: {poll}", f.id);
        if f.attempts + f.delivered + f.failed + f.pending + f.exhausted > 0 {
            // A dry run sends nothing: it says what it would.
            let delivered = match dry_run {
                true => "would send",
                false => "delivered",
            };
            line.push_str(&format!(
                "; {} attempts started, {} {delivered}, {} failed, {} pending, {} exhausted",
                f.attempts, f.delivered, f.failed, f.pending, f.exhausted
            ));
        }
        if let Some(why) = &f.first_failure {
            line.push_str(&format!(" (first failure: {why})"));
        }
        eprintln!("{line}");
    }
    if !report.unfinished.is_empty() {
        eprintln!(
            "--max-duration reached: {} left for the next pass",
            report.unfinished.join(", ")
        );
    }
}
