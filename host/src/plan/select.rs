//! Which documents a plan covers: every one of the fleet (or those `--only` names), in key
//! order, and the ones invalid before they are planned (an id another document also uses).

use super::chain::Planner;
use crate::cores;
use anyhow::{Result, bail};
use serde::Deserialize;

/// The documents a plan covers: keys in key order, each with the problem that makes
/// it invalid before it is planned, if any.
pub struct Selection {
    documents: Vec<(String, Option<String>)>,
}

impl Selection {
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
    /// makes it invalid before it is planned (an id another document also uses). Reads only
    /// each document's id.
    pub fn select(&self) -> Result<Selection> {
        let keys = self.fleet.documents().keys()?;
        let id_of = |key: &String| -> Result<Option<String>> {
            if let Some(id) = self.fleet.documents().id_of(key) {
                return Ok(Some(id));
            }
            let bytes = self.fleet.documents().read(key)?;
            Ok(serde_json::from_slice::<IdOnly>(&bytes)
                .ok()
                .map(|doc| doc.id))
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
            .collect();
        Ok(Selection { documents })
    }
}
