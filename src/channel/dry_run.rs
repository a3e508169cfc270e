//! `--dry-run`'s stand-in for every channel: prints what would be sent —
//! the console's JSON line with `"dry_run": true` and, as `payload`, what
//! the channel's service would receive — and sends nothing.

use std::io::Write;
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
        let _ = writeln!(std::io::stdout().lock(), "{line}");
        Outcome::Delivered
    }
}
