//! The pass: one `run-once`. For each active follow-up that is due: poll,
//! reconcile, then notify what is due and run the actions that follow.
//! DESIGN.md "The pass" is the specification; each step is a module:
//! `poll` (integrations → records), `reconcile` (records → state),
//! `schedule` (what is due: retries, exhaustion, new attempts), `attempt`
//! (one attempt: targets, storing, closing), `deliver` (an attempt's
//! deliveries through the pool of senders), `actions` (set / integration), and
//! `due` (when things fall due).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::channel::Channels;
use crate::definition::followup::Followup;
use crate::definition::load::Catalog;
use crate::definition::model::Status;
use crate::integration::Http;
use crate::store::{Event, EventKind, FollowupState, Seconds, Store};

mod actions;
pub(crate) mod attempt;
mod conversation;
mod deliver;
mod digest;
pub mod due;
mod poll;
mod reconcile;
mod schedule;

pub struct Options {
    pub now: Timestamp,
    pub dry_run: bool,
    pub only: Option<String>,
    pub max_duration: Duration,
    /// How many deliveries are sent at once (`--concurrency`).
    pub concurrency: usize,
}

/// What a pass did, for its summary and its exit status.
#[derive(Debug, Default)]
pub struct Report {
    pub followups: Vec<FollowupReport>,
    /// Follow-ups left for the next pass when `--max-duration` ran out.
    pub unfinished: Vec<String>,
}

impl Report {
    /// Whether every due follow-up was polled successfully.
    pub fn ok(&self) -> bool {
        self.unfinished.is_empty()
            && self
                .followups
                .iter()
                .all(|f| !matches!(f.poll, PollOutcome::Failed(_) | PollOutcome::Skipped(_)))
    }
}

#[derive(Debug, Default)]
pub struct FollowupReport {
    pub id: String,
    pub poll: PollOutcome,
    pub opened: usize,
    pub baselined: usize,
    pub resolved: usize,
    pub attempts: usize,
    pub delivered: usize,
    pub failed: usize,
    pub pending: usize,
    pub exhausted: usize,
    /// Why the first failed delivery failed, for the summary.
    pub first_failure: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
pub enum PollOutcome {
    /// Not due this pass.
    #[default]
    NotDue,
    Succeeded {
        records: usize,
    },
    Failed(String),
    Skipped(String),
}

/// Everything a pass shares across follow-ups.
pub struct Pass<'a> {
    pub catalog: &'a Catalog,
    pub store: &'a Store,
    pub now: Seconds,
    pub now_text: String,
    pub dry_run: bool,
    /// When to stop starting work (`--max-duration`); none when too far to say.
    pub deadline: Option<Instant>,
    pub http: Http,
    /// `global.*`: tenant attributes and those actions have set.
    pub globals: Value,
    /// The key of record digests, from the database.
    pub digest_key: crate::hashing::DigestKey,
    /// The tenant's channels, opened for this pass; shared with the
    /// senders while they send.
    channels: Arc<Channels>,
    concurrency: usize,
}

/// What the store holds of every follow-up, read in three queries when the
/// pass starts, so that a follow-up with nothing to do costs no query of
/// its own.
struct Overview {
    states: HashMap<String, FollowupState>,
    open_attempts: HashSet<String>,
    /// Follow-ups with a conversation whose first message is to be edited.
    closing: HashSet<String>,
    earliest_open: HashMap<String, Seconds>,
}

/// What `notify` may skip for a follow-up not polled this pass.
#[derive(Debug, Clone, Copy)]
pub struct Quiet {
    /// No attempt of it is open.
    pub no_open_attempt: bool,
    /// Its open records' earliest last attempt (none: no open record).
    pub earliest_open: Option<Seconds>,
    /// A conversation of it waits for its closing edit.
    pub closing: bool,
}

pub fn run(catalog: &Catalog, store: &Store, options: &Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut overview = Overview {
        states: store
            .followup_states()?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect(),
        open_attempts: store.followups_with_open_attempts()?,
        closing: store.followups_with_closing_conversations()?,
        earliest_open: store.earliest_open_attempts()?,
    };
    let mut globals: Map<String, Value> = catalog.tenant.attributes.clone();
    globals.extend(store.globals()?);
    let globals = Value::Object(globals);
    let channels = Channels::open(&catalog.tenant.channels, &globals, options.dry_run);
    let mut pass = Pass {
        catalog,
        store,
        now: options.now.as_second(),
        now_text: crate::clock::format(options.now),
        dry_run: options.dry_run,
        deadline: started.checked_add(options.max_duration),
        http: Http::new(started.checked_add(options.max_duration)),
        globals,
        digest_key: store.digest_key()?,
        channels: Arc::new(channels),
        concurrency: options.concurrency,
    };
    let mut report = Report::default();
    let followups = catalog
        .entries
        .iter()
        .filter_map(|e| e.followup.as_ref())
        .filter(|f| {
            f.status == Status::Active && options.only.as_deref().is_none_or(|only| only == f.id)
        });
    for f in followups {
        let state = overview
            .states
            .remove(&f.id)
            .unwrap_or_else(|| FollowupState {
                id: f.id.clone(),
                ..FollowupState::default()
            });
        if pass.out_of_time() {
            // Left for the next pass; it counts only if its poll was due.
            if due::poll_is_due(state.last_poll_at, f.polling.every, pass.now) {
                report.unfinished.push(f.id.clone());
            }
            continue;
        }
        let quiet = Quiet {
            no_open_attempt: !overview.open_attempts.contains(&f.id),
            closing: overview.closing.contains(&f.id),
            earliest_open: overview.earliest_open.get(&f.id).copied(),
        };
        report.followups.push(pass.followup(f, state, quiet)?);
    }
    Ok(report)
}

impl Pass<'_> {
    fn followup(
        &mut self,
        f: &Followup,
        mut state: FollowupState,
        quiet: Quiet,
    ) -> anyhow::Result<FollowupReport> {
        let mut report = FollowupReport {
            id: f.id.clone(),
            ..FollowupReport::default()
        };
        if let Some(why) = &state.identity_changed {
            let detail = format!("skipped until `followup reset {}`: {why}", f.id);
            self.event(Event::new(EventKind::PollSkipped, self.now, &f.id).detail(&detail))?;
            report.poll = PollOutcome::Skipped(detail);
            return Ok(report);
        }
        // What the pass start saw holds until this follow-up polls.
        let edits_left = quiet.closing;
        let mut quiet = Some(quiet);
        if due::poll_is_due(state.last_poll_at, f.polling.every, self.now) {
            report.poll = self.poll_and_reconcile(f, &mut state, &mut report)?;
            quiet = None;
        }
        // Notify only after a successful latest poll.
        if state.last_poll_ok == Some(true) && state.identity_changed.is_none() {
            let locals = Value::Object(state.locals.clone());
            schedule::notify(self, f, &locals, quiet, &mut report)?;
        }
        // Records resolved or exhausted now, or edits a crash left.
        let ended = report.resolved + report.exhausted > 0;
        if ended || edits_left {
            conversation::edit_ended(self, f)?;
        }
        Ok(report)
    }

    /// Step 3: poll, then reconcile what the poll found (data flows one
    /// way: `poll` knows nothing of `reconcile`).
    pub(super) fn poll_and_reconcile(
        &mut self,
        f: &Followup,
        state: &mut FollowupState,
        report: &mut FollowupReport,
    ) -> anyhow::Result<PollOutcome> {
        state.last_poll_at = Some(self.now);
        let tracked = self.store.tracked(&f.id)?;
        let result = match self.poll(f, &tracked) {
            Ok(result) => result,
            Err(detail) => {
                state.last_poll_ok = Some(false);
                state.last_poll_detail = Some(detail.clone());
                self.store.atomically(|store| {
                    store.save_followup_state(state)?;
                    store.add_event(
                        &Event::new(EventKind::PollFailed, self.now, &f.id).detail(&detail),
                    )
                })?;
                return Ok(PollOutcome::Failed(detail));
            }
        };
        let records = result.records.len();
        match reconcile::reconcile(self, f, state, &tracked, result, report)? {
            Some(why) => Ok(PollOutcome::Skipped(why)),
            None => Ok(PollOutcome::Succeeded { records }),
        }
    }

    /// Writes an event.
    pub fn event(&self, event: Event) -> anyhow::Result<()> {
        self.store.add_event(&event)
    }

    pub fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}
