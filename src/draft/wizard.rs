//! The wizard of `followup create`: the product's six steps in its order
//! (name and status, data extraction, recipients, message, notification
//! schedule, post-follow-up actions), one question a line, each with its
//! default in brackets that Enter takes; then a summary, what a dry run
//! would do with the data read, and whether to write.
//!
//! Questions a flag answered are not asked. Every answer is checked with
//! `validate`'s own rules (the shared rule functions, or the whole draft
//! through [`Context::check`]) and the question asked again with its
//! message. Once the source is known it is read once ([`Context::read`]),
//! and the loop element, the reconciliation ID and the user field are
//! suggested from its records ([`sample`]).
//!
//! It reads and writes through the given reader and writer, so that the
//! flow can be tested without a terminal; `create` runs it only when stdin
//! and stdout are terminals. It never writes a file itself.

use std::io::{BufRead, Write};

use anyhow::bail;
use serde_json::Value;

use crate::definition::followup::Followup;
use crate::definition::model::{FirstPoll, Status};
use crate::definition::rules;
use crate::definition::tenant::Tenant;
use crate::draft::sample::{self, Candidate};
use crate::draft::{Answers, Draft, PostAction, Source, SourceAuth, UseCase, WindowSpec};
use crate::naming::slug;
use crate::path::{JsonPath, LoopPath};
use crate::template::text_of;

/// What answers are checked against, and how the source is read.
pub struct Context<'a> {
    pub tenant: &'a Tenant,
    /// The definitions directory as the operator names it (`followups`).
    pub dir: String,
    /// Why a name cannot be used (another follow-up has it, or the file its
    /// id gives exists), if it cannot.
    pub name_taken: &'a dyn Fn(&str) -> Option<String>,
    /// The checked follow-up a draft gives, or `validate`'s error messages.
    pub check: &'a dyn Fn(&Draft) -> Result<Followup, Vec<String>>,
    /// The first page of a checked follow-up's source, or why not.
    pub read: &'a dyn Fn(&Followup) -> Result<Value, String>,
}

/// How the wizard ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every answer given and writing confirmed.
    Write(Box<Draft>),
    /// The operator answered no to writing.
    Declined,
}

/// Asks every question no flag answered, in the product's order; fails when
/// the input ends.
pub fn run(
    given: Answers,
    template: Option<UseCase>,
    ctx: &Context,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    if ctx.tenant.channels.is_empty() {
        bail!("tenant.yaml defines no channel: add one first (nothing written)");
    }
    let mut w = Wizard {
        a: given,
        defaults: Answers::default().with_template(template),
        template,
        ctx,
        prompt: Prompt {
            input,
            output,
            section: None,
        },
        sample: None,
    };
    w.name_and_status()?;
    w.data_extraction()?;
    w.recipients()?;
    w.message()?;
    w.schedule()?;
    w.post_actions()?;
    w.confirm()
}

struct Wizard<'c, 'io> {
    /// What is answered so far.
    a: Answers,
    /// What Enter takes where no suggestion from the data replaces it.
    defaults: Answers,
    template: Option<UseCase>,
    ctx: &'c Context<'c>,
    prompt: Prompt<'io>,
    /// The source's first page, once read.
    sample: Option<Value>,
}

impl Wizard<'_, '_> {
    fn name_and_status(&mut self) -> anyhow::Result<()> {
        self.prompt.section("Name and status");
        if self.a.name.is_none() {
            let has_id = self.a.id.is_some();
            let taken = self.ctx.name_taken;
            self.a.name = Some(self.prompt.ask("Name", None, |s| {
                if s.is_empty() {
                    return Err("`name` must not be empty".into());
                }
                if !has_id && slug(s).is_empty() {
                    return Err(format!(
                        "the name \"{s}\" gives no id (it holds no letter or digit)"
                    ));
                }
                match taken(s) {
                    Some(why) => Err(why),
                    None => Ok(s.to_owned()),
                }
            })?);
        }
        if self.a.status.is_none() {
            self.a.status = Some(self.prompt.ask("Status", Some("active"), |s| match s {
                "active" => Ok(Status::Active),
                "inactive" => Ok(Status::Inactive),
                _ => Err(format!("`{s}` is not a status: active or inactive")),
            })?);
        }
        Ok(())
    }

    fn data_extraction(&mut self) -> anyhow::Result<()> {
        self.prompt.section("Data extraction");
        if self.a.poll_every.is_none() {
            let default = self.defaults.poll_every.clone();
            self.a.poll_every = Some(self.prompt.frequency("Polling every", default, "polling")?);
        }
        if self.a.first_poll.is_none() {
            let default = first_poll_str(self.defaults.first_poll.unwrap_or_default());
            self.a.first_poll =
                Some(self.prompt.ask("First poll", Some(default), |s| match s {
                    "notify" => Ok(FirstPoll::Notify),
                    "record_only" => Ok(FirstPoll::RecordOnly),
                    _ => Err(format!("`{s}` is not a first poll: notify or record_only")),
                })?);
        }
        if self.a.source.is_none() {
            let answer = self.prompt.ask("Source", None, |s| {
                if s.is_empty() {
                    return Err("a URL (http:// or https://) or a JSON file is needed".into());
                }
                let mut trial = self.a.clone();
                trial.source = Some(Source::from_answer(s));
                errors(self.ctx, self.template, &trial).map(|()| Source::from_answer(s))
            })?;
            self.a.source = Some(answer);
        }
        if matches!(self.a.source, Some(Source::Url(_))) && self.a.auth.is_none() {
            self.a.auth = Some(self.prompt.ask("Auth", Some("none"), SourceAuth::parse)?);
        }
        self.read_source()?;

        let candidates = self.sample.as_ref().map(sample::arrays).unwrap_or_default();
        if self.a.loop_.is_none() {
            if !candidates.is_empty() {
                let list: Vec<String> = candidates
                    .iter()
                    .take(5)
                    .map(|c| format!("{} ({} record{})", c.loop_, c.len, plural(c.len)))
                    .collect();
                self.prompt
                    .note(&format!("arrays found: {}", list.join(", ")))?;
            }
            let default = self.suggest_loop(&candidates);
            self.a.loop_ = Some(self.prompt.ask("Loop element", default.as_deref(), |s| {
                LoopPath::parse(s).map(|_| s.to_owned())
            })?);
        }
        let records = self.records();
        if let Some(first) = records.first() {
            self.prompt.note("first record:")?;
            for (path, value) in sample::fields(first).into_iter().take(20) {
                self.prompt
                    .note(&format!("  {path} = {}", sample::sample(value)))?;
            }
        }
        if self.a.reconciliation_id.is_none() {
            let template = self.defaults.reconciliation_id.clone();
            let default = match template {
                Some(t) if records.is_empty() || every_record_has(&records, &t) => Some(t),
                other => sample::reconciliation_id(&records).or(other),
            };
            self.a.reconciliation_id = Some(self.prompt.ask(
                "Reconciliation ID",
                default.as_deref(),
                |s| JsonPath::parse(s).map(|_| s.to_owned()),
            )?);
        }
        Ok(())
    }

    fn recipients(&mut self) -> anyhow::Result<()> {
        self.prompt.section("Recipients");
        if self.a.user.is_some() || self.a.group.is_some() {
            return Ok(());
        }
        let records = self.records();
        let known = sample::user_fields(&records, self.ctx.tenant);
        if !known.is_empty() {
            let list: Vec<String> = known
                .iter()
                .take(5)
                .map(|(path, user)| format!("{path} (e.g. {user})"))
                .collect();
            self.prompt
                .note(&format!("fields naming tenant users: {}", list.join(", ")))?;
        }
        let default = self
            .defaults
            .user
            .clone()
            .filter(|_| self.defaults.group.is_none())
            .or_else(|| known.first().map(|(path, _)| path.clone()))
            .unwrap_or_else(|| "none".into());
        let user = self.prompt.ask("User field", Some(&default), |s| {
            if s == "none" {
                return Ok(None);
            }
            if s.starts_with('$') {
                JsonPath::parse(s)?;
            }
            Ok(Some(s.to_owned()))
        })?;
        let group_default = self.defaults.group.clone().unwrap_or_else(|| "none".into());
        let group = self.prompt.ask("Group", Some(&group_default), |s| {
            let group = (s != "none").then(|| s.to_owned());
            let mut trial = self.a.clone();
            trial.user = user.clone();
            trial.group = group.clone();
            if trial.user.is_none() && trial.group.is_none() {
                return Err("`recipients` needs at least one of `user` and `group`".into());
            }
            errors(self.ctx, self.template, &trial).map(|()| group)
        })?;
        self.a.user = user;
        self.a.group = group;
        Ok(())
    }

    fn message(&mut self) -> anyhow::Result<()> {
        self.prompt.section("Message");
        let tenant = self.ctx.tenant;
        if self.a.channel.is_none() {
            let names: Vec<&str> = tenant.channels.keys().map(String::as_str).collect();
            let only = (names.len() == 1).then(|| names[0]);
            let label = format!("Channel ({}, last_used)", names.join(", "));
            self.a.channel = Some(self.prompt.ask(&label, only, |s| {
                if s == "last_used" || tenant.channels.contains_key(s) {
                    Ok(s.to_owned())
                } else {
                    Err(rules::unknown_channel(tenant, s))
                }
            })?);
        }
        if self.a.channel.as_deref() == Some("last_used") && self.a.fallback_channel.is_none() {
            self.a.fallback_channel = Some(self.prompt.ask("Fallback channel", None, |s| {
                if s == "last_used" {
                    Err("`fallback_channel` must name a channel, not `last_used`".into())
                } else if tenant.channels.contains_key(s) {
                    Ok(s.to_owned())
                } else {
                    Err(rules::unknown_channel(tenant, s))
                }
            })?);
        }
        if self.a.text.is_none() {
            let default = self.defaults.text.clone();
            self.a.text = Some(self.prompt.ask("Text", default.as_deref(), |s| {
                if s.is_empty() {
                    return Err("a message needs a text".into());
                }
                let mut trial = self.a.clone();
                trial.text = Some(s.to_owned());
                errors(self.ctx, self.template, &trial).map(|()| s.to_owned())
            })?);
        }
        Ok(())
    }

    fn schedule(&mut self) -> anyhow::Result<()> {
        self.prompt.section("Notification schedule");
        if self.a.notify_every.is_none() {
            let default = self.defaults.notify_every.clone();
            self.a.notify_every = Some(self.prompt.frequency(
                "Notification every",
                default,
                "notification",
            )?);
        }
        if self.a.attempts.is_none() {
            let default = self
                .defaults
                .attempts
                .unwrap_or(super::ATTEMPTS)
                .to_string();
            self.a.attempts = Some(self.prompt.ask("Attempts", Some(&default), |s| {
                let n: i64 = s
                    .parse()
                    .map_err(|_| format!("`attempts` is `{s}`: a whole number is needed"))?;
                rules::attempts(n)?;
                Ok(n as u32)
            })?);
        }
        if self.a.window.is_none() {
            self.a.window = Some(self.prompt.ask("Window", Some("none"), WindowSpec::parse)?);
        }
        Ok(())
    }

    fn post_actions(&mut self) -> anyhow::Result<()> {
        self.prompt.section("Post-follow-up actions");
        type Slot = fn(&mut Answers) -> &mut Option<Vec<PostAction>>;
        let moments: [(&str, Slot); 3] = [
            ("After each attempt", |a| &mut a.after_each_attempt),
            ("After all attempts", |a| &mut a.after_all_attempts),
            ("On resolved", |a| &mut a.on_resolved),
        ];
        for (label, slot) in moments {
            if slot(&mut self.a).is_some() {
                continue;
            }
            let actions = self.prompt.ask(label, Some("none"), |s| {
                let actions: Vec<PostAction> = PostAction::parse(s)?.into_iter().collect();
                let mut trial = self.a.clone();
                *slot(&mut trial) = Some(actions.clone());
                errors(self.ctx, self.template, &trial).map(|()| actions)
            })?;
            *slot(&mut self.a) = Some(actions);
        }
        Ok(())
    }

    /// The summary, the dry run on the data read, and the last question.
    fn confirm(mut self) -> anyhow::Result<Outcome> {
        let draft = self
            .a
            .clone()
            .with_template(self.template)
            .into_draft(self.template)?;
        let followup = match (self.ctx.check)(&draft) {
            Ok(f) => f,
            Err(errors) => bail!(
                "the answers do not pass `followup validate`: {}; nothing written",
                errors.join("; ")
            ),
        };
        self.prompt.section("Summary");
        for line in summary(&draft) {
            self.prompt.note(&line)?;
        }
        self.prompt.section("Dry run");
        match &self.sample {
            Some(json) => {
                for line in dry_run(&draft, &followup, json, self.ctx.tenant) {
                    self.prompt.note(&line)?;
                }
            }
            None => self
                .prompt
                .note("the source could not be read: nothing to show")?,
        }
        let label = format!("Write {}/{}?", self.ctx.dir, draft.file_name());
        Ok(if self.prompt.yes(&label)? {
            Outcome::Write(Box::new(draft))
        } else {
            Outcome::Declined
        })
    }

    /// Reads the source once, saying why when it cannot.
    fn read_source(&mut self) -> anyhow::Result<()> {
        let Ok(draft) = stand_ins(self.a.clone(), self.ctx.tenant)
            .with_template(self.template)
            .into_draft(self.template)
        else {
            return Ok(());
        };
        let read = match (self.ctx.check)(&draft) {
            Ok(followup) => (self.ctx.read)(&followup),
            Err(errors) => Err(errors.join("; ")),
        };
        match read {
            Ok(json) => {
                self.sample = Some(json);
                self.prompt.note("read the source")?;
            }
            Err(why) => self.prompt.note(&format!(
                "cannot read the source ({why}); going on without suggestions"
            ))?,
        }
        Ok(())
    }

    /// The template's loop element when the data has it, else the largest
    /// array found, else the template's.
    fn suggest_loop(&self, candidates: &[Candidate]) -> Option<String> {
        let template = self.defaults.loop_.clone();
        match (&self.sample, template) {
            (Some(json), Some(t)) if sample::records(json, &t).is_ok() => Some(t),
            (_, t) => candidates.first().map(|c| c.loop_.clone()).or(t),
        }
    }

    fn records(&self) -> Vec<Value> {
        match (&self.sample, &self.a.loop_) {
            (Some(json), Some(loop_)) => sample::records(json, loop_)
                .map(|r| r.into_iter().cloned().collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// `validate`'s errors for the answers so far, what is not answered yet
/// standing in with valid values: an error is the latest answer's.
fn errors(ctx: &Context, template: Option<UseCase>, answers: &Answers) -> Result<(), String> {
    let draft = stand_ins(answers.clone(), ctx.tenant)
        .with_template(template)
        .into_draft(template)
        .map_err(|e| e.to_string())?;
    (ctx.check)(&draft).map(drop).map_err(|e| e.join("; "))
}

/// Valid values for what is not answered yet, so that a draft can be
/// checked (and its source read) before every question is answered.
fn stand_ins(mut a: Answers, tenant: &Tenant) -> Answers {
    a.source
        .get_or_insert_with(|| Source::File("source.json".into()));
    a.loop_.get_or_insert_with(|| "$[*]".into());
    a.reconciliation_id.get_or_insert_with(|| "$.id".into());
    if a.user.is_none() && a.group.is_none() {
        a.user = Some("$.user".into());
    }
    if a.channel.is_none() {
        a.channel = tenant.channels.keys().next().cloned();
    }
    if a.channel.as_deref() == Some("last_used") {
        a.fallback_channel = a
            .fallback_channel
            .or_else(|| tenant.channels.keys().next().cloned());
    }
    a.text.get_or_insert_with(|| "-".into());
    a
}

fn every_record_has(records: &[Value], path: &str) -> bool {
    JsonPath::parse(path).is_ok_and(|p| {
        records
            .iter()
            .all(|r| p.first(r).is_some_and(|v| text_of(v).is_some()))
    })
}

fn first_poll_str(f: FirstPoll) -> &'static str {
    match f {
        FirstPoll::Notify => "notify",
        FirstPoll::RecordOnly => "record_only",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One line per step of the wizard.
fn summary(d: &Draft) -> Vec<String> {
    let source = match &d.source {
        Source::Url(url) if d.auth == SourceAuth::None => format!("GET {url}"),
        Source::Url(url) => format!("GET {url} (auth {})", d.auth.as_str()),
        Source::File(file) => format!("file {file}"),
    };
    let recipients: Vec<String> = [("user", &d.user), ("group", &d.group)]
        .into_iter()
        .filter_map(|(what, v)| v.as_ref().map(|v| format!("{what} {v}")))
        .collect();
    let channel = match &d.fallback_channel {
        Some(f) => format!("{} (fallback {f})", d.channel),
        None => d.channel.clone(),
    };
    let actions = |list: &[PostAction]| match list {
        [] => "none".to_owned(),
        list => list
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    };
    vec![
        format!("{} (`{}`), {}", d.name, d.id, d.status.as_str()),
        format!(
            "poll every {}, first poll {}: {source}",
            d.poll_every,
            first_poll_str(d.first_poll)
        ),
        format!("records {}, identified by {}", d.loop_, d.reconciliation_id),
        format!("tell {}", recipients.join(" and ")),
        format!("on {channel}: {:?}", d.text),
        format!(
            "every {}, {} attempt{}, window {}",
            d.notify_every,
            d.attempts,
            plural(d.attempts as usize),
            d.window.as_ref().map_or("none".into(), |w| w.to_string())
        ),
        format!(
            "after each attempt {}; after all attempts {}; on resolved {}",
            actions(&d.after_each_attempt),
            actions(&d.after_all_attempts),
            actions(&d.on_resolved)
        ),
    ]
}

/// What the first pass would do with the page read: how many records, and
/// whom the first would tell.
fn dry_run(d: &Draft, f: &Followup, json: &Value, tenant: &Tenant) -> Vec<String> {
    let records = match f.extraction.loop_path.records(json) {
        Ok((records, _)) => records,
        Err(why) => return vec![format!("the poll would fail: {why}")],
    };
    let Some(first) = records.first() else {
        return vec!["0 records: nobody would be told yet".into()];
    };
    let id_of = |r: &Value| {
        f.extraction
            .reconciliation_id
            .first(r)
            .and_then(|v| text_of(v).map(|t| t.into_owned()))
    };
    let ids: Option<Vec<String>> = records.iter().map(|r| id_of(r)).collect();
    let Some(ids) = ids else {
        let missing = records.iter().position(|r| id_of(r).is_none()).unwrap_or(0);
        return vec![format!(
            "the poll would fail: record {} has no {} (a string or an integer)",
            missing + 1,
            d.reconciliation_id
        )];
    };
    let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
    let mut lines = vec![format!(
        "{} record{} in the page read: {}{}",
        records.len(),
        plural(records.len()),
        shown.join(", "),
        if ids.len() > shown.len() { ", …" } else { "" }
    )];
    if d.first_poll == FirstPoll::RecordOnly {
        lines.push(
            "first poll record_only: these are only remembered; records that appear later are told"
                .into(),
        );
        return lines;
    }
    let people = people(d, first, tenant);
    lines.push(format!(
        "the first, {}, would tell {} on {}",
        ids[0],
        if people.is_empty() {
            "nobody (no user or group value)".to_owned()
        } else {
            people.join(", ")
        },
        d.channel
    ));
    lines
}

/// The people a record names, as the pass would find them in the tenant.
fn people(d: &Draft, record: &Value, tenant: &Tenant) -> Vec<String> {
    let values = |selector: &Option<String>| -> Vec<String> {
        match selector {
            Some(s) if s.starts_with('$') => JsonPath::parse(s)
                .map(|p| {
                    p.query(record)
                        .into_iter()
                        .filter_map(|v| text_of(v).map(|t| t.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            Some(literal) => vec![literal.clone()],
            None => Vec::new(),
        }
    };
    let named = |u: &crate::definition::model::User| match &u.name {
        Some(name) => format!("{name} ({})", u.id),
        None => u.id.clone(),
    };
    let mut out: Vec<String> = values(&d.user)
        .into_iter()
        .map(|v| match tenant.user(&v) {
            Some(u) => named(u),
            None if v.contains('@') => format!("{v} (not in tenant.yaml)"),
            None => format!("`{v}`, unknown to tenant.yaml (its delivery would fail)"),
        })
        .collect();
    for g in values(&d.group) {
        match tenant.group_members(&g) {
            Some(members) => out.extend(members.into_iter().map(named)),
            None => out.push(format!("group `{g}`, unknown to tenant.yaml")),
        }
    }
    out.dedup();
    out
}

struct Prompt<'a> {
    input: &'a mut dyn BufRead,
    output: &'a mut dyn Write,
    /// The section whose title is written before its first question.
    section: Option<&'static str>,
}

impl Prompt<'_> {
    /// Starts a section: its title comes before its first line.
    fn section(&mut self, title: &'static str) {
        self.section = Some(title);
    }

    fn title(&mut self) -> std::io::Result<()> {
        if let Some(title) = self.section.take() {
            writeln!(self.output, "\n{title}")?;
        }
        Ok(())
    }

    /// A line that is not a question: what was read, what is suggested.
    fn note(&mut self, text: &str) -> std::io::Result<()> {
        self.title()?;
        writeln!(self.output, "  {text}")
    }

    /// Writes the question and reads one answer, trimmed.
    fn line(&mut self, question: &str, label: &str) -> anyhow::Result<String> {
        write!(self.output, "{question}")?;
        self.output.flush()?;
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            writeln!(self.output)?;
            bail!("input ended before `{label}` was answered; nothing written");
        }
        Ok(line.trim().to_owned())
    }

    /// A polling or notification frequency (`what`), as `validate` takes it.
    fn frequency(
        &mut self,
        label: &str,
        default: Option<String>,
        what: &str,
    ) -> anyhow::Result<String> {
        self.ask(label, default.as_deref(), |s| {
            rules::frequency(s, what)
                .map(|_| s.to_owned())
                .map_err(|(_, e)| e)
        })
    }

    /// A yes-or-no question whose default is yes: `LABEL [Y/n] `.
    fn yes(&mut self, label: &str) -> anyhow::Result<bool> {
        self.title()?;
        loop {
            match self
                .line(&format!("{label} [Y/n] "), label)?
                .to_ascii_lowercase()
                .as_str()
            {
                "" | "y" | "yes" => return Ok(true),
                "n" | "no" => return Ok(false),
                _ => writeln!(self.output, "  answer y or n")?,
            }
        }
    }

    /// Asks until an answer passes `check`; the answer is trimmed, and an
    /// empty one is the default (checked like any answer).
    fn ask<T>(
        &mut self,
        label: &str,
        default: Option<&str>,
        check: impl Fn(&str) -> Result<T, String>,
    ) -> anyhow::Result<T> {
        self.title()?;
        let question = match default {
            Some(d) => format!("{label} [{d}]: "),
            None => format!("{label}: "),
        };
        loop {
            let line = self.line(&question, label)?;
            let answer = match (line.as_str(), default) {
                ("", Some(d)) => d,
                (answer, _) => answer,
            };
            match check(answer) {
                Ok(value) => return Ok(value),
                Err(why) => writeln!(self.output, "  {why}")?,
            }
        }
    }
}

#[cfg(test)]
mod tests;
