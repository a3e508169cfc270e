//! `--dry-run`'s stand-in for every channel: prints what would be sent —
//! the console's JSON line with `"dry_run": true` and, as `payload`, what
//! the channel's service would receive — and sends nothing.
//!
//! Where dry-run lines go is one setting of the process, like stdout
//! itself: stdout, or (for `followup preview`) a list the command reads
//! once the pass ends and shows record by record. The pass's actions write
//! their dry-run lines through [`emit`] too, so a preview shows them as well.

use std::sync::Mutex;
use std::time::Instant;

use serde_json::Value;

use super::{Channel, Job, Outcome};

pub struct DryRun(pub Box<dyn Channel>);

impl Channel for DryRun {
    fn payload(&self, job: &Job) -> Value {
        self.0.payload(job)
    }

    fn deliver(&self, job: &Job, _: Option<Instant>) -> Outcome {
        let mut line = serde_json::to_value(job).expect("a delivery serializes");
        line["dry_run"] = Value::Bool(true);
        line["payload"] = self.0.payload(job);
        if let Some(closing) = job.closing {
            // Not a new message: the edit of the conversation's first one.
            line["edits_first_message"] = Value::from(closing.as_str());
        }
        emit(line.to_string());
        Outcome::delivered()
    }

    fn edits(&self) -> bool {
        self.0.edits()
    }

    fn threads(&self) -> bool {
        self.0.threads()
    }
}

/// The lines kept instead of printed, once [`collect`] was called. Senders
/// run on several threads: the lock keeps each line whole.
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
