//! The pass lock: `flock` on `<db>.lock`. The kernel frees it when the
//! process dies, so a killed pass never blocks the next one.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::exit;

/// Held for the whole pass; released on drop.
pub struct PassLock {
    _file: File,
}

pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl PassLock {
    /// Takes the lock, or fails at once with exit 75 when another pass holds it.
    pub fn acquire(db: &Path) -> anyhow::Result<PassLock> {
        let path = lock_path(db);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                exit::with_status(
                    exit::DATABASE,
                    format!("cannot open the pass lock {}: {e}", path.display()),
                )
            })?;
        match file.try_lock() {
            Ok(()) => Ok(PassLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(exit::with_status(
                exit::LOCKED,
                format!(
                    "another pass holds the lock {}; this one does nothing",
                    path.display()
                ),
            )),
            Err(TryLockError::Error(e)) => Err(exit::with_status(
                exit::DATABASE,
                format!("cannot take the pass lock {}: {e}", path.display()),
            )),
        }
    }
}
