//! The end of a conversation: once a record is resolved or exhausted, the
//! first message of each of its conversations on a channel that can edit
//! (Slack's Web API) is edited to say so. Each edit is tried once, through
//! the pool like any delivery (its rate and `Retry-After` within the
//! pass); whatever happens, the conversation closes with an event: a
//! failed edit is never retried by later passes.

use super::Pass;
use crate::channel::{self, Closing, Job, Settled};
use crate::definition::followup::Followup;
use crate::store::{ConversationKey, Event, EventKind};

/// Edits the first messages of the follow-up's ended conversations.
pub fn edit_ended(pass: &mut Pass, f: &Followup) -> anyhow::Result<()> {
    let closing = pass.store.closing_conversations(&f.id)?;
    if closing.is_empty() {
        return Ok(());
    }
    let mut jobs = Vec::new();
    pass.store.atomically(|store| {
        for (c, first) in closing {
            let key = ConversationKey {
                followup: &f.id,
                record_id: &c.record_id,
                cycle: c.cycle,
                channel: &c.channel,
                target: &c.target,
            };
            let first = first.filter(|_| pass.channels.edits(&c.channel));
            let Some(first) = first else {
                // E-mail and Google Chat say nothing of a resolution; a
                // pruned first message cannot be rebuilt.
                store.close_conversation(key, "its channel does not edit messages", pass.now)?;
                continue;
            };
            let closing = Closing::parse(c.ended.as_deref().unwrap_or_default());
            jobs.push(Job {
                at: pass.now_text.clone(),
                channel: c.channel.clone(),
                delivery: c.delivery.clone(),
                followup: f.id.clone(),
                record: c.record_id.clone(),
                cycle: c.cycle,
                attempt: first.attempt,
                attempts: i64::from(f.schedule.attempts),
                recipient: serde_json::from_str(&first.recipient)?,
                message: serde_json::from_str(&first.payload)?,
                target: c.target.clone(),
                followup_name: f.name.clone(),
                data: serde_json::Value::Null,
                thread: true,
                reply_to: Some(c.reference.clone()),
                closing: Some(closing),
            });
        }
        Ok(())
    })?;
    let channels = pass.channels.clone();
    let (now, store) = (pass.now, pass.store);
    channel::send_all(&channels, jobs, pass.concurrency, pass.deadline, |group| {
        store.atomically(|store| {
            for (job, settled) in &group {
                let ended = job.closing.map(Closing::as_str).unwrap_or_default();
                let (kind, detail) = match settled {
                    Settled::Delivered(_) => (
                        EventKind::ConversationUpdated,
                        format!("the first message says the record was {ended}"),
                    ),
                    Settled::Failed(why) | Settled::Pending(why) => (
                        EventKind::ConversationUpdateFailed,
                        format!("the first message could not be edited ({ended}): {why}"),
                    ),
                };
                store.close_conversation(job.conversation(), &detail, now)?;
                store.add_event(
                    &Event::new(kind, now, &f.id)
                        .record(&job.record, job.cycle)
                        .attempt(job.attempt)
                        .recipient(&job.target)
                        .channel(&job.channel)
                        .detail(detail),
                )?;
            }
            Ok(())
        })
    })
}
