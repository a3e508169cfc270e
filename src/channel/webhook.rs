//! The `webhook` channel (a person channel): one JSON envelope per
//! delivery, POSTed with the configured headers — the console's line plus
//! the record's `data` (README, "The webhook envelope"). With a
//! `signing_secret`, each request is signed as Standard Webhooks say:
//! `webhook-id` (the delivery id), `webhook-timestamp` (the real time of
//! the send, never `--now`) and `webhook-signature` (`v1,` and the base64
//! HMAC-SHA256 of `id.timestamp.body`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use serde_json::Value;

use super::http::{Post, body};
use super::registry::Client;
use super::{Channel, Job, Outcome};
use crate::integration::error::Secrets;

pub struct Webhook {
    url: String,
    headers: Vec<(String, String)>,
    /// The signing key, decoded from `whsec_<base64>`.
    key: Option<Vec<u8>>,
    timeout: Duration,
    client: Arc<Client>,
    secrets: Secrets,
}

impl Webhook {
    pub fn new(
        name: &str,
        url: String,
        headers: Vec<(String, String)>,
        signing_secret: Option<String>,
        timeout: Duration,
        client: Arc<Client>,
        secrets: Secrets,
    ) -> Result<Webhook, String> {
        let key = signing_secret
            .map(|secret| {
                let encoded = secret.strip_prefix("whsec_").unwrap_or(&secret);
                STANDARD.decode(encoded).map_err(|_| {
                    format!(
                        "channel `{name}`: `signing_secret` is not `whsec_` and base64 (as Standard Webhooks secrets are)"
                    )
                })
            })
            .transpose()?;
        Ok(Webhook {
            url,
            headers,
            key,
            timeout,
            client,
            secrets,
        })
    }
}

/// The envelope: the console's line with the record's data.
pub fn envelope(job: &Job) -> Value {
    let mut value = serde_json::to_value(job).expect("a delivery serializes");
    value["data"] = job.data.clone();
    value
}

/// `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`.
pub fn signature(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

impl Channel for Webhook {
    fn payload(&self, job: &Job) -> Value {
        envelope(job)
    }

    fn deliver(&self, job: &Job, deadline: Option<Instant>) -> Outcome {
        let bytes = body(&self.payload(job));
        let mut headers = self.headers.clone();
        if let Some(key) = &self.key {
            let timestamp = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            headers.push(("webhook-id".into(), job.delivery.clone()));
            headers.push(("webhook-timestamp".into(), timestamp.to_string()));
            headers.push((
                "webhook-signature".into(),
                signature(key, &job.delivery, timestamp, &bytes),
            ));
        }
        Post {
            headers: &headers,
            timeout: self.timeout,
            ..Post::json(
                &self.client,
                &self.url,
                &bytes,
                &job.delivery,
                &self.secrets,
            )
        }
        .deliver(deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference
    /// libraries (secret, id, timestamp, payload and signature).
    #[test]
    fn signs_as_standard_webhooks_do() {
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
