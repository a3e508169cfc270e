//! Literal secrets: what may never leave a tenant in a bundle.
//!
//! A setting that holds a secret must take it from the environment
//! (`@{env.NAME}`), so that a bundle carries the reference and never the
//! value. A setting is secret by its key (tenant: `webhook_url`,
//! `bot_token`, `smtp_url`, `signing_secret`; auth: `password`, `token`,
//! `client_secret`), by a header or parameter name that says so
//! (`Authorization`, `X-Api-Key`, `token`, `sig`...), or by what a URL
//! carries: a password in its user part, or a key-like query parameter
//! (Google Chat's `key` and `token`, Teams' `sig`). Each is refused at
//! export (and at import, for a hand-made bundle) naming the place.

use crate::definition::model::{self, Definition, Integration, Request};
use crate::definition::tenant::is_secret_key;
use crate::template::{Piece, Scope, Template};

/// Stands for an `@{env.*}` insert in the masked text of a value.
const ENV: char = '\u{1}';
/// Stands for any other insert.
const REF: char = '\u{2}';

/// Words that make a header, query parameter or flag name secret.
const SECRET_WORDS: &[&str] = &[
    "auth",
    "authorization",
    "apikey",
    "code",
    "cookie",
    "credential",
    "credentials",
    "key",
    "passwd",
    "password",
    "pwd",
    "secret",
    "session",
    "sig",
    "signature",
    "token",
];

/// Whether a header, query parameter or flag name names a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.contains(&lower.as_str())
        || lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| SECRET_WORDS.contains(&word))
}

/// Why `value` would put a secret in a bundle, if it would. `secret` says
/// whether the setting holds a secret by its key.
pub fn leak(value: &str, secret: bool) -> Option<String> {
    let masked = mask(value);
    let has_env = masked.contains(ENV);
    if secret && !has_env {
        return Some(
            "holds a secret written literally; write it as an `@{env.NAME}` reference".into(),
        );
    }
    url_leak(&masked)
}

/// The value with each insert replaced by one marker character; a value
/// that is not a template is all literal.
fn mask(value: &str) -> String {
    match Template::parse(value) {
        Ok(t) => t
            .pieces()
            .map(|p| match p {
                Piece::Literal(text) => text.replace([ENV, REF], ""),
                Piece::Insert(i) if i.path.scope == Scope::Env => ENV.to_string(),
                Piece::Insert(_) => REF.to_string(),
            })
            .collect(),
        Err(_) => value.to_owned(),
    }
}

/// A literal part that carries a secret: nothing but `@{env.*}` inserts.
fn is_literal(part: &str) -> bool {
    !part.is_empty() && !part.chars().all(|c| c == ENV)
}

fn url_leak(masked: &str) -> Option<String> {
    let (_, after_scheme) = masked.split_once("://")?;
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let authority = &after_scheme[..authority_end];
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
        && is_literal(password)
    {
        return Some(
            "holds a password written literally in its URL; write it as `@{env.NAME}`".into(),
        );
    }
    let query = after_scheme.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if is_secret_name(key) && is_literal(value) {
            return Some(format!(
                "holds the URL parameter `{key}` written literally; write its value as `@{{env.NAME}}`"
            ));
        }
    }
    None
}

/// An argv that passes a secret literally: `--token=abc`, `--password abc`.
fn argv_leak(argv: &[String]) -> Option<(usize, String)> {
    for (i, arg) in argv.iter().enumerate() {
        let Some(flag) = arg.strip_prefix('-') else {
            continue;
        };
        let flag = flag.trim_start_matches('-');
        let secret_value = match flag.split_once('=') {
            Some((name, value)) if is_secret_name(name) => Some((i, value)),
            Some(_) => None,
            None if is_secret_name(flag) => argv.get(i + 1).map(|v| (i + 1, v.as_str())),
            None => None,
        };
        if let Some((at, value)) = secret_value
            && is_literal(&mask(value))
        {
            return Some((
                at,
                format!("passes `{arg}` a secret written literally; write it as `@{{env.NAME}}`"),
            ));
        }
    }
    None
}

/// The literal secrets of a tenant channel; paths start at the channel.
pub fn channel_leaks(channel: &model::Channel) -> Vec<Leak> {
    let mut out = Vec::new();
    let mut check = |path: Vec<String>, value: &str, secret: bool| {
        if let Some(why) = leak(value, secret) {
            out.push(Leak { path, why });
        }
    };
    let settings = [
        ("webhook_url", &channel.webhook_url),
        ("bot_token", &channel.bot_token),
        ("smtp_url", &channel.smtp_url),
        ("from", &channel.from),
        ("url", &channel.url),
        ("signing_secret", &channel.signing_secret),
    ];
    for (key, value) in settings {
        if let Some(value) = value {
            check(vec![key.to_owned()], value, is_secret_key(key));
        }
    }
    for (name, value) in &channel.headers {
        check(
            vec!["headers".to_owned(), name.clone()],
            value,
            is_secret_name(name),
        );
    }
    if let Some((i, why)) = channel.command.as_deref().and_then(argv_leak) {
        out.push(Leak {
            path: vec!["command".to_owned(), i.to_string()],
            why,
        });
    }
    out
}

/// A literal secret in a definition: where (a YAML path) and why.
pub struct Leak {
    pub path: Vec<String>,
    pub why: String,
}

impl Leak {
    /// `extraction.integrations[0].request.auth.password`
    pub fn place(&self) -> String {
        let mut out = String::new();
        for step in &self.path {
            if step.parse::<usize>().is_ok() {
                out.push_str(&format!("[{step}]"));
            } else {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(step);
            }
        }
        out
    }
}

/// The literal secrets of a definition: in every integration's request
/// (URL, query, headers, auth) and command.
pub fn definition_leaks(raw: &Definition) -> Vec<Leak> {
    let mut out = Vec::new();
    let base = |steps: &[&str]| steps.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for (i, integration) in raw.extraction.integrations.iter().enumerate() {
        let at = base(&["extraction", "integrations", &i.to_string()]);
        integration_leaks(integration, at, &mut out);
    }
    if let Some(lookup) = &raw.recipients.lookup {
        let at = base(&["recipients", "lookup"]);
        if let Some(request) = &lookup.request {
            request_leaks(request, with(&at, "request"), &mut out);
        }
        if let Some(argv) = &lookup.command {
            command_leaks(argv, with(&at, "command"), &mut out);
        }
    }
    for (list, key) in [
        (&raw.after_each_attempt, "after_each_attempt"),
        (&raw.after_all_attempts, "after_all_attempts"),
        (&raw.on_resolved, "on_resolved"),
    ] {
        for (i, action) in list.iter().enumerate() {
            if let Some(integration) = &action.integration {
                let at = base(&[key, &i.to_string(), "integration"]);
                integration_leaks(integration, at, &mut out);
            }
        }
    }
    out
}

fn with(path: &[String], step: &str) -> Vec<String> {
    let mut p = path.to_vec();
    p.push(step.to_owned());
    p
}

fn integration_leaks(integration: &Integration, at: Vec<String>, out: &mut Vec<Leak>) {
    if let Some(request) = &integration.request {
        request_leaks(request, with(&at, "request"), out);
    }
    if let Some(argv) = &integration.command {
        command_leaks(argv, with(&at, "command"), out);
    }
}

fn command_leaks(argv: &[String], at: Vec<String>, out: &mut Vec<Leak>) {
    if let Some((i, why)) = argv_leak(argv) {
        out.push(Leak {
            path: with(&at, &i.to_string()),
            why,
        });
    }
}

fn request_leaks(request: &Request, at: Vec<String>, out: &mut Vec<Leak>) {
    let mut check = |path: Vec<String>, value: &str, secret: bool| {
        if let Some(why) = leak(value, secret) {
            out.push(Leak { path, why });
        }
    };
    check(with(&at, "url"), &request.url, false);
    for (name, value) in &request.query {
        check(with(&with(&at, "query"), name), value, is_secret_name(name));
    }
    for (name, value) in &request.headers {
        check(
            with(&with(&at, "headers"), name),
            value,
            is_secret_name(name),
        );
    }
    if let Some(auth) = &request.auth {
        let at = with(&at, "auth");
        for (key, value) in [
            ("password", &auth.password),
            ("token", &auth.token),
            ("client_secret", &auth.client_secret),
        ] {
            if let Some(value) = value {
                check(with(&at, key), value, true);
            }
        }
        if let Some(url) = &auth.token_url {
            check(with(&at, "token_url"), url, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_pass_and_literals_are_refused() {
        assert_eq!(leak("@{env.SLACK_WEBHOOK_URL}", true), None);
        assert_eq!(leak("Bearer @{env.BOT_TOKEN}", true), None);
        assert_eq!(
            leak("smtp://desk:@{env.SMTP_PASSWORD}@mail.acme.com:587", true),
            None
        );
        assert!(leak("https://hooks.slack.com/services/T0/B0/XXXX", true).is_some());
        assert!(leak("Bearer abc123", true).is_some());
        assert!(leak("@{global.slack_url}", true).is_some());
        assert!(
            leak("smtp://desk:hunter2@mail.acme.com:587?x=@{env.X}", true)
                .unwrap()
                .contains("password")
        );
        // Not secret by key, but the URL carries a key.
        assert_eq!(leak("https://bot.acme.com/notify", false), None);
        assert!(
            leak(
                "https://chat.googleapis.com/v1/spaces/S/messages?key=AIza&token=@{env.T}",
                false
            )
            .unwrap()
            .contains("`key`")
        );
        assert_eq!(
            leak(
                "https://chat.googleapis.com/v1/spaces/S/messages?key=@{env.K}&token=@{env.T}",
                false
            ),
            None
        );
        assert!(
            leak(
                "https://x.logic.azure.com/invoke?api-version=1&sp=%2Ftriggers&sig=abc",
                false
            )
            .is_some()
        );
    }

    #[test]
    fn secret_names() {
        for name in [
            "Authorization",
            "X-Api-Key",
            "access_token",
            "sig",
            "Cookie",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["Accept", "X-Design", "sysparm_query", "api-version", "sp"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn command_arguments() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(argv_leak(&argv(&["page", "--token", "abc"])).is_some());
        assert!(argv_leak(&argv(&["page", "--token=abc"])).is_some());
        assert!(argv_leak(&argv(&["page", "--token", "@{env.T}"])).is_none());
        assert!(argv_leak(&argv(&["page", "@{recipient.id}"])).is_none());
    }
}
