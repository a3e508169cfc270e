//! Test support: a builder that runs `followup` in a fresh temp dir
//! (`Test`), and a local HTTP server (`server`).
//!
//! Every run starts from nothing the developer's machine holds: a new temp
//! dir as the working directory, an environment cleared but for `PATH` (so
//! no `FOLLOWUP_*` leaks in), the binary cargo built for this test run.

// Each test module uses a different part of this file.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub mod faults;
pub mod pass;
pub mod pty;
pub mod server;
pub mod smtp;
pub mod tls;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_followup");

/// A run that takes longer than this is killed (`status` is then `None`), so
/// that a hang fails its test with the output so far instead of stalling
/// the suite.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// One scenario: a temp dir with `followups/` in it, deleted on drop.
pub struct Test {
    dir: TempDir,
}

impl Default for Test {
    fn default() -> Self {
        Test::new()
    }
}

impl Test {
    pub fn new() -> Test {
        let dir = tempfile::Builder::new()
            .prefix("followup-test-")
            .tempdir()
            .expect("create a temp dir");
        fs::create_dir(dir.path().join("followups")).expect("create followups/");
        Test { dir }
    }

    /// The temp dir: the working directory of every run.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the temp dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a text file, creating its parent directories.
    pub fn write(&self, rel: &str, text: &str) -> &Test {
        self.write_bytes(rel, text.as_bytes())
    }

    /// Writes a file of any bytes, creating its parent directories.
    pub fn write_bytes(&self, rel: &str, bytes: &[u8]) -> &Test {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self
    }

    /// Reads a text file of the temp dir.
    pub fn read(&self, rel: &str) -> String {
        let path = self.path(rel);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Reads a file of the temp dir as bytes (a zip, a database).
    pub fn read_bytes(&self, rel: &str) -> Vec<u8> {
        let path = self.path(rel);
        fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Every file and directory under `rel`, hidden ones included, keyed by
    /// its path relative to the temp dir; a file maps to its bytes, a
    /// directory to `None`. Two snapshots compare equal only when nothing
    /// under `rel` was added, removed or changed: the check that a refused
    /// command wrote nothing.
    pub fn snapshot(&self, rel: &str) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
        fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
            let entries =
                fs::read_dir(dir).unwrap_or_else(|e| panic!("list {}: {e}", dir.display()));
            for entry in entries {
                let path = entry.expect("read a directory entry").path();
                let key = path
                    .strip_prefix(base)
                    .expect("under the temp dir")
                    .to_path_buf();
                // `is_dir` follows links: a linked directory is walked and a
                // linked file read, so a change through a link shows too.
                if path.is_dir() {
                    out.insert(key, None);
                    walk(&path, base, out);
                } else {
                    let bytes =
                        fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                    out.insert(key, Some(bytes));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.path(rel), self.dir(), &mut out);
        out
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// Runs `followup ARGS...` in the temp dir.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).run()
    }

    /// A run to configure before starting it (time, environment, stdin).
    pub fn cmd(&self, args: &[&str]) -> Cmd<'_> {
        Cmd {
            test: self,
            args: args.iter().map(OsString::from).collect(),
            env: Vec::new(),
            stdin: None,
            cwd: None,
            timeout: DEFAULT_TIMEOUT,
            shell: None,
        }
    }
}

/// A run of `followup` being set up; [`Cmd::run`] starts it and waits.
pub struct Cmd<'t> {
    test: &'t Test,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    cwd: Option<PathBuf>,
    timeout: Duration,
    shell: Option<String>,
}

impl Cmd<'_> {
    /// Runs `followup` through `sh -c "PREFIX; exec followup ARGS..."`, so
    /// that a test sets what a process inherits and std cannot set without
    /// `unsafe` (`umask 000`, `ulimit -f 64`).
    pub fn shell_prefix(mut self, prefix: &str) -> Self {
        self.shell = Some(prefix.to_owned());
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The clock of the run (`FOLLOWUP_NOW`), RFC 3339.
    pub fn now(self, rfc3339: &str) -> Self {
        self.env("FOLLOWUP_NOW", rfc3339)
    }

    /// One environment variable on top of the cleared environment.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// What the process reads on stdin (nothing, when not given).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Runs in a directory of the temp dir instead of its top.
    pub fn current_dir(mut self, rel: &str) -> Self {
        self.cwd = Some(self.test.path(rel));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn command(&self) -> Command {
        let mut command = match &self.shell {
            Some(prefix) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("{prefix}\nexec \"$0\" \"$@\""))
                    .arg(BIN);
                sh
            }
            None => Command::new(BIN),
        };
        command
            .args(&self.args)
            .current_dir(self.cwd.as_deref().unwrap_or(self.test.dir()))
            .env_clear()
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Starts the run and returns at once, for tests that act on a running
    /// pass (kill it, overlap it). Output is not collected.
    pub fn spawn(self) -> std::process::Child {
        let mut command = self.command();
        command.stdout(Stdio::null()).stderr(Stdio::null());
        command
            .spawn()
            .unwrap_or_else(|e| panic!("start {BIN}: {e}"))
    }

    pub fn run(self) -> Output {
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("start {BIN}: {e}"));

        // Feed stdin and drain both pipes on their own threads, so that
        // neither side blocks on a full pipe.
        let feeder = self.stdin.map(|input| {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            thread::spawn(move || {
                // The program may exit without reading it all.
                let _ = pipe.write_all(&input);
            })
        });
        let drain = |mut pipe: Box<dyn Read + Send>| {
            thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("stdout is piped")));
        let stderr = drain(Box::new(child.stderr.take().expect("stderr is piped")));

        let deadline = Instant::now() + self.timeout;
        let mut timed_out = false;
        let status = loop {
            match child.try_wait().expect("wait for followup") {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait().expect("wait for followup");
                }
                None => thread::sleep(Duration::from_millis(2)),
            }
        };
        if let Some(feeder) = feeder {
            let _ = feeder.join();
        }
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let stdout = stdout.join().expect("read stdout");
        let mut stderr = text(&stderr.join().expect("read stderr"));
        if timed_out {
            stderr.push_str(&format!(
                "\n[test harness: killed after {:?}]\n",
                self.timeout
            ));
        }
        Output {
            args: self
                .args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            status: status.code(),
            stdout: text(&stdout),
            stdout_bytes: stdout,
            stderr,
        }
    }
}

/// `text` with `from` replaced by `to`; panics unless `from` is in `text`,
/// so that a test whose fixture changed fails instead of silently testing
/// the fixture unchanged.
#[track_caller]
pub fn replace_once(text: &str, from: &str, to: &str) -> String {
    match text.matches(from).count() {
        1 => text.replacen(from, to, 1),
        0 => panic!("the text to replace is not there: {from:?}\n--- in ---\n{text}"),
        n => {
            panic!("the text to replace is there {n} times, not once: {from:?}\n--- in ---\n{text}")
        }
    }
}

/// [`replace_once`] as a method, for chains of edits to a fixture.
pub trait Edit {
    fn replace_once(&self, from: &str, to: &str) -> String;
}

impl Edit for str {
    #[track_caller]
    fn replace_once(&self, from: &str, to: &str) -> String {
        replace_once(self, from, to)
    }
}

/// [`replace_once`] for a text that holds `from` several times: replaces
/// every one, and panics when there is none.
#[track_caller]
pub fn replace_all(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the text to replace is not there: {from:?}\n--- in ---\n{text}"
    );
    text.replace(from, to)
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Output {
    /// The arguments, for failure messages.
    pub args: Vec<String>,
    /// The exit status; `None` when a signal ended the process.
    pub status: Option<i32>,
    /// stdout as text (invalid UTF-8 shown as U+FFFD).
    pub stdout: String,
    /// stdout byte for byte, for binary output such as `export -o -`.
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
}

impl Output {
    /// Panics, showing both outputs, unless the run exited with `code`; a
    /// panic inside followup fails whatever its exit status.
    #[track_caller]
    pub fn assert_status(&self, code: i32) -> &Output {
        if self.status != Some(code) || self.panicked() {
            panic!(
                "`followup {}` exited with {:?}, expected {code}{}\n{}",
                self.args.join(" "),
                self.status,
                if self.panicked() {
                    " (it panicked)"
                } else {
                    ""
                },
                self.dump()
            );
        }
        self
    }

    /// Panics unless stdout is exactly `expected`.
    #[track_caller]
    pub fn assert_stdout(&self, expected: &str) -> &Output {
        if self.stdout != expected {
            panic!(
                "`followup {}`: stdout differs\n--- expected stdout ---\n{expected}\n{}",
                self.args.join(" "),
                self.dump()
            );
        }
        self
    }

    /// Panics unless stderr is exactly `expected`.
    #[track_caller]
    pub fn assert_stderr(&self, expected: &str) -> &Output {
        if self.stderr != expected {
            panic!(
                "`followup {}`: stderr differs\n--- expected stderr ---\n{expected}\n{}",
                self.args.join(" "),
                self.dump()
            );
        }
        self
    }

    /// stdout as JSON; panics, showing it, when it is not.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`followup {}`: stdout is not JSON: {e}\n{}",
                self.args.join(" "),
                self.dump()
            )
        })
    }

    /// Whether Rust's panic message reached stderr.
    pub fn panicked(&self) -> bool {
        self.stderr.contains("panicked")
    }

    fn dump(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}
