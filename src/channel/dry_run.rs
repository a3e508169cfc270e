//! `--dry-run`'s stand-in for a channel this version delivers to: prints
//! what would be sent, as the console's JSON line with `"dry_run": true`,
//! and sends nothing.
//!
//! Where dry-run lines go is one setting of the process, like stdout
//! itself: stdout, or (for `followup preview`) a list the command reads
//! once the pass ends and shows record by record. The pass's actions write
//! their dry-run lines through [`emit`] too, so a preview shows them as well.

use std::sync::Mutex;

use super::{Channel, Outcome, Outgoing};

pub struct DryRun;

#[derive(serde::Serialize)]
struct Line<'a> {
    dry_run: bool,
    #[serde(flatten)]
    outgoing: &'a Outgoing<'a>,
}

impl Channel for DryRun {
    fn deliver(&mut self, outgoing: &Outgoing) -> Outcome {
        let line = Line {
            dry_run: true,
            outgoing,
        };
        emit(serde_json::to_string(&line).expect("a delivery serializes"));
        Outcome::Delivered
    }
}

/// The lines kept instead of printed, once [`collect`] was called.
static COLLECTED: Mutex<Option<Vec<String>>> = Mutex::new(None);

/// One dry-run line (a JSON object): printed on stdout, or kept for [`take`].
pub fn emit(line: String) {
    let mut collected = COLLECTED.lock().unwrap_or_else(|e| e.into_inner());
    match collected.as_mut() {
        Some(lines) => lines.push(line),
        None => {
            use std::io::Write;
            drop(collected);
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }
}

/// From now on, dry-run lines are kept instead of printed.
pub fn collect() {
    *COLLECTED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
}

/// The lines kept since [`collect`].
pub fn take() -> Vec<String> {
    COLLECTED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .map(std::mem::take)
        .unwrap_or_default()
}
