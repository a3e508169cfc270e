//! `followup reset ID [--baseline]`: forget a follow-up's state.

use std::process::ExitCode;

use crate::cli::{Paths, ResetArgs};
use crate::definition::load::Catalog;
use crate::exit;
use crate::store::Store;
use crate::store::lock::PassLock;

pub fn run(paths: &Paths, args: &ResetArgs) -> anyhow::Result<ExitCode> {
    let db = paths.db();
    // Checked before anything is created: a mistyped id leaves no file.
    let known_in_dir = Catalog::load(&paths.dir(), &paths.tenant())
        .map(|c| c.entries.iter().any(|e| e.id() == args.id))
        .unwrap_or(false);
    let known_in_store = match Store::open_read_only(&db)? {
        Some(store) => store.followup_states()?.iter().any(|s| s.id == args.id),
        None => false,
    };
    if !known_in_store && !known_in_dir {
        return Err(exit::usage(format!(
            "no follow-up `{}` in {} nor in the database",
            args.id,
            paths.dir().display()
        )));
    }
    // A reset writes state: never while a pass runs.
    let _lock = PassLock::acquire(&db)?;
    let store = Store::open(&db)?;
    store.atomically(|s| s.reset(&args.id, args.baseline))?;
    store.checkpoint()?;
    crate::log::info(
        None,
        &format!(
            "forgot the state of `{}`{}",
            args.id,
            if args.baseline {
                "; its next poll only remembers what it finds"
            } else {
                ""
            }
        ),
    );
    Ok(ExitCode::SUCCESS)
}
