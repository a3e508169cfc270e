//! Sending one stored delivery through its channel, and marking what
//! became of it. A delivery is stored pending before it is sent; this
//! marks it after, so a crash in between repeats only that delivery.

use serde_json::Value;

use super::{CHANNEL_STRIKES, FollowupReport, Pass};
use crate::channel::{Outcome, Outgoing};
use crate::definition::followup::Followup;
use crate::store::{Delivery, DeliveryState, Event, EventKind, Store};

/// Sends a pending delivery; returns its state afterwards. With `closes`,
/// a delivery that ends (delivered or failed) also closes its attempt, in
/// the same transaction.
pub fn send(
    pass: &mut Pass,
    f: &Followup,
    d: &Delivery,
    report: &mut FollowupReport,
    closes: bool,
) -> anyhow::Result<DeliveryState> {
    let now = pass.now;
    let event = |kind: EventKind| {
        Event::new(kind, now, &f.id)
            .record(&d.record_id, d.cycle)
            .attempt(d.attempt)
            .recipient(&d.target)
            .channel(&d.channel)
    };
    if pass
        .strikes
        .get(&d.channel)
        .is_some_and(|s| *s >= CHANNEL_STRIKES)
    {
        report.pending += 1;
        pass.event(event(EventKind::NotificationDeferred).detail(format!(
            "channel `{}` skipped for the rest of the pass after {CHANNEL_STRIKES} transient failures in a row",
            d.channel
        )))?;
        return Ok(DeliveryState::Pending);
    }
    let recipient: Value = serde_json::from_str(&d.recipient)?;
    let message = serde_json::from_str(&d.payload)?;
    let outgoing = Outgoing {
        at: pass.now_text.clone(),
        channel: &d.channel,
        delivery: &d.id,
        followup: &f.id,
        record: &d.record_id,
        cycle: d.cycle,
        attempt: d.attempt,
        attempts: i64::from(f.schedule.attempts),
        recipient: &recipient,
        message: &message,
    };
    let outcome = match pass.channel(&d.channel) {
        Some(channel) => channel.deliver(&outgoing),
        None => Outcome::Permanent {
            detail: format!(
                "channel `{}` is no longer defined in tenant.yaml",
                d.channel
            ),
        },
    };
    let (state, kind, detail) = match outcome {
        Outcome::Delivered => {
            pass.strikes.remove(&d.channel);
            report.delivered += 1;
            (DeliveryState::Delivered, EventKind::NotificationSent, None)
        }
        Outcome::Transient { detail } => {
            *pass.strikes.entry(d.channel.clone()).or_default() += 1;
            report.pending += 1;
            (
                DeliveryState::Pending,
                EventKind::NotificationDeferred,
                Some(detail),
            )
        }
        Outcome::Permanent { detail } => {
            report.failed += 1;
            report.first_failure.get_or_insert_with(|| detail.clone());
            (
                DeliveryState::Failed,
                EventKind::NotificationFailed,
                Some(detail),
            )
        }
    };
    // In a dry run the store is an in-memory copy: marking keeps the
    // simulation true without writing anything.
    pass.store.atomically(|store| {
        store.mark_delivery(&d.id, state, detail.as_deref(), now)?;
        let e = event(kind);
        store.add_event(&match detail {
            Some(detail) => e.detail(detail),
            None => e,
        })?;
        if closes && state != DeliveryState::Pending {
            close_attempt(store, f, &d.record_id, d.cycle, d.attempt, now)?;
        }
        Ok(())
    })?;
    Ok(state)
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
