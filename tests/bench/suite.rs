//! `cargo bench --bench suite` (or `scripts/bench`): the pass's speed and
//! memory on the built binary, each scenario against its raw limit, as one
//! table. Everything is generated here and served from 127.0.0.1: a
//! ServiceNow-shaped table with offset pagination and a webhook sink
//! (`serve`), the follow-ups and tenants (`definitions`), and the raw
//! limits, the same work with the same libraries and nothing else (`raw`).
//!
//! Each scenario runs `RUNS` times (default 3) in a fresh process; the
//! table shows the medians: wall time, CPU time (user + system, from the
//! kernel's accounting of the waited-for child, in 10 ms ticks) and peak
//! resident memory (VmHWM, sampled from /proc while the child runs).
//! Arguments select scenarios by a word of their name (`scripts/bench
//! fan-out`). Nothing fails on speed, only on a pass that did not do the
//! work (a wrong count would time the wrong thing).
//!
//! Whole-process scenarios that take up to seconds each are not what
//! criterion measures (it repeats a closure in-process until its
//! statistics settle), hence `harness = false` (BENCHMARKS.md).

mod definitions;
mod raw;
mod serve;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use definitions::{approvals, pass_tenant, write_definitions};
use serve::Server;

const BIN: &str = env!("CARGO_BIN_EXE_followup");
/// 2026-01-05T09:00:00Z, a Monday.
const T0: i64 = 1_767_603_600;
const RECORDS: usize = 100_000;
const FANOUT: usize = 5_000;

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mut bench = Bench {
        runs,
        words,
        rows: Vec::new(),
        server: Server::start(RECORDS),
        floor: None,
    };
    eprintln!(
        "followup bench suite: {BIN}, {runs} runs per scenario, {} threads available",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    bench.idle();
    bench.records();
    bench.first_poll_notify();
    bench.fanout();
    bench.validate();
    bench.print();
}

struct Bench {
    runs: usize,
    words: Vec<String>,
    rows: Vec<Row>,
    server: Server,
    /// `followup --version`: the floor a process start sets.
    floor: Option<Duration>,
}

struct Row {
    scenario: String,
    run: Measured,
    raw: Option<(Duration, &'static str)>,
    target: Target,
}

/// A scenario's goal from the issue.
#[derive(Clone, Copy)]
enum Target {
    None,
    Wall(Duration),
    WallMemory(Duration, u64),
    TimesRaw(f64),
    TimesRawAndWall(f64, Duration),
}

#[derive(Clone, Copy, Default)]
struct Measured {
    wall: Duration,
    cpu: Duration,
    peak_kib: u64,
}

impl Bench {
    fn wants(&self, name: &str) -> bool {
        self.words.is_empty() || self.words.iter().any(|w| name.contains(w.as_str()))
    }

    fn floor(&mut self) -> Duration {
        if self.floor.is_none() {
            let dir = tempfile::tempdir().unwrap();
            let runs: Vec<Measured> = (0..20)
                .map(|_| followup(dir.path(), &["--version"]))
                .collect();
            self.floor = Some(median(&runs).wall);
        }
        self.floor.unwrap()
    }

    fn raw(&self, f: impl Fn() -> Duration) -> Duration {
        let mut times: Vec<Duration> = (0..self.runs).map(|_| f()).collect();
        times.sort();
        times[times.len() / 2]
    }

    fn row(
        &mut self,
        scenario: &str,
        runs: &[Measured],
        raw: Option<(Duration, &'static str)>,
        target: Target,
    ) {
        let row = Row {
            scenario: scenario.to_owned(),
            run: median(runs),
            raw,
            target,
        };
        eprintln!("{}", row.line());
        self.rows.push(row);
    }

    /// 100 definitions, nothing due: no poll (every 30m), no attempt
    /// (every 1d) five minutes after the pass that polled and notified.
    fn idle(&mut self) {
        let name = "idle pass, 100 definitions, nothing due";
        if !self.wants(name) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        pass_tenant(dir.path(), &self.server.sink());
        let table = self.server.table(5);
        let definitions: Vec<(String, String)> = (0..100)
            .map(|i| {
                let id = format!("bench-{i:03}");
                let text = approvals(&id, &table, "notify", "outbox");
                (id, text)
            })
            .collect();
        write_definitions(dir.path(), &definitions);
        pass(dir.path(), T0, &[]);
        assert_eq!(outbox_lines(dir.path()), 500, "every record notified once");
        // One warm-up, as cron's later runs find the files cached.
        pass(dir.path(), T0 + 300, &[]);
        let runs: Vec<Measured> = (0..self.runs.max(11))
            .map(|_| pass(dir.path(), T0 + 300, &[]))
            .collect();
        let floor = self.floor();
        self.row(
            name,
            &runs,
            Some((floor, "process start")),
            Target::Wall(ms(10)),
        );
    }

    /// The first poll of 100,000 records (`record_only`), then passes
    /// reconciling them unchanged, then with a tenth changed each pass.
    fn records(&mut self) {
        let names = [
            "first poll, 100k records, record_only",
            "reconcile 100k, unchanged, nothing due",
            "reconcile 100k, 10% changed, nothing due",
        ];
        if !names.iter().any(|n| self.wants(n)) {
            return;
        }
        let table = self.server.table(RECORDS);
        let fetch = self.raw(|| raw::fetch_and_scan(&table, RECORDS));
        let insert = self.raw(|| raw::insert(RECORDS));
        let setup = || {
            let dir = tempfile::tempdir().unwrap();
            pass_tenant(dir.path(), &self.server.sink());
            let text = approvals("big", &table, "record_only", "outbox");
            write_definitions(dir.path(), &[("big".to_owned(), text)]);
            dir
        };
        let mut dirs = Vec::new();
        let mut first = Vec::new();
        for _ in 0..self.runs {
            let dir = setup();
            first.push(pass(dir.path(), T0, &[]));
            dirs.push(dir);
        }
        let dir = dirs.pop().unwrap();
        assert_eq!(baselined(dir.path()), RECORDS, "every record remembered");
        self.row(
            names[0],
            &first,
            Some((fetch + insert, "fetch+scan, insert")),
            Target::Wall(ms(1500)),
        );
        let mut at = T0;
        let mut passes = |server: Option<&Server>| -> Vec<Measured> {
            (0..self.runs)
                .map(|_| {
                    at += 1800;
                    if let Some(server) = server {
                        server.change_tenth();
                    }
                    pass(dir.path(), at, &[])
                })
                .collect()
        };
        let unchanged = passes(None);
        let changed = passes(Some(&self.server));
        assert_eq!(outbox_lines(dir.path()), 0, "nothing notified");
        self.row(
            names[1],
            &unchanged,
            Some((fetch, "fetch+scan")),
            Target::WallMemory(ms(600), 200 * 1024),
        );
        self.row(
            names[2],
            &changed,
            Some((fetch, "fetch+scan")),
            Target::None,
        );
    }

    /// The first poll of 100,000 records with `notify`, to the file channel.
    fn first_poll_notify(&mut self) {
        let name = "first poll, 100k records, notify to file";
        if !self.wants(name) {
            return;
        }
        let table = self.server.table(RECORDS);
        let fetch = self.raw(|| raw::fetch_and_scan(&table, RECORDS));
        let insert = self.raw(|| raw::insert(RECORDS));
        let runs: Vec<Measured> = (0..self.runs)
            .map(|_| {
                let dir = tempfile::tempdir().unwrap();
                pass_tenant(dir.path(), &self.server.sink());
                let text = approvals("notify", &table, "notify", "outbox");
                write_definitions(dir.path(), &[("notify".to_owned(), text)]);
                let run = pass(dir.path(), T0, &[]);
                assert_eq!(outbox_lines(dir.path()), RECORDS, "every record notified");
                run
            })
            .collect();
        self.row(
            name,
            &runs,
            Some((fetch + insert, "fetch+scan, insert")),
            Target::None,
        );
    }

    /// 5,000 records due, one webhook delivery each, to the sink.
    fn fanout(&mut self) {
        for concurrency in [1, 4, 8] {
            let name = format!("fan-out, 5,000 webhooks, --concurrency {concurrency}");
            if !self.wants(&name) {
                continue;
            }
            let sink = self.server.sink();
            let raw = self.raw(|| raw::send(&sink, FANOUT, concurrency));
            let table = self.server.table(FANOUT);
            let c = concurrency.to_string();
            let runs: Vec<Measured> = (0..self.runs)
                .map(|_| {
                    let dir = tempfile::tempdir().unwrap();
                    pass_tenant(dir.path(), &sink);
                    let text = approvals("fanout", &table, "notify", "hook");
                    write_definitions(dir.path(), &[("fanout".to_owned(), text)]);
                    self.server.take_hooks();
                    let run = pass(dir.path(), T0, &["--concurrency", &c]);
                    assert_eq!(self.server.take_hooks(), FANOUT, "every delivery sent");
                    run
                })
                .collect();
            let target = match concurrency {
                8 => Target::TimesRawAndWall(3.0, ms(600)),
                _ => Target::TimesRaw(3.0),
            };
            let what = match concurrency {
                1 => "send, 1 thread",
                4 => "send, 4 threads",
                _ => "send, 8 threads",
            };
            self.row(&name, &runs, Some((raw, what)), target);
        }
    }

    /// `validate` of 1,000 realistic definitions, and of one, each in a
    /// fresh process beside a tenant of 400 users.
    fn validate(&mut self) {
        let names = ["validate 1,000 definitions", "validate 1 definition"];
        if !names.iter().any(|n| self.wants(n)) {
            return;
        }
        let floor = self.floor();
        for (name, count, target) in [
            (names[0], 1000, Target::Wall(ms(200))),
            (names[1], 1, Target::None),
        ] {
            let dir = tempfile::tempdir().unwrap();
            definitions::validate_tenant(dir.path(), definitions::USERS, definitions::GROUPS);
            let defs: Vec<(String, String)> = (0..count).map(definitions::realistic).collect();
            write_definitions(dir.path(), &defs);
            followup(dir.path(), &["validate"]);
            let runs: Vec<Measured> = (0..self.runs.max(11))
                .map(|_| followup(dir.path(), &["validate"]))
                .collect();
            self.row(name, &runs, Some((floor, "process start")), target);
        }
    }

    fn print(&self) {
        println!(
            "\n{:<44} {:>9} {:>9} {:>9} {:>9} {:<19} {:>7}  target",
            "scenario", "wall", "CPU", "peak RSS", "raw", "(raw limit)", "ratio"
        );
        for row in &self.rows {
            println!("{}", row.line());
        }
        println!(
            "\nmedians of {} runs (idle and validate: of at least 11); ratio = wall / raw limit",
            self.runs
        );
    }
}

impl Row {
    fn line(&self) -> String {
        let (raw, what, ratio) = match self.raw {
            Some((raw, what)) => (
                secs(raw),
                what,
                format!("{:.1}×", self.run.wall.as_secs_f64() / raw.as_secs_f64()),
            ),
            None => ("-".into(), "", "-".into()),
        };
        format!(
            "{:<44} {:>9} {:>9} {:>6} MB {:>9} {:<19} {:>7}  {}",
            self.scenario,
            secs(self.run.wall),
            secs(self.run.cpu),
            self.run.peak_kib / 1024,
            raw,
            what,
            ratio,
            self.verdict()
        )
    }

    fn verdict(&self) -> String {
        let wall = self.run.wall;
        let met = |ok: bool| if ok { "met" } else { "MISSED" };
        let ratio = self
            .raw
            .map_or(f64::NAN, |(raw, _)| wall.as_secs_f64() / raw.as_secs_f64());
        match self.target {
            Target::None => "-".into(),
            Target::Wall(goal) => format!("≤ {}: {}", secs(goal), met(wall <= goal)),
            Target::WallMemory(goal, kib) => format!(
                "≤ {}, ≤ {} MB: {}",
                secs(goal),
                kib / 1024,
                met(wall <= goal && self.run.peak_kib <= kib)
            ),
            Target::TimesRaw(times) => format!("≤ {times}× raw: {}", met(ratio <= times)),
            Target::TimesRawAndWall(times, goal) => format!(
                "≤ {times}× raw, ≤ {}: {}",
                secs(goal),
                met(ratio <= times && wall <= goal)
            ),
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(d: Duration) -> String {
    match d.as_secs_f64() {
        s if s < 1.0 => format!("{:.1} ms", s * 1000.0),
        s => format!("{s:.2} s"),
    }
}

/// The run of median wall time, with the medians of CPU and memory.
fn median(runs: &[Measured]) -> Measured {
    let mid = |mut v: Vec<u64>| {
        v.sort();
        v[v.len() / 2]
    };
    Measured {
        wall: Duration::from_nanos(mid(runs.iter().map(|r| r.wall.as_nanos() as u64).collect())),
        cpu: Duration::from_nanos(mid(runs.iter().map(|r| r.cpu.as_nanos() as u64).collect())),
        peak_kib: mid(runs.iter().map(|r| r.peak_kib).collect()),
    }
}

/// `followup run-once` at `now` in `dir`.
fn pass(dir: &Path, now: i64, extra: &[&str]) -> Measured {
    let now = jiff::Timestamp::from_second(now).unwrap().to_string();
    let mut args = vec!["run-once", "--now", now.as_str()];
    args.extend_from_slice(extra);
    followup(dir, &args)
}

/// Runs followup to its end: its wall time, CPU time and peak memory.
fn followup(dir: &Path, args: &[&str]) -> Measured {
    let cpu_before = children_cpu();
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
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
        // VmHWM is a high-water mark: the last reading before the exit
        // holds the peak (it is gone once the child has exited).
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            let wall = start.elapsed();
            let cpu = children_cpu() - cpu_before;
            if !status.success() {
                let mut stderr = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .map(|mut s| s.read_to_string(&mut stderr));
                panic!(
                    "followup {args:?} failed ({status}) in {}: {stderr}",
                    dir.display()
                );
            }
            return Measured {
                wall,
                cpu,
                peak_kib,
            };
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// The CPU time of this process's waited-for children (cutime + cstime of
/// /proc/self/stat, in the kernel's 100 Hz ticks).
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // cutime and cstime are fields 16 and 17 (1-based); the state is 3.
    let ticks: u64 = fields[13].parse::<u64>().unwrap() + fields[14].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn outbox_lines(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("followups/outbox.jsonl")).map_or(0, |t| t.lines().count())
}

/// Records the store holds as baselined.
fn baselined(dir: &Path) -> usize {
    let conn = rusqlite::Connection::open(dir.join("followup.db")).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM records WHERE state = 'baselined'",
        [],
        |row| row.get::<_, i64>(0),
    )
    .unwrap() as usize
}
