//! The follow-ups shipped in `followups/` (one per use case, reading
//! `examples/data`) are what a new operator runs first: they must stay valid.

use std::path::Path;

use serde_json::Value;

use crate::schema::{shipped_definitions, shipped_dir};
use crate::support::Test;

#[test]
fn the_shipped_follow_ups_validate_without_an_error_or_a_warning() {
    let dir = shipped_dir();
    let n = shipped_definitions().len();
    Test::new()
        .run(&["--dir", dir.to_str().unwrap(), "validate"])
        .assert_status(0)
        .assert_stdout("")
        .assert_stderr(&format!("{n} follow-ups checked: 0 errors, 0 warnings\n"));
    Test::new()
        .run(&[
            "--dir",
            dir.to_str().unwrap(),
            "validate",
            "--format",
            "json",
        ])
        .assert_status(0)
        .assert_stdout("[]\n");
}

#[test]
fn one_shipped_follow_up_per_use_case() {
    let dir = shipped_dir();
    let out = Test::new().run(&["--dir", dir.to_str().unwrap(), "list", "--format", "json"]);
    out.assert_status(0);
    let ids: Vec<String> = out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            assert_eq!(row["status"], "active", "{row}");
            assert_eq!(row["channel"], "console", "{row}");
            row["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "awaiting-caller",   // information pending from the requester
            "change-approvals",  // approvals pending
            "close-resolved",    // resolved tickets to close
            "manager-approvals", // employee requests to their manager
            "new-opportunities", // new CRM opportunities
            "new-tickets",       // new ITSM tickets
        ]
    );
}

/// The README's quick start, as a new operator runs it: a copy of the
/// repository's `followups/` and `examples/`, then `run-once` three times.
#[test]
fn the_quick_start_sends_first_reminders_then_nothing_then_the_next_days_reminders() {
    let t = Test::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("followups"), &t.path("followups"));
    copy_dir(&repo.join("examples"), &t.path("examples"));

    let out = t.cmd(&["run-once"]).now("2026-01-05T09:00:00Z").run();
    out.assert_status(0);
    let first = deliveries(&out.stdout);
    let mut expected: Vec<String> = shipped_ids()
        .into_iter()
        .filter(|id| id != "new-tickets") // record_only: its first poll sends nothing
        .collect();
    let mut senders: Vec<String> = first.iter().map(|d| d.0.clone()).collect();
    senders.sort();
    senders.dedup();
    expected.sort();
    assert_eq!(senders, expected, "{}", out.stdout);
    assert!(first.iter().all(|d| d.3 == 1), "{}", out.stdout);

    // Run again right away: nothing is due.
    t.cmd(&["run-once"])
        .now("2026-01-05T09:01:00Z")
        .run()
        .assert_status(0)
        .assert_stdout("");

    // The next day: the second reminder of each record still open, from
    // the follow-ups that make more than one attempt.
    let out = t.cmd(&["run-once"]).now("2026-01-06T09:00:00Z").run();
    out.assert_status(0);
    let again = deliveries(&out.stdout);
    let repeating: Vec<String> = shipped_ids()
        .into_iter()
        .filter(|id| attempts(&t, id) >= 2)
        .collect();
    let mut want: Vec<(String, String, String)> = first
        .iter()
        .filter(|d| repeating.contains(&d.0))
        .map(|d| (d.0.clone(), d.1.clone(), d.2.clone()))
        .collect();
    let mut got: Vec<(String, String, String)> = again
        .iter()
        .map(|d| (d.0.clone(), d.1.clone(), d.2.clone()))
        .collect();
    want.sort();
    got.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want, "{}", out.stdout);
    assert!(again.iter().all(|d| d.3 == 2), "{}", out.stdout);
}

/// (followup, record, recipient id, attempt) of each stdout line, checking
/// that every line is a delivery.
fn deliveries(stdout: &str) -> Vec<(String, String, String, i64)> {
    stdout
        .lines()
        .map(|line| {
            let d: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            for key in ["delivery", "followup", "text"] {
                assert!(d[key].is_string(), "no `{key}` in {line}");
            }
            assert!(
                d["recipient"]["id"].is_string(),
                "no recipient.id in {line}"
            );
            (
                d["followup"].as_str().unwrap().to_owned(),
                d["record"].as_str().unwrap_or_default().to_owned(),
                d["recipient"]["id"].as_str().unwrap().to_owned(),
                d["attempt"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

fn shipped_ids() -> Vec<String> {
    shipped_definitions()
        .iter()
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect()
}

/// `schedule.attempts` of a follow-up, as `show` fills it in.
fn attempts(t: &Test, id: &str) -> i64 {
    let shown = t.run(&["show", id, "--format", "json"]);
    shown.assert_status(0).json()["schedule"]["attempts"]
        .as_i64()
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
