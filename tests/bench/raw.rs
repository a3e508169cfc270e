//! The raw limits, the scenarios' denominators: the same work done with
//! the same libraries and nothing else (no definitions, no templates, no
//! events), in this process.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

/// The same client as followup's: ureq with the same keep-alive pool.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_idle_connections(64)
        .max_idle_connections_per_host(32)
        .proxy(None)
        .build()
        .new_agent()
}

/// Fetches the table's `total` records 1,000 a page, as the follow-ups
/// do, and scans each page for its records' JSON text and `sys_id`.
pub fn fetch_and_scan(table: &str, total: usize) -> Duration {
    #[derive(serde::Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        result: Vec<&'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        sys_id: &'a str,
    }
    let agent = agent();
    let start = Instant::now();
    let (mut offset, mut ids) = (0, 0);
    loop {
        let mut response = agent
            .get(table)
            .query("sysparm_offset", offset.to_string())
            .query("sysparm_limit", "1000")
            .call()
            .expect("the table answers");
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .read_to_end(&mut body)
            .unwrap();
        let page: Page = serde_json::from_slice(&body).expect("a page");
        if page.result.is_empty() {
            break;
        }
        offset += page.result.len();
        for record in &page.result {
            let id: Id = serde_json::from_str(record.get()).expect("an ID");
            ids += usize::from(!id.sys_id.is_empty());
        }
    }
    assert_eq!(ids, total, "every record scanned");
    start.elapsed()
}

/// Sends `n` POSTs of a delivery's size to the sink from `threads`
/// threads sharing one agent (one keep-alive connection each).
pub fn send(sink: &str, n: usize, threads: usize) -> Duration {
    let agent = agent();
    let body = serde_json::json!({
        "followup": { "id": "fanout", "name": "Bench fanout" },
        "record": { "id": "00000000000000000000000000001eef", "cycle": 1, "attempt": 1, "attempts": 3 },
        "recipient": { "id": "alice", "name": "Alice Doe", "email": "alice@example.com" },
        "text": "Hi Alice Doe, RITM0000001 waits for your approval: Laptop request number 1 (revision 0)"
    })
    .to_string();
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while next.fetch_add(1, Ordering::SeqCst) < n {
                    let mut response = agent
                        .post(sink)
                        .header("Content-Type", "application/json")
                        .send(body.as_bytes())
                        .expect("the sink answers");
                    let _ = response.body_mut().read_to_vec();
                }
            });
        }
    });
    start.elapsed()
}

/// Inserts `n` rows as wide as the records table's (the ~650-byte data
/// included) into a new SQLite database in WAL mode, in one transaction
/// with one prepared statement.
pub fn insert(n: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(
        "CREATE TABLE records (
            followup TEXT NOT NULL, record_id TEXT NOT NULL, cycle INTEGER NOT NULL,
            state TEXT NOT NULL, attempts INTEGER NOT NULL, last_attempt_at INTEGER,
            opened_at INTEGER NOT NULL, changed_at INTEGER NOT NULL, absent INTEGER NOT NULL,
            hash INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (followup, record_id)
        ) WITHOUT ROWID;",
    )
    .unwrap();
    let rows: Vec<(String, String)> = (0..n)
        .map(|i| {
            (
                format!("{:032x}", i as u128 * 7919 + 1),
                super::serve::record(i, 0),
            )
        })
        .collect();
    let start = Instant::now();
    conn.execute_batch("BEGIN").unwrap();
    {
        let mut stmt = conn
            .prepare(
                "INSERT INTO records VALUES ('first-poll', ?1, 1, 'baselined', 0, NULL, ?2, ?2, 0, ?3, ?4)",
            )
            .unwrap();
        for (i, (id, data)) in rows.iter().enumerate() {
            stmt.execute(rusqlite::params![id, 1_767_603_600_i64, i as i64, data])
                .unwrap();
        }
    }
    conn.execute_batch("COMMIT").unwrap();
    start.elapsed()
}
