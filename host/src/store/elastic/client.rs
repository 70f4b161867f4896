//! Requests to an Elasticsearch cluster: JSON over HTTP, the API key from the environment,
//! retried where the cluster is briefly unavailable.
//!
//! A 5xx, a 429 or a dropped connection is retried with exponential backoff, up to
//! `attempts` tries, for requests that are safe to repeat (every GET and PUT cutover sends
//! sets a value, so a repeat changes nothing more); a POST is sent once. Any other answer is
//! final and comes back as an [`EsError`] with Elasticsearch's reason. Bodies are never
//! logged: configurations hold secrets.

use crate::elastic::ElasticSettings;
use anyhow::{Result, bail};
use serde_json::Value;
use std::time::Duration;

/// A request that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum EsError {
    /// The cluster answered, and refused.
    #[error("{method} {path} answered {status}: {reason}")]
    Refused {
        method: String,
        path: String,
        status: u16,
        reason: String,
    },
    /// No usable answer after every attempt.
    #[error("{method} {path}: {detail} (after {attempts} attempt(s))")]
    Unavailable {
        method: String,
        path: String,
        detail: String,
        attempts: u32,
    },
}

impl EsError {
    pub fn status(&self) -> Option<u16> {
        match self {
            EsError::Refused { status, .. } => Some(*status),
            EsError::Unavailable { .. } => None,
        }
    }
}

/// A cluster.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    authorization: String,
    attempts: u32,
}

impl Client {
    pub fn new(settings: &ElasticSettings) -> Result<Self> {
        let Some(url) = &settings.url else {
            bail!("[elastic] has no url")
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains('@') {
            bail!(
                "[elastic] url {url:?} must be an http(s) URL without credentials in it (the API key comes from ${})",
                settings.api_key_env
            );
        }
        let key = match std::env::var(&settings.api_key_env) {
            Ok(k) if !k.trim().is_empty() => k.trim().to_owned(),
            _ => bail!(
                "[elastic] reads the cluster's API key from the environment variable {}, which is not set; export it (an encoded API key: the `encoded` field of POST /_security/api_key; it is never shown or stored)",
                settings.api_key_env
            ),
        };
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(settings.timeout_ms)))
            .http_status_as_error(false)
            .user_agent(concat!("cutover/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Self {
            agent: config.into(),
            base: url.trim_end_matches('/').to_owned(),
            authorization: format!("ApiKey {key}"),
            attempts: settings.attempts.max(1),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn get(&self, path: &str) -> Result<Value, EsError> {
        self.send("GET", path, None)
    }

    pub fn put(&self, path: &str, body: &Value) -> Result<Value, EsError> {
        self.send("PUT", path, Some(body))
    }

    pub fn put_empty(&self, path: &str) -> Result<Value, EsError> {
        self.send("PUT", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, EsError> {
        self.send("POST", path, Some(body))
    }

    /// One request, retried while the cluster is unavailable and the request may be repeated.
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, EsError> {
        let url = format!("{}{path}", self.base);
        let bytes = body.map(|b| serde_json::to_vec(b).expect("a JSON value serializes"));
        let repeatable = method != "POST";
        let mut attempt = 0;
        loop {
            attempt += 1;
            let detail = match self.attempt(method, &url, bytes.as_deref()) {
                Ok((status, json, _)) if (200..300).contains(&status) => return Ok(json),
                Ok((status, json, text)) if !matches!(status, 429 | 500..=599) => {
                    return Err(EsError::Refused {
                        method: method.into(),
                        path: path.into(),
                        status,
                        reason: reason(&json, &text),
                    });
                }
                Ok((status, json, text)) => format!("{status} {}", reason(&json, &text)),
                Err(detail) => detail,
            };
            if !repeatable || attempt >= self.attempts {
                return Err(EsError::Unavailable {
                    method: method.into(),
                    path: path.into(),
                    detail,
                    attempts: attempt,
                });
            }
            let delay = Duration::from_millis(50u64 << attempt.min(6));
            tracing::warn!(method, path, attempt, %detail, delay_ms = delay.as_millis() as u64, "the cluster is unavailable; retrying");
            std::thread::sleep(delay);
        }
    }

    /// (status, JSON body or null, raw text) of one attempt, or what went wrong on the wire.
    fn attempt(
        &self,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
    ) -> Result<(u16, Value, String), String> {
        let wire = |e: ureq::Error| match e {
            ureq::Error::Timeout(_) => "timed out".to_owned(),
            ureq::Error::ConnectionFailed => "could not connect".to_owned(),
            ureq::Error::Io(io) => format!("connection error: {io}"),
            other => other.to_string(),
        };
        let response = match (method, body) {
            ("GET", _) => self
                .agent
                .get(url)
                .header("Authorization", &self.authorization)
                .header("Accept", "application/json")
                .call(),
            ("PUT", None) => self
                .agent
                .put(url)
                .header("Authorization", &self.authorization)
                .header("Accept", "application/json")
                .send_empty(),
            ("PUT", Some(b)) => self
                .agent
                .put(url)
                .header("Authorization", &self.authorization)
                .header("Content-Type", "application/json")
                .send(b),
            (_, b) => self
                .agent
                .post(url)
                .header("Authorization", &self.authorization)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or(b"{}")),
        };
        let mut response = response.map_err(wire)?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("reading the answer: {}", wire(e)))?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok((status, json, text))
    }
}

/// Elasticsearch's reason for a refusal (`error.reason`), or the start of the text.
fn reason(json: &Value, text: &str) -> String {
    match json.pointer("/error/reason").and_then(Value::as_str) {
        Some(r) => r.to_owned(),
        None => text.chars().take(200).collect(),
    }
}
