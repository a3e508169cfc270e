//! `followup list [--search TEXT] [--status S] [--format table|json]`

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{ListArgs, Paths, StatusFilter};
use crate::commands::table::{self, Table};
use crate::definition::load::Catalog;
use crate::definition::model::Status;

#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    status: &'static str,
    polling: String,
    channel: String,
    valid: bool,
    file: String,
}

pub fn run(paths: &Paths, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&paths.dir(), &paths.tenant())?;
    let search = args.search.as_deref().map(str::to_lowercase);
    let mut rows = Vec::new();
    for entry in &catalog.entries {
        let Some(raw) = &entry.raw else {
            crate::log::warn(
                None,
                &format!(
                    "{} does not parse; run `followup validate`",
                    entry.file.display()
                ),
            );
            continue;
        };
        if let Some(needle) = &search
            && !raw.id.to_lowercase().contains(needle)
            && !raw.name.to_lowercase().contains(needle)
        {
            continue;
        }
        let wanted = match args.status {
            None => true,
            Some(StatusFilter::Active) => raw.status == Status::Active,
            Some(StatusFilter::Inactive) => raw.status == Status::Inactive,
        };
        if wanted {
            rows.push(Row {
                id: raw.id.clone(),
                name: raw.name.clone(),
                status: raw.status.as_str(),
                polling: raw.polling.every.clone(),
                channel: raw.message.channel.clone(),
                valid: entry.followup.is_some(),
                file: entry.file.display().to_string(),
            });
        }
    }
    table::print(args.format, &rows, || {
        let mut table = Table::new(["ID", "NAME", "STATUS", "POLLING", "CHANNEL"]);
        for r in &rows {
            let status = if r.valid {
                r.status.to_owned()
            } else {
                format!("{} (invalid)", r.status)
            };
            table.row([
                r.id.clone(),
                r.name.clone(),
                status,
                r.polling.clone(),
                r.channel.clone(),
            ]);
        }
        table
    })?;
    Ok(ExitCode::SUCCESS)
}
