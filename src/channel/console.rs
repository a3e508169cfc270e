//! The `console` channel: one JSON line per delivery on stdout.

use std::io::Write;

use super::{Channel, Outcome, Outgoing};

pub struct Console;

impl Channel for Console {
    fn deliver(&mut self, outgoing: &Outgoing) -> Outcome {
        let mut line = serde_json::to_string(outgoing).expect("a delivery serializes");
        line.push('\n');
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => Outcome::Delivered,
            Err(e) => Outcome::Transient {
                detail: format!("cannot write to stdout: {e}"),
            },
        }
    }
}
