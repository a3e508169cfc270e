//! The tools the rules share: where a value stands ([`At`]), and the checks
//! that turn text into values while reporting what is wrong ([`Checker`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::definition::yaml::{Mark, Node, Value};
use crate::diagnostic::Diagnostic;
use crate::path::JsonPath;
use crate::template::{Scope, Template};
use crate::units;

/// A place in a YAML tree: the node of a value, or (for a key that is not
/// there) the nearest mapping above it, where a missing key is reported.
#[derive(Clone, Copy)]
pub struct At<'n> {
    node: &'n Node,
    key_mark: Option<Mark>,
}

impl<'n> At<'n> {
    pub fn root(node: &'n Node) -> At<'n> {
        At {
            node,
            key_mark: None,
        }
    }

    pub fn key(self, key: &str) -> At<'n> {
        match self.node.entry(key) {
            Some(entry) => At {
                node: &entry.value,
                key_mark: Some(entry.key_mark),
            },
            None => At {
                node: self.node,
                key_mark: None,
            },
        }
    }

    pub fn index(self, i: usize) -> At<'n> {
        match self.node.at(&[&i.to_string()]) {
            Some(node) => At {
                node,
                key_mark: None,
            },
            None => self,
        }
    }

    /// Steps into `Some(step)`; stays for `None` (a single value written
    /// where a list may stand).
    pub fn step(self, step: Option<String>) -> At<'n> {
        match step {
            Some(s) => match s.parse() {
                Ok(i) => self.index(i),
                Err(_) => self.key(&s),
            },
            None => self,
        }
    }

    /// Which of `keys` this mapping holds, in the order of the file: where
    /// only one may stand, the second is the one to point at.
    pub fn present(self, keys: &[&str]) -> Vec<&'n str> {
        match &self.node.value {
            Value::Map(entries) => entries
                .iter()
                .filter(|e| keys.contains(&e.key.as_str()))
                .map(|e| e.key.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn mark(self) -> Mark {
        self.node.mark
    }

    /// The place of the byte `offset` inside this string value, when the
    /// scalar is on one line and its text is its source (plain, or quoted
    /// without an escape or quote before the offset); else the value's.
    pub fn mark_within(self, offset: usize) -> Mark {
        let Value::Str { text, plain } = &self.node.value else {
            return self.node.mark;
        };
        let Some(before) = text.get(..offset) else {
            return self.node.mark;
        };
        if text.contains('\n') || (!plain && before.contains(['\\', '\'', '"'])) {
            return self.node.mark;
        }
        let quote = usize::from(!plain);
        Mark {
            line: self.node.mark.line,
            column: self.node.mark.column + quote + before.chars().count(),
        }
    }

    /// The key's place for errors about a key, else the value's.
    pub fn key_mark(self) -> Mark {
        self.key_mark.unwrap_or(self.node.mark)
    }
}

/// Which scopes a template may name where it stands.
#[derive(Clone, Copy, Debug)]
pub struct Allowed {
    pub scopes: &'static [Scope],
    /// Whether `env.*` may be read (url, headers, auth, channel settings).
    pub env: bool,
    /// The `followup.*` names available (the record's only once there is one).
    pub followup: &'static [&'static str],
    /// What to call this place in messages ("an extraction request").
    pub place: &'static str,
}

pub const FOLLOWUP_STATIC: &[&str] = &["id", "name"];
pub const FOLLOWUP_ALL: &[&str] = &[
    "id",
    "name",
    "data",
    "record_id",
    "cycle",
    "attempt",
    "attempts",
];

/// What `recipient.*` holds: a tenant user's keys (see `model::User`), and
/// a room's `recipients`. Any other name is missing for every delivery.
pub const RECIPIENT_FIELDS: &[&str] = &[
    "id",
    "name",
    "email",
    "slack",
    "teams",
    "google_chat",
    "phone",
    "last_channel",
    "timezone",
    "recipients",
];

impl Allowed {
    pub const fn with_env(self) -> Allowed {
        Allowed { env: true, ..self }
    }
}

/// A `global.*` name read without a fallback, and where.
#[derive(Debug, Clone)]
pub struct GlobalUse {
    pub name: String,
    pub mark: Mark,
}

/// The `local.*` names of one definition: those a template may read where
/// it stands (defined by an earlier step), and every name the definition
/// defines with the step that does, for the message.
#[derive(Debug, Clone, Default)]
pub struct LocalNames {
    pub before: std::collections::BTreeSet<String>,
    pub defined: std::collections::BTreeMap<String, String>,
}

pub struct Checker<'a> {
    pub file: &'a Path,
    /// Set while a definition is checked: reading a `local.*` that no
    /// earlier step defines is an error (it would fail every delivery).
    pub locals: Option<LocalNames>,
    /// The directory relative paths resolve against.
    pub dir: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
    pub globals_read: Vec<GlobalUse>,
    /// How many more "did you mean" hints this file gets (see [`Checker::hint`]).
    hints_left: usize,
}

/// The "did you mean" hints one file gets against the tenant's names.
const HINTS_PER_FILE: usize = 20;

impl<'a> Checker<'a> {
    pub fn new(file: &'a Path) -> Checker<'a> {
        Checker {
            file,
            dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
            diagnostics: Vec::new(),
            globals_read: Vec::new(),
            locals: None,
            hints_left: HINTS_PER_FILE,
        }
    }

    /// `; did you mean `x`?` for a name that is not among `candidates` (the
    /// tenant's users, groups, channels). A file gets a few: one that
    /// misspells thousands of names against a directory of thousands would
    /// spend minutes comparing them, and the first hints say enough.
    pub fn hint<'c>(
        &mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'c str>,
    ) -> String {
        if self.hints_left == 0 {
            return String::new();
        }
        self.hints_left -= 1;
        crate::did_you_mean::did_you_mean(word, candidates)
    }

    pub fn error(&mut self, at: At, code: &'static str, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(self.file, at.mark(), code, message));
    }

    pub fn key_error(&mut self, at: At, code: &'static str, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(self.file, at.key_mark(), code, message));
    }

    pub fn warning(&mut self, at: At, code: &'static str, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::warning(self.file, at.mark(), code, message));
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn json_path(&mut self, at: At, source: &str) -> Option<JsonPath> {
        JsonPath::parse(source)
            .map_err(|e| self.jsonpath_error(at, source, e))
            .ok()
    }

    /// A JSONPath that does not parse, reported at the offending character.
    pub fn jsonpath_error(&mut self, at: At, source: &str, message: String) {
        let mark = crate::path::error_offset(source).map_or(at.mark(), |o| at.mark_within(o));
        self.diagnostics
            .push(Diagnostic::error(self.file, mark, "jsonpath", message));
    }

    pub fn duration(&mut self, at: At, text: &str) -> Option<Duration> {
        match units::parse_duration(text) {
            Ok(d) if d.is_zero() => {
                self.error(
                    at,
                    "duration",
                    format!("`{text}` is zero; give a positive duration"),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(at, "duration", e);
                None
            }
        }
    }

    /// A relative path resolved against the YAML file's directory.
    pub fn resolve(&self, path: &str) -> PathBuf {
        self.dir.join(path)
    }

    /// A `command`'s argv (an integration's or a command channel's), each
    /// argument a template. The program, `argv[0]`, may take only what the
    /// operator owns (`global.*`, `env.*`): a ticket field, a lookup or a
    /// recipient that chose it would choose what runs on this host. A shell
    /// given a script with such values in it (`sh -c "... @{followup.data.x}"`)
    /// runs whatever the value says, so it is warned about.
    pub fn argv(&mut self, at: At, argv: &[String], allowed: Allowed) -> Vec<Option<Template>> {
        let templates: Vec<Option<Template>> = argv
            .iter()
            .enumerate()
            .map(|(i, arg)| self.template(at.index(i), arg, allowed))
            .collect();
        let from_data = |t: &Template| {
            t.inserts()
                .find(|i| !matches!(i.path.scope, Scope::Global | Scope::Env))
                .map(|i| i.path.text.clone())
        };
        if let Some(Some(program)) = templates.first()
            && let Some(path) = from_data(program)
        {
            self.error(
                at.index(0),
                "command-program",
                format!(
                    "`@{{{path}}}` would let the data choose the program to run; the program (the first element of `command`) may use only `global.*` and `env.*`: name the program and pass the value as an argument"
                ),
            );
        }
        let is_shell = argv.first().is_some_and(|program| {
            let name = Path::new(program)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            matches!(name, "sh" | "bash" | "dash" | "zsh" | "ksh" | "ash")
        });
        let script = argv
            .iter()
            .position(|a| {
                a.len() > 1 && a.starts_with('-') && !a.starts_with("--") && a.contains('c')
            })
            .map(|i| i + 1);
        if is_shell
            && let Some(i) = script
            && let Some(Some(template)) = templates.get(i)
            && let Some(path) = from_data(template)
        {
            self.warning(
                at.index(i),
                "command-shell",
                format!(
                    "`@{{{path}}}` is inserted into a shell script: a value holding `;`, `$(...)` or quotes runs as shell code; pass it as an argument after the script (`\"$1\"`) instead"
                ),
            );
        }
        templates
    }

    /// Parses a template and checks each path against the scopes allowed here.
    pub fn template(&mut self, at: At, source: &str, allowed: Allowed) -> Option<Template> {
        let template = match Template::parse(source) {
            Ok(t) => t,
            Err(first) => {
                // Every bad insert of the string, not only the first: the
                // rest is read again from the next `@{` after each error.
                let mut errors = vec![first];
                while let Some(next) = errors
                    .last()
                    .and_then(|e| source[e.offset..].find("@{").map(|i| e.offset + i))
                {
                    match Template::parse(&source[next..]) {
                        Ok(_) => break,
                        Err(e) => errors.push(crate::template::ParseError {
                            offset: next + e.offset,
                            ..e
                        }),
                    }
                }
                for e in errors {
                    // At the `@{` of the bad insert.
                    let start = source.get(..e.offset).and_then(|b| b.rfind("@{"));
                    self.diagnostics.push(Diagnostic::error(
                        self.file,
                        start.map_or(at.mark(), |o| at.mark_within(o)),
                        "template",
                        format!("bad template: {e} (in `{}`)", excerpt(source, e.offset)),
                    ));
                }
                return None;
            }
        };
        let mut ok = true;
        // Each `@{` of the source starts the next insert, in order.
        let starts: Vec<usize> = source.match_indices("@{").map(|(i, _)| i).collect();
        for (k, insert) in template.inserts().enumerate() {
            let path = &insert.path;
            let name = path.name().unwrap_or_default();
            let problem = if path.scope == Scope::Env && !allowed.env {
                Some(format!(
                    "`@{{{}}}`: `env.*` is allowed only in `url`, `headers`, `auth` and channel settings, so that secrets never reach a message, a body or the history",
                    path.text
                ))
            } else if path.scope != Scope::Env && !allowed.scopes.contains(&path.scope) {
                let mut names: Vec<&str> = allowed.scopes.iter().map(|s| s.as_str()).collect();
                if allowed.env {
                    names.push("env");
                }
                Some(format!(
                    "`@{{{}}}`: `{}.*` is not available in {}; available here: {}",
                    path.text,
                    path.scope.as_str(),
                    allowed.place,
                    names.join(", ")
                ))
            } else {
                match path.scope {
                    Scope::Followup if !allowed.followup.contains(&name) => Some(format!(
                        "`@{{{}}}`: `followup.{name}` is not available in {}; available here: {}{}",
                        path.text,
                        allowed.place,
                        allowed
                            .followup
                            .iter()
                            .map(|n| format!("followup.{n}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        crate::did_you_mean::closest(name, allowed.followup.iter().copied())
                            .map(|c| format!("; did you mean `followup.{c}`?"))
                            .unwrap_or_default()
                    )),
                    Scope::Recipient if !name.is_empty() && !RECIPIENT_FIELDS.contains(&name) => {
                        Some(format!(
                            "`@{{{}}}`: a recipient has no `{name}`; it has {}{}",
                            path.text,
                            RECIPIENT_FIELDS
                                .iter()
                                .map(|n| format!("recipient.{n}"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            crate::did_you_mean::closest(name, RECIPIENT_FIELDS.iter().copied())
                                .map(|c| format!("; did you mean `recipient.{c}`?"))
                                .unwrap_or_default()
                        ))
                    }
                    Scope::Lookup if name != "value" => Some(format!(
                        "`@{{{}}}`: the lookup scope holds only `lookup.value`",
                        path.text
                    )),
                    Scope::Digest if !["count", "records"].contains(&name) => Some(format!(
                        "`@{{{}}}`: the digest scope holds `digest.count` and `digest.records`",
                        path.text
                    )),
                    Scope::Env if path.steps.len() != 1 => Some(format!(
                        "`@{{{}}}`: an environment variable is one name (`env.NAME`)",
                        path.text
                    )),
                    Scope::Local if insert.fallback.is_none() => {
                        self.undefined_local(name, &path.text, allowed)
                    }
                    _ => None,
                }
            };
            if let Some(message) = problem {
                let mark = starts.get(k).map_or(at.mark(), |&o| at.mark_within(o));
                self.diagnostics.push(Diagnostic::error(
                    self.file,
                    mark,
                    "template-scope",
                    message,
                ));
                ok = false;
            }
            if path.scope == Scope::Global && insert.fallback.is_none() {
                self.globals_read.push(GlobalUse {
                    name: name.to_owned(),
                    mark: at.mark(),
                });
            }
        }
        ok.then_some(template)
    }
}

impl Checker<'_> {
    /// Why `local.NAME` cannot be read here, if it cannot.
    fn undefined_local(&self, name: &str, text: &str, allowed: Allowed) -> Option<String> {
        let locals = self.locals.as_ref()?;
        if locals.before.contains(name) {
            return None;
        }
        Some(match locals.defined.get(name) {
            Some(step) => format!(
                "`@{{{text}}}`: `local.{name}` is defined by {step}, which runs later than {}; give a fallback (`@{{local.{name} ?? \"...\"}}`) or define it earlier",
                allowed.place
            ),
            None => format!(
                "`@{{{text}}}`: nothing defines `local.{name}`: define it in an integration's or the lookup's `attributes`, or with a `set` before it is read{}",
                crate::did_you_mean::closest(name, locals.before.iter().map(String::as_str))
                    .map(|c| format!("; did you mean `local.{c}`?"))
                    .unwrap_or_default()
            ),
        })
    }
}

/// The insert that holds a template error, from its `@{` to its `}` (or
/// the end), so that the message shows what the operator wrote.
fn excerpt(source: &str, offset: usize) -> String {
    let before = source.get(..offset).unwrap_or(source);
    let rest = &source[before.rfind("@{").unwrap_or(0)..];
    let end = rest.find('}').map_or(rest.len(), |i| i + 1);
    let insert = &rest[..end];
    if insert.chars().count() > 40 {
        insert.chars().take(39).chain(['…']).collect()
    } else {
        insert.to_owned()
    }
}
