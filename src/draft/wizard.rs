//! The wizard of `followup create`: asks for what is missing, section by
//! section in the product's order (name and status, data extraction,
//! recipients, message), checking each answer before taking it.
//!
//! It reads and writes through the given reader and writer, so that the
//! flow can be tested without a terminal; `create` runs it only when stdin
//! and stdout are terminals.

use std::io::{BufRead, Write};

use anyhow::bail;

use crate::draft::{Answers, Field, Source};
use crate::path::JsonPath;

/// What answers are checked against.
pub struct Context<'a> {
    /// The tenant's channel names.
    pub channels: Vec<String>,
    /// Whether a name is already used (case-insensitive).
    pub name_taken: &'a dyn Fn(&str) -> bool,
}

/// Asks for every missing field, in order; fails when the input ends.
pub fn ask_missing(
    answers: &mut Answers,
    ctx: &Context,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut section = "";
    let mut prompt = Prompt { input, output };
    while let Some(&field) = answers.missing().first() {
        if field.section() != section {
            section = field.section();
            writeln!(prompt.output, "\n{section}")?;
        }
        match field {
            Field::Name => {
                answers.name = Some(prompt.ask("Name", |s| {
                    if s.is_empty() {
                        Err("a follow-up needs a name".into())
                    } else if (ctx.name_taken)(s) {
                        Err(format!(
                            "\"{s}\" is already used; names are unique, whatever their case"
                        ))
                    } else {
                        Ok(())
                    }
                })?);
            }
            Field::Source => {
                let answer = prompt.ask(
                    "Source (an http(s) URL, or a JSON file relative to the definition)",
                    required,
                )?;
                answers.source = Some(Source::from_answer(&answer));
            }
            Field::Loop => {
                answers.loop_ = Some(prompt.ask(
                    "Loop element (JSONPath to the records, e.g. $.result[*])",
                    json_path,
                )?);
            }
            Field::ReconciliationId => {
                answers.reconciliation_id = Some(prompt.ask(
                    "Reconciliation ID (JSONPath over a record, e.g. $.sys_id)",
                    json_path,
                )?);
            }
            Field::Recipients => {
                let user = prompt.ask(
                    "User field (JSONPath over the record, or a user id; empty for a group)",
                    |_| Ok(()),
                )?;
                if user.is_empty() {
                    answers.group = Some(prompt.ask(
                        "Group (a tenant group id, or a JSONPath giving one)",
                        required,
                    )?);
                } else {
                    answers.user = Some(user);
                }
            }
            Field::Channel => {
                let label = format!("Channel ({}, or last_used)", ctx.channels.join(", "));
                answers.channel = Some(prompt.ask(&label, |s| {
                    if s == "last_used" || ctx.channels.iter().any(|c| c == s) {
                        Ok(())
                    } else {
                        Err(format!(
                            "`{s}` is not a channel of tenant.yaml; choose one of: {}",
                            ctx.channels.join(", ")
                        ))
                    }
                })?);
            }
            Field::FallbackChannel => {
                let label = format!(
                    "Fallback channel, for users who never chatted ({})",
                    ctx.channels.join(", ")
                );
                answers.fallback_channel = Some(prompt.ask(&label, |s| {
                    if ctx.channels.iter().any(|c| c == s) {
                        Ok(())
                    } else {
                        Err(format!("`{s}` is not a channel of tenant.yaml"))
                    }
                })?);
            }
            Field::Text => {
                answers.text = Some(prompt.ask(
                    "Message text (@{followup.data.FIELD} inserts a value of the record)",
                    required,
                )?);
            }
        }
    }
    Ok(())
}

fn required(s: &str) -> Result<(), String> {
    if s.is_empty() {
        Err("an answer is needed".into())
    } else {
        Ok(())
    }
}

fn json_path(s: &str) -> Result<(), String> {
    JsonPath::parse(s).map(drop)
}

struct Prompt<'a> {
    input: &'a mut dyn BufRead,
    output: &'a mut dyn Write,
}

impl Prompt<'_> {
    /// Asks until an answer passes `check`; the answer is trimmed.
    fn ask(
        &mut self,
        label: &str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> anyhow::Result<String> {
        loop {
            write!(self.output, "{label}: ")?;
            self.output.flush()?;
            let mut line = String::new();
            if self.input.read_line(&mut line)? == 0 {
                writeln!(self.output)?;
                bail!("input ended before `{label}` was answered; nothing written");
            }
            let answer = line.trim();
            match check(answer) {
                Ok(()) => return Ok(answer.to_owned()),
                Err(why) => writeln!(self.output, "  {why}")?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(answers: &mut Answers, input: &str) -> (anyhow::Result<()>, String) {
        let taken = |name: &str| name.eq_ignore_ascii_case("Taken");
        let ctx = Context {
            channels: vec!["email".into(), "slack".into()],
            name_taken: &taken,
        };
        let mut output = Vec::new();
        let result = ask_missing(answers, &ctx, &mut input.as_bytes(), &mut output);
        (result, String::from_utf8(output).unwrap())
    }

    #[test]
    fn asks_for_what_is_missing_in_the_wizard_order() {
        let mut answers = Answers::default().with_template(None);
        let input = "taken\nMy reminders\nhttps://x.example/api\n$.result[\n$.result[*]\n$.sys_id\n\ncab\nteams\nslack\nHi @{recipient.name}\n";
        let (result, output) = run(&mut answers, input);
        result.unwrap();
        let expected = "\nName and status\nName:   \"taken\" is already used; names are unique, whatever their case\nName: \n\
            Data extraction\nSource (an http(s) URL, or a JSON file relative to the definition): \
            Loop element (JSONPath to the records, e.g. $.result[*]): ";
        assert!(output.starts_with(expected), "{output}");
        assert!(output.contains("\nRecipients\nUser field"), "{output}");
        assert!(
            output.contains(
                "  `teams` is not a channel of tenant.yaml; choose one of: email, slack\n"
            ),
            "{output}"
        );
        assert_eq!(answers.name.as_deref(), Some("My reminders"));
        assert_eq!(
            answers.source,
            Some(Source::Url("https://x.example/api".into()))
        );
        assert_eq!(answers.loop_.as_deref(), Some("$.result[*]"));
        assert_eq!(answers.user, None);
        assert_eq!(answers.group.as_deref(), Some("cab"));
        assert_eq!(answers.channel.as_deref(), Some("slack"));
        assert_eq!(answers.text.as_deref(), Some("Hi @{recipient.name}"));
        assert!(answers.missing().is_empty());
    }

    #[test]
    fn asks_only_what_a_template_leaves_out() {
        let mut answers = Answers {
            name: Some("Approvals".into()),
            ..Answers::default()
        }
        .with_template(Some(crate::draft::UseCase::PendingApproval));
        let (result, output) = run(&mut answers, "data/approvals.json\nlast_used\nemail\n");
        result.unwrap();
        assert_eq!(
            output,
            "\nData extraction\nSource (an http(s) URL, or a JSON file relative to the definition): \
             \nMessage\nChannel (email, slack, or last_used): \
             Fallback channel, for users who never chatted (email, slack): "
        );
        assert_eq!(answers.fallback_channel.as_deref(), Some("email"));
    }

    #[test]
    fn ends_when_the_input_does() {
        let mut answers = Answers::default().with_template(None);
        let (result, _) = run(&mut answers, "Name only\n");
        assert_eq!(
            result.unwrap_err().to_string(),
            "input ended before `Source (an http(s) URL, or a JSON file relative to the definition)` was answered; nothing written"
        );
    }
}
