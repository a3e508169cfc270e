//! The follow-ups shipped in `followups/` (one per use case, reading
//! `examples/data`) are what a new operator runs first: they must stay valid.

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
