//! `followup create --name NAME [--template T] [flags] [--stdout]`

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::{CreateArgs, Paths, StatusFilter};
use crate::commands::publish::{New, publish, require_tenant};
use crate::definition::load::Catalog;
use crate::definition::model::Status;
use crate::draft::wizard::{self, Context};
use crate::draft::{self, Answers, Source};
use crate::exit;

pub fn run(paths: &Paths, args: &CreateArgs) -> anyhow::Result<ExitCode> {
    let tenant_file = paths.tenant();
    let catalog = Catalog::load(&paths.dir(), &tenant_file)?;
    require_tenant(&catalog, &tenant_file)?;
    let mut answers = answers(args).with_template(args.template);

    // A channel given as a flag is checked before anything is asked.
    let channels: Vec<String> = catalog.tenant.channels.keys().cloned().collect();
    for channel in [&answers.channel, &answers.fallback_channel]
        .into_iter()
        .flatten()
    {
        if channel != "last_used" && !channels.contains(channel) {
            return Err(exit::usage(format!(
                "channel `{channel}` is not defined in {} (defined: {}); nothing written",
                tenant_file.display(),
                if channels.is_empty() {
                    "none".to_owned()
                } else {
                    channels.join(", ")
                }
            )));
        }
    }

    if !answers.missing().is_empty()
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
    {
        let name_taken = |name: &str| {
            catalog.entries.iter().any(|e| {
                e.raw
                    .as_ref()
                    .is_some_and(|r| r.name.to_lowercase() == name.to_lowercase())
            })
        };
        let ctx = Context {
            channels,
            name_taken: &name_taken,
        };
        wizard::ask_missing(
            &mut answers,
            &ctx,
            &mut std::io::stdin().lock(),
            &mut std::io::stderr(),
        )?;
    }
    let draft = answers.into_draft(args.template)?;
    let text = draft::render(&draft);
    let new = New {
        id: &draft.id,
        name: &draft.name,
        text: &text,
    };
    let target = publish(&catalog, &tenant_file, &new, args.stdout)?;
    if !args.stdout {
        crate::log::info(
            None,
            &format!(
                "created {} (`{}`, \"{}\", {})",
                target.display(),
                draft.id,
                draft.name,
                draft.status.as_str()
            ),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn answers(args: &CreateArgs) -> Answers {
    Answers {
        name: args.name.clone(),
        id: args.id.clone(),
        status: args.status.map(|s| match s {
            StatusFilter::Active => Status::Active,
            StatusFilter::Inactive => Status::Inactive,
        }),
        description: args.description.clone(),
        poll_every: args.poll_every.clone(),
        first_poll: None,
        source: match (&args.url, &args.file) {
            (Some(url), _) => Some(Source::Url(url.clone())),
            (None, Some(file)) => Some(Source::File(file.clone())),
            (None, None) => None,
        },
        loop_: args.loop_.clone(),
        reconciliation_id: args.reconciliation_id.clone(),
        user: args.user.clone(),
        group: args.group.clone(),
        channel: args.channel.clone(),
        fallback_channel: args.fallback_channel.clone(),
        text: args.text.clone(),
        notify_every: args.notify_every.clone(),
        attempts: args.attempts,
    }
}
