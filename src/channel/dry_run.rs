//! `--dry-run`'s stand-in for a channel this version delivers to: prints
//! what would be sent, as the console's JSON line with `"dry_run": true`,
//! and sends nothing.

use std::io::Write;

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
        let line = serde_json::to_string(&line).expect("a delivery serializes");
        let _ = writeln!(std::io::stdout().lock(), "{line}");
        Outcome::Delivered
    }
}
