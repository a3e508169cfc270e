//! What every HTTP channel shares: a JSON POST with the delivery id as
//! `Idempotency-Key`, and the reading of the answer (DESIGN.md,
//! "Responses"): 2xx delivered; 429, 5xx, timeouts and connection errors
//! transient, with the service's `Retry-After`; any other status
//! permanent, with the status and the start of the service's text.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::registry::Client;
use super::settings::{CONNECT_TIMEOUT, TOTAL_TIMEOUT};
use super::{Job, Outcome};
use crate::integration::error::{Secrets, excerpt_of};
use crate::integration::http::{Incoming, Outgoing, exchange, status_line};

/// How much of a service's answer a failed delivery records.
const ANSWER_CHARS: usize = 500;

/// A JSON POST to `url`.
pub struct Post<'a> {
    pub client: &'a Client,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub delivery: &'a str,
    pub timeout: Duration,
    pub secrets: &'a Secrets,
}

impl Post<'_> {
    /// Sends the request; a transport failure is already an outcome.
    pub fn send(&self, deadline: Option<Instant>) -> Result<Incoming, Outcome> {
        let agent = self.client.agent().map_err(Outcome::permanent)?;
        let mut request = Outgoing::new("POST", self.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", self.delivery);
        for (name, value) in self.headers {
            request = request.header(name, value.as_str());
        }
        request.body = Some(self.body.to_vec());
        request.connect_timeout = CONNECT_TIMEOUT;
        request.total_timeout = self.timeout;
        // An answer is read only for its status and first words.
        request.max_response = 64 * 1024;
        exchange(agent, deadline, &request).map_err(|e| {
            let transient = e.is_transient();
            let detail = e.masked(self.secrets).to_string();
            match transient {
                true => Outcome::transient(detail),
                false => Outcome::permanent(detail),
            }
        })
    }

    /// Sends and reads the answer by its status alone.
    pub fn deliver(&self, deadline: Option<Instant>) -> Outcome {
        match self.send(deadline) {
            Ok(answer) => by_status(&answer, self.secrets),
            Err(outcome) => outcome,
        }
    }
}

impl<'a> Post<'a> {
    /// A POST of `body` with the default timeout and no extra header.
    pub fn json(
        client: &'a Client,
        url: &'a str,
        body: &'a [u8],
        delivery: &'a str,
        secrets: &'a Secrets,
    ) -> Post<'a> {
        Post {
            client,
            url,
            headers: &[],
            body,
            delivery,
            timeout: TOTAL_TIMEOUT,
            secrets,
        }
    }
}

/// A URL that takes JSON POSTs, with the agent and the secrets to mask:
/// what every HTTP channel holds.
pub struct Endpoint {
    pub url: String,
    pub client: Arc<Client>,
    pub secrets: Secrets,
}

impl Endpoint {
    /// POSTs `payload` for `job`, read by its status.
    pub fn deliver(&self, job: &Job, payload: &Value, deadline: Option<Instant>) -> Outcome {
        let bytes = body(payload);
        Post::json(
            &self.client,
            &self.url,
            &bytes,
            &job.delivery,
            &self.secrets,
        )
        .deliver(deadline)
    }
}

/// The outcome a status says.
pub fn by_status(answer: &Incoming, secrets: &Secrets) -> Outcome {
    if answer.is_success() {
        return Outcome::delivered();
    }
    let detail = failure_detail(answer, secrets);
    if answer.status == 429 || answer.status >= 500 {
        Outcome::Transient {
            detail,
            retry_after: retry_after(answer),
        }
    } else {
        Outcome::permanent(detail)
    }
}

/// `HTTP 400 Bad Request: <the start of the answer>`.
pub fn failure_detail(answer: &Incoming, secrets: &Secrets) -> String {
    let text = excerpt_of(&answer.body, secrets, ANSWER_CHARS);
    match text.is_empty() {
        true => format!("HTTP {}", status_line(answer.status)),
        false => format!("HTTP {}: {text}", status_line(answer.status)),
    }
}

/// `Retry-After` in seconds or as an HTTP date (read against the real
/// clock, never `--now`: it is the service's time).
pub fn retry_after(answer: &Incoming) -> Option<Duration> {
    let value = answer.headers_named("retry-after").next()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// A JSON body, serialized.
pub fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a payload serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Incoming {
        Incoming {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_sort_into_outcomes() {
        let none = Secrets::default();
        assert_eq!(
            by_status(&answer(202, &[], ""), &none),
            Outcome::delivered()
        );
        assert_eq!(
            by_status(&answer(429, &[("Retry-After", "2")], "slow down"), &none),
            Outcome::Transient {
                detail: "HTTP 429 Too Many Requests: slow down".into(),
                retry_after: Some(Duration::from_secs(2)),
            }
        );
        assert!(matches!(
            by_status(&answer(503, &[], ""), &none),
            Outcome::Transient {
                retry_after: None,
                ..
            }
        ));
        assert_eq!(
            by_status(&answer(400, &[], "invalid_payload"), &none),
            Outcome::permanent("HTTP 400 Bad Request: invalid_payload")
        );
    }

    #[test]
    fn retry_after_reads_an_http_date() {
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&later)
            .unwrap();
        let wait = retry_after(&answer(503, &[("Retry-After", &date)], "")).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        let past = retry_after(&answer(
            503,
            &[("Retry-After", "Thu, 01 Jan 1970 00:00:01 GMT")],
            "",
        ));
        assert_eq!(past, Some(Duration::ZERO));
        assert_eq!(
            retry_after(&answer(503, &[("Retry-After", "soon")], "")),
            None
        );
    }

    #[test]
    fn a_failure_keeps_500_characters_and_no_secret() {
        let mut secrets = Secrets::default();
        secrets.add("xoxb-secret");
        let long = format!("token xoxb-secret rejected {}", "x".repeat(900));
        let detail = failure_detail(&answer(403, &[], &long), &secrets);
        assert!(
            detail.starts_with("HTTP 403 Forbidden: token *** rejected"),
            "{detail}"
        );
        assert!(!detail.contains("xoxb-secret"));
        assert!(detail.chars().count() < 540, "{}", detail.len());
    }
}
