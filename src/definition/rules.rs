//! The rules of a definition: turns what serde read into a checked
//! [`Followup`], reporting every broken rule at the offending value.
//!
//! Rules that need other files (unique names, `global.*` names set by other
//! follow-ups) live in `load`; the tenant's own rules in `tenant`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::definition::check::{Allowed, At, Checker, FOLLOWUP_ALL, FOLLOWUP_STATIC, LocalNames};
use crate::definition::followup::*;
use crate::definition::model::{self, Definition};
use crate::definition::tenant::{Tenant, is_name};
use crate::definition::yaml::Node;
use crate::did_you_mean::did_you_mean;
use crate::path::{JsonPath, LoopPath};
use crate::template::{Scope, Template};
use crate::units;
use crate::window::{Window, WindowError};

/// Polling and notification frequencies: 10 minutes .. 5 days.
pub const MIN_FREQUENCY: Duration = Duration::from_secs(10 * 60);
pub const MAX_FREQUENCY: Duration = Duration::from_secs(7200 * 60);
pub const MAX_ATTEMPTS: u32 = 10;
pub const MAX_RESOLVE_AFTER: u32 = 10;

const EXTRACTION: Allowed = Allowed {
    scopes: &[Scope::Followup, Scope::Local, Scope::Global],
    env: false,
    followup: FOLLOWUP_STATIC,
    place: "an extraction",
};
const LOOKUP: Allowed = Allowed {
    scopes: &[Scope::Followup, Scope::Lookup, Scope::Local, Scope::Global],
    env: false,
    followup: FOLLOWUP_ALL,
    place: "a lookup",
};
const MESSAGE: Allowed = Allowed {
    scopes: &[
        Scope::Followup,
        Scope::Recipient,
        Scope::Local,
        Scope::Global,
        Scope::Custom,
    ],
    env: false,
    followup: FOLLOWUP_ALL,
    place: "a message",
};
const DIGEST: Allowed = Allowed {
    scopes: &[
        Scope::Followup,
        Scope::Recipient,
        Scope::Digest,
        Scope::Local,
        Scope::Global,
        Scope::Custom,
    ],
    env: false,
    followup: FOLLOWUP_ALL,
    place: "a digest",
};
const ACTION: Allowed = Allowed {
    scopes: &[Scope::Followup, Scope::Local, Scope::Global],
    env: false,
    followup: FOLLOWUP_ALL,
    place: "an action",
};
/// A `set` of `custom.*` applies to each recipient of the attempt.
const SET_CUSTOM: Allowed = Allowed {
    scopes: &[
        Scope::Followup,
        Scope::Recipient,
        Scope::Local,
        Scope::Global,
        Scope::Custom,
    ],
    env: false,
    followup: FOLLOWUP_ALL,
    place: "a `set` of `custom.*`",
};

/// Checks one definition against the tenant. Returns the checked follow-up
/// when no rule is broken; every problem goes to the checker.
pub fn check(
    raw: &Definition,
    node: &Node,
    tenant: &Tenant,
    c: &mut Checker,
) -> (Option<Followup>, Vec<String>) {
    let root = At::root(node);
    let mut rules = Rules {
        c,
        tenant,
        globals_set: Vec::new(),
    };
    let followup = rules.definition(raw, root);
    let globals_set = rules.globals_set;
    (followup.filter(|_| !rules.c.has_errors()), globals_set)
}

struct Rules<'c, 'a, 't> {
    c: &'c mut Checker<'a>,
    tenant: &'t Tenant,
    globals_set: Vec<String>,
}

impl Rules<'_, '_, '_> {
    fn definition(&mut self, raw: &Definition, root: At) -> Option<Followup> {
        self.c.locals = Some(LocalNames {
            defined: defined_locals(raw),
            ..LocalNames::default()
        });
        let followup = self.definition_checked(raw, root);
        self.c.locals = None;
        followup
    }

    /// Sets the `local.*` names a template may read from here on.
    fn locals_before(&mut self, names: impl IntoIterator<Item = String>) {
        if let Some(l) = &mut self.c.locals {
            l.before = names.into_iter().collect();
        }
    }

    fn locals_add(&mut self, names: impl IntoIterator<Item = String>) {
        if let Some(l) = &mut self.c.locals {
            l.before.extend(names);
        }
    }

    fn definition_checked(&mut self, raw: &Definition, root: At) -> Option<Followup> {
        self.id(raw, root);
        if raw.name.trim().is_empty() {
            self.c
                .error(root.key("name"), "name", "`name` must not be empty");
        }
        let polling = self.polling(&raw.polling, root.key("polling"));
        let extraction = self.extraction(&raw.extraction, root.key("extraction"));
        let schedule = self.schedule(&raw.schedule, root.key("schedule"));
        if let (Some(p), Some(s)) = (&polling, &schedule)
            && s.every < p.every
        {
            self.c.warning(
                    root.key("schedule").key("every"),
                    "frequency-order",
                    format!(
                        "notification frequency `{}` is shorter than the polling frequency `{}`: records are re-read only every {}",
                        units::format_duration(s.every),
                        units::format_duration(p.every),
                        units::format_duration(p.every)
                    ),
                );
        }
        // Rungs are checked against `attempts` as written, even when another
        // part of `schedule` is wrong, so that one run shows every error.
        let attempts = (1..=MAX_ATTEMPTS)
            .contains(&raw.schedule.attempts)
            .then_some(raw.schedule.attempts);
        // Extraction attributes live for the pass; the lookup's for the
        // record: both are there for the recipients, the message and the
        // actions. Each action list adds what its earlier actions set.
        let extracted: Vec<String> = raw
            .extraction
            .integrations
            .iter()
            .flat_map(|i| local_keys(&i.attributes))
            .collect();
        let looked_up = raw
            .recipients
            .lookup
            .iter()
            .flat_map(|l| local_keys(&l.attributes));
        let base: Vec<String> = extracted.into_iter().chain(looked_up).collect();
        self.locals_before(base);
        let recipients = self.recipients(&raw.recipients, root.key("recipients"), attempts);
        let message = self.message(&raw.message, root.key("message"));
        let after_each_attempt =
            self.actions(&raw.after_each_attempt, root.key("after_each_attempt"));
        let after_all_attempts =
            self.actions(&raw.after_all_attempts, root.key("after_all_attempts"));
        let on_resolved = self.actions(&raw.on_resolved, root.key("on_resolved"));
        Some(Followup {
            id: raw.id.clone(),
            name: raw.name.clone(),
            status: raw.status,
            polling: polling?,
            extraction: extraction?,
            recipients: recipients?,
            message: message?,
            schedule: schedule?,
            after_each_attempt: after_each_attempt?,
            after_all_attempts: after_all_attempts?,
            on_resolved: on_resolved?,
        })
    }

    fn id(&mut self, raw: &Definition, root: At) {
        let at = root.key("id");
        if !is_id(&raw.id) {
            self.c.error(
                at,
                "id",
                format!(
                    "id `{}` must match [a-z0-9][a-z0-9-]* (lowercase letters, digits, dashes)",
                    raw.id
                ),
            );
        } else if raw.id == RESERVED_ID {
            self.c.error(at, "id", reserved_id_message());
        }
        let stem = self
            .c
            .file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if raw.id != stem {
            self.c.error(
                at,
                "id-file",
                format!("id `{}` must equal the file's name: rename the file to `{}.yaml` or the id to `{stem}`", raw.id, raw.id),
            );
        }
    }

    fn frequency(&mut self, at: At, text: &str, what: &str) -> Option<Duration> {
        frequency(text, what)
            .map_err(|(code, e)| self.c.error(at, code, e))
            .ok()
    }

    fn polling(&mut self, raw: &model::Polling, at: At) -> Option<Polling> {
        let every = self.frequency(at.key("every"), &raw.every, "polling");
        if !(1..=MAX_RESOLVE_AFTER).contains(&raw.resolve_after) {
            self.c.error(
                at.key("resolve_after"),
                "resolve-after-range",
                format!(
                    "`resolve_after` is {}; it must be between 1 and {MAX_RESOLVE_AFTER} polls",
                    raw.resolve_after
                ),
            );
        }
        if raw.max_records == 0 {
            self.c.error(
                at.key("max_records"),
                "max-records",
                "`max_records` must be at least 1",
            );
        }
        Some(Polling {
            every: every?,
            first_poll: raw.first_poll,
            resolve_after: raw.resolve_after,
            max_records: raw.max_records,
        })
    }

    fn extraction(&mut self, raw: &model::Extraction, at: At) -> Option<Extraction> {
        if raw.integrations.is_empty() {
            self.c.error(
                at.key("integrations"),
                "integrations",
                "`integrations` needs at least one integration: a `request`, `file` or `command`",
            );
        }
        let integrations: Vec<Option<Integration>> = raw
            .integrations
            .iter()
            .enumerate()
            .map(|(i, integration)| {
                // An integration reads what the earlier ones define.
                self.locals_before(
                    raw.integrations[..i]
                        .iter()
                        .flat_map(|earlier| local_keys(&earlier.attributes)),
                );
                self.integration(
                    integration,
                    at.key("integrations").index(i),
                    i,
                    EXTRACTION,
                    true,
                )
            })
            .collect();
        let loop_path = LoopPath::parse(&raw.loop_)
            .map_err(|e| self.c.jsonpath_error(at.key("loop"), &raw.loop_, e))
            .ok();
        let reconciliation_id = self
            .c
            .json_path(at.key("reconciliation_id"), &raw.reconciliation_id);
        Some(Extraction {
            integrations: integrations.into_iter().collect::<Option<_>>()?,
            loop_path: loop_path?,
            reconciliation_id: reconciliation_id?,
        })
    }

    /// One integration: exactly one of request / file / command.
    fn integration(
        &mut self,
        raw: &model::Integration,
        at: At,
        index: usize,
        allowed: Allowed,
        may_paginate: bool,
    ) -> Option<Integration> {
        let source = self.source(
            at,
            &raw.request,
            &raw.file,
            &raw.command,
            &raw.timeout,
            allowed,
        );
        let paginate = match &raw.paginate {
            Some(p) if !may_paginate => {
                self.c.key_error(
                    at.key("paginate"),
                    "paginate",
                    "`paginate` applies only to an extraction's integrations",
                );
                None
            }
            Some(_) if raw.request.is_none() => {
                self.c.key_error(
                    at.key("paginate"),
                    "paginate",
                    "`paginate` applies only to a `request`",
                );
                None
            }
            Some(p) => Some(self.paginate(p, at.key("paginate"))?),
            None => None,
        };
        let attributes = self.attributes(&raw.attributes, at.key("attributes"));
        Some(Integration {
            id: raw.id.clone().unwrap_or_else(|| format!("#{}", index + 1)),
            source: source?,
            paginate,
            attributes: attributes?,
        })
    }

    fn source(
        &mut self,
        at: At,
        request: &Option<model::Request>,
        file: &Option<String>,
        command: &Option<Vec<String>>,
        timeout: &Option<String>,
        allowed: Allowed,
    ) -> Option<Source> {
        let given = [request.is_some(), file.is_some(), command.is_some()]
            .into_iter()
            .filter(|b| *b)
            .count();
        if given == 0 {
            self.c.error(
                at,
                "integration-kind",
                "an integration needs one of `request` (HTTP), `file` (a local JSON file) or `command` (argv)",
            );
            return None;
        }
        if given > 1 {
            // Point at the kind that should not be there: the later one.
            let kinds = at.present(&["request", "file", "command"]);
            self.c.key_error(
                at.key(kinds[1]),
                "integration-kind",
                format!(
                    "an integration takes exactly one of `request`, `file` and `command`, not both `{}` and `{}`",
                    kinds[0], kinds[1]
                ),
            );
            return None;
        }
        if timeout.is_some() && command.is_none() {
            self.c.key_error(
                at.key("timeout"),
                "integration-key",
                "`timeout` applies only to a `command`; a request has `timeouts`",
            );
        }
        if let Some(r) = request {
            return Some(Source::Request(Box::new(self.request(
                r,
                at.key("request"),
                allowed,
            )?)));
        }
        if let Some(f) = file {
            let path = self.c.resolve(f);
            if !path.is_file() {
                self.c.warning(
                    at.key("file"),
                    "file-missing",
                    format!("`{}` does not exist (yet)", path.display()),
                );
            }
            return Some(Source::File(path));
        }
        let argv = command.as_ref()?;
        if argv.is_empty() || argv[0].trim().is_empty() {
            self.c.error(
                at.key("command"),
                "command",
                "`command` needs at least the program to run",
            );
            return None;
        }
        let argv: Option<Vec<Template>> = self
            .c
            .argv(at.key("command"), argv, allowed)
            .into_iter()
            .collect();
        let timeout = match timeout {
            Some(t) => self.c.duration(at.key("timeout"), t)?,
            None => Duration::from_secs(60),
        };
        Some(Source::Command {
            argv: argv?,
            timeout,
            dir: self.c.dir.clone(),
        })
    }

    fn request(&mut self, raw: &model::Request, at: At, allowed: Allowed) -> Option<Request> {
        let secret_ok = allowed.with_env();
        let url = self.url(at.key("url"), &raw.url, secret_ok);
        let query: Option<Vec<_>> = raw
            .query
            .iter()
            .map(|(k, v)| {
                Some((
                    k.clone(),
                    self.c.template(at.key("query").key(k), v, secret_ok)?,
                ))
            })
            .collect();
        let headers: Option<Vec<_>> = raw
            .headers
            .iter()
            .map(|(k, v)| {
                Some((
                    k.clone(),
                    self.c.template(at.key("headers").key(k), v, secret_ok)?,
                ))
            })
            .collect();
        let body = raw
            .body
            .as_ref()
            .map(|b| self.body(b, at.key("body"), allowed));
        let auth = raw
            .auth
            .as_ref()
            .map(|a| self.auth(a, at.key("auth"), secret_ok));
        let connect = self
            .c
            .duration(at.key("timeouts").key("connect"), &raw.timeouts.connect);
        let total = self
            .c
            .duration(at.key("timeouts").key("total"), &raw.timeouts.total);
        let max_response = units::parse_size(&raw.max_response)
            .map_err(|e| self.c.error(at.key("max_response"), "size", e))
            .ok();
        let ca_file = raw.ca_file.as_deref().map(|f| {
            let path = self.c.resolve(f);
            if !path.is_file() {
                self.c.warning(
                    at.key("ca_file"),
                    "file-missing",
                    format!("`{}` does not exist", path.display()),
                );
            }
            path
        });
        Some(Request {
            method: raw.method,
            url: url?,
            query: query?,
            headers: headers?,
            body: body.map(|b| b.ok_or(())).transpose().ok()?,
            auth: auth.map(|a| a.ok_or(())).transpose().ok()?,
            connect_timeout: connect?,
            total_timeout: total?,
            max_response: max_response?,
            ca_file,
        })
    }

    /// A URL template: it must be http(s). When it starts with a tenant
    /// attribute, that attribute's value is checked.
    fn url(&mut self, at: At, source: &str, allowed: Allowed) -> Option<Template> {
        let template = self.c.template(at, source, allowed)?;
        let start: Option<String> = if template.starts_with_insert() {
            let first = template.inserts().next()?;
            match first.path.scope {
                Scope::Global => self
                    .tenant
                    .global(&first.path)
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => None,
            }
        } else {
            Some(source.to_owned())
        };
        if let Some(start) = start {
            let lower = start.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                self.c.error(
                    at,
                    "url",
                    format!("`{source}` is not an http:// or https:// URL (use `file:` for a local file)"),
                );
                return None;
            }
        }
        Some(template)
    }

    fn body(&mut self, value: &Value, at: At, allowed: Allowed) -> Option<Body> {
        Some(match value {
            Value::String(s) => Body::Template(self.c.template(at, s, allowed)?),
            Value::Array(items) => Body::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.body(v, at.index(i), allowed))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .collect::<Option<_>>()?,
            ),
            Value::Object(map) => Body::Object(
                map.iter()
                    .map(|(k, v)| Some((k.clone(), self.body(v, at.key(k), allowed)?)))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .collect::<Option<_>>()?,
            ),
            other => Body::Literal(other.clone()),
        })
    }

    fn auth(&mut self, raw: &model::Auth, at: At, allowed: Allowed) -> Option<Auth> {
        use model::AuthKind;
        let kind = raw.kind.as_str();
        let (required, optional): (&[&str], &[&str]) = match raw.kind {
            AuthKind::Basic => (&["username", "password"], &[]),
            AuthKind::Bearer => (&["token"], &[]),
            AuthKind::Oauth2ClientCredentials => (
                &["token_url", "client_id", "client_secret"],
                &["scope", "client_auth"],
            ),
        };
        let fields: [(&str, Option<&String>); 7] = [
            ("username", raw.username.as_ref()),
            ("password", raw.password.as_ref()),
            ("token", raw.token.as_ref()),
            ("token_url", raw.token_url.as_ref()),
            ("client_id", raw.client_id.as_ref()),
            ("client_secret", raw.client_secret.as_ref()),
            ("scope", raw.scope.as_ref()),
        ];
        let mut ok = true;
        let present = fields
            .iter()
            .filter_map(|(k, v)| v.map(|_| *k))
            .chain(raw.client_auth.map(|_| "client_auth"));
        for key in present {
            if !required.contains(&key) && !optional.contains(&key) {
                self.c.key_error(
                    at.key(key),
                    "auth",
                    format!("key `{key}` does not apply to auth type `{kind}`"),
                );
                ok = false;
            }
        }
        for key in required {
            if fields.iter().any(|(k, v)| k == key && v.is_none()) {
                self.c
                    .error(at, "auth", format!("auth type `{kind}` needs `{key}`"));
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let mut t = |key: &str, value: Option<&String>| -> Option<Template> {
            self.c.template(at.key(key), value?, allowed)
        };
        Some(match raw.kind {
            AuthKind::Basic => Auth::Basic {
                username: t("username", raw.username.as_ref())?,
                password: t("password", raw.password.as_ref())?,
            },
            AuthKind::Bearer => Auth::Bearer {
                token: t("token", raw.token.as_ref())?,
            },
            AuthKind::Oauth2ClientCredentials => {
                let scope = match &raw.scope {
                    Some(s) => Some(t("scope", Some(s))?),
                    None => None,
                };
                Auth::OAuth2ClientCredentials {
                    token_url: self.url(at.key("token_url"), raw.token_url.as_ref()?, allowed)?,
                    client_id: self.c.template(
                        at.key("client_id"),
                        raw.client_id.as_ref()?,
                        allowed,
                    )?,
                    client_secret: self.c.template(
                        at.key("client_secret"),
                        raw.client_secret.as_ref()?,
                        allowed,
                    )?,
                    scope,
                    client_auth: raw.client_auth.unwrap_or_default(),
                }
            }
        })
    }

    fn paginate(&mut self, raw: &model::Paginate, at: At) -> Option<Paginate> {
        use model::PaginateKind as K;
        let kind = raw.kind.as_str();
        let (required, optional): (&[&str], &[&str]) = match raw.kind {
            K::Offset => (
                &["offset_param", "limit_param", "size"],
                &["total_path", "total_header"],
            ),
            K::Cursor => (&["path"], &["param", "body_path", "stop_path", "more_path"]),
            K::NextUrl => (&["path"], &["stop_path", "more_path"]),
            K::LinkHeader => (&[], &[]),
        };
        let present: Vec<&str> = [
            ("offset_param", raw.offset_param.is_some()),
            ("limit_param", raw.limit_param.is_some()),
            ("size", raw.size.is_some()),
            ("total_path", raw.total_path.is_some()),
            ("total_header", raw.total_header.is_some()),
            ("path", raw.path.is_some()),
            ("param", raw.param.is_some()),
            ("stop_path", raw.stop_path.is_some()),
            ("more_path", raw.more_path.is_some()),
            ("body_path", raw.body_path.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        let mut ok = true;
        for key in &present {
            if !required.contains(key) && !optional.contains(key) {
                self.c.key_error(
                    at.key(key),
                    "paginate",
                    format!("key `{key}` does not apply to pagination type `{kind}`"),
                );
                ok = false;
            }
        }
        for key in required {
            if !present.contains(key) {
                self.c.error(
                    at,
                    "paginate",
                    format!("pagination type `{kind}` needs `{key}`"),
                );
                ok = false;
            }
        }
        if raw.kind == K::Cursor && raw.param.is_some() == raw.body_path.is_some() {
            let message = "pagination type `cursor` needs exactly one of `param` (a query parameter) and `body_path` (a key of the POST body)";
            match at.present(&["param", "body_path"])[..] {
                [_, second] => self.c.key_error(at.key(second), "paginate", message),
                _ => self.c.error(at, "paginate", message),
            }
            ok = false;
        }
        // Each pair says the same thing two ways; both at once would leave
        // the reader guessing which wins.
        for (pair, message) in [
            (
                ["stop_path", "more_path"],
                "give at most one of `stop_path` (stop when it selects true) and `more_path` (go on only while it selects true)",
            ),
            (
                ["total_path", "total_header"],
                "give at most one of `total_path` (the total in the body) and `total_header` (the total in a response header)",
            ),
        ] {
            if let [_, second] = at.present(&pair)[..] {
                self.c.key_error(at.key(second), "paginate", message);
                ok = false;
            }
        }
        if raw.size == Some(0) {
            self.c
                .error(at.key("size"), "paginate", "`size` must be at least 1");
            ok = false;
        }
        if raw.max_pages == 0 {
            self.c.error(
                at.key("max_pages"),
                "paginate",
                "`max_pages` must be at least 1",
            );
            ok = false;
        }
        let mut path = |key: &str, value: &Option<String>| -> Option<Option<JsonPath>> {
            match value {
                Some(p) => self.c.json_path(at.key(key), p).map(Some),
                None => Some(None),
            }
        };
        let total_path = path("total_path", &raw.total_path);
        let cursor_path = path("path", &raw.path);
        let stop_path = path("stop_path", &raw.stop_path);
        let more_path = path("more_path", &raw.more_path);
        if !ok {
            return None;
        }
        let end = match (stop_path?, more_path?) {
            (Some(stop), _) => Some(LastPage::Stop(stop)),
            (None, Some(more)) => Some(LastPage::More(more)),
            (None, None) => None,
        };
        let kind = match raw.kind {
            K::Offset => PaginateKind::Offset {
                offset_param: raw.offset_param.clone()?,
                limit_param: raw.limit_param.clone()?,
                size: raw.size?,
                total: match (total_path?, &raw.total_header) {
                    (Some(path), _) => Some(Total::Path(path)),
                    (None, Some(header)) => Some(Total::Header(header.clone())),
                    (None, None) => None,
                },
            },
            K::Cursor => PaginateKind::Cursor {
                path: cursor_path??,
                param: match (&raw.param, &raw.body_path) {
                    (Some(p), _) => CursorTarget::Query(p.clone()),
                    (None, Some(b)) => CursorTarget::Body(b.clone()),
                    (None, None) => return None,
                },
                end,
            },
            K::NextUrl => PaginateKind::NextUrl {
                path: cursor_path??,
                end,
            },
            K::LinkHeader => PaginateKind::LinkHeader,
        };
        Some(Paginate {
            kind,
            max_pages: raw.max_pages,
        })
    }

    /// `local.NAME: JSONPath` pairs.
    fn attributes(
        &mut self,
        raw: &std::collections::BTreeMap<String, String>,
        at: At,
    ) -> Option<Vec<(String, JsonPath)>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (key, path) in raw {
            let name = match key.strip_prefix("local.") {
                Some(name) if is_name(name) => name,
                _ => {
                    self.c.key_error(
                        at.key(key),
                        "attribute-name",
                        format!("attribute `{key}` must be named `local.NAME`: values from a response live for one pass"),
                    );
                    ok = false;
                    continue;
                }
            };
            match self.c.json_path(at.key(key), path) {
                Some(p) => out.push((name.to_owned(), p)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn selectors(
        &mut self,
        raw: &Option<model::OneOrMany>,
        at: At,
        groups: bool,
    ) -> Option<Vec<Selector>> {
        let Some(raw) = raw else {
            return Some(Vec::new());
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, value) in raw.values().into_iter().enumerate() {
            let at = at.step(raw.step(i));
            if value.trim_start().starts_with('$') {
                match self.c.json_path(at, value) {
                    Some(p) => out.push(Selector::Path(p)),
                    None => ok = false,
                }
            } else if value.trim().is_empty() {
                self.c
                    .error(at, "recipients", "a user or group value must not be empty");
                ok = false;
            } else {
                if groups && self.tenant.loaded && !self.tenant.groups.contains_key(value) {
                    let hint = self
                        .c
                        .hint(value, self.tenant.groups.keys().map(String::as_str));
                    self.c.error(
                        at,
                        "unknown-group",
                        format!("group `{value}` is not defined in tenant.yaml{hint}"),
                    );
                    ok = false;
                }
                out.push(Selector::Literal(value.to_owned()));
            }
        }
        ok.then_some(out)
    }

    fn recipients(
        &mut self,
        raw: &model::Recipients,
        at: At,
        attempts: Option<u32>,
    ) -> Option<Recipients> {
        let (users, groups) = self.people(&raw.user, &raw.group, at, "`recipients`");
        let lookup = raw
            .lookup
            .as_ref()
            .map(|l| self.lookup(l, at.key("lookup")));
        let mut escalate = Vec::new();
        for (i, rung) in raw.escalate.iter().enumerate() {
            escalate.push(self.rung(rung, at.key("escalate").index(i), attempts));
        }
        Some(Recipients {
            users: users?,
            groups: groups?,
            lookup: lookup.map(|l| l.ok_or(())).transpose().ok()?,
            escalate: escalate.into_iter().collect::<Option<_>>()?,
        })
    }

    /// The `user` and `group` values of `what`, at least one of them.
    fn people(
        &mut self,
        user: &Option<model::OneOrMany>,
        group: &Option<model::OneOrMany>,
        at: At,
        what: &str,
    ) -> (Option<Vec<Selector>>, Option<Vec<Selector>>) {
        if user.is_none() && group.is_none() {
            self.c.error(
                at,
                "recipients",
                format!("{what} needs at least one of `user` and `group`"),
            );
        }
        (
            self.selectors(user, at.key("user"), false),
            self.selectors(group, at.key("group"), true),
        )
    }

    fn lookup(&mut self, raw: &model::Lookup, at: At) -> Option<Lookup> {
        let source = self.source(
            at,
            &raw.request,
            &raw.file,
            &raw.command,
            &raw.timeout,
            LOOKUP,
        );
        let user = match &raw.user {
            Some(p) => Some(self.c.json_path(at.key("user"), p)?),
            None => None,
        };
        let attributes = self.attributes(&raw.attributes, at.key("attributes"));
        Some(Lookup {
            source: source?,
            user,
            attributes: attributes?,
        })
    }

    fn rung(&mut self, raw: &model::Rung, at: At, attempts: Option<u32>) -> Option<Rung> {
        let max = attempts.unwrap_or(MAX_ATTEMPTS);
        if !(1..=max).contains(&raw.from_attempt) {
            self.c.error(
                at.key("from_attempt"),
                "from-attempt-range",
                format!(
                    "`from_attempt` is {}; it must be between 1 and `schedule.attempts` ({max})",
                    raw.from_attempt
                ),
            );
        }
        let (users, groups) = self.people(&raw.user, &raw.group, at, "an escalation rung");
        let channel = raw
            .channel
            .as_ref()
            .and_then(|ch| self.channel_name(at.key("channel"), ch));
        let text = match &raw.text {
            Some(t) => Some(self.c.template(at.key("text"), t, MESSAGE)?),
            None => None,
        };
        if raw.channel.is_some() && channel.is_none() {
            return None;
        }
        Some(Rung {
            from_attempt: raw.from_attempt,
            users: users?,
            groups: groups?,
            channel,
            text,
        })
    }

    /// A channel named by a definition must be a channel of the tenant.
    fn channel_name(&mut self, at: At, name: &str) -> Option<String> {
        if self.tenant.channels.contains_key(name) {
            return Some(name.to_owned());
        }
        if !self.tenant.loaded || self.tenant.declared_channels.contains(name) {
            // tenant.yaml's own errors say what is wrong with it.
            return None;
        }
        self.c
            .error(at, "unknown-channel", unknown_channel(self.tenant, name));
        None
    }

    fn message(&mut self, raw: &model::Message, at: At) -> Option<Message> {
        if raw.text.is_none() && raw.card.is_none() && raw.image.is_none() {
            self.c.error(
                at,
                "message",
                "a message needs at least one of `text`, `card` and `image`",
            );
        }
        let channel = if raw.channel == "last_used" {
            if raw.fallback_channel.is_none() {
                self.c.error(
                    at.key("channel"),
                    "last-used",
                    "`channel: last_used` needs a `fallback_channel` for users who never chatted",
                );
            }
            Some(ChannelRef::LastUsed)
        } else {
            self.channel_name(at.key("channel"), &raw.channel)
                .map(ChannelRef::Named)
        };
        let fallback_channel = match &raw.fallback_channel {
            Some(f) if f == "last_used" => {
                self.c.error(
                    at.key("fallback_channel"),
                    "last-used",
                    "`fallback_channel` must name a channel, not `last_used`",
                );
                return None;
            }
            Some(f) => Some(self.channel_name(at.key("fallback_channel"), f)?),
            None => None,
        };
        let text = match &raw.text {
            Some(t) => Some(self.c.template(at.key("text"), t, MESSAGE)),
            None => None,
        };
        let card = raw
            .card
            .as_ref()
            .map(|card| self.card(card, at.key("card")));
        let image = raw.image.as_ref().map(|img| {
            let at = at.key("image");
            let url = self.url(at.key("url"), &img.url, MESSAGE);
            let alt = match &img.alt {
                Some(a) => Some(self.c.template(at.key("alt"), a, MESSAGE)?),
                None => None,
            };
            Some(Image { url: url?, alt })
        });
        let digest = match &raw.digest {
            Some(d) => {
                let at = at.key("digest");
                let title = self.c.template(at.key("title"), &d.title, DIGEST);
                let line = self.c.template(at.key("line"), &d.line, DIGEST);
                Some(Digest {
                    title: title?,
                    line: line?,
                })
            }
            None => None,
        };
        Some(Message {
            channel: channel?,
            fallback_channel,
            text: text.map(|t| t.ok_or(())).transpose().ok()?,
            card: card.map(|c| c.ok_or(())).transpose().ok()?,
            image: image.map(|i| i.ok_or(())).transpose().ok()?,
            digest,
            conversation: raw.conversation,
        })
    }

    fn card(&mut self, raw: &model::Card, at: At) -> Option<Card> {
        if raw.title.is_none()
            && raw.text.is_none()
            && raw.fields.is_empty()
            && raw.actions.is_empty()
        {
            self.c.error(
                at,
                "card",
                "a card needs at least one of `title`, `text`, `fields` and `actions`",
            );
        }
        let t = |c: &mut Checker, key: &str, v: &Option<String>| -> Option<Option<Template>> {
            match v {
                Some(v) => c.template(at.key(key), v, MESSAGE).map(Some),
                None => Some(None),
            }
        };
        let title = t(self.c, "title", &raw.title);
        let text = t(self.c, "text", &raw.text);
        let fields: Vec<Option<(Template, Template)>> = raw
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let at = at.key("fields").index(i);
                let label = self.c.template(at.key("label"), &f.label, MESSAGE);
                let value = self.c.template(at.key("value"), &f.value, MESSAGE);
                Some((label?, value?))
            })
            .collect();
        let actions: Vec<Option<Button>> = raw
            .actions
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let at = at.key("actions").index(i);
                let label = self.c.template(at.key("label"), &b.label, MESSAGE);
                let url = self.url(at.key("url"), &b.url, MESSAGE);
                Some(Button {
                    label: label?,
                    url: url?,
                    style: b.style,
                })
            })
            .collect();
        Some(Card {
            title: title?,
            text: text?,
            fields: fields.into_iter().collect::<Option<_>>()?,
            actions: actions.into_iter().collect::<Option<_>>()?,
        })
    }

    fn schedule(&mut self, raw: &model::Schedule, at: At) -> Option<Schedule> {
        let every = self.frequency(at.key("every"), &raw.every, "notification");
        if let Err(message) = attempts(raw.attempts.into()) {
            self.c.error(at.key("attempts"), "attempts-range", message);
        }
        if raw.max_sends_per_pass == Some(0) {
            self.c.error(
                at.key("max_sends_per_pass"),
                "max-sends",
                "`max_sends_per_pass` must be at least 1",
            );
        }
        let window = match &raw.window {
            Some(w) => {
                let at = at.key("window");
                match Window::new(&w.days, &w.hours, &w.timezone) {
                    Ok(window) => Some(window),
                    Err(errors) => {
                        for e in errors {
                            let (key, message) = match e {
                                WindowError::Days(m) => ("days", m),
                                WindowError::Hours(m) => ("hours", m),
                                WindowError::Timezone(m) => ("timezone", m),
                            };
                            self.c.error(at.key(key), "window", message);
                        }
                        return None;
                    }
                }
            }
            None => None,
        };
        ((1..=MAX_ATTEMPTS).contains(&raw.attempts)).then_some(())?;
        Some(Schedule {
            every: every?,
            attempts: raw.attempts,
            window,
            max_sends_per_pass: raw.max_sends_per_pass,
        })
    }

    fn actions(&mut self, raw: &[model::Action], at: At) -> Option<Vec<Action>> {
        let before = self.c.locals.as_ref().map(|l| l.before.clone());
        let actions: Vec<Option<Action>> = raw
            .iter()
            .enumerate()
            .map(|(i, action)| {
                let checked = self.action(action, at.index(i));
                // What an action sets, the next ones read.
                self.locals_add(action_locals(action));
                checked
            })
            .collect();
        if let (Some(l), Some(before)) = (&mut self.c.locals, before) {
            l.before = before;
        }
        actions.into_iter().collect()
    }

    fn action(&mut self, raw: &model::Action, at: At) -> Option<Action> {
        match (&raw.set, &raw.integration) {
            (Some(set), None) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (key, value) in set {
                    let at = at.key("set").key(key);
                    let Some((scope, name)) = attribute_name(key) else {
                        self.c.key_error(
                            at,
                            "attribute-name",
                            format!(
                                "`{key}` must be named `local.NAME`, `global.NAME` or `custom.NAME`"
                            ),
                        );
                        ok = false;
                        continue;
                    };
                    if scope == AttributeScope::Global {
                        if self.tenant.attributes.contains_key(name) {
                            self.c.key_error(
                                at,
                                "global-set",
                                format!(
                                    "`global.{name}` is given in tenant.yaml, so an action may not set it: remove it from tenant.yaml's attributes or set another name"
                                ),
                            );
                            ok = false;
                        }
                        self.globals_set.push(name.to_owned());
                    }
                    let allowed = if scope == AttributeScope::Custom {
                        SET_CUSTOM
                    } else {
                        ACTION
                    };
                    match self.c.template(at, value, allowed) {
                        Some(t) => out.push((scope, name.to_owned(), t)),
                        None => ok = false,
                    }
                }
                ok.then_some(Action::Set(out))
            }
            (None, Some(integration)) => self
                .integration(integration, at.key("integration"), 0, ACTION, false)
                .map(|i| Action::Integration(Box::new(i))),
            (Some(_), Some(_)) => {
                self.c.key_error(
                    at.key(at.present(&["set", "integration"])[1]),
                    "action",
                    "an action takes exactly one of `set` and `integration`, not both",
                );
                None
            }
            (None, None) => {
                self.c.error(
                    at,
                    "action",
                    "an action takes one of `set` and `integration`",
                );
                None
            }
        }
    }
}

/// The `local.*` names (without `local.`) of an `attributes` mapping.
fn local_keys(attributes: &BTreeMap<String, String>) -> impl Iterator<Item = String> + '_ {
    attributes
        .keys()
        .filter_map(|k| k.strip_prefix("local.").map(str::to_owned))
}

/// The `local.*` names an action defines.
fn action_locals(action: &model::Action) -> Vec<String> {
    let set = action.set.iter().flat_map(local_keys);
    let integration = action
        .integration
        .iter()
        .flat_map(|i| local_keys(&i.attributes));
    set.chain(integration).collect()
}

/// Every `local.*` name a definition defines, with the step that does.
fn defined_locals(raw: &Definition) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (i, integration) in raw.extraction.integrations.iter().enumerate() {
        let id = integration
            .id
            .clone()
            .unwrap_or_else(|| format!("#{}", i + 1));
        for name in local_keys(&integration.attributes) {
            out.entry(name)
                .or_insert_with(|| format!("extraction integration `{id}`"));
        }
    }
    if let Some(lookup) = &raw.recipients.lookup {
        for name in local_keys(&lookup.attributes) {
            out.entry(name).or_insert_with(|| "the lookup".to_owned());
        }
    }
    for (list, actions) in [
        ("after_each_attempt", &raw.after_each_attempt),
        ("after_all_attempts", &raw.after_all_attempts),
        ("on_resolved", &raw.on_resolved),
    ] {
        for (i, action) in actions.iter().enumerate() {
            for name in action_locals(action) {
                out.entry(name).or_insert_with(|| format!("`{list}[{i}]`"));
            }
        }
    }
    out
}

// The rules below are also asked one answer at a time by `create`'s
// wizard, so that a wrong answer gets the message `validate` would give.

/// A polling or notification frequency (`what`): its text, then its range.
/// An error comes with its diagnostic code.
pub fn frequency(text: &str, what: &str) -> Result<Duration, (&'static str, String)> {
    let d = units::parse_frequency(text).map_err(|e| ("frequency", e))?;
    if d < MIN_FREQUENCY || d > MAX_FREQUENCY {
        return Err((
            "frequency-range",
            format!(
                "{what} frequency `{}` is out of range: it must be between 10m and 5d (7200 minutes)",
                text.trim()
            ),
        ));
    }
    Ok(d)
}

/// `schedule.attempts`: 1 ..= [`MAX_ATTEMPTS`].
pub fn attempts(attempts: i64) -> Result<(), String> {
    if (1..=i64::from(MAX_ATTEMPTS)).contains(&attempts) {
        Ok(())
    } else {
        Err(format!(
            "`attempts` is {attempts}; it must be between 1 and {MAX_ATTEMPTS}"
        ))
    }
}

/// What is said of a channel name the tenant does not define.
pub fn unknown_channel(tenant: &Tenant, name: &str) -> String {
    let defined: Vec<&str> = tenant.channels.keys().map(String::as_str).collect();
    format!(
        "channel `{name}` is not defined in tenant.yaml (defined: {}){}",
        if defined.is_empty() {
            "none".to_owned()
        } else {
            defined.join(", ")
        },
        did_you_mean(name, defined.iter().copied())
    )
}

/// `local.x`, `global.x`, `custom.x`.
pub fn attribute_name(key: &str) -> Option<(AttributeScope, &str)> {
    let (scope, name) = key.split_once('.')?;
    let scope = match scope {
        "local" => AttributeScope::Local,
        "global" => AttributeScope::Global,
        "custom" => AttributeScope::Custom,
        _ => return None,
    };
    is_name(name).then_some((scope, name))
}

/// The one id no follow-up may have: `<dir>/tenant.yaml` is the tenant,
/// so a follow-up `tenant` would be written over it (by `import`,
/// `create`, `copy`) or be taken for it.
pub const RESERVED_ID: &str = "tenant";

/// Why [`RESERVED_ID`] is refused, the same words wherever it is.
pub fn reserved_id_message() -> String {
    format!(
        "the id `{RESERVED_ID}` is reserved: `{RESERVED_ID}.yaml` is the tenant file; choose another id"
    )
}

/// `[a-z0-9][a-z0-9-]*`
pub fn is_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The stem a definition file must have.
pub fn stem(file: &Path) -> &str {
    file.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
}
