//! The pass lock: `flock` on `<db>.lock`. The kernel frees it when the
//! process dies, so a killed pass never blocks the next one.
//!
//! The lock is named after the database's real path, links resolved: two
//! passes that name one database by two paths (a symlink, `./st.db` and
//! `/srv/st.db`) must take one lock, or both run and send twice.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::exit;

/// Held for the whole pass; released on drop.
pub struct PassLock {
    _file: File,
}

pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = real_path(db).into_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// `db` with every link resolved; a database not created yet is its
/// directory's real path joined with its name (a dangling link is
/// followed to where it points, where SQLite will create the file).
fn real_path(db: &Path) -> PathBuf {
    let mut path = db.to_path_buf();
    // As many links as the kernel follows (ELOOP after 40).
    for _ in 0..40 {
        if let Ok(real) = path.canonicalize() {
            return real;
        }
        match std::fs::read_link(&path) {
            Ok(target) => path = path.parent().unwrap_or(Path::new("")).join(target),
            Err(_) => break,
        }
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path,
    }
}

impl PassLock {
    /// Takes the lock, or fails at once with exit 75 when another pass holds it.
    pub fn acquire(db: &Path) -> anyhow::Result<PassLock> {
        let path = lock_path(db);
        let file = crate::private::options()
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
