//! Who is told, and through which channel: the record's `user` and `group`
//! values (through a lookup when there is one), the escalation rungs due at
//! this attempt, the tenant's directory, and each person's channel.
//!
//! The result is the attempt's targets: one per person on a person channel,
//! one per room (and rung text) on a room channel; a person gets at most one
//! delivery per attempt and channel, whoever named them.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::definition::followup::{ChannelRef, Followup, Selector};
use crate::definition::model::User;
use crate::definition::tenant::Tenant;
use crate::integration::{self, Http};
use crate::template::{Scopes, Template};

/// One delivery an attempt makes (or fails to make).
#[derive(Debug, Clone)]
pub struct Target<'f> {
    /// The tenant channel's name.
    pub channel: String,
    /// The recipient's id, or `room` / `room-rung<N>`.
    pub target: String,
    /// Whether this is a room's delivery (naming all its people).
    pub room: bool,
    /// `recipient.*` for templates: the person, or for a room its people.
    pub recipient: Value,
    /// A rung's own text, replacing the message's.
    pub text: Option<&'f Template>,
    /// Why this delivery cannot go (an unknown user, no address).
    pub problem: Option<String>,
}

/// A value that named nobody.
#[derive(Debug, Clone)]
pub struct Unresolved {
    pub value: String,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct Resolution<'f> {
    pub targets: Vec<Target<'f>>,
    /// Values that named nobody, for events (those on person channels also
    /// have a failed target).
    pub unresolved: Vec<Unresolved>,
    /// `local.*` the lookups defined, for this record.
    pub locals: Map<String, Value>,
    /// Set when a lookup failed for a reason that may pass (no answer, a
    /// 429 or 5xx): the attempt waits rather than going out short of
    /// recipients.
    pub deferred: Option<String>,
}

/// Someone to tell.
struct Person<'t> {
    id: String,
    user: Option<&'t User>,
    json: Value,
    /// Set for a value that names no tenant user: on a person channel its
    /// delivery fails with this detail; a room is told without them.
    unknown: Option<String>,
}

/// Inputs that live for one record in one pass.
pub struct Context<'a> {
    pub followup: &'a Followup,
    pub tenant: &'a Tenant,
    /// `followup.*` of this record and attempt.
    pub followup_scope: &'a Value,
    pub locals: &'a Value,
    pub globals: &'a Value,
    /// The attempt being resolved (rungs from this attempt on apply).
    pub attempt: u32,
}

pub fn resolve<'f>(cx: &Context<'f>, http: &mut Http) -> Resolution<'f> {
    let f = cx.followup;
    let data = cx.followup_scope.get("data").unwrap_or(&Value::Null);
    let mut out = Resolution::default();

    // The record's own recipients, on the message's channel.
    let mut user_values = values(&f.recipients.users, data);
    if let Some(lookup) = &f.recipients.lookup {
        user_values = user_values
            .into_iter()
            .filter_map(|value| look_up(cx, lookup, http, &value, &mut out))
            .collect();
    }
    let mut people = Vec::new();
    add_users(cx.tenant, &user_values, &mut people);
    add_groups(
        cx.tenant,
        &values(&f.recipients.groups, data),
        &mut people,
        &mut out.unresolved,
    );
    let base_channel = f.message.channel.clone();
    let mut placing = Placing {
        cx,
        seen: HashSet::new(),
        rooms: Vec::new(),
        out,
    };
    placing.place(&people, &base_channel, None, "room");

    // Escalation rungs due at this attempt.
    for (i, rung) in f.recipients.escalate.iter().enumerate() {
        if rung.from_attempt > cx.attempt {
            continue;
        }
        let mut people = Vec::new();
        add_users(cx.tenant, &values(&rung.users, data), &mut people);
        add_groups(
            cx.tenant,
            &values(&rung.groups, data),
            &mut people,
            &mut placing.out.unresolved,
        );
        let channel = rung
            .channel
            .clone()
            .map(ChannelRef::Named)
            .unwrap_or_else(|| base_channel.clone());
        let room = match rung.text {
            Some(_) => format!("room-rung{}", i + 1),
            None => "room".to_owned(),
        };
        placing.place(&people, &channel, rung.text.as_ref(), &room);
    }
    let mut out = placing.out;
    out.targets.extend(placing.rooms);
    out
}

/// Puts people on their channels: one target each on person channels, one
/// shared target per room; a person once per channel.
struct Placing<'c, 'f> {
    cx: &'c Context<'f>,
    /// (channel, person) already given a target.
    seen: HashSet<(String, String)>,
    rooms: Vec<Target<'f>>,
    out: Resolution<'f>,
}

impl<'f> Placing<'_, 'f> {
    fn place(
        &mut self,
        people: &[Person],
        channel: &ChannelRef,
        text: Option<&'f Template>,
        room: &str,
    ) {
        let cx = self.cx;
        for person in people {
            // Without a tenant user there is no address to choose by: the
            // message's channel (or the fallback), where the delivery fails.
            let chosen = match &person.unknown {
                Some(detail) => Err(detail.clone()),
                None => channel_for(cx, person, channel),
            };
            let chosen = match chosen {
                Ok(chosen) => chosen,
                Err(detail) => {
                    let name = match channel {
                        ChannelRef::Named(n) => Some(n.clone()),
                        ChannelRef::LastUsed => cx.followup.message.fallback_channel.clone(),
                    };
                    let is_room = name
                        .as_ref()
                        .and_then(|n| cx.tenant.channels.get(n))
                        .is_some_and(|c| c.is_room());
                    match name {
                        // A room is still told, without them.
                        Some(name) if !is_room => {
                            if self.seen.insert((name.clone(), person.id.clone())) {
                                self.out.targets.push(Target {
                                    channel: name,
                                    target: person.id.clone(),
                                    recipient: person.json.clone(),
                                    text,
                                    problem: Some(detail),
                                    room: false,
                                });
                            }
                        }
                        _ => self.out.unresolved.push(Unresolved {
                            value: person.id.clone(),
                            detail,
                        }),
                    }
                    continue;
                }
            };
            if !self.seen.insert((chosen.clone(), person.id.clone())) {
                continue;
            }
            let is_room = cx.tenant.channels.get(&chosen).is_some_and(|c| c.is_room());
            if !is_room {
                self.out.targets.push(Target {
                    channel: chosen,
                    target: person.id.clone(),
                    recipient: person.json.clone(),
                    text,
                    problem: None,
                    room: false,
                });
                continue;
            }
            match self
                .rooms
                .iter_mut()
                .find(|t| t.channel == chosen && t.target == room)
            {
                Some(target) => add_to_room(&mut target.recipient, &person.json),
                None => {
                    let mut recipient = json!({"id": "room", "name": "", "recipients": []});
                    add_to_room(&mut recipient, &person.json);
                    self.rooms.push(Target {
                        channel: chosen,
                        target: room.to_owned(),
                        recipient,
                        text,
                        problem: None,
                        room: true,
                    });
                }
            }
        }
    }
}

/// A room's `recipient`: `id: room`, the names joined, and the people.
fn add_to_room(room: &mut Value, person: &Value) {
    let name = person
        .get("name")
        .or_else(|| person.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(names) = room.get_mut("name") {
        let joined = match names.as_str() {
            Some("") | None => name.to_owned(),
            Some(existing) => format!("{existing}, {name}"),
        };
        *names = Value::String(joined);
    }
    if let Some(Value::Array(people)) = room.get_mut("recipients") {
        people.push(person.clone());
    }
}

/// The channel a person is told on, or why there is none.
fn channel_for(cx: &Context, person: &Person, channel: &ChannelRef) -> Result<String, String> {
    let fallback = cx.followup.message.fallback_channel.as_deref();
    let chosen = match channel {
        ChannelRef::Named(name) => name.clone(),
        ChannelRef::LastUsed => match person
            .user
            .and_then(|u| u.last_channel.as_deref())
            .or(fallback)
        {
            Some(name) => name.to_owned(),
            None => {
                return Err(format!(
                    "`{}` has no last used channel and there is no fallback_channel",
                    person.id
                ));
            }
        },
    };
    if has_address(cx.tenant, &chosen, person) {
        return Ok(chosen);
    }
    match fallback {
        Some(fb) if fb != chosen && has_address(cx.tenant, fb, person) => Ok(fb.to_owned()),
        _ => {
            let field = cx
                .tenant
                .channels
                .get(&chosen)
                .and_then(|c| c.address_field())
                .unwrap_or("address");
            Err(format!(
                "`{}` has no `{field}` address for channel `{chosen}`{}",
                person.id,
                if fallback.is_some() {
                    " nor for the fallback channel"
                } else {
                    " and there is no fallback_channel"
                }
            ))
        }
    }
}

fn has_address(tenant: &Tenant, channel: &str, person: &Person) -> bool {
    match tenant.channels.get(channel).and_then(|c| c.address_field()) {
        None => tenant.channels.contains_key(channel),
        Some(field) => person
            .json
            .get(field)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty()),
    }
}

/// Runs the lookup for one user value; the user it resolves to, if any.
fn look_up(
    cx: &Context,
    lookup: &crate::definition::followup::Lookup,
    http: &mut Http,
    value: &str,
    out: &mut Resolution,
) -> Option<String> {
    let lookup_scope = json!({ "value": value });
    let locals = merged(cx.locals, &out.locals);
    let scopes = Scopes {
        followup: Some(cx.followup_scope),
        lookup: Some(&lookup_scope),
        local: Some(&locals),
        global: Some(cx.globals),
        env: true,
        ..Scopes::default()
    };
    let response = match integration::fetch_lookup(http, &lookup.source, &scopes) {
        Ok(response) => response,
        Err(e) if e.is_transient() => {
            out.deferred
                .get_or_insert_with(|| format!("the lookup of `{value}` failed: {e}"));
            return None;
        }
        Err(e) => {
            out.unresolved.push(Unresolved {
                value: value.to_owned(),
                detail: format!("the lookup failed: {e}"),
            });
            return None;
        }
    };
    for (name, path) in &lookup.attributes {
        if let Some(v) = path.first(&response) {
            out.locals.insert(name.clone(), v.clone());
        }
    }
    match &lookup.user {
        None => Some(value.to_owned()),
        Some(path) => match path.first(&response).and_then(scalar_text) {
            Some(user) => Some(user),
            None => {
                out.unresolved.push(Unresolved {
                    value: value.to_owned(),
                    detail: format!("the lookup's response has no user at `{}`", path.source()),
                });
                None
            }
        },
    }
}

/// Record-level locals over pass-level ones.
pub fn merged(base: &Value, extra: &Map<String, Value>) -> Value {
    let mut all = base.as_object().cloned().unwrap_or_default();
    all.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    Value::Object(all)
}

/// The values of selectors over a record, in order, without repeats.
fn values(selectors: &[Selector], data: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    for selector in selectors {
        match selector {
            Selector::Literal(s) => push(s.clone()),
            Selector::Path(path) => {
                for v in path.query(data) {
                    match v {
                        Value::Array(items) => {
                            items.iter().filter_map(scalar_text).for_each(&mut push)
                        }
                        other => scalar_text(other).into_iter().for_each(&mut push),
                    }
                }
            }
        }
    }
    out
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn user_json(user: &User) -> Value {
    serde_json::to_value(user).unwrap_or(Value::Null)
}

fn add_users<'t>(tenant: &'t Tenant, values: &[String], people: &mut Vec<Person<'t>>) {
    for value in values {
        people.push(match tenant.user(value) {
            Some(user) => Person {
                id: user.id.clone(),
                user: Some(user),
                json: user_json(user),
                unknown: None,
            },
            // An e-mail address outside the directory is still someone to tell.
            None if value.contains('@') => Person {
                id: value.clone(),
                user: None,
                json: json!({ "id": value, "email": value }),
                unknown: None,
            },
            None => Person {
                id: value.clone(),
                user: None,
                json: json!({ "id": value }),
                unknown: Some(format!(
                    "`{value}` is not the id or e-mail of a tenant user"
                )),
            },
        });
    }
}

fn add_groups<'t>(
    tenant: &'t Tenant,
    values: &[String],
    people: &mut Vec<Person<'t>>,
    unresolved: &mut Vec<Unresolved>,
) {
    for value in values {
        match tenant.group_members(value) {
            Some(members) => people.extend(members.into_iter().map(|user| Person {
                id: user.id.clone(),
                user: Some(user),
                json: user_json(user),
                unknown: None,
            })),
            None => unresolved.push(Unresolved {
                value: value.clone(),
                detail: format!("`{value}` is not a tenant group"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_names_all_its_people() {
        let mut room = json!({"id": "room", "name": "", "recipients": []});
        add_to_room(&mut room, &json!({"id": "alice", "name": "Alice Doe"}));
        add_to_room(&mut room, &json!({"id": "bob@x.com"}));
        assert_eq!(room["name"], "Alice Doe, bob@x.com");
        assert_eq!(room["recipients"].as_array().unwrap().len(), 2);
    }
}
