//! Step 3's second half: what a successful poll means for the records.
//!
//! - a new ID opens a record (cycle 1, or the next cycle of a resolved one),
//!   due at once; on a baseline poll (`first_poll: record_only` the very
//!   first time, or after `reset --baseline`) it is only remembered;
//! - a known ID updates its data;
//! - a tracked record absent from `resolve_after` successive successful
//!   polls is resolved (`on_resolved` runs once); a baselined one is
//!   dropped silently;
//! - identity guard: a poll whose IDs share none with 10 or more open
//!   records changes nothing and blocks the follow-up until `reset`.
//!
//! [`plan`] decides, without touching the store; [`reconcile`] applies the
//! plan and its events in one transaction.

use crate::hashing::{IdMap, IdSet};

use serde_json::Value;

use super::attempt::followup_scope;
use super::poll::PollResult;
use super::{FollowupReport, Pass, actions};
use crate::definition::followup::Followup;
use crate::definition::model::FirstPoll;
use crate::store::{Event, EventKind, FollowupState, Polled, RecordState, Tracked};

/// How many tracked records make a poll with no known ID suspicious.
pub const IDENTITY_GUARD: usize = 10;

#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Set when the identity guard trips: nothing else is applied.
    pub identity_changed: Option<String>,
    /// Indexes into the polled records, with the cycle and state to open.
    pub opens: Vec<(usize, i64, RecordState)>,
    /// Known records seen again whose data or absence count must change.
    pub refreshes: Vec<usize>,
    /// Tracked records missing from this poll, with their new absence count.
    pub absences: Vec<(String, i64)>,
    /// Records resolved by this poll, with their cycle.
    pub resolves: Vec<(String, i64)>,
    /// Baselined records gone: forgotten.
    pub drops: Vec<String>,
}

pub fn plan(
    tracked: &IdMap<Tracked>,
    polled: &[Polled],
    resolve_after: u32,
    baseline: bool,
) -> Plan {
    let mut plan = Plan::default();
    let open = |t: &Tracked| t.state == RecordState::Open;
    let open_count = tracked.values().filter(|t| open(t)).count();
    if open_count >= IDENTITY_GUARD
        && !polled.is_empty()
        && !polled.iter().any(|p| tracked.get(&p.id).is_some_and(open))
    {
        plan.identity_changed = Some(format!(
            "the poll found {} records and none of the {open_count} open ones: did the reconciliation ID or the query change?",
            polled.len()
        ));
        return plan;
    }
    for (i, p) in polled.iter().enumerate() {
        match tracked.get(&p.id) {
            None => plan.opens.push((
                i,
                1,
                if baseline {
                    RecordState::Baselined
                } else {
                    RecordState::Open
                },
            )),
            Some(t) if t.state == RecordState::Resolved => {
                let state = if baseline {
                    RecordState::Baselined
                } else {
                    RecordState::Open
                };
                plan.opens.push((i, t.cycle + 1, state));
            }
            Some(t) if t.hash != p.hash || t.absent > 0 => plan.refreshes.push(i),
            Some(_) => {}
        }
    }
    let present: IdSet = polled.iter().map(|p| p.id.as_str()).collect();
    let mut missing: Vec<(&String, &Tracked)> = tracked
        .iter()
        .filter(|(id, t)| t.state != RecordState::Resolved && !present.contains(id.as_str()))
        .collect();
    missing.sort_by(|a, b| a.0.cmp(b.0));
    for (id, t) in missing {
        let absent = t.absent + 1;
        if absent < i64::from(resolve_after) {
            plan.absences.push((id.clone(), absent));
        } else if t.state == RecordState::Baselined {
            plan.drops.push(id.clone());
        } else {
            plan.resolves.push((id.clone(), t.cycle));
        }
    }
    plan
}

/// Applies a successful poll. Returns why the follow-up is skipped when the
/// identity guard trips.
pub fn reconcile(
    pass: &mut Pass,
    f: &Followup,
    state: &mut FollowupState,
    tracked: &IdMap<Tracked>,
    result: PollResult,
    report: &mut FollowupReport,
) -> anyhow::Result<Option<String>> {
    let store = pass.store;
    let now = pass.now;
    // A baseline poll only remembers: the very first successful poll of a
    // `record_only` follow-up, or the first after `reset --baseline`.
    let baseline = state.baseline
        || (f.polling.first_poll == FirstPoll::RecordOnly && state.last_success_at.is_none());
    let plan = plan(tracked, &result.records, f.polling.resolve_after, baseline);

    if let Some(why) = &plan.identity_changed {
        state.last_poll_ok = Some(false);
        state.last_poll_detail = Some(why.clone());
        state.identity_changed = Some(why.clone());
        store.atomically(|store| {
            store.save_followup_state(state)?;
            store.add_event(&Event::new(EventKind::PollIdentityChanged, now, &f.id).detail(why))
        })?;
        return Ok(Some(why.clone()));
    }

    let polled = &result.records;
    let opened = plan
        .opens
        .iter()
        .filter(|o| o.2 == RecordState::Open)
        .count();
    store.atomically(|store| {
        for id in &result.duplicates {
            store.add_event(&Event::new(EventKind::RecordDuplicate, now, &f.id).detail(
                format!("ID `{id}` appeared again in the poll; the first record with it was kept"),
            ))?;
        }
        for &(i, cycle, record_state) in &plan.opens {
            let p = &polled[i];
            store.open_record(&f.id, p, cycle, record_state, now)?;
            let kind = match record_state {
                RecordState::Baselined => EventKind::RecordBaselined,
                _ => EventKind::RecordOpened,
            };
            store.add_event(&Event::new(kind, now, &f.id).record(&p.id, cycle))?;
        }
        for &i in &plan.refreshes {
            store.refresh_record(&f.id, &polled[i], now)?;
        }
        for (id, absent) in &plan.absences {
            store.set_absent(&f.id, id, *absent)?;
        }
        for id in &plan.drops {
            store.delete_record(&f.id, id)?;
        }
        for (id, cycle) in &plan.resolves {
            store.set_record_state(&f.id, id, RecordState::Resolved, now)?;
            store.end_conversations(
                &f.id,
                id,
                *cycle,
                "resolved",
                f.message.conversation.update_on_resolved,
                now,
            )?;
            store.add_event(
                &Event::new(EventKind::RecordResolved, now, &f.id)
                    .record(id, *cycle)
                    .detail(format!(
                        "absent from {} successive successful polls",
                        f.polling.resolve_after
                    )),
            )?;
        }
        state.last_poll_ok = Some(true);
        state.last_poll_detail = None;
        state.last_success_at = Some(now);
        state.locals = result.locals.clone();
        state.baseline = false;
        store.save_followup_state(state)?;
        store.add_event(
            &Event::new(EventKind::PollSucceeded, now, &f.id).detail(format!(
                "{} records: {opened} opened, {} baselined, {} resolved",
                polled.len(),
                plan.opens.len() - opened,
                plan.resolves.len()
            )),
        )
    })?;
    report.opened = opened;
    report.baselined = plan.opens.len() - opened;
    report.resolved = plan.resolves.len();

    if !f.on_resolved.is_empty() {
        let locals = Value::Object(state.locals.clone());
        for (id, _) in &plan.resolves {
            let Some(record) = store.record(&f.id, id)? else {
                continue;
            };
            let scope = followup_scope(f, &record, record.attempts);
            actions::run(pass, f, "on_resolved", &f.on_resolved, &scope, &locals, &[])?;
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polled(ids: &[&str]) -> Vec<Polled> {
        ids.iter()
            .map(|id| Polled {
                id: id.to_string(),
                hash: 1,
                data: Some("{}".into()),
            })
            .collect()
    }

    fn tracked(entries: &[(&str, RecordState, i64)]) -> IdMap<Tracked> {
        entries
            .iter()
            .map(|(id, state, absent)| {
                (
                    id.to_string(),
                    Tracked {
                        cycle: 1,
                        state: *state,
                        absent: *absent,
                        hash: 1,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn new_known_and_returning_records() {
        let t = tracked(&[
            ("a", RecordState::Open, 0),
            ("b", RecordState::Resolved, 0),
            ("c", RecordState::Open, 1),
        ]);
        let p = plan(&t, &polled(&["a", "b", "c", "d"]), 2, false);
        assert_eq!(
            p.opens,
            vec![(1, 2, RecordState::Open), (3, 1, RecordState::Open)]
        );
        // `c` was absent once: seen again, its absence count resets.
        assert_eq!(p.refreshes, vec![2]);
        assert!(p.resolves.is_empty());
    }

    #[test]
    fn absence_resolves_after_resolve_after_polls() {
        let t = tracked(&[
            ("a", RecordState::Open, 0),
            ("x", RecordState::Exhausted, 1),
            ("z", RecordState::Baselined, 1),
        ]);
        let p = plan(&t, &polled(&["a"]), 2, false);
        assert_eq!(p.resolves, vec![("x".to_string(), 1)]);
        assert_eq!(p.drops, vec!["z".to_string()]);
        let p = plan(&t, &polled(&[]), 3, false);
        assert_eq!(
            p.absences,
            vec![
                ("a".to_string(), 1),
                ("x".to_string(), 2),
                ("z".to_string(), 2)
            ]
        );
    }

    #[test]
    fn identity_guard() {
        let ids: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
        let entries: Vec<(&str, RecordState, i64)> = ids
            .iter()
            .map(|id| (id.as_str(), RecordState::Open, 0))
            .collect();
        let t = tracked(&entries);
        assert!(
            plan(&t, &polled(&["new1", "new2"]), 2, false)
                .identity_changed
                .is_some()
        );
        // One shared ID is enough; an empty poll is not an identity change.
        assert!(
            plan(&t, &polled(&["new1", "r3"]), 2, false)
                .identity_changed
                .is_none()
        );
        assert!(plan(&t, &polled(&[]), 2, false).identity_changed.is_none());
        // Baselined records are not open: a feed whose IDs all turn over
        // between polls (new tickets only) is not blocked.
        let baselined: Vec<(&str, RecordState, i64)> = ids
            .iter()
            .map(|id| (id.as_str(), RecordState::Baselined, 0))
            .collect();
        assert!(
            plan(&tracked(&baselined), &polled(&["new1"]), 2, false)
                .identity_changed
                .is_none()
        );
        // Nine tracked records are not enough to be sure.
        let t = tracked(&entries[..9]);
        assert!(
            plan(&t, &polled(&["new1"]), 2, false)
                .identity_changed
                .is_none()
        );
    }

    #[test]
    fn baseline_only_remembers() {
        let p = plan(&IdMap::default(), &polled(&["a", "b"]), 2, true);
        assert_eq!(
            p.opens,
            vec![
                (0, 1, RecordState::Baselined),
                (1, 1, RecordState::Baselined)
            ]
        );
    }
}
