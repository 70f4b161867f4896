//! Writing a connector through the Connector API. The API has no conditional write and no
//! transaction: one document write is several requests, each changing one part of the
//! connector. So each write is guarded by the index's own optimistic concurrency numbers:
//!
//! 1. `GET .elastic-connectors/_doc/<id>` gives the connector's `_source`, `_seq_no` and
//!    `_primary_term`; with the connector's unfinished jobs, it must be exactly `before`
//!    (otherwise: a conflict, nothing sent);
//! 2. jobs holding the old configuration are canceled;
//! 3. each changed part goes to its endpoint, in the order the server's rules need:
//!    `_service_type` (which resets the status), `_configuration` (which sets it to
//!    `configured`), `_pipeline`, `_last_sync` (the sync cursor), and `_status` last, back to
//!    what `after` says; then, on a rollback, the jobs the snapshot lists are queued again,
//!    copying the restored connector;
//! 4. the connector is read again: its `_seq_no` must have moved by exactly the number of
//!    writes sent and its primary term not at all (anything else means another client wrote
//!    in between: a conflict), and the document must be `after`.
//!
//! A write cut part-way (the cluster went away) is [`StoreError::Partial`]; the next run
//! finishes it in [`settle`](super::super::DocumentWriter::settle), where every part holds
//! either its old or its new value, or reports a conflict.

use super::ElasticDocuments;
use super::client::EsError;
use super::document::{self, Listed, segment};
use crate::elastic::jobs::{FIELD, Job};
use crate::ground::sha256_hex;
use crate::store::{DocumentWriter, Settled, StoreError, Write};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value, json};

/// The parts of a connector cutover writes, each with its endpoint, in the order they are
/// sent, and the body that carries it.
const PARTS: &[(&str, &str)] = &[
    ("service_type", "_service_type"),
    ("configuration", "_configuration"),
    ("pipeline", "_pipeline"),
    ("sync_cursor", "_last_sync"),
];

/// Fields the endpoints above change as a side effect, put back last.
const STATUS: &str = "status";

/// The writes of one run.
pub struct ElasticWriter<'a> {
    pub(super) documents: &'a ElasticDocuments,
}

/// The connector as the index holds it now.
struct Current {
    source: Map<String, Value>,
    seq_no: u64,
    primary_term: u64,
    jobs: Vec<Listed>,
}

impl ElasticWriter<'_> {
    fn current(&self, id: &str) -> Result<Current> {
        let client = &self.documents.client;
        let doc = client
            .get(&format!("/.elastic-connectors/_doc/{}", segment(id)))
            .map_err(|e| self.documents.classify(id, e))?;
        let number = |k: &str| {
            doc[k]
                .as_u64()
                .with_context(|| format!("GET .elastic-connectors/_doc/{id} gave no {k}"))
        };
        let source = doc["_source"]
            .as_object()
            .cloned()
            .with_context(|| format!("GET .elastic-connectors/_doc/{id} gave no _source"))?;
        let jobs =
            document::unfinished_jobs(client, id).map_err(|e| self.documents.classify(id, e))?;
        Ok(Current {
            seq_no: number("_seq_no")?,
            primary_term: number("_primary_term")?,
            source,
            jobs,
        })
    }

    /// Takes the connector from `now` to `after`: jobs, then parts, then status; returns how
    /// many connector updates it sent.
    fn apply(&self, id: &str, now: &Current, after: &Map<String, Value>) -> Result<u64> {
        let client = &self.documents.client;
        let key = self.documents.display_key_of(id);
        let cut = |e: EsError| -> anyhow::Error {
            match e {
                EsError::Unavailable { .. } => StoreError::Partial {
                    key: key.clone(),
                    detail: e.to_string(),
                }
                .into(),
                other => anyhow!(other).context(format!("writing {key}")),
            }
        };
        // Jobs `after` does not list are canceled first: they hold the old configuration.
        let wanted: Vec<Job> =
            serde_json::from_value(after.get(FIELD).cloned().unwrap_or(json!([])))
                .context("the new document's pending_sync_jobs")?;
        let mut unmatched = wanted.clone();
        for listed in &now.jobs {
            match unmatched.iter().position(|j| *j == listed.job) {
                Some(i) => {
                    unmatched.remove(i);
                }
                None => {
                    client
                        .put_empty(&format!(
                            "/_connector/_sync_job/{}/_cancel",
                            segment(&listed.id)
                        ))
                        .map_err(cut)?;
                }
            }
        }
        let mut updates = 0;
        for (field, endpoint) in PARTS {
            let (old, new) = (now.source.get(*field), after.get(*field));
            if old == new {
                continue;
            }
            let new = new.cloned().unwrap_or(Value::Null);
            let body = match *field {
                "configuration" => json!({"configuration": new}),
                "sync_cursor" => json!({"sync_cursor": new}),
                other => json!({other: new}),
            };
            client
                .put(&format!("/_connector/{}/{endpoint}", segment(id)), &body)
                .map_err(cut)?;
            updates += 1;
        }
        let status_now = self
            .documents
            .client
            .get(&format!("/_connector/{}", segment(id)))
            .map_err(cut)?;
        if status_now.get(STATUS) != after.get(STATUS)
            && let Some(status) = after.get(STATUS)
        {
            client
                .put(
                    &format!("/_connector/{}/_status", segment(id)),
                    &json!({"status": status}),
                )
                .map_err(cut)?;
            updates += 1;
        }
        // Jobs queued again (a rollback) copy the connector as it now is: last.
        for job in unmatched {
            if job.status != "pending" {
                bail!(
                    "{key}: a {job} cannot be queued again (only a pending job can); queue it by hand"
                );
            }
            client.post("/_connector/_sync_job", &json!({"id": id, "job_type": job.job_type, "trigger_method": job.trigger_method})).map_err(cut)?;
        }
        Ok(updates)
    }

    fn write_one(&self, write: &Write<'_>) -> Result<()> {
        let (before, after) = (parse(write.before)?, parse(write.after)?);
        let id = self.documents.connector_id(write.key)?;
        check_writable(&before, &after, &self.documents.display_key_of(&id))?;
        let now = self.current(&id)?;
        let held = document::assemble(document::with_id(&id, &now.source), &now.jobs);
        if sha256_hex(&held) != sha256_hex(write.before) {
            return Err(StoreError::Conflict {
                key: write.key.to_owned(),
                detail: "the connector is not what the plan was made from".into(),
            }
            .into());
        }
        let updates = self.apply(&id, &now, &after)?;
        self.verify(&id, &now, updates, write)
    }

    /// The connector after the writes: moved by exactly our writes, and holding `after`.
    fn verify(&self, id: &str, then: &Current, updates: u64, write: &Write<'_>) -> Result<()> {
        let now = self.current(id)?;
        if now.primary_term != then.primary_term || now.seq_no != then.seq_no + updates {
            return Err(StoreError::Conflict {
                key: write.key.to_owned(),
                detail: format!(
                    "another client wrote it while cutover did (its _seq_no went from {} to {} for cutover's {updates} write(s)); the next run settles it",
                    then.seq_no, now.seq_no
                ),
            }
            .into());
        }
        let held = document::assemble(document::with_id(id, &now.source), &now.jobs);
        if held != write.after {
            bail!(
                "{}: the cluster holds something else than what cutover wrote (did a part not take?)",
                self.documents.display_key_of(id)
            );
        }
        Ok(())
    }
}

/// Refuses a write that changes what the Connector API calls cutover sends cannot change.
fn check_writable(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    key: &str,
) -> Result<()> {
    let writable = |k: &str| PARTS.iter().any(|(f, _)| *f == k) || k == STATUS || k == FIELD;
    let keys = before.keys().chain(after.keys());
    let changed: Vec<&String> = keys
        .filter(|k| !writable(k) && before.get(*k) != after.get(*k))
        .collect();
    if !changed.is_empty() {
        let mut names: Vec<&str> = changed.iter().map(|k| k.as_str()).collect();
        names.dedup();
        bail!(
            "{key}: the migration changes {}, which cutover does not write through the Connector API (it writes service_type, configuration, pipeline, sync_cursor and status); nothing was sent",
            names.join(", ")
        );
    }
    Ok(())
}

fn parse(bytes: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice(bytes).context("a connector document that is not JSON")? {
        Value::Object(map) => Ok(map),
        _ => bail!("a connector document that is not a JSON object"),
    }
}

impl DocumentWriter for ElasticWriter<'_> {
    fn write_batch(
        &mut self,
        writes: &[Write<'_>],
        replaced: &mut dyn FnMut(usize),
    ) -> Vec<Result<()>> {
        writes
            .iter()
            .enumerate()
            .map(|(i, write)| {
                let result = self.write_one(write);
                if result.is_ok() {
                    replaced(i);
                }
                result
            })
            .collect()
    }

    /// A write cut part-way: each part holds its old or its new value (or someone else's,
    /// a conflict); the rest is sent now.
    fn settle(&mut self, write: &Write<'_>) -> Result<Settled> {
        let (before, after) = (parse(write.before)?, parse(write.after)?);
        let id = self.documents.connector_id(write.key)?;
        let now = self.current(&id)?;
        let held = document::with_id(&id, &now.source);
        let third = held
            .keys()
            .chain(after.keys())
            .chain(before.keys())
            .any(|k| {
                k != STATUS
                    && k != FIELD
                    && held.get(k) != after.get(k)
                    && held.get(k) != before.get(k)
            });
        if third {
            return Ok(Settled::Conflict);
        }
        let updates = self.apply(&id, &now, &after)?;
        self.verify(&id, &now, updates, write)?;
        Ok(Settled::Written)
    }

    fn settles_partial_writes(&self) -> bool {
        true
    }
}
