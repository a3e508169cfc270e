//! Writing files so that a reader never sees half of one and a failure
//! leaves nothing behind.
//!
//! Every file is first written in full to a hidden temporary file in the
//! target's own directory (so the final step is a rename or a link within
//! one file system), then put in place. A [`Transaction`] puts several files
//! in place all or nothing: if one step fails, the files already put in place
//! are taken back and the replaced ones restored.
//!
//! Temporary and backup files start with a dot, so `definition_files` never
//! reads them as definitions.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;

/// Writes `bytes` to a new file at `target`; an existing file (or anything
/// else at that path) is never overwritten.
pub fn write_new(target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tx = Transaction::default();
    tx.create(target, bytes)?;
    tx.commit()
}

/// Writes `bytes` to `target`, replacing a file that is there; the new
/// file is owner-only (0600): what is written this way (metrics, export
/// bundles) holds data of the state or of the tenant.
pub fn write_replace(target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temp = stage_with(target, bytes, crate::private::options())?;
    fs::rename(temp.path(), target)
        .with_context(|| format!("cannot write {}", target.display()))?;
    temp.forget();
    sync_dir(target);
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The target must not exist.
    Create,
    /// The target must be a regular file; it is replaced.
    Replace,
}

struct Staged {
    temp: Temp,
    target: PathBuf,
    mode: Mode,
}

/// What was done to the directory, to undo it.
enum Done {
    Created(PathBuf),
    Replaced { target: PathBuf, backup: PathBuf },
}

/// Files to put in place together: all of them, or none.
#[derive(Default)]
pub struct Transaction {
    staged: Vec<Staged>,
}

impl Transaction {
    /// Stages a new file at `target` (written now, put in place at commit).
    pub fn create(&mut self, target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        self.stage(target, bytes, Mode::Create)
    }

    /// Stages the replacement of the file at `target`.
    pub fn replace(&mut self, target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        self.stage(target, bytes, Mode::Replace)
    }

    fn stage(&mut self, target: &Path, bytes: &[u8], mode: Mode) -> anyhow::Result<()> {
        let temp = stage(target, bytes)?;
        self.staged.push(Staged {
            temp,
            target: target.to_path_buf(),
            mode,
        });
        Ok(())
    }

    /// Puts every staged file in place, in the order staged. On the first
    /// failure everything done so far is undone and the error returned.
    pub fn commit(mut self) -> anyhow::Result<()> {
        let staged = std::mem::take(&mut self.staged);
        let mut done: Vec<Done> = Vec::with_capacity(staged.len());
        for s in &staged {
            match put(s) {
                Ok(step) => done.push(step),
                Err(e) => {
                    let failed_undo = undo(done);
                    if failed_undo.is_empty() {
                        return Err(e);
                    }
                    return Err(e.context(format!(
                        "and these could not be restored: {}",
                        failed_undo.join("; ")
                    )));
                }
            }
        }
        // Past this point the new files stand; backups are only clutter.
        for step in done {
            if let Done::Replaced { backup, .. } = step {
                let _ = fs::remove_file(backup);
            }
        }
        if let Some(s) = staged.first() {
            sync_dir(&s.target);
        }
        Ok(())
    }
}

fn put(s: &Staged) -> anyhow::Result<Done> {
    let target = &s.target;
    match s.mode {
        Mode::Create => {
            link_new(s.temp.path(), target)
                .with_context(|| format!("cannot create {}", target.display()))?;
            Ok(Done::Created(target.clone()))
        }
        Mode::Replace => {
            let meta = fs::symlink_metadata(target)
                .with_context(|| format!("cannot replace {}", target.display()))?;
            if !meta.file_type().is_file() {
                anyhow::bail!(
                    "cannot replace {}: it is not a regular file",
                    target.display()
                );
            }
            // The old file stays reachable under a hidden name until the
            // whole transaction stands, so it can be put back.
            let backup = unique_sibling(target, "backup");
            fs::hard_link(target, &backup)
                .or_else(|_| fs::copy(target, &backup).map(drop))
                .with_context(|| format!("cannot back up {}", target.display()))?;
            if let Err(e) = fs::rename(s.temp.path(), target) {
                let _ = fs::remove_file(&backup);
                return Err(e).with_context(|| format!("cannot replace {}", target.display()));
            }
            Ok(Done::Replaced {
                target: target.clone(),
                backup,
            })
        }
    }
}

/// Undoes the steps, last first; returns what could not be undone.
fn undo(done: Vec<Done>) -> Vec<String> {
    let mut failed = Vec::new();
    for step in done.into_iter().rev() {
        let result = match &step {
            Done::Created(target) => fs::remove_file(target),
            Done::Replaced { target, backup } => fs::rename(backup, target),
        };
        if let Err(e) = result {
            let target = match &step {
                Done::Created(t) | Done::Replaced { target: t, .. } => t,
            };
            failed.push(format!("{}: {e}", target.display()));
        }
    }
    failed
}

/// Puts `temp` at `target` only if nothing is there. A hard link fails on
/// an existing target, so there is no window in which another writer's file
/// could be overwritten; where links are not supported, a check then rename.
fn link_new(temp: &Path, target: &Path) -> io::Result<()> {
    match fs::hard_link(temp, target) {
        Ok(()) => fs::remove_file(temp),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) if fs::symlink_metadata(target).is_ok() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "a file is already there",
        )),
        Err(_) => fs::rename(temp, target),
    }
}

/// A temporary file, removed when dropped unless put in place.
struct Temp {
    path: PathBuf,
    keep: bool,
}

impl Temp {
    fn path(&self) -> &Path {
        &self.path
    }

    fn forget(mut self) {
        self.keep = true;
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.keep {
            // Already renamed or linked away: nothing to remove.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` in full to a new hidden file beside `target`.
fn stage(target: &Path, bytes: &[u8]) -> anyhow::Result<Temp> {
    stage_with(target, bytes, OpenOptions::new())
}

fn stage_with(target: &Path, bytes: &[u8], mut options: OpenOptions) -> anyhow::Result<Temp> {
    let path = unique_sibling(target, "tmp");
    let mut file: File = options
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("cannot write in {}", parent(target).display()))?;
    let temp = Temp { path, keep: false };
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", temp.path.display()))?;
    Ok(temp)
}

/// `.<name>.<pid>-<n>.<what>` beside `target`.
fn unique_sibling(target: &Path, what: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    parent(target).join(format!(".{name}.{}-{n}.{what}", std::process::id()))
}

fn parent(target: &Path) -> &Path {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes the new names durable; a failure here loses nothing written.
fn sync_dir(target: &Path) {
    if let Ok(dir) = File::open(parent(target)) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, fs::read(&p).unwrap_or_default())
            })
            .collect();
        out.sort();
        out
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("followup-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn write_new_never_overwrites() {
        let dir = temp_dir("new");
        let a = dir.join("a.yaml");
        write_new(&a, b"one").unwrap();
        let err = write_new(&a, b"two").unwrap_err();
        assert!(format!("{err:#}").starts_with("cannot create"), "{err:#}");
        assert_eq!(listing(&dir), vec![("a.yaml".into(), b"one".to_vec())]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_transaction_leaves_the_directory_as_it_was() {
        let dir = temp_dir("tx");
        fs::write(dir.join("b.yaml"), "old b").unwrap();
        fs::create_dir(dir.join("c.yaml")).unwrap();
        let before = listing(&dir);
        let mut tx = Transaction::default();
        tx.create(&dir.join("a.yaml"), b"new a").unwrap();
        tx.replace(&dir.join("b.yaml"), b"new b").unwrap();
        tx.replace(&dir.join("c.yaml"), b"new c").unwrap();
        let err = tx.commit().unwrap_err();
        assert!(
            format!("{err:#}").ends_with("c.yaml: it is not a regular file"),
            "{err:#}"
        );
        assert_eq!(listing(&dir), before);

        let mut tx = Transaction::default();
        tx.create(&dir.join("a.yaml"), b"new a").unwrap();
        tx.replace(&dir.join("b.yaml"), b"new b").unwrap();
        tx.commit().unwrap();
        let after = listing(&dir);
        assert_eq!(after[0], ("a.yaml".into(), b"new a".to_vec()));
        assert_eq!(after[1], ("b.yaml".into(), b"new b".to_vec()));
        assert_eq!(after.len(), 3);
        fs::remove_dir_all(dir).unwrap();
    }
}
