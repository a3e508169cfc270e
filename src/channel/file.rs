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
