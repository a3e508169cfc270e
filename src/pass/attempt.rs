//! One attempt of one record: its targets resolved and its messages
//! rendered (`prepare_attempt`), stored and counted before anything is sent
//! (`store_attempts`), its pending deliveries read back for sending
//! (`pending`; `deliver` sends them), and its close, after which
//! `after_each_attempt` runs.

use serde_json::{Value, json};

use super::deliver::{self, Pending, Sending};
use super::{FollowupReport, Pass, actions};
use crate::definition::followup::Followup;
use crate::message;
use crate::recipients::{self, merged};
use crate::store::{DeliveryState, Event, EventKind, NewDelivery, Record};
use crate::template::{Encoding, Scope, Scopes};

/// `followup.*` for templates.
pub(super) fn followup_scope(f: &Followup, record: &Record, attempt: i64) -> Value {
    let data: Value = serde_json::from_str(&record.data).unwrap_or(Value::Null);
    json!({
        "id": f.id,
        "name": f.name,
        "record_id": record.id,
        "cycle": record.cycle,
        "attempt": attempt,
        "attempts": f.schedule.attempts,
        "data": data,
    })
}

/// An attempt resolved and rendered, not yet stored.
pub(super) struct Prepared {
    pub record_id: String,
    opened_at: i64,
    pub cycle: i64,
    pub attempt: i64,
    deliveries: Vec<NewDelivery>,
    events: Vec<Event>,
    /// The record's locals: the pass's and its lookups'.
    pub locals: Value,
    /// The record's data.
    data: Value,
}

impl Prepared {
    pub fn pending(&self) -> usize {
        self.deliveries
            .iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .count()
    }

    /// What is to be sent once it is stored.
    pub fn sending(&self) -> anyhow::Result<Sending> {
        let pending = self
            .deliveries
            .iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .map(|d| {
                Ok(Pending {
                    id: d.id.clone(),
                    channel: d.channel.clone(),
                    target: d.target.clone(),
                    recipient: d.recipient.clone(),
                    message: serde_json::from_value(d.payload.clone())?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Sending {
            record_id: self.record_id.clone(),
            opened_at: self.opened_at,
            cycle: self.cycle,
            attempt: self.attempt,
            data: self.data.clone(),
            locals: self.locals.clone(),
            pending,
        })
    }
}

/// Resolves the targets of the record's next attempt and renders what each
/// is sent.
pub(super) fn prepare_attempt(
    pass: &mut Pass,
    f: &Followup,
    record: &Record,
    locals: &Value,
) -> anyhow::Result<Option<Prepared>> {
    let attempt = record.attempts + 1;
    let scope = followup_scope(f, record, attempt);
    let resolution = recipients::resolve(
        &recipients::Context {
            followup: f,
            tenant: &pass.catalog.tenant,
            followup_scope: &scope,
            locals,
            globals: &pass.globals,
            attempt: attempt as u32,
        },
        &mut pass.http,
    );
    if let Some(why) = resolution.deferred {
        // Nothing is stored: the record stays due, and the next pass tries
        // again.
        pass.event(
            Event::new(EventKind::NotificationDeferred, pass.now, &f.id)
                .record(&record.id, record.cycle)
                .attempt(attempt)
                .detail(format!("attempt {attempt} waits: {why}")),
        )?;
        return Ok(None);
    }
    let record_locals = merged(locals, &resolution.locals);
    let reads_custom = f.messages_read(Scope::Custom);
    let mut deliveries = Vec::new();
    let mut events = Vec::new();
    let event = |kind: EventKind| {
        Event::new(kind, pass.now, &f.id)
            .record(&record.id, record.cycle)
            .attempt(attempt)
    };
    for target in &resolution.targets {
        let id = delivery_id(&[
            &f.id,
            &record.id,
            &record.cycle.to_string(),
            &attempt.to_string(),
            &target.channel,
            &target.target,
        ]);
        let mut delivery = NewDelivery {
            id,
            channel: target.channel.clone(),
            target: target.target.clone(),
            recipient: target.recipient.clone(),
            payload: Value::Null,
            state: DeliveryState::Pending,
            detail: None,
        };
        if let Some(problem) = &target.problem {
            delivery.state = DeliveryState::Failed;
            delivery.detail = Some(problem.clone());
            events.push(
                event(EventKind::RecipientUnresolved)
                    .recipient(&target.target)
                    .channel(&target.channel)
                    .detail(problem),
            );
        } else {
            // A channel gone from the tenant fails at sending, saying so.
            let encoding = pass
                .catalog
                .tenant
                .channels
                .get(&target.channel)
                .map_or(Encoding::Plain, |c| c.encoding());
            // One query per delivery only when a text reads `custom.*`.
            let custom = match !target.room && reads_custom {
                true => Value::Object(pass.store.customs(&target.target)?),
                false => Value::Object(Default::default()),
            };
            let scopes = Scopes {
                followup: Some(&scope),
                recipient: Some(&target.recipient),
                local: Some(&record_locals),
                global: Some(&pass.globals),
                custom: Some(&custom),
                ..Scopes::default()
            };
            match message::compose(&f.message, target.text, &scopes, encoding) {
                Ok(composed) => delivery.payload = serde_json::to_value(composed)?,
                Err(missing) => {
                    let detail = format!("{missing}: nothing was sent");
                    delivery.state = DeliveryState::Failed;
                    delivery.detail = Some(detail.clone());
                    events.push(
                        event(EventKind::NotificationFailed)
                            .recipient(&target.target)
                            .channel(&target.channel)
                            .detail(detail),
                    );
                }
            }
        }
        deliveries.push(delivery);
    }
    for u in &resolution.unresolved {
        events.push(
            event(EventKind::RecipientUnresolved)
                .recipient(&u.value)
                .detail(&u.detail),
        );
    }
    if deliveries.is_empty() && resolution.unresolved.is_empty() {
        events.push(
            event(EventKind::RecipientUnresolved)
                .detail("the record names no recipient: nobody was told"),
        );
    }
    events.insert(
        0,
        event(EventKind::AttemptStarted).detail(format!(
            "attempt {attempt} of {}: {} deliver{}",
            f.schedule.attempts,
            deliveries.len(),
            if deliveries.len() == 1 { "y" } else { "ies" }
        )),
    );
    Ok(Some(Prepared {
        record_id: record.id.clone(),
        opened_at: record.opened_at,
        cycle: record.cycle,
        attempt,
        deliveries,
        events,
        locals: record_locals,
        data: scope["data"].clone(),
    }))
}

/// Stores attempts with their deliveries, each counted at once.
pub(super) fn store_attempts(
    pass: &Pass,
    f: &Followup,
    attempts: &[Prepared],
    report: &mut FollowupReport,
) -> anyhow::Result<()> {
    pass.store.atomically(|store| {
        for a in attempts {
            store.start_attempt(
                &f.id,
                &a.record_id,
                a.cycle,
                a.attempt,
                &a.deliveries,
                pass.now,
            )?;
            store.count_attempt(&f.id, &a.record_id, a.attempt, pass.now)?;
            a.events.iter().try_for_each(|e| store.add_event(e))?;
        }
        Ok(())
    })?;
    report.attempts += attempts.len();
    report.failed += attempts
        .iter()
        .flat_map(|a| &a.deliveries)
        .filter(|d| d.state == DeliveryState::Failed)
        .count();
    if let Some(detail) = attempts
        .iter()
        .flat_map(|a| &a.deliveries)
        .find_map(|d| d.detail.as_ref())
    {
        report.first_failure.get_or_insert_with(|| detail.clone());
    }
    Ok(())
}

/// What of a stored attempt is still to be sent.
pub(super) fn pending(
    pass: &Pass,
    f: &Followup,
    record: &Record,
    attempt: i64,
    locals: &Value,
) -> anyhow::Result<Sending> {
    let pending = pass
        .store
        .attempt_deliveries(&f.id, &record.id, record.cycle, attempt)?
        .iter()
        .filter(|d| d.state == DeliveryState::Pending)
        .map(Pending::stored)
        .collect::<anyhow::Result<_>>()?;
    Ok(Sending {
        record_id: record.id.clone(),
        opened_at: record.opened_at,
        cycle: record.cycle,
        attempt,
        data: serde_json::from_str(&record.data).unwrap_or(Value::Null),
        locals: locals.clone(),
        pending,
    })
}

/// Closes an attempt: pending deliveries fail with `give_up`'s reason;
/// `after_each_attempt` runs once, with these locals, unless `locals` is
/// `None` (the record is no longer followed up).
pub(super) fn close(
    pass: &mut Pass,
    f: &Followup,
    record_id: &str,
    cycle: i64,
    attempt: i64,
    give_up: Option<&str>,
    locals: Option<&Value>,
) -> anyhow::Result<()> {
    let deliveries = pass
        .store
        .attempt_deliveries(&f.id, record_id, cycle, attempt)?;
    pass.store.atomically(|store| {
        for d in &deliveries {
            if let (DeliveryState::Pending, Some(why)) = (d.state, give_up) {
                store.fail_delivery(&d.id, why, pass.now)?;
                store.add_event(
                    &Event::new(EventKind::NotificationFailed, pass.now, &f.id)
                        .record(record_id, cycle)
                        .attempt(attempt)
                        .recipient(&d.target)
                        .channel(&d.channel)
                        .detail(why),
                )?;
            }
        }
        deliver::close_attempt(store, f, record_id, cycle, attempt, pass.now)
    })?;
    match locals {
        Some(locals) => after_each_attempt(pass, f, record_id, attempt, locals),
        None => Ok(()),
    }
}

/// Runs `after_each_attempt` for an attempt that closed.
pub(super) fn after_each_attempt(
    pass: &mut Pass,
    f: &Followup,
    record_id: &str,
    attempt: i64,
    locals: &Value,
) -> anyhow::Result<()> {
    if f.after_each_attempt.is_empty() {
        return Ok(());
    }
    let Some(record) = pass.store.record(&f.id, record_id)? else {
        return Ok(());
    };
    let scope = followup_scope(f, &record, attempt);
    let recipients = attempt_recipients(pass, f, record_id, record.cycle, attempt)?;
    actions::run(
        pass,
        f,
        "after_each_attempt",
        &f.after_each_attempt,
        &scope,
        locals,
        &recipients,
    )
}

/// The recipients of an attempt, from its stored deliveries.
pub(super) fn attempt_recipients(
    pass: &Pass,
    f: &Followup,
    record_id: &str,
    cycle: i64,
    attempt: i64,
) -> anyhow::Result<Vec<Value>> {
    Ok(pass
        .store
        .attempt_deliveries(&f.id, record_id, cycle, attempt)?
        .iter()
        .filter_map(|d| serde_json::from_str(&d.recipient).ok())
        .collect())
}

/// `<followup>/<record>/<cycle>/<attempt>/<channel>/<target>`, each part
/// percent-encoded so that a `/` in a record ID cannot shift the parts.
pub fn delivery_id(parts: &[&str]) -> String {
    const PART: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b'/')
        .add(b'%')
        .add(b' ')
        .add(b'?')
        .add(b'#');
    parts
        .iter()
        .map(|p| percent_encoding::utf8_percent_encode(p, PART).to_string())
        .collect::<Vec<_>>()
        .join("/")
}
