//! The ledger: every run, every document write with the snapshot taken before it, and every
//! migration step with its plugin digest and hashes; what `history` shows and what
//! `rollback` restores from.
//!
//! Two homes, one shape: [`sqlite`] inside an embedded fleet (`.cutover/ledger.sqlite`,
//! which also journals the directory's writes), and the PostgreSQL fleet's own tables
//! ([`crate::store::postgres`]), where the ledger rows commit with the documents. Both give
//! the records below through [`Ledger`]; writes go through [`crate::write`].

pub mod sqlite;

use anyhow::Result;
use serde::{Deserialize, Serialize};

/// The kinds of run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    Apply,
    Rollback,
    Pin,
    Unpin,
    Import,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Apply => "apply",
            RunKind::Rollback => "rollback",
            RunKind::Pin => "pin",
            RunKind::Unpin => "unpin",
            RunKind::Import => "import",
        }
    }
}

/// A document write to record: what it replaces, with what, through which steps.
pub struct NewChange<'a> {
    pub connection_id: &'a str,
    /// The document's key in the store.
    pub key: &'a str,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    pub before: &'a [u8],
    pub after: &'a [u8],
    pub steps: Vec<Step>,
    /// The plan's operator actions the store does as part of this write (the clears of an
    /// Airbyte connection; see [`crate::store::Documents::performs`]).
    pub actions: &'a [crate::migration::Action],
}

/// A connection a run could not migrate, to record.
pub struct NewFailure<'a> {
    pub connection_id: &'a str,
    pub key: &'a str,
    pub before_sha256: &'a str,
    pub error: &'a str,
}

/// A run, as history shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub id: i64,
    pub kind: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub actor: String,
    pub cutover_version: String,
    pub detail: serde_json::Value,
    pub changes: Vec<Change>,
}

/// A recorded write (or failure), as history shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Change {
    pub id: i64,
    pub connection_id: String,
    /// The document's key in the store.
    pub key: String,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    pub before_sha256: String,
    pub after_sha256: Option<String>,
    /// `intent` (journaled, not yet settled), `written`, `aborted`, `failed`, `rolled-back`.
    pub state: String,
    pub error: Option<String>,
    pub at: String,
    /// Which process wrote it (`user@host pid N`): where several workers share a run,
    /// which of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    pub steps: Vec<Step>,
}

/// One migration step of a change, in chain order.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Step {
    pub from_version: String,
    pub to_version: String,
    pub plugin_file: Option<String>,
    pub plugin_sha256: Option<String>,
    pub plugin_signer: Option<String>,
    pub input_sha256: String,
    pub output_sha256: String,
}

/// What history and rollback read, wherever the ledger lives.
pub trait Ledger {
    /// The runs, newest first, optionally only those touching one connection.
    fn runs(&self, connection: Option<&str>, limit: usize) -> Result<Vec<Run>>;
    /// One run, with its changes.
    fn run(&self, id: i64) -> Result<Option<Run>>;
    /// The snapshot (the bytes before the write) of a change.
    fn snapshot(&self, change: i64) -> Result<Vec<u8>>;
    /// The newest run that still has writes in force, if any.
    fn last_rollbackable(&self) -> Result<Option<i64>>;
    /// The newest run after `run` with a write to `connection_id` still in force.
    fn later_write(&self, connection_id: &str, run: i64) -> Result<Option<i64>>;
    /// For every document written, the version of its newest write in force and that
    /// write's run: (document key, version, run), oldest first. Apply writes record the
    /// version they migrated to; rollback writes the version they restored. (What an
    /// Elastic connector document is valid for: [`crate::elastic::versions`].)
    fn versions_written(&self) -> Result<Vec<(String, String, i64)>>;
}
