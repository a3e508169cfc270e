//! The `console` channel: one JSON line per delivery on stdout.

use std::io::Write;
use std::time::Instant;

use serde_json::Value;

use super::{Channel, Job, Outcome};

pub struct Console;

impl Channel for Console {
    fn payload(&self, job: &Job) -> Value {
        serde_json::to_value(job).expect("a delivery serializes")
    }

    fn deliver(&self, job: &Job, _: Option<Instant>) -> Outcome {
        let mut line = job.line();
        line.push('\n');
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => Outcome::delivered(),
            Err(e) => Outcome::transient(format!("cannot write to stdout: {e}")),
        }
    }
}
