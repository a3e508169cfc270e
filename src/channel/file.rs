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
        let result = match &mut self.file {
            Some(file) => file.write_all(line.as_bytes()),
            None => OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .and_then(|mut file| {
                    file.write_all(line.as_bytes())?;
                    self.file = Some(file);
                    Ok(())
                }),
        };
        match result {
            Ok(()) => Outcome::Delivered,
            Err(e) => Outcome::Transient {
                detail: format!("cannot write to {}: {e}", self.path.display()),
                retry_after: None,
            },
        }
    }
}
