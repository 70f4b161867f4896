//! Writing connection documents to Airbyte: each write is the requests [`super::steps`]
//! plans, sent one after the other; several connections are written at once, up to
//! `[airbyte] concurrency`.
//!
//! A write is conditional: it starts only if the server still holds the document it
//! replaces (the API has no ETags, so the writer reads the connection first and compares).
//! It is idempotent: each part is sent only if the server does not hold it already, so a
//! request whose answer was lost can be sent again, and a write cut part-way (a crash, a
//! service that stays down) is finished by [`DocumentWriter::settle`] at the next run, from
//! whatever part the server holds, without doing any part twice. A clear is the one part
//! that holds nothing to compare (every call starts a job that deletes the streams' data
//! again): it is sent once, and after a lost answer or a crash the connection's jobs say
//! whether it landed ([`super::clears`]).

use super::AirbyteDocuments;
use super::client::ApiError;
use super::document::{Parts, canonical};
use super::mapping;
use super::steps::{self, Expect, Request};
use crate::migration::StreamDescriptor;
use crate::store::{DocumentWriter, Documents, Settled, StoreError, Write};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// The writes of one run.
pub struct AirbyteWriter<'a> {
    documents: &'a AirbyteDocuments,
}

/// Whether a write starts fresh (the server must hold `before`) or finishes one a crash cut.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    Fresh,
    Resume,
}

/// How many times a write reads the server again and carries on after a request failed.
const RECOVERIES: usize = 2;

impl<'a> AirbyteWriter<'a> {
    pub fn new(documents: &'a AirbyteDocuments) -> Self {
        Self { documents }
    }

    /// What writing `write` would send now, sending nothing.
    pub fn preview(&self, write: &Write<'_>) -> Result<Vec<String>> {
        let (target, before) = parse(write)?;
        let remote = self.documents.fetch(write.key, Some(&before.source_id))?;
        let current = remote.parts()?;
        if current.to_document() != write.before && current.to_document() != write.after {
            bail!(
                "{} changed since it was planned; plan again",
                self.documents.display_key(write.key)
            );
        }
        let definition = self
            .documents
            .definition_for(write.key, &current, &target)?;
        let requests = steps::plan(
            &remote,
            &current,
            &target,
            &super::cleared(write.actions),
            &definition,
            &self.documents.supplied,
        )?;
        Ok(requests
            .iter()
            .map(|r| format!("{}: {}", r.endpoint, r.what))
            .collect())
    }

    /// Writes one document; `Settled::Conflict` only when resuming.
    ///
    /// "Nothing was written" is said only when the server refused every request it was
    /// sent; a failure after a request that may have landed (sent and answered, or sent and
    /// not answered, or answered with something else than was expected) is a write cut
    /// part-way ([`StoreError::Partial`]): its intent stays, and the next run finishes it,
    /// reactivation included.
    fn write(&self, write: &Write<'_>, start: Start) -> Result<Settled> {
        let mut landed = false;
        match self.write_tracking(write, start, &mut landed) {
            Err(e) if landed && !is_store_error(&e) => Err(StoreError::Partial {
                key: write.key.to_owned(),
                detail: format!("{e:#}"),
            }
            .into()),
            other => other,
        }
    }

    /// [`Self::write`], noting in `landed` whether a request may have changed the server.
    fn write_tracking(
        &self,
        write: &Write<'_>,
        start: Start,
        landed: &mut bool,
    ) -> Result<Settled> {
        let key = write.key;
        let (target, before) = parse(write)?;
        let clears = super::cleared(write.actions);
        let mut recoveries = 0;
        'read: loop {
            let remote = self.documents.fetch(key, Some(&before.source_id))?;
            let current = remote
                .parts()
                .with_context(|| format!("reading connection {key}"))?;
            let now = current.to_document();
            if now == write.after {
                return Ok(Settled::Written);
            }
            if !*landed && recoveries == 0 {
                match start {
                    Start::Fresh if now != write.before => {
                        return Err(StoreError::Conflict {
                            key: key.to_owned(),
                            detail: format!(
                                "the server now holds a different {}; plan again",
                                differences(&current, &before)
                            ),
                        }
                        .into());
                    }
                    Start::Resume if !between(&current, &before, &target) => {
                        return Ok(Settled::Conflict);
                    }
                    _ => {}
                }
            }
            let definition = self.documents.definition_for(key, &current, &target)?;
            let requests = steps::plan(
                &remote,
                &current,
                &target,
                &clears,
                &definition,
                &self.documents.supplied,
            )
            .with_context(|| {
                format!(
                    "{} cannot be written through the API; nothing was sent for it",
                    self.documents.display_key(key)
                )
            })?;
            for request in requests {
                let sent = if request.endpoint == steps::CLEAR {
                    self.clear(key, &request)
                } else {
                    self.send(key, &request)
                };
                match sent {
                    Ok(()) => {
                        *landed = true;
                        crate::ground::failpoint("airbyte-write");
                    }
                    Err(failed) => {
                        *landed |= !failed.refused;
                        if recoveries < RECOVERIES {
                            // The request may have landed without its answer: read again and
                            // send only what is still missing.
                            tracing::warn!(connection = key, endpoint = request.endpoint, error = %format!("{:#}", failed.error), "reading the connection again to carry on");
                            recoveries += 1;
                            continue 'read;
                        }
                        if !*landed {
                            return Err(failed.error.context(format!(
                                "{}: nothing was written",
                                self.documents.display_key(key)
                            )));
                        }
                        return Err(StoreError::Partial {
                            key: key.to_owned(),
                            detail: format!(
                                "{} did not go through: {:#}",
                                request.endpoint, failed.error
                            ),
                        }
                        .into());
                    }
                }
            }
            return Ok(Settled::Written);
        }
    }

    /// Sends one request and checks that its answer shows the part written.
    fn send(&self, key: &str, request: &Request) -> Result<(), Failed> {
        let answer = self
            .documents
            .client
            .call(request.endpoint, &request.body)
            .map_err(|e| Failed::from_api(key, &request.what, e))?;
        match request.endpoint {
            "sources/upgrade_version" | "scoped_configuration/delete" => {
                self.documents.pin_removed(
                    request
                        .body
                        .get("sourceId")
                        .or(request.body.get("scopedConfigurationId"))
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                )
            }
            "scoped_configuration/create" => self
                .documents
                .pin_added(answer.as_ref().and_then(|a| a.get("data"))),
            _ => {}
        }
        check_answer(request, answer.as_ref()).map_err(Failed::landed)
    }

    /// Clears the streams a clear request names that still need it, and sends it once per
    /// try: each call starts a job, so whether a call whose answer was lost landed is read
    /// from the connection's jobs before it is sent again ([`super::clears`]).
    fn clear(&self, key: &str, request: &Request) -> Result<(), Failed> {
        let wanted: Vec<StreamDescriptor> = request
            .body
            .get("streams")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| {
                Some(StreamDescriptor {
                    name: s.get("streamName")?.as_str()?.to_owned(),
                    namespace: s
                        .get("streamNamespace")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })
            })
            .collect();
        let tries = self.documents.settings.retries.max(1);
        let mut last = None;
        for attempt in 1..=tries {
            let done = self
                .documents
                .already_cleared(key, &wanted)
                .map_err(|e| Failed {
                    refused: last.is_none(),
                    error: e.context("reading the connection's jobs before a clear"),
                })?;
            let missing: Vec<&StreamDescriptor> =
                wanted.iter().filter(|s| !done.contains(s)).collect();
            if missing.is_empty() {
                return Ok(());
            }
            let streams: Vec<Value> = missing
                .iter()
                .map(|s| match &s.namespace {
                    Some(ns) => json!({"streamName": s.name, "streamNamespace": ns}),
                    None => json!({"streamName": s.name}),
                })
                .collect();
            let body = json!({"connectionId": key, "streams": streams});
            match self.documents.client.call_once(steps::CLEAR, &body) {
                Ok(_) => return Ok(()),
                Err(e @ ApiError::Refused { status, .. })
                    if status != 423 && status != 429 && status < 500 =>
                {
                    return Err(Failed::from_api(key, &request.what, e));
                }
                Err(e) => {
                    tracing::warn!(connection = key, attempt, error = %e, "a clear went unanswered; asking the connection's jobs whether it landed");
                    last = Some(e);
                    std::thread::sleep(std::time::Duration::from_millis(
                        self.documents.settings.backoff_ms << (attempt - 1).min(5),
                    ));
                }
            }
        }
        Err(Failed {
            refused: false,
            error: anyhow::anyhow!(
                "connection {key}: {} went unanswered {tries} time(s): {}",
                steps::CLEAR,
                last.map(|e| e.to_string()).unwrap_or_default()
            ),
        })
    }
}

/// A request that failed, and whether the server said it did nothing.
struct Failed {
    /// Refused (a 4xx): the server did not act on it.
    refused: bool,
    error: anyhow::Error,
}

impl Failed {
    fn from_api(key: &str, what: &str, e: ApiError) -> Self {
        let refused = matches!(&e, ApiError::Refused { status, .. } if *status < 500)
            || matches!(e, ApiError::Credentials(_));
        Self {
            refused,
            error: super::store_error(key, e).context(format!("writing {what}")),
        }
    }

    /// A request that landed, whose answer was not what it should have been.
    fn landed(error: anyhow::Error) -> Self {
        Self {
            refused: false,
            error,
        }
    }
}

fn is_store_error(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<StoreError>(),
        Some(StoreError::Partial { .. } | StoreError::Conflict { .. })
    )
}

/// Checks that a request's answer shows the part written, as the server shows it.
fn check_answer(request: &Request, answer: Option<&Value>) -> Result<()> {
    let shown = match (&request.expect, answer) {
        (Expect::Nothing, _) => return Ok(()),
        (Expect::Catalog(_), Some(a)) => canonical(
            &mapping::catalog_from_api(a.get("syncCatalog").unwrap_or(&Value::Null))?.configured,
        ),
        (Expect::State(_), Some(a)) => canonical(&Value::Array(mapping::state_from_api(a)?)),
        (Expect::Config(_), Some(a)) => {
            canonical(a.get("connectionConfiguration").unwrap_or(&Value::Null))
        }
        (_, None) => bail!("{} answered without a body", request.endpoint),
    };
    match &request.expect {
        Expect::Catalog(want) | Expect::State(want) | Expect::Config(want) if *want != shown => {
            let part = match request.expect {
                Expect::Catalog(_) => "catalog",
                Expect::State(_) => "state",
                _ => "config",
            };
            bail!(
                "{} answered with a different {part} than the server should show for what was sent",
                request.endpoint
            )
        }
        _ => Ok(()),
    }
}

impl DocumentWriter for AirbyteWriter<'_> {
    fn write_batch(
        &mut self,
        writes: &[Write<'_>],
        replaced: &mut dyn FnMut(usize),
    ) -> Vec<Result<()>> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let workers = self.documents.settings.concurrency.min(writes.len()).max(1);
        let next = AtomicUsize::new(0);
        let (send, receive) = std::sync::mpsc::channel::<(usize, Result<()>)>();
        let mut results: Vec<Option<Result<()>>> = writes.iter().map(|_| None).collect();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let send = send.clone();
                let next = &next;
                let this = &*self;
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(write) = writes.get(i) else { break };
                        let result = this.write(write, Start::Fresh).map(drop);
                        if send.send((i, result)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(send);
            for (i, result) in receive {
                if result.is_ok() {
                    replaced(i);
                }
                results[i] = Some(result);
            }
        });
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("the write was never attempted"))))
            .collect()
    }

    fn settle(&mut self, write: &Write<'_>) -> Result<Settled> {
        self.write(write, Start::Resume)
    }

    fn settles_partial_writes(&self) -> bool {
        true
    }
}

fn parse(write: &Write<'_>) -> Result<(Parts, Parts)> {
    let target = Parts::from_document(write.after)
        .with_context(|| format!("the new document of {}", write.key))?;
    let before = Parts::from_document(write.before)
        .with_context(|| format!("the old document of {}", write.key))?;
    if target.id != write.key || before.id != write.key {
        bail!(
            "the documents of {} are of connections {} and {}",
            write.key,
            before.id,
            target.id
        );
    }
    Ok((target, before))
}

/// Whether every part the server holds is either the old document's or the new one's: what
/// a write cut part-way leaves (the connection may still be inactive).
fn between(current: &Parts, before: &Parts, after: &Parts) -> bool {
    let either = |c: Value, b: Value, a: Value| c == b || c == a;
    let state = |p: &Parts| canonical(&Value::Array(p.state.clone()));
    either(
        canonical(&current.config),
        canonical(&before.config),
        canonical(&after.config),
    ) && either(
        canonical(&current.catalog.configured),
        canonical(&before.catalog.configured),
        canonical(&after.catalog.configured),
    ) && either(state(current), state(before), state(after))
        && ((current.version == before.version && current.version_pin == before.version_pin)
            || (current.version == after.version && current.version_pin == after.version_pin))
        && current.pin == before.pin
        && (current.status == before.status
            || current.status == after.status
            || current.status == "inactive")
}

/// Which parts differ, for a conflict's message (never their values: they hold secrets).
fn differences(current: &Parts, before: &Parts) -> String {
    let mut parts = Vec::new();
    if canonical(&current.config) != canonical(&before.config) {
        parts.push("config");
    }
    if current.catalog != before.catalog {
        parts.push("catalog");
    }
    if canonical(&Value::Array(current.state.clone()))
        != canonical(&Value::Array(before.state.clone()))
    {
        parts.push("state");
    }
    if current.version != before.version || current.version_pin != before.version_pin {
        parts.push("version");
    }
    if current.pin != before.pin {
        parts.push("pin");
    }
    if current.status != before.status {
        parts.push("status");
    }
    if current.name != before.name || current.source_name != before.source_name {
        parts.push("name");
    }
    if parts.is_empty() {
        "document".into()
    } else {
        parts.join(", ")
    }
}
