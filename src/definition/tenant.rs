//! The tenant: its channels, its directory of users and groups, its global
//! attributes (`tenant.yaml`), checked once and then read by everyone.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::channel::{self, Kind};
use crate::definition::check::{Allowed, At, Checker, FOLLOWUP_ALL};
use crate::definition::model::{self, ChannelKind, TenantFile};
use crate::definition::yaml::Node;
use crate::template::{Scope, Template};
use crate::units;

#[derive(Debug, Clone, Default)]
pub struct Tenant {
    /// `global.*` as written in tenant.yaml.
    pub attributes: Map<String, Value>,
    pub channels: BTreeMap<String, channel::Settings>,
    pub users: Vec<model::User>,
    /// Group id → its members (user and group ids) as written.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Every channel name written in tenant.yaml, valid or not: a definition
    /// that names a broken channel is not told the channel is missing.
    pub declared_channels: BTreeSet<String>,
    /// Whether tenant.yaml could be read at all. When not, its own error
    /// says why, and definitions are not checked against an empty tenant
    /// (which would report every channel and group they name).
    pub loaded: bool,
}

/// The keys each channel kind takes (besides `type`).
fn channel_keys(kind: ChannelKind) -> (&'static [&'static str], &'static [&'static str]) {
    // (required, optional); for slack one of webhook_url / bot_token is checked apart.
    match kind {
        ChannelKind::Slack => (
            &[],
            &["webhook_url", "bot_token", "api_url", "rate", "ca_file"],
        ),
        ChannelKind::Teams | ChannelKind::GoogleChat => (&["webhook_url"], &["rate", "ca_file"]),
        ChannelKind::Email => (&["smtp_url", "from"], &["rate", "ca_file"]),
        ChannelKind::Webhook => (
            &["url"],
            &["headers", "signing_secret", "rate", "ca_file", "timeout"],
        ),
        ChannelKind::Console => (&[], &[]),
        ChannelKind::File => (&["path"], &[]),
        ChannelKind::Command => (&["command"], &["timeout", "rate"]),
    }
}

const SETTINGS: Allowed = Allowed {
    scopes: &[Scope::Global],
    env: true,
    followup: &[],
    place: "a channel setting",
};

const COMMAND_ARGS: Allowed = Allowed {
    scopes: &[Scope::Global, Scope::Recipient, Scope::Followup],
    env: true,
    followup: FOLLOWUP_ALL,
    place: "a command channel's argv",
};

/// Names of channels, attributes and the like: `[A-Za-z0-9_-]+`.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks a parsed tenant file; diagnostics go to the checker.
pub fn check(raw: TenantFile, node: &Node, c: &mut Checker) -> Tenant {
    let root = At::root(node);
    if raw.tenant.trim().is_empty() {
        c.error(
            root.key("tenant"),
            "tenant",
            "`tenant` must name the installation (`acme-prod`)",
        );
    }
    for name in raw.attributes.keys() {
        if !is_name(name) {
            c.key_error(
                root.key("attributes").key(name),
                "attribute-name",
                format!("attribute name `{name}` may hold only letters, digits, `_` and `-`"),
            );
        }
    }

    let mut channels = BTreeMap::new();
    for (name, ch) in &raw.channels {
        let at = root.key("channels").key(name);
        if name == "last_used" {
            c.key_error(
                at,
                "channel-name",
                "`last_used` is reserved: it names the channel a user last chatted on",
            );
            continue;
        }
        if !is_name(name) {
            c.key_error(
                at,
                "channel-name",
                format!("channel name `{name}` may hold only letters, digits, `_` and `-`"),
            );
        }
        if let Some(channel) = check_channel(name, ch, at, c) {
            channels.insert(name.clone(), channel);
        }
    }

    let mut user_ids: HashMap<&str, usize> = HashMap::new();
    for (i, user) in raw.users.iter().enumerate() {
        let at = root.key("users").index(i);
        if user_ids.insert(user.id.as_str(), i).is_some() {
            c.error(
                at.key("id"),
                "duplicate-user",
                format!("user `{}` is defined twice", user.id),
            );
        }
        if let Some(last) = &user.last_channel
            && !raw.channels.contains_key(last)
        {
            let hint = c.hint(last, raw.channels.keys().map(String::as_str));
            c.error(
                at.key("last_channel"),
                "unknown-channel",
                format!("channel `{last}` is not defined in `channels`{hint}"),
            );
        }
        if let Some(tz) = &user.timezone
            && jiff::tz::TimeZone::get(tz).is_err()
        {
            c.error(
                at.key("timezone"),
                "timezone",
                format!("`{tz}` is not an IANA time zone"),
            );
        }
    }

    let mut groups = BTreeMap::new();
    for (i, group) in raw.groups.iter().enumerate() {
        let at = root.key("groups").index(i);
        if user_ids.contains_key(group.id.as_str()) {
            c.error(
                at.key("id"),
                "duplicate-group",
                format!("`{}` is both a user and a group", group.id),
            );
        }
        if groups
            .insert(group.id.clone(), group.members.clone())
            .is_some()
        {
            c.error(
                at.key("id"),
                "duplicate-group",
                format!("group `{}` is defined twice", group.id),
            );
        }
    }
    let component = components(&groups);
    for (i, group) in raw.groups.iter().enumerate() {
        for (j, member) in group.members.iter().enumerate() {
            let at = root.key("groups").index(i).key("members").index(j);
            if !user_ids.contains_key(member.as_str()) && !groups.contains_key(member) {
                let hint = c.hint(
                    member,
                    user_ids
                        .keys()
                        .copied()
                        .chain(groups.keys().map(String::as_str)),
                );
                c.error(
                    at,
                    "unknown-member",
                    format!("`{member}` is neither a user nor a group{hint}"),
                );
            } else if groups.contains_key(member)
                && component.get(member.as_str()) == component.get(group.id.as_str())
            {
                c.error(
                    at,
                    "group-cycle",
                    format!("group `{}` contains itself through `{member}`", group.id),
                );
            }
        }
    }

    Tenant {
        attributes: raw.attributes.into_iter().collect(),
        channels,
        users: raw.users,
        groups,
        declared_channels: raw.channels.keys().cloned().collect(),
        loaded: true,
    }
}

/// The strongly connected component of each group in the graph of group
/// membership (Tarjan's algorithm, with an explicit stack). A group that
/// names a group of its own component contains itself through it.
///
/// One walk for all groups: asking, for each member, whether it leads back
/// took minutes for a chain of 16,000 nested groups.
fn components(groups: &BTreeMap<String, Vec<String>>) -> HashMap<&str, usize> {
    const UNSEEN: usize = usize::MAX;
    let names: Vec<&str> = groups.keys().map(String::as_str).collect();
    let number: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let edges: Vec<Vec<usize>> = groups
        .values()
        .map(|members| {
            members
                .iter()
                .filter_map(|m| number.get(m.as_str()).copied())
                .collect()
        })
        .collect();
    let n = names.len();
    let (mut index, mut low) = (vec![UNSEEN; n], vec![0; n]);
    let mut on_stack = vec![false; n];
    let mut component = vec![UNSEEN; n];
    let (mut stack, mut next, mut components) = (Vec::new(), 0, 0);
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // (group, the next of its edges to follow)
        let mut walk = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&(v, e)) = walk.last() {
            if let Some(&w) = edges[v].get(e) {
                walk.last_mut().expect("not empty").1 += 1;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    walk.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            walk.pop();
            if let Some(&(u, _)) = walk.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = components;
                    if w == v {
                        break;
                    }
                }
                components += 1;
            }
        }
    }
    names.into_iter().zip(component).collect()
}

fn check_channel(
    name: &str,
    ch: &model::Channel,
    at: At,
    c: &mut Checker,
) -> Option<channel::Settings> {
    let (required, optional) = channel_keys(ch.kind);
    let present: Vec<&str> = [
        ("webhook_url", ch.webhook_url.is_some()),
        ("bot_token", ch.bot_token.is_some()),
        ("api_url", ch.api_url.is_some()),
        ("smtp_url", ch.smtp_url.is_some()),
        ("from", ch.from.is_some()),
        ("url", ch.url.is_some()),
        ("headers", !ch.headers.is_empty()),
        ("signing_secret", ch.signing_secret.is_some()),
        ("path", ch.path.is_some()),
        ("command", ch.command.is_some()),
        ("timeout", ch.timeout.is_some()),
        ("rate", ch.rate.is_some()),
        ("ca_file", ch.ca_file.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    let errors_before = c.diagnostics.len();
    let kind = ch.kind.as_str();
    for key in &present {
        if !required.contains(key) && !optional.contains(key) {
            c.key_error(
                at.key(key),
                "channel-key",
                format!("key `{key}` does not apply to a `{kind}` channel"),
            );
        }
    }
    for key in required {
        if !present.contains(key) {
            c.error(
                at,
                "channel-key",
                format!("{} `{kind}` channel needs `{key}`", article(kind)),
            );
        }
    }
    if ch.kind == ChannelKind::Slack && ch.webhook_url.is_some() == ch.bot_token.is_some() {
        let message = "a `slack` channel needs exactly one of `webhook_url` (a room) and `bot_token` (direct messages)";
        match at.present(&["webhook_url", "bot_token"])[..] {
            [_, second] => c.key_error(at.key(second), "channel-key", message),
            _ => c.error(at, "channel-key", message),
        }
    }
    if ch.api_url.is_some() && ch.bot_token.is_none() {
        c.key_error(
            at.key("api_url"),
            "channel-key",
            "`api_url` applies only to a `slack` channel with `bot_token`",
        );
    }

    let setting = |key: &str, value: &Option<String>, c: &mut Checker| -> Option<Template> {
        let value = value.as_ref()?;
        let t = c.template(at.key(key), value, SETTINGS)?;
        if is_secret_key(key) && t.inserts().next().is_none() {
            c.warning(
                at.key(key),
                "literal-secret",
                format!("`{key}` of channel `{name}` is written literally; keep secrets in the environment: `@{{env.NAME}}`"),
            );
        }
        Some(t)
    };
    let webhook_url = setting("webhook_url", &ch.webhook_url, c);
    let bot_token = setting("bot_token", &ch.bot_token, c);
    let api_url = setting("api_url", &ch.api_url, c);
    let smtp_url = setting("smtp_url", &ch.smtp_url, c);
    let from = setting("from", &ch.from, c);
    let url = setting("url", &ch.url, c);
    let signing_secret = setting("signing_secret", &ch.signing_secret, c);
    let headers = ch
        .headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.clone(),
                c.template(at.key("headers").key(k), v, SETTINGS)?,
            ))
        })
        .collect();
    let argv: Vec<Template> = match &ch.command {
        Some(argv) if argv.is_empty() => {
            c.error(
                at.key("command"),
                "command",
                "`command` needs at least the program to run",
            );
            Vec::new()
        }
        Some(argv) => c
            .argv(at.key("command"), argv, COMMAND_ARGS)
            .into_iter()
            .flatten()
            .collect(),
        None => Vec::new(),
    };
    let default_timeout = match ch.kind {
        ChannelKind::Command => channel::COMMAND_TIMEOUT,
        _ => channel::TOTAL_TIMEOUT,
    };
    let timeout = match &ch.timeout {
        Some(t) => c.duration(at.key("timeout"), t).unwrap_or(default_timeout),
        None => default_timeout,
    };
    let rate = ch.rate.as_ref().and_then(|r| {
        units::parse_rate(r)
            .map_err(|e| c.error(at.key("rate"), "rate", e))
            .ok()
    });
    if c.diagnostics[errors_before..].iter().any(|d| d.is_error()) {
        return None;
    }
    // The checks above make each kind's required keys present.
    let kind = match ch.kind {
        ChannelKind::Slack => match (webhook_url, bot_token) {
            (Some(webhook_url), None) => Kind::SlackWebhook { webhook_url },
            (None, Some(bot_token)) => Kind::SlackBot {
                bot_token,
                api_url: api_url.unwrap_or_else(|| {
                    Template::parse(channel::SLACK_API_URL).expect("a literal URL")
                }),
            },
            _ => return None,
        },
        ChannelKind::Teams => Kind::Teams {
            webhook_url: webhook_url?,
        },
        ChannelKind::GoogleChat => Kind::GoogleChat {
            webhook_url: webhook_url?,
        },
        ChannelKind::Email => Kind::Email {
            smtp_url: smtp_url?,
            from: from?,
        },
        ChannelKind::Webhook => Kind::Webhook {
            url: url?,
            headers,
            signing_secret,
            timeout,
        },
        ChannelKind::Console => Kind::Console,
        ChannelKind::File => Kind::File {
            path: c.resolve(ch.path.as_deref()?),
        },
        ChannelKind::Command => Kind::Command {
            argv,
            timeout,
            dir: c.resolve(""),
        },
    };
    Some(channel::Settings {
        kind,
        rate,
        ca_file: ch.ca_file.as_deref().map(|p| c.resolve(p)),
    })
}

/// `a` or `an`, for the kinds of channel.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Settings that hold a secret (or carry one in their URL).
pub fn is_secret_key(key: &str) -> bool {
    matches!(
        key,
        "webhook_url" | "bot_token" | "signing_secret" | "smtp_url"
    )
}

impl Tenant {
    /// A tenant with nothing in it, for a directory without tenant.yaml.
    pub fn empty() -> Tenant {
        Tenant::default()
    }

    /// A user by id or e-mail (case-insensitive for e-mail).
    pub fn user(&self, key: &str) -> Option<&model::User> {
        self.users.iter().find(|u| u.id == key).or_else(|| {
            self.users.iter().find(|u| {
                u.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(key))
            })
        })
    }

    /// The users of a group, through nested groups, each once, in order.
    pub fn group_members(&self, id: &str) -> Option<Vec<&model::User>> {
        // Depth first with an explicit stack of member lists, so that a long
        // chain of nested groups cannot overflow the stack.
        let mut seen: BTreeSet<&str> = BTreeSet::from([id]);
        let mut walk = vec![self.groups.get(id)?.iter()];
        let mut users: Vec<&model::User> = Vec::new();
        while let Some(members) = walk.last_mut() {
            let Some(member) = members.next() else {
                walk.pop();
                continue;
            };
            if let Some(nested) = self.groups.get(member) {
                if seen.insert(member) {
                    walk.push(nested.iter());
                }
            } else if let Some(u) = self.users.iter().find(|u| &u.id == member)
                && !users.iter().any(|x| x.id == u.id)
            {
                users.push(u);
            }
        }
        Some(users)
    }

    /// The value of a `global.*` path given in tenant.yaml.
    pub fn global(&self, path: &crate::template::Path) -> Option<&Value> {
        let (first, rest) = path.steps.split_first()?;
        let crate::template::Step::Key(name) = first else {
            return None;
        };
        rest.iter()
            .try_fold(self.attributes.get(name)?, |v, step| match step {
                crate::template::Step::Key(k) => v.get(k),
                crate::template::Step::Index(i) => v.get(i),
            })
            .filter(|v| !v.is_null())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(g, members)| {
                (
                    g.to_string(),
                    members.iter().map(|m| m.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn groups_in_a_cycle_share_a_component() {
        let g = groups(&[
            ("cab", &["alice", "leads"]),
            ("leads", &["bob", "cab"]),
            ("ops", &["leads", "ops"]),
            ("solo", &["carol"]),
        ]);
        let c = components(&g);
        assert_eq!(c["cab"], c["leads"]);
        assert_ne!(c["ops"], c["cab"]);
        assert_ne!(c["solo"], c["cab"]);
    }

    #[test]
    fn a_long_chain_of_groups_is_walked_once() {
        let n = 20_000;
        let mut g: BTreeMap<String, Vec<String>> = (0..n)
            .map(|i| (format!("g{i}"), vec![format!("g{}", i + 1)]))
            .collect();
        g.insert(format!("g{n}"), vec!["u".into()]);
        let c = components(&g);
        assert_ne!(c["g0"], c["g1"]);
        let tenant = Tenant {
            users: vec![model::User {
                id: "u".into(),
                ..Default::default()
            }],
            groups: g,
            ..Tenant::default()
        };
        let members = tenant.group_members("g0").unwrap();
        assert_eq!(
            members.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
            ["u"]
        );
    }

    #[test]
    fn group_members_in_order_each_once_through_nested_groups_and_cycles() {
        let user = |id: &str| model::User {
            id: id.into(),
            ..Default::default()
        };
        let tenant = Tenant {
            users: ["alice", "bob", "carol", "dan"].map(user).to_vec(),
            groups: groups(&[
                ("cab", &["alice", "leads", "bob"]),
                ("leads", &["carol", "alice", "cab", "dan"]),
            ]),
            ..Tenant::default()
        };
        let ids = |g: &str| -> Vec<String> {
            tenant
                .group_members(g)
                .unwrap()
                .iter()
                .map(|u| u.id.clone())
                .collect()
        };
        assert_eq!(ids("cab"), ["alice", "carol", "dan", "bob"]);
        assert_eq!(ids("leads"), ["carol", "alice", "bob", "dan"]);
        assert!(tenant.group_members("nobody").is_none());
    }
}
