//! Which documents a plan covers: every one of the fleet (or those `--only` names), in key
//! order, and the ones invalid before they are planned (an id another document also uses).
//!
//! A store whose keys say each connection's id (Airbyte's, Elastic's) is selected without
//! reading a document. Any other (a directory, PostgreSQL) must read each document to learn
//! its id, and the documents it read are kept for the planner, up to [`KEPT_BYTES`], so
//! that planning reads each of them once: a fleet whose documents fit is read once per plan,
//! and memory stays flat beyond that, the rest being read again when planned.

use super::chain::Planner;
use crate::cores;
use anyhow::{Result, bail};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many bytes of the documents read to learn their ids a selection keeps for planning.
pub const KEPT_BYTES: usize = 16 << 20;

/// The documents a plan covers: keys in key order, each with the problem that makes
/// it invalid before it is planned, if any.
pub struct Selection {
    documents: Vec<(String, Option<String>)>,
    /// Documents read to learn their ids, by key, until planning takes them.
    kept: Mutex<HashMap<String, Vec<u8>>>,
}

impl Selection {
    /// The bytes of the document at `key` if selecting read them, handed over once.
    pub(super) fn take(&self, key: &str) -> Option<Vec<u8>> {
        self.kept
            .lock()
            .expect("kept documents lock poisoned")
            .remove(key)
    }

    /// Each selected document's key, with the problem that makes it invalid, if any.
    pub(super) fn documents(&self) -> &[(String, Option<String>)] {
        &self.documents
    }

    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }
}

/// Only a document's id, read without building the rest.
#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

impl Planner<'_> {
    /// Which documents the plan covers, in key order, each with the problem that
    /// makes it invalid before it is planned (an id another document also uses). Each id
    /// comes from its key when the store can tell, else from the document, which is then
    /// kept for planning (up to [`KEPT_BYTES`] in all).
    pub fn select(&self) -> Result<Selection> {
        let keys = self.fleet.documents().keys()?;
        let kept = Mutex::new(HashMap::new());
        let kept_bytes = AtomicUsize::new(0);
        let id_of = |key: &String| -> Result<Option<String>> {
            if let Some(id) = self.fleet.documents().id_of(key) {
                return Ok(Some(id));
            }
            let bytes = self.fleet.documents().read(key)?;
            let id = serde_json::from_slice::<IdOnly>(&bytes)
                .ok()
                .map(|doc| doc.id);
            if kept_bytes.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len() <= KEPT_BYTES {
                kept.lock()
                    .expect("kept documents lock poisoned")
                    .insert(key.clone(), bytes);
            } else {
                kept_bytes.fetch_sub(bytes.len(), Ordering::Relaxed);
            }
            Ok(id)
        };
        let mut ids = Vec::with_capacity(keys.len());
        for (i, id) in cores::map(&keys, id_of).into_iter().enumerate() {
            if let Some(id) = id? {
                ids.push((i, id));
            }
        }
        for id in &self.options.only {
            if !ids.iter().any(|(_, seen)| seen == id) {
                bail!(
                    "no connection {id:?} in fleet {}; `cutover status` lists them",
                    self.fleet.documents().summary()
                );
            }
        }
        let mut problems: Vec<Option<String>> = vec![None; keys.len()];
        for (i, problem) in self
            .fleet
            .duplicate_ids(ids.iter().cloned(), |i| keys[i].clone())
        {
            problems[i] = Some(format!("{}: {problem}", self.fleet.display_key(&keys[i])));
        }
        let mut id_of: Vec<Option<String>> = vec![None; keys.len()];
        for (i, id) in ids {
            id_of[i] = Some(id);
        }
        let documents = keys
            .into_iter()
            .zip(problems)
            .zip(id_of)
            .filter(|(_, id)| {
                self.options.only.is_empty()
                    || id.as_ref().is_some_and(|id| self.options.only.contains(id))
            })
            .map(|(document, _)| document)
            .collect::<Vec<_>>();
        // Only the selected documents' bytes are worth keeping.
        let mut kept = kept.into_inner().expect("kept documents lock poisoned");
        if !self.options.only.is_empty() {
            let selected: std::collections::HashSet<&str> =
                documents.iter().map(|(key, _)| key.as_str()).collect();
            kept.retain(|key, _| selected.contains(key.as_str()));
        }
        Ok(Selection {
            documents,
            kept: Mutex::new(kept),
        })
    }
}
