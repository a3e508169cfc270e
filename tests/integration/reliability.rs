//! What RELIABILITY.md promises, checked from outside: regressions of the
//! defects found by crash, overlap and hostile-input trials (each named for
//! what broke), the source faults a pass must survive, the database under
//! stress, owner-only files, and secrets in every encoded form.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::faults::Fault;
use crate::support::pass::{
    DAILY_3, Source, T0, approval, definition, event_names, events, pass, sent, who,
};
use crate::support::server::{Reply, Server};
use crate::support::{Edit, Output, Test};

const TENANT: &str = "\
tenant: acme-test
channels:
  console: { type: console }
  outbox: { type: file, path: outbox.jsonl }
users:
  - { id: alice, name: Alice Doe, email: alice@example.com }
  - { id: bob, name: Bob Roe, email: bob@example.com }
";

fn setup(definition: &str) -> Test {
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    t.write("followups/approvals.yaml", definition);
    t
}

fn mode(t: &Test, rel: &str) -> u32 {
    fs::metadata(t.path(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .permissions()
        .mode()
        & 0o777
}

// ---------------------------------------------------------------------------
// Regressions

/// A SIGKILL inside the file channel's `write` left half a line; the
/// redelivery was appended onto it, and that line no longer parsed.
#[test]
fn a_torn_outbox_line_is_cut_before_the_next_append() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(
        &definition(&source.url(), DAILY_3, "").replace_once("channel: console", "channel: outbox"),
    );
    let whole = r#"{"delivery":"earlier/x/1/1/outbox/bob","text":"kept"}"#;
    t.write(
        "followups/outbox.jsonl",
        &format!("{whole}\n{{\"delivery\":\"approvals/a1/1/1/outbox/al"),
    );
    pass(&t, T0).assert_status(0);
    let text = t.read("followups/outbox.jsonl");
    let lines = sent(&text);
    assert_eq!(lines[0]["text"], "kept", "a whole line is kept: {text}");
    assert_eq!(who(&lines[1..]), [("a1".into(), 1, "alice".into())]);
    assert!(text.ends_with('\n'));

    // A file that is nothing but a torn line is emptied first.
    let t = setup(
        &definition(&source.url(), DAILY_3, "").replace_once("channel: console", "channel: outbox"),
    );
    t.write("followups/outbox.jsonl", "{\"deliv");
    pass(&t, T0).assert_status(0);
    assert_eq!(
        who(&sent(&t.read("followups/outbox.jsonl"))),
        [("a1".into(), 1, "alice".into())]
    );
}

/// `: > z.db; followup --db z.db status` printed `no such table:
/// followups` with exit 1: a pass killed in its first milliseconds leaves
/// such a file.
#[test]
fn an_empty_database_file_reads_as_no_state_yet() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    let commands: [&[&str]; 4] = [
        &["status"],
        &["status", "--format", "json"],
        &["history", "--format", "json"],
        &["explain", "approvals", "a1"],
    ];
    let without: Vec<Output> = commands
        .iter()
        .map(|args| t.cmd(args).now(T0).run())
        .collect();
    t.write("followup.db", "");
    for (args, expected) in commands.iter().zip(&without) {
        let out = t.cmd(args).now(T0).run();
        assert_eq!(
            (out.status, &out.stdout, &out.stderr),
            (expected.status, &expected.stdout, &expected.stderr),
            "`{}` on an empty database file",
            args.join(" ")
        );
        assert!(!out.stderr.contains("no such table"), "{}", out.stderr);
    }
    assert_eq!(without[0].status, Some(0));
    // A pass migrates it and works.
    let out = pass(&t, T0);
    assert_eq!(who(&sent(&out.assert_status(0).stdout)).len(), 1);

    // A file that is not a database is unusable: exit 3, saying so.
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    t.write(
        "followup.db",
        "not a database, but some text long enough to have a header",
    );
    for args in [
        &["status"][..],
        &["history"],
        &["explain", "approvals", "a1"],
        &["run-once"],
    ] {
        let out = t.cmd(args).now(T0).run();
        out.assert_status(3);
        assert!(
            out.stderr.contains("the database followup.db is unusable"),
            "`{}`: {}",
            args.join(" "),
            out.stderr
        );
    }
}

/// `--db st.db` and `--db alias.db` (a symlink to it) both took "the"
/// lock, ran at once, and one sent 11 duplicates.
#[test]
fn a_database_named_through_a_symlink_shares_the_pass_lock() {
    let source = Source::new(json!([approval("a1", "alice")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    t.cmd(&["--db", "st.db", "run-once"])
        .now(T0)
        .run()
        .assert_status(0);
    std::os::unix::fs::symlink("st.db", t.path("alias.db")).unwrap();
    fs::create_dir(t.path("sub")).unwrap();

    // Another pass holds the lock of st.db.
    let held = File::create(t.path("st.db.lock")).unwrap();
    held.try_lock().unwrap();
    for db in [
        "alias.db",
        "./sub/../st.db",
        t.path("st.db").to_str().unwrap(),
    ] {
        let out = t
            .cmd(&["--db", db, "run-once"])
            .now("2026-01-06T09:00:00Z")
            .run();
        out.assert_status(75);
        assert!(
            out.stderr.contains("another pass holds the lock"),
            "{}",
            out.stderr
        );
    }
    assert!(!t.exists("alias.db.lock"));
    drop(held);
    let out = t
        .cmd(&["--db", "alias.db", "run-once"])
        .now("2026-01-06T09:00:00Z")
        .run();
    assert_eq!(
        who(&sent(&out.assert_status(0).stdout)),
        [("a1".into(), 2, "alice".into())]
    );
}

/// The database, its WAL and shared memory, the lock, the outbox, metrics
/// and export bundles were 0644: they hold ticket data and addresses.
#[test]
fn every_file_followup_creates_is_owner_only_whatever_the_umask() {
    // The source answers slowly, so the files of a running pass (the WAL
    // and shared memory, gone when it ends) can be looked at.
    let gate = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let slow = gate.clone();
    let source = Server::start(move |_| {
        let reply = Reply::json(200, json!({"result": [approval("a1", "alice")]}));
        if slow.load(std::sync::atomic::Ordering::SeqCst) {
            reply.delay(Duration::from_secs(2))
        } else {
            reply
        }
    });
    let t = setup(
        &definition(&source.url("/items"), DAILY_3, "")
            .replace_once("channel: console", "channel: outbox"),
    );
    let mut running = t
        .cmd(&["run-once", "--metrics-file", "metrics.prom"])
        .now(T0)
        .shell_prefix("umask 000")
        .spawn();
    while source.requests().is_empty() {
        std::thread::sleep(Duration::from_millis(5));
    }
    for file in [
        "followup.db",
        "followup.db-wal",
        "followup.db-shm",
        "followup.db.lock",
    ] {
        assert_eq!(mode(&t, file), 0o600, "{file} of a running pass");
    }
    gate.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(running.wait().unwrap().success());
    for file in [
        "followup.db",
        "followup.db.lock",
        "followups/outbox.jsonl",
        "metrics.prom",
    ] {
        assert_eq!(mode(&t, file), 0o600, "{file}");
    }
    t.cmd(&["export", "--all", "-o", "bundle.zip"])
        .shell_prefix("umask 000")
        .run()
        .assert_status(0);
    assert_eq!(mode(&t, "bundle.zip"), 0o600);
    // A definition is the operator's text, kept in git: the umask decides.
    t.cmd(&["copy", "approvals", "--name", "Copied"])
        .shell_prefix("umask 022")
        .run()
        .assert_status(0);
    assert_eq!(mode(&t, "followups/copied.yaml"), 0o644);
}

/// `import` with `--on-conflict replace` wrote a bundle's follow-up `tenant`
/// over tenant.yaml, and every later pass refused to run.
#[test]
fn tenant_is_a_reserved_id_in_validate_create_copy_and_import() {
    let source = Source::new(json!([]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    // validate: `tenant.yml` is read as a definition.
    t.write(
        "followups/tenant.yml",
        &definition(&source.url(), DAILY_3, "")
            .replace_once("id: approvals", "id: tenant")
            .replace_once("name: Pending approvals", "name: Tenant"),
    );
    let out = t.run(&["validate"]);
    out.assert_status(1);
    assert!(
        out.stderr
            .contains("followups/tenant.yml:1:5: error: the id `tenant` is reserved"),
        "{}",
        out.stderr
    );
    fs::remove_file(t.path("followups/tenant.yml")).unwrap();

    let before = t.snapshot("followups");
    let draft = [
        "--channel",
        "console",
        "--file",
        "x.json",
        "--loop",
        "$.r[*]",
        "--reconciliation-id",
        "$.id",
        "--user",
        "$.u",
        "--text",
        "hi",
    ];
    let create_tenant = [&["create", "--name", "Tenant"][..], &draft].concat();
    let create_id = [
        &["create", "--name", "Anything", "--id", "tenant"][..],
        &draft,
    ]
    .concat();
    for args in [
        &create_tenant[..],
        &create_id,
        &["copy", "approvals", "--name", "Tenant"],
        &["copy", "approvals", "--name", "Other", "--id", "tenant"],
    ] {
        let out = t.run(args);
        out.assert_status(2);
        assert!(
            out.stderr.contains("the id `tenant` is reserved"),
            "`{}`: {}",
            args.join(" "),
            out.stderr
        );
    }
    assert_eq!(t.snapshot("followups"), before, "nothing written");

    // import: a bundle whose manifest lists `tenant`.
    let exported = t.run(&["export", "--all", "-o", "-"]);
    let bundle = crate::bundle::rewrite(
        &exported.assert_status(0).stdout_bytes,
        "approvals",
        "tenant",
    );
    t.write_bytes("bundle.zip", &bundle);
    for policy in ["fail", "skip", "replace", "rename"] {
        let out = t.run(&["import", "bundle.zip", "--on-conflict", policy]);
        out.assert_status(1);
        assert!(
            out.stderr
                .contains("lists `tenant`: the id `tenant` is reserved"),
            "{policy}: {}",
            out.stderr
        );
    }
    assert_eq!(t.snapshot("followups"), before, "tenant.yaml untouched");
}

/// `command: ["@{followup.data.program}", ...]` passed validate: a ticket
/// field chose the program to run.
#[test]
fn the_program_of_a_command_may_not_come_from_data() {
    let source = Source::new(json!([]));
    let t = setup(&definition(
        &source.url(),
        DAILY_3,
        "after_each_attempt:
  - integration: { command: [\"@{followup.data.program}\", \"--id\", \"@{followup.record_id}\"] }
  - integration: { command: [\"@{global.tool_dir}/notify\", \"@{followup.data.number}\"] }
  - integration: { command: [\"/bin/sh\", \"-c\", \"notify @{followup.data.number}\"] }
  - integration: { command: [\"/bin/sh\", \"-c\", 'notify \"$1\"', \"sh\", \"@{followup.data.number}\"] }
",
    ));
    t.write(
        "followups/tenant.yaml",
        &TENANT
            .replace_once(
                "channels:\n",
                "attributes: { tool_dir: /opt/desk }\nchannels:\n",
            )
            .replace_once(
                "  outbox:",
                "  pager: { type: command, command: [\"@{recipient.email}\", \"x\"] }\n  outbox:",
            ),
    );
    let out = t.run(&["validate"]);
    out.assert_status(1);
    let program = "would let the data choose the program to run";
    let lines: Vec<&str> = out.stderr.lines().filter(|l| l.contains(program)).collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    // Tenant errors come first.
    assert!(
        lines[1].starts_with("followups/approvals.yaml:23:30: error: `@{followup.data.program}`"),
        "{}",
        out.stderr
    );
    assert!(
        lines[0].starts_with("followups/tenant.yaml:5:37: error: `@{recipient.email}`"),
        "{}",
        out.stderr
    );
    let shell: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("inserted into a shell script"))
        .collect();
    assert_eq!(
        shell.len(),
        1,
        "only the script with a template: {}",
        out.stderr
    );
    assert!(
        shell[0].starts_with("followups/approvals.yaml:25:47:"),
        "{}",
        shell[0]
    );
    assert!(
        shell[0].contains(": warning: `@{followup.data.number}`"),
        "{}",
        shell[0]
    );
}

/// `import` wrote a bundle's `command` integrations without saying so.
#[test]
fn import_lists_every_command_a_bundle_brings_before_writing() {
    let source = Source::new(json!([]));
    let from = setup(&definition(
        &source.url(),
        DAILY_3,
        "after_each_attempt:\n  - integration: { command: [\"/usr/local/bin/ticket\", \"note\", \"@{followup.record_id}\"] }\n",
    ));
    let bundle = from
        .run(&["export", "--all", "-o", "-"])
        .assert_status(0)
        .stdout_bytes
        .clone();
    let to = Test::new();
    to.write("followups/tenant.yaml", TENANT);
    to.write_bytes("bundle.zip", &bundle);
    for args in [
        &["import", "bundle.zip", "--dry-run"][..],
        &["import", "bundle.zip"],
    ] {
        let out = to.run(args);
        out.assert_status(0);
        let first = out.stderr.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            r#"`approvals` runs the command ["/usr/local/bin/ticket", "note", "@{followup.record_id}"]"#,
            "listed first, before what is written: {}",
            out.stderr
        );
    }
}

// ---------------------------------------------------------------------------
// Secrets in every encoded form

/// A secret with every character that encodings treat differently.
const SECRET: &str = "s3cr3t p@ss/wörd+\"&=~*";
const CLIENT_SECRET: &str = "cl1ent s3cret/+\"=&";

/// Every form of `secret` a server or a proxy could quote back.
fn forms(secret: &str) -> Vec<String> {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const URI: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    const FORM: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    let uri = utf8_percent_encode(secret, URI).to_string();
    let form = utf8_percent_encode(secret, FORM).to_string();
    let json = serde_json::to_string(secret).unwrap();
    vec![
        secret.to_owned(),
        uri.clone(),
        uri.replace("%20", "+"),
        form.clone(),
        form.replace("%20", "+"),
        json[1..json.len() - 1].to_owned(),
        base64(secret.as_bytes()),
    ]
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// Panics when any form of any secret is in `text`.
#[track_caller]
fn assert_no_secret(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    for secret in [SECRET, CLIENT_SECRET] {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "{what} holds the secret as `{form}`:\n{text}"
            );
        }
    }
}

/// Every file under the temp dir, the database and its WAL included.
fn assert_no_secret_in_files(t: &Test) {
    for (path, bytes) in t.snapshot(".") {
        if let Some(bytes) = bytes {
            assert_no_secret(&path.display().to_string(), &bytes);
        }
    }
}

/// A source that quotes back what it received in each form a server
/// would: the request target (percent-encoded) in a proxy's 500 page, the
/// form body in an OAuth error, a JSON-escaped value in an API error, the
/// Authorization header.
fn echoing_source() -> Server {
    Server::start(|req| {
        if req.path == "/token" {
            let decoded: String = req
                .form()
                .iter()
                .map(|(k, v)| format!("{k}={v} "))
                .collect();
            return Reply::json(
                400,
                json!({"error": "invalid_client", "received": req.text(), "decoded": decoded,
                       "plus": req.text().replace("%20", "+")}),
            );
        }
        let key = req.query("key").unwrap_or_default().to_owned();
        match req.path.as_str() {
            "/proxy" => Reply::text(
                502,
                &format!(
                    "<html>Bad gateway for {} ({}) auth={}</html>",
                    req.target,
                    req.target.replace("%20", "+"),
                    req.header("Authorization").unwrap_or_default()
                ),
            ),
            _ => Reply::json(
                500,
                json!({"error": format!("bad key {key}"), "echo": {"key": key, "header": req.header("X-Api-Key")}}),
            ),
        }
    })
}

fn leaky_definitions(t: &Test, server: &Server) {
    t.write(
        "followups/approvals.yaml",
        &definition(&format!("{}?key=@{{env.API_KEY}}", server.url("/proxy")), DAILY_3, "")
            .replace_once(
                "        query: { sysparm_query: \"state=requested\" }\n",
                "        query: { sysparm_query: \"state=requested\" }\n        auth: { type: basic, username: svc, password: \"@{env.API_KEY}\" }\n",
            ),
    );
    t.write(
        "followups/api.yaml",
        &definition(
            &format!("{}?key=@{{env.API_KEY}}", server.url("/api")),
            DAILY_3,
            "",
        )
        .replace_once("id: approvals", "id: api")
        .replace_once("name: Pending approvals", "name: Api")
        .replace_once(
            "        query: { sysparm_query: \"state=requested\" }\n",
            "        headers: { X-Api-Key: \"@{env.API_KEY}\" }\n",
        ),
    );
    t.write(
        "followups/oauth.yaml",
        &definition(&server.url("/items"), DAILY_3, "")
            .replace_once("id: approvals", "id: oauth")
            .replace_once("name: Pending approvals", "name: OAuth")
            .replace_once(
                "        query: { sysparm_query: \"state=requested\" }\n",
                &format!(
                    "        auth: {{ type: oauth2_client_credentials, token_url: \"{}\", client_id: desk, client_secret: \"@{{env.CLIENT_SECRET}}\", client_auth: form }}\n",
                    server.url("/token")
                ),
            ),
    );
}

/// The proxy's page quoted the percent-encoded URL, the token endpoint the
/// form-encoded client secret, the API its JSON-escaped input: each reached
/// stderr, `history`, `status --format json` and the database.
#[test]
fn secrets_are_masked_in_every_encoded_form_in_output_and_in_the_store() {
    let server = echoing_source();
    let t = Test::new();
    t.write("followups/tenant.yaml", TENANT);
    leaky_definitions(&t, &server);
    let out = t
        .cmd(&["run-once"])
        .env("API_KEY", SECRET)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .now(T0)
        .run();
    out.assert_status(1);
    // The servers did quote the secrets back: the test can fail.
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(
        out.stderr.contains("HTTP 502")
            && out.stderr.contains("HTTP 500")
            && out.stderr.contains("HTTP 400"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Bad gateway for /proxy?"),
        "{}",
        out.stderr
    );
    assert_no_secret("run-once stderr", out.stderr.as_bytes());
    assert_no_secret("run-once stdout", out.stdout.as_bytes());
    for args in [
        &["history", "--format", "json"][..],
        &["history", "--format", "csv"],
        &["history"],
        &["status", "--format", "json"],
        &["status"],
        &["explain", "approvals", "a1"],
    ] {
        let out = t.cmd(args).now(T0).run();
        assert_no_secret(&args.join(" "), out.stdout.as_bytes());
        assert_no_secret(&args.join(" "), out.stderr.as_bytes());
    }
    let failed = events(&t, &["--event", "poll.failed"]);
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert_no_secret_in_files(&t);
}

/// Every command an operator runs, with secrets in the environment and
/// failing calls that quote them: no form of a secret in any output or file.
#[test]
fn no_command_writes_a_secret_anywhere() {
    let server = echoing_source();
    let t = Test::new();
    t.write(
        "followups/tenant.yaml",
        &TENANT.replace_once(
            "  outbox:",
            "  hook: { type: webhook, url: \"https://hooks.example.com/x\", headers: { Authorization: \"Bearer @{env.API_KEY}\" } }\n  outbox:",
        ),
    );
    leaky_definitions(&t, &server);
    // A definition with an error, so validate reports one.
    t.write(
        "followups/broken.yaml",
        "id: broken\nname: Broken\nextraction:\n  integrations:\n    - request: { url: \"https://x.example.com/?k=@{env.API_KEY}\", headers: { K: \"@{env.NOPE}\" } }\n",
    );
    let run = |args: &[&str]| {
        let out = t
            .cmd(args)
            .env("API_KEY", SECRET)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .now(T0)
            .run();
        assert!(!out.panicked(), "{}", out.stderr);
        assert_no_secret(&format!("{} stdout", args.join(" ")), &out.stdout_bytes);
        assert_no_secret(&format!("{} stderr", args.join(" ")), out.stderr.as_bytes());
        out
    };
    run(&["validate"]).assert_status(1);
    run(&["validate", "--format", "json"]);
    run(&["validate", "--format", "github"]);
    fs::remove_file(t.path("followups/broken.yaml")).unwrap();
    run(&["validate"]).assert_status(0);
    // (`-v`, `--log-format json` and `preview` do not exist yet.)
    run(&["run-once"]).assert_status(1);
    run(&["run-once", "--dry-run"]);
    run(&["run-once", "--metrics-file", "metrics.prom"]);
    for args in [
        &["history", "--format", "json"][..],
        &["history", "--format", "csv"],
        &["status", "--format", "json"],
        &["status"],
        &["explain", "oauth", "a1"],
        &["show", "approvals"],
        &["list"],
    ] {
        run(args);
    }
    run(&["export", "--all", "-o", "bundle.zip"]).assert_status(0);
    let bundle = t.read_bytes("bundle.zip");
    for (name, bytes) in crate::bundle::unzip(&bundle) {
        assert_no_secret(&format!("bundle.zip:{name}"), &bytes);
    }
    assert_no_secret_in_files(&t);
}

// ---------------------------------------------------------------------------
// Source faults

/// Two records opened and notified by a healthy poll; then each fault, for
/// two passes (resolve_after is 2): the pass ends within its budget, the
/// failure is recorded, nobody is told anything, nothing is resolved.
#[test]
fn every_source_fault_fails_or_holds_the_poll_and_resolves_nothing() {
    let healthy = json!({"result": [approval("101", "alice"), approval("102", "bob")]});
    for fault in Fault::ALL {
        let source = Source::new(healthy["result"].clone());
        let def = definition(&source.url(), DAILY_3, "").replace_once(
            "        query: { sysparm_query: \"state=requested\" }\n",
            "        query: { sysparm_query: \"state=requested\" }\n        timeouts: { connect: 2s, total: 3s }\n",
        );
        let t = setup(&def);
        let out = pass(&t, T0);
        assert_eq!(who(&sent(&out.assert_status(0).stdout)).len(), 2);

        source.reply(fault.reply(&healthy));
        for now in ["2026-01-05T09:30:00Z", "2026-01-05T10:00:00Z"] {
            let out = t
                .cmd(&["run-once", "--max-duration", "8s"])
                .now(now)
                .timeout(Duration::from_secs(30))
                .run();
            assert!(
                out.status.is_some(),
                "{fault:?}: the pass ran past its budget\n{}",
                out.stderr
            );
            assert!(!out.panicked(), "{fault:?}: {}", out.stderr);
            assert_eq!(out.stdout, "", "{fault:?}: nobody is told anything");
            let expected = match fault {
                Fault::DuplicateIds | Fault::NumericIds => 0,
                _ => 1,
            };
            assert_eq!(out.status, Some(expected), "{fault:?}: {}", out.stderr);
        }
        let names = event_names(&t, &[]);
        let polls: Vec<&String> = names.iter().filter(|e| e.starts_with("poll.")).collect();
        let expected_poll = match fault {
            Fault::DuplicateIds | Fault::NumericIds => "poll.succeeded",
            _ => "poll.failed",
        };
        assert_eq!(polls.len(), 3, "{fault:?}: {names:?}");
        assert!(
            polls[1..].iter().all(|e| *e == expected_poll),
            "{fault:?}: {names:?}"
        );
        assert!(
            !names.contains(&"record.resolved".to_owned()),
            "{fault:?}: {names:?}"
        );
        assert_eq!(
            names.iter().filter(|e| *e == "notification.sent").count(),
            2,
            "{fault:?}: {names:?}"
        );
        if fault == Fault::DuplicateIds {
            assert!(names.contains(&"record.duplicate".to_owned()), "{names:?}");
        }
        // The source comes back: the same two records, still open, nothing resent.
        source.records(healthy["result"].clone());
        let out = pass(&t, "2026-01-05T10:30:00Z");
        assert_eq!(out.assert_status(0).stdout, "", "{fault:?}");
        let status = t
            .cmd(&["status", "--format", "json"])
            .now("2026-01-05T10:30:00Z")
            .run();
        let status = status.assert_status(0).json();
        assert_eq!(status[0]["open"], 2, "{fault:?}: {status}");
    }
}

// ---------------------------------------------------------------------------
// The database under stress

/// A first pass opens and notifies two records; returns the test and its
/// source.
fn two_open_records() -> (Test, Source) {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "bob")]));
    let t = setup(&definition(&source.url(), DAILY_3, ""));
    let out = pass(&t, T0);
    assert_eq!(who(&sent(&out.assert_status(0).stdout)).len(), 2);
    (t, source)
}

/// `PRAGMA integrity_check` of the test's database.
fn integrity(t: &Test) -> String {
    let conn = rusqlite::Connection::open(t.path("followup.db")).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap()
}

/// (record, state, attempts) of every record, as `explain` would tell.
fn records(t: &Test) -> Vec<(String, String, i64)> {
    let conn = rusqlite::Connection::open(t.path("followup.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT record_id, state, attempts FROM records ORDER BY record_id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[track_caller]
fn assert_unusable(out: &Output, hint: &str) {
    out.assert_status(3);
    assert!(
        out.stderr
            .contains("error: the database followup.db is unusable: ")
            && out.stderr.contains(hint),
        "`{}`: {}",
        out.args.join(" "),
        out.stderr
    );
}

#[test]
fn a_full_disk_during_a_pass_is_exit_3_and_keeps_what_was_committed() {
    let (t, source) = two_open_records();
    let before = records(&t);
    // Six hundred new records of 2 kB each: more than the file-size limit
    // lets the database grow. SIGXFSZ is ignored, so a write past the
    // limit fails with EFBIG, as on a full disk, instead of killing.
    let many: Vec<Value> = (0..600)
        .map(|i| {
            let mut r = approval(&format!("n{i}"), "alice");
            r["pad"] = json!("x".repeat(2000));
            r
        })
        .chain([approval("a1", "alice"), approval("a2", "bob")])
        .collect();
    source.records(json!(many));
    let out = t
        .cmd(&["run-once"])
        .now("2026-01-05T09:30:00Z")
        .shell_prefix("trap '' XFSZ\nulimit -f 400")
        .run();
    assert_unusable(&out, "is the disk full or failing?");
    assert_eq!(integrity(&t), "ok");
    assert_eq!(
        records(&t),
        before,
        "the committed records are as they were"
    );

    // With room again, the next pass does the work, once.
    let out = pass(&t, "2026-01-05T10:00:00Z");
    let lines = sent(&out.assert_status(0).stdout);
    assert_eq!(
        lines.len(),
        600,
        "each new record's first attempt, and no repeat of a1 or a2"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["record"].as_str().unwrap().starts_with('n'))
    );
    assert_eq!(integrity(&t), "ok");
}

#[test]
fn a_database_another_program_holds_locked_is_exit_3_and_untouched() {
    let (t, _source) = two_open_records();
    let before = records(&t);
    let holder = rusqlite::Connection::open(t.path("followup.db")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    // The pass waits for the lock (SQLite's busy timeout, 10 s), then says why.
    let out = pass(&t, "2026-01-06T09:00:00Z");
    assert_unusable(&out, "another program holds it locked");
    assert_eq!(out.stdout, "", "nothing sent");
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_eq!(records(&t), before);
    let out = pass(&t, "2026-01-06T09:00:00Z");
    assert_eq!(
        who(&sent(&out.assert_status(0).stdout)),
        [
            ("a1".into(), 2, "alice".into()),
            ("a2".into(), 2, "bob".into())
        ]
    );
}

#[test]
fn a_damaged_database_is_exit_3_for_every_command_and_is_not_written() {
    let (t, _source) = two_open_records();
    let mut bytes = t.read_bytes("followup.db");
    assert!(bytes.len() > 3 * 4096, "several pages");
    // Garbage over every page but the first: the header still says
    // SQLite, no table parses.
    for b in &mut bytes[4096..] {
        *b = 0xde;
    }
    t.write_bytes("followup.db", &bytes);
    for args in [
        &["run-once"][..],
        &["status"],
        &["history"],
        &["explain", "approvals", "a1"],
        &["reset", "approvals"],
    ] {
        let out = t.cmd(args).now("2026-01-06T09:00:00Z").run();
        assert_unusable(&out, "it is damaged: restore it from a backup");
        assert_eq!(out.stdout, "", "`{}` sent nothing", args.join(" "));
        assert_eq!(
            t.read_bytes("followup.db"),
            bytes,
            "`{}` wrote nothing",
            args.join(" ")
        );
    }
}

#[test]
fn a_read_only_database_is_exit_3_and_untouched() {
    let (t, _source) = two_open_records();
    let db = t.path("followup.db");
    fs::set_permissions(&db, fs::Permissions::from_mode(0o400)).unwrap();
    if fs::OpenOptions::new().write(true).open(&db).is_ok() {
        eprintln!("skipped: this user (root?) writes a 0400 file anyway");
        return;
    }
    let before = t.read_bytes("followup.db");
    let out = pass(&t, "2026-01-06T09:00:00Z");
    assert_unusable(&out, "it cannot be written");
    assert_eq!(t.read_bytes("followup.db"), before);
    // Reading still works.
    t.cmd(&["status"])
        .now("2026-01-06T09:00:00Z")
        .run()
        .assert_status(0);
}
