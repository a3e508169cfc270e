//! Building a bundle from checked follow-ups of a directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, bail};
use jiff::Timestamp;

use crate::bundle::secrets::{self, Leak};
use crate::bundle::{
    CHANNELS, ChannelsFile, FORMAT, FileSum, MANIFEST, Manifest, ManifestFollowup, VERSION,
    archive, channels_named, followup_entry, sha256_hex,
};
use crate::definition::load::Entry;
use crate::definition::model::TenantFile;
use crate::definition::yaml::{Mark, Node};

/// The source tenant as written: its name, channels and their places.
pub struct Source<'a> {
    pub tenant_file: &'a Path,
    pub tenant: &'a TenantFile,
    pub tenant_node: &'a Node,
}

/// A bundle, and what it holds.
#[derive(Debug)]
pub struct Bundle {
    pub zip: Vec<u8>,
    pub manifest: Manifest,
}

/// Builds the bundle of `entries` (checked follow-ups; each with `raw`).
/// Refuses, naming every place, when any of them or any channel they name
/// holds a literal secret.
pub fn build(
    source: &Source,
    entries: &[&Entry],
    exported_at: Timestamp,
) -> anyhow::Result<Bundle> {
    let mut leaks = Vec::new();
    let mut channels = BTreeMap::new();
    let mut followups = Vec::new();
    let mut files = Vec::new();
    for entry in entries {
        let raw = entry
            .raw
            .as_ref()
            .with_context(|| format!("{} does not parse", entry.file.display()))?;
        for leak in secrets::definition_leaks(raw) {
            let path: Vec<&str> = leak.path.iter().map(String::as_str).collect();
            let at = entry.mark_of(&path);
            leaks.push(place(&entry.file, at, "", &leak));
        }
        for name in channels_named(raw) {
            let channel = source.tenant.channels.get(&name).with_context(|| {
                format!(
                    "{} names channel `{name}`, which {} lacks",
                    entry.file.display(),
                    source.tenant_file.display()
                )
            })?;
            channels.insert(name, channel.clone());
        }
        // Byte for byte as in the directory: the bundle carries the file,
        // comments and layout included, not a re-serialization.
        let bytes = fs::read(&entry.file)
            .with_context(|| format!("cannot read {}", entry.file.display()))?;
        let file = followup_entry(&raw.id);
        followups.push(ManifestFollowup {
            id: raw.id.clone(),
            name: raw.name.clone(),
            file: file.clone(),
            sha256: sha256_hex(&bytes),
        });
        files.push((file, bytes));
    }
    for (name, channel) in &channels {
        for leak in secrets::channel_leaks(channel) {
            let mut path = vec!["channels", name.as_str()];
            path.extend(leak.path.iter().map(String::as_str));
            let at = source.tenant_node.mark_at(&path);
            let prefix = format!("channel `{name}`: ");
            leaks.push(place(source.tenant_file, at, &prefix, &leak));
        }
    }
    if !leaks.is_empty() {
        leaks.sort();
        bail!(
            "cannot export: a bundle never carries a secret, and {} written literally:\n  {}",
            if leaks.len() == 1 {
                "this one is"
            } else {
                "these are"
            },
            leaks.join("\n  ")
        );
    }

    let channels_text = channels_yaml(&source.tenant.tenant, channels)?;
    followups.sort_by(|a, b| a.id.cmp(&b.id));
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        version: VERSION,
        tool: format!("followup {}", env!("CARGO_PKG_VERSION")),
        exported_at: crate::clock::format(exported_at),
        tenant: source.tenant.tenant.clone(),
        channels: FileSum {
            file: CHANNELS.to_owned(),
            sha256: sha256_hex(channels_text.as_bytes()),
        },
        followups,
    };
    let mut manifest_text = serde_json::to_string_pretty(&manifest)?;
    manifest_text.push('\n');
    files.push((CHANNELS.to_owned(), channels_text.into_bytes()));
    files.push((MANIFEST.to_owned(), manifest_text.into_bytes()));
    Ok(Bundle {
        zip: archive::write(files)?,
        manifest,
    })
}

fn place(file: &Path, at: Mark, prefix: &str, leak: &Leak) -> String {
    format!(
        "{}:{}:{}: {prefix}`{}` {}",
        file.display(),
        at.line,
        at.column,
        leak.place(),
        leak.why
    )
}

/// `channels.yaml`: the channels as tenant.yaml writes them, with a header
/// that says what to do with them.
fn channels_yaml(
    tenant: &str,
    channels: BTreeMap<String, crate::definition::model::Channel>,
) -> anyhow::Result<String> {
    let body = crate::definition::yaml::to_string(&ChannelsFile { channels })?;
    Ok(format!(
        "# The channels the follow-ups of this bundle name, as tenant `{tenant}` defines them.\n\
         # The target's tenant.yaml needs each of them under `channels:`; secrets are\n\
         # `@{{env.*}}` references, set in the target's environment.\n{body}"
    ))
}
