//! `followup history`: the events, newest last.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{HistoryArgs, HistoryFormat, Paths, TableFormat};
use crate::commands::table::{self, Table};
use crate::exit;
use crate::store::{Event, EventFilter, EventKind, Store};

#[derive(Serialize)]
struct Row<'a> {
    at: String,
    event: &'a str,
    followup: Option<&'a str>,
    record: Option<&'a str>,
    cycle: Option<i64>,
    attempt: Option<i64>,
    recipient: Option<&'a str>,
    channel: Option<&'a str>,
    detail: Option<&'a str>,
}

impl<'a> From<&'a Event> for Row<'a> {
    fn from(e: &'a Event) -> Row<'a> {
        Row {
            at: crate::clock::format_seconds(e.at),
            event: &e.event,
            followup: e.followup.as_deref(),
            record: e.record.as_deref(),
            cycle: e.cycle,
            attempt: e.attempt,
            recipient: e.recipient.as_deref(),
            channel: e.channel.as_deref(),
            detail: e.detail.as_deref(),
        }
    }
}

pub fn run(paths: &Paths, args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    if let Some(event) = &args.event {
        let known = EventKind::ALL
            .iter()
            .any(|k| k.as_str() == event || k.as_str().starts_with(&format!("{event}.")));
        if !known {
            let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(exit::usage(format!(
                "unknown event `{event}`; events are {}{}",
                names.join(", "),
                crate::did_you_mean::did_you_mean(event, names.iter().copied())
            )));
        }
    }
    let since = match &args.since {
        None => None,
        Some(text) => Some(parse_since(text, args.now.get().as_second())?),
    };
    let filter = EventFilter {
        followup: args.followup.clone(),
        record: args.record.clone(),
        event: args.event.clone(),
        since,
        ..EventFilter::default()
    };
    let events = match Store::open_read_only(&paths.db())? {
        Some(store) => store.events(&filter)?,
        None => Vec::new(),
    };
    let rows: Vec<Row> = events.iter().map(Row::from).collect();
    match args.format {
        HistoryFormat::Csv => {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "at,event,followup,record,cycle,attempt,recipient,channel,detail"
            )?;
            for r in &rows {
                let cells = [
                    r.at.clone(),
                    r.event.to_owned(),
                    r.followup.unwrap_or_default().to_owned(),
                    r.record.unwrap_or_default().to_owned(),
                    r.cycle.map(|c| c.to_string()).unwrap_or_default(),
                    r.attempt.map(|a| a.to_string()).unwrap_or_default(),
                    r.recipient.unwrap_or_default().to_owned(),
                    r.channel.unwrap_or_default().to_owned(),
                    r.detail.unwrap_or_default().to_owned(),
                ];
                let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                writeln!(out, "{}", line.join(","))?;
            }
        }
        HistoryFormat::Json | HistoryFormat::Table => {
            let format = match args.format {
                HistoryFormat::Json => TableFormat::Json,
                _ => TableFormat::Table,
            };
            table::print(format, &rows, || {
                let mut table = Table::new([
                    "AT",
                    "EVENT",
                    "FOLLOWUP",
                    "RECORD",
                    "CYCLE",
                    "ATTEMPT",
                    "RECIPIENT",
                    "CHANNEL",
                    "DETAIL",
                ]);
                let opt = |v: Option<&str>| v.unwrap_or("-").to_owned();
                let num = |v: Option<i64>| v.map_or("-".to_owned(), |n| n.to_string());
                for r in &rows {
                    table.row([
                        r.at.clone(),
                        r.event.to_owned(),
                        opt(r.followup),
                        opt(r.record),
                        num(r.cycle),
                        num(r.attempt),
                        opt(r.recipient),
                        opt(r.channel),
                        opt(r.detail),
                    ]);
                }
                table
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--since`: an RFC 3339 time, or a duration back from now.
fn parse_since(text: &str, now: i64) -> anyhow::Result<i64> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t.as_second());
    }
    match crate::units::parse_duration(text) {
        // Further back than 1970: everything.
        Ok(d) => Ok(i64::try_from(d.as_secs())
            .ok()
            .and_then(|d| now.checked_sub(d))
            .unwrap_or(i64::MIN)),
        Err(_) => Err(exit::usage(format!(
            "--since `{text}` is neither an RFC 3339 time (2026-01-05T09:00:00Z) nor a duration (2h, 7d)"
        ))),
    }
}

/// RFC 4180 quoting.
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
