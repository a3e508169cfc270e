//! A `command` integration: argv run without a shell in the definition's
//! directory, stdin empty, stdout read as JSON.
//!
//! The command runs in a process group of its own, so that on its timeout
//! (or a stdout over the bound) the whole group is killed: nothing it
//! started is left running, and no pipe is held open after it. stderr is
//! drained all along (a full pipe would block the command) and its start is
//! kept for the error.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::document::Document;
use super::error::{Failure, Secrets, excerpt};
use super::http::{DEFAULT_MAX_RESPONSE, Http};
use crate::template::{Encoding, Scopes, Template};

/// The most stdout read, as `max_response` bounds a request.
const MAX_STDOUT: u64 = DEFAULT_MAX_RESPONSE;
/// How much of stderr is kept for the error.
const STDERR_KEPT: usize = 16 * 1024;
/// How often a running command is looked at.
const POLL: Duration = Duration::from_millis(5);

pub(super) fn run(
    http: &Http,
    argv: &[Template],
    timeout: Duration,
    dir: &Path,
    scopes: &Scopes,
) -> Result<Document, Failure> {
    let args = argv
        .iter()
        .map(|t| t.render(scopes, Encoding::Plain))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::Render)?;
    let (program, args) = args
        .split_first()
        .ok_or_else(|| Failure::Spawn("the command is empty".into()))?;
    let budget = http.budget(timeout).ok_or_else(|| {
        Failure::Other("the pass ran out of time (--max-duration) before the command".into())
    })?;

    let mut command = Command::new(program_path(program, dir));
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(|e| Failure::Spawn(e.to_string()))?;

    let overflow = Arc::new(AtomicBool::new(false));
    let stdout = {
        let (mut pipe, overflow) = (
            child.stdout.take().expect("stdout is piped"),
            overflow.clone(),
        );
        thread::spawn(move || {
            let mut out = Vec::new();
            let _ = (&mut pipe).take(MAX_STDOUT + 1).read_to_end(&mut out);
            if out.len() as u64 > MAX_STDOUT {
                overflow.store(true, Ordering::SeqCst);
            }
            out
        })
    };
    let stderr = {
        let mut pipe = child.stderr.take().expect("stderr is piped");
        thread::spawn(move || {
            let mut kept = Vec::new();
            let _ = (&mut pipe).take(STDERR_KEPT as u64).read_to_end(&mut kept);
            // Drain the rest, so that the command never blocks on stderr.
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            kept
        })
    };

    let deadline = Instant::now() + budget.time;
    let status = loop {
        if overflow.load(Ordering::SeqCst) {
            kill(&mut child);
            return Err(Failure::CommandTooLarge { limit: MAX_STDOUT });
        }
        // Reap only once both pipes are closed: until then the process
        // group may still hold them, and must stay killable by its id.
        if stdout.is_finished()
            && stderr.is_finished()
            && let Some(status) = child
                .try_wait()
                .map_err(|e| Failure::Other(e.to_string()))?
        {
            break status;
        }
        if Instant::now() >= deadline {
            kill(&mut child);
            return Err(Failure::CommandTimeout {
                after: budget.time,
                by_deadline: budget.by_deadline,
                stderr: stderr_excerpt(stderr),
            });
        }
        thread::sleep(POLL);
    };
    let out = stdout.join().unwrap_or_default();
    if !status.success() {
        return Err(Failure::Exit {
            status: describe(status),
            stderr: stderr_excerpt(stderr),
        });
    }
    Document::checked(out, &Secrets::default())
}

/// A relative program path (`./scripts/tickets.sh`) is relative to the
/// definition's directory; a bare name is looked up in `PATH`.
pub(crate) fn program_path(program: &str, dir: &Path) -> PathBuf {
    let path = Path::new(program);
    if path.is_relative() && path.components().count() > 1 {
        dir.join(path)
    } else {
        path.to_path_buf()
    }
}

/// Kills the command's whole process group, then reaps the command.
pub(crate) fn kill(child: &mut Child) {
    #[cfg(unix)]
    {
        // std has no killpg and this crate forbids `unsafe`: the `kill`
        // utility does it. The group's id is the command's pid, still ours
        // since the command is not reaped yet.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn stderr_excerpt(stderr: JoinHandle<Vec<u8>>) -> String {
    // After a kill the pipe closes at once; if something outside the group
    // still holds it, give up on the excerpt rather than wait.
    let until = Instant::now() + Duration::from_millis(500);
    while !stderr.is_finished() && Instant::now() < until {
        thread::sleep(POLL);
    }
    if !stderr.is_finished() {
        return String::new();
    }
    excerpt(&stderr.join().unwrap_or_default(), &Secrets::default())
}

pub(crate) fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn argv(args: &[&str]) -> Vec<Template> {
        args.iter().map(|a| Template::parse(a).unwrap()).collect()
    }

    fn sh(script: &str, timeout: Duration, dir: &Path) -> Result<Value, Failure> {
        run(
            &Http::new(None),
            &argv(&["sh", "-c", script]),
            timeout,
            dir,
            &Scopes::default(),
        )
        .and_then(Document::into_json)
    }

    #[test]
    fn stdout_is_json_and_args_are_rendered_without_a_shell() {
        let dir = tempfile::tempdir().unwrap();
        let local = json!({"label": "needs approval; rm -rf /"});
        let scopes = Scopes {
            local: Some(&local),
            ..Scopes::default()
        };
        // printf gets the label as one argument: no shell sees it.
        let out = run(
            &Http::new(None),
            &argv(&["printf", r#"{"label": "%s"}"#, "@{local.label}"]),
            Duration::from_secs(5),
            dir.path(),
            &scopes,
        )
        .unwrap();
        assert_eq!(
            out.into_json().unwrap(),
            json!({"label": "needs approval; rm -rf /"})
        );
    }

    #[test]
    fn runs_in_the_definition_directory_with_stdin_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("scripts")).unwrap();
        std::fs::write(dir.path().join("data.json"), r#"{"n": 1}"#).unwrap();
        std::fs::write(
            dir.path().join("scripts/show.sh"),
            "#!/bin/sh\ncat - data.json\n",
        )
        .unwrap();
        let out = run(
            &Http::new(None),
            &argv(&["sh", "./scripts/show.sh"]),
            Duration::from_secs(5),
            dir.path(),
            &Scopes::default(),
        )
        .unwrap();
        assert_eq!(out.into_json().unwrap(), json!({"n": 1}));
    }

    #[test]
    fn a_non_zero_exit_fails_with_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let err = sh(
            "echo '{}'; echo 'gh: not logged in' >&2; exit 4",
            Duration::from_secs(5),
            dir.path(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "exited with status 4: gh: not logged in");
    }

    #[test]
    fn bad_json_on_stdout_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let err = sh("printf '[1,\\n2,,]'", Duration::from_secs(5), dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid JSON at byte 6 (line 2, column 3): expected value; it starts: [1, 2,,]"
        );
    }

    #[test]
    fn a_missing_program_cannot_run() {
        let dir = tempfile::tempdir().unwrap();
        let err = run(
            &Http::new(None),
            &argv(&["./no-such-program"]),
            Duration::from_secs(5),
            dir.path(),
            &Scopes::default(),
        )
        .unwrap_err();
        assert!(matches!(err, Failure::Spawn(_)), "{err:?}");
    }

    #[test]
    fn the_timeout_kills_the_command_and_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        // A grandchild that would outlive a plain kill, holding stdout open.
        let script = format!(
            "sleep 30 & echo $! > {}; echo started >&2; wait",
            pid_file.display()
        );
        let started = Instant::now();
        let err = sh(&script, Duration::from_millis(300), dir.path()).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            err.to_string(),
            "killed after its timeout of 300ms: started"
        );
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        assert!(gone(pid.trim()), "the grandchild {pid} is still running");
    }

    /// Whether a process is gone; a zombie (killed, not yet reaped by
    /// init) counts as gone. SIGKILL lands at once, but not synchronously.
    fn gone(pid: &str) -> bool {
        let stat = Path::new("/proc").join(pid).join("stat");
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            let state = std::fs::read_to_string(&stat)
                .ok()
                .and_then(|s| s.rsplit_once(") ")?.1.chars().next());
            if matches!(state, None | Some('Z' | 'X')) {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            thread::sleep(POLL);
        }
    }

    #[test]
    fn stdout_over_the_bound_kills_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = sh("yes '[1,2,3]'", Duration::from_secs(20), dir.path()).unwrap_err();
        assert!(matches!(err, Failure::CommandTooLarge { .. }), "{err:?}");
    }
}
