//! A connector's document as the cluster gives it: the connector as `GET _connector/<id>`
//! returns it (its fields in the server's order) and its unfinished sync jobs under
//! `pending_sync_jobs`, each as type, trigger and status, ordered, so that the same cluster
//! state always gives the same bytes.

use super::client::{Client, EsError};
use crate::elastic::connector::pretty_with_newline;
use crate::elastic::jobs::{FIELD, Job};
use anyhow::Result;
use serde_json::{Map, Value, json};

/// How many results one page of a listing asks for.
pub const PAGE: usize = 100;

/// `id` as one segment of a path.
pub fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One unfinished sync job as the cluster lists it.
#[derive(Clone, Debug)]
pub struct Listed {
    pub id: String,
    pub job: Job,
}

/// Every unfinished sync job of a connector, page by page, ordered by type, trigger, status
/// and id.
pub fn unfinished_jobs(client: &Client, connector: &str) -> Result<Vec<Listed>, EsError> {
    let mut listed = Vec::new();
    let mut from = 0;
    loop {
        let page = client.get(&format!(
            "/_connector/_sync_job?connector_id={}&from={from}&size={PAGE}",
            segment(connector)
        ))?;
        let results = page["results"].as_array().cloned().unwrap_or_default();
        for job in &results {
            let status = job["status"].as_str().unwrap_or_default();
            if !Job::is_unfinished(status) {
                continue;
            }
            let text = |k: &str| job[k].as_str().unwrap_or_default().to_owned();
            listed.push(Listed {
                id: text("id"),
                job: Job {
                    job_type: text("job_type"),
                    trigger_method: text("trigger_method"),
                    status: status.to_owned(),
                },
            });
        }
        from += results.len();
        if results.is_empty() || from as u64 >= page["count"].as_u64().unwrap_or(0) {
            break;
        }
    }
    listed.sort_by(|a, b| key(&a.job).cmp(&key(&b.job)).then(a.id.cmp(&b.id)));
    Ok(listed)
}

fn key(job: &Job) -> (&str, &str, &str) {
    (&job.job_type, &job.trigger_method, &job.status)
}

/// The document's bytes: the connector, then its jobs.
pub fn assemble(connector: Map<String, Value>, jobs: &[Listed]) -> Vec<u8> {
    let mut doc = connector;
    doc.shift_remove(FIELD);
    let jobs: Vec<Value> = jobs.iter().map(|l| json!(l.job)).collect();
    doc.insert(FIELD.into(), Value::Array(jobs));
    pretty_with_newline(&doc)
}

/// A connector's `_source` with its id in front, as `GET _connector/<id>` gives it.
pub fn with_id(id: &str, source: &Map<String, Value>) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("id".into(), Value::String(id.to_owned()));
    doc.extend(source.iter().map(|(k, v)| (k.clone(), v.clone())));
    doc
}
