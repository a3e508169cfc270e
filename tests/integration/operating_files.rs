//! The operating files shipped in `examples/` (cron, systemd, Kubernetes)
//! and the `--metrics-file` output, checked with the tools operators use:
//! `systemd-analyze verify`, `kubernetes-validate`, `promtool check
//! metrics`. `.ci/run` installs those tools; on a machine without one, its
//! test says so on stderr and checks only what it can without it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::support::pass::{DAILY_3, Source, T0, approval, definition};
use crate::support::{BIN, Test};

fn example(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The program, when it is installed; says why a check is skipped when not.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        eprintln!("skipped: `{name}` is not installed (.ci/run installs it)");
    }
    found
}

/// Runs a shipped command line's followup arguments in a test dir, its
/// absolute paths moved there: the flags it uses must exist and work.
fn run_shipped_args(args: &[String]) {
    let t = Test::new();
    t.write(
        "followups/tenant.yaml",
        "tenant: t\nchannels: { console: { type: console } }\n",
    );
    let moved: Vec<String> = args
        .iter()
        .map(|a| {
            a.replace(
                "/srv/followups/followups",
                t.path("followups").to_str().unwrap(),
            )
            .replace(
                "/etc/followup/followups",
                t.path("followups").to_str().unwrap(),
            )
            .replace("/var/lib/followup", t.dir().to_str().unwrap())
        })
        .collect();
    let refs: Vec<&str> = moved.iter().map(String::as_str).collect();
    let out = t.cmd(&refs).run();
    out.assert_status(0).assert_stdout("").assert_stderr("");
    assert!(
        t.exists("followup.db"),
        "{moved:?} wrote its database where it says"
    );
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let service = example("systemd/followup.service");
    let timer = example("systemd/followup.timer");
    for needle in [
        "Type=oneshot",
        "DynamicUser=yes",
        "StateDirectory=followup",
        "--db /var/lib/followup/followup.db",
        "SuccessExitStatus=75",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
    ] {
        assert!(service.contains(needle), "followup.service lacks {needle}");
    }
    assert!(timer.contains("OnCalendar=*:0/5"));
    let exec = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/usr/local/bin/followup "))
        .expect("an ExecStart");
    run_shipped_args(
        &exec
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>(),
    );

    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    // verify checks that ExecStart's program exists: the one just built
    // stands in for /usr/local/bin/followup. The man page is installed
    // separately (`followup man`), so it is not looked for.
    let t = Test::new();
    t.write(
        "units/followup.service",
        &service.replace("/usr/local/bin/followup", BIN),
    );
    t.write("units/followup.timer", &timer);
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(t.path("units/followup.service"))
        .arg(t.path("units/followup.timer"))
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    assert!(
        !stderr.contains("followup.service") && !stderr.contains("followup.timer"),
        "systemd-analyze complains:\n{stderr}"
    );
}

#[test]
fn the_kubernetes_cronjob_passes_a_schema_validator() {
    let yaml = example("kubernetes/cronjob.yaml");
    for needle in [
        "kind: CronJob",
        "concurrencyPolicy: Forbid",
        "kind: PersistentVolumeClaim",
        "claimName: followup-state",
        "secretRef:",
        "- /var/lib/followup/followup.db",
    ] {
        assert!(yaml.contains(needle), "cronjob.yaml lacks {needle}");
    }
    // The container's arguments, as followup would get them.
    let args: Vec<String> = yaml
        .split("args:\n")
        .nth(1)
        .unwrap()
        .lines()
        .map_while(|l| l.trim().strip_prefix("- "))
        .map(str::to_owned)
        .collect();
    assert_eq!(args[0], "run-once");
    // With -q, an idle pass prints nothing, JSON logs or not.
    run_shipped_args(&args);

    let Some(validator) = tool("kubernetes-validate") else {
        return;
    };
    let t = Test::new();
    let check = |text: &str| {
        t.write("cronjob.yaml", text);
        Command::new(&validator)
            .args(["--strict", "--quiet"])
            .arg(t.path("cronjob.yaml"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("run kubernetes-validate")
    };
    let out = check(&yaml);
    assert!(
        out.status.success(),
        "kubernetes-validate failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The validator does check: a misspelt key and a value of the wrong
    // type fail.
    for (good, bad) in [
        ("concurrencyPolicy: Forbid", "concurencyPolicy: Forbid"),
        (
            "startingDeadlineSeconds: 120",
            "startingDeadlineSeconds: soon",
        ),
    ] {
        let broken = yaml.replace(good, bad);
        assert!(
            !check(&broken).status.success(),
            "the validator accepts `{bad}`"
        );
    }
}

#[test]
fn the_crontab_line_runs_quietly_with_an_absolute_database() {
    let cron = example("cron/followup.cron");
    let line = cron
        .lines()
        .find(|l| l.starts_with("*/5 "))
        .expect("a crontab line");
    assert_eq!(
        line.split_whitespace().take(5).collect::<Vec<_>>(),
        ["*/5", "*", "*", "*", "*"]
    );
    assert!(!line.contains('%'), "cron turns % into a newline");
    let command = line.split("/usr/local/bin/followup ").nth(1).unwrap();
    assert!(command.contains(" -q") && command.contains("--db /var/lib/followup/followup.db"));
    assert!(cron.contains("75"), "exit 75 is explained");
    run_shipped_args(
        &command
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>(),
    );
}

/// The crontab line's shell part, run by `sh` as cron does, with the
/// secrets file's path moved to a test dir and `env` standing in for
/// followup: a `NAME=value` line of the file must reach followup's
/// environment, where `@{env.NAME}` reads it (a bare `.` only sets shell
/// variables).
#[test]
fn the_crontab_line_exports_the_secrets_file_to_followup() {
    let cron = example("cron/followup.cron");
    let line = cron.lines().find(|l| l.starts_with("*/5 ")).unwrap();
    let shell = line.splitn(6, char::is_whitespace).nth(5).unwrap().trim();
    let shell = shell.split("/usr/local/bin/followup ").next().unwrap();
    let t = Test::new();
    t.write("secrets.env", "SLACK_WEBHOOK_URL=https://hooks.example/x\n");
    let shell = shell
        .replace("cd /srv/followups", &format!("cd {}", t.dir().display()))
        .replace(
            "/etc/followup/secrets.env",
            t.path("secrets.env").to_str().unwrap(),
        );
    let out = Command::new("sh")
        .args(["-c", &format!("{shell}env")])
        .env_remove("SLACK_WEBHOOK_URL")
        .output()
        .expect("run sh");
    let env = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        env.lines()
            .any(|l| l == "SLACK_WEBHOOK_URL=https://hooks.example/x"),
        "the secrets file does not reach followup's environment: {shell}"
    );
}

#[test]
fn the_metrics_file_passes_promtool_check_metrics() {
    let source = Source::new(json!([approval("a1", "alice"), approval("a2", "nobody")]));
    let t = Test::new();
    t.write(
        "followups/tenant.yaml",
        "tenant: t\nchannels: { console: { type: console } }\nusers: [ { id: alice, name: Alice } ]\n",
    );
    t.write(
        "followups/approvals.yaml",
        &definition(&source.url(), DAILY_3, ""),
    );
    t.cmd(&["run-once", "--metrics-file", "followup.prom"])
        .now(T0)
        .run()
        .assert_status(0);
    let metrics = t.read("followup.prom");
    assert!(
        metrics.contains("followup_deliveries{followup=\"approvals\",outcome=\"delivered\"} 1")
    );
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let out = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(fs::File::open(t.path("followup.prom")).unwrap())
        .output()
        .expect("run promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
