//! `create`, `copy`, `export` and `import`: every one writes only valid
//! definitions, all or nothing. Hostile bundles are built here, in code.

use std::io::{Cursor, Read, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::support::{Edit, Test};

const TENANT: &str = r#"tenant: acme-test
attributes: { servicenow_url: "https://acme.service-now.com" }
channels:
  slack: { type: slack, webhook_url: "@{env.SLACK_WEBHOOK_URL}" }
  email: { type: email, smtp_url: "smtp://desk:@{env.SMTP_PASSWORD}@mail.acme.com:587", from: "Desk <desk@acme.com>" }
  console: { type: console }
  hook: { type: webhook, url: "https://bot.acme.com/notify", headers: { Authorization: "Bearer @{env.BOT_TOKEN}" } }
users:
  - { id: alice, name: Alice Doe, email: alice@acme.com }
groups:
  - { id: cab, members: [alice] }
"#;

/// A definition with comments and flow layout that a copy must keep.
const APPROVALS: &str = r#"# Approvals: remind approvers.   (kept by copy)
id: approvals   # the file stem
name: "Pending approvals"
status: inactive
polling: { every: 30m, first_poll: record_only }
extraction:
  integrations:
    - id: requests
      request:
        url: "@{global.servicenow_url}/api/now/table/sysapproval_approver"
        auth: { type: basic, username: "@{env.SN_USER}", password: "@{env.SN_PASSWORD}" }
  loop: "$.result[*]"
  reconciliation_id: "$.sys_id"
recipients:
  user: "$.approver.value"
  escalate:
    - { from_attempt: 2, group: cab, channel: console }
message:
  channel: last_used   # where each approver last chatted
  fallback_channel: email
  text: "Hi @{recipient.name}, @{followup.data.number} waits for you."
schedule: { every: 1d, attempts: 3 }
"#;

const CLOSE: &str = r#"id: close
name: Resolved to close
polling: { every: 1h }
extraction:
  integrations:
    - file: data/incidents.json
  loop: "$.result[*]"
  reconciliation_id: "$.sys_id"
recipients: { user: "$.caller_id.value" }
message: { channel: slack, text: "Please close @{followup.data.number}." }
schedule: { every: 1d, attempts: 2 }
"#;

const NOW: &str = "2026-01-05T09:00:00Z";

/// A fresh temp dir with `followups/tenant.yaml`.
fn site() -> Test {
    let site = Test::new();
    site.write("followups/tenant.yaml", TENANT);
    site
}

/// [`site`] holding APPROVALS and CLOSE.
fn site_with_followups() -> Test {
    let site = site();
    site.write("followups/approvals.yaml", APPROVALS)
        .write("followups/close.yaml", CLOSE);
    site
}

/// A bundle exported from a site holding APPROVALS and CLOSE.
fn exported_bundle() -> Vec<u8> {
    let run = site_with_followups()
        .cmd(&["export", "--all", "-o", "-"])
        .now(NOW)
        .run();
    run.assert_status(0);
    run.stdout_bytes
}

fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = ZipArchive::new(Cursor::new(zip)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            (f.name().unwrap().into_owned(), bytes)
        })
        .collect()
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// The exported bundle with `change` applied to its entries, zipped again.
fn altered(change: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> Vec<u8> {
    let mut all = entries(&exported_bundle());
    change(&mut all);
    let refs: Vec<(&str, &[u8])> = all
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    zip_of(&refs)
}

fn replace_all(haystack: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut i = 0;
    while i + from.len() <= haystack.len() {
        if &haystack[i..i + from.len()] == from {
            haystack[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
}

// ---------------------------------------------------------------------------
// export and import

#[test]
fn export_all_then_import_into_an_empty_tenant_gives_identical_files_that_validate() {
    let source = site_with_followups();
    source
        .cmd(&["export", "--all", "-o", "bundle.zip"])
        .now(NOW)
        .run()
        .assert_status(0);
    let zip = source.read_bytes("bundle.zip");

    let names: Vec<String> = entries(&zip).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "channels.yaml",
            "followups/approvals.yaml",
            "followups/close.yaml",
            "manifest.json"
        ]
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &entries(&zip)
            .into_iter()
            .find(|(n, _)| n == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(manifest["format"], "followup-bundle");
    assert_eq!(manifest["version"], 1);
    assert_eq!(
        manifest["tool"],
        format!("followup {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(manifest["exported_at"], NOW);
    assert_eq!(manifest["tenant"], "acme-test");
    assert_eq!(manifest["followups"][0]["id"], "approvals");
    assert_eq!(manifest["followups"][0]["name"], "Pending approvals");
    assert_eq!(manifest["followups"][0]["file"], "followups/approvals.yaml");
    assert_eq!(
        manifest["followups"][0]["sha256"],
        sha256_hex(APPROVALS.as_bytes())
    );

    // The channels the follow-ups name, secrets only as references.
    let channels = String::from_utf8(
        entries(&zip)
            .into_iter()
            .find(|(n, _)| n == "channels.yaml")
            .unwrap()
            .1,
    )
    .unwrap();
    assert!(
        channels.contains("  console:\n    type: console\n"),
        "{channels}"
    );
    assert!(
        channels.contains("  email:\n    type: email\n"),
        "{channels}"
    );
    assert!(
        channels.contains("    webhook_url: '@{env.SLACK_WEBHOOK_URL}'\n"),
        "{channels}"
    );
    assert!(!channels.contains("hook:"), "{channels}");

    let target = site();
    target.write_bytes("bundle.zip", &zip);
    target.run(&["import", "bundle.zip"]).assert_status(0).assert_stderr(
        "followups/close.yaml:6:13: warning: `followups/data/incidents.json` does not exist (yet)\n\
         created `approvals` (\"Pending approvals\"): followups/approvals.yaml\n\
         created `close` (\"Resolved to close\"): followups/close.yaml\n\
         imported 2 of 2 follow-ups from bundle.zip (tenant `acme-test`, exported 2026-01-05T09:00:00Z)\n",
    );
    assert_eq!(target.read("followups/approvals.yaml"), APPROVALS);
    assert_eq!(target.read("followups/close.yaml"), CLOSE);
    target.run(&["validate"]).assert_status(0).assert_stderr(
        "followups/close.yaml:6:13: warning: `followups/data/incidents.json` does not exist (yet)\n\
         2 follow-ups checked: 0 errors, 1 warning\n",
    );
}

/// Every entry of a zip, by name (for other test modules).
pub fn unzip(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    entries(zip)
}

/// `zip` with its follow-up `from` renamed `to` throughout: the entry, its
/// `id:`, and the manifest's id, file and checksum, so that the bundle is
/// consistent and only the id is hostile.
pub fn rewrite(zip: &[u8], from: &str, to: &str) -> Vec<u8> {
    let mut all = entries(zip);
    let old_file = format!("followups/{from}.yaml");
    let new_file = format!("followups/{to}.yaml");
    let i = all
        .iter()
        .position(|(n, _)| *n == old_file)
        .unwrap_or_else(|| panic!("no {old_file} in the bundle"));
    let text = String::from_utf8(all[i].1.clone()).unwrap();
    let text = text.replace_once(&format!("id: {from}\n"), &format!("id: {to}\n"));
    let sum = sha256_hex(text.as_bytes());
    all[i] = (new_file.clone(), text.into_bytes());
    let m = all.iter().position(|(n, _)| n == "manifest.json").unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&all[m].1).unwrap();
    let listed = manifest["followups"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["id"] == from)
        .unwrap_or_else(|| panic!("the manifest does not list {from}"));
    listed["id"] = to.into();
    listed["file"] = new_file.into();
    listed["sha256"] = sum.into();
    all[m].1 = serde_json::to_vec_pretty(&manifest).unwrap();
    let refs: Vec<(&str, &[u8])> = all
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    zip_of(&refs)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn export_is_reproducible_and_takes_its_time_from_source_date_epoch() {
    let site = site_with_followups();
    let a = site
        .cmd(&["export", "--all", "-o", "-"])
        .env("SOURCE_DATE_EPOCH", "1767603600")
        .run();
    a.assert_status(0);
    let b = site
        .cmd(&["export", "approvals", "Resolved to close", "-o", "-"])
        .now(NOW)
        .run();
    b.assert_status(0);
    assert_eq!(a.stdout_bytes, b.stdout_bytes);
    a.assert_stderr("exported 2 follow-ups (approvals, close) from tenant `acme-test` to stdout\n");
}

#[test]
fn export_refuses_literal_secrets_and_writes_nothing() {
    let site = site_with_followups();
    site.write(
        "followups/tenant.yaml",
        &TENANT.replace_once(
            "\"@{env.SLACK_WEBHOOK_URL}\"",
            "\"https://hooks.slack.com/services/T0/B0/XXXX\"",
        ),
    );
    site.write(
        "followups/close.yaml",
        &CLOSE.replace_once(
            "    - file: data/incidents.json\n",
            "    - request:\n        url: \"https://x.example/api?key=abc\"\n        headers: { Authorization: \"Basic dTpw\" }\n",
        ),
    );
    site.run(&["export", "--all", "-o", "out.zip"])
        .assert_status(1)
        .assert_stderr(
            "error: cannot export: a bundle never carries a secret, and these are written literally:\n  \
             followups/close.yaml:7:14: `extraction.integrations[0].request.url` holds the URL parameter `key` written literally; write its value as `@{env.NAME}`\n  \
             followups/close.yaml:8:35: `extraction.integrations[0].request.headers.Authorization` holds a secret written literally; write it as an `@{env.NAME}` reference\n  \
             followups/tenant.yaml:4:38: channel `slack`: `webhook_url` holds a secret written literally; write it as an `@{env.NAME}` reference\n",
        );
    assert!(!site.path("out.zip").exists());
}

#[test]
fn export_refuses_invalid_follow_ups_and_unknown_ids() {
    let site = site_with_followups();
    site.write(
        "followups/close.yaml",
        &CLOSE.replace_once("attempts: 2", "attempts: 20"),
    );
    site.run(&["export", "close", "-o", "out.zip"]).assert_status(1).assert_stderr(
        "followups/close.yaml:6:13: warning: `followups/data/incidents.json` does not exist (yet)\n\
         followups/close.yaml:11:34: error: `attempts` is 20; it must be between 1 and 10\n\
         error: cannot export `close`: it does not pass `followup validate`; nothing written\n",
    );
    site.run(&["export", "nope", "-o", "out.zip"])
        .assert_status(2)
        .assert_stderr("error: no follow-up has the id or name `nope` in followups\n");
    assert!(!site.path("out.zip").exists());
}

/// Imports `bundle` into a site holding APPROVALS: the result must fail
/// with `message` and leave `followups/` byte for byte as it was.
#[track_caller]
fn refused(bundle: &[u8], message: &str) {
    let site = site();
    site.write("followups/approvals.yaml", APPROVALS)
        .write_bytes("bundle.zip", bundle);
    let before = site.snapshot("followups");
    site.run(&["import", "bundle.zip", "--on-conflict", "replace"])
        .assert_status(1)
        .assert_stderr(&format!("error: cannot import bundle.zip: {message}\n"));
    assert_eq!(site.snapshot("followups"), before);
}

#[test]
fn hostile_entry_names_are_refused() {
    let yaml: &[u8] = b"id: a\n";
    refused(
        &zip_of(&[("followups/../../evil.yaml", yaml)]),
        "entry `followups/../../evil.yaml` climbs out of the bundle with `..`",
    );
    refused(
        &zip_of(&[("/etc/evil.yaml", yaml)]),
        "entry `/etc/evil.yaml` has an absolute path; bundle entries are relative",
    );
    refused(
        &zip_of(&[("followups/evil.sh", yaml)]),
        "entry `followups/evil.sh` does not belong in a bundle, which holds only manifest.json, channels.yaml and followups/<id>.yaml",
    );
}

#[test]
fn a_symlink_entry_is_refused() {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    zip.add_symlink(
        "followups/approvals.yaml",
        "/etc/passwd",
        SimpleFileOptions::default(),
    )
    .unwrap();
    refused(
        &zip.finish().unwrap().into_inner(),
        "entry `followups/approvals.yaml` is a symbolic link; a bundle holds only plain files",
    );
}

#[test]
fn duplicate_entries_are_refused() {
    let mut bundle = altered(|all| {
        all.push(("followups/approvalz.yaml".into(), b"id: x\n".to_vec()));
    });
    // Two entries of one name cannot be written by the zip crate: rename
    // the second in place (headers and central directory alike).
    replace_all(
        &mut bundle,
        b"followups/approvalz.yaml",
        b"followups/approvals.yaml",
    );
    refused(&bundle, "the bundle holds two entries with the same name");
}

#[test]
fn too_many_entries_are_refused() {
    let names: Vec<String> = (0..1001).map(|i| format!("followups/f{i}.yaml")).collect();
    let list: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    refused(
        &zip_of(&list),
        "the bundle holds 1001 entries; a bundle may hold at most 1000",
    );
}

#[test]
fn an_entry_over_its_bound_is_refused() {
    let big = vec![b'#'; 1024 * 1024 + 1];
    refused(
        &zip_of(&[("followups/big.yaml", &big)]),
        "entry `followups/big.yaml` expands to 1048577 bytes; an entry may hold at most 1048576 bytes",
    );
}

#[test]
fn a_bundle_over_the_total_bound_is_refused_while_reading() {
    let mib = vec![b'#'; 1024 * 1024];
    let names: Vec<String> = (0..17).map(|i| format!("followups/f{i}.yaml")).collect();
    let list: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &mib[..])).collect();
    refused(
        &zip_of(&list),
        "the bundle expands past 16777216 bytes; a bundle may hold at most 16777216 bytes in all",
    );
}

#[test]
fn a_zip_bomb_whose_headers_lie_is_refused_while_reading() {
    let big = vec![b'#'; 4 * 1024 * 1024];
    let mut bundle = zip_of(&[("followups/bomb.yaml", &big)]);
    // Declare 100 bytes where 4 MiB inflate: in the local header (offset
    // 22) and the central directory entry (offset 24).
    let declared = (big.len() as u32).to_le_bytes();
    replace_all(&mut bundle, &declared, &100u32.to_le_bytes());
    refused(
        &bundle,
        "entry `followups/bomb.yaml` does not decompress: File is larger than its declared uncompressed size",
    );
}

#[test]
fn a_checksum_mismatch_is_refused() {
    let bundle = altered(|all| {
        let entry = all
            .iter_mut()
            .find(|(n, _)| n == "followups/close.yaml")
            .unwrap();
        entry.1 = entry.1.replace_bytes(b"attempts: 2", b"attempts: 9");
    });
    let changed = CLOSE.replace_once("attempts: 2", "attempts: 9");
    refused(
        &bundle,
        &format!(
            "checksum mismatch: followups/close.yaml has sha256 {}, but manifest.json says {}",
            sha256_hex(changed.as_bytes()),
            sha256_hex(CLOSE.as_bytes())
        ),
    );
}

#[test]
fn an_unknown_format_version_is_refused() {
    let bundle = altered(|all| {
        let entry = all.iter_mut().find(|(n, _)| n == "manifest.json").unwrap();
        entry.1 = entry.1.replace_bytes(b"\"version\": 1", b"\"version\": 2");
    });
    refused(
        &bundle,
        "bundle format version 2 is not supported: this followup reads version 1; the bundle was written by a newer followup",
    );
}

#[test]
fn a_bundle_file_over_its_bound_is_refused() {
    refused(
        &vec![0u8; 16 * 1024 * 1024 + 1],
        "the bundle is larger than 16777216 bytes, the most a bundle may be",
    );
}

#[test]
fn a_hand_made_bundle_with_a_literal_secret_is_refused() {
    let bundle = altered(|all| {
        let close = all
            .iter_mut()
            .find(|(n, _)| n == "followups/close.yaml")
            .unwrap();
        close.1 = close.1.replace_bytes(
            b"    - file: data/incidents.json\n",
            b"    - request: { url: \"https://x.example/api\", auth: { type: bearer, token: abc } }\n",
        );
        // Checksums that match: the bundle is consistent, only hostile.
        let sum = sha256_hex(&close.1);
        let manifest = all.iter_mut().find(|(n, _)| n == "manifest.json").unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&manifest.1).unwrap();
        json["followups"][1]["sha256"] = sum.into();
        manifest.1 = serde_json::to_vec(&json).unwrap();
    });
    refused(
        &bundle,
        "followups/close.yaml holds secrets written literally, which no bundle may carry:\n  \
         followups/close.yaml:6:77: `extraction.integrations[0].request.auth.token` holds a secret written literally; write it as an `@{env.NAME}` reference",
    );
}

trait ReplaceBytes {
    fn replace_bytes(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceBytes for Vec<u8> {
    fn replace_bytes(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let text = String::from_utf8(self.clone()).unwrap();
        let from = std::str::from_utf8(from).unwrap();
        assert!(text.contains(from));
        text.replace(from, std::str::from_utf8(to).unwrap())
            .into_bytes()
    }
}

#[test]
fn an_import_that_fails_halfway_leaves_the_directory_as_it_was() {
    let site = site();
    site.write_bytes("bundle.zip", &exported_bundle());
    // `close.yaml` is taken by a directory: replacing it fails after
    // `approvals.yaml` was put in place, which must be taken back.
    site.write("followups/close.yaml/keep.txt", "not a definition");
    let before = site.snapshot("followups");
    site.run(&["import", "bundle.zip", "--on-conflict", "replace"])
        .assert_status(1)
        .assert_stderr(
            "followups/close.yaml:6:13: warning: `followups/data/incidents.json` does not exist (yet)\n\
             error: cannot import bundle.zip (nothing written): cannot replace followups/close.yaml: it is not a regular file\n",
        );
    assert_eq!(site.snapshot("followups"), before);
}

#[test]
fn importing_a_bundle_that_does_not_exist_is_bad_usage() {
    let site = site();
    let before = site.snapshot("followups");
    site.run(&["import", "missing.zip"])
        .assert_status(2)
        .assert_stderr("error: cannot import missing.zip: no such file\n");
    assert_eq!(site.snapshot("followups"), before);
}

#[test]
fn conflicts_fail_by_default_and_can_be_skipped_replaced_or_renamed() {
    let site = site();
    site.write_bytes("bundle.zip", &exported_bundle());
    let old_close = CLOSE.replace_once("attempts: 2", "attempts: 5");
    site.write("followups/close.yaml", &old_close);
    let before = site.snapshot("followups");

    site.run(&["import", "bundle.zip"])
        .assert_status(1)
        .assert_stderr(
            "error: cannot import bundle.zip: 1 conflict with followups:\n  \
             `close` (\"Resolved to close\"): id `close` is taken by followups/close.yaml\n\
             nothing written; choose --on-conflict skip, replace or rename\n",
        );
    assert_eq!(site.snapshot("followups"), before);

    site.run(&[
        "import",
        "bundle.zip",
        "--on-conflict",
        "rename",
        "--dry-run",
    ])
    .assert_status(0)
    .assert_stderr(
        "followups/close-2.yaml:6:13: warning: `followups/data/incidents.json` does not exist (yet)\n\
         would create `approvals` (\"Pending approvals\"): followups/approvals.yaml\n\
         would rename `close` (\"Resolved to close\") to `close-2` (\"Resolved to close (2)\"): followups/close-2.yaml\n\
         dry run: nothing written\n",
    );
    assert_eq!(site.snapshot("followups"), before);

    site.run(&["import", "bundle.zip", "--on-conflict", "skip"])
        .assert_status(0)
        .assert_stderr(
            "created `approvals` (\"Pending approvals\"): followups/approvals.yaml\n\
             skipped `close` (\"Resolved to close\"): id `close` is taken by followups/close.yaml\n\
             imported 1 of 2 follow-ups from bundle.zip (tenant `acme-test`, exported 2026-01-05T09:00:00Z)\n",
        );
    assert_eq!(site.read("followups/close.yaml"), old_close);

    site.run(&["import", "bundle.zip", "--on-conflict", "rename"])
        .assert_status(0);
    assert_eq!(
        site.read("followups/close-2.yaml"),
        CLOSE.replacen("id: close", "id: close-2", 1).replacen(
            "name: Resolved to close",
            "name: Resolved to close (2)",
            1
        )
    );
    assert_eq!(
        site.read("followups/approvals-2.yaml"),
        APPROVALS
            .replacen("id: approvals", "id: approvals-2", 1)
            .replacen("\"Pending approvals\"", "\"Pending approvals (2)\"", 1)
    );

    site.run(&["import", "bundle.zip", "--on-conflict", "replace"])
        .assert_status(0);
    assert_eq!(site.read("followups/close.yaml"), CLOSE);
    site.run(&["validate"]).assert_status(0);
    let hidden: Vec<_> = std::fs::read_dir(site.path("followups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[test]
fn import_names_what_the_target_tenant_lacks() {
    let site = site();
    site.write(
        "followups/tenant.yaml",
        "tenant: prod\nchannels:\n  email: { type: email, smtp_url: \"@{env.SMTP_URL}\", from: desk@acme.com }\n",
    );
    let before = site.snapshot("followups");
    site.cmd(&["import", "-"])
        .stdin(exported_bundle())
        .run()
        .assert_status(1)
        .assert_stderr(
            "followups/approvals.yaml:10:14: error: `global.servicenow_url` is not an attribute of tenant.yaml and no action sets it; add it to tenant.yaml's `attributes` or give a fallback (`@{global.servicenow_url ?? \"...\"}`)\n\
             followups/approvals.yaml:17:33: error: group `cab` is not defined in tenant.yaml\n\
             followups/approvals.yaml:17:47: error: channel `console` is not defined in tenant.yaml (defined: email)\n\
             followups/close.yaml:6:13: warning: `followups/data/incidents.json` does not exist (yet)\n\
             followups/close.yaml:10:21: error: channel `slack` is not defined in tenant.yaml (defined: email)\n\
             error: cannot import stdin: its follow-ups would not pass `followup validate` in followups; nothing written\n\
             add to followups/tenant.yaml what they use:\n\
             channels:\n  console:\n    type: console\n  slack:\n    type: slack\n    webhook_url: '@{env.SLACK_WEBHOOK_URL}'\n\
             attributes:\n  servicenow_url: ...   # read by approvals; a bundle does not carry attribute values\n",
        );
    assert_eq!(site.snapshot("followups"), before);
}

// ---------------------------------------------------------------------------
// copy

#[test]
fn copy_keeps_the_text_but_id_and_name_and_is_found_by_list() {
    let site = site_with_followups();
    site.run(&["copy", "Pending approvals", "--name", "EU approvals"])
        .assert_status(0)
        .assert_stderr(
            "copied followups/approvals.yaml to followups/eu-approvals.yaml (`eu-approvals`, \"EU approvals\"); its state in the database is not copied\n",
        );
    assert_eq!(
        site.read("followups/eu-approvals.yaml"),
        APPROVALS
            .replacen("id: approvals ", "id: eu-approvals ", 1)
            .replacen("\"Pending approvals\"", "\"EU approvals\"", 1)
    );
    site.run(&["validate"]).assert_status(0);
    site.run(&["list", "--search", "eu"])
        .assert_status(0)
        .assert_stdout(
            "ID            NAME          STATUS    POLLING  CHANNEL\n\
             eu-approvals  EU approvals  inactive  30m      last_used\n",
        );

    // A given id, and --stdout writes nothing.
    site.run(&[
        "copy",
        "close",
        "--name",
        "Close (EU)",
        "--id",
        "close-eu",
        "--stdout",
    ])
    .assert_status(0)
    .assert_stdout(&CLOSE.replacen("id: close", "id: close-eu", 1).replacen(
        "name: Resolved to close",
        "name: Close (EU)",
        1,
    ));
    assert!(!site.path("followups/close-eu.yaml").exists());
}

#[test]
fn copy_needs_a_new_name_and_a_free_id() {
    let site = site_with_followups();
    let before = site.snapshot("followups");
    site.run(&["copy", "approvals"]).assert_status(2).assert_stderr(
        "error: copy needs --name: the name is never copied, since names are unique (e.g. --name \"Pending approvals (copy)\")\n",
    );
    site.run(&[
        "copy",
        "approvals",
        "--name",
        "pending APPROVALS",
        "--id",
        "x",
    ])
    .assert_status(1)
    .assert_stderr(
        "error: the name \"pending APPROVALS\" is used by `approvals` (followups/approvals.yaml); names are unique, whatever their case (nothing written)\n",
    );
    site.run(&["copy", "approvals", "--name", "Close"])
        .assert_status(1)
        .assert_stderr(
            "error: the id `close` is taken by followups/close.yaml; give another --id (nothing written)\n",
        );
    assert_eq!(site.snapshot("followups"), before);
}

// ---------------------------------------------------------------------------
// create

#[test]
fn create_from_each_template_writes_a_commented_definition_that_validates() {
    let site = site();
    for template in [
        "pending-approval",
        "pending-information",
        "resolved-to-close",
        "new-ticket",
        "new-opportunity",
        "employee-request",
    ] {
        let name = format!("My {template}");
        site.run(&[
            "create",
            "--name",
            &name,
            "--template",
            template,
            "--url",
            "https://acme.service-now.com/api/now/table/x",
            "--channel",
            "slack",
        ])
        .assert_status(0);
        let text = site.read(&format!("followups/my-{template}.yaml"));
        for section in [
            "# Polling:",
            "# Data extraction:",
            "# Recipients:",
            "# Message:",
            "# Schedule:",
            "# Post-follow-up actions",
        ] {
            assert!(text.contains(section), "{template}: {section}\n{text}");
        }
    }
    site.run(&["validate"])
        .assert_status(0)
        .assert_stderr("6 follow-ups checked: 0 errors, 0 warnings\n");
}

#[test]
fn create_from_flags_alone() {
    let site = site();
    site.run(&[
        "create",
        "--name",
        "Ops pages",
        "--status",
        "inactive",
        "--file",
        "data/ops.json",
        "--loop",
        "$.items[*]",
        "--reconciliation-id",
        "$.id",
        "--group",
        "cab",
        "--channel",
        "last_used",
        "--fallback-channel",
        "email",
        "--text",
        "Look at @{followup.data.title}",
        "--poll-every",
        "15m",
        "--notify-every",
        "2h",
        "--attempts",
        "4",
    ])
    .assert_status(0)
    .assert_stderr(
        "followups/ops-pages.yaml:23:13: warning: `followups/data/ops.json` does not exist (yet)\n\
         created followups/ops-pages.yaml (`ops-pages`, \"Ops pages\", inactive)\n",
    );
    let list = site.run(&["list", "--format", "json"]);
    let rows = list.assert_status(0).json();
    assert_eq!(rows[0]["id"], "ops-pages");
    assert_eq!(rows[0]["status"], "inactive");
    assert_eq!(rows[0]["polling"], "15m");
    assert_eq!(rows[0]["valid"], true);
    let show = site.run(&["show", "ops-pages", "--format", "json"]);
    let def = show.assert_status(0).json();
    assert_eq!(def["recipients"]["group"], "cab");
    assert_eq!(def["message"]["fallback_channel"], "email");
    assert_eq!(def["schedule"]["every"], "2h");
    assert_eq!(def["schedule"]["attempts"], 4);
}

#[test]
fn create_flags_answer_the_window_auth_first_poll_and_post_actions() {
    let site = site();
    let base = [
        "create",
        "--template",
        "resolved-to-close",
        "--url",
        "https://acme.example/api/incidents",
        "--channel",
        "console",
    ];
    site.cmd(&base)
        .args([
            "--name",
            "Closers",
            "--auth",
            "bearer",
            "--first-poll",
            "record_only",
            "--window",
            "sat,sun 09:00-12:00 Europe/Lisbon",
            "--after-each-attempt",
            "set local.note = reminded",
            "--after-each-attempt",
            "PATCH https://acme.example/api/incidents/@{followup.data.sys_id}",
            "--on-resolved",
            "set global.last_closed = @{followup.record_id}",
        ])
        .run()
        .assert_status(0);
    let def = site
        .run(&["show", "closers", "--format", "json"])
        .assert_status(0)
        .json();
    assert_eq!(def["polling"]["first_poll"], "record_only");
    let request = &def["extraction"]["integrations"][0]["request"];
    assert_eq!(request["auth"]["type"], "bearer");
    assert_eq!(request["auth"]["token"], "@{env.SOURCE_TOKEN}");
    assert_eq!(def["schedule"]["window"]["days"], "sat,sun");
    assert_eq!(
        def["after_each_attempt"][0]["set"]["local.note"],
        "reminded"
    );
    assert_eq!(
        def["after_each_attempt"][1]["integration"]["request"]["method"],
        "PATCH"
    );
    assert_eq!(
        def["on_resolved"][0]["set"]["global.last_closed"],
        "@{followup.record_id}"
    );

    // A wrong one is bad usage, with the same message the wizard gives.
    let before = site.snapshot("followups");
    site.cmd(&base)
        .args(["--name", "Other", "--window", "mon-fri 08:00-18:00 Mars/Olympus"])
        .run()
        .assert_status(2)
        .assert_stderr(
            "error: --window: `Mars/Olympus` is not an IANA time zone (e.g. `Europe/Lisbon`, `America/New_York`, `UTC`)\n",
        );
    site.cmd(&base)
        .args(["--name", "Other", "--on-resolved", "escalate"])
        .run()
        .assert_status(2);
    assert_eq!(site.snapshot("followups"), before);
}

#[test]
fn create_without_a_terminal_names_the_missing_flags() {
    let site = site();
    let before = site.snapshot("followups");
    site.run(&["create", "--name", "X", "--template", "new-ticket"])
        .assert_status(2)
        .assert_stderr(
            "error: missing --url or --file, --channel: give them as flags, or run `followup create` in a terminal to be asked\n",
        );
    site.run(&["create", "--name", "X"]).assert_stderr(
        "error: missing --url or --file, --loop, --reconciliation-id, --user or --group, --channel, --text: give them as flags, or run `followup create` in a terminal to be asked\n",
    );
    assert_eq!(site.snapshot("followups"), before);
}

#[test]
fn create_refuses_an_unknown_channel_a_taken_id_and_rules_broken() {
    let site = site_with_followups();
    let before = site.snapshot("followups");
    let base = [
        "create",
        "--template",
        "new-ticket",
        "--url",
        "https://x.example/api",
    ];
    let run_with = |extra: &[&str]| site.cmd(&base).args(extra).run();
    run_with(&["--name", "N", "--channel", "teams"])
        .assert_status(2)
        .assert_stderr(
            "error: channel `teams` is not defined in followups/tenant.yaml (defined: console, email, hook, slack); nothing written\n",
        );
    run_with(&["--name", "Close", "--channel", "slack"])
        .assert_status(1)
        .assert_stderr(
            "error: the id `close` is taken by followups/close.yaml; give another --id (nothing written)\n",
        );
    run_with(&["--name", "N", "--channel", "slack", "--poll-every", "5m"])
        .assert_status(1)
        .assert_stderr(
            "followups/n.yaml:15:10: error: polling frequency `5m` is out of range: it must be between 10m and 5d (7200 minutes)\n\
             error: followups/n.yaml would not pass `followup validate` (1 error); nothing written\n",
        );
    assert_eq!(site.snapshot("followups"), before);

    // --stdout prints the definition and writes nothing.
    let run = run_with(&["--name", "N", "--channel", "slack", "--stdout"]);
    run.assert_status(0);
    assert!(
        run.stdout
            .starts_with("# N\n# Made by `followup create --template new-ticket`.\n"),
        "{}",
        run.stdout
    );
    assert_eq!(site.snapshot("followups"), before);
}
