//! The zip container of a bundle: written reproducibly, read as hostile.
//!
//! Writing: entries in name order, each deflated at level 6 with the zip
//! epoch (1980-01-01 00:00:00) as its time, mode 0644 and the Unix system
//! tag, so that the same entries give the same bytes on any machine.
//!
//! Reading refuses, before anything is written anywhere: a file over
//! [`Bounds::file`], more than [`Bounds::entries`] entries, duplicate
//! names, names that are absolute or climb with `..`, symbolic links,
//! encrypted entries, any name but `manifest.json`, `channels.yaml` and
//! `followups/<id>.yaml`, and an entry or a total that expands past its
//! bound. Sizes are counted while decompressing; a header's size is only
//! a first, cheap check.

use std::io::{Cursor, Read, Write};

use anyhow::{Context, bail};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipArchive, ZipWriter};

use crate::bundle::{BOUNDS, Bounds, CHANNELS, FOLLOWUPS_DIR, MANIFEST};
use crate::definition::rules::is_id;

/// Writes a zip of `entries` (name, bytes), in name order.
pub fn write(mut entries: Vec<(String, Vec<u8>)>) -> anyhow::Result<Vec<u8>> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644)
        .system(System::Unix)
        .large_file(false);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in &entries {
        zip.start_file(name.as_str(), options)
            .with_context(|| format!("cannot add {name} to the bundle"))?;
        zip.write_all(bytes)
            .with_context(|| format!("cannot add {name} to the bundle"))?;
    }
    Ok(zip
        .finish()
        .context("cannot finish the bundle")?
        .into_inner())
}

/// One file of a bundle, read and bounded.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Reads every entry of a bundle, refusing anything hostile. The entries
/// come back in the order of the zip's central directory.
pub fn read(bytes: &[u8]) -> anyhow::Result<Vec<Entry>> {
    read_within(bytes, BOUNDS)
}

pub fn read_within(bytes: &[u8], bounds: Bounds) -> anyhow::Result<Vec<Entry>> {
    if bytes.len() as u64 > bounds.file {
        bail!(
            "the bundle is larger than {} bytes, the most a bundle may be",
            bounds.file
        );
    }
    let mut zip = ZipArchive::new(Cursor::new(bytes)).context("not a zip file")?;
    if zip.len() > bounds.entries {
        bail!(
            "the bundle holds {} entries; a bundle may hold at most {}",
            zip.len(),
            bounds.entries
        );
    }
    if zip.has_duplicate_names() {
        bail!("the bundle holds two entries with the same name");
    }
    let mut entries = Vec::with_capacity(zip.len());
    let mut total: u64 = 0;
    for index in 0..zip.len() {
        let mut file = zip
            .by_index(index)
            .with_context(|| format!("cannot read entry {} of the bundle", index + 1))?;
        let name = std::str::from_utf8(file.name_raw())
            .map(str::to_owned)
            .map_err(|_| anyhow::anyhow!("entry {} has a name that is not UTF-8", index + 1))?;
        check_name(&name)?;
        if file.is_symlink() {
            bail!("entry `{name}` is a symbolic link; a bundle holds only plain files");
        }
        if file.encrypted() {
            bail!("entry `{name}` is encrypted; a bundle is never encrypted");
        }
        if file.is_dir() {
            if name == FOLLOWUPS_DIR {
                continue;
            }
            bail!("entry `{name}` is a directory; the only directory of a bundle is `followups/`");
        }
        if !is_expected(&name) {
            bail!(
                "entry `{name}` does not belong in a bundle, which holds only {MANIFEST}, {CHANNELS} and followups/<id>.yaml"
            );
        }
        if file.size() > bounds.entry {
            bail!(
                "entry `{name}` expands to {} bytes; an entry may hold at most {} bytes",
                file.size(),
                bounds.entry
            );
        }
        // Count what decompression really gives: a header may lie.
        let room = bounds.entry.min(bounds.total - total);
        let mut data = Vec::new();
        (&mut file)
            .take(room + 1)
            .read_to_end(&mut data)
            .with_context(|| format!("entry `{name}` does not decompress"))?;
        let read = data.len() as u64;
        if read > bounds.entry {
            bail!(
                "entry `{name}` expands past {} bytes; an entry may hold at most {} bytes",
                bounds.entry,
                bounds.entry
            );
        }
        if total + read > bounds.total {
            bail!(
                "the bundle expands past {} bytes; a bundle may hold at most {} bytes in all",
                bounds.total,
                bounds.total
            );
        }
        total += read;
        entries.push(Entry { name, bytes: data });
    }
    Ok(entries)
}

/// Refuses names that could land outside the target or hide as another.
fn check_name(name: &str) -> anyhow::Result<()> {
    if name.contains('\\') || name.contains('\0') {
        bail!(
            "entry `{}` has a backslash or NUL in its name",
            name.escape_debug()
        );
    }
    let bytes = name.as_bytes();
    if name.starts_with('/')
        || (bytes.len() > 1 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
    {
        bail!("entry `{name}` has an absolute path; bundle entries are relative");
    }
    if name.split('/').any(|part| part == "..") {
        bail!("entry `{name}` climbs out of the bundle with `..`");
    }
    Ok(())
}

fn is_expected(name: &str) -> bool {
    name == MANIFEST
        || name == CHANNELS
        || name
            .strip_prefix(FOLLOWUPS_DIR)
            .and_then(|rest| rest.strip_suffix(".yaml"))
            .is_some_and(is_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_entries_give_the_same_bytes() {
        let entries = vec![
            ("manifest.json".to_owned(), b"{}".to_vec()),
            ("channels.yaml".to_owned(), b"channels: {}\n".to_vec()),
        ];
        let mut reversed = entries.clone();
        reversed.reverse();
        let a = write(entries).unwrap();
        assert_eq!(a, write(reversed).unwrap());
        let read = read(&a).unwrap();
        assert_eq!(read[0].name, "channels.yaml");
        assert_eq!(read[1].bytes, b"{}");
    }

    #[test]
    fn names_that_escape_are_refused() {
        for (name, message) in [
            ("../x", "climbs out"),
            ("followups/../../x.yaml", "climbs out"),
            ("/etc/passwd", "absolute"),
            ("C:/x", "absolute"),
            ("a\\b", "backslash"),
        ] {
            let err = check_name(name).unwrap_err().to_string();
            assert!(err.contains(message), "{name}: {err}");
        }
        assert!(check_name("followups/a.yaml").is_ok());
        assert!(!is_expected("followups/A.yaml"));
        assert!(!is_expected("followups/a.yml"));
        assert!(!is_expected("followups/sub/a.yaml"));
    }

    #[test]
    fn small_bounds_are_enforced_while_reading() {
        let zip = write(vec![
            ("followups/a.yaml".to_owned(), vec![b' '; 600]),
            ("followups/b.yaml".to_owned(), vec![b' '; 600]),
        ])
        .unwrap();
        let bounds = Bounds {
            file: 1 << 20,
            entries: 10,
            entry: 1000,
            total: 1000,
        };
        let err = read_within(&zip, bounds).unwrap_err().to_string();
        assert_eq!(
            err,
            "the bundle expands past 1000 bytes; a bundle may hold at most 1000 bytes in all"
        );
        let bounds = Bounds {
            entries: 1,
            ..bounds
        };
        let err = read_within(&zip, bounds).unwrap_err().to_string();
        assert_eq!(
            err,
            "the bundle holds 2 entries; a bundle may hold at most 1"
        );
    }
}
