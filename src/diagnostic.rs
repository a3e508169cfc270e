//! Diagnostics: what `validate` (and every command that loads definitions)
//! reports, each at its place in a file, and the three ways to print them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::definition::yaml::Mark;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub severity: Severity,
    /// A stable name for the rule broken, for tools (`frequency-range`).
    pub code: &'static str,
    pub message: String,
}

impl Diagnostic {
    pub fn error(file: &Path, mark: Mark, code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: mark.line,
            column: mark.column,
            severity: Severity::Error,
            code,
            message: message.into(),
        }
    }

    pub fn warning(
        file: &Path,
        mark: Mark,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, mark, code, message)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.severity.as_str(),
            self.message
        )
    }
}

/// Sorts by file and place, so that output is stable whatever the order of
/// the checks that found them.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.severity, &a.message)
            .cmp(&(&b.file, b.line, b.column, b.severity, &b.message))
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line:col: error: message`
    Text,
    /// An array of objects: file, line, column, severity, code, message.
    Json,
    /// GitHub Actions workflow commands (`::error file=...`).
    Github,
}

pub fn render(diagnostics: &[Diagnostic], format: Format) -> String {
    match format {
        Format::Text => diagnostics.iter().map(|d| format!("{d}\n")).collect(),
        Format::Json => {
            let mut out = serde_json::to_string_pretty(diagnostics).expect("diagnostics serialize");
            out.push('\n');
            out
        }
        Format::Github => {
            let mut out = String::new();
            for d in diagnostics {
                let _ = writeln!(
                    out,
                    "::{} file={},line={},col={},title={}::{}",
                    d.severity.as_str(),
                    github_property(&d.file.display().to_string()),
                    d.line,
                    d.column,
                    d.code,
                    github_data(&d.message)
                );
            }
            out
        }
    }
}

/// Escapes per GitHub's workflow command syntax (message part).
fn github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes per GitHub's workflow command syntax (property part).
fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_format_escapes() {
        let d = Diagnostic::error(
            Path::new("followups/a.yaml"),
            Mark { line: 3, column: 5 },
            "frequency-range",
            "too short: 5m, at 100%",
        );
        assert_eq!(
            render(&[d], Format::Github),
            "::error file=followups/a.yaml,line=3,col=5,title=frequency-range::too short: 5m, at 100%25\n"
        );
    }
}
