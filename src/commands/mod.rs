//! One module per subcommand: each reads its options, calls the core and
//! prints. Nothing here decides how follow-ups behave.

use std::process::ExitCode;

use crate::cli::{Cli, Command, UsersCommand};
use crate::definition::load::Catalog;
use crate::exit;

mod copy;
mod create;
mod explain;
mod export;
mod generate;
mod history;
mod import;
mod list;
mod preview;
mod publish;
mod reset;
mod run_once;
mod schema;
mod show;
mod status;
mod table;
mod users;
mod validate;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let paths = cli.paths;
    match cli.command {
        Command::Validate(args) => validate::run(&paths.with(&args.defs), &args),
        Command::List(args) => list::run(&paths.with(&args.defs), &args),
        Command::Show(args) => show::run(&paths.with(&args.defs), &args),
        Command::Schema(args) => schema::run(&args),
        Command::RunOnce(args) => run_once::run(&paths.with(&args.defs).with_db(&args.db), &args),
        Command::History(args) => history::run(&paths.with_db(&args.db), &args),
        Command::Status(args) => status::run(&paths.with(&args.defs).with_db(&args.db), &args),
        Command::Explain(args) => explain::run(&paths.with(&args.defs).with_db(&args.db), &args),
        Command::Reset(args) => reset::run(&paths.with(&args.defs).with_db(&args.db), &args),
        Command::Create(args) => create::run(&paths.with(&args.defs), &args),
        Command::Copy(args) => copy::run(&paths.with(&args.defs), &args),
        Command::Export(args) => export::run(&paths.with(&args.defs), &args),
        Command::Import(args) => import::run(&paths.with(&args.defs), &args),
        Command::Preview(args) => preview::run(&paths.with(&args.defs).with_db(&args.db), &args),
        Command::Users(UsersCommand::Seen(args)) => {
            users::seen(&paths.with(&args.defs).with_db(&args.db), &args)
        }
        Command::Users(UsersCommand::List(args)) => {
            users::list(&paths.with(&args.defs).with_db(&args.db), &args)
        }
        Command::Completions(args) => generate::completions(args.shell),
        Command::Man => generate::man(),
    }
}

/// The error for an id or name that matches no follow-up.
pub fn unknown_followup(catalog: &Catalog, key: &str) -> anyhow::Error {
    let ids: Vec<String> = catalog.entries.iter().map(|e| e.id()).collect();
    exit::usage(format!(
        "no follow-up has the id or name `{key}` in {}{}",
        catalog.dir.display(),
        crate::did_you_mean::did_you_mean(key, ids.iter().map(String::as_str))
    ))
}
