//! `followup completions SHELL` and `followup man`: generated from the one
//! clap definition, so they never drift from `--help`.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, Shell};

pub fn completions(shell: Shell) -> anyhow::Result<ExitCode> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "followup", &mut out);
    std::io::stdout().lock().write_all(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// One page for the program, its commands included: clap_mangen's
/// SUBCOMMANDS section names a page per command (`followup-validate(1)`)
/// that nothing installs, so the commands get a section of this page
/// instead, each with its usage, description and options.
pub fn man() -> anyhow::Result<ExitCode> {
    let mut cli = Cli::command();
    cli.build();
    let man = clap_mangen::Man::new(cli.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    out.extend_from_slice(b".SH COMMANDS\n");
    for command in cli.get_subcommands_mut() {
        commands_section(&mut out, command);
    }
    man.render_version_section(&mut out)?;
    std::io::stdout().lock().write_all(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `command` (and its own commands, as `users seen`) as a subsection.
fn commands_section(out: &mut Vec<u8>, command: &mut clap::Command) {
    if command.is_hide_set() || command.get_name() == "help" {
        return;
    }
    let usage = command.render_usage().to_string();
    let usage = usage.trim_start_matches("Usage:").trim();
    let mut page = format!(
        ".SS \"{}\"\n",
        roff(usage.split(" [").next().unwrap_or(usage))
    );
    page.push_str(&format!(".B {}\n", roff(usage)));
    let about = command
        .get_long_about()
        .or(command.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default();
    for paragraph in about.split("\n\n") {
        page.push_str(&format!(".PP\n{}\n", roff(paragraph)));
    }
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_hide_set() || arg.is_global_set() || id == "help" || id == "version" {
            continue;
        }
        let mut flags = Vec::new();
        if let Some(short) = arg.get_short() {
            flags.push(format!("\\fB\\-{short}\\fR"));
        }
        if let Some(long) = arg.get_long() {
            flags.push(format!("\\fB{}\\fR", roff(&format!("--{long}"))));
        }
        let value = arg
            .get_value_names()
            .map(|names| {
                names
                    .iter()
                    .map(|n| format!("<{n}>"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|_| arg.get_action().takes_values())
            .unwrap_or_default();
        let head = match (flags.is_empty(), value.is_empty()) {
            (true, true) => format!("\\fI<{}>\\fR", roff(&id.to_uppercase())),
            (true, false) => format!("\\fI{}\\fR", roff(&value)),
            (false, true) => flags.join(", "),
            (false, false) => format!("{} \\fI{}\\fR", flags.join(", "), roff(&value)),
        };
        let mut help = arg
            .get_help()
            .or(arg.get_long_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_owned())
            .collect();
        if !values.is_empty() {
            help.push_str(&format!(" [possible values: {}]", values.join(", ")));
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        let takes_values = arg.get_action().takes_values();
        if takes_values && !defaults.is_empty() && !help.contains("[default:") {
            help.push_str(&format!(" [default: {}]", defaults.join(", ")));
        }
        if let Some(env) = arg.get_env().filter(|_| !help.contains("[env:")) {
            help.push_str(&format!(" [env: {}]", env.to_string_lossy()));
        }
        page.push_str(&format!(".TP\n{head}\n{}\n", roff(&help)));
    }
    out.extend_from_slice(page.as_bytes());
    for sub in command.get_subcommands_mut() {
        commands_section(out, sub);
    }
}

/// Text as roff: backslashes and hyphens escaped, no line read as a request.
fn roff(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('-', "\\-")
        .lines()
        .map(|l| match l.starts_with(['.', '\'']) {
            true => format!("\\&{l}"),
            false => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
