//! The bounded pool of senders (DESIGN.md, "Delivery engine").
//!
//! The calling thread owns the store: it hands owned [`Job`]s to at most
//! `concurrency` scoped sender threads and records each outcome as it
//! comes back. A sender takes its next job only once the caller has
//! recorded its last outcome, so that at any moment at most `concurrency`
//! deliveries are sent and not yet recorded: a crash repeats at most that
//! many (plus the one delivery of the local writer: console and file, and
//! every channel of a dry run, are written in order by one more sender).
//!
//! A sender honours its channel's `rate`, retries a transient failure
//! when the service says when (`Retry-After`) and that fits before the
//! deadline, and skips a channel after [`STRIKES`] transient failures in
//! a row. It never touches the store.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::{Duration, Instant};

use super::registry::STRIKES;
use super::{Channels, Job, Outcome};

/// How often one delivery is tried within a pass, at most.
const TRIES: u32 = 3;

/// What became of a delivery in this pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// With the service's reference to the message, if it gave one.
    Delivered(Option<serde_json::Value>),
    /// Permanent: recorded as failed.
    Failed(String),
    /// Transient: left pending for a later pass.
    Pending(String),
}

/// Sends every job; `record` gets outcomes in groups, on this thread, as
/// they arrive (each group is one transaction for the caller). An error
/// from `record` stops the senders (each finishes the delivery in hand)
/// and is returned.
pub fn send_all(
    channels: &Channels,
    jobs: Vec<Job>,
    concurrency: usize,
    deadline: Option<Instant>,
    mut record: impl FnMut(Vec<(Job, Settled)>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (local, remote): (VecDeque<Job>, VecDeque<Job>) = jobs
        .into_iter()
        .partition(|j| channels.get(&j.channel).is_some_and(|e| e.local));
    let remote_senders = remote.len().min(concurrency.max(1));
    let local_senders = usize::from(!local.is_empty());
    let queues = [Mutex::new(local), Mutex::new(remote)];
    let (done, outcomes) = mpsc::channel::<Done>();

    std::thread::scope(|scope| {
        for (queue, count) in queues.iter().zip([local_senders, remote_senders]) {
            for _ in 0..count {
                let done = done.clone();
                scope.spawn(move || sender(channels, queue, deadline, &done));
            }
        }
        drop(done);
        let result = collect(&outcomes, &mut record);
        // After an error, the senders whose outcomes were never taken wait
        // for an ack: dropping the queue of outcomes tells them none comes.
        drop(outcomes);
        result
    })
}

/// One outcome, and the way to tell its sender it is recorded.
struct Done {
    job: Job,
    settled: Settled,
    recorded: SyncSender<()>,
}

fn sender(
    channels: &Channels,
    queue: &Mutex<VecDeque<Job>>,
    deadline: Option<Instant>,
    done: &mpsc::Sender<Done>,
) {
    loop {
        let Some(job) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else {
            return;
        };
        let settled = send_one(channels, &job, deadline);
        // The only sender of the ack goes with the outcome: if the caller
        // drops it unanswered, `wait` says so instead of blocking.
        let (recorded, wait) = mpsc::sync_channel(1);
        let sent = done.send(Done {
            job,
            settled,
            recorded,
        });
        // The caller gave up (its store failed): stop.
        if sent.is_err() || wait.recv().is_err() {
            return;
        }
    }
}

/// Groups what has arrived, records it, then lets its senders go on.
fn collect(
    outcomes: &Receiver<Done>,
    record: &mut impl FnMut(Vec<(Job, Settled)>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    while let Ok(first) = outcomes.recv() {
        let mut group = vec![first];
        group.extend(outcomes.try_iter());
        let (results, acks): (Vec<_>, Vec<_>) = group
            .into_iter()
            .map(|d| ((d.job, d.settled), d.recorded))
            .unzip();
        // On an error the acks drop unsent: every sender stops.
        record(results)?;
        for ack in acks {
            let _ = ack.send(());
        }
    }
    Ok(())
}

fn send_one(channels: &Channels, job: &Job, deadline: Option<Instant>) -> Settled {
    let Some(entry) = channels.get(&job.channel) else {
        return Settled::Failed(format!(
            "channel `{}` is no longer defined in tenant.yaml",
            job.channel
        ));
    };
    if entry.struck_out() {
        return Settled::Pending(format!(
            "channel `{}` skipped for the rest of the pass after {STRIKES} transient failures in a row",
            job.channel
        ));
    }
    let mut tries = 0;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Settled::Pending(
                "the pass ran out of time (--max-duration) before this delivery".into(),
            );
        }
        if !entry.wait_for_slot(deadline) {
            return Settled::Pending(format!(
                "channel `{}`'s rate leaves no slot before the end of the pass (--max-duration)",
                job.channel
            ));
        }
        tries += 1;
        match entry.channel.deliver(job, deadline) {
            Outcome::Delivered(reference) => {
                entry.clear_strikes();
                return Settled::Delivered(reference);
            }
            Outcome::Permanent { detail } => return Settled::Failed(detail),
            Outcome::Transient {
                detail,
                retry_after,
            } => {
                if let Some(wait) = retry_after.filter(|w| tries < TRIES && fits(*w, deadline)) {
                    std::thread::sleep(wait);
                    continue;
                }
                entry.strike();
                return Settled::Pending(match retry_after {
                    Some(wait) if tries < TRIES => format!(
                        "{detail} (Retry-After {} is past the end of the pass)",
                        humantime::format_duration(wait)
                    ),
                    _ => detail,
                });
            }
        }
    }
}

/// Whether waiting `wait` still leaves time before the deadline.
fn fits(wait: Duration, deadline: Option<Instant>) -> bool {
    deadline.is_none_or(|d| Instant::now() + wait < d)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::channel::settings::{Kind, Settings};
    use crate::channel::tests::job;
    use crate::template::Template;

    fn channels() -> Channels {
        let settings = Settings {
            kind: Kind::Command {
                argv: vec![Template::parse("true").unwrap()],
                timeout: Duration::from_secs(5),
                dir: std::env::temp_dir(),
            },
            rate: None,
            ca_file: None,
        };
        let all = BTreeMap::from([("test".to_owned(), settings)]);
        Channels::open(&all, &serde_json::json!({}), false)
    }

    fn jobs(n: usize) -> Vec<Job> {
        (0..n)
            .map(|i| Job {
                delivery: format!("d{i}"),
                ..job()
            })
            .collect()
    }

    #[test]
    fn every_job_is_recorded_once() {
        let mut seen = Vec::new();
        send_all(&channels(), jobs(20), 4, None, |group| {
            seen.extend(group.into_iter().map(|(j, s)| (j.delivery, s)));
            Ok(())
        })
        .unwrap();
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(seen.len(), 20);
        seen.dedup_by(|a, b| a.0 == b.0);
        assert_eq!(seen.len(), 20);
        assert!(seen.iter().all(|(_, s)| *s == Settled::Delivered(None)));
    }

    #[test]
    fn a_failed_record_stops_the_senders_without_a_hang() {
        let mut groups = 0;
        let err = send_all(&channels(), jobs(40), 4, None, |_| {
            groups += 1;
            anyhow::bail!("disk full")
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(groups, 1);
    }
}
