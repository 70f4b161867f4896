//! What a migration leaves for the operator to do.

use crate::StreamDescriptor;
use serde::{Deserialize, Serialize};

/// Something the operator must still do after the migration is written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// Refresh the source schema in the platform (the catalog changed beyond the streams
    /// the migration rewrote).
    RefreshSchema {
        /// Why, in the operator's terms.
        reason: String,
    },
    /// Clear one stream's data and state and sync it again.
    ClearStream {
        /// The stream to clear.
        stream: StreamDescriptor,
        /// Why, in the operator's terms.
        reason: String,
    },
    /// Look at one config field the migration could not decide.
    ReviewField {
        /// The field, as a JSON pointer into the config.
        pointer: String,
        /// Why, in the operator's terms.
        reason: String,
    },
    /// Test the source's connection again (credentials or endpoints changed).
    RetestSource {
        /// Why, in the operator's terms.
        reason: String,
    },
    /// Elastic: run a full sync (the sync cursor was cleared or no longer fits).
    FullSync {
        /// Why, in the operator's terms.
        reason: String,
    },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::RefreshSchema { reason } => write!(f, "refresh the source schema: {reason}"),
            Action::ClearStream { stream, reason } => write!(f, "clear stream {stream}: {reason}"),
            Action::ReviewField { pointer, reason } => {
                write!(f, "review config field {pointer}: {reason}")
            }
            Action::RetestSource { reason } => write!(f, "re-test the source: {reason}"),
            Action::FullSync { reason } => write!(f, "run a full sync: {reason}"),
        }
    }
}
