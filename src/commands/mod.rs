//! One module per subcommand: each reads its options, calls the core and
//! prints. Nothing here decides how follow-ups behave.

use std::process::ExitCode;

use crate::cli::{Cli, Command, Paths, UsersCommand};
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
        Command::RunOnce(args) => in_store(paths.with(&args.defs).with_db(&args.db), |p| {
            run_once::run(p, &args)
        }),
        Command::History(args) => in_store(paths.with_db(&args.db), |p| history::run(p, &args)),
        Command::Status(args) => in_store(paths.with(&args.defs).with_db(&args.db), |p| {
            status::run(p, &args)
        }),
        Command::Explain(args) => in_store(paths.with(&args.defs).with_db(&args.db), |p| {
            explain::run(p, &args)
        }),
        Command::Reset(args) => in_store(paths.with(&args.defs).with_db(&args.db), |p| {
            reset::run(p, &args)
        }),
        Command::Create(args) => create::run(&paths.with(&args.defs), &args),
        Command::Copy(args) => copy::run(&paths.with(&args.defs), &args),
        Command::Export(args) => export::run(&paths.with(&args.defs), &args),
        Command::Import(args) => import::run(&paths.with(&args.defs), &args),
        Command::Preview(args) => in_store(paths.with(&args.defs).with_db(&args.db), |p| {
            preview::run(p, &args)
        }),
        Command::Users(UsersCommand::Seen(args)) => {
            in_store(paths.with(&args.defs).with_db(&args.db), |p| {
                users::seen(p, &args)
            })
        }
        Command::Users(UsersCommand::List(args)) => {
            in_store(paths.with(&args.defs).with_db(&args.db), |p| {
                users::list(p, &args)
            })
        }
        Command::Completions(args) => generate::completions(args.shell),
        Command::Man => generate::man(),
    }
}

/// Runs a command that reads or writes the state: a failure of the
/// database itself is exit 3, naming it (`store::trouble`).
fn in_store(
    paths: Paths,
    run: impl FnOnce(&Paths) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    run(&paths).map_err(|e| crate::store::trouble(&paths.db(), e))
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
