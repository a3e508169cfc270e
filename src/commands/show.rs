//! `followup show ID`: one definition with every default filled in.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{Paths, ShowArgs, ShowFormat};
use crate::commands::unknown_followup;
use crate::definition::load::Catalog;
use crate::exit;

pub fn run(paths: &Paths, args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&paths.dir(), &paths.tenant())?;
    let entry = catalog
        .find(&args.id)
        .ok_or_else(|| unknown_followup(&catalog, &args.id))?;
    let Some(raw) = &entry.raw else {
        return Err(exit::with_status(
            exit::FAILURE,
            format!(
                "{} does not parse; run `followup validate`",
                entry.file.display()
            ),
        ));
    };
    let text = match args.format {
        ShowFormat::Yaml => crate::definition::yaml::to_string(raw)?,
        ShowFormat::Json => serde_json::to_string_pretty(raw)? + "\n",
    };
    std::io::stdout().write_all(text.as_bytes())?;
    for d in catalog.diagnostics.iter().filter(|d| d.file == entry.file) {
        crate::log::diagnostic(d);
    }
    Ok(ExitCode::SUCCESS)
}
