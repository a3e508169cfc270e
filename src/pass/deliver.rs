//! Sending stored attempts' pending deliveries through the pool of
//! senders, and recording what became of each on this thread, the one
//! that owns the store. A delivery is stored pending before it is sent and
//! marked after (in groups, one transaction each); an attempt closes in
//! the transaction that settles its last pending delivery, whatever order
//! the outcomes arrive in; `after_each_attempt` runs once the sending is
//! done.

use std::collections::HashMap;

use serde_json::Value;

use super::{FollowupReport, Pass, attempt, digest};
use crate::channel::{self, Job, Settled};
use crate::definition::followup::Followup;
use crate::message::Composed;
use crate::store::{ConversationKey, Delivery, DeliveryState, Event, EventKind, Store};

/// A stored attempt whose pending deliveries are to be sent.
pub struct Sending {
    pub record_id: String,
    /// When the record opened: digests list their records oldest first.
    pub opened_at: i64,
    pub cycle: i64,
    pub attempt: i64,
    /// The record's data, for channels that carry it.
    pub data: Value,
    /// The record's locals, for `after_each_attempt`.
    pub locals: Value,
    pub pending: Vec<Pending>,
}

/// A stored delivery still to send.
pub struct Pending {
    pub id: String,
    pub channel: String,
    pub target: String,
    pub recipient: Value,
    pub message: Composed,
}

impl Pending {
    /// A delivery as the store holds it.
    pub fn stored(d: &Delivery) -> anyhow::Result<Pending> {
        Ok(Pending {
            id: d.id.clone(),
            channel: d.channel.clone(),
            target: d.target.clone(),
            recipient: serde_json::from_str(&d.recipient)?,
            message: serde_json::from_str(&d.payload)?,
        })
    }
}

type Key = (String, i64, i64);

/// What is left of one attempt while its deliveries are out.
struct Tracking {
    left: usize,
    stays_pending: bool,
    locals: Value,
}

/// Sends every pending delivery of `attempts`; closes those whose
/// deliveries all settled, then runs their `after_each_attempt`.
pub fn send(
    pass: &mut Pass,
    f: &Followup,
    attempts: Vec<Sending>,
    report: &mut FollowupReport,
) -> anyhow::Result<()> {
    let mut tracking: HashMap<Key, Tracking> = HashMap::new();
    let mut jobs = Vec::new();
    let mut closed = Vec::new();
    // Per record, for digests: when it opened (their order) and its locals.
    let mut records = HashMap::new();
    for mut a in attempts {
        let key = (a.record_id.clone(), a.cycle, a.attempt);
        if a.pending.is_empty() {
            // Nothing to send (its deliveries failed at once): it closes now.
            attempt::close(pass, f, &a.record_id, a.cycle, a.attempt, None, None)?;
            closed.push((key, a.locals));
            continue;
        }
        let left = a.pending.len();
        for d in std::mem::take(&mut a.pending) {
            jobs.push(job(pass, f, &a, d)?);
        }
        if f.message.digest.is_some() {
            records.insert(a.record_id.clone(), (a.opened_at, a.locals.clone()));
        }
        tracking.insert(
            key,
            Tracking {
                left,
                stays_pending: false,
                locals: a.locals,
            },
        );
    }
    let (now, store) = (pass.now, pass.store);
    let mut settle = |store: &Store, job: &Job, settled: &Settled| -> anyhow::Result<()> {
        record(store, f, job, settled, now, report)?;
        let key = (job.record.clone(), job.cycle, job.attempt);
        let t = tracking
            .get_mut(&key)
            .expect("every job's attempt is tracked");
        t.left -= 1;
        t.stays_pending |= matches!(settled, Settled::Pending(_));
        if t.left == 0 && !t.stays_pending {
            close_attempt(store, f, &key.0, key.1, key.2, now)?;
            let t = tracking.remove(&key).expect("just seen");
            closed.push((key, t.locals));
        }
        Ok(())
    };
    let mut members = HashMap::new();
    if let Some(d) = &f.message.digest {
        let gathered = digest::gather(pass, f, d, jobs, &records)?;
        store.atomically(|store| {
            for (job, why) in &gathered.failed {
                settle(store, job, &Settled::Failed(why.clone()))?;
            }
            Ok(())
        })?;
        jobs = gathered.jobs;
        members = gathered.members;
    }
    let channels = pass.channels.clone();
    channel::send_all(&channels, jobs, pass.concurrency, pass.deadline, |group| {
        store.atomically(|store| {
            for (job, settled) in &group {
                match members.get(&job.delivery) {
                    // A digest settles each of its records' deliveries.
                    Some(records) => {
                        for member in records {
                            settle(store, member, settled)?;
                        }
                    }
                    None => settle(store, job, settled)?,
                }
            }
            Ok(())
        })
    })?;
    for ((record_id, _, attempt), locals) in closed {
        attempt::after_each_attempt(pass, f, &record_id, attempt, &locals)?;
    }
    Ok(())
}

/// The owned job of a delivery of `a`, with the reference of its
/// conversation's first message when it replies to one.
fn job(pass: &Pass, f: &Followup, a: &Sending, d: Pending) -> anyhow::Result<Job> {
    // A digest is a message of its own each pass: it threads on nothing.
    let thread = f.message.conversation.thread && f.message.digest.is_none();
    // Attempt 1 starts its conversation, and a channel that cannot thread
    // has none: nothing to look up.
    let reply_to = match thread && a.attempt > 1 && pass.channels.threads(&d.channel) {
        true => pass.store.conversation_reference(ConversationKey {
            followup: &f.id,
            record_id: &a.record_id,
            cycle: a.cycle,
            channel: &d.channel,
            target: &d.target,
        })?,
        false => None,
    };
    Ok(Job {
        at: pass.now_text.clone(),
        channel: d.channel,
        delivery: d.id,
        followup: f.id.clone(),
        record: a.record_id.clone(),
        cycle: a.cycle,
        attempt: a.attempt,
        attempts: i64::from(f.schedule.attempts),
        recipient: d.recipient,
        message: d.message,
        target: d.target,
        followup_name: f.name.clone(),
        data: a.data.clone(),
        thread,
        reply_to,
        closing: None,
    })
}

/// Marks one delivery with its event (inside the caller's transaction).
fn record(
    store: &Store,
    f: &Followup,
    job: &Job,
    settled: &Settled,
    now: i64,
    report: &mut FollowupReport,
) -> anyhow::Result<()> {
    let (state, kind, detail) = match settled {
        Settled::Delivered(reference) => {
            report.delivered += 1;
            // The first delivered message of a conversation is the one later
            // attempts reply to (and the resolution edits).
            if let Some(reference) = reference.as_ref().filter(|_| job.thread) {
                store.start_conversation(job.conversation(), &job.delivery, reference, now)?;
            }
            (DeliveryState::Delivered, EventKind::NotificationSent, None)
        }
        Settled::Pending(detail) => {
            report.pending += 1;
            (
                DeliveryState::Pending,
                EventKind::NotificationDeferred,
                Some(detail.as_str()),
            )
        }
        Settled::Failed(detail) => {
            report.failed += 1;
            report.first_failure.get_or_insert_with(|| detail.clone());
            (
                DeliveryState::Failed,
                EventKind::NotificationFailed,
                Some(detail.as_str()),
            )
        }
    };
    store.mark_delivery(&job.delivery, state, detail, now)?;
    let event = Event::new(kind, now, &f.id)
        .record(&job.record, job.cycle)
        .attempt(job.attempt)
        .recipient(&job.target)
        .channel(&job.channel);
    store.add_event(&match detail {
        Some(detail) => event.detail(detail),
        None => event,
    })
}

/// Closes an attempt with its event (inside the caller's transaction).
pub fn close_attempt(
    store: &Store,
    f: &Followup,
    record_id: &str,
    cycle: i64,
    attempt: i64,
    now: i64,
) -> anyhow::Result<()> {
    let (delivered, total) = store.delivery_counts(&f.id, record_id, cycle, attempt)?;
    store.close_attempt(&f.id, record_id, cycle, attempt, now)?;
    store.add_event(
        &Event::new(EventKind::AttemptClosed, now, &f.id)
            .record(record_id, cycle)
            .attempt(attempt)
            .detail(format!("{delivered} of {total} delivered")),
    )
}
