//! Writing one new definition (`create`, `copy`): it must pass every rule
//! `validate` applies in the directory it lands in, and it never overwrites.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::atomic;
use crate::definition::load::Catalog;
use crate::diagnostic::{self, Diagnostic, Format};

/// A new definition's text and where it goes.
pub struct New<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub text: &'a str,
}

/// The file a new follow-up gets: `<dir>/<id>.yaml`.
pub fn target(catalog: &Catalog, id: &str) -> PathBuf {
    catalog.dir.join(format!("{id}.yaml"))
}

/// Refuses an id or name already used, then checks the text as the file
/// it would be, printing its diagnostics; writes it (or prints it with
/// `to_stdout`) only when no rule is broken.
pub fn publish(
    catalog: &Catalog,
    tenant_file: &Path,
    new: &New,
    to_stdout: bool,
) -> anyhow::Result<PathBuf> {
    let target = target(catalog, new.id);
    require_tenant(catalog, tenant_file)?;
    if !to_stdout {
        let taken = catalog.entries.iter().find(|e| e.id() == new.id);
        let path_taken = ["yaml", "yml"]
            .iter()
            .map(|ext| catalog.dir.join(format!("{}.{ext}", new.id)))
            .find(|p| p.symlink_metadata().is_ok());
        if let Some(file) = taken.map(|e| e.file.clone()).or(path_taken) {
            bail!(
                "the id `{}` is taken by {}; give another --id (nothing written)",
                new.id,
                file.display()
            );
        }
    }
    if let Some(other) = catalog.entries.iter().find(|e| {
        e.file != target
            && e.raw
                .as_ref()
                .is_some_and(|r| r.name.to_lowercase() == new.name.to_lowercase())
    }) {
        bail!(
            "the name \"{}\" is used by `{}` ({}); names are unique, whatever their case (nothing written)",
            new.name,
            other.id(),
            other.file.display()
        );
    }
    let overlay = [(target.clone(), new.text.to_owned())];
    let checked = Catalog::load_overlay(&catalog.dir, tenant_file, &overlay)?;
    let own: Vec<&Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| d.file == target)
        .collect();
    print(own.iter().copied());
    let errors = own.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        bail!(
            "{} would not pass `followup validate` ({errors} error{}); nothing written",
            target.display(),
            if errors == 1 { "" } else { "s" }
        );
    }
    if to_stdout {
        std::io::stdout().write_all(new.text.as_bytes())?;
    } else {
        atomic::write_new(&target, new.text.as_bytes())?;
    }
    Ok(target)
}

/// Refuses to go on with a tenant that breaks its rules, printing them.
pub fn require_tenant(catalog: &Catalog, tenant_file: &Path) -> anyhow::Result<()> {
    if !catalog.tenant_ok {
        print(catalog.diagnostics.iter().filter(|d| d.file == tenant_file));
        bail!(
            "{} has errors; fix them first (nothing written)",
            tenant_file.display()
        );
    }
    Ok(())
}

pub fn print<'d>(diagnostics: impl Iterator<Item = &'d Diagnostic>) {
    let list: Vec<Diagnostic> = diagnostics.cloned().collect();
    eprint!("{}", diagnostic::render(&list, Format::Text));
}
