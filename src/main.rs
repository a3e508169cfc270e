//! followup: one poll → reconcile → notify pass at a time.
//!
//! `main` only parses the command line, runs the command and maps the outcome
//! to an exit status; everything else lives in the modules below.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

mod atomic;
mod bundle;
mod channel;
mod cli;
mod clock;
mod commands;
mod definition;
mod diagnostic;
mod did_you_mean;
mod draft;
mod exit;
mod hashing;
mod integration;
mod last_used;
mod log;
mod message;
mod metrics;
mod naming;
mod pass;
mod path;
mod private;
#[cfg(test)]
mod properties;
mod recipients;
mod store;
mod template;
mod units;
mod window;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(exit::USAGE),
            };
        }
    };
    log::init(cli.log.level(), cli.log.log_format);
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) if exit::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::io::stdout().flush();
            log::error(None, &format!("{e:#}"));
            ExitCode::from(exit::status_of(&e))
        }
    }
}
