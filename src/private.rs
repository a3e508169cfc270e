//! Owner-only files. The database (and the `-wal` and `-shm` files SQLite
//! makes beside it, which take the database's mode), the pass lock, the
//! `file` channel's outbox, metrics and export bundles hold ticket data and
//! people's addresses: each is created with mode 0600, whatever the umask.
//! A file that already exists keeps the mode its owner gave it.

use std::fs::OpenOptions;

/// The mode of every file followup creates that holds state or data.
#[cfg(unix)]
pub const MODE: u32 = 0o600;

/// Options that create a file as mode 0600 (the umask can only take bits
/// away, and 0600 has none it would want to).
pub fn options() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(MODE);
    }
    options
}

/// Creates `path` empty and owner-only when nothing is there yet, so that
/// a program that then creates it (SQLite) finds it with the right mode.
pub fn precreate(path: &std::path::Path) -> std::io::Result<()> {
    match options().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
