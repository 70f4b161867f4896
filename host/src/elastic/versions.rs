//! Which connectors service version an Elastic connector document is valid for.
//!
//! The document carries no version (only the index's `_meta.version` does, for the index,
//! not for a connector). Two facts say it:
//!
//! 1. the fleet declares the connectors service version that last ran on the documents
//!    (`[elastic] connectors_service`): the service keeps every document valid for itself
//!    (on start it adds missing configuration fields), so a document is valid for at least
//!    that version;
//! 2. the ledger records, for each document cutover wrote, the version it wrote it for (an
//!    apply's target; a rollback's, the version the undone write started from).
//!
//! A document is valid for the newer of the two. Once cutover migrated a document to 9.0,
//! the ledger says 9.0 even while the declaration still says 8.7 (the service is upgraded
//! after the documents), so the chain never runs again on it; a rollback puts the ledger's
//! version back with the bytes. When the declaration moves past the ledger (the new service
//! ran, then the stack moved on), the declaration wins.

use crate::ledger::Ledger;
use anyhow::Result;
use semver::Version;
use std::collections::HashMap;

/// Where a document's version comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known {
    /// The fleet's declared connectors service version.
    Declared,
    /// The version run `run` of the ledger migrated (or rolled back) the document to.
    Ledger { run: i64 },
}

/// The versions of a fleet's Elastic documents.
#[derive(Clone, Debug, Default)]
pub struct Versions {
    declared: Option<Version>,
    /// Document key → (version, run) of the newest write in force.
    written: HashMap<String, (Version, i64)>,
}

impl Versions {
    /// The declared version and what the fleet's ledger records.
    pub fn load(declared: Option<Version>, ledger: &dyn Ledger) -> Result<Self> {
        let mut written = HashMap::new();
        for (key, version, run) in ledger.versions_written()? {
            if let Ok(v) = Version::parse(&version) {
                written.insert(key, (v, run));
            }
        }
        Ok(Self { declared, written })
    }

    /// For tests and callers that know both facts already.
    pub fn new(
        declared: Option<Version>,
        written: impl IntoIterator<Item = (String, Version, i64)>,
    ) -> Self {
        Self {
            declared,
            written: written.into_iter().map(|(k, v, r)| (k, (v, r))).collect(),
        }
    }

    /// The version the document at `key` is valid for, and why.
    pub fn of(&self, key: &str) -> Result<(Version, Known), String> {
        let ledger = self.written.get(key);
        match (&self.declared, ledger) {
            (Some(d), Some((v, run))) if v > d => Ok((v.clone(), Known::Ledger { run: *run })),
            (Some(d), _) => Ok((d.clone(), Known::Declared)),
            (None, Some((v, run))) => Ok((v.clone(), Known::Ledger { run: *run })),
            (None, None) => Err(
                "cutover.toml does not say which connectors service version last ran on this connector (a connector document carries no version); set [elastic] connectors_service = \"X.Y.Z\"".into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn the_newer_of_the_declaration_and_the_ledger_wins() {
        let versions = Versions::new(
            Some(v("8.7.0")),
            [
                ("a.json".to_owned(), v("9.0.0"), 3),
                ("b.json".to_owned(), v("8.7.0"), 4),
            ],
        );
        assert_eq!(
            versions.of("a.json").unwrap(),
            (v("9.0.0"), Known::Ledger { run: 3 })
        );
        assert_eq!(
            versions.of("b.json").unwrap(),
            (v("8.7.0"), Known::Declared)
        );
        assert_eq!(
            versions.of("c.json").unwrap(),
            (v("8.7.0"), Known::Declared)
        );
        let later = Versions::new(Some(v("9.1.0")), [("a.json".to_owned(), v("9.0.0"), 3)]);
        assert_eq!(later.of("a.json").unwrap().0, v("9.1.0"));
        let undeclared = Versions::new(None, [("a.json".to_owned(), v("9.0.0"), 3)]);
        assert_eq!(undeclared.of("a.json").unwrap().0, v("9.0.0"));
        assert!(
            undeclared
                .of("c.json")
                .unwrap_err()
                .contains("connectors_service")
        );
    }
}
