//! Importing a bundle: check everything, then write every file or none.
//!
//! 1. [`open`]: the zip, read within bounds ([`archive::read`]); the
//!    manifest (format and version); every checksum; every entry listed and
//!    every listed entry present; each definition's id and name as the
//!    manifest says; `channels.yaml` free of literal secrets.
//! 2. [`plan`]: what happens to each follow-up in the target directory,
//!    given `--on-conflict`.
//! 3. [`check`]: the directory as it would be after the import, loaded with
//!    every rule `validate` applies against the target tenant.
//! 4. [`apply`]: temp files, then renames, all or nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::atomic::Transaction;
use crate::bundle::secrets;
use crate::bundle::{
    CHANNELS, ChannelsFile, FOLLOWUPS_DIR, FORMAT, MANIFEST, Manifest, ManifestFollowup, VERSION,
    archive, channels_named, followup_entry, sha256_hex,
};
use crate::definition::load::{self, Catalog};
use crate::definition::model::Definition;
use crate::definition::rename::rename;
use crate::definition::rules::{RESERVED_ID, is_id, reserved_id_message};
use crate::diagnostic::{self, Diagnostic};
use crate::naming::Taken;

/// What to do with a follow-up whose id or name the target already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnConflict {
    /// Import nothing and say which conflict
    Fail,
    /// Leave the target's follow-up; import the others
    Skip,
    /// Replace the target's follow-up of the same id
    Replace,
    /// Import under the next free id (`x-2`) and name (`X (2)`)
    Rename,
}

/// A bundle that passed every check of its own.
#[derive(Debug)]
pub struct Opened {
    pub manifest: Manifest,
    pub channels: ChannelsFile,
    /// In id order.
    pub followups: Vec<Incoming>,
}

/// One follow-up of a bundle.
#[derive(Debug)]
pub struct Incoming {
    pub id: String,
    pub name: String,
    pub text: String,
    pub raw: Definition,
}

/// Reads and checks a bundle on its own, before looking at the target.
pub fn open(bytes: &[u8]) -> anyhow::Result<Opened> {
    let entries = archive::read(bytes)?;
    let mut by_name: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for e in &entries {
        by_name.insert(e.name.as_str(), &e.bytes);
    }
    let manifest_bytes = by_name
        .get(MANIFEST)
        .with_context(|| format!("not a followup bundle: it has no {MANIFEST}"))?;
    let manifest = manifest(manifest_bytes)?;

    if manifest.channels.file != CHANNELS {
        bail!(
            "{MANIFEST}: `channels.file` is `{}`; a bundle keeps its channels in {CHANNELS}",
            manifest.channels.file
        );
    }
    let channels_bytes = by_name
        .get(CHANNELS)
        .with_context(|| format!("{MANIFEST} lists {CHANNELS}, which the bundle lacks"))?;
    verify_sum(CHANNELS, channels_bytes, &manifest.channels.sha256)?;

    let mut seen = BTreeSet::new();
    let mut followups = Vec::with_capacity(manifest.followups.len());
    for listed in &manifest.followups {
        followups.push(incoming(listed, &by_name, &mut seen)?);
    }
    for name in by_name.keys() {
        if name.starts_with(FOLLOWUPS_DIR) && !seen.contains(*name) {
            bail!("entry `{name}` is not listed in {MANIFEST}");
        }
    }
    followups.sort_by(|a, b| a.id.cmp(&b.id));

    let channels_text = text(CHANNELS, channels_bytes)?;
    let mut diagnostics = Vec::new();
    let channels = match load::parse_yaml::<ChannelsFile>(
        Path::new(CHANNELS),
        &channels_text,
        &mut diagnostics,
    ) {
        Some((channels, _)) if diagnostics.is_empty() => channels,
        _ => bail!(
            "{CHANNELS} of the bundle is not valid:\n{}",
            diagnostic::render(&diagnostics, diagnostic::Format::Text).trim_end()
        ),
    };
    let leaks: Vec<String> = channels
        .channels
        .iter()
        .flat_map(|(name, ch)| {
            secrets::channel_leaks(ch)
                .into_iter()
                .map(move |l| format!("channel `{name}`: `{}` {}", l.place(), l.why))
        })
        .collect();
    if !leaks.is_empty() {
        bail!(
            "{CHANNELS} of the bundle holds secrets written literally, which no bundle may carry:\n  {}",
            leaks.join("\n  ")
        );
    }
    Ok(Opened {
        manifest,
        channels,
        followups,
    })
}

/// The manifest, once its format and version are known.
fn manifest(bytes: &[u8]) -> anyhow::Result<Manifest> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).with_context(|| format!("{MANIFEST} is not JSON"))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        Some(other) => {
            bail!("not a followup bundle: {MANIFEST} names the format `{other}`, not `{FORMAT}`")
        }
        None => bail!("not a followup bundle: {MANIFEST} has no `format`"),
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => bail!(
            "bundle format version {v} is not supported: this followup reads version {VERSION}{}",
            if v > u64::from(VERSION) {
                "; the bundle was written by a newer followup"
            } else {
                ""
            }
        ),
        None => bail!("{MANIFEST} has no whole-number `version`"),
    }
    serde_json::from_value(value).with_context(|| format!("{MANIFEST} is not valid"))
}

fn incoming<'b>(
    listed: &'b ManifestFollowup,
    by_name: &BTreeMap<&str, &[u8]>,
    seen: &mut BTreeSet<&'b str>,
) -> anyhow::Result<Incoming> {
    let id = &listed.id;
    if !is_id(id) {
        bail!("{MANIFEST} lists the id `{id}`, which is not a follow-up id");
    }
    if id == RESERVED_ID {
        bail!("{MANIFEST} lists `{id}`: {}", reserved_id_message());
    }
    if listed.file != followup_entry(id) {
        bail!(
            "{MANIFEST} lists `{id}` in `{}`; it must be in `{}`",
            listed.file,
            followup_entry(id)
        );
    }
    if !seen.insert(&listed.file) {
        bail!("{MANIFEST} lists `{id}` twice");
    }
    let bytes = by_name
        .get(listed.file.as_str())
        .with_context(|| format!("{MANIFEST} lists {}, which the bundle lacks", listed.file))?;
    verify_sum(&listed.file, bytes, &listed.sha256)?;
    let text = text(&listed.file, bytes)?;
    let mut diagnostics = Vec::new();
    let parsed = load::parse_yaml::<Definition>(Path::new(&listed.file), &text, &mut diagnostics);
    let Some((raw, node)) = parsed.filter(|_| !diagnostics.iter().any(Diagnostic::is_error)) else {
        bail!(
            "{} of the bundle is not a definition:\n{}",
            listed.file,
            diagnostic::render(&diagnostics, diagnostic::Format::Text).trim_end()
        );
    };
    let leaks: Vec<String> = secrets::definition_leaks(&raw)
        .iter()
        .map(|leak| {
            let path: Vec<&str> = leak.path.iter().map(String::as_str).collect();
            let at = node.mark_at(&path);
            format!(
                "{}:{}:{}: `{}` {}",
                listed.file,
                at.line,
                at.column,
                leak.place(),
                leak.why
            )
        })
        .collect();
    if !leaks.is_empty() {
        bail!(
            "{} holds secrets written literally, which no bundle may carry:\n  {}",
            listed.file,
            leaks.join("\n  ")
        );
    }
    if raw.id != *id || raw.name != listed.name {
        bail!(
            "{} holds `{}` (\"{}\") but {MANIFEST} lists `{id}` (\"{}\")",
            listed.file,
            raw.id,
            raw.name,
            listed.name
        );
    }
    Ok(Incoming {
        id: id.clone(),
        name: listed.name.clone(),
        text,
        raw,
    })
}

fn verify_sum(file: &str, bytes: &[u8], listed: &str) -> anyhow::Result<()> {
    let actual = sha256_hex(bytes);
    if !actual.eq_ignore_ascii_case(listed) {
        bail!("checksum mismatch: {file} has sha256 {actual}, but {MANIFEST} says {listed}");
    }
    Ok(())
}

fn text(file: &str, bytes: &[u8]) -> anyhow::Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| anyhow::anyhow!("{file} is not UTF-8 text"))
}

/// What happens to one follow-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    Replace,
    Skip { reason: String },
    Rename { id: String, name: String },
}

#[derive(Debug)]
pub struct Step {
    /// As in the bundle.
    pub id: String,
    pub name: String,
    pub action: Action,
    /// The file written (none when skipped).
    pub target: Option<PathBuf>,
    /// The text written: the bundle's, or with a new id and name.
    pub text: String,
}

/// Decides what happens to each follow-up; with `fail`, any conflict is
/// an error naming them all.
pub fn plan(opened: &Opened, catalog: &Catalog, policy: OnConflict) -> anyhow::Result<Vec<Step>> {
    let dir = &catalog.dir;
    let mut ids: HashMap<String, PathBuf> = HashMap::new();
    let mut names: HashMap<String, (String, PathBuf)> = HashMap::new();
    let mut taken = Taken::default();
    for entry in &catalog.entries {
        let id = entry.id();
        taken.add_id(&id);
        ids.entry(id.clone()).or_insert_with(|| entry.file.clone());
        if let Some(raw) = &entry.raw {
            taken.add(&id, &raw.name);
            names
                .entry(raw.name.to_lowercase())
                .or_insert_with(|| (id.clone(), entry.file.clone()));
        }
    }
    // Whatever stands at `<id>.yaml` (a file that is not a definition, a
    // directory) takes that id too.
    if let Ok(read) = fs::read_dir(dir) {
        for e in read.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name
                .strip_suffix(".yaml")
                .or_else(|| name.strip_suffix(".yml"))
            {
                taken.add_id(stem);
                ids.entry(stem.to_owned()).or_insert_with(|| e.path());
            }
        }
    }

    let mut steps = Vec::with_capacity(opened.followups.len());
    let mut conflicts = Vec::new();
    for f in &opened.followups {
        let id_owner = ids.get(&f.id);
        let name_owner = names
            .get(&f.name.to_lowercase())
            .filter(|(owner, _)| *owner != f.id);
        let mut problem = Vec::new();
        if let Some(file) = id_owner {
            problem.push(format!("id `{}` is taken by {}", f.id, file.display()));
        }
        if let Some((owner, file)) = name_owner {
            problem.push(format!(
                "name \"{}\" is used by `{owner}` ({})",
                f.name,
                file.display()
            ));
        }
        let fresh = dir.join(format!("{}.yaml", f.id));
        let (action, target, text) = if problem.is_empty() {
            (Action::Create, Some(fresh), f.text.clone())
        } else {
            let problem = problem.join(" and ");
            match policy {
                OnConflict::Fail => {
                    conflicts.push(format!("`{}` (\"{}\"): {problem}", f.id, f.name));
                    continue;
                }
                OnConflict::Skip => (Action::Skip { reason: problem }, None, String::new()),
                OnConflict::Replace => match (id_owner, name_owner) {
                    (Some(file), None) => (Action::Replace, Some(file.clone()), f.text.clone()),
                    _ => {
                        conflicts.push(format!(
                            "`{}` (\"{}\"): {problem}; `replace` replaces only the follow-up of the same id and name",
                            f.id, f.name
                        ));
                        continue;
                    }
                },
                OnConflict::Rename => {
                    let (id, name) = taken.free(&f.id, &f.name);
                    let text = rename(&f.text, &id, &name).map_err(|e| {
                        anyhow::anyhow!(
                            "{}:{}:{}: cannot rename `{}`: {}",
                            followup_entry(&f.id),
                            e.mark.line,
                            e.mark.column,
                            f.id,
                            e.message
                        )
                    })?;
                    let target = dir.join(format!("{id}.yaml"));
                    (Action::Rename { id, name }, Some(target), text)
                }
            }
        };
        match &action {
            Action::Rename { id, name } => taken.add(id, name),
            Action::Skip { .. } => {}
            _ => taken.add(&f.id, &f.name),
        }
        steps.push(Step {
            id: f.id.clone(),
            name: f.name.clone(),
            action,
            target,
            text,
        });
    }
    if !conflicts.is_empty() {
        bail!(
            "{} conflict{} with {}:\n  {}\nnothing written; choose --on-conflict skip, replace or rename",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" },
            dir.display(),
            conflicts.join("\n  ")
        );
    }
    Ok(steps)
}

/// The target directory as it would be after the import, checked.
pub struct Checked {
    /// Diagnostics of the files the import writes (errors and warnings).
    pub diagnostics: Vec<Diagnostic>,
    /// Errors of the target tenant itself.
    pub tenant_errors: Vec<Diagnostic>,
    /// What tenant.yaml lacks for these follow-ups, as YAML to add.
    pub missing: Option<String>,
}

impl Checked {
    pub fn ok(&self) -> bool {
        self.tenant_errors.is_empty() && !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads the target directory with the planned files in place (none is
/// written) and keeps what concerns them.
pub fn check(
    opened: &Opened,
    steps: &[Step],
    dir: &Path,
    tenant_file: &Path,
) -> anyhow::Result<Checked> {
    let overlay: Vec<(PathBuf, String)> = steps
        .iter()
        .filter_map(|s| Some((s.target.clone()?, s.text.clone())))
        .collect();
    let catalog = Catalog::load_overlay(dir, tenant_file, &overlay)?;
    let written: BTreeSet<&PathBuf> = overlay.iter().map(|(p, _)| p).collect();
    let tenant_errors: Vec<Diagnostic> = if catalog.tenant_ok {
        Vec::new()
    } else {
        catalog
            .diagnostics
            .iter()
            .filter(|d| d.file == tenant_file && d.is_error())
            .cloned()
            .collect()
    };
    let diagnostics: Vec<Diagnostic> = catalog
        .diagnostics
        .iter()
        .filter(|d| written.contains(&d.file))
        .cloned()
        .collect();

    // What the tenant lacks, as the entries to add to tenant.yaml.
    let mut channels = BTreeMap::new();
    let mut unknown_channels = BTreeSet::new();
    for f in opened
        .followups
        .iter()
        .filter(|f| steps.iter().any(|s| s.id == f.id && s.target.is_some()))
    {
        for name in channels_named(&f.raw) {
            if catalog.tenant.channels.contains_key(&name) {
                continue;
            }
            match opened.channels.channels.get(&name) {
                Some(ch) => {
                    channels.insert(name, ch.clone());
                }
                None => {
                    unknown_channels.insert(name);
                }
            }
        }
    }
    let mut globals: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (file, name) in &catalog.unknown_globals {
        if written.contains(file) {
            let stem = crate::definition::rules::stem(file).to_owned();
            globals.entry(name.as_str()).or_default().insert(stem);
        }
    }
    let mut missing = String::new();
    if !channels.is_empty() || !unknown_channels.is_empty() {
        missing.push_str("channels:\n");
        if !channels.is_empty() {
            let yaml = crate::definition::yaml::to_string(&ChannelsFile { channels })?;
            for line in yaml.lines().skip(1) {
                let _ = writeln!(missing, "{line}");
            }
        }
        for name in unknown_channels {
            let _ = writeln!(
                missing,
                "  {name}: {{ type: ... }}   # not in the bundle's {CHANNELS}: define it"
            );
        }
    }
    if !globals.is_empty() {
        missing.push_str("attributes:\n");
        for (name, users) in globals {
            let users: Vec<String> = users.into_iter().collect();
            let _ = writeln!(
                missing,
                "  {name}: ...   # read by {}; a bundle does not carry attribute values",
                users.join(", ")
            );
        }
    }
    Ok(Checked {
        diagnostics,
        tenant_errors,
        missing: (!missing.is_empty()).then_some(missing),
    })
}

/// Every `command` a follow-up of the bundle would run on this host
/// (integrations, lookups, actions), each as its argv: an operator
/// importing a bundle reads them before they are written.
pub fn commands(incoming: &Incoming) -> Vec<Vec<String>> {
    fn walk(value: &serde_json::Value, out: &mut Vec<Vec<String>>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("command", serde_json::Value::Array(argv)) => out.push(
                            argv.iter()
                                .map(|a| a.as_str().unwrap_or_default().to_owned())
                                .collect(),
                        ),
                        _ => walk(value, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = serde_json::to_value(&incoming.raw) {
        walk(&value, &mut out);
    }
    out
}

/// Writes every planned file, or none.
pub fn apply(steps: &[Step]) -> anyhow::Result<()> {
    let mut tx = Transaction::default();
    for step in steps {
        let Some(target) = &step.target else { continue };
        match step.action {
            Action::Replace => tx.replace(target, step.text.as_bytes())?,
            _ => tx.create(target, step.text.as_bytes())?,
        }
    }
    tx.commit()
}
