//! The log: what followup tells the operator on stderr besides a command's
//! own output. Human lines by default (`warning: approvals: ...`), or one
//! JSON object per line (`--log-format json`) for journald and log
//! shippers. `-q` keeps warnings and errors only, so that cron mails only
//! trouble; `-v` adds per-record detail.
//!
//! A process-wide setting, set once by `main` before any command runs, as
//! ripgrep's logger is: every module may log without being handed a
//! logger, and nothing else is shared through it.

use std::io::Write;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `warning: approvals: ...` lines
    #[default]
    Human,
    /// One JSON object per line: level, at, followup, message
    Json,
}

struct Logger {
    max: Level,
    format: Format,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets the level and format; the first call wins.
pub fn init(max: Level, format: Format) {
    let _ = LOGGER.set(Logger { max, format });
}

fn logger() -> &'static Logger {
    LOGGER.get_or_init(|| Logger {
        max: Level::Info,
        format: Format::Human,
    })
}

/// Whether a line of this level is written (to skip building it).
pub fn enabled(level: Level) -> bool {
    level <= logger().max
}

/// Writes one line, about one follow-up or the whole command.
pub fn log(level: Level, followup: Option<&str>, message: &str) {
    if !enabled(level) {
        return;
    }
    let line = match logger().format {
        Format::Human => {
            let prefix = match level {
                Level::Error | Level::Warn => format!("{}: ", level.as_str()),
                Level::Info | Level::Debug => String::new(),
            };
            let about = followup.map(|f| format!("{f}: ")).unwrap_or_default();
            format!("{prefix}{about}{message}")
        }
        // `at` is the wall clock of the line, not `--now`: a log says when
        // things happened on the machine.
        Format::Json => serde_json::json!({
            "level": level.as_str(),
            "at": crate::clock::format(jiff::Timestamp::now()),
            "followup": followup,
            "message": message,
        })
        .to_string(),
    };
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

pub fn error(followup: Option<&str>, message: &str) {
    log(Level::Error, followup, message);
}

pub fn warn(followup: Option<&str>, message: &str) {
    log(Level::Warn, followup, message);
}

pub fn info(followup: Option<&str>, message: &str) {
    log(Level::Info, followup, message);
}

pub fn debug(followup: Option<&str>, message: &str) {
    log(Level::Debug, followup, message);
}

/// A diagnostic of a definition or the tenant, as `validate` prints it
/// (`file:line:col: warning: ...`), at its own level.
pub fn diagnostic(d: &crate::diagnostic::Diagnostic) {
    let level = match d.severity {
        crate::diagnostic::Severity::Error => Level::Error,
        crate::diagnostic::Severity::Warning => Level::Warn,
    };
    match logger().format {
        Format::Human if enabled(level) => {
            let _ = writeln!(std::io::stderr().lock(), "{d}");
        }
        Format::Human => {}
        Format::Json => log(level, None, &d.to_string()),
    }
}
