//! When things fall due: the one place for DESIGN.md's rule
//! `now + 60s >= last + every` (the minute absorbs cron's jitter), used by
//! the pass and by `status` and `explain` to say what comes next.

use std::time::Duration;

use crate::store::{Record, Seconds};

/// The minute of grace in every "is it due".
pub const GRACE: Seconds = 60;

fn secs(every: Duration) -> Seconds {
    Seconds::try_from(every.as_secs()).unwrap_or(Seconds::MAX)
}

/// Whether something due at `at` is due at `now`.
pub fn is_due(at: Seconds, now: Seconds) -> bool {
    now.saturating_add(GRACE) >= at
}

/// When the next poll is due; `None` for a follow-up never polled (now).
pub fn next_poll(last_poll: Option<Seconds>, every: Duration) -> Option<Seconds> {
    last_poll.map(|last| last.saturating_add(secs(every)))
}

pub fn poll_is_due(last_poll: Option<Seconds>, every: Duration, now: Seconds) -> bool {
    next_poll(last_poll, every).is_none_or(|at| is_due(at, now))
}

/// When a record's next attempt is due (or, its attempts spent, when it
/// is exhausted): the first when it opened, each next one `every` after the
/// last.
pub fn next_attempt(record: &Record, every: Duration) -> Seconds {
    record
        .last_attempt_at
        .map_or(record.opened_at, |last| last.saturating_add(secs(every)))
}

/// An attempt made at or before this time makes the next one due now.
pub fn last_attempt_before(now: Seconds, every: Duration) -> Seconds {
    now.saturating_add(GRACE).saturating_sub(secs(every))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minute_of_grace() {
        let hour = Duration::from_secs(3600);
        assert!(!poll_is_due(Some(0), hour, 3539));
        assert!(poll_is_due(Some(0), hour, 3540));
        assert!(poll_is_due(None, hour, 0));
        assert_eq!(last_attempt_before(3600, hour), 60);
        // Far futures saturate instead of overflowing.
        assert_eq!(next_poll(Some(Seconds::MAX - 1), hour), Some(Seconds::MAX));
    }
}
