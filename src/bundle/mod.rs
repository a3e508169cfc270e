//! Bundles: follow-ups moved between tenants (test → production) as one zip.
//!
//! A bundle holds `manifest.json` (format, tool, time, source tenant, and
//! each follow-up's id, name, file and sha256), `followups/<id>.yaml`
//! byte for byte as in the source directory, and `channels.yaml` with the
//! tenant channels those follow-ups name, secrets only as `@{env.*}`.
//!
//! `export` writes one ([`export`]); `import` reads one as hostile input
//! ([`archive::read`], within [`BOUNDS`]), checks it against the target
//! tenant with every rule `validate` applies, and writes all or nothing
//! ([`import`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::definition::model::{self, Definition};

pub mod archive;
pub mod export;
pub mod import;
pub mod secrets;

/// The format name in every manifest.
pub const FORMAT: &str = "followup-bundle";
/// The one format version this followup writes and reads.
pub const VERSION: u32 = 1;

pub const MANIFEST: &str = "manifest.json";
pub const CHANNELS: &str = "channels.yaml";
pub const FOLLOWUPS_DIR: &str = "followups/";

/// What `import` accepts, checked while reading (never from headers only).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// The bundle file itself.
    pub file: u64,
    /// Entries in the zip, directories included.
    pub entries: usize,
    /// One entry, decompressed: a definition file's own bound.
    pub entry: u64,
    /// All entries together, decompressed.
    pub total: u64,
}

pub const BOUNDS: Bounds = Bounds {
    file: 16 * 1024 * 1024,
    entries: 1000,
    entry: crate::definition::yaml::MAX_BYTES as u64,
    total: 16 * 1024 * 1024,
};

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// `followup <version>` of the exporting tool.
    pub tool: String,
    /// RFC 3339, UTC.
    pub exported_at: String,
    /// The source tenant's name.
    pub tenant: String,
    pub channels: FileSum,
    pub followups: Vec<ManifestFollowup>,
}

/// A file of the bundle and its sha256 (lowercase hex).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileSum {
    pub file: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestFollowup {
    pub id: String,
    pub name: String,
    pub file: String,
    pub sha256: String,
}

/// `channels.yaml`: the source tenant's channels, as tenant.yaml writes them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsFile {
    pub channels: BTreeMap<String, model::Channel>,
}

/// The entry of a follow-up: `followups/<id>.yaml`.
pub fn followup_entry(id: &str) -> String {
    format!("{FOLLOWUPS_DIR}{id}.yaml")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The tenant channels a definition names: its message channel (unless
/// `last_used`, which resolves per user at run time), its fallback channel
/// and its escalation rungs' channels.
pub fn channels_named(raw: &Definition) -> BTreeSet<String> {
    let message = &raw.message;
    std::iter::once(&message.channel)
        .filter(|c| *c != "last_used")
        .chain(&message.fallback_channel)
        .chain(
            raw.recipients
                .escalate
                .iter()
                .filter_map(|r| r.channel.as_ref()),
        )
        .cloned()
        .collect()
}
