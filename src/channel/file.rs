//! The `file` channel: one JSON line per delivery, appended to a file
//! (an outbox another program reads). Each line is written with one
//! `write` on a file opened for appending, so lines never interleave.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use super::{Channel, Outcome, Outgoing};

pub struct File {
    path: PathBuf,
    /// Opened at the first delivery and kept for the pass.
    file: Option<std::fs::File>,
}

impl File {
    pub fn new(path: PathBuf) -> File {
        File { path, file: None }
    }
}

impl Channel for File {
    fn deliver(&mut self, outgoing: &Outgoing) -> Outcome {
        let mut line = serde_json::to_string(outgoing).expect("a delivery serializes");
        line.push('\n');
        if self.file.is_none() {
            match OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(file) => self.file = Some(file),
                Err(e) => return self.failed(e),
            }
        }
        let file = self.file.as_mut().expect("opened above");
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

impl File {
    fn failed(&self, e: std::io::Error) -> Outcome {
        Outcome::Transient {
            detail: format!("cannot write to {}: {e}", self.path.display()),
        }
    }
}
