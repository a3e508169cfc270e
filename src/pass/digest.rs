//! Digests (`message.digest`): every record due for one target on one
//! channel in one pass goes out as one message, its title and then a line
//! per record, oldest first, at most [`DIGEST_LINES`] of them.
//!
//! Each record keeps its own attempt and its own stored delivery; only the
//! sending is shared. The digest's outcome settles each of its records'
//! deliveries, in one transaction, so a crash repeats at most the digests
//! in flight, and attempts, events, `after_each_attempt` and `explain`
//! count per record as without a digest.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::Pass;
use crate::channel::{Job, key_of};
use crate::definition::followup::{Digest, Followup};
use crate::message::{Composed, DIGEST_LINES, DigestBody, DigestRecord};
use crate::template::{Encoding, Scopes};

/// The jobs to send, and what each digest stands for.
pub struct Gathered {
    pub jobs: Vec<Job>,
    /// A digest's delivery id → the jobs of its records.
    pub members: HashMap<String, Vec<Job>>,
    /// Records' jobs whose line (or whose digest's title) could not be
    /// rendered: they fail, saying why.
    pub failed: Vec<(Job, String)>,
}

/// One job per channel and target for the records of `jobs`.
/// `records` gives each record's opening time and locals.
pub fn gather(
    pass: &Pass,
    f: &Followup,
    digest: &Digest,
    jobs: Vec<Job>,
    records: &HashMap<String, (i64, Value)>,
) -> anyhow::Result<Gathered> {
    let mut groups: BTreeMap<(String, String), Vec<Job>> = BTreeMap::new();
    for job in jobs {
        groups
            .entry((job.channel.clone(), job.target.clone()))
            .or_default()
            .push(job);
    }
    let mut out = Gathered {
        jobs: Vec::new(),
        members: HashMap::new(),
        failed: Vec::new(),
    };
    for ((channel, target), mut members) in groups {
        let opened = |j: &Job| records.get(&j.record).map_or(0, |r| r.0);
        members.sort_by(|a, b| (opened(a), &a.record).cmp(&(opened(b), &b.record)));
        let encoding = pass
            .catalog
            .tenant
            .channels
            .get(&channel)
            .map_or(Encoding::Plain, |c| c.encoding());
        let room = members[0].recipient.get("recipients").is_some();
        let custom = match room {
            true => Value::Object(Default::default()),
            false => Value::Object(pass.store.customs(&target)?),
        };
        let digest_scope = json!({
            "count": members.len(),
            "records": members.iter().map(|j| j.data.clone()).collect::<Vec<_>>(),
        });
        let recipient = recipient(&members);
        let null = Value::Null;
        let mut lines = Vec::new();
        let mut kept = Vec::new();
        for job in members {
            let followup = job.followup_scope();
            let locals = records.get(&job.record).map_or(&null, |r| &r.1);
            let scopes = Scopes {
                followup: Some(&followup),
                recipient: Some(&job.recipient),
                digest: Some(&digest_scope),
                local: Some(locals),
                global: Some(&pass.globals),
                custom: Some(&custom),
                ..Scopes::default()
            };
            match digest.line.render(&scopes, encoding) {
                Ok(line) => {
                    lines.push(line);
                    kept.push(job);
                }
                Err(missing) => {
                    let why = format!("digest line: {missing}: nothing was sent");
                    out.failed.push((job, why));
                }
            }
        }
        if kept.is_empty() {
            continue;
        }
        // The title counts what the digest lists.
        let digest_scope = json!({
            "count": kept.len(),
            "records": kept.iter().map(|j| j.data.clone()).collect::<Vec<_>>(),
        });
        let followup = json!({
            "id": f.id,
            "name": f.name,
            "attempts": f.schedule.attempts,
        });
        let scopes = Scopes {
            followup: Some(&followup),
            recipient: Some(&recipient),
            digest: Some(&digest_scope),
            global: Some(&pass.globals),
            custom: Some(&custom),
            ..Scopes::default()
        };
        let title = match digest.title.render(&scopes, encoding) {
            Ok(title) => title,
            Err(missing) => {
                let why = format!("digest title: {missing}: nothing was sent");
                out.failed
                    .extend(kept.into_iter().map(|job| (job, why.clone())));
                continue;
            }
        };
        let more = lines.len().saturating_sub(DIGEST_LINES);
        lines.truncate(DIGEST_LINES);
        let body = DigestBody {
            title,
            lines,
            more,
            records: kept
                .iter()
                .map(|j| DigestRecord {
                    record: j.record.clone(),
                    attempt: j.attempt,
                    delivery: j.delivery.clone(),
                })
                .collect(),
        };
        let ids: Vec<&str> = kept.iter().map(|j| j.delivery.as_str()).collect();
        let first = &kept[0];
        let job = Job {
            delivery: super::attempt::delivery_id(&[
                &f.id,
                "digest",
                &key_of(&ids.join("\n")),
                &channel,
                &target,
            ]),
            recipient,
            message: Composed {
                text: Some(body.plain()),
                digest: Some(body),
                ..Composed::default()
            },
            data: Value::Array(kept.iter().map(|j| j.data.clone()).collect()),
            // A digest's records differ from pass to pass: it threads on
            // nothing, and starts no conversation.
            thread: false,
            reply_to: None,
            closing: None,
            ..first.clone()
        };
        out.members.insert(job.delivery.clone(), kept);
        out.jobs.push(job);
    }
    Ok(out)
}

/// Who a digest goes to: the person, or a room's people, each once.
fn recipient(members: &[Job]) -> Value {
    let first = members[0].recipient.clone();
    if first.get("recipients").is_none() {
        return first;
    }
    let mut seen = std::collections::HashSet::new();
    let people: Vec<Value> = members
        .iter()
        .flat_map(|j| j.people())
        .filter(|p| seen.insert(p.get("id").cloned()))
        .cloned()
        .collect();
    let names: Vec<&str> = people
        .iter()
        .filter_map(|p| {
            p.get("name")
                .or_else(|| p.get("id"))
                .and_then(Value::as_str)
        })
        .collect();
    let mut room = first.clone();
    room["name"] = json!(names.join(", "));
    room["recipients"] = json!(people);
    room
}
