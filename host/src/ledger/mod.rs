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

/// A state the ledger stores as text: the text of each variant ([`as_str`](RunStatus::as_str)),
/// read back by `FromStr`. The texts are the ledger's, in SQLite and PostgreSQL alike: they
/// never change.
macro_rules! stored_as_text {
    ($name:ident, $what:literal, { $($variant:ident => $text:literal,)+ }) => {
        impl $name {
            /// Every variant, in declaration order.
            #[allow(dead_code)]
            const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The text the ledger stores.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("{s:?} is not a {} this cutover knows", $what)),
                }
            }
        }
    };
}

/// How a run stands, as the ledger stores it (`running`, `completed`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Going, or interrupted before it could say otherwise.
    Running,
    /// Every connection it meant to write was written.
    Completed,
    /// Some were written, some failed.
    Partial,
    /// None was written.
    Failed,
    /// Its process died; the next writer found it so.
    Interrupted,
    /// Every write it made was rolled back since.
    RolledBack,
}

stored_as_text!(RunStatus, "run status", {
    Running => "running",
    Completed => "completed",
    Partial => "partial",
    Failed => "failed",
    Interrupted => "interrupted",
    RolledBack => "rolled-back",
});

impl RunStatus {
    /// How a run that wrote `written` connections and failed `failed` ends.
    pub fn ended(written: usize, failed: usize) -> Self {
        if failed == 0 {
            RunStatus::Completed
        } else if written == 0 {
            RunStatus::Failed
        } else {
            RunStatus::Partial
        }
    }
}

/// What became of one change, as the ledger stores it (`written`, `rolled-back`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeState {
    /// Recorded before the document is written (a journaled store): not settled yet.
    Intent,
    /// The document holds the change.
    Written,
    /// The write did not happen; the document holds what it held.
    Aborted,
    /// Written, then restored by a rollback.
    RolledBack,
    /// The connection could not be migrated; nothing was written.
    Failed,
}

stored_as_text!(ChangeState, "change state", {
    Intent => "intent",
    Written => "written",
    Aborted => "aborted",
    RolledBack => "rolled-back",
    Failed => "failed",
});

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The ledger's stored text is what it always was, and reads back as the same state.
    #[test]
    fn states_keep_their_stored_text() {
        let runs = RunStatus::ALL.map(RunStatus::as_str);
        assert_eq!(
            runs,
            [
                "running",
                "completed",
                "partial",
                "failed",
                "interrupted",
                "rolled-back"
            ]
        );
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        let changes = ChangeState::ALL.map(ChangeState::as_str);
        assert_eq!(
            changes,
            ["intent", "written", "aborted", "rolled-back", "failed"]
        );
        for state in ChangeState::ALL {
            assert_eq!(state.as_str().parse(), Ok(state));
        }
        assert!("done".parse::<RunStatus>().is_err());
        assert_eq!(RunStatus::ended(3, 0), RunStatus::Completed);
        assert_eq!(RunStatus::ended(0, 2), RunStatus::Failed);
        assert_eq!(RunStatus::ended(1, 2), RunStatus::Partial);
    }
}
