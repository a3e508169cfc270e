//! `cargo bench --bench pass`: the pass's speed and memory, measured on the
//! built binary in temp dirs (no network; sources are local files).
//!
//! 1. an idle pass over 100 definitions with nothing due (goal ≤ 10 ms);
//! 2. a pass reconciling 100,000 records with nothing due (goal ≤ 0.6 s,
//!    ≤ 200 MB peak);
//! 3. a pass sending 5,000 due records to the `file` channel.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_followup");
const T0: i64 = 1_767_603_600; // 2026-01-05T09:00:00Z

fn main() {
    println!("followup pass benchmarks ({})", BIN);
    idle_pass();
    reconcile_100k();
    deliver_5000();
}

fn at(seconds: i64) -> String {
    // RFC 3339 without a date library: the bench offsets are whole minutes.
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Howard Hinnant's days-to-civil.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const TENANT: &str = "tenant: bench\nchannels:\n  outbox: { type: file, path: outbox.jsonl }\nusers:\n  - { id: alice, name: Alice Doe, email: alice@example.com }\n  - { id: bob, name: Bob Roe, email: bob@example.com }\n";

fn definition(id: &str, data: &str, first_poll: &str, max_records: u64) -> String {
    format!(
        "id: {id}
name: Bench {id}
polling:
  every: 30m
  first_poll: {first_poll}
  max_records: {max_records}
extraction:
  integrations:
    - file: {data}
  loop: \"$.result[*]\"
  reconciliation_id: \"$.sys_id\"
recipients:
  user: \"$.approver.value\"
message:
  channel: outbox
  text: \"Hi @{{recipient.name}}, @{{followup.data.number}} waits for your approval: @{{followup.data.short_description}}\"
schedule:
  every: 1d
  attempts: 3
"
    )
}

/// A ServiceNow-like page of `n` approval records.
fn records(n: usize) -> String {
    let mut out = String::with_capacity(n * 330);
    out.push_str("{\"result\": [");
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"sys_id\":\"{:032x}\",\"number\":\"RITM{:07}\",\"state\":\"requested\",\"approver\":{{\"value\":\"{}\",\"link\":\"https://acme.service-now.com/api/now/table/sys_user/{}\"}},\"short_description\":\"Laptop request number {i}\",\"sys_created_on\":\"2026-01-0{} 08:00:00\",\"due_date\":\"2026-02-01 00:00:00\",\"active\":\"true\"}}",
            i as u128 * 7919 + 1,
            i,
            if i % 2 == 0 { "alice" } else { "bob" },
            if i % 2 == 0 { "alice" } else { "bob" },
            1 + i % 9,
        );
    }
    out.push_str("]}");
    out
}

struct Run {
    elapsed: Duration,
    peak_kib: u64,
}

/// Runs one pass; measures wall time and peak resident memory (VmHWM,
/// sampled from /proc while the pass runs).
fn pass(dir: &Path, now: i64) -> Run {
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(["run-once", "--now", &at(now)])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("followup runs");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            let elapsed = start.elapsed();
            if !status.success() {
                let mut stderr = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .map(|mut s| s.read_to_string(&mut stderr));
                panic!("the pass failed ({status}): {stderr}");
            }
            return Run { elapsed, peak_kib };
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn setup(definitions: &[(String, String)], data: &[(String, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("followups/data")).unwrap();
    std::fs::write(dir.path().join("followups/tenant.yaml"), TENANT).unwrap();
    for (name, text) in definitions {
        std::fs::write(
            dir.path().join("followups").join(format!("{name}.yaml")),
            text,
        )
        .unwrap();
    }
    for (name, text) in data {
        std::fs::write(dir.path().join("followups/data").join(name), text).unwrap();
    }
    dir
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn report(what: &str, runs: &[Run], goal: &str) {
    let times: Vec<Duration> = runs.iter().map(|r| r.elapsed).collect();
    let min = times.iter().min().unwrap();
    let med = median(times.clone());
    let peak = runs.iter().map(|r| r.peak_kib).max().unwrap_or(0);
    println!(
        "{what}: median {:.1} ms, min {:.1} ms, peak RSS {:.1} MB over {} runs (goal: {goal})",
        med.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3,
        peak as f64 / 1024.0,
        runs.len()
    );
}

fn idle_pass() {
    let data = vec![("small.json".to_owned(), records(5))];
    let definitions: Vec<(String, String)> = (0..100)
        .map(|i| {
            let id = format!("bench-{i:03}");
            let text = definition(&id, "data/small.json", "notify", 10_000);
            (id, text)
        })
        .collect();
    let dir = setup(&definitions, &data);
    // The first pass polls and notifies everything; five minutes later
    // nothing is due: no poll (every 30m), no attempt (every 1d).
    pass(dir.path(), T0);
    let runs: Vec<Run> = (0..21).map(|_| pass(dir.path(), T0 + 300)).collect();
    report("idle pass, 100 definitions, nothing due", &runs, "≤ 10 ms");
}

fn reconcile_100k() {
    let data = vec![("big.json".to_owned(), records(100_000))];
    let definitions = vec![(
        "big".to_owned(),
        definition("big", "data/big.json", "record_only", 200_000),
    )];
    let dir = setup(&definitions, &data);
    // The first poll remembers all 100,000 (record_only); every later poll
    // reads and reconciles them all, with nothing due.
    let first = pass(dir.path(), T0);
    report(
        "first poll, 100,000 records remembered (record_only)",
        &[first],
        "-",
    );
    let runs: Vec<Run> = (1..=7).map(|k| pass(dir.path(), T0 + k * 1800)).collect();
    report(
        "pass reconciling 100,000 records, nothing due",
        &runs,
        "≤ 600 ms, ≤ 200 MB",
    );
}

fn deliver_5000() {
    let data = vec![("due.json".to_owned(), records(5000))];
    let definitions = vec![(
        "due".to_owned(),
        definition("due", "data/due.json", "notify", 10_000),
    )];
    let runs: Vec<Run> = (0..3)
        .map(|_| {
            let dir = setup(&definitions, &data);
            let run = pass(dir.path(), T0);
            let lines = std::fs::read_to_string(dir.path().join("followups/outbox.jsonl"))
                .map(|t| t.lines().count())
                .unwrap_or(0);
            assert_eq!(lines, 5000, "every due record gets its delivery");
            run
        })
        .collect();
    report(
        "pass sending 5,000 due records to the file channel",
        &runs,
        "-",
    );
}
