//! Calls to the Configuration API: `POST {base}/v1/<family>/<method>` with a JSON body,
//! retried with backoff where a retry is safe and useful.
//!
//! A live service fails in passing: a 5xx, a timeout, a connection dropped by a restarting
//! pod. Those are retried (up to `retries` attempts, with exponential backoff and jitter); a
//! `423` (a state write while a sync runs) is retried until `sync_wait_ms` has passed; any
//! other answer is final and comes back as an [`ApiError`] naming the endpoint and the
//! server's message. Every write cutover sends through [`Client::call`] is safe to repeat
//! (the writer makes them so), which is what lets a request whose answer was lost be sent
//! again. A call that starts a job is not: each one starts another (a clear clears again),
//! so [`Client::call_once`] sends it once, and the writer asks the server's jobs whether a
//! request whose answer was lost landed before it sends it again.
//!
//! The credentials are read from the environment at the first request, not before: what
//! reads only the ledger or the plugins (`history`, `plugin list`) needs no token.
//!
//! Request and response bodies are never logged: they hold configs, and configs hold secrets.

use super::settings::AirbyteSettings;
use anyhow::Result;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered, and refused.
    #[error("{endpoint} answered {status}: {message}")]
    Refused {
        endpoint: String,
        status: u16,
        message: String,
    },
    /// No usable answer after every attempt.
    #[error("{endpoint}: {detail} (after {attempts} attempt(s))")]
    Unavailable {
        endpoint: String,
        detail: String,
        attempts: u32,
    },
    /// The credentials the settings name cannot be read; nothing was sent.
    #[error("{0}")]
    Credentials(String),
}

impl ApiError {
    /// The status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Refused { status, .. } => Some(*status),
            ApiError::Unavailable { .. } | ApiError::Credentials(_) => None,
        }
    }
}

/// The API of one deployment.
pub struct Client {
    inner: std::sync::Arc<Inner>,
    /// Threads that send the other requests of [`Client::call_all`].
    pool: Pool,
}

struct Inner {
    agent: ureq::Agent,
    base: String,
    settings: AirbyteSettings,
    /// The `Authorization` header, read from the environment at the first request.
    authorization: std::sync::OnceLock<Result<Option<String>, String>>,
    retries: u32,
    backoff: Duration,
    sync_wait: Duration,
    requests: AtomicU64,
}

/// What one attempt gave.
enum Attempt {
    Done(Option<Value>),
    Retry(String),
    Final(ApiError),
}

/// A request for a pool thread, and where its answer goes.
type Job = (
    String,
    Value,
    std::sync::mpsc::Sender<Result<Option<Value>, ApiError>>,
);

/// Long-lived threads sending requests side by side: a thread per request would cost more
/// than the request.
struct Pool {
    jobs: std::sync::Mutex<Option<std::sync::mpsc::Sender<Job>>>,
}

impl Pool {
    fn new(inner: &std::sync::Arc<Inner>, threads: usize) -> Self {
        let (send, receive) = std::sync::mpsc::channel::<Job>();
        let receive = std::sync::Arc::new(std::sync::Mutex::new(receive));
        for _ in 0..threads {
            let (inner, receive) = (inner.clone(), receive.clone());
            let spawned = std::thread::Builder::new()
                .name("airbyte-request".into())
                .stack_size(256 * 1024)
                .spawn(move || {
                    loop {
                        let job = receive.lock().map(|r| r.recv());
                        let Ok(Ok((endpoint, body, answer))) = job else {
                            break;
                        };
                        let _ = answer.send(inner.call(&endpoint, &body));
                    }
                });
            if spawned.is_err() {
                break;
            }
        }
        Self {
            jobs: std::sync::Mutex::new(Some(send)),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the queue ends the threads.
        self.jobs.lock().map(|mut j| j.take()).ok();
    }
}

impl Client {
    pub fn new(settings: &AirbyteSettings) -> Result<Self> {
        settings.check()?;
        // Per-phase timeouts rather than one for the whole call: ureq resolves the host on a
        // thread of its own whenever a whole-call timeout is set.
        let timeout = Some(Duration::from_millis(settings.timeout_ms));
        let config = ureq::Agent::config_builder()
            .timeout_connect(timeout)
            .timeout_send_request(timeout)
            .timeout_send_body(timeout)
            .timeout_recv_response(timeout)
            .timeout_recv_body(timeout)
            .http_status_as_error(false)
            .max_idle_connections(settings.concurrency * 4 + 8)
            .max_idle_connections_per_host(settings.concurrency * 4 + 8)
            .user_agent(concat!("cutover/", env!("CARGO_PKG_VERSION")))
            .build();
        let inner = std::sync::Arc::new(Inner {
            agent: config.into(),
            base: settings.url.trim_end_matches('/').to_owned(),
            settings: settings.clone(),
            authorization: std::sync::OnceLock::new(),
            retries: settings.retries,
            backoff: Duration::from_millis(settings.backoff_ms),
            sync_wait: Duration::from_millis(settings.sync_wait_ms),
            requests: AtomicU64::new(0),
        });
        let pool = Pool::new(&inner, settings.concurrency * 3 + 2);
        Ok(Self { inner, pool })
    }

    /// Calls every endpoint at once; one answer per call, in order.
    pub fn call_all(&self, calls: &[(&str, &Value)]) -> Vec<Result<Option<Value>, ApiError>> {
        let Some((first, rest)) = calls.split_first() else {
            return Vec::new();
        };
        let queued: Vec<_> = rest
            .iter()
            .map(|(endpoint, body)| {
                let (send, receive) = std::sync::mpsc::channel();
                let sent = self.pool.jobs.lock().ok().and_then(|jobs| {
                    jobs.as_ref()
                        .map(|j| j.send((endpoint.to_string(), (*body).clone(), send)))
                });
                match sent {
                    Some(Ok(())) => Ok(receive),
                    _ => Err((*endpoint, *body)),
                }
            })
            .collect();
        let mut answers = vec![self.call(first.0, first.1)];
        for q in queued {
            answers.push(match q {
                Ok(receive) => receive.recv().unwrap_or_else(|_| {
                    Err(ApiError::Unavailable {
                        endpoint: "?".into(),
                        detail: "a request thread ended".into(),
                        attempts: 0,
                    })
                }),
                Err((endpoint, body)) => self.call(endpoint, body),
            });
        }
        answers
    }

    /// The base URL, for messages (it holds no credentials: those are headers).
    pub fn base(&self) -> &str {
        &self.inner.base
    }

    /// How many requests were sent (attempts included).
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Calls `endpoint` (`sources/get`) with `body`; the answer's JSON, or `None` for an
    /// answer without a body.
    pub fn call(&self, endpoint: &str, body: &Value) -> Result<Option<Value>, ApiError> {
        self.inner.call(endpoint, body)
    }

    /// Sends `endpoint` once, whatever happens: for a call that is not safe to repeat. Only a
    /// refusal (4xx) says the server did nothing; any other failure may have landed.
    pub fn call_once(&self, endpoint: &str, body: &Value) -> Result<Option<Value>, ApiError> {
        let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
        let url = format!("{}/v1/{endpoint}", self.inner.base);
        match self.inner.attempt(endpoint, "POST", &url, Some(&bytes)) {
            Attempt::Done(answer) => Ok(answer),
            Attempt::Final(e) => Err(e),
            Attempt::Retry(detail) => Err(ApiError::Unavailable {
                endpoint: endpoint.to_owned(),
                detail,
                attempts: 1,
            }),
        }
    }

    /// `GET {base}/public/v1/<path>` of the public API (`workspaces?limit=100&offset=0`),
    /// retried as [`Client::call`] retries.
    pub fn get_public(&self, path: &str) -> Result<Option<Value>, ApiError> {
        let url = format!("{}/public/v1/{path}", self.inner.base);
        let endpoint = format!("public/v1/{}", path.split('?').next().unwrap_or(path));
        self.inner.retried(&endpoint, || {
            self.inner.attempt(&endpoint, "GET", &url, None)
        })
    }
}

impl Inner {
    fn call(&self, endpoint: &str, body: &Value) -> Result<Option<Value>, ApiError> {
        let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
        let url = format!("{}/v1/{endpoint}", self.base);
        self.retried(endpoint, || {
            self.attempt(endpoint, "POST", &url, Some(&bytes))
        })
    }

    /// Makes attempts until one is done or final, or the attempts (or the wait for a sync)
    /// run out.
    fn retried(
        &self,
        endpoint: &str,
        attempt_once: impl Fn() -> Attempt,
    ) -> Result<Option<Value>, ApiError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let detail = match attempt_once() {
                Attempt::Done(answer) => {
                    tracing::debug!(
                        endpoint,
                        attempt,
                        ms = started.elapsed().as_millis() as u64,
                        "called"
                    );
                    return Ok(answer);
                }
                Attempt::Final(e) => return Err(e),
                Attempt::Retry(detail) => detail,
            };
            let locked = detail.starts_with("423");
            let out_of_attempts = if locked {
                started.elapsed() >= self.sync_wait
            } else {
                attempt >= self.retries
            };
            if out_of_attempts {
                return Err(ApiError::Unavailable {
                    endpoint: endpoint.to_owned(),
                    detail,
                    attempts: attempt,
                });
            }
            let delay = self.delay(attempt);
            tracing::warn!(endpoint, attempt, %detail, delay_ms = delay.as_millis() as u64, "retrying");
            std::thread::sleep(delay);
        }
    }

    /// The `Authorization` header, read once.
    fn authorization(&self) -> Result<Option<&str>, ApiError> {
        match self
            .authorization
            .get_or_init(|| self.settings.authorization().map_err(|e| format!("{e:#}")))
        {
            Ok(header) => Ok(header.as_deref()),
            Err(why) => Err(ApiError::Credentials(why.clone())),
        }
    }

    fn attempt(&self, endpoint: &str, method: &str, url: &str, body: Option<&[u8]>) -> Attempt {
        let authorization = match self.authorization() {
            Ok(a) => a,
            Err(e) => return Attempt::Final(e),
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let sent = match (method, body) {
            ("GET", _) | (_, None) => {
                let mut request = self.agent.get(url).header("Accept", "application/json");
                if let Some(auth) = authorization {
                    request = request.header("Authorization", auth);
                }
                request.call()
            }
            (_, Some(body)) => {
                let mut request = self
                    .agent
                    .post(url)
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json");
                if let Some(auth) = authorization {
                    request = request.header("Authorization", auth);
                }
                request.send(body)
            }
        };
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(transport(&e)),
        };
        let status = response.status().as_u16();
        let text = match response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
        {
            Ok(t) => t,
            Err(e) => return Attempt::Retry(format!("reading the answer: {}", transport(&e))),
        };
        let json = if text.is_empty() {
            None
        } else {
            serde_json::from_slice::<Value>(&text).ok()
        };
        match status {
            200..=299 => match (text.is_empty(), json) {
                (true, _) => Attempt::Done(None),
                (false, Some(v)) => Attempt::Done(Some(v)),
                (false, None) => Attempt::Final(ApiError::Refused {
                    endpoint: endpoint.to_owned(),
                    status,
                    message: "the answer is not JSON".into(),
                }),
            },
            423 | 429 | 500 | 502 | 503 | 504 => {
                Attempt::Retry(format!("{status} {}", message(json.as_ref(), &text)))
            }
            _ => Attempt::Final(ApiError::Refused {
                endpoint: endpoint.to_owned(),
                status,
                message: message(json.as_ref(), &text),
            }),
        }
    }

    /// Exponential backoff with jitter: between half and all of `backoff · 2^(n-1)`, at most 5 s.
    fn delay(&self, attempt: u32) -> Duration {
        let full = self
            .backoff
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(Duration::from_secs(5));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        full / 2 + full.mul_f64(f64::from(nanos % 1000) / 2000.0)
    }
}

/// What went wrong on the wire, without the URL's details.
fn transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::ConnectionFailed => "could not connect".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Io(io) => format!("connection error: {io}"),
        other => other.to_string(),
    }
}

/// The server's message from an error body (`KnownExceptionInfo.message`), or the start of
/// the text, as data: control characters escaped, so it cannot drive a terminal.
fn message(json: Option<&Value>, text: &[u8]) -> String {
    let raw = match json.and_then(|j| j.get("message")).and_then(Value::as_str) {
        Some(m) => m.to_owned(),
        None => String::from_utf8_lossy(&text[..text.len().min(200)]).into_owned(),
    };
    crate::terminal::line(&raw).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_text_cannot_drive_a_terminal() {
        assert_eq!(
            crate::terminal::line("bad\u{1b}[2Jname\n"),
            "bad\\u{1b}[2Jname\\n"
        );
        assert_eq!(
            super::message(Some(&serde_json::json!({"message": "no\u{7}"})), b""),
            "no\\u{7}"
        );
    }
}
