//! `followup create --name NAME [--template T] [flags] [--stdout]`

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{CreateArgs, Paths, StatusFilter};
use crate::commands::publish::{self, New, publish, require_tenant};
use crate::definition::followup::Followup;
use crate::definition::load::Catalog;
use crate::definition::model::{FirstPoll, Status};
use crate::draft::wizard::{self, Context, Outcome};
use crate::draft::{self, Answers, Draft, PostAction, Source, WindowSpec};
use crate::exit;
use crate::integration::{self, Http};
use crate::template::Scopes;

/// How long the wizard waits for the source it reads for suggestions.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(paths: &Paths, args: &CreateArgs) -> anyhow::Result<ExitCode> {
    let tenant_file = paths.tenant();
    let catalog = Catalog::load(&paths.dir(), &tenant_file)?;
    require_tenant(&catalog, &tenant_file)?;
    let given = answers(args)?;

    // A channel given as a flag is checked before anything is asked.
    let channels: Vec<String> = catalog.tenant.channels.keys().cloned().collect();
    for channel in [&given.channel, &given.fallback_channel]
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
                },
            )));
        }
    }

    let draft = if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        let id = given.id.clone();
        let name_taken = |name: &str| name_taken(&catalog, name, id.as_deref());
        let check = |draft: &Draft| draft.check(&catalog, &tenant_file);
        let read = |followup: &Followup| read(&catalog, followup);
        let ctx = Context {
            tenant: &catalog.tenant,
            dir: paths.dir().display().to_string(),
            name_taken: &name_taken,
            check: &check,
            read: &read,
        };
        match wizard::run(
            given,
            args.template,
            &ctx,
            &mut std::io::stdin().lock(),
            &mut std::io::stderr(),
        )? {
            Outcome::Write(draft) => *draft,
            Outcome::Declined => {
                eprintln!("nothing written");
                return Ok(ExitCode::SUCCESS);
            }
        }
    } else {
        given
            .with_template(args.template)
            .into_draft(args.template)?
    };
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

/// Why the wizard cannot take a name: another follow-up has it (any case),
/// or the file of the id it gives exists.
fn name_taken(catalog: &Catalog, name: &str, id: Option<&str>) -> Option<String> {
    if let Some(other) = catalog.entries.iter().find(|e| {
        e.raw
            .as_ref()
            .is_some_and(|r| r.name.to_lowercase() == name.to_lowercase())
    }) {
        return Some(format!(
            "the name \"{name}\" is used by `{}` ({}); names are unique, whatever their case",
            other.id(),
            other.file.display()
        ));
    }
    let id = id.map_or_else(|| crate::naming::slug(name), str::to_owned);
    let file = publish::target(catalog, &id);
    (file.symlink_metadata().is_ok() || catalog.entries.iter().any(|e| e.id() == id)).then(|| {
        format!(
            "the id `{id}` (from the name) is taken by {}; choose another name",
            file.display()
        )
    })
}

/// The first page of the follow-up's source, read once as a pass would
/// (the tenant's attributes and the environment's secrets inserted).
fn read(catalog: &Catalog, followup: &Followup) -> Result<Value, String> {
    let integration = followup
        .extraction
        .integrations
        .last()
        .ok_or("no integration")?;
    let followup_scope = json!({ "id": followup.id, "name": followup.name });
    let globals = Value::Object(catalog.tenant.attributes.clone());
    let local = json!({});
    let scopes = Scopes {
        followup: Some(&followup_scope),
        local: Some(&local),
        global: Some(&globals),
        env: true,
        ..Scopes::default()
    };
    let mut http = Http::new(Some(Instant::now() + READ_TIMEOUT));
    integration::fetch_source(&mut http, &integration.id, &integration.source, &scopes)
        .map_err(|e| e.to_string())
}

fn answers(args: &CreateArgs) -> anyhow::Result<Answers> {
    let actions = |flag: &str, list: &[String]| -> anyhow::Result<Option<Vec<PostAction>>> {
        if list.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for text in list {
            match PostAction::parse(text) {
                Ok(action) => out.extend(action),
                Err(why) => return Err(exit::usage(format!("{flag}: {why}"))),
            }
        }
        Ok(Some(out))
    };
    Ok(Answers {
        name: args.name.clone(),
        id: args.id.clone(),
        status: args.status.map(|s| match s {
            StatusFilter::Active => Status::Active,
            StatusFilter::Inactive => Status::Inactive,
        }),
        description: args.description.clone(),
        poll_every: args.poll_every.clone(),
        first_poll: args.first_poll.as_deref().map(|f| match f {
            "record_only" => FirstPoll::RecordOnly,
            _ => FirstPoll::Notify,
        }),
        source: match (&args.url, &args.file) {
            (Some(url), _) => Some(Source::Url(url.clone())),
            (None, Some(file)) => Some(Source::File(file.clone())),
            (None, None) => None,
        },
        auth: args.auth,
        loop_: args.loop_.clone(),
        reconciliation_id: args.reconciliation_id.clone(),
        user: args.user.clone(),
        group: args.group.clone(),
        channel: args.channel.clone(),
        fallback_channel: args.fallback_channel.clone(),
        text: args.text.clone(),
        notify_every: args.notify_every.clone(),
        attempts: args.attempts,
        window: args
            .window
            .as_deref()
            .map(WindowSpec::parse)
            .transpose()
            .map_err(|why| exit::usage(format!("--window: {why}")))?,
        after_each_attempt: actions("--after-each-attempt", &args.after_each_attempt)?,
        after_all_attempts: actions("--after-all-attempts", &args.after_all_attempts)?,
        on_resolved: actions("--on-resolved", &args.on_resolved)?,
    })
}
