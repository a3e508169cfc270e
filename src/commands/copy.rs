//! `followup copy SOURCE --name NAME [--id ID] [--stdout]`: the source's
//! text with only `id` and `name` changed, so that comments, layout, status
//! and every other setting survive. State in the database is not copied: the
//! copy starts with no records, as any new follow-up does.

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{CopyArgs, Paths};
use crate::commands::publish::{New, publish};
use crate::commands::unknown_followup;
use crate::definition::load::{Catalog, read_text};
use crate::definition::rename::rename;
use crate::definition::rules::{RESERVED_ID, is_id, reserved_id_message};
use crate::exit;
use crate::naming::slug;

pub fn run(paths: &Paths, args: &CopyArgs) -> anyhow::Result<ExitCode> {
    let tenant_file = paths.tenant();
    let catalog = Catalog::load(&paths.dir(), &tenant_file)?;
    let source = catalog
        .find(&args.source)
        .ok_or_else(|| unknown_followup(&catalog, &args.source))?;
    let Some(name) = &args.name else {
        let example = source
            .raw
            .as_ref()
            .map_or_else(|| "NAME".to_owned(), |r| format!("\"{} (copy)\"", r.name));
        return Err(exit::usage(format!(
            "copy needs --name: the name is never copied, since names are unique (e.g. --name {example})"
        )));
    };
    if name.trim().is_empty() {
        return Err(exit::usage("--name must not be empty"));
    }
    let id = match &args.id {
        Some(id) if is_id(id) => id.clone(),
        Some(id) => {
            return Err(exit::usage(format!(
                "--id `{id}` must match [a-z0-9][a-z0-9-]* (lowercase letters, digits, dashes)"
            )));
        }
        None => match slug(name) {
            s if s.is_empty() => {
                return Err(exit::usage(format!(
                    "the name \"{name}\" gives no id (it holds no letter or digit); give --id"
                )));
            }
            s => s,
        },
    };
    if id == RESERVED_ID {
        return Err(exit::usage(format!(
            "{} (give --id)",
            reserved_id_message()
        )));
    }
    let text = read_text(&source.file).map_err(|(mark, message)| {
        anyhow::anyhow!(
            "{}:{}:{}: {message}",
            source.file.display(),
            mark.line,
            mark.column
        )
    })?;
    let copied = match rename(&text, &id, name) {
        Ok(copied) => copied,
        Err(e) => bail!(
            "{}:{}:{}: cannot copy: {}",
            source.file.display(),
            e.mark.line,
            e.mark.column,
            e.message
        ),
    };
    let new = New {
        id: &id,
        name,
        text: &copied,
    };
    let target = publish(&catalog, &tenant_file, &new, args.stdout)?;
    if !args.stdout {
        crate::log::info(
            None,
            &format!(
                "copied {} to {} (`{id}`, \"{name}\"); its state in the database is not copied",
                source.file.display(),
                target.display()
            ),
        );
    }
    Ok(ExitCode::SUCCESS)
}
