//! One module per subcommand: each reads its options, calls the core and
//! prints. Nothing here decides how follow-ups behave.

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::definition::load::Catalog;
use crate::exit;

mod copy;
mod create;
mod explain;
mod export;
mod history;
mod import;
mod list;
mod publish;
mod reset;
mod run_once;
mod schema;
mod show;
mod status;
mod table;
mod validate;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let paths = cli.paths;
    let db = paths.db();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&paths.with(&args.tenant), &args),
        Command::List(args) => list::run(&paths.with(&args.tenant), &args),
        Command::Show(args) => show::run(&paths.with(&args.tenant), &args),
        Command::Schema(args) => schema::run(&args),
        Command::RunOnce(args) => run_once::run(&paths.with(&args.tenant), &args),
        Command::History(args) => history::run(&paths, &args),
        Command::Status(args) => status::run(&paths.with(&args.tenant), &args),
        Command::Explain(args) => explain::run(&paths.with(&args.tenant), &args),
        Command::Reset(args) => reset::run(&paths, &args),
        Command::Create(args) => create::run(&paths.with(&args.tenant), &args),
        Command::Copy(args) => copy::run(&paths.with(&args.tenant), &args),
        Command::Export(args) => export::run(&paths.with(&args.tenant), &args),
        Command::Import(args) => import::run(&paths.with(&args.tenant), &args),
    };
    result.map_err(|e| crate::store::trouble(&db, e))
}

/// The error for an id or name that matches no follow-up.
pub fn unknown_followup(catalog: &Catalog, key: &str) -> anyhow::Error {
    let ids: Vec<String> = catalog.entries.iter().map(|e| e.id()).collect();
    exit::usage(format!(
        "no follow-up has the id or name `{key}` in {}{}",
        catalog.dir.display(),
        crate::definition::yaml::did_you_mean(key, ids.iter().map(String::as_str))
    ))
}
