//! The `command` channel: a program run without a shell, its argv
//! rendered for each delivery (`recipient.*`, `followup.*`, `global.*`,
//! `env.*`), the delivery's JSON line on stdin. Exit 0 is delivered, any
//! other exit permanent (with the start of stderr), a timeout transient;
//! on a timeout its whole process group is killed.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Channel, Job, Outcome};
use crate::integration::command::{describe, kill, program_path};
use crate::integration::error::{Secrets, excerpt};
use crate::template::{Encoding, Scopes, Template};

const POLL: Duration = Duration::from_millis(5);

pub struct Command {
    argv: Vec<Template>,
    timeout: Duration,
    dir: PathBuf,
    globals: Value,
}

impl Command {
    pub fn new(argv: Vec<Template>, timeout: Duration, dir: PathBuf, globals: Value) -> Command {
        // Absolute, since the program path is joined to it and the program
        // also runs in it.
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        Command {
            argv,
            timeout,
            dir,
            globals,
        }
    }

    /// argv for `job`, and the `env.*` values it used (masked in errors).
    fn argv(&self, job: &Job) -> Result<(Vec<String>, Secrets), String> {
        let followup = job.followup_scope();
        let scopes = Scopes {
            followup: Some(&followup),
            recipient: Some(&job.recipient),
            global: Some(&self.globals),
            env: true,
            ..Scopes::default()
        };
        let mut secrets = Secrets::default();
        let argv = self
            .argv
            .iter()
            .map(|t| {
                for insert in t.inserts() {
                    if insert.path.scope == crate::template::Scope::Env
                        && let Some(value) = insert.path.name().and_then(|n| std::env::var(n).ok())
                    {
                        secrets.add(&value);
                    }
                }
                t.render(&scopes, Encoding::Plain)
                    .map_err(|missing| format!("{missing}: nothing was run"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((argv, secrets))
    }
}

impl Channel for Command {
    fn payload(&self, job: &Job) -> Value {
        let argv = self
            .argv(job)
            .map(|(argv, secrets)| argv.iter().map(|a| secrets.mask(a)).collect::<Vec<_>>());
        json!({
            "argv": argv.unwrap_or_default(),
            "stdin": serde_json::to_value(job).expect("a delivery serializes"),
        })
    }

    fn deliver(&self, job: &Job, deadline: Option<Instant>) -> Outcome {
        let (argv, secrets) = match self.argv(job) {
            Ok(argv) => argv,
            Err(detail) => return Outcome::permanent(detail),
        };
        let Some((program, args)) = argv.split_first() else {
            return Outcome::permanent("the command is empty");
        };
        let limit = match deadline {
            Some(d) => self
                .timeout
                .min(d.saturating_duration_since(Instant::now())),
            None => self.timeout,
        };
        let mut command = std::process::Command::new(program_path(program, &self.dir));
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => return Outcome::permanent(format!("cannot run `{program}`: {e}")),
        };
        let mut line = job.line();
        line.push('\n');
        // A program that exits without reading its stdin is its own
        // business: its exit status says what happened.
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(line.as_bytes());
        }
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let reader = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let _ = (&mut stderr).take(16 * 1024).read_to_end(&mut kept);
            // Drain the rest, so that the program never blocks on a full pipe.
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            kept
        });
        let until = Instant::now() + limit;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= until => {
                    kill(&mut child);
                    return Outcome::transient(format!(
                        "`{program}` was killed after {}",
                        humantime::format_duration(limit)
                    ));
                }
                Ok(None) => std::thread::sleep(POLL),
                Err(e) => return Outcome::transient(format!("cannot wait for `{program}`: {e}")),
            }
        };
        if status.success() {
            return Outcome::delivered();
        }
        let stderr = excerpt(&reader.join().unwrap_or_default(), &secrets);
        let mut detail = format!("`{program}` {}", describe(status));
        if !stderr.is_empty() {
            detail.push_str(": ");
            detail.push_str(&stderr);
        }
        Outcome::permanent(secrets.mask(&detail))
    }
}
