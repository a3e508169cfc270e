//! `run-once --metrics-file PATH`: the pass's outcome as Prometheus text
//! exposition (node_exporter's textfile collector reads it), written whole
//! or not at all.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::definition::load::Catalog;
use crate::pass::{PollOutcome, Report};
use crate::store::{RecordState, Store};

pub fn write(
    path: &Path,
    catalog: &Catalog,
    store: &Store,
    report: &Report,
    now: i64,
    took: Duration,
) -> anyhow::Result<()> {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    metric(
        "followup_pass_timestamp_seconds",
        "gauge",
        "When the last pass ran.",
        &[(String::new(), now as f64)],
    );
    metric(
        "followup_pass_duration_seconds",
        "gauge",
        "How long the last pass took.",
        &[(String::new(), took.as_secs_f64())],
    );
    metric(
        "followup_pass_ok",
        "gauge",
        "1 when the last pass polled every due follow-up successfully.",
        &[(String::new(), f64::from(u8::from(report.ok())))],
    );
    let invalid = catalog
        .entries
        .iter()
        .filter(|e| e.followup.is_none())
        .count();
    metric(
        "followup_invalid_definitions",
        "gauge",
        "Definitions skipped because they break a rule.",
        &[(String::new(), invalid as f64)],
    );

    let label = |id: &str| format!("{{followup=\"{}\"}}", escape(id));
    let mut polled = Vec::new();
    let mut deliveries = Vec::new();
    for f in &report.followups {
        let ok = match f.poll {
            PollOutcome::NotDue => continue,
            PollOutcome::Succeeded { .. } => 1.0,
            PollOutcome::Failed(_) | PollOutcome::Skipped(_) => 0.0,
        };
        polled.push((label(&f.id), ok));
    }
    for f in &report.followups {
        for (outcome, n) in [
            ("delivered", f.delivered),
            ("failed", f.failed),
            ("pending", f.pending),
        ] {
            deliveries.push((
                format!("{{followup=\"{}\",outcome=\"{outcome}\"}}", escape(&f.id)),
                n as f64,
            ));
        }
    }
    metric(
        "followup_poll_ok",
        "gauge",
        "1 when this pass's poll succeeded (polled follow-ups only).",
        &polled,
    );
    metric(
        "followup_deliveries",
        "gauge",
        "Deliveries of this pass by outcome.",
        &deliveries,
    );

    let mut records = Vec::new();
    for state in store.followup_states()? {
        let counts = store.record_counts(&state.id)?;
        for s in [
            RecordState::Open,
            RecordState::Exhausted,
            RecordState::Resolved,
            RecordState::Baselined,
        ] {
            records.push((
                format!(
                    "{{followup=\"{}\",state=\"{}\"}}",
                    escape(&state.id),
                    s.as_str()
                ),
                counts.get(&s).copied().unwrap_or(0) as f64,
            ));
        }
    }
    metric(
        "followup_records",
        "gauge",
        "Records by follow-up and state.",
        &records,
    );
    crate::atomic::write_replace(path, out.as_bytes())
}

/// A Prometheus label value: `\`, `"` and newlines escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
