//! Exit statuses (DESIGN.md, "The commands") and the errors that carry one.
//! Success is 0 (`ExitCode::SUCCESS`).

/// A failure the output names: an invalid definition, a failed poll.
pub const FAILURE: u8 = 1;
/// Bad usage: unknown flags, a missing argument, an unknown follow-up.
pub const USAGE: u8 = 2;
/// The database is unusable or from a newer version.
pub const DATABASE: u8 = 3;
/// Another pass holds the pass lock (EX_TEMPFAIL).
pub const LOCKED: u8 = 75;

/// An error with its own exit status; anything else exits with [`FAILURE`].
#[derive(Debug)]
pub struct Exit {
    pub status: u8,
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// An error that exits with `status`.
pub fn with_status(status: u8, message: impl Into<String>) -> anyhow::Error {
    Exit {
        status,
        message: message.into(),
    }
    .into()
}

/// Bad usage, exit 2.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    with_status(USAGE, message)
}

pub fn status_of(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|cause| cause.downcast_ref::<Exit>())
        .map_or(FAILURE, |exit| exit.status)
}

/// A closed stdout (`followup history | head`) is not an error.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let kind = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => Some(io.kind()),
            // `serde_json::to_writer` wraps the write's error in its own.
            None => cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind),
        };
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}
