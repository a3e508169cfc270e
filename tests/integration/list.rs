//! `followup list`: follow-ups by id or name, with status, polling, channel.

use crate::support::{Edit, Test};
use crate::validate::{BASE, TENANT};

/// Three follow-ups: one active, one inactive, one active with a bare
/// number of minutes, plus one that breaks a rule.
fn catalog() -> Test {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT)
        .write("followups/data.json", "{}")
        .write(
            "followups/approvals.yaml",
            &BASE.replace_once("name: Approvals", "name: Pending approvals"),
        )
        .write(
            "followups/closing.yaml",
            &BASE
                .replace_once("id: approvals", "id: closing")
                .replace_once(
                    "name: Approvals",
                    "name: Close resolved tickets\nstatus: inactive",
                )
                .replace_once("every: 30m", "every: 1h"),
        )
        .write(
            "followups/new-tickets.yaml",
            &BASE
                .replace_once("id: approvals", "id: new-tickets")
                .replace_once("name: Approvals", "name: New ITSM tickets")
                .replace_once("every: 30m", "every: 90")
                .replace_once("channel: console", "channel: email"),
        )
        .write(
            "followups/broken.yaml",
            &BASE
                .replace_once("id: approvals", "id: broken")
                .replace_once("name: Approvals", "name: Broken one")
                .replace_once("attempts: 3", "attempts: 30"),
        );
    t
}

#[test]
fn list_shows_every_follow_up_in_id_order() {
    catalog().run(&["list"]).assert_status(0).assert_stdout(
        "ID           NAME                    STATUS            POLLING  CHANNEL\n\
         approvals    Pending approvals       active            30m      console\n\
         broken       Broken one              active (invalid)  30m      console\n\
         closing      Close resolved tickets  inactive          1h       console\n\
         new-tickets  New ITSM tickets        active            90       email\n",
    );
}

/// `approvals-2` (what `copy` and `import --on-conflict rename` name a
/// copy) after `approvals`, though `approvals-2.yaml` sorts first as a path.
#[test]
fn a_numbered_copy_is_listed_after_its_source() {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT)
        .write("followups/data.json", "{}")
        .write("followups/approvals.yaml", BASE);
    t.run(&["copy", "approvals", "--name", "Approvals 2"])
        .assert_status(0);
    let out = t.run(&["list"]);
    let ids: Vec<&str> = out
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(ids, ["approvals", "approvals-2"]);
}

#[test]
fn search_is_a_case_insensitive_substring_of_id_or_name() {
    let t = catalog();
    // Of the name only.
    t.run(&["list", "--search", "itsm"])
        .assert_status(0)
        .assert_stdout(
            "ID           NAME              STATUS  POLLING  CHANNEL\n\
             new-tickets  New ITSM tickets  active  90       email\n",
        );
    // Of a name and of an id.
    t.run(&["list", "--search", "TICKETS"])
        .assert_status(0)
        .assert_stdout(
            "ID           NAME                    STATUS    POLLING  CHANNEL\n\
             closing      Close resolved tickets  inactive  1h       console\n\
             new-tickets  New ITSM tickets        active    90       email\n",
        );
    // Of an id only.
    t.run(&["list", "--search", "Approvals"])
        .assert_status(0)
        .assert_stdout(
            "ID         NAME               STATUS  POLLING  CHANNEL\n\
             approvals  Pending approvals  active  30m      console\n",
        );
    t.run(&["list", "--search", "nothing like it"])
        .assert_status(0)
        .assert_stdout("ID  NAME  STATUS  POLLING  CHANNEL\n");
}

#[test]
fn list_by_status() {
    let t = catalog();
    t.run(&["list", "--status", "inactive"])
        .assert_status(0)
        .assert_stdout(
            "ID       NAME                    STATUS    POLLING  CHANNEL\n\
             closing  Close resolved tickets  inactive  1h       console\n",
        );
    // Both filters: `o` is in closing's name too, but it is inactive.
    let out = t.run(&["list", "--status", "active", "--search", "o"]);
    out.assert_status(0);
    let ids: Vec<&str> = out
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(ids, ["approvals", "broken"]);
    t.run(&["list", "--status", "paused"]).assert_status(2);
}

#[test]
fn list_as_json() {
    let out = catalog().run(&["list", "--status", "active", "--format", "json"]);
    out.assert_status(0);
    assert_eq!(
        out.json(),
        serde_json::json!([
            {
                "id": "approvals", "name": "Pending approvals", "status": "active",
                "polling": "30m", "channel": "console", "valid": true,
                "file": "followups/approvals.yaml"
            },
            {
                "id": "broken", "name": "Broken one", "status": "active",
                "polling": "30m", "channel": "console", "valid": false,
                "file": "followups/broken.yaml"
            },
            {
                "id": "new-tickets", "name": "New ITSM tickets", "status": "active",
                "polling": "90", "channel": "email", "valid": true,
                "file": "followups/new-tickets.yaml"
            }
        ])
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn a_file_that_does_not_parse_is_skipped_with_a_warning() {
    let t = catalog();
    t.write("followups/zz-half.yaml", "id: zz-half\nname: [\n");
    let out = t.run(&["list", "--search", "z"]);
    out.assert_status(0)
        .assert_stdout("ID  NAME  STATUS  POLLING  CHANNEL\n")
        .assert_stderr("warning: followups/zz-half.yaml does not parse; run `followup validate`\n");
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    // `followup list --format json | head -1`: the JSON writer meets a
    // closed pipe; that ends the command quietly, with success.
    use std::io::Read;
    use std::process::{Command, Stdio};

    let t = catalog();
    // Well beyond what a pipe buffers (64 KiB on Linux).
    let long_name = "of a long name ".repeat(20);
    for i in 0..400 {
        t.write(
            &format!("followups/f{i:03}.yaml"),
            &BASE
                .replace_once("id: approvals", &format!("id: f{i:03}"))
                .replace_once(
                    "name: Approvals",
                    &format!("name: Follow-up {i} {long_name}"),
                ),
        );
    }
    let mut child = Command::new(crate::support::BIN)
        .args(["list", "--format", "json"])
        .current_dir(t.dir())
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe's read end is closed here, with most of the output unread.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""));
}
