//! An Elasticsearch cluster as the place a fleet's Elastic connectors live, through its
//! Connector API.
//!
//! `[elastic] url = "https://…:9200"` in cutover.toml (with the API key in the environment
//! variable `api_key_env` names) makes cutover plan and apply against the cluster itself:
//! every connector is one document ([`document`]: the connector and its unfinished sync
//! jobs), planned like any other, and written back part by part through the Connector API,
//! guarded by the index's `_seq_no` and `_primary_term` ([`writer`]). The snapshots, the
//! journal and the ledger stay in the fleet directory, so resume and rollback work as they do
//! for a directory fleet: a rollback writes each snapshot back the same way, and queues
//! again the jobs the migration canceled.
//!
//! The API key needs the `manage_connector` cluster privilege and `read` on
//! `.elastic-connectors*` (for the `_seq_no` guard).

pub mod client;
pub mod document;
pub mod writer;

use super::{DocumentWriter, Documents, StoreError};
use crate::elastic::ElasticSettings;
use anyhow::{Result, bail};
use client::{Client, EsError};
use document::{PAGE, segment};
use serde_json::Value;

/// The connectors of a cluster.
pub struct ElasticDocuments {
    client: Client,
}

impl ElasticDocuments {
    pub fn open(settings: &ElasticSettings) -> Result<Self> {
        Ok(Self {
            client: Client::new(settings)?,
        })
    }

    /// The connector a document key names: the key is the connector's id, as a directory
    /// fleet's key is its file's name ([`Documents::id_of`] gives the same to the planner).
    fn connector_id(&self, key: &str) -> Result<String> {
        if key.is_empty() {
            bail!("an empty key names no connector");
        }
        Ok(key.to_owned())
    }

    fn display_key_of(&self, id: &str) -> String {
        format!("connector {id}")
    }

    /// An API error in the store's terms.
    fn classify(&self, id: &str, e: EsError) -> anyhow::Error {
        match e.status() {
            Some(404) => StoreError::NotFound { key: self.display_key_of(id) }.into(),
            Some(401 | 403) => anyhow::anyhow!(e).context(format!(
                "the cluster refused cutover's API key for {}: it needs the manage_connector cluster privilege and read on .elastic-connectors*",
                self.display_key_of(id)
            )),
            None => StoreError::Unavailable { detail: e.to_string() }.into(),
            _ => anyhow::anyhow!(e),
        }
    }
}

impl Documents for ElasticDocuments {
    fn summary(&self) -> String {
        format!("Elasticsearch {} (Connector API)", self.client.base())
    }

    fn identity(&self) -> String {
        format!("elasticsearch {}", self.client.base())
    }

    fn keys(&self) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut from = 0;
        loop {
            let page = self
                .client
                .get(&format!("/_connector?from={from}&size={PAGE}"))
                .map_err(|e| self.classify("*", e))?;
            let results = page["results"].as_array().cloned().unwrap_or_default();
            for c in &results {
                if let Some(id) = c["id"].as_str() {
                    keys.push(id.to_owned());
                }
            }
            from += results.len();
            if results.is_empty() || from as u64 >= page["count"].as_u64().unwrap_or(0) {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    fn read(&self, key: &str) -> Result<Vec<u8>> {
        let id = self.connector_id(key)?;
        let connector = self
            .client
            .get(&format!("/_connector/{}", segment(&id)))
            .map_err(|e| self.classify(&id, e))?;
        let Value::Object(connector) = connector else {
            bail!("GET _connector/{id} gave no connector")
        };
        let jobs =
            document::unfinished_jobs(&self.client, &id).map_err(|e| self.classify(&id, e))?;
        Ok(document::assemble(connector, &jobs))
    }

    fn display_key(&self, key: &str) -> String {
        self.connector_id(key)
            .map(|id| self.display_key_of(&id))
            .unwrap_or_else(|_| key.to_owned())
    }

    fn writer(&self) -> Result<Box<dyn DocumentWriter + '_>> {
        Ok(Box::new(writer::ElasticWriter { documents: self }))
    }

    /// The key is the connector's id: selecting connectors needs no connector fetched.
    fn id_of(&self, key: &str) -> Option<String> {
        self.connector_id(key).ok()
    }
}
