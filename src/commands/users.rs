//! `followup users seen USER CHANNEL [--at TIME]` and `followup users list`:
//! the channel each user last chatted on, which `channel: last_used` picks.

use std::collections::HashMap;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{Paths, UsersListArgs, UsersSeenArgs};
use crate::clock::format_seconds;
use crate::commands::table::{self, Table};
use crate::definition::load::Catalog;
use crate::did_you_mean::did_you_mean;
use crate::exit;
use crate::last_used;
use crate::store::{Seen, Store};

pub fn seen(paths: &Paths, args: &UsersSeenArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&paths.dir(), &paths.tenant())?;
    let tenant = &catalog.tenant;
    let Some(user) = tenant.user(&args.user) else {
        return Err(exit::usage(format!(
            "`{}` is not a user of {}{}",
            args.user,
            paths.tenant().display(),
            did_you_mean(&args.user, tenant.users.iter().map(|u| u.id.as_str()))
        )));
    };
    if !tenant.channels.contains_key(&args.channel) {
        return Err(exit::usage(format!(
            "`{}` is not a channel of {}{}",
            args.channel,
            paths.tenant().display(),
            did_you_mean(&args.channel, tenant.channels.keys().map(String::as_str))
        )));
    }
    let at = args.at.unwrap_or_else(|| args.now.get()).as_second();
    let seen = Seen {
        user: user.id.clone(),
        channel: args.channel.clone(),
        at,
    };
    let store = Store::open(&paths.db())?;
    if store.user_seen(&seen)? {
        crate::log::info(
            None,
            &format!(
                "{} last chatted on {} at {}",
                seen.user,
                seen.channel,
                format_seconds(at)
            ),
        );
    } else {
        crate::log::warn(
            None,
            &format!(
                "{} has a later chat recorded than {}: kept",
                seen.user,
                format_seconds(at)
            ),
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Row {
    id: String,
    name: Option<String>,
    /// `{"email": ..., "slack": ...}` in JSON: a reader picks a key.
    #[serde(serialize_with = "as_map")]
    addresses: Vec<(String, String)>,
    last_used: Option<String>,
    /// Where `last_used` comes from: `tenant.yaml` or `users seen` (with its time).
    source: Option<String>,
}

fn as_map<S: serde::Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

pub fn list(paths: &Paths, args: &UsersListArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&paths.dir(), &paths.tenant())?;
    let seen: HashMap<String, Seen> = match Store::open_read_only(&paths.db())? {
        Some(store) => store
            .users_seen()?
            .into_iter()
            .map(|s| (s.user.clone(), s))
            .collect(),
        None => HashMap::new(),
    };
    let written = last_used::tenant_written(&paths.tenant());
    let mut rows = Vec::new();
    for u in &catalog.tenant.users {
        let addresses = [
            ("email", &u.email),
            ("slack", &u.slack),
            ("teams", &u.teams),
            ("google_chat", &u.google_chat),
            ("phone", &u.phone),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), v.clone())))
        .collect();
        let recorded = seen
            .get(&u.id)
            .filter(|s| catalog.tenant.channels.contains_key(&s.channel));
        let (last_used, source) = match recorded {
            Some(s) if last_used::seen_wins(u.last_channel.as_deref(), s, written) => (
                Some(s.channel.clone()),
                Some(format!("users seen at {}", format_seconds(s.at))),
            ),
            _ => (
                u.last_channel.clone(),
                u.last_channel.as_ref().map(|_| "tenant.yaml".to_owned()),
            ),
        };
        rows.push(Row {
            id: u.id.clone(),
            name: u.name.clone(),
            addresses,
            last_used,
            source,
        });
    }
    table::print(args.format, &rows, || {
        let mut t = Table::new(["USER", "NAME", "ADDRESSES", "LAST USED", "FROM"]);
        for r in &rows {
            let addresses: Vec<String> = r
                .addresses
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            t.row([
                r.id.clone(),
                r.name.clone().unwrap_or_default(),
                addresses.join(" "),
                r.last_used.clone().unwrap_or_else(|| "-".into()),
                r.source.clone().unwrap_or_default(),
            ]);
        }
        t
    })?;
    Ok(ExitCode::SUCCESS)
}
