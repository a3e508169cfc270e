//! The `file` channel: one JSON line per delivery, appended to a file
//! (an outbox another program reads). Each line is written with one
//! `write` on a file opened for appending, so lines never interleave.
//!
//! A pass killed inside that `write` can leave the start of a line with no
//! newline; its delivery was never marked delivered, so the next pass sends
//! it again. Before its first append, a pass cuts such a torn tail off, so
//! that the redelivery starts a line of its own and every line parses.

use std::io::{Read, Seek, SeekFrom, Write};
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
            // Only a regular file is read and cut: a FIFO or a device is
            // opened for writing alone, as a reader at its other end expects.
            let regular = std::fs::metadata(&self.path).is_ok_and(|m| m.is_file());
            let opened = crate::private::options()
                .create(true)
                .read(regular)
                .append(true)
                .open(&self.path)
                .and_then(|mut file| {
                    if regular {
                        cut_torn_tail(&mut file)?;
                    }
                    Ok(file)
                });
            match opened {
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
            Ok(()) => Outcome::delivered(),
            Err(e) => self.failed(e),
        }
    }
}

/// Truncates `file` after its last newline (to nothing when it has none),
/// when it does not end with one: what follows is a line whose write was
/// cut short.
fn cut_torn_tail(file: &mut std::fs::File) -> std::io::Result<()> {
    const CHUNK: u64 = 64 * 1024;
    let length = file.metadata()?.len();
    let mut end = length;
    let mut buf = vec![0; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep < length {
                file.set_len(keep)?;
            }
            return Ok(());
        }
        end = start;
    }
    if length > 0 {
        file.set_len(0)?;
    }
    Ok(())
}
