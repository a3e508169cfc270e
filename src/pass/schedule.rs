//! Steps 4 and 5: what is due for a follow-up whose latest poll succeeded.
//!
//! In order: attempts not yet closed (retry their pending deliveries, or
//! give up on them once the next attempt is due), records whose last
//! attempt is spent (exhausted, `after_all_attempts`), then records whose
//! next attempt is due (a new attempt). Every rule reads the current
//! definition, so an edit applies at once.

use serde_json::Value;

use super::attempt::{
    attempt_recipients, close, followup_scope, pending, prepare_attempt, store_attempts,
};
use super::{FollowupReport, Pass, Quiet, actions, deliver, due};
use crate::definition::followup::Followup;
use crate::store::{Event, EventKind, RecordState};

/// `quiet`, when given, says what the pass start saw of this follow-up, so
/// that what cannot be due is not looked for.
pub fn notify(
    pass: &mut Pass,
    f: &Followup,
    locals: &Value,
    quiet: Option<Quiet>,
    report: &mut FollowupReport,
) -> anyhow::Result<()> {
    let max = i64::from(f.schedule.attempts);
    // An attempt made at or before this time makes the next one due.
    let due_line = due::last_attempt_before(pass.now, f.schedule.every);
    let (look_at_open_attempts, look_at_records) = match quiet {
        None => (true, true),
        Some(q) => (
            !q.no_open_attempt,
            q.earliest_open.is_some_and(|at| at <= due_line),
        ),
    };
    let now_ts = jiff::Timestamp::from_second(pass.now)?;
    let window = f.schedule.window.as_ref();
    let in_window = window.is_none_or(|w| w.contains(now_ts));
    let mut sends: u32 = 0;
    // Attempts whose pending deliveries wait for the window.
    let mut retries_waiting = 0;

    let open_attempts = match look_at_open_attempts {
        true => pass.store.open_attempts(&f.id)?,
        false => Vec::new(),
    };
    let mut retries = Vec::new();
    for open in open_attempts {
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
        if !in_window {
            retries_waiting += 1;
            continue;
        }
        if budget_spent || pass.out_of_time() {
            continue;
        }
        let retry = pending(pass, f, record, open.attempt, locals)?;
        sends += retry.pending.len() as u32;
        retries.push(retry);
    }
    // With a digest, a record's retry goes out in the same digest as the
    // attempts due now: one message per target and pass.
    if f.message.digest.is_none() {
        deliver::send(pass, f, std::mem::take(&mut retries), report)?;
    }

    if !look_at_records {
        deliver::send(pass, f, retries, report)?;
        // No open record was attempted long enough ago: nothing is spent or
        // due, but pending retries may wait for the window.
        return window_event(pass, f, 0, retries_waiting, in_window);
    }
    for record in pass.store.spent_records(&f.id, max, due_line)? {
        pass.store.atomically(|store| {
            store.set_record_state(&f.id, &record.id, RecordState::Exhausted, pass.now)?;
            store.end_conversations(
                &f.id,
                &record.id,
                record.cycle,
                "exhausted",
                f.message.conversation.update_on_resolved,
                pass.now,
            )?;
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
    if !in_window || due.is_empty() {
        deliver::send(pass, f, retries, report)?;
        return window_event(pass, f, due.len(), retries_waiting, in_window);
    }
    // Attempts are stored in batches (one transaction each) before they are
    // sent; then the pool sends them, each delivery marked as it ends: a
    // crash repeats at most the deliveries in flight, and loses no attempt
    // (stored ones are sent by the next pass). Without a digest, every
    // `SEND_BATCH` stored attempts go out before more are prepared, so that
    // a first poll of 100,000 records holds a batch of messages in memory,
    // not all of them.
    let mut waiting = due.len();
    let mut sendings = retries;
    let mut stop = None;
    for batch in due.chunks(BATCH) {
        let mut prepared = Vec::with_capacity(batch.len());
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
            sendings.push(a.sending()?);
        }
        if f.message.digest.is_none() && sendings.len() >= SEND_BATCH {
            deliver::send(pass, f, std::mem::take(&mut sendings), report)?;
        }
        if stop.is_some() {
            break;
        }
    }
    deliver::send(pass, f, sendings, report)?;
    if let Some(why) = stop {
        return pass.event(
            Event::new(EventKind::NotificationDeferred, pass.now, &f.id).detail(format!(
                "{why}: {waiting} due records wait for the next pass"
            )),
        );
    }
    Ok(())
}

/// How many attempts are stored in one transaction.
const BATCH: usize = 64;

/// How many stored attempts are sent together (without a digest): enough
/// to keep every sender busy, few enough to bound the pass's memory.
const SEND_BATCH: usize = 1024;

/// Outside the window: one event saying what waits for it.
fn window_event(
    pass: &Pass,
    f: &Followup,
    due: usize,
    retries: usize,
    in_window: bool,
) -> anyhow::Result<()> {
    if in_window || due + retries == 0 {
        return Ok(());
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let detail = format!(
        "{due} due record{} and {retries} attempt{} with pending deliveries wait for the window ({})",
        plural(due),
        plural(retries),
        f.schedule
            .window
            .as_ref()
            .map(|w| w.describe())
            .unwrap_or_default()
    );
    pass.event(Event::new(EventKind::NotificationDeferred, pass.now, &f.id).detail(detail))
}
