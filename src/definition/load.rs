//! Reading an operator's directory: the tenant, then every definition, then
//! the rules that span files (unique names, `global.*` names).

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::definition::check::{Checker, GlobalUse};
use crate::definition::followup::Followup;
use crate::definition::model::{Definition, TenantFile};
use crate::definition::rules;
use crate::definition::tenant::{self, Tenant};
use crate::definition::yaml::{self, Mark, Node};
use crate::diagnostic::{self, Diagnostic};
use crate::exit;

/// The reserved file name of the tenant in a definitions directory.
pub const TENANT_FILE: &str = "tenant.yaml";

/// One definition file and what became of it.
#[derive(Debug)]
pub struct Entry {
    pub file: PathBuf,
    /// As serde read it (with defaults), when the file parsed.
    pub raw: Option<Definition>,
    /// The checked follow-up, when it broke no rule.
    pub followup: Option<Followup>,
    node: Option<Node>,
}

impl Entry {
    pub fn id(&self) -> String {
        self.raw
            .as_ref()
            .map(|r| r.id.clone())
            .unwrap_or_else(|| rules::stem(&self.file).to_owned())
    }

    /// Where a key of this definition stands.
    pub fn mark_of(&self, path: &[&str]) -> Mark {
        self.node
            .as_ref()
            .map(|n| n.mark_at(path))
            .unwrap_or_default()
    }
}

/// Everything loaded from a directory.
#[derive(Debug)]
pub struct Catalog {
    pub dir: PathBuf,
    pub tenant: Tenant,
    /// Whether the tenant passed its rules (nothing runs otherwise).
    pub tenant_ok: bool,
    pub entries: Vec<Entry>,
    pub diagnostics: Vec<Diagnostic>,
    /// `global.*` names read without a fallback that neither tenant.yaml
    /// nor any action gives, with the file that reads each.
    pub unknown_globals: Vec<(PathBuf, String)>,
}

impl Catalog {
    /// Loads the tenant and every definition of `dir`.
    pub fn load(dir: &Path, tenant_file: &Path) -> anyhow::Result<Catalog> {
        let files = definition_files(dir, tenant_file)?;
        Catalog::load_files(dir, tenant_file, &files)
    }

    /// Loads the tenant and the given definition files.
    pub fn load_files(
        dir: &Path,
        tenant_file: &Path,
        files: &[PathBuf],
    ) -> anyhow::Result<Catalog> {
        Catalog::load_sources(dir, tenant_file, files, &[])
    }

    /// Loads `dir` as it would be with `overlay` written into it: each
    /// `(path, text)` stands for that file, whether or not it exists yet.
    /// Commands that write definitions (create, copy, import) check what
    /// they would write with every rule `validate` applies, before writing.
    pub fn load_overlay(
        dir: &Path,
        tenant_file: &Path,
        overlay: &[(PathBuf, String)],
    ) -> anyhow::Result<Catalog> {
        let mut files: BTreeSet<PathBuf> =
            definition_files(dir, tenant_file)?.into_iter().collect();
        files.extend(overlay.iter().map(|(path, _)| path.clone()));
        let files: Vec<PathBuf> = files.into_iter().collect();
        Catalog::load_sources(dir, tenant_file, &files, overlay)
    }

    fn load_sources(
        dir: &Path,
        tenant_file: &Path,
        files: &[PathBuf],
        overlay: &[(PathBuf, String)],
    ) -> anyhow::Result<Catalog> {
        let mut diagnostics = Vec::new();
        let (tenant, tenant_ok) = load_tenant(tenant_file, &mut diagnostics);
        let mut entries = Vec::with_capacity(files.len());
        let mut globals_read = Vec::new();
        let mut globals_set = BTreeSet::new();
        for loaded in load_definitions(files, overlay, &tenant) {
            let file = &loaded.entry.file;
            globals_set.extend(loaded.globals_set);
            globals_read.extend(loaded.globals_read.into_iter().map(|g| (file.clone(), g)));
            diagnostics.extend(loaded.diagnostics);
            entries.push(loaded.entry);
        }
        let mut catalog = Catalog {
            dir: dir.to_path_buf(),
            tenant,
            tenant_ok,
            entries,
            diagnostics,
            unknown_globals: Vec::new(),
        };
        catalog.check_across(&globals_read, &globals_set);
        diagnostic::sort(&mut catalog.diagnostics);
        // The tenant's own errors first: a typo there (`chanels`) explains
        // the errors it causes in every definition, which follow.
        catalog.diagnostics.sort_by_key(|d| d.file != tenant_file);
        Ok(catalog)
    }

    /// Rules that span files; a follow-up that breaks one is not run.
    fn check_across(
        &mut self,
        globals_read: &[(PathBuf, GlobalUse)],
        globals_set: &BTreeSet<String>,
    ) {
        let mut broken: BTreeSet<usize> = BTreeSet::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (i, entry) in self.entries.iter().enumerate() {
            let Some(raw) = &entry.raw else { continue };
            if let Some(&first) = names.get(&raw.name.to_lowercase()) {
                let other = &self.entries[first];
                let at = other.mark_of(&["name"]);
                self.diagnostics.push(Diagnostic::error(
                    &entry.file,
                    entry.mark_of(&["name"]),
                    "duplicate-name",
                    format!(
                        "name `{}` is already used by `{}` ({}:{}:{}); names are unique, whatever their case",
                        raw.name,
                        other.id(),
                        other.file.display(),
                        at.line,
                        at.column
                    ),
                ));
                broken.insert(i);
            } else {
                names.insert(raw.name.to_lowercase(), i);
            }
            if let Some(&first) = ids.get(&raw.id) {
                self.diagnostics.push(Diagnostic::error(
                    &entry.file,
                    entry.mark_of(&["id"]),
                    "duplicate-id",
                    format!(
                        "id `{}` is already used by {}",
                        raw.id,
                        self.entries[first].file.display()
                    ),
                ));
                broken.insert(i);
            } else {
                ids.insert(raw.id.clone(), i);
            }
        }
        for (file, global) in globals_read {
            if !self.tenant.loaded
                || self.tenant.attributes.contains_key(&global.name)
                || globals_set.contains(&global.name)
            {
                continue;
            }
            self.unknown_globals
                .push((file.clone(), global.name.clone()));
            self.diagnostics.push(Diagnostic::error(
                file,
                global.mark,
                "unknown-global",
                format!(
                    "`global.{}` is not an attribute of tenant.yaml and no action sets it; add it to tenant.yaml's `attributes` or give a fallback (`@{{global.{} ?? \"...\"}}`)",
                    global.name, global.name
                ),
            ));
            if let Some(i) = self.entries.iter().position(|e| &e.file == file) {
                broken.insert(i);
            }
        }
        for i in broken {
            self.entries[i].followup = None;
        }
    }

    /// A definition by id, or by name (case-insensitive).
    pub fn find(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.raw.as_ref().is_some_and(|r| r.id == key))
            .or_else(|| {
                self.entries.iter().find(|e| {
                    e.raw
                        .as_ref()
                        .is_some_and(|r| r.name.eq_ignore_ascii_case(key))
                })
            })
            .or_else(|| self.entries.iter().find(|e| rules::stem(&e.file) == key))
    }
}

/// One definition file, read and checked against the tenant.
struct Loaded {
    entry: Entry,
    diagnostics: Vec<Diagnostic>,
    /// `global.*` names it reads without a fallback.
    globals_read: Vec<GlobalUse>,
    /// `global.*` names its actions set.
    globals_set: Vec<String>,
}

/// Reads one definition (or takes `text` for it) and checks it.
fn load_definition(file: &Path, text: Option<&str>, tenant: &Tenant) -> Loaded {
    let mut c = Checker::new(file);
    let mut entry = Entry {
        file: file.to_path_buf(),
        raw: None,
        followup: None,
        node: None,
    };
    let mut globals_set = Vec::new();
    let parsed = match text {
        Some(text) => parse_yaml::<Definition>(file, text, &mut c.diagnostics),
        None => read_yaml::<Definition>(file, &mut c.diagnostics),
    };
    if let Some((raw, node)) = parsed {
        let (followup, set) = rules::check(&raw, &node, tenant, &mut c);
        drop_stand_in_faults(&mut c.diagnostics);
        entry.followup = followup;
        entry.raw = Some(raw);
        entry.node = Some(node);
        globals_set = set;
    }
    Loaded {
        entry,
        diagnostics: c.diagnostics,
        globals_read: c.globals_read,
        globals_set,
    }
}

/// Reads and checks definitions, on several threads when there are many:
/// a file stands alone until the rules that span files, which run after,
/// on the results in file order. (`validate` of 1,000 definitions is
/// mostly YAML parsing, and took 250 ms on one core.)
fn load_definitions(
    files: &[PathBuf],
    overlay: &[(PathBuf, String)],
    tenant: &Tenant,
) -> Vec<Loaded> {
    // Fewer files than this per thread do not pay for its start.
    const PER_THREAD: usize = 32;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len() / PER_THREAD);
    let load_one = |file: &PathBuf| {
        let text = overlay
            .iter()
            .find(|(path, _)| path == file)
            .map(|(_, t)| t.as_str());
        load_definition(file, text, tenant)
    };
    if threads <= 1 {
        return files.iter().map(load_one).collect();
    }
    let load = |part: &[PathBuf]| -> Vec<Loaded> { part.iter().map(load_one).collect() };
    std::thread::scope(|scope| {
        let parts: Vec<_> = files
            .chunks(files.len().div_ceil(threads))
            .map(|part| {
                // The main thread's stack size: serde and the JSONPath
                // parser recurse as deep as a definition nests.
                let thread = std::thread::Builder::new()
                    .stack_size(8 << 20)
                    .spawn_scoped(scope, move || load(part));
                // A thread that cannot start leaves its part to this one.
                thread.map_err(|_| part)
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| match part {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(part) => load(part),
            })
            .collect()
    })
}

/// The definition files of a directory: `*.yaml` and `*.yml` but the
/// tenant, in name order.
pub fn definition_files(dir: &Path, tenant_file: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let read = fs::read_dir(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            // A path that does not exist is bad usage, like an unknown flag.
            exit::usage(format!(
                "the definitions directory {} does not exist; give `--dir DIR` (or FOLLOWUP_DIR)",
                dir.display()
            ))
        } else {
            anyhow::Error::new(e).context(format!(
                "cannot read the definitions directory {}",
                dir.display()
            ))
        }
    })?;
    // The tenant may be named another way (`--tenant ./followups/t.yaml`)
    // or be a link. Resolving every file's path to compare took two
    // `realpath`s per definition; a file of `dir` that is not a link is
    // `dir/name`, so only links are resolved.
    let tenant_real = tenant_file.canonicalize().ok();
    let dir_real = dir.canonicalize().ok();
    let mut files = Vec::new();
    for entry in read {
        let entry = entry?;
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if !is_yaml || name.starts_with('.') || name == TENANT_FILE || path == tenant_file {
            continue;
        }
        let kind = entry.file_type()?;
        let (real, is_file) = if kind.is_symlink() {
            (path.canonicalize().ok(), path.is_file())
        } else {
            (dir_real.as_ref().map(|d| d.join(name)), kind.is_file())
        };
        if is_file && (real.is_none() || real != tenant_real) {
            files.push(path);
        }
    }
    // By id (the file stem), so that `x` comes before `x-2` (as paths,
    // `x-2.yaml` sorts first: `-` is before `.`).
    files.sort_by(|a, b| a.file_stem().cmp(&b.file_stem()).then_with(|| a.cmp(b)));
    Ok(files)
}

fn load_tenant(file: &Path, diagnostics: &mut Vec<Diagnostic>) -> (Tenant, bool) {
    if !file.exists() {
        diagnostics.push(Diagnostic::error(
            file,
            Mark { line: 1, column: 1 },
            "tenant",
            "tenant file not found: follow-ups need tenant.yaml (channels, users, groups, attributes); create it, or point `--tenant` at it",
        ));
        return (Tenant::empty(), false);
    }
    let mut c = Checker::new(file);
    let result = read_yaml::<TenantFile>(file, &mut c.diagnostics)
        .map(|(raw, node)| tenant::check(raw, &node, &mut c));
    drop_stand_in_faults(&mut c.diagnostics);
    let ok = !c.has_errors();
    // A tenant read with stand-ins for wrong values holds what it does not
    // say; the follow-ups are checked as against no tenant (its own errors
    // say what is wrong), not against the stand-ins.
    let typed = c.diagnostics.iter().any(|d| d.code == "type");
    diagnostics.append(&mut c.diagnostics);
    match result {
        Some(tenant) if !typed => (tenant, ok),
        _ => (Tenant::empty(), false),
    }
}

/// A value of the wrong type is read as a stand-in so that the rules check
/// the rest of the file (`yaml::from_node`); what they say of the stand-in
/// is noise beside the type error at the same place.
fn drop_stand_in_faults(diagnostics: &mut Vec<Diagnostic>) {
    let typed: Vec<(usize, usize)> = diagnostics
        .iter()
        .filter(|d| d.code == "type")
        .map(|d| (d.line, d.column))
        .collect();
    diagnostics.retain(|d| d.code == "type" || !typed.contains(&(d.line, d.column)));
}

/// Reads and deserializes one YAML file, reporting any problem at its place.
pub fn read_yaml<T: DeserializeOwned>(
    file: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(T, Node)> {
    let text = match read_text(file) {
        Ok(text) => text,
        Err((mark, message)) => {
            diagnostics.push(Diagnostic::error(file, mark, "read", message));
            return None;
        }
    };
    parse_yaml(file, &text, diagnostics)
}

/// Parses and deserializes the text of one YAML document that stands for
/// `file` (read from it, or about to be written to it), reporting any
/// problem at its place.
pub fn parse_yaml<T: DeserializeOwned>(
    file: &Path,
    text: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(T, Node)> {
    let start = Mark { line: 1, column: 1 };
    let node = match yaml::parse(text) {
        Ok(node) => node,
        Err(e) => {
            diagnostics.push(Diagnostic::error(file, e.mark, "yaml", e.message));
            return None;
        }
    };
    if matches!(node.value, yaml::Value::Null) {
        diagnostics.push(Diagnostic::error(
            file,
            start,
            "empty",
            "file is empty: expected a mapping of keys",
        ));
        return None;
    }
    if !matches!(node.value, yaml::Value::Map(_)) {
        diagnostics.push(Diagnostic::error(
            file,
            node.mark,
            "type",
            "expected a mapping of keys at the top of the file",
        ));
        return None;
    }
    let (value, problems) = yaml::from_node::<T>(&node);
    diagnostics.extend(problems.into_iter().map(|p| {
        let code = if p.message.starts_with("unknown key") {
            "unknown-key"
        } else {
            "type"
        };
        Diagnostic::error(file, p.mark, code, p.message)
    }));
    value.map(|value| (value, node))
}

/// Reads a YAML file as UTF-8 text, bounded in size.
pub fn read_text(file: &Path) -> Result<String, (Mark, String)> {
    let start = Mark { line: 1, column: 1 };
    let metadata = fs::metadata(file).map_err(|e| (start, format!("cannot read the file: {e}")))?;
    if metadata.len() > yaml::MAX_BYTES as u64 {
        return Err((
            start,
            format!(
                "file is {} bytes; a YAML file here may hold at most {} bytes",
                metadata.len(),
                yaml::MAX_BYTES
            ),
        ));
    }
    let bytes = fs::read(file).map_err(|e| (start, format!("cannot read the file: {e}")))?;
    // A byte-order mark is allowed by YAML; left in, it would be read as
    // part of the first key.
    let bytes = bytes
        .strip_prefix("\u{feff}".as_bytes())
        .map(<[u8]>::to_vec)
        .unwrap_or(bytes);
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
        (
            yaml::mark_of_offset(&text, valid),
            format!("file is not UTF-8 text (invalid byte at offset {valid})"),
        )
    })
}
