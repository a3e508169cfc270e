//! Post-follow-up actions: `set` (a `local.*` for the rest of the list, a
//! `global.*` or `custom.*` that persists) and `integration` (a call whose
//! response may define `local.*`). A failed action is an event, never a
//! crash; the next action in the list still runs.

use serde_json::{Map, Value, json};

use super::Pass;
use crate::definition::followup::{Action, AttributeScope, Followup};
use crate::integration;
use crate::store::{Event, EventKind};
use crate::template::Scopes;

/// Runs a list of actions for one record. `followup` is the record's
/// `followup.*`, `recipients` the people of the attempt (for `custom.*`).
pub fn run(
    pass: &mut Pass,
    f: &Followup,
    which: &str,
    actions: &[Action],
    followup: &Value,
    locals: &Value,
    recipients: &[Value],
) -> anyhow::Result<()> {
    let record = followup["record_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let cycle = followup["cycle"].as_i64().unwrap_or_default();
    let attempt = followup["attempt"].as_i64().unwrap_or_default();
    let mut local: Map<String, Value> = locals.as_object().cloned().unwrap_or_default();
    for (i, action) in actions.iter().enumerate() {
        let label = format!("{which}[{i}]");
        let local_scope = Value::Object(local.clone());
        // A copy: a `set` of `global.*` updates the pass's globals.
        let globals = pass.globals.clone();
        let scopes = Scopes {
            followup: Some(followup),
            local: Some(&local_scope),
            global: Some(&globals),
            env: true,
            ..Scopes::default()
        };
        let outcome: Result<String, String> = match action {
            Action::Set(items) => set(pass, items, &scopes, recipients, &mut local),
            Action::Integration(integration) if pass.dry_run => {
                Ok(format!("would call integration `{}`", integration.id))
            }
            Action::Integration(integration) => {
                match integration::fetch_source(
                    &mut pass.http,
                    &integration.id,
                    &integration.source,
                    &scopes,
                ) {
                    Ok(response) => {
                        for (name, path) in &integration.attributes {
                            if let Some(v) = path.first(&response) {
                                local.insert(name.clone(), v.clone());
                            }
                        }
                        Ok(format!("integration `{}` succeeded", integration.id))
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        if pass.dry_run {
            let line = json!({
                "dry_run": true, "action": label, "followup": f.id, "record": record,
                "cycle": cycle, "attempt": attempt,
                "outcome": match &outcome { Ok(d) => d.clone(), Err(e) => format!("would fail: {e}") },
            });
            crate::channel::dry_run::emit(line.to_string());
        }
        let (kind, detail) = match outcome {
            Ok(detail) => (EventKind::ActionSucceeded, format!("{label}: {detail}")),
            Err(detail) => (EventKind::ActionFailed, format!("{label}: {detail}")),
        };
        pass.event(
            Event::new(kind, pass.now, &f.id)
                .record(&record, cycle)
                .attempt(attempt)
                .detail(detail),
        )?;
    }
    Ok(())
}

/// One `set`: every value is rendered first, so a missing one sets nothing.
fn set(
    pass: &mut Pass,
    items: &[(AttributeScope, String, crate::template::Template)],
    scopes: &Scopes,
    recipients: &[Value],
    local: &mut Map<String, Value>,
) -> Result<String, String> {
    let people: Vec<&Value> = recipients
        .iter()
        .flat_map(|r| match r.get("recipients").and_then(Value::as_array) {
            Some(room) => room.iter().collect(),
            None => vec![r],
        })
        .collect();
    let mut locals = Vec::new();
    let mut globals = Vec::new();
    let mut customs = Vec::new();
    for (scope, name, template) in items {
        match scope {
            AttributeScope::Local => locals.push((
                name,
                template.render_value(scopes).map_err(|e| e.to_string())?,
            )),
            AttributeScope::Global => globals.push((
                name,
                template.render_value(scopes).map_err(|e| e.to_string())?,
            )),
            AttributeScope::Custom => {
                for person in &people {
                    let Some(id) = person.get("id").and_then(Value::as_str) else {
                        continue;
                    };
                    let custom = Value::Object(pass.store.customs(id).map_err(|e| e.to_string())?);
                    let scopes = Scopes {
                        recipient: Some(person),
                        custom: Some(&custom),
                        ..*scopes
                    };
                    customs.push((
                        id.to_owned(),
                        name,
                        template.render_value(&scopes).map_err(|e| e.to_string())?,
                    ));
                }
            }
        }
    }
    let mut names = Vec::new();
    for (name, value) in locals {
        names.push(format!("local.{name}"));
        local.insert(name.clone(), value);
    }
    if pass.dry_run {
        names.extend(globals.iter().map(|(n, _)| format!("global.{n}")));
        names.extend(customs.iter().map(|(_, n, _)| format!("custom.{n}")));
        return Ok(format!("would set {}", names.join(", ")));
    }
    pass.store
        .atomically(|store| {
            for (name, value) in &globals {
                store.set_global(name, value)?;
            }
            for (user, name, value) in &customs {
                store.set_custom(user, name, value)?;
            }
            Ok(())
        })
        .map_err(|e| format!("{e:#}"))?;
    for (name, value) in globals {
        names.push(format!("global.{name}"));
        if let Value::Object(map) = &mut pass.globals {
            map.insert(name.clone(), value);
        }
    }
    names.extend(
        customs
            .iter()
            .map(|(user, n, _)| format!("custom.{n} of {user}")),
    );
    Ok(format!("set {}", names.join(", ")))
}
