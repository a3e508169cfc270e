//! `followup export (ID|NAME)... | --all -o FILE.zip|-`

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use jiff::Timestamp;

use crate::atomic;
use crate::bundle::export::{self, Source};
use crate::cli::{ExportArgs, Paths};
use crate::commands::publish::{print, require_tenant};
use crate::commands::unknown_followup;
use crate::definition::load::{self, Catalog, Entry};
use crate::definition::model::TenantFile;
use crate::exit;

pub fn run(paths: &Paths, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let dir = paths.dir();
    let tenant_file = paths.tenant();
    let to_stdout = args.output == Path::new("-");
    if to_stdout && std::io::stdout().is_terminal() {
        return Err(exit::usage(
            "a bundle is a zip file: give -o FILE.zip, or redirect stdout with -o -",
        ));
    }
    let catalog = Catalog::load(&dir, &tenant_file)?;
    require_tenant(&catalog, &tenant_file)?;

    let mut selected: Vec<&Entry> = Vec::new();
    if args.all {
        selected.extend(&catalog.entries);
        if selected.is_empty() {
            bail!("{} holds no follow-up to export", dir.display());
        }
    } else {
        let mut seen = BTreeSet::new();
        for key in &args.ids {
            let entry = catalog
                .find(key)
                .ok_or_else(|| unknown_followup(&catalog, key))?;
            if seen.insert(&entry.file) {
                selected.push(entry);
            }
        }
    }
    let files: BTreeSet<&Path> = selected.iter().map(|e| e.file.as_path()).collect();
    let invalid: Vec<&Entry> = selected
        .iter()
        .copied()
        .filter(|e| {
            e.followup.is_none()
                || catalog
                    .diagnostics
                    .iter()
                    .any(|d| d.is_error() && d.file == e.file)
        })
        .collect();
    if !invalid.is_empty() {
        print(
            catalog
                .diagnostics
                .iter()
                .filter(|d| files.contains(d.file.as_path())),
        );
        let ids: Vec<String> = invalid.iter().map(|e| format!("`{}`", e.id())).collect();
        bail!(
            "cannot export {}: {} not pass `followup validate`; nothing written",
            ids.join(", "),
            if ids.len() == 1 { "it does" } else { "they do" }
        );
    }

    let mut diagnostics = Vec::new();
    let Some((tenant, tenant_node)) = load::read_yaml::<TenantFile>(&tenant_file, &mut diagnostics)
    else {
        print(diagnostics.iter());
        bail!("cannot read {}", tenant_file.display());
    };
    let source = Source {
        tenant_file: &tenant_file,
        tenant: &tenant,
        tenant_node: &tenant_node,
    };
    let bundle = export::build(&source, &selected, export_time(args)?)?;

    if to_stdout {
        std::io::stdout().write_all(&bundle.zip)?;
        std::io::stdout().flush()?;
    } else {
        atomic::write_replace(&args.output, &bundle.zip)?;
    }
    let ids: Vec<&str> = bundle
        .manifest
        .followups
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    crate::log::info(
        None,
        &format!(
            "exported {} follow-up{} ({}) from tenant `{}` to {}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            ids.join(", "),
            bundle.manifest.tenant,
            if to_stdout {
                "stdout".to_owned()
            } else {
                args.output.display().to_string()
            }
        ),
    );
    Ok(ExitCode::SUCCESS)
}

/// `--now` / `FOLLOWUP_NOW`, else `SOURCE_DATE_EPOCH` (reproducible
/// builds' convention: seconds since the epoch), else the clock.
fn export_time(args: &ExportArgs) -> anyhow::Result<Timestamp> {
    if let Some(now) = args.now.now {
        return Ok(now);
    }
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) if !text.trim().is_empty() => {
            let seconds: i64 = text.trim().parse().with_context(|| {
                format!("SOURCE_DATE_EPOCH is `{text}`, not a whole number of seconds")
            })?;
            Timestamp::from_second(seconds)
                .with_context(|| format!("SOURCE_DATE_EPOCH {seconds} is out of range"))
        }
        _ => Ok(Timestamp::now()),
    }
}
