//! A source that misbehaves on purpose: each [`Fault`] is one way a real
//! ITSM or CRM API (or the proxy in front of it) has been seen to fail.
//! A test opens records with a healthy answer, turns a fault on, and checks
//! that the pass ends within its budget, records the failure, and neither
//! resolves nor notifies anyone because of it.

use std::time::Duration;

use serde_json::{Value, json};

use super::server::Reply;

/// One misbehaviour of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 with an HTML error page.
    ServerError,
    /// 429 with `Retry-After: 1`, every time.
    TooManyRequests,
    /// A 200 that announces a body and closes the connection halfway.
    ResetMidBody,
    /// No answer for longer than the request's timeout.
    Hang,
    /// A 200 of 50 MB, beyond `max_response` (16 MiB).
    HugeBody,
    /// A 200 whose body is not UTF-8.
    InvalidUtf8,
    /// A 200 without the loop element (`result` missing).
    MissingLoop,
    /// A 200 whose loop element is not an array (`result: "none"`).
    MistypedLoop,
    /// A 200 that lists one ID twice.
    DuplicateIds,
    /// A 200 with every open record's ID as a number instead of a string.
    NumericIds,
    /// A 200 with an empty body while records are open.
    EmptyBody,
}

impl Fault {
    pub const ALL: [Fault; 11] = [
        Fault::ServerError,
        Fault::TooManyRequests,
        Fault::ResetMidBody,
        Fault::Hang,
        Fault::HugeBody,
        Fault::InvalidUtf8,
        Fault::MissingLoop,
        Fault::MistypedLoop,
        Fault::DuplicateIds,
        Fault::NumericIds,
        Fault::EmptyBody,
    ];

    /// What the source answers while this fault is on; `healthy` is the
    /// answer it gave before (`{"result": [...]}`).
    pub fn reply(self, healthy: &Value) -> Reply {
        match self {
            Fault::ServerError => Reply::text(
                500,
                "<html><body><h1>500 Internal Server Error</h1></body></html>",
            )
            .header("Content-Type", "text/html"),
            Fault::TooManyRequests => Reply::text(429, "slow down").header("Retry-After", "1"),
            Fault::ResetMidBody => {
                let body = healthy.to_string().into_bytes();
                let half = body[..body.len() / 2].to_vec();
                Reply::bytes(200, half)
                    .header("Content-Type", "application/json")
                    .announce(body.len() as u64)
            }
            Fault::Hang => Reply::json(200, healthy.clone()).delay(Duration::from_secs(30)),
            Fault::HugeBody => {
                let mut body = b"{\"result\": [], \"pad\": \"".to_vec();
                body.resize(50 * 1024 * 1024, b'x');
                body.extend_from_slice(b"\"}");
                Reply::bytes(200, body).header("Content-Type", "application/json")
            }
            Fault::InvalidUtf8 => Reply::bytes(200, b"{\"result\": [\"\xff\xfe\"]}".to_vec())
                .header("Content-Type", "application/json"),
            Fault::MissingLoop => Reply::json(200, json!({"error": {"message": "no result"}})),
            Fault::MistypedLoop => Reply::json(200, json!({"result": "none"})),
            Fault::DuplicateIds => {
                let mut records = healthy["result"].as_array().cloned().unwrap_or_default();
                records.extend(records.clone());
                Reply::json(200, json!({ "result": records }))
            }
            Fault::NumericIds => {
                let records: Vec<Value> = healthy["result"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|mut r| {
                        let id = r["sys_id"].as_str().unwrap_or_default().to_owned();
                        r["sys_id"] = json!(id.parse::<i64>().expect("numeric test IDs"));
                        r
                    })
                    .collect();
                Reply::json(200, json!({ "result": records }))
            }
            Fault::EmptyBody => {
                Reply::bytes(200, Vec::new()).header("Content-Type", "application/json")
            }
        }
    }
}
