//! The clock: the real time, or the time given by `--now` / `FOLLOWUP_NOW`
//! (for tests and replays). Nothing else in followup reads the system clock
//! to decide what is due.

use jiff::Timestamp;

/// `--now RFC3339`, accepted by every command that looks at the time.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NowArg {
    /// Use this time instead of the clock (RFC 3339, e.g. 2026-01-05T09:00:00Z)
    #[arg(long, env = "FOLLOWUP_NOW", value_name = "RFC3339", value_parser = parse_now)]
    pub now: Option<Timestamp>,
}

impl NowArg {
    pub fn get(&self) -> Timestamp {
        self.now.unwrap_or_else(Timestamp::now)
    }
}

/// An RFC 3339 time given on the command line.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    parse_now(text)
}

fn parse_now(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>().map_err(|e| {
        format!("`{text}` is not an RFC 3339 time with an offset, e.g. 2026-01-05T09:00:00Z ({e})")
    })
}

/// RFC 3339 in UTC with whole seconds, as events and outputs write it.
pub fn format(t: Timestamp) -> String {
    t.round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// A stored time (seconds since the epoch) as RFC 3339.
pub fn format_seconds(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(format)
        .unwrap_or_else(|_| seconds.to_string())
}
