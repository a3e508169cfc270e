//! The `file` channel: one JSON line per delivery, appended to a file
//! (an outbox another program reads). Each line is written with one
//! `write` on a file opened for appending, so lines never interleave.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::Value;

use super::{Channel, Job, Outcome};

pub struct File {
    path: PathBuf,
    /// Opened at the first delivery and kept for the pass.
    file: Mutex<Option<std::fs::File>>,
}

impl File {
    pub fn new(path: PathBuf) -> File {
        File {
            path,
            file: Mutex::new(None),
        }
    }

    fn failed(&self, e: std::io::Error) -> Outcome {
        Outcome::transient(format!("cannot write to {}: {e}", self.path.display()))
    }
}

impl Channel for File {
    fn payload(&self, job: &Job) -> Value {
        serde_json::to_value(job).expect("a delivery serializes")
    }

    fn deliver(&self, job: &Job, _: Option<Instant>) -> Outcome {
        let mut line = job.line();
        line.push('\n');
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            match OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(file) => *guard = Some(file),
                Err(e) => return self.failed(e),
            }
        }
        let file = guard.as_mut().expect("opened above");
        // A write cut short (a full disk) must not leave half a line for
        // the retry to append after: the file goes back to its length.
        let length = file.metadata().map(|m| m.len());
        let result = file.write_all(line.as_bytes());
        if let (Err(_), Ok(length)) = (&result, length) {
            let _ = file.set_len(length);
        }
        match result {
            Ok(()) => Outcome::Delivered,
            Err(e) => self.failed(e),
        }
    }
}
