//! Steps 4 and 5: what is due for a follow-up whose latest poll succeeded.
//!
//! In order: attempts not yet closed (retry their pending deliveries, or
//! give up on them once the next attempt is due), records whose last
//! attempt is spent (exhausted, `after_all_attempts`), then records whose
//! next attempt is due (a new attempt). Every rule reads the current
//! definition, so an edit applies at once.

use serde_json::{Value, json};

use super::{FollowupReport, Pass, actions, deliver, due};
use crate::channel;
use crate::definition::followup::Followup;
use crate::message;
use crate::recipients::{self, merged};
use crate::store::{Delivery, DeliveryState, Event, EventKind, NewDelivery, Record, RecordState};
use crate::template::{Encoding, Scopes};

pub fn notify(
    pass: &mut Pass,
    f: &Followup,
    locals: &Value,
    report: &mut FollowupReport,
) -> anyhow::Result<()> {
    let max = i64::from(f.schedule.attempts);
    // An attempt made at or before this time makes the next one due.
    let due_line = due::last_attempt_before(pass.now, f.schedule.every);
    let now_ts = jiff::Timestamp::from_second(pass.now)?;
    let window = f.schedule.window.as_ref();
    let in_window = window.is_none_or(|w| w.contains(now_ts));
    let mut sends: u32 = 0;

    for open in pass.store.open_attempts(&f.id)? {
        let record = pass.store.record(&f.id, &open.record_id)?;
        let current = record.as_ref().filter(|r| {
            r.state == RecordState::Open && r.cycle == open.cycle && r.attempts == open.attempt
        });
        let Some(record) = current else {
            // Resolved, reset or reopened since: nobody needs this attempt now.
            let why = Some("the record is no longer open");
            close(
                pass,
                f,
                &open.record_id,
                open.cycle,
                open.attempt,
                why,
                None,
            )?;
            continue;
        };
        if record.last_attempt_at.is_some_and(|at| at <= due_line) {
            let why = Some("not delivered before the next attempt was due");
            close(
                pass,
                f,
                &record.id,
                record.cycle,
                open.attempt,
                why,
                Some(locals),
            )?;
            continue;
        }
        let budget_spent = f
            .schedule
            .max_sends_per_pass
            .is_some_and(|max| sends >= max);
        if !in_window || budget_spent || pass.out_of_time() {
            continue;
        }
        sends += send_attempt(
            pass,
            f,
            &record.id,
            record.cycle,
            open.attempt,
            locals,
            report,
        )?;
    }

    for record in pass.store.spent_records(&f.id, max, due_line)? {
        pass.store.atomically(|store| {
            store.set_record_state(&f.id, &record.id, RecordState::Exhausted, pass.now)?;
            store.add_event(
                &Event::new(EventKind::AttemptsExhausted, pass.now, &f.id)
                    .record(&record.id, record.cycle)
                    .attempt(record.attempts)
                    .detail(format!(
                        "{} of {} attempts made; nothing more is sent",
                        record.attempts, max
                    )),
            )
        })?;
        report.exhausted += 1;
        if !f.after_all_attempts.is_empty() {
            let scope = followup_scope(f, &record, record.attempts);
            let recipients =
                attempt_recipients(pass, f, &record.id, record.cycle, record.attempts)?;
            actions::run(
                pass,
                f,
                "after_all_attempts",
                &f.after_all_attempts,
                &scope,
                locals,
                &recipients,
            )?;
        }
    }

    let due = pass.store.due_records(&f.id, max, due_line)?;
    if due.is_empty() {
        return Ok(());
    }
    if !in_window {
        let detail = format!(
            "{} due record{} wait for the window ({})",
            due.len(),
            if due.len() == 1 { "" } else { "s" },
            window.map(|w| w.describe()).unwrap_or_default()
        );
        return pass
            .event(Event::new(EventKind::NotificationDeferred, pass.now, &f.id).detail(detail));
    }
    // Attempts are stored in batches (one transaction each), then sent one
    // delivery at a time, each marked as it ends: a crash repeats at most
    // the delivery in flight, and loses no attempt (stored ones are sent by
    // the next pass).
    let mut waiting = due.len();
    for batch in due.chunks(BATCH) {
        let mut prepared = Vec::with_capacity(batch.len());
        let mut stop = None;
        for record in batch {
            let budget_spent = f
                .schedule
                .max_sends_per_pass
                .is_some_and(|max| sends >= max);
            if budget_spent || pass.out_of_time() {
                stop = Some(if budget_spent {
                    "`max_sends_per_pass` reached"
                } else {
                    "`--max-duration` reached"
                });
                break;
            }
            if let Some(attempt) = prepare_attempt(pass, f, record, locals)? {
                sends += attempt.pending() as u32;
                prepared.push(attempt);
            }
        }
        store_attempts(pass, f, &prepared, report)?;
        waiting -= prepared.len();
        for a in &prepared {
            send_attempt(pass, f, &a.record_id, a.cycle, a.attempt, &a.locals, report)?;
        }
        if let Some(why) = stop {
            return pass.event(
                Event::new(EventKind::NotificationDeferred, pass.now, &f.id).detail(format!(
                    "{why}: {waiting} due records wait for the next pass"
                )),
            );
        }
    }
    Ok(())
}

/// How many attempts are stored in one transaction.
const BATCH: usize = 64;

/// `followup.*` for templates.
fn followup_scope(f: &Followup, record: &Record, attempt: i64) -> Value {
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
struct Prepared {
    record_id: String,
    cycle: i64,
    attempt: i64,
    deliveries: Vec<NewDelivery>,
    events: Vec<Event>,
    /// The record's locals: the pass's and its lookups'.
    locals: Value,
}

impl Prepared {
    fn pending(&self) -> usize {
        self.deliveries
            .iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .count()
    }
}

/// Resolves the targets of the record's next attempt and renders what each
/// is sent.
fn prepare_attempt(
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
                .map_or(Encoding::Plain, |c| channel::encoding(c.kind));
            let custom = match target.room {
                true => Value::Object(Default::default()),
                false => Value::Object(pass.store.customs(&target.target)?),
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
        cycle: record.cycle,
        attempt,
        deliveries,
        events,
        locals: record_locals,
    }))
}

/// Stores attempts with their deliveries, each counted at once.
fn store_attempts(
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

/// Sends a stored attempt's pending deliveries; the attempt closes with
/// the last one unless one is left pending. Returns how many were tried.
fn send_attempt(
    pass: &mut Pass,
    f: &Followup,
    record_id: &str,
    cycle: i64,
    attempt: i64,
    locals: &Value,
    report: &mut FollowupReport,
) -> anyhow::Result<u32> {
    let pending: Vec<Delivery> = pass
        .store
        .attempt_deliveries(&f.id, record_id, cycle, attempt)?
        .into_iter()
        .filter(|d| d.state == DeliveryState::Pending)
        .collect();
    if pending.is_empty() {
        close(pass, f, record_id, cycle, attempt, None, Some(locals))?;
        return Ok(0);
    }
    let mut left_pending = 0;
    let mut closed = false;
    for (i, delivery) in pending.iter().enumerate() {
        let last = i + 1 == pending.len();
        let closes = last && left_pending == 0;
        match deliver::send(pass, f, delivery, report, closes)? {
            DeliveryState::Pending => left_pending += 1,
            _ => closed = closes,
        }
    }
    if closed {
        after_each_attempt(pass, f, record_id, attempt, locals)?;
    }
    Ok(pending.len() as u32)
}

/// Closes an attempt: pending deliveries fail with `give_up`'s reason;
/// `after_each_attempt` runs once, with these locals, unless `locals` is
/// `None` (the record is no longer followed up).
fn close(
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
        let mut delivered = 0;
        for d in &deliveries {
            match (d.state, give_up) {
                (DeliveryState::Pending, Some(why)) => {
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
                (DeliveryState::Delivered, _) => delivered += 1,
                _ => {}
            }
        }
        let _ = delivered;
        deliver::close_attempt(store, f, record_id, cycle, attempt, pass.now)
    })?;
    match locals {
        Some(locals) => after_each_attempt(pass, f, record_id, attempt, locals),
        None => Ok(()),
    }
}

/// Runs `after_each_attempt` for an attempt that closed.
fn after_each_attempt(
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
fn attempt_recipients(
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
