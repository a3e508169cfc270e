//! `followup import FILE.zip|- [--on-conflict fail|skip|replace|rename] [--dry-run]`
//!
//! Everything is checked before anything is written; the report (stderr)
//! lists each follow-up and what happened to it.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::bundle::BOUNDS;
use crate::bundle::import::{self, Action, Step};
use crate::cli::{ImportArgs, Paths};
use crate::commands::publish::print;
use crate::definition::load::Catalog;
use crate::exit;

pub fn run(paths: &Paths, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let dir = paths.dir();
    let tenant_file = paths.tenant();
    let from_stdin = args.bundle == Path::new("-");
    let shown = if from_stdin {
        "stdin".to_owned()
    } else {
        args.bundle.display().to_string()
    };
    if !from_stdin && !args.bundle.exists() {
        return Err(exit::usage(format!("cannot import {shown}: no such file")));
    }
    let bytes =
        read_bundle(&args.bundle, from_stdin).with_context(|| format!("cannot import {shown}"))?;
    let opened = import::open(&bytes).with_context(|| format!("cannot import {shown}"))?;

    let catalog = Catalog::load(&dir, &tenant_file)?;
    let steps = import::plan(&opened, &catalog, args.on_conflict)
        .with_context(|| format!("cannot import {shown}"))?;
    let checked = import::check(&opened, &steps, &dir, &tenant_file)?;
    if !checked.tenant_errors.is_empty() {
        print(checked.tenant_errors.iter());
        bail!(
            "cannot import {shown}: {} has errors; fix them first (nothing written)",
            tenant_file.display()
        );
    }
    print(checked.diagnostics.iter());
    if !checked.ok() {
        let mut message = format!(
            "cannot import {shown}: its follow-ups would not pass `followup validate` in {}; nothing written",
            dir.display()
        );
        if let Some(missing) = &checked.missing {
            message.push_str(&format!(
                "\nadd to {} what they use:\n{}",
                tenant_file.display(),
                missing.trim_end()
            ));
        }
        bail!(message);
    }

    list_commands(&opened, &steps);
    if args.dry_run {
        report(&steps, true);
        crate::log::info(None, "dry run: nothing written");
        return Ok(ExitCode::SUCCESS);
    }
    import::apply(&steps).with_context(|| format!("cannot import {shown} (nothing written)"))?;
    report(&steps, false);
    let written = steps.iter().filter(|s| s.target.is_some()).count();
    crate::log::info(
        None,
        &format!(
            "imported {written} of {} follow-up{} from {shown} (tenant `{}`, exported {})",
            steps.len(),
            if steps.len() == 1 { "" } else { "s" },
            opened.manifest.tenant,
            opened.manifest.exported_at
        ),
    );
    Ok(ExitCode::SUCCESS)
}

/// The whole bundle, refusing one larger than [`BOUNDS`] allows.
fn read_bundle(path: &Path, from_stdin: bool) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let limit = BOUNDS.file + 1;
    if from_stdin {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)?;
    } else {
        File::open(path)?.take(limit).read_to_end(&mut bytes)?;
    }
    // A longer input is refused by the archive's own bound check.
    Ok(bytes)
}

fn report(steps: &[Step], dry_run: bool) {
    for step in steps {
        let verb = match (&step.action, dry_run) {
            (Action::Create, false) => "created",
            (Action::Create, true) => "would create",
            (Action::Replace, false) => "replaced",
            (Action::Replace, true) => "would replace",
            (Action::Skip { .. }, false) => "skipped",
            (Action::Skip { .. }, true) => "would skip",
            (Action::Rename { .. }, false) => "renamed",
            (Action::Rename { .. }, true) => "would rename",
        };
        let what = format!("`{}` (\"{}\")", step.id, step.name);
        let line = match (&step.action, &step.target) {
            (Action::Skip { reason }, _) => format!("{verb} {what}: {reason}"),
            (Action::Rename { id, name }, Some(target)) => {
                format!("{verb} {what} to `{id}` (\"{name}\"): {}", target.display())
            }
            (_, Some(target)) => format!("{verb} {what}: {}", target.display()),
            (_, None) => format!("{verb} {what}"),
        };
        crate::log::info(None, &line);
    }
}

/// Says, before anything is written, every program the follow-ups to be
/// written would run on this host.
fn list_commands(opened: &import::Opened, steps: &[Step]) {
    for incoming in &opened.followups {
        let written = steps
            .iter()
            .any(|s| s.id == incoming.id && s.target.is_some());
        if !written {
            continue;
        }
        for argv in import::commands(incoming) {
            let shown: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
            eprintln!("`{}` runs the command [{}]", incoming.id, shown.join(", "));
        }
    }
}
